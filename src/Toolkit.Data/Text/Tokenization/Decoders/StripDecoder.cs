namespace Toolkit.Data.Text.Tokenization.Decoders;

/// <summary>Strip: removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of one character from each token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (string token in tokens)
        {
            var chars = token.EnumerateRunes().Select(r => r.ToString()).ToList();
            int startCut = 0;
            for (int i = 0; i < Math.Min(start, chars.Count); i++)
            {
                if (chars[i] == content) startCut = i + 1;
                else break;
            }
            int stopCut = chars.Count;
            for (int i = 0; i < stop && chars.Count - i - 1 >= 0; i++)
            {
                int index = chars.Count - i - 1;
                if (chars[index] == content) stopCut = index;
                else break;
            }
            result.Add(startCut < stopCut ? string.Concat(chars.Skip(startCut).Take(stopCut - startCut)) : "");
        }
        return result;
    }
}
