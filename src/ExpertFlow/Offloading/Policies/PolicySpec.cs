using System.Globalization;

namespace ExpertFlow.Offloading.Policies;

/// <summary>
/// A parsed offloading policy: a base policy, optionally with look-ahead prefetching of <see cref="Lookahead"/> guessed
/// experts per layer, and optionally with missed experts computed on the host CPU. Written as text
/// <c>BASE[+lookahead[:N]][+cpu]</c>, e.g. <c>lru</c>, <c>on-demand+lookahead:2</c>, <c>expertflow+lookahead+cpu</c>;
/// parsed once where the text enters (<see cref="Parse"/>), typed everywhere after.
/// </summary>
/// <param name="Base">One of <see cref="BaseNames"/>.</param>
/// <param name="Lookahead">Experts per layer guessed one MoE layer early and copied behind the misses (0: off).</param>
/// <param name="HostCompute">Missed experts may be computed on the host CPU from the host arena instead of copied.</param>
public sealed record PolicySpec(string Base, int Lookahead = 0, bool HostCompute = false)
{
    /// <summary>Every experts on the device (no budget needed beyond them).</summary>
    public const string AllResident = "all-resident";
    /// <summary>Copies an expert when the router asks for it; nothing kept by preference.</summary>
    public const string OnDemand = "on-demand";
    /// <summary>Least recently used experts evicted first.</summary>
    public const string Lru = "lru";
    /// <summary>Frequency-kept experts, next layer's frequent experts prefetched.</summary>
    public const string NextLayer = "next-layer";
    /// <summary>PLEC fed by the routing-path predictor (needs a trained predictor).</summary>
    public const string ExpertFlow = "expertflow";

    /// <summary>The base policies, in the order help texts list them.</summary>
    public static IReadOnlyList<string> BaseNames { get; } = [OnDemand, Lru, NextLayer, ExpertFlow, AllResident];

    const string LookaheadSuffix = "+lookahead";
    const string HostComputeSuffix = "+cpu";

    /// <summary>The default when only a memory budget is given.</summary>
    public static PolicySpec Default { get; } = new(Lru);

    /// <summary>Whether the base policy needs a routing forecast (a trained predictor).</summary>
    public bool NeedsForecast => Base == ExpertFlow;

    /// <summary>Parses <c>BASE[+lookahead[:N]][+cpu]</c>; the error names what is wrong and lists the choices.</summary>
    public static PolicySpec Parse(string text)
    {
        string name = (text ?? "").Trim();
        bool host = false;
        if (name.EndsWith(HostComputeSuffix, StringComparison.OrdinalIgnoreCase))
        {
            host = true;
            name = name[..^HostComputeSuffix.Length];
        }
        int lookahead = 0;
        int plus = name.IndexOf(LookaheadSuffix, StringComparison.OrdinalIgnoreCase);
        if (plus > 0)
        {
            string rest = name[(plus + LookaheadSuffix.Length)..];
            lookahead = 1;
            if (rest.Length > 0 && !(rest[0] == ':' && int.TryParse(rest[1..], NumberStyles.None, CultureInfo.InvariantCulture, out lookahead) && lookahead >= 1))
                throw new ArgumentException($"policy '{text}': write NAME{LookaheadSuffix} or NAME{LookaheadSuffix}:N with N >= 1 experts per layer.");
            name = name[..plus];
        }
        string? known = BaseNames.FirstOrDefault(b => string.Equals(b, name, StringComparison.OrdinalIgnoreCase));
        if (known == null)
            throw new ArgumentException($"policy '{text}' is unknown; use one of: {string.Join(", ", BaseNames)} " +
                $"(any of them{LookaheadSuffix}[:N] adds look-ahead prefetching, {HostComputeSuffix} adds host compute).");
        return new PolicySpec(known, lookahead, host);
    }

    /// <summary>The policy's text form (what <see cref="Parse"/> reads back).</summary>
    public override string ToString() =>
        Base + (Lookahead > 0 ? LookaheadSuffix + (Lookahead > 1 ? ":" + Lookahead.ToString(CultureInfo.InvariantCulture) : "") : "") + (HostCompute ? HostComputeSuffix : "");
}
