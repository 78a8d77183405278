using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Offloading.Policies;

namespace ExpertFlow.Evaluation;

/// <summary>Where an evaluated policy's routing forecast comes from.</summary>
public enum ForecastSource
{
    /// <summary>No forecast (the policy does not use one).</summary>
    None,
    /// <summary>The trained routing-path predictor.</summary>
    Predictor,
    /// <summary>The true routing recorded from the all-resident run: a perfect, free predictor.</summary>
    Oracle,
}

/// <summary>
/// A policy as the cache evaluation names it: any <see cref="PolicySpec"/> text, plus <c>expertflow-no-ts</c> (PLEC, the
/// two batches in arrival order: no token scheduler) and <c>expertflow-oracle</c> (PLEC fed by the true routing, arrival
/// order), each optionally with <c>+lookahead[:N]</c>; <c>all-resident</c> is the reference run (no offloading).
/// </summary>
/// <param name="Label">The name as given (reports use it).</param>
/// <param name="Spec">The offloading policy; null for the all-resident reference.</param>
/// <param name="Forecast">What feeds PLEC.</param>
/// <param name="TokenScheduler">Whether the token scheduler regroups the two batches every step.</param>
public sealed record EvaluatedPolicy(string Label, PolicySpec? Spec, ForecastSource Forecast, bool TokenScheduler)
{
    /// <summary>The reference run: all experts resident.</summary>
    public const string AllResident = "all-resident";
    const string NoScheduler = "expertflow-no-ts";
    const string Oracle = "expertflow-oracle";

    /// <summary>Every name the evaluation accepts (before an optional +lookahead[:N]).</summary>
    public static IReadOnlyList<string> Names { get; } = [PolicySpec.OnDemand, PolicySpec.Lru, PolicySpec.NextLayer, PolicySpec.ExpertFlow, NoScheduler, Oracle];

    /// <summary>Parses an evaluation policy name; the error lists the names.</summary>
    public static EvaluatedPolicy Parse(string label)
    {
        string name = label.Trim();
        if (name == AllResident) return new(name, null, ForecastSource.None, false);
        foreach (var (prefix, forecast) in new[] { (NoScheduler, ForecastSource.Predictor), (Oracle, ForecastSource.Oracle) })
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (name.Length == prefix.Length || name[prefix.Length] == '+'))
                return new(name, PolicySpec.Parse(PolicySpec.ExpertFlow + name[prefix.Length..]), forecast, false);
        PolicySpec spec;
        try { spec = PolicySpec.Parse(name); }
        catch (ArgumentException e) { throw new ArgumentException($"{e.Message.Split(';')[0]}; the cache evaluation knows: {string.Join(", ", Names)}"); }
        if (spec.Base == PolicySpec.AllResident) throw new ArgumentException($"policy '{label}': the all-resident reference runs anyway; name an offloading policy");
        return new(name, spec, spec.NeedsForecast ? ForecastSource.Predictor : ForecastSource.None, spec.NeedsForecast);
    }
}
