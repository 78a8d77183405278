using System.Text.Json;
using Toolkit.Data.Text.Tokenization.Decoders;
using Toolkit.Data.Text.Tokenization.Models;
using Toolkit.Data.Text.Tokenization.Normalizers;
using Toolkit.Data.Text.Tokenization.PostProcessors;
using Toolkit.Data.Text.Tokenization.PreTokenizers;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// A Hugging Face tokenizer read from tokenizer.json (plus tokenizer_config.json), encoding and decoding exactly as
/// the Python <c>tokenizers</c> library with transformers on top: added tokens → normalizer → pre-tokenizer → model →
/// post-processor, and decoders on the way back. Each block kind of the file is one small type (Normalizers/,
/// PreTokenizers/, Models/, PostProcessors/, Decoders/).
/// </summary>
/// <remarks>
/// Why not Microsoft.ML.Tokenizers: its 3.0 BpeTokenizer has no byte_fallback or ignore_merges and neither it nor
/// SentencePieceTokenizer/TiktokenTokenizer reads a tokenizer.json's pipeline blocks (Split regex sequences, Metaspace
/// schemes, Precompiled charsmaps, TemplateProcessing, added tokens with lstrip/rstrip/single_word, decoder chains);
/// reproducing Hugging Face's ids needs the whole pipeline, so the blocks are written here. Microsoft.ML.Tokenizers'
/// TiktokenTokenizer stays the speed baseline for o200k_base/cl100k_base (docs/tokenizers.md).
/// Not supported: truncation and padding settings of tokenizer.json (ignored), BPE dropout (encoding stays
/// deterministic), the UnicodeScripts pre-tokenizer. Instances are thread-safe.
/// </remarks>
public sealed class HfTokenizer
{
    readonly INormalizer? normalizer;
    readonly IPreTokenizer? preTokenizer;
    readonly ITokenizerModel model;
    readonly IPostProcessor? postProcessor;
    readonly IDecoder? decoder;
    readonly AddedVocabulary added;
    readonly bool cleanUp;

    HfTokenizer(INormalizer? normalizer, IPreTokenizer? preTokenizer, ITokenizerModel model, IPostProcessor? postProcessor,
        IDecoder? decoder, AddedVocabulary added, TokenizerConfig config, string source)
    {
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        this.added = added;
        Config = config;
        Source = source;
        cleanUp = config.CleanUpTokenizationSpaces && (model is not BpeModel || config.CleanUpTokenizationSpacesForBpe);
    }

    /// <summary>The tokenizer_config.json settings in use (empty defaults when there was none).</summary>
    public TokenizerConfig Config { get; }

    /// <summary>The file the tokenizer was read from.</summary>
    public string Source { get; }

    /// <summary>One more than the largest token id (model vocabulary and added tokens): the embedding rows a model needs.</summary>
    public int VocabSize => Math.Max(model.IdLimit, added.IdLimit);

    /// <summary>Number of entries of the model's own vocabulary (without added tokens).</summary>
    public int ModelVocabSize => model.VocabSize;

    /// <summary>The model kind of the file: BPE, Unigram, WordLevel or WordPiece.</summary>
    public string ModelType => model switch { BpeModel => "BPE", UnigramModel => "Unigram", WordLevelModel => "WordLevel", _ => "WordPiece" };

    /// <summary>The added tokens by id.</summary>
    public IReadOnlyDictionary<int, AddedToken> AddedTokens => added.Tokens;

    /// <summary>Id of <see cref="TokenizerConfig.BosToken"/>, when it is a token.</summary>
    public int? BosTokenId => Config.BosToken is { } t ? TokenToId(t) : null;

    /// <summary>Id of <see cref="TokenizerConfig.EosToken"/>, when it is a token.</summary>
    public int? EosTokenId => Config.EosToken is { } t ? TokenToId(t) : null;

    /// <summary>Reads a tokenizer.json, with <paramref name="config"/> applied as transformers applies tokenizer_config.json.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses an unsupported block kind.</exception>
    public static HfTokenizer Load(string tokenizerJsonPath, TokenizerConfig? config = null)
    {
        if (!File.Exists(tokenizerJsonPath)) throw new FileNotFoundException($"{tokenizerJsonPath} not found", tokenizerJsonPath);
        return FromJson(File.ReadAllText(tokenizerJsonPath), config, tokenizerJsonPath);
    }

    /// <summary>Reads a model folder's tokenizer.json and, when present, its tokenizer_config.json (and chat_template.jinja).</summary>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer.json.</exception>
    /// <exception cref="TokenizerFormatException">A file is malformed or uses an unsupported block kind.</exception>
    public static HfTokenizer FromFolder(string modelFolder)
    {
        string json = Path.Combine(modelFolder, "tokenizer.json");
        if (!File.Exists(json)) throw new FileNotFoundException($"'{modelFolder}' has no tokenizer.json", json);
        string configPath = Path.Combine(modelFolder, "tokenizer_config.json");
        TokenizerConfig? config = File.Exists(configPath) ? TokenizerConfig.Load(configPath) : null;
        if (config == null && File.Exists(Path.Combine(modelFolder, "chat_template.jinja")))
            config = new TokenizerConfig().WithJinjaTemplate(File.ReadAllText(Path.Combine(modelFolder, "chat_template.jinja")));
        return Load(json, config);
    }

