namespace ExpertFlow.Serving;

/// <summary>
/// Streams a completion's text while keeping stop strings out of it: text that could still be the start of a stop
/// string is held back until the next tokens decide; once a stop string appears, the text before it is released and
/// the rest never is (OpenAI's convention: the stop sequence is not returned).
/// </summary>
public sealed class StopTextBuffer(IReadOnlyList<string> stops)
{
    readonly int holdBack = stops.Count == 0 ? 0 : stops.Max(s => s.Length) - 1;
    string pending = "";
    bool stopped;

    /// <summary>True once a stop string has appeared.</summary>
    public bool Stopped => stopped;

    /// <summary>Adds new text; returns what may be sent now.</summary>
    public string Add(string text)
    {
        if (stopped || text.Length == 0) return "";
        pending += text;
        int at = stops.Select(s => pending.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (at >= 0)
        {
            stopped = true;
            string before = pending[..at];
            pending = "";
            return before;
        }
        int release = Math.Max(0, pending.Length - holdBack);
        string ready = pending[..release];
        pending = pending[release..];
        return ready;
    }

    /// <summary>The text still held back, at the end of the completion.</summary>
    public string Flush()
    {
        if (stopped) return "";
        string rest = pending;
        pending = "";
        return rest;
    }
}
