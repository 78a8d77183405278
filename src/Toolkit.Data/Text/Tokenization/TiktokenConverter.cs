using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Toolkit.Data.Text.Tokenization;

/// <summary>
/// Writes a tiktoken vocabulary (a <c>.tiktoken</c> file: one "base64-token rank" per line, e.g. o200k_base,
/// cl100k_base) as a Hugging Face tokenizer.json, the way transformers' TikTokenConverter does: byte-level BPE with
/// ignore_merges, every split of a token into two tokens as a merge (ordered by the token's rank, then by the ranks
/// of the halves), a Split pre-tokenizer with the vocabulary's regex followed by ByteLevel without regex, the ByteLevel
/// decoder, and the special tokens added after the vocabulary.
/// </summary>
public static class TiktokenConverter
{
    /// <summary>The split regex of cl100k_base (as transformers writes it, without possessive quantifiers).</summary>
    public const string Cl100kPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The split regex of o200k_base.</summary>
    public const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        + @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
        + @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Reads the token bytes by rank from a .tiktoken text ("base64 rank" lines; "Capacity:" lines skipped).</summary>
    /// <exception cref="TokenizerFormatException">A line is not "base64 rank".</exception>
    public static List<(byte[] Token, int Rank)> ReadRanks(TextReader reader, string source = ".tiktoken")
    {
        var ranks = new List<(byte[], int)>();
        string? line;
        int lineNumber = 0, next = 0;
        while ((line = reader.ReadLine()) != null)
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            try
            {
                int rank = space > 0 ? int.Parse(line.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture) : next;
                ranks.Add((Convert.FromBase64String(space > 0 ? line[..space] : line), rank));
                next = rank + 1;
            }
            catch (FormatException)
            {
                throw new TokenizerFormatException($"{source}: line {lineNumber} is not \"base64-token rank\"");
            }
            catch (OverflowException)
            {
                throw new TokenizerFormatException($"{source}: line {lineNumber} has a rank out of range");
            }
        }
        return ranks;
    }

    /// <summary>The tokenizer.json text for a tiktoken vocabulary.</summary>
    public static string ToTokenizerJson(IReadOnlyList<(byte[] Token, int Rank)> ranks, string pattern, IEnumerable<string> specialTokens)
    {
        var rankOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var spelled = new List<(string Text, byte[] Bytes, int Rank)>(ranks.Count);
        foreach (var (token, rank) in ranks.OrderBy(r => r.Rank))
        {
            string text = Spell(token);
            rankOf[text] = rank;
            spelled.Add((text, token, rank));
        }
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            int id = rankOf.Count;
            foreach (string special in specialTokens)
            {
                w.WriteStartObject();
                w.WriteNumber("id", rankOf.TryGetValue(special, out int existing) ? existing : id++);
                w.WriteString("content", special);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            w.WriteStartObject();
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", false);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("post_processor");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", false);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", true);
            w.WriteStartObject("vocab");
            foreach (var (text, _, rank) in spelled) w.WriteNumber(text, rank);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            var byBytes = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (_, bytes, rank) in spelled) byBytes[Convert.ToBase64String(bytes)] = rank;
            var local = new List<(string L, string R, int RankL, int RankR)>();
            foreach (var (_, bytes, _) in spelled)
            {
                if (bytes.Length == 1) continue;
                local.Clear();
                for (int i = 1; i < bytes.Length; i++)
                {
                    if (byBytes.TryGetValue(Convert.ToBase64String(bytes, 0, i), out int rl)
                        && byBytes.TryGetValue(Convert.ToBase64String(bytes, i, bytes.Length - i), out int rr))
                        local.Add((Spell(bytes[..i]), Spell(bytes[i..]), rl, rr));
                }
                foreach (var m in local.OrderBy(m => m.RankL).ThenBy(m => m.RankR))
                {
                    w.WriteStartArray();
                    w.WriteStringValue(m.L);
                    w.WriteStringValue(m.R);
                    w.WriteEndArray();
                }
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static string Spell(byte[] bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteLevelAlphabet.CharOfByte[bytes[i]];
        return new string(chars);
    }
}
