namespace ExpertFlow.Prediction;

/// <summary>
/// Temperature scaling of sigmoid probabilities: p' = sigmoid(logit(p) / T), one scalar T for all of them. T &gt; 1 softens
/// overconfident probabilities, T &lt; 1 sharpens underconfident ones; the ranking of experts is unchanged. T is fitted by
/// minimising the binary cross-entropy on known outcomes: a convex problem in 1/T, solved by golden-section search.
/// </summary>
public static class TemperatureScaling
{
    /// <summary>Probabilities are clamped this far from 0 and 1 before taking their logit (float sigmoids saturate).</summary>
    const double Margin = 1e-7;

    public static double Logit(double p)
    {
        p = Math.Clamp(p, Margin, 1 - Margin);
        return Math.Log(p / (1 - p));
    }

    /// <summary>Rescales <paramref name="probabilities"/> in place (nothing to do at T = 1).</summary>
    public static void Apply(Span<float> probabilities, double temperature)
    {
        if (temperature == 1) return;
        for (int i = 0; i < probabilities.Length; i++) probabilities[i] = (float)(1 / (1 + Math.Exp(-Logit(probabilities[i]) / temperature)));
    }

    /// <summary>Mean binary cross-entropy of sigmoid(<paramref name="logits"/> / T) against <paramref name="outcomes"/> (numerically stable).</summary>
    public static double MeanBce(ReadOnlySpan<double> logits, ReadOnlySpan<bool> outcomes, double temperature)
    {
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double x = logits[i] / temperature;
            sum += Math.Max(x, 0) - (outcomes[i] ? x : 0) + Math.Log(1 + Math.Exp(-Math.Abs(x)));
        }
        return sum / Math.Max(1, logits.Length);
    }

    /// <summary>The temperature in [<paramref name="min"/>, <paramref name="max"/>] that minimises <see cref="MeanBce"/>.</summary>
    public static double Fit(ReadOnlySpan<double> logits, ReadOnlySpan<bool> outcomes, double min = 0.05, double max = 20, double tolerance = 1e-5)
    {
        if (logits.Length != outcomes.Length) throw new ArgumentException($"{logits.Length} logits for {outcomes.Length} outcomes");
        if (logits.Length == 0) return 1;
        // golden-section search over the inverse temperature w = 1/T, in which the loss is convex
        double inv = (Math.Sqrt(5) - 1) / 2, a = 1 / max, b = 1 / min;
        double c = b - inv * (b - a), d = a + inv * (b - a);
        double fc = MeanBce(logits, outcomes, 1 / c), fd = MeanBce(logits, outcomes, 1 / d);
        while (b - a > tolerance * Math.Max(1, Math.Abs(a + b) / 2))
        {
            if (fc < fd) { b = d; d = c; fd = fc; c = b - inv * (b - a); fc = MeanBce(logits, outcomes, 1 / c); }
            else { a = c; c = d; fc = fd; d = a + inv * (b - a); fd = MeanBce(logits, outcomes, 1 / d); }
        }
        return 2 / (a + b);
    }
}
