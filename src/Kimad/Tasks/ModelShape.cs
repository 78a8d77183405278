namespace Kimad.Tasks;

/// <summary>
/// The shapes of a model trained elsewhere (a user's own loop through <see cref="Transport.KimadCommHook"/>): layer names
/// and lengths, nothing to compute. A gradient-exchange server needs only this; g starts at zero.
/// </summary>
public sealed class ModelShape(IReadOnlyList<int> lengths, IReadOnlyList<string>? names = null, IReadOnlyList<int>? rows = null) : ITrainingTask
{
    readonly int[] layerLengths = lengths.Count > 0 && lengths.All(n => n > 0) ? lengths.ToArray()
        : throw new ArgumentException("a model shape needs at least one layer and every layer at least one element");

    /// <summary>"shape:784x128,128,..." or "shape:100352,128": layer lengths (a product per layer; the first factor of a
    /// product is the layer's rows for low-rank compression).</summary>
    public static ModelShape Parse(string spec)
    {
        string body = spec.StartsWith("shape:", StringComparison.OrdinalIgnoreCase) ? spec["shape:".Length..] : spec;
        try
        {
            var layers = body.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(layer => layer.Split('x').Select(d => long.Parse(d, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
            return new ModelShape(layers.Select(f => checked((int)f.Aggregate(1L, (a, b) => checked(a * b)))).ToArray(), null,
                layers.Select(f => f.Length >= 2 ? checked((int)f[0]) : 1).ToArray());
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"'{spec}' is not a model shape: use shape:L1,L2,... with each layer's element count (or a product like 784x128)");
        }
    }

    public string Name => "shape";
    public IReadOnlyList<string> LayerNames { get; } = names?.ToArray() ?? Enumerable.Range(0, lengths.Count).Select(i => $"layer{i}").ToArray();
    public IReadOnlyList<int> LayerLengths => layerLengths;
    public IReadOnlyList<int> LayerRows { get; } = rows?.ToArray() ?? lengths.Select(_ => 1).ToArray();
    public float DefaultLearningRate => 0;
    public float[][] InitialParameters() => layerLengths.Select(n => new float[n]).ToArray();
    public double Gradient(float[][] parameters, float[][] gradient, int worker, int workers, long round) =>
        throw new NotSupportedException("a model shape has no data: the training loop computes gradients and exchanges them through KimadCommHook");
    public Evaluation Evaluate(float[][] parameters) => new(double.NaN, double.NaN);
    public void Dispose() { }
}
