using ExpertFlow.Model;

namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// A forecast of the routing path of the coming step (the hook ExpertFlow's routing-path predictor plugs
/// into): for every MoE layer position and expert, a score in [0, 1] that the router will pick it for at
/// least one token of the batch.
/// </summary>
public interface IRoutingForecast
{
    /// <summary>Scores [MoE layer position][expert] for the step, or null when no forecast is available.</summary>
    float[][]? Forecast(StepInfo step);

    /// <summary>
    /// Scores for the step expected after <paramref name="current"/>, or null when unknown (the default). With two batches
    /// in flight the next step feeds the rows idle in this one, whose next tokens are already known, so a forecast can
    /// name that step's experts while this one computes.
    /// </summary>
    float[][]? ForecastUpcoming(StepInfo current) => null;
}
