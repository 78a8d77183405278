using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>One run of the cache evaluation: a policy at a cache size (share of all experts) and batch size.</summary>
public sealed record CacheCase(string Policy, double CacheFraction, int Batch);
