using ExpertFlow.Offloading.Policies;
using Microsoft.Extensions.Logging;

namespace ExpertFlow.Offloading;

/// <summary>What an offloaded run is given besides its options (all optional).</summary>
public sealed record OffloadServices
{
    /// <summary>The routing forecast that feeds the <c>expertflow</c> policy (a trained predictor, or a recorded routing).</summary>
    public IRoutingForecast? Forecast { get; init; }
    /// <summary>A policy instance to use instead of the one the options name (tests, experiments).</summary>
    public IOffloadPolicy? Policy { get; init; }
    /// <summary>A host tier built beforehand and shared across runs (not disposed by the run).</summary>
    public HostExperts? SharedHost { get; init; }
    /// <summary>Where expert bytes come from; default: the model's checkpoint.</summary>
    public IExpertSource? Source { get; init; }
    /// <summary>Device memory the process holds now (for the stats), e.g. driver-used minus a baseline.</summary>
    public Func<long>? MeasureDeviceBytes { get; init; }
    public ILogger? Log { get; init; }
}
