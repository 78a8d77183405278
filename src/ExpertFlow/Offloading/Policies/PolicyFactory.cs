namespace ExpertFlow.Offloading.Policies;

/// <summary>Turns --policy into a policy. Other components (the predictor) can register more names.</summary>
public static class PolicyFactory
{
    static readonly Dictionary<string, Func<IOffloadPolicy>> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        ["all-resident"] = () => new AllResidentPolicy(),
        ["on-demand"] = () => new OnDemandPolicy(),
        ["lru"] = () => new LruPolicy(),
        ["next-layer"] = () => new NextLayerPolicy(),
    };

    public static IReadOnlyCollection<string> Names => Known.Keys;

    /// <summary>Adds or replaces a policy name (e.g. "expertflow" by the predictor).</summary>
    public static void Register(string name, Func<IOffloadPolicy> create) => Known[name] = create;

    /// <summary>A policy by name; <c>NAME+lookahead</c> or <c>NAME+lookahead:N</c> wraps it in a <see cref="LookaheadPolicy"/>.</summary>
    public static IOffloadPolicy Create(string name)
    {
        var (basis, lookahead) = SplitLookahead(SplitHostCompute(name).Policy);
        if (lookahead > 0) return new LookaheadPolicy(Create(basis), lookahead);
        return Known.TryGetValue(basis, out var make) ? make()
            : throw new ArgumentException($"'--policy {name}' is unknown; use one of: {string.Join(", ", Known.Keys)} (any of them{LookaheadPolicy.Suffix}[:N] adds look-ahead prefetching).");
    }

    /// <summary>The suffix that turns on host compute (an engine option, not a policy: see <see cref="ExpertOffloadEngine.PlanHostCompute"/>).</summary>
    public const string HostComputeSuffix = "+cpu";

    /// <summary>Splits <c>POLICY+cpu</c> into POLICY and whether host compute is on.</summary>
    public static (string Policy, bool HostCompute) SplitHostCompute(string name)
    {
        name = name.Trim();
        return name.EndsWith(HostComputeSuffix, StringComparison.OrdinalIgnoreCase) ? (name[..^HostComputeSuffix.Length], true) : (name, false);
    }

    /// <summary>Splits <c>NAME+lookahead[:N]</c> into NAME and N (0 without the suffix).</summary>
    public static (string Name, int Lookahead) SplitLookahead(string name)
    {
        name = name.Trim();
        int plus = name.IndexOf(LookaheadPolicy.Suffix, StringComparison.OrdinalIgnoreCase);
        if (plus <= 0) return (name, 0);
        var rest = name[(plus + LookaheadPolicy.Suffix.Length)..];
        int count = 1;
        if (rest.Length > 0 && !(rest[0] == ':' && int.TryParse(rest[1..], out count) && count >= 1))
            throw new ArgumentException($"'--policy {name}': write NAME{LookaheadPolicy.Suffix} or NAME{LookaheadPolicy.Suffix}:N with N >= 1 experts per layer.");
        return (name[..plus], count);
    }
}
