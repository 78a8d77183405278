using ExpertFlow.Tracing;
using Toolkit.Data.Text;

namespace ExpertFlow.Demo;

/// <summary>
/// A corpus (GCIDE definitions by default) as model ids: a training stream (texts joined by end-of-text) and the
/// held-out texts of its <see cref="CorpusSplit"/>, used for validation, routing traces and predictor evaluation.
/// </summary>
public sealed class DemoCorpus
{
    public required Gpt2SubsetTokenizer Tokenizer { get; init; }
    public required int[] TrainStream { get; init; }
    public required IReadOnlyList<int[]> TrainEntries { get; init; }
    public required IReadOnlyList<int[]> HeldOutEntries { get; init; }

    /// <summary>
    /// Reads the split's texts, builds the subset vocabulary from the training part unless one is given, and encodes.
    /// </summary>
    public static DemoCorpus Load(CorpusSplit split, int vocabularySize, Gpt2SubsetTokenizer? tokenizer = null)
    {
        var (train, heldOut) = split.Read();
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
