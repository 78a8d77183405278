using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Tokenizers;

namespace Toolkit.Data.Text;

/// <summary>
/// GPT-2 BPE restricted to a smaller vocabulary, so that small models need small embeddings. Model id 0 is
/// GPT-2's end-of-text, ids 1..256 are GPT-2's 256 single-byte tokens, the rest are the most frequent GPT-2
/// tokens of a corpus. A GPT-2 token outside the subset is spelled with its bytes, so nothing is lost:
/// Decode(Encode(text)) == text for every text.
/// </summary>
public sealed class Gpt2SubsetTokenizer
{
    /// <summary>File name used beside a model.</summary>
    public const string FileName = "gpt2_subset_vocab.json";

    /// <summary>Model id of GPT-2's &lt;|endoftext|&gt;.</summary>
    public const int EndOfText = 0;

    readonly int[] gpt2Ids;
    readonly Dictionary<int, int> modelIdOfGpt2 = [];
    readonly int[] modelIdOfByte = new int[256];
    readonly Tokenizer tokenizer;
    readonly IReadOnlyList<byte[]> tokenBytes;

    /// <summary>Builds from the GPT-2 id of every model id (index = model id).</summary>
    public Gpt2SubsetTokenizer(IReadOnlyList<int> gpt2IdOfModelId)
    {
        tokenizer = Gpt2Tokenizer.Instance;
        tokenBytes = Gpt2Tokenizer.TokenBytes;
        gpt2Ids = gpt2IdOfModelId.ToArray();
        if (gpt2Ids.Length < 257 || gpt2Ids[0] != Gpt2Tokenizer.EndOfText)
            throw new ArgumentException("a GPT-2 subset vocabulary needs end-of-text at id 0 followed by the 256 byte tokens");
        for (int i = 0; i < gpt2Ids.Length; i++)
        {
            if (!modelIdOfGpt2.TryAdd(gpt2Ids[i], i)) throw new ArgumentException($"GPT-2 id {gpt2Ids[i]} appears twice in the subset vocabulary");
        }
        for (int b = 0; b < 256; b++)
        {
            int id = Gpt2Tokenizer.IdOfByte(b);
            if (!modelIdOfGpt2.TryGetValue(id, out modelIdOfByte[b]))
                throw new ArgumentException($"the subset vocabulary lacks the byte token for byte {b} (GPT-2 id {id})");
        }
    }

    /// <summary>Number of model ids.</summary>
    public int VocabularySize => gpt2Ids.Length;

    /// <summary>GPT-2 id of each model id.</summary>
    public IReadOnlyList<int> Gpt2Ids => gpt2Ids;

    /// <summary>Builds the subset from GPT-2 token frequencies over <paramref name="texts"/>.</summary>
    public static Gpt2SubsetTokenizer Build(IEnumerable<string> texts, int vocabularySize)
    {
        if (vocabularySize < 257) throw new ArgumentException("the vocabulary size must be at least 257 (end-of-text and 256 bytes)", nameof(vocabularySize));
        var tokenizer = Gpt2Tokenizer.Instance;
        var ids = new List<int> { Gpt2Tokenizer.EndOfText };
        for (int b = 0; b < 256; b++) ids.Add(Gpt2Tokenizer.IdOfByte(b));
        var taken = ids.ToHashSet();
        var counts = new Dictionary<int, long>();
        foreach (var text in texts)
            foreach (int id in tokenizer.EncodeToIds(text))
                counts[id] = counts.GetValueOrDefault(id) + 1;
        // Most frequent first; ties broken by id so the result is deterministic.
        foreach (var (id, _) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
        {
            if (ids.Count >= vocabularySize) break;
            if (taken.Add(id)) ids.Add(id);
        }
        return new Gpt2SubsetTokenizer(ids);
    }

    /// <summary>Encodes text to model ids.</summary>
    public int[] Encode(string text)
    {
        var result = new List<int>(text.Length / 3 + 4);
        foreach (int id in tokenizer.EncodeToIds(text))
        {
            if (modelIdOfGpt2.TryGetValue(id, out int modelId)) result.Add(modelId);
            else foreach (byte b in tokenBytes[id]) result.Add(modelIdOfByte[b]);
        }
        return result.ToArray();
    }

    /// <summary>Decodes model ids to text (incomplete UTF-8 sequences at the end decode to U+FFFD).</summary>
    public string Decode(IEnumerable<int> modelIds) => tokenizer.Decode(modelIds.Select(ToGpt2));

    /// <summary>GPT-2 id of one model id.</summary>
    public int ToGpt2(int modelId) => (uint)modelId < (uint)gpt2Ids.Length
        ? gpt2Ids[modelId]
        : throw new ArgumentOutOfRangeException(nameof(modelId), $"model id {modelId} is outside the vocabulary of {gpt2Ids.Length}");

    /// <summary>Writes the vocabulary as JSON ({"base":"gpt2","gpt2_ids":[...]}).</summary>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(new SubsetFile("gpt2", gpt2Ids)));

    /// <summary>Reads a vocabulary written by <see cref="Save"/>.</summary>
    public static Gpt2SubsetTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer vocabulary '{path}' not found", path);
        var file = JsonSerializer.Deserialize<SubsetFile>(File.ReadAllText(path))
            ?? throw new InvalidDataException($"'{path}' is not a GPT-2 subset vocabulary");
        if (file.Base != "gpt2" || file.Gpt2Ids is null) throw new InvalidDataException($"'{path}': expected base \"gpt2\" and a gpt2_ids array");
        return new Gpt2SubsetTokenizer(file.Gpt2Ids);
    }

    sealed record SubsetFile(
        [property: JsonPropertyName("base")] string Base,
        [property: JsonPropertyName("gpt2_ids")] int[] Gpt2Ids);
}
