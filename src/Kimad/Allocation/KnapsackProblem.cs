using System.Text.Json.Serialization;

namespace Kimad.Allocation;

/// <summary>One candidate level of a layer: its exact message size and its compression error.</summary>
public sealed record KnapsackOption(
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("error")] double Error);

/// <summary>A layer and its candidate levels.</summary>
public sealed record KnapsackLayer(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("options")] IReadOnlyList<KnapsackOption> Options);

/// <summary>Kimad+'s per-round problem: pick one option per layer, minimise total error, total bytes within budget.</summary>
public sealed record KnapsackProblem(
    [property: JsonPropertyName("budget_bytes")] long BudgetBytes,
    [property: JsonPropertyName("discretization")] int Discretization,
    [property: JsonPropertyName("layers")] IReadOnlyList<KnapsackLayer> Layers);

/// <summary>The chosen option index per layer and its totals. <see cref="Feasible"/> is false when even the
/// smallest options exceed the budget; the smallest options are returned then.</summary>
public sealed record KnapsackSolution(
    [property: JsonPropertyName("choices")] int[] Choices,
    [property: JsonPropertyName("total_bytes")] long TotalBytes,
    [property: JsonPropertyName("total_error")] double TotalError,
    [property: JsonPropertyName("feasible")] bool Feasible);
