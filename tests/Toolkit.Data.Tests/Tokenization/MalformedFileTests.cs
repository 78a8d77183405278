using System.Text.Json.Nodes;
using CsCheck;
using Toolkit.Data.Text.Tokenization;
using Xunit;

namespace Toolkit.Data.Tests.Tokenization;

/// <summary>Malformed tokenizer.json and tokenizer_config.json files give a <see cref="TokenizerFormatException"/>
/// naming the file and the place, or a working tokenizer; never another exception.</summary>
public class MalformedFileTests
{
    // A small tokenizer.json that uses many block kinds (byte-level BPE) and one with a Unigram model and the T5
    // fixture's Precompiled charsmap.
    static readonly string BpeJson = """
    {"version":"1.0","truncation":null,"padding":null,
     "added_tokens":[{"id":0,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                     {"id":9,"content":"<x>","single_word":true,"lstrip":true,"rstrip":true,"normalized":true,"special":false}],
     "normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},{"type":"Prepend","prepend":"_"},{"type":"Strip","strip_left":false,"strip_right":true},{"type":"Lowercase"}]},
     "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"Split","pattern":{"String":"b"},"behavior":"MergedWithNext","invert":false},{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]},
     "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[0],"tokens":["<s>"]}}},
     "decoder":{"type":"Sequence","decoders":[{"type":"ByteLevel"},{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
     "model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,"byte_fallback":true,"ignore_merges":true,
              "vocab":{"<s>":0,"<unk>":1,"a":2,"b":3,"ab":4,"c":5,"abc":6,"<0x61>":7,"Ġ":8},"merges":["a b",["ab","c"]]}}
    """;

    static string UnigramJson() => """
    {"version":"1.0","added_tokens":[{"id":1,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
     "normalizer":{"type":"Sequence","normalizers":[{"type":"Precompiled","precompiled_charsmap":"CHARSMAP"},{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]},
     "pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},
     "post_processor":{"type":"TemplateProcessing","single":["$A","</s>"],"pair":[],"special_tokens":{"</s>":{"id":"</s>","ids":[1],"tokens":["</s>"]}}},
     "decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},
     "model":{"type":"Unigram","unk_id":2,"byte_fallback":true,"vocab":[["<pad>",0.0],["</s>",0.0],["<unk>",0.0],["▁",-1.5],["a",-2.0],["▁ab",-3.0],["<0x62>",-9.0]]}}
    """.Replace("CHARSMAP", Charsmap());

