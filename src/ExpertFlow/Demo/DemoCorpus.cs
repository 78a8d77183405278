using Toolkit.Data.Text;

namespace ExpertFlow.Demo;

/// <summary>
/// GCIDE definitions as model ids: a training stream (entries joined by end-of-text) and held-out entries
/// (every <see cref="HeldOutEvery"/>-th entry) used for validation, routing traces and predictor evaluation.
/// </summary>
public sealed class DemoCorpus
{
    /// <summary>Every n-th dictionary entry is held out of training.</summary>
    public const int HeldOutEvery = 50;

    public required Gpt2SubsetTokenizer Tokenizer { get; init; }
    public required int[] TrainStream { get; init; }
    public required IReadOnlyList<int[]> TrainEntries { get; init; }
    public required IReadOnlyList<int[]> HeldOutEntries { get; init; }

    /// <summary>
    /// Reads up to <paramref name="maxEntries"/> entries spread evenly over the whole dictionary (so all
    /// letters appear), builds the subset vocabulary from the training part unless one is given, and encodes.
    /// </summary>
    public static DemoCorpus Load(string gcidePath, int maxEntries, int vocabularySize, Gpt2SubsetTokenizer? tokenizer = null)
    {
        var all = GcideCorpus.ReadEntries(gcidePath).Select(e => e.Text).ToList();
        int stride = Math.Max(1, all.Count / Math.Max(1, maxEntries));
        var chosen = all.Where((_, i) => i % stride == 0).Take(maxEntries).ToList();
        var train = chosen.Where((_, i) => i % HeldOutEvery != HeldOutEvery - 1).ToList();
        var heldOut = chosen.Where((_, i) => i % HeldOutEvery == HeldOutEvery - 1).ToList();
        tokenizer ??= Gpt2SubsetTokenizer.Build(train, vocabularySize);
        var trainEntries = train.AsParallel().AsOrdered().Select(tokenizer.Encode).ToList();
        var heldOutEntries = heldOut.Select(tokenizer.Encode).ToList();
        var stream = new List<int>(trainEntries.Sum(e => e.Length + 1));
        foreach (var entry in trainEntries)
        {
            stream.AddRange(entry);
            stream.Add(Gpt2SubsetTokenizer.EndOfText);
        }
        return new DemoCorpus { Tokenizer = tokenizer, TrainStream = stream.ToArray(), TrainEntries = trainEntries, HeldOutEntries = heldOutEntries };
    }
}
