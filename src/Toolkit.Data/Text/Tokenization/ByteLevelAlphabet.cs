using System.Text;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>GPT-2's byte-to-character table (bytes_to_unicode): each byte is shown as one printable character.</summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] CharOfByte = Build();
    public static readonly Dictionary<char, byte> ByteOfChar = CharOfByte.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    static char[] Build()
    {
        var table = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)(256 + n++);
        }
        return table;
    }

    /// <summary>The UTF-8 bytes of <paramref name="text"/> spelled in the alphabet.</summary>
    public static string Encode(string text)
    {
        int count = Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = count <= 512 ? stackalloc byte[count] : new byte[count];
        Encoding.UTF8.GetBytes(text, bytes);
        return string.Create(count, bytes.ToArray(), static (span, b) =>
        {
            for (int i = 0; i < b.Length; i++) span[i] = CharOfByte[b[i]];
        });
    }

    /// <summary>Encodes ASCII-only text without a byte buffer (the common case).</summary>
    public static string EncodeFast(string text)
    {
        foreach (char c in text) if (c >= 0x80) return Encode(text);
        return string.Create(text.Length, text, static (span, t) =>
        {
            for (int i = 0; i < t.Length; i++) span[i] = CharOfByte[t[i]];
        });
    }
}