    static string Charsmap()
    {
        string path = Path.Combine(FixtureRoot(), "t5-unigram", "tokenizer.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        return node["normalizer"]!["normalizers"]![0]!["precompiled_charsmap"]!.GetValue<string>();
    }

    const string ConfigJson = """
    {"add_bos_token":true,"add_eos_token":false,"bos_token":{"__type":"AddedToken","content":"<s>","lstrip":false,"normalized":false,"rstrip":false,"single_word":false},
     "eos_token":"</s>","pad_token":null,"unk_token":"<unk>","clean_up_tokenization_spaces":false,"model_max_length":1e30,
     "chat_template":[{"name":"default","template":"{{ messages }}"},{"name":"tool_use","template":"x"}],
     "added_tokens_decoder":{"0":{"content":"<s>","lstrip":false,"normalized":false,"rstrip":false,"single_word":false,"special":true}},
     "additional_special_tokens":["<x>"],"tokenizer_class":"LlamaTokenizer"}
    """;

    static readonly string[] Probes = ["", "abc abc", "a  b\tc\n", "Ab9 <s>x <x> ", "café 中文 😀 𠀀", "<0x61>bb"];

    [Fact]
    public void The_base_files_work()
    {
        var bpe = HfTokenizer.FromJson(BpeJson, TokenizerConfig.Parse(ConfigJson));
        var unigram = HfTokenizer.FromJson(UnigramJson());
        foreach (string probe in Probes)
        {
            Assert.NotNull(bpe.Decode(bpe.Encode(probe)));
            Assert.NotNull(unigram.Decode(unigram.Encode(probe)));
        }
        Assert.Equal(0, bpe.Encode("abc")[0]); // add_bos_token
        Assert.Equal(1, unigram.Encode("a")[^1]); // $A </s>
    }

    [Fact]
    public void Mutated_tokenizer_json_is_a_format_error_or_works()
    {
        string unigram = UnigramJson();
        Mutations(Gen.OneOf(BpeJson, unigram)).Sample(text => Check(() =>
        {
            var tokenizer = HfTokenizer.FromJson(text, source: "tokenizer.json");
            foreach (string probe in Probes)
            {
                var ids = tokenizer.Encode(probe);
                tokenizer.Decode(ids);
                tokenizer.Decode(ids, skipSpecialTokens: true);
                var stream = tokenizer.CreateStreamingDecoder();
                foreach (int id in ids) stream.Append(id);
            }
            tokenizer.Decode([0, 1, 2, -1, int.MaxValue]);
        }, "tokenizer.json"), iter: 1500, threads: 1);
    }

    [Fact]
    public void Mutated_tokenizer_config_is_a_format_error_or_works()
    {
        Mutations(Gen.Const(ConfigJson)).Sample(text => Check(() =>
        {
            var config = TokenizerConfig.Parse(text, "tokenizer_config.json");
            var tokenizer = HfTokenizer.FromJson(BpeJson, config);
            foreach (string probe in Probes) tokenizer.Decode(tokenizer.Encode(probe));
        }, "tokenizer_config.json"), iter: 1500, threads: 1);
    }

    static void Check(Action action, string file)
    {
        try
        {
            action();
        }
        catch (TokenizerFormatException e)
        {
            Assert.StartsWith(file + ":", e.Message);
        }
    }

    /// <summary>Text mutations: truncation, a replaced character, or a JSON value replaced or removed.</summary>
    static Gen<string> Mutations(Gen<string> baseText)
    {
        var truncate = from t in baseText from n in Gen.Int[0, t.Length] select t[..n];
        var replaceChar = from t in baseText from i in Gen.Int[0, t.Length - 1] from c in Gen.Char[(char)0x20, (char)0x7E] select t[..i] + c + t[(i + 1)..];
        var values = Gen.OneOf<JsonNode?>(null, JsonValue.Create(-1), JsonValue.Create(1e300), JsonValue.Create(int.MaxValue),
            JsonValue.Create(""), JsonValue.Create("x"), JsonValue.Create(true), new JsonArray(), new JsonObject(),
            new JsonArray(JsonValue.Create("a")), JsonValue.Create(3), JsonValue.Create("Unknown"), JsonValue.Create("(unclosed"));
        var replaceValue = from t in baseText from pick in Gen.Int[0, 10_000] from v in values from remove in Gen.Bool
                           select ReplaceNode(t, pick, v, remove);
        return Gen.Frequency<string>((1, truncate), (1, replaceChar), (4, replaceValue));
    }

    static string ReplaceNode(string json, int pick, JsonNode? value, bool remove)
    {
        var root = JsonNode.Parse(json)!;
        var nodes = new List<(JsonNode Parent, string? Key, int Index)>();
        void Walk(JsonNode node)
        {
            if (node is JsonObject o)
                foreach (var (k, v) in o.ToList()) { nodes.Add((o, k, -1)); if (v != null) Walk(v); }
            else if (node is JsonArray a)
                for (int i = 0; i < a.Count; i++) { nodes.Add((a, null, i)); if (a[i] != null) Walk(a[i]!); }
        }
        Walk(root);
        var (parent, key, index) = nodes[pick % nodes.Count];
        var copy = value?.DeepClone();
        if (parent is JsonObject obj)
        {
            if (remove) obj.Remove(key!);
            else obj[key!] = copy;
        }
        else if (parent is JsonArray arr)
        {
            if (remove) arr.RemoveAt(index);
            else arr[index] = copy;
        }
        return root.ToJsonString();
    }

    internal static string FixtureRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "tokenizers");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures/tokenizers not found");
    }
}
