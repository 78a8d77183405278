using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using Toolkit.Data.Text;

namespace ExpertFlow.Model;

/// <summary>
/// Text ↔ token ids for a model folder, through Microsoft.ML.Tokenizers. Supported: a Hugging Face tokenizer.json
/// (or vocab.json + merges.txt) holding a byte-level BPE model (GPT-2, Qwen, Mixtral-style byte-level, OLMoE, DeepSeek),
/// encoded with the GPT-2 pre-tokenisation rule. Special tokens listed in added_tokens are recognised in text.
/// Also the GPT-2 subset vocabulary (gpt2_subset_vocab.json) that this project's demo models are trained with.
/// Other tokenizers (SentencePiece/Unigram, e.g. Switch's T5 tokenizer) are reported as unsupported: pass token ids.
/// </summary>
public sealed class ModelTokenizer
{
    readonly Func<string, IEnumerable<int>> encodeText;
    readonly Func<IEnumerable<int>, string> decodeIds;
    readonly Dictionary<string, int> special;
    readonly Dictionary<int, string> specialById;

    ModelTokenizer(Tokenizer tokenizer, string source, Dictionary<string, int>? special = null)
        : this(text => tokenizer.EncodeToIds(text), ids => tokenizer.Decode(ids) ?? "", source, special) { }

    ModelTokenizer(Func<string, IEnumerable<int>> encodeText, Func<IEnumerable<int>, string> decodeIds, string source, Dictionary<string, int>? special = null)
    {
        this.encodeText = encodeText;
        this.decodeIds = decodeIds;
        Source = source;
        this.special = special ?? [];
        specialById = this.special.ToDictionary(kv => kv.Value, kv => kv.Key);
    }

    public string Source { get; }

    /// <summary>Token ids of <paramref name="text"/>; special tokens written literally (e.g. &lt;|endoftext|&gt;) map to their ids.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>();
        int start = 0;
        while (start < text.Length)
        {
            // the earliest (then longest) special token in the rest of the text
            int at = -1;
            string? found = null;
            foreach (var s in special.Keys)
            {
                int i = text.IndexOf(s, start, StringComparison.Ordinal);
                if (i >= 0 && (at < 0 || i < at || i == at && s.Length > found!.Length)) { at = i; found = s; }
            }
            int end = at < 0 ? text.Length : at;
            if (end > start) ids.AddRange(encodeText(text[start..end]));
            if (found == null) break;
            ids.Add(special[found]);
            start = at + found.Length;
        }
        return ids.ToArray();
    }

    /// <summary>Text of <paramref name="ids"/> (special tokens as their text).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count > 0) text.Append(decodeIds(run));
            run.Clear();
        }
        foreach (int id in ids)
        {
            if (specialById.TryGetValue(id, out var s)) { Flush(); text.Append(s); }
            else run.Add(id);
        }
        Flush();
        return text.ToString();
    }

    /// <summary>The model folder's tokenizer, or null when the folder has no tokenizer files (an unsupported one is still an error).</summary>
    public static ModelTokenizer? TryLoad(string folder) =>
        File.Exists(Path.Combine(folder, "tokenizer.json")) || File.Exists(Path.Combine(folder, "vocab.json")) || File.Exists(Path.Combine(folder, Gpt2SubsetTokenizer.FileName))
            ? Load(folder) : null;

    /// <summary>Loads the model folder's tokenizer; the error says what is missing or unsupported.</summary>
    public static ModelTokenizer Load(string folder)
    {
        string json = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(json)) return FromTokenizerJson(json);
        string vocab = Path.Combine(folder, "vocab.json"), merges = Path.Combine(folder, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges))
        {
            using var v = File.OpenRead(vocab);
            using var m = File.OpenRead(merges);
            return new ModelTokenizer(CodeGenTokenizer.Create(v, m, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false), vocab);
        }
        string subset = Path.Combine(folder, Gpt2SubsetTokenizer.FileName);
        if (File.Exists(subset))
        {
            var gpt2 = Gpt2SubsetTokenizer.Load(subset);
            return new ModelTokenizer(gpt2.Encode, gpt2.Decode, subset, new Dictionary<string, int> { ["<|endoftext|>"] = Gpt2SubsetTokenizer.EndOfText });
        }
        throw new FileNotFoundException($"'{folder}' has no tokenizer.json (nor vocab.json + merges.txt, nor {Gpt2SubsetTokenizer.FileName}); give token ids instead of text.");
    }

    static ModelTokenizer FromTokenizerJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (type != "BPE")
            throw new InvalidDataException($"{path} holds a '{type}' tokenizer model; only byte-level BPE is supported here. Give token ids instead of text.");
        if (!IsByteLevel(root))
            throw new InvalidDataException($"{path} is a BPE tokenizer without byte-level pre-tokenisation (e.g. SentencePiece-style); it is not supported here. Give token ids instead of text.");
        // vocab.json and merges.txt in memory, as CodeGen (GPT-2 byte-level BPE) reads them
        var vocabJson = model.GetProperty("vocab").GetRawText();
        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var m in model.GetProperty("merges").EnumerateArray())
            merges.Append(m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()).Append('\n');
        var special = new Dictionary<string, int>();
        if (root.TryGetProperty("added_tokens", out var added))
            foreach (var a in added.EnumerateArray())
                special[a.GetProperty("content").GetString()!] = a.GetProperty("id").GetInt32();
        using var v = new MemoryStream(Encoding.UTF8.GetBytes(vocabJson));
        using var mm = new MemoryStream(Encoding.UTF8.GetBytes(merges.ToString()));
        bool prefixSpace = root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object
            && pre.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True;
        var tok = CodeGenTokenizer.Create(v, mm, addPrefixSpace: prefixSpace, addBeginOfSentence: false, addEndOfSentence: false);
        return new ModelTokenizer(tok, path, special);
    }

    static bool IsByteLevel(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return false;
        if (pre.GetProperty("type").GetString() == "ByteLevel") return true;
        return pre.TryGetProperty("pretokenizers", out var list) && list.EnumerateArray().Any(p => p.GetProperty("type").GetString() == "ByteLevel");
    }
}
