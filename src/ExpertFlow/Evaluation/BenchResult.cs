using ExpertFlow.Offloading;
using System.Diagnostics;
using ExpertFlow.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Toolkit.Reporting;
using static TorchSharp.torch;

namespace ExpertFlow.Evaluation;

/// <summary>What one configuration measured.</summary>
public sealed record BenchResult(BenchCase Case, double DecodeTokensPerSecond, double PrefillSeconds, double DecodeSeconds, int GeneratedTokens,
    long PlannedDeviceBytes, long MeasuredPeakDeviceBytes, bool SameIdsAsReference, OffloadStats? Stats, string? Error, double IdsMatch = 1);
