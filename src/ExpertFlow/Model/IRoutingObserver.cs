namespace ExpertFlow.Model;

/// <summary>Receives every step start and every routing decision (for traces, predictors, statistics).</summary>
public interface IRoutingObserver
{
    /// <summary>Before the step's first layer (default: nothing).</summary>
    void OnStep(StepInfo step) { }

    /// <summary>After a step, once per MoE layer, in layer order.</summary>
    void OnRouting(RoutingDecision decision);
}
