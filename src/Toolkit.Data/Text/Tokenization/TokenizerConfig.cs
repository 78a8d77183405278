using System.Globalization;
using System.Text.Json;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// What a model folder's tokenizer_config.json says about its tokenizer, as transformers reads it: the special tokens
/// (each may be written as a string or as an AddedToken object; only the content is kept here, the full token in
/// <see cref="NamedSpecialTokens"/>), whether to add BOS/EOS, space clean-up on decoding, the chat templates
/// (a string, or a list of {name, template}; a chat_template.jinja file next to it is the default template, as
/// transformers 5 reads it) and added_tokens_decoder.
/// </summary>
public sealed record TokenizerConfig
{
    /// <summary>Name of the default chat template.</summary>
    public const string DefaultTemplateName = "default";

    /// <summary>Beginning-of-sequence token text.</summary>
    public string? BosToken { get; init; }
    /// <summary>End-of-sequence token text.</summary>
    public string? EosToken { get; init; }
    /// <summary>Padding token text.</summary>
    public string? PadToken { get; init; }
    /// <summary>Unknown token text.</summary>
    public string? UnkToken { get; init; }
    /// <summary>add_bos_token when the file sets it (null when absent: the tokenizer.json post-processor decides).</summary>
    public bool? AddBosToken { get; init; }
    /// <summary>add_eos_token when the file sets it.</summary>
    public bool? AddEosToken { get; init; }
    /// <summary>clean_up_tokenization_spaces (transformers' default: false).</summary>
    public bool CleanUpTokenizationSpaces { get; init; }
    /// <summary>clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output: transformers skips the clean-up
    /// for BPE models unless this is set.</summary>
    public bool CleanUpTokenizationSpacesForBpe { get; init; }
    /// <summary>model_max_length, or null when absent or the "unlimited" placeholder (about 1e30).</summary>
    public long? ModelMaxLength { get; init; }
    /// <summary>tokenizer_class, e.g. "LlamaTokenizer".</summary>
    public string? TokenizerClass { get; init; }
    /// <summary>Chat templates by name; a single template is named <see cref="DefaultTemplateName"/>.</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; init; } = new Dictionary<string, string>();
    /// <summary>added_tokens_decoder: id → token.</summary>
    public IReadOnlyDictionary<int, AddedToken> AddedTokensDecoder { get; init; } = new Dictionary<int, AddedToken>();
    /// <summary>bos/eos/unk/pad/sep/cls/mask tokens as written (name without "_token" → token).</summary>
    public IReadOnlyDictionary<string, AddedToken> NamedSpecialTokens { get; init; } = new Dictionary<string, AddedToken>();
    /// <summary>additional_special_tokens / extra_special_tokens.</summary>
    public IReadOnlyList<AddedToken> ExtraSpecialTokens { get; init; } = [];

    /// <summary>The default chat template, if any.</summary>
    public string? ChatTemplate => ChatTemplates.TryGetValue(DefaultTemplateName, out var t) ? t : null;

    static readonly string[] Names = ["bos", "eos", "unk", "pad", "sep", "cls", "mask"];

    /// <summary>Reads tokenizer_config.json (and chat_template.jinja beside it, when present).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="TokenizerFormatException">The file is not a valid tokenizer_config.json.</exception>
    public static TokenizerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found", path);
        var config = Parse(File.ReadAllText(path), path);
        string jinja = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", "chat_template.jinja");
        return File.Exists(jinja) ? config.WithJinjaTemplate(File.ReadAllText(jinja)) : config;
    }

    /// <summary>A config whose default chat template is <paramref name="template"/> (chat_template.jinja wins over the json).</summary>
    public TokenizerConfig WithJinjaTemplate(string template)
    {
        var templates = new Dictionary<string, string>(ChatTemplates) { [DefaultTemplateName] = template };
        return this with { ChatTemplates = templates };
    }

    /// <summary>Parses the text of a tokenizer_config.json; <paramref name="file"/> names it in errors.</summary>
    public static TokenizerConfig Parse(string json, string file = "tokenizer_config.json")
    {
        using var doc = JsonField.Parse(json, file);
        var root = new JsonField(doc.RootElement, file, "").RequireObject();
        var named = new Dictionary<string, AddedToken>();
        foreach (string name in Names)
            if (root.GetNonNull(name + "_token") is { } f)
                named[name] = AddedToken.Parse(f) with { Special = true };
        var extra = new List<AddedToken>();
        foreach (string key in new[] { "additional_special_tokens", "extra_special_tokens" })
        {
            if (root.GetNonNull(key) is not { } list) continue;
            if (list.Kind == JsonValueKind.Object)
            {
                foreach (var (_, v) in list.Members()) extra.Add(AddedToken.Parse(v) with { Special = true });
            }
            else foreach (var item in list.Items()) extra.Add(AddedToken.Parse(item) with { Special = true });
        }
        var decoder = new Dictionary<int, AddedToken>();
        if (root.GetNonNull("added_tokens_decoder") is { } atd)
        {
            foreach (var (key, value) in atd.Members())
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                    throw value.Error("is keyed by something that is not a token id");
                decoder[id] = AddedToken.Parse(value.RequireObject());
            }
        }
        var templates = new Dictionary<string, string>();
        if (root.GetNonNull("chat_template") is { } ct)
        {
            if (ct.Kind == JsonValueKind.String) templates[DefaultTemplateName] = ct.AsString();
            else
                foreach (var item in ct.Items())
                    templates[item.Require("name").AsString()] = item.Require("template").AsString();
        }
        long? maxLength = null;
        if (root.GetNonNull("model_max_length") is { } ml)
        {
            double d = ml.AsDouble();
            if (d < 0) throw ml.Error("must not be negative");
            if (d < 1e18) maxLength = (long)d;
        }
        return new TokenizerConfig
        {
            BosToken = named.GetValueOrDefault("bos")?.Content,
            EosToken = named.GetValueOrDefault("eos")?.Content,
            PadToken = named.GetValueOrDefault("pad")?.Content,
            UnkToken = named.GetValueOrDefault("unk")?.Content,
            AddBosToken = root.GetNonNull("add_bos_token")?.AsBool(),
            AddEosToken = root.GetNonNull("add_eos_token")?.AsBool(),
            CleanUpTokenizationSpaces = root.OptBool("clean_up_tokenization_spaces", false),
            CleanUpTokenizationSpacesForBpe = root.OptBool("clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output", false),
            ModelMaxLength = maxLength,
            TokenizerClass = root.OptString("tokenizer_class"),
            ChatTemplates = templates,
            AddedTokensDecoder = decoder,
            NamedSpecialTokens = named,
            ExtraSpecialTokens = extra,
        };
    }
}
