using ExpertFlow.Model;

namespace ExpertFlow.Engine;

/// <summary>Stop strings: text that ends a sequence once generated (found in the decoded tail of its tokens).</summary>
public static class StopStrings
{
    /// <summary>
    /// Whether a sequence's tokens so far end in text containing one of <paramref name="stops"/> (null when there is none
    /// to look for). Only the last tokens are decoded: enough to hold the longest stop string.
    /// </summary>
    public static Func<IReadOnlyList<int>, bool>? Matcher(ModelTokenizer? tokenizer, IReadOnlyList<string> stops)
    {
        if (stops.Count == 0) return null;
        if (tokenizer == null) throw new ArgumentException("stop strings need the model's tokenizer; this folder has none (give stop token ids instead)");
        int window = stops.Max(s => s.Length) + 4; // a token holds at least one character, except byte pieces of one
        return tokens =>
        {
            int from = Math.Max(0, tokens.Count - window * 4);
            string tail = tokenizer.Decode(tokens.Skip(from), skipSpecialTokens: false);
            return stops.Any(s => tail.Contains(s, StringComparison.Ordinal));
        };
    }

    /// <summary>The text up to the first stop string (the OpenAI API's convention: the stop string is not returned).</summary>
    public static string Cut(string text, IReadOnlyList<string> stops)
    {
        int at = stops.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        return at >= 0 ? text[..at] : text;
    }
}
