namespace ExpertFlow.Offloading.Policies;

/// <summary>How PLEC (<see cref="PredictivePolicy"/>) uses its forecast.</summary>
/// <param name="Lookahead">MoE layers ahead whose predicted experts are prefetched.</param>
/// <param name="PrefetchFloor">Experts scored below this are never prefetched (higher: fewer copies, more misses).</param>
/// <param name="CrossStep">Prefetch the waiting batch's first layers during the current step when the forecast knows its next step.</param>
public sealed record PredictiveOptions(int Lookahead = 2, float PrefetchFloor = PredictivePolicy.DefaultPrefetchFloor, bool CrossStep = true);
