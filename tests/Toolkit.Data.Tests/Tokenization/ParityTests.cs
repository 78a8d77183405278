using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Toolkit.Data.Text.Tokenization;
using Xunit;

namespace Toolkit.Data.Tests.Tokenization;

/// <summary>
/// Ids, decoded text (with and without special tokens) and streamed text identical to Hugging Face tokenizers +
/// transformers on the 21,000-line set, for every fixture kind (tests/fixtures/python/make_tokenizer_fixtures.py).
/// </summary>
public class ParityTests(ITestOutputHelper output)
{
    static readonly string Root = FindRoot();

    public static TheoryData<string> Kinds() =>
    [
        "qwen3-bpe", "deepseek-v3-bpe", "olmoe-bpe", "bert-wordpiece", "mixtral-spm-bpe", "mistral-metaspace-bpe",
        "llama2-spm-bpe", "t5-unigram", "t5-unigram-converted", "unigram-bytefallback", "o200k_base", "cl100k_base",
    ];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Matches_hugging_face(string kind)
    {
        string folder = Path.Combine(Root, kind);
        var tokenizer = kind is "o200k_base" or "cl100k_base" ? FromTiktoken(kind, folder) : HfTokenizer.FromFolder(folder);
        var lines = ReadJsonLines(Path.Combine(Root, "lines.jsonl.gz")).Select(e => e.GetString()!).ToList();
        var expected = ReadJsonLines(Path.Combine(folder, "expected.jsonl.gz")).ToList();
        Assert.Equal(lines.Count, expected.Count);
        int idsSame = 0, textSame = 0, streamChecked = 0, streamSame = 0;
        var mismatches = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            var e = expected[i];
            int[] ids = tokenizer.Encode(lines[i]);
            string text = tokenizer.Decode(ids), skip = tokenizer.Decode(ids, skipSpecialTokens: true);
            bool idsOk, textOk;
            if (e.TryGetProperty("ids", out var eIds))
            {
                var want = eIds.EnumerateArray().Select(x => x.GetInt32()).ToArray();
                idsOk = want.SequenceEqual(ids);
                textOk = e.GetProperty("text").GetString() == text && e.GetProperty("skip").GetString() == skip;
                if ((!idsOk || !textOk) && mismatches.Count < 5)
                    mismatches.Add($"line {i} {JsonSerializer.Serialize(lines[i])}\n  HF  {string.Join(",", want)} {JsonSerializer.Serialize(e.GetProperty("text").GetString())} / {JsonSerializer.Serialize(e.GetProperty("skip").GetString())}\n  C#  {string.Join(",", ids)} {JsonSerializer.Serialize(text)} / {JsonSerializer.Serialize(skip)}");
            }
            else
            {
                idsOk = e.GetProperty("h").GetString() == Hash(string.Join(",", ids));
                textOk = e.GetProperty("t").GetString() == Hash(text + "\0" + skip);
                if ((!idsOk || !textOk) && mismatches.Count < 5)
                    mismatches.Add($"line {i} {JsonSerializer.Serialize(lines[i])}\n  HF  ids hash {e.GetProperty("h")}, text hash {e.GetProperty("t")}\n  C#  {string.Join(",", ids)} {JsonSerializer.Serialize(text)} / {JsonSerializer.Serialize(skip)} (hashes {Hash(string.Join(",", ids))}, {Hash(text + "\0" + skip)})");
            }
            if (idsOk) idsSame++;
            if (textOk) textSame++;
            if (e.TryGetProperty("st", out var st) && st.ValueKind == JsonValueKind.String)
            {
                streamChecked++;
                var stream = tokenizer.CreateStreamingDecoder();
                var sb = new StringBuilder();
                foreach (int id in ids) sb.Append(stream.Append(id));
                if (Hash(sb.ToString()) == st.GetString()) streamSame++;
                else if (mismatches.Count < 5) mismatches.Add($"line {i} {JsonSerializer.Serialize(lines[i])}: streamed text {JsonSerializer.Serialize(sb.ToString())} differs from DecodeStream's");
            }
        }
        output.WriteLine($"{kind}: lines {lines.Count}, ids identical {idsSame}, text identical {textSame}, stream identical {streamSame}/{streamChecked}");
        foreach (var m in mismatches) output.WriteLine(m);
        Assert.True(idsSame == lines.Count && textSame == lines.Count && streamSame == streamChecked,
            $"{kind}: ids {idsSame}/{lines.Count}, text {textSame}/{lines.Count}, stream {streamSame}/{streamChecked}\n{string.Join("\n", mismatches)}");
    }

    [Fact]
    public void Tiktoken_vocabularies_encode_as_microsoft_ML_tokenizers()
    {
        // Ordinary text (no special-token strings) must give tiktoken's ids: the same ranks, the same split regex.
        var lines = ReadJsonLines(Path.Combine(Root, "lines.jsonl.gz")).Select(e => e.GetString()!).Where(l => !l.Contains("<|")).Take(3000).ToList();
        foreach (string name in TiktokenData.Names)
        {
            var hf = FromTiktoken(name, Path.Combine(Root, name));
            var ml = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForEncoding(name);
            foreach (string line in lines) Assert.Equal(ml.EncodeToIds(line), hf.Encode(line));
        }
    }

    internal static HfTokenizer FromTiktoken(string name, string folder)
    {
        List<(byte[], int)> ranks;
        using (var reader = TiktokenData.Open(name)) ranks = TiktokenConverter.ReadRanks(reader, name);
        string json = TiktokenConverter.ToTokenizerJson(ranks, TiktokenData.Pattern(name), TiktokenData.SpecialTokens(name));
        return HfTokenizer.FromJson(json, TokenizerConfig.Load(Path.Combine(folder, "tokenizer_config.json")), name);
    }

    static string Hash(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..8];

    static IEnumerable<JsonElement> ReadJsonLines(string path)
    {
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        string? line;
        while ((line = reader.ReadLine()) != null)
            if (line.Length > 0) yield return JsonDocument.Parse(line).RootElement.Clone();
    }

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "tokenizers");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures/tokenizers not found above the test binaries");
    }
}
