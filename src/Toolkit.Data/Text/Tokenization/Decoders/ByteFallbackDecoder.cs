using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>ByteFallback: runs of &lt;0xXX&gt; tokens become their UTF-8 text; a run that is not valid UTF-8 becomes
/// one U+FFFD per byte (as Hugging Face does).</summary>
internal sealed class ByteFallbackDecoder : IDecoder
{
    static readonly UTF8Encoding Strict = new(false, true);

    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        void Flush()
        {
            if (pending.Count == 0) return;
            try { result.Add(Strict.GetString(pending.ToArray())); }
            catch (DecoderFallbackException) { for (int i = 0; i < pending.Count; i++) result.Add("\uFFFD"); }
            pending.Clear();
        }
        foreach (string t in tokens)
        {
            if (ByteOf(t) is { } b) { pending.Add(b); continue; }
            Flush();
            result.Add(t);
        }
        Flush();
        return result;
    }

    /// <summary>The byte of a "&lt;0xXX&gt;" token (Rust's u8::from_str_radix accepts a leading '+').</summary>
    internal static byte? ByteOf(string t)
    {
        if (t.Length != 6 || !t.StartsWith("<0x", StringComparison.Ordinal) || t[5] != '>') return null;
        string hex = t.Substring(3, 2);
        if (hex[0] == '+') hex = hex[1..];
        return byte.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b) ? b : null;
    }
}
