namespace ExpertFlow.Demo;

/// <summary>
/// Named shapes and schedules of <c>expertflow train-demo</c>: <c>small</c>, the embedded demo model's shape, and
/// <c>large</c>, the ~1.1 B-parameter evaluation model (8 layers x 16 experts of 1024 x 2816, top-2) that the cache
/// and predictor evaluations use on a GPU; trained for at most 9 minutes. Options given on the command line override it.
/// </summary>
public sealed record DemoPreset(string Name, DemoMoeConfig Config, int Steps, double LearningRate, double MaxMinutes, int CheckpointEvery, string Output)
{
    public static DemoPreset Small { get; } = new("small", new DemoMoeConfig(), 400, 3e-3, 0, 100, Path.Combine("runs", "demo-moe"));

    public static DemoPreset Large { get; } = new("large",
        new DemoMoeConfig { HiddenSize = 1024, IntermediateSize = 2816, NumLayers = 8, NumExperts = 16, TopK = 2, VocabSize = 8192 },
        Steps: 6000, LearningRate: 1e-3, MaxMinutes: 9, CheckpointEvery: 500, Output: Path.Combine("runs", "large-demo-moe"));

    public static IReadOnlyList<DemoPreset> All { get; } = [Small, Large];

    /// <summary>The preset of that name (case-insensitive); an unknown name lists the known ones.</summary>
    public static DemoPreset Parse(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown demo preset '{name}'; the presets are: {string.Join(", ", All.Select(p => p.Name))}");
}
