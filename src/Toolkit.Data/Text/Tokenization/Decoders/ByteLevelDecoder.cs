using System.Text;

namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>ByteLevel: GPT-2 alphabet characters back to bytes, decoded as UTF-8 (invalid sequences become U+FFFD).
/// A token with a character outside the alphabet (an added token) contributes its own UTF-8 bytes.</summary>
internal sealed class ByteLevelDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string t in tokens)
        {
            int mark = bytes.Count;
            bool ok = true;
            foreach (char c in t)
            {
                if (ByteLevelAlphabet.ByteOfChar.TryGetValue(c, out byte b)) bytes.Add(b);
                else { ok = false; break; }
            }
            if (!ok)
            {
                bytes.RemoveRange(mark, bytes.Count - mark);
                bytes.AddRange(Encoding.UTF8.GetBytes(t));
            }
        }
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}