    /// <summary>Builds a tokenizer from the text of a tokenizer.json; <paramref name="source"/> names it in errors.</summary>
    public static HfTokenizer FromJson(string json, TokenizerConfig? config = null, string source = "tokenizer.json")
    {
        config ??= new TokenizerConfig();
        using var doc = JsonField.Parse(json, source);
        var root = new JsonField(doc.RootElement, source, "").RequireObject();
        if (root.GetNonNull("version") is { } version && version.AsString() != "1.0")
            throw version.Error($"is \"{version.AsString()}\"; only tokenizer.json version 1.0 is known");
        var model = ModelFactory.Parse(root.Require("model"));
        var normalizer = NormalizerFactory.Parse(root.Get("normalizer"));
        var preTokenizer = PreTokenizerFactory.Parse(root.Get("pre_tokenizer"));
        var postProcessor = PostProcessorFactory.Parse(root.Get("post_processor"));
        var decoder = DecoderFactory.Parse(root.Get("decoder"));

        var added = new AddedVocabulary();
        if (root.GetNonNull("added_tokens") is { } list)
        {
            var tokens = new List<AddedToken>();
            foreach (var item in list.Items())
            {
                item.RequireObject();
                item.GetNonNull("id")?.AsIndex();
                tokens.Add(AddedToken.Parse(item) with { Normalized = item.OptBool("normalized", !item.OptBool("special", false)) });
            }
            added.Add(tokens, model, normalizer);
        }
        ApplyConfigTokens(config, added, model, normalizer);

        int limit = Math.Max(model.IdLimit, added.IdLimit);
        if (config.AddBosToken != null || config.AddEosToken != null)
            postProcessor = ConfigTemplate(config, added, model);
        if (postProcessor != null)
            foreach (int id in postProcessor.Added.Before.Concat(postProcessor.Added.After))
                if (id >= limit) throw root.Require("post_processor").Error($"adds token id {id}, outside the vocabulary of {limit} ids");
        return new HfTokenizer(normalizer, preTokenizer, model, postProcessor, decoder, added, config, source);
    }

    // transformers adds added_tokens_decoder entries and the named special tokens of tokenizer_config.json to the
    // backend tokenizer (strings as special, not normalized), replacing a token's flags when they differ.
    static void ApplyConfigTokens(TokenizerConfig config, AddedVocabulary added, ITokenizerModel model, INormalizer? normalizer)
    {
        var tokens = new List<AddedToken>();
        foreach (var (_, token) in config.AddedTokensDecoder.OrderBy(kv => kv.Key)) tokens.Add(token);
        foreach (var token in config.NamedSpecialTokens.Values.Concat(config.ExtraSpecialTokens)) tokens.Add(token with { Special = true });
        if (tokens.Count > 0) added.Add(tokens, model, normalizer);
    }

    // transformers' update_post_processor: "[bos:0 ]$A:0[ eos:0]" whenever add_bos_token or add_eos_token is set.
    static IPostProcessor ConfigTemplate(TokenizerConfig config, AddedVocabulary added, ITokenizerModel model)
    {
        int? Id(string? token) => token == null ? null : added.TokenToId(token) ?? model.TokenToId(token);
        var before = config.AddBosToken == true && Id(config.BosToken) is { } bos ? new[] { bos } : [];
        var after = config.AddEosToken == true && Id(config.EosToken) is { } eos ? new[] { eos } : [];
        return new WrappingTemplate(before, after);
    }

    sealed class WrappingTemplate(int[] before, int[] after) : IPostProcessor
    {
        public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Added => (before, after);

        public List<int> Process(List<int> ids, bool addSpecialTokens)
        {
            if (!addSpecialTokens) return ids;
            var result = new List<int>(before.Length + ids.Count + after.Length);
            result.AddRange(before);
            result.AddRange(ids);
            result.AddRange(after);
            return result;
        }
    }

    /// <summary>Token ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/>, BOS/EOS and other
    /// template tokens as the file's post-processor (or tokenizer_config.json's add_bos_token/add_eos_token) adds them.</summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        foreach (var (piece, id) in added.ExtractAndNormalize(text, normalizer))
        {
            if (id >= 0) { ids.Add(id); continue; }
            if (piece.Text.Length == 0) continue;
            if (preTokenizer == null)
            {
                model.Tokenize(piece.Text, ids);
                continue;
            }
            foreach (var word in preTokenizer.PreTokenize([piece]))
                if (word.Text.Length > 0) model.Tokenize(word.Text, ids);
        }
        var result = postProcessor?.Process(ids, addSpecialTokens) ?? ids;
        return result.ToArray();
    }

    /// <summary>Text of <paramref name="ids"/> through the file's decoders (unknown ids are skipped), with
    /// clean_up_tokenization_spaces applied as transformers applies it.</summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false) => Decode(ids, skipSpecialTokens, cleanUp);

    internal string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens, bool applyCleanUp)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>(ids.Count);
        foreach (int id in ids)
        {
            string? token = added.IdToToken(id) ?? model.IdToToken(id);
            if (token == null || (skipSpecialTokens && added.IsSpecial(token))) continue;
            tokens.Add(token);
        }
        string text = decoder != null ? string.Concat(decoder.DecodeChain(tokens)) : string.Join(' ', tokens);
        return applyCleanUp ? CleanUpTokenization(text) : text;
    }

    static string CleanUpTokenization(string s) => s
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
        .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);

    /// <summary>A stream that turns ids generated one at a time into text.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    /// <summary>The id of a token (added tokens first, then the model's vocabulary).</summary>
    public int? TokenToId(string token) => added.TokenToId(token) ?? model.TokenToId(token);

    /// <summary>The token of an id (added tokens first), or null when the id is unknown.</summary>
    public string? IdToToken(int id) => added.IdToToken(id) ?? model.IdToToken(id);

    /// <summary>Whether <paramref name="id"/> is a special added token (skipped by Decode with skipSpecialTokens).</summary>
    public bool IsSpecial(int id) => added.Tokens.TryGetValue(id, out var t) && t.Special;
}
