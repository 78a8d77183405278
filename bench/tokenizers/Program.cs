using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Microsoft.ML.Tokenizers;
using Toolkit.Data.Text.Tokenization;

// Usage:
//   TokenizerBench export-tiktoken DIR          writes o200k_base.tiktoken and cl100k_base.tiktoken (plain "base64 rank" lines)
//   TokenizerBench speed LINES [ROUNDS]         encode tokens/s of HfTokenizer vs Microsoft.ML.Tokenizers' TiktokenTokenizer
//   TokenizerBench tiktoken-json NAME OUT.json  o200k_base or cl100k_base written as tokenizer.json
//   TokenizerBench encode TOKENIZER LINES.jsonl.gz OUT.jsonl  ids and decoded text per line (TOKENIZER: tokenizer.json or a folder)
if (args.Length >= 2 && args[0] == "export-tiktoken")
{
    Directory.CreateDirectory(args[1]);
    foreach (string name in TiktokenData.Names)
    {
        using var reader = TiktokenData.Open(name);
        var ranks = TiktokenConverter.ReadRanks(reader, name);
        using var w = new StreamWriter(Path.Combine(args[1], name + ".tiktoken"), false, new UTF8Encoding(false)) { NewLine = "\n" };
        foreach (var (token, rank) in ranks) w.WriteLine($"{Convert.ToBase64String(token)} {rank}");
        Console.WriteLine($"{name}: {ranks.Count} tokens");
    }
    return 0;
}
if (args.Length >= 2 && args[0] == "speed")
{
    // A .jsonl(.gz) line set (one JSON string per line, as tests/fixtures/tokenizers/lines.jsonl.gz) is read with
    // its newlines turned into spaces; other files are plain text, one line each.
    var lines = args[1].Contains(".jsonl", StringComparison.Ordinal)
        ? ReadLines(args[1]).Select(l => System.Text.Json.JsonSerializer.Deserialize<string>(l)!.Replace("\r\n", " ").Replace('\n', ' ').Replace('\r', ' ')).ToList()
        : ReadLines(args[1]);
    int rounds = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
    Console.WriteLine($"lines: {lines.Count}, characters: {lines.Sum(l => l.Length)}, rounds: {rounds}, best round reported");
    Console.WriteLine("| vocabulary | tokens | HfTokenizer tokens/s | Microsoft.ML.Tokenizers tokens/s | ratio | ids equal |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (string name in TiktokenData.Names)
    {
        List<(byte[], int)> ranks;
        using (var reader = TiktokenData.Open(name)) ranks = TiktokenConverter.ReadRanks(reader, name);
        var hf = HfTokenizer.FromJson(TiktokenConverter.ToTokenizerJson(ranks, TiktokenData.Pattern(name), TiktokenData.SpecialTokens(name)), source: name);
        var ml = TiktokenTokenizer.CreateForEncoding(name);
        int equal = 0;
        foreach (var l in lines) if (hf.Encode(l).AsSpan().SequenceEqual(ml.EncodeToIds(l).ToArray())) equal++;
        var (hfTokens, hfSeconds) = Time(lines, rounds, l => hf.Encode(l).Length);
        var (mlTokens, mlSeconds) = Time(lines, rounds, l => ml.EncodeToIds(l).Count);
        double hfRate = hfTokens / hfSeconds, mlRate = mlTokens / mlSeconds;
        Console.WriteLine($"| {name} | {hfTokens} | {hfRate:F0} | {mlRate:F0} | {hfRate / mlRate:F2} | {equal}/{lines.Count} |");
    }
    return 0;
}
if (args.Length >= 3 && args[0] == "tiktoken-json")
{
    using var reader = TiktokenData.Open(args[1]);
    var ranks = TiktokenConverter.ReadRanks(reader, args[1]);
    File.WriteAllText(args[2], TiktokenConverter.ToTokenizerJson(ranks, TiktokenData.Pattern(args[1]), TiktokenData.SpecialTokens(args[1])));
    return 0;
}
if (args.Length >= 4 && args[0] == "encode")
{
    var tok = Directory.Exists(args[1]) ? HfTokenizer.FromFolder(args[1]) : HfTokenizer.Load(args[1]);
    using var w = new StreamWriter(args[3], false, new UTF8Encoding(false)) { NewLine = "\n" };
    foreach (var line in ReadLines(args[2]))
    {
        string text = System.Text.Json.JsonSerializer.Deserialize<string>(line)!;
        var ids = tok.Encode(text);
        w.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { ids, text = tok.Decode(ids), skip = tok.Decode(ids, true) }));
    }
    return 0;
}
Console.Error.WriteLine("usage: TokenizerBench export-tiktoken DIR | speed LINES(.txt|.jsonl)[.gz] [ROUNDS] | tiktoken-json NAME OUT.json | encode TOKENIZER LINES.jsonl.gz OUT.jsonl");
return 2;

static (long Tokens, double Seconds) Time(List<string> lines, int rounds, Func<string, int> encode)
{
    long tokens = 0;
    foreach (var l in lines.Take(200)) encode(l); // warm-up (JIT, caches)
    double best = double.MaxValue;
    for (int r = 0; r < rounds; r++)
    {
        var sw = Stopwatch.StartNew();
        long n = 0;
        foreach (var l in lines) n += encode(l);
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
        tokens = n;
    }
    return (tokens, best);
}

static List<string> ReadLines(string path)
{
    using var file = File.OpenRead(path);
    Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
    using var reader = new StreamReader(s, Encoding.UTF8);
    var lines = new List<string>();
    string? line;
    while ((line = reader.ReadLine()) != null) lines.Add(line);
    return lines;
}
