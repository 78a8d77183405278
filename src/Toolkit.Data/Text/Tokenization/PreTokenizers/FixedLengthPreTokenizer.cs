namespace Toolkit.Data.Text.Tokenization.PreTokenizers;

/// <summary>FixedLength: pieces of <c>length</c> characters.</summary>
internal sealed class FixedLengthPreTokenizer(int length) : PieceSplitter
{
    protected override void Split(Piece piece, List<Piece> output)
    {
        string t = piece.Text;
        int start = 0;
        while (start < t.Length)
        {
            int end = start, n = 0;
            while (end < t.Length && n < length)
            {
                end += char.IsHighSurrogate(t[end]) && end + 1 < t.Length && char.IsLowSurrogate(t[end + 1]) ? 2 : 1;
                n++;
            }
            output.Add(new Piece(t[start..end], piece.AtStart && start == 0));
            start = end;
        }
    }
}
