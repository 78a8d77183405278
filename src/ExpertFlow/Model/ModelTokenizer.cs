using System.Text;
using Microsoft.ML.Tokenizers;
using Toolkit.Data.Text;
using Toolkit.Data.Text.Tokenization;

namespace ExpertFlow.Model;

/// <summary>
/// Text and token ids for a model folder, the way Hugging Face reads it: tokenizer.json with tokenizer_config.json
/// (<see cref="HfTokenizer"/>: every tokenizer kind the supported families ship, special tokens, BOS/EOS, chat
/// templates). Also the GPT-2 subset vocabulary (gpt2_subset_vocab.json) of this project's demo models, and a bare
/// vocab.json + merges.txt (GPT-2 byte-level BPE).
/// </summary>
public sealed class ModelTokenizer
{
    readonly HfTokenizer? hf;
    readonly Func<string, int[]>? encodeText;
    readonly Func<IReadOnlyList<int>, string>? decodeIds;
    readonly Dictionary<string, int> special = [];
    readonly Dictionary<int, string> specialById = [];

    ModelTokenizer(HfTokenizer tokenizer, string source)
    {
        hf = tokenizer;
        Source = source;
        foreach (var (id, token) in tokenizer.AddedTokens)
            if (token.Special) specialById[id] = token.Content;
    }

    ModelTokenizer(Func<string, int[]> encode, Func<IReadOnlyList<int>, string> decode, string source, Dictionary<string, int> special)
    {
        encodeText = encode;
        decodeIds = decode;
        Source = source;
        this.special = special;
        specialById = special.ToDictionary(kv => kv.Value, kv => kv.Key);
    }

    /// <summary>The file the tokenizer was read from.</summary>
    public string Source { get; }

    /// <summary>tokenizer_config.json's settings (special token strings, chat templates), or null for the other formats.</summary>
    public TokenizerConfig? Config => hf?.Config;

    public string? BosToken => hf?.Config.BosToken;
    public string? EosToken => hf?.Config.EosToken;
    /// <summary>The id of tokenizer_config.json's eos_token, when it names one the vocabulary holds.</summary>
    public int? EosTokenId => hf?.EosTokenId ?? (special.TryGetValue("<|endoftext|>", out int id) ? id : null);

    /// <summary>Whether <paramref name="id"/> is a special token (skipped in printed text unless asked for).</summary>
    public bool IsSpecial(int id) => hf?.IsSpecial(id) ?? specialById.ContainsKey(id);

    /// <summary>
    /// Token ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the tokenizer's BOS/EOS as the
    /// model expects them (off for text a chat template has already rendered). Special tokens written literally map to their ids.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        if (hf != null) return hf.Encode(text, addSpecialTokens);
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
            if (end > start) ids.AddRange(encodeText!(text[start..end]));
            if (found == null) break;
            ids.Add(special[found]);
            start = at + found.Length;
        }
        return ids.ToArray();
    }

    /// <summary>Text of <paramref name="ids"/>; with <paramref name="skipSpecialTokens"/> special tokens are left out.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var list = ids as IReadOnlyList<int> ?? ids.ToArray();
        if (hf != null) return hf.Decode(list, skipSpecialTokens);
        var text = new StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count > 0) text.Append(decodeIds!(run));
            run.Clear();
        }
        foreach (int id in list)
        {
            if (specialById.TryGetValue(id, out var s)) { Flush(); if (!skipSpecialTokens) text.Append(s); }
            else run.Add(id);
        }
        Flush();
        return text.ToString();
    }

    /// <summary>A stream that turns ids arriving one at a time into text (multi-byte characters kept whole).</summary>
    public TextStream CreateStream(bool skipSpecialTokens = true) => new(this, hf?.CreateStreamingDecoder(skipSpecialTokens), skipSpecialTokens);

    /// <summary>Text for ids arriving one at a time; the chunks concatenate to the decoded text.</summary>
    public sealed class TextStream
    {
        readonly ModelTokenizer tokenizer;
        readonly StreamingDecoder? decoder;
        readonly bool skipSpecial;
        readonly List<int> ids = [];
        string printed = "";

        internal TextStream(ModelTokenizer tokenizer, StreamingDecoder? decoder, bool skipSpecial)
        {
            this.tokenizer = tokenizer;
            this.decoder = decoder;
            this.skipSpecial = skipSpecial;
        }

        /// <summary>Adds one id; returns the text it completes (empty while a character is incomplete).</summary>
        public string Append(int id)
        {
            ids.Add(id);
            if (decoder != null)
            {
                string piece = decoder.Append(id);
                printed += piece;
                return piece;
            }
            string text = tokenizer.Decode(ids, skipSpecial);
            if (text.Length <= printed.Length || text.EndsWith('\uFFFD') || !text.StartsWith(printed, StringComparison.Ordinal)) return "";
            string added = text[printed.Length..];
            printed = text;
            return added;
        }

        /// <summary>At the end: what the whole text holds beyond the chunks given so far (e.g. a last, incomplete character as U+FFFD).</summary>
        public string Flush()
        {
            string text = tokenizer.Decode(ids, skipSpecial);
            if (text.Length <= printed.Length || !text.StartsWith(printed, StringComparison.Ordinal)) return "";
            string rest = text[printed.Length..];
            printed = text;
            return rest;
        }
    }

    /// <summary>The model folder's tokenizer, or null when the folder has no tokenizer files (a damaged one is still an error).</summary>
    public static ModelTokenizer? TryLoad(string folder) =>
        File.Exists(Path.Combine(folder, "tokenizer.json")) || File.Exists(Path.Combine(folder, "vocab.json")) || File.Exists(Path.Combine(folder, Gpt2SubsetTokenizer.FileName))
            ? Load(folder) : null;

    /// <summary>Loads the model folder's tokenizer; the error says what is missing or wrong.</summary>
    public static ModelTokenizer Load(string folder)
    {
        string json = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(json)) return new ModelTokenizer(HfTokenizer.FromFolder(folder), json);
        string vocab = Path.Combine(folder, "vocab.json"), merges = Path.Combine(folder, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges))
        {
            using var v = File.OpenRead(vocab);
            using var m = File.OpenRead(merges);
            var codegen = CodeGenTokenizer.Create(v, m, addPrefixSpace: false, addBeginOfSentence: false, addEndOfSentence: false);
            return new ModelTokenizer(text => codegen.EncodeToIds(text).ToArray(), ids => codegen.Decode(ids) ?? "", vocab, []);
        }
        string subset = Path.Combine(folder, Gpt2SubsetTokenizer.FileName);
        if (File.Exists(subset))
        {
            var gpt2 = Gpt2SubsetTokenizer.Load(subset);
            return new ModelTokenizer(gpt2.Encode, gpt2.Decode, subset, new Dictionary<string, int> { ["<|endoftext|>"] = Gpt2SubsetTokenizer.EndOfText });
        }
        throw new FileNotFoundException($"'{folder}' has no tokenizer.json (nor vocab.json + merges.txt, nor {Gpt2SubsetTokenizer.FileName}); give token ids instead of text.");
    }
}
