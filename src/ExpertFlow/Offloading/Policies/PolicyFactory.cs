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

    public static IOffloadPolicy Create(string name) => Known.TryGetValue(name.Trim(), out var make) ? make()
        : throw new ArgumentException($"'--policy {name}' is unknown; use one of: {string.Join(", ", Known.Keys)}.");
}
