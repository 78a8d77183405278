using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Tokenization.Normalizers;

/// <summary>
/// Precompiled: SentencePiece's <c>precompiled_charsmap</c> (T5, Switch, XLM-R, mBART): a little-endian u32 trie size,
/// a Darts double-array trie over UTF-8 bytes, then a blob of NUL-terminated replacement strings. As Hugging Face
/// (spm_precompiled) applies it: each extended grapheme cluster shorter than 6 UTF-8 bytes is looked up whole (the
/// first, i.e. shortest, prefix hit of the trie replaces the whole cluster); otherwise each character is looked up alone.
/// </summary>
internal sealed class PrecompiledNormalizer : INormalizer
{
    readonly uint[] trie;
    readonly byte[] normalized;

    PrecompiledNormalizer(uint[] trie, byte[] normalized)
    {
        this.trie = trie;
        this.normalized = normalized;
    }

    public static PrecompiledNormalizer Parse(JsonField block)
    {
        var field = block.Require("precompiled_charsmap");
        byte[] data;
        try { data = Convert.FromBase64String(field.AsString()); }
        catch (FormatException) { throw field.Error("is not valid base64"); }
        if (data.Length < 4) throw field.Error("is too short to hold a trie");
        uint size = BitConverter.ToUInt32(data, 0);
        if (size % 4 != 0 || size > data.Length - 4 || size == 0) throw field.Error($"declares a trie of {size} bytes that does not fit its {data.Length} bytes");
        var trie = new uint[size / 4];
        for (int i = 0; i < trie.Length; i++) trie[i] = BitConverter.ToUInt32(data, 4 + 4 * i);
        var normalized = data[(4 + (int)size)..];
        try { new UTF8Encoding(false, true).GetString(normalized); }
        catch (ArgumentException) { throw field.Error("holds replacement strings that are not valid UTF-8"); }
        return new PrecompiledNormalizer(trie, normalized);
    }

    public string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool modified = false;
        int i = 0;
        while (i < text.Length)
        {
            int len = StringInfo.GetNextTextElementLength(text, i);
            if (len <= 0) len = 1;
            string grapheme = text.Substring(i, len);
            i += len;
            if (Encoding.UTF8.GetByteCount(grapheme) < 6 && Transform(grapheme) is { } whole)
            {
                modified = true;
                sb.Append(whole);
                continue;
            }
            foreach (var r in grapheme.EnumerateRunes())
            {
                string part = r.ToString();
                if (Transform(part) is { } norm)
                {
                    modified = true;
                    sb.Append(norm);
                }
                else sb.Append(part);
            }
        }
        return modified ? sb.ToString() : text;
    }

    string? Transform(string chunk)
    {
        byte[] key = Encoding.UTF8.GetBytes(chunk);
        long? first = CommonPrefixFirst(key);
        if (first is not { } index) return null;
        if (index >= normalized.Length) return "";
        int end = (int)index;
        while (end < normalized.Length && normalized[end] != 0) end++;
        return Encoding.UTF8.GetString(normalized, (int)index, end - (int)index);
    }

    // Darts double array: unit bits as in SentencePiece (has_leaf bit 8, label in bits 0-7 and 31, offset in 10-31).
    long? CommonPrefixFirst(byte[] key)
    {
        if (trie.Length == 0) return null;
        long nodePos = 0;
        uint unit = trie[0];
        nodePos ^= Offset(unit);
        foreach (byte c in key)
        {
            if (c == 0) break;
            nodePos ^= c;
            if (nodePos < 0 || nodePos >= trie.Length) return null;
            unit = trie[nodePos];
            if ((unit & ((1u << 31) | 0xFF)) != c) return null;
            nodePos ^= Offset(unit);
            if (((unit >> 8) & 1) == 1)
            {
                if (nodePos < 0 || nodePos >= trie.Length) return null;
                return trie[nodePos] & ((1u << 31) - 1);
            }
        }
        return null;
    }

    static long Offset(uint unit) => (long)(unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}
