using System.Text.Json;
using Toolkit.Data.Text;
using Toolkit.Reporting;

namespace ExpertFlow.Tracing;

/// <summary>
/// Which texts of a corpus a model's traces use and which are held out: up to <see cref="Entries"/> texts spread evenly
/// over the corpus (so a dictionary's letters all appear), every <see cref="HeldOutEvery"/>-th of them held out. A demo
/// model records the split it was trained with (training.json beside it) so that its held-out texts stay unseen.
/// </summary>
/// <param name="Corpus">A <see cref="TextCorpus"/> name: gcide, a .dict.dz, .jsonl or text file.</param>
/// <param name="Entries">Texts used, spread evenly over the corpus.</param>
/// <param name="HeldOutEvery">Every n-th of them is held out.</param>
public sealed record CorpusSplit(string Corpus, int Entries, int HeldOutEvery)
{
    public const string FileName = "training.json";
    /// <summary>Every n-th text is held out unless a model's recorded split says otherwise.</summary>
    public const int DefaultHeldOutEvery = 50;
    /// <summary>Texts used unless a model's recorded split says otherwise.</summary>
    public const int DefaultEntries = 40000;

    /// <summary>The split recorded beside <paramref name="modelFolder"/>, or the default split of <paramref name="corpus"/> (default: gcide).</summary>
    public static CorpusSplit For(string modelFolder, string? corpus = null)
    {
        string path = Path.Combine(modelFolder, FileName);
        if (File.Exists(path))
        {
            CorpusSplit? recorded;
            try { recorded = JsonSerializer.Deserialize<CorpusSplit>(File.ReadAllText(path)); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: not a corpus split ({e.Message.Split('.')[0]})"); }
            if (recorded is null || recorded.Entries < 1 || recorded.HeldOutEvery < 2) throw new InvalidDataException($"{path}: not a corpus split");
            if (corpus == null || SameCorpus(corpus, recorded.Corpus)) return recorded;
        }
        return new CorpusSplit(corpus ?? TextCorpus.Gcide, DefaultEntries, DefaultHeldOutEvery);
    }

    static bool SameCorpus(string a, string b) =>
        string.Equals(a, b, StringComparison.Ordinal) || IsGcide(a) && IsGcide(b);

    static bool IsGcide(string spec) => spec.Equals(TextCorpus.Gcide, StringComparison.OrdinalIgnoreCase) || spec == GcideCorpus.DefaultPath;

    /// <summary>Records the split beside a model (atomically).</summary>
    public void Save(string modelFolder) => Files.WriteAllTextAtomically(Path.Combine(modelFolder, FileName), JsonSerializer.Serialize(this));

    /// <summary>The corpus's training and held-out texts.</summary>
    public (List<string> Train, List<string> HeldOut) Read()
    {
        var all = TextCorpus.Read(Corpus).ToList();
        int stride = Math.Max(1, all.Count / Math.Max(1, Entries));
        var chosen = all.Where((_, i) => i % stride == 0).Take(Entries).ToList();
        return (chosen.Where((_, i) => i % HeldOutEvery != HeldOutEvery - 1).ToList(), chosen.Where((_, i) => i % HeldOutEvery == HeldOutEvery - 1).ToList());
    }
}
