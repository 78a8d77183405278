using ExpertFlow.Offloading.Policies;
using ExpertFlow.Prediction;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary>
/// Registers <c>--policy expertflow</c>: PLEC (ef-offload's <see cref="PredictivePolicy"/>) fed by the routing
/// path predictor stored in <c>MODEL/predictor</c> (written by <c>expertflow train-predictor</c>).
/// </summary>
internal static class ExpertFlowPolicy
{
    public static void Register(string[] args)
    {
        string? model = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--model" && i + 1 < args.Length) model = args[i + 1];
            else if (args[i].StartsWith("--model=", StringComparison.Ordinal)) model = args[i]["--model=".Length..];
        }
        var predictor = new Lazy<RoutingPathPredictor>(() =>
        {
            string dir = Path.Combine(model ?? throw new ArgumentException("--policy expertflow needs --model (its predictor is read from MODEL/predictor)"), "predictor");
            LibTorch.EnsureLoaded();
            return PredictorTrainer.Load(dir); // stays on the CPU: it reads token ids only
        });
        PolicyFactory.Register("expertflow", () => new PredictivePolicy(new PredictorForecast(predictor.Value)));
    }
}
