namespace ExpertFlow.Offloading.Policies;

/// <summary>Makes the policy a <see cref="PolicySpec"/> names.</summary>
public static class PolicyFactory
{
    /// <summary>
    /// The policy of <paramref name="spec"/> (look-ahead wraps the base policy in a <see cref="LookaheadPolicy"/>; host
    /// compute is the engine's, not the policy's). <paramref name="forecast"/> feeds <c>expertflow</c> (PLEC), which
    /// cannot run without one.
    /// </summary>
    public static IOffloadPolicy Create(PolicySpec spec, IRoutingForecast? forecast = null, PredictiveOptions? predictive = null)
    {
        IOffloadPolicy basis = spec.Base switch
        {
            PolicySpec.AllResident => new AllResidentPolicy(),
            PolicySpec.OnDemand => new OnDemandPolicy(),
            PolicySpec.Lru => new LruPolicy(),
            PolicySpec.NextLayer => new NextLayerPolicy(),
            PolicySpec.ExpertFlow => Predictive(forecast ?? throw new ArgumentException(
                "the expertflow policy needs a routing forecast: train a predictor for this model (expertflow train-predictor) or pick another policy"),
                predictive ?? new PredictiveOptions()),
            _ => throw new ArgumentException($"policy '{spec.Base}' is unknown; use one of: {string.Join(", ", PolicySpec.BaseNames)}"),
        };
        return spec.Lookahead > 0 ? new LookaheadPolicy(basis, spec.Lookahead) : basis;
    }

    static PredictivePolicy Predictive(IRoutingForecast forecast, PredictiveOptions o) =>
        new(forecast, lookahead: o.Lookahead, prefetchFloor: o.PrefetchFloor, crossStep: o.CrossStep);
}
