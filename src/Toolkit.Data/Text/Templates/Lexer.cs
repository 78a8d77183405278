using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Splits a template into tokens the way jinja2's lexer does with <c>trim_blocks=True</c>,
/// <c>lstrip_blocks=True</c> and <c>keep_trailing_newline=False</c>: newlines normalised to <c>\n</c>, one trailing
/// newline dropped, whitespace control with <c>-</c> and <c>+</c>, comments skipped, raw blocks kept verbatim.
/// </summary>
internal sealed class Lexer
{
    static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    readonly string source;
    readonly string? name;
    readonly List<Token> tokens = [];
    readonly List<int> lineStarts = [0];
    int pos;
    bool lineStarting = true;

    Lexer(string source, string? name)
    {
        this.source = source;
        this.name = name;
        for (int i = 0; i < source.Length; i++)
            if (source[i] == '\n')
                lineStarts.Add(i + 1);
    }

    /// <summary>Tokenizes <paramref name="source"/>; the list always ends with an <see cref="TokenKind.End"/> token.</summary>
    public static List<Token> Tokenize(string source, string? name)
    {
        var lexer = new Lexer(Normalize(source), name);
        lexer.Run();
        return lexer.tokens;
    }

    /// <summary>Newlines to <c>\n</c> and one trailing newline removed, as jinja2 does before lexing.</summary>
    internal static string Normalize(string source)
    {
        string s = source.Contains('\r') ? source.Replace("\r\n", "\n").Replace('\r', '\n') : source;
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    (int Line, int Column) Position(int offset)
    {
        int index = lineStarts.BinarySearch(offset);
        if (index < 0)
            index = ~index - 1;
        return (index + 1, offset - lineStarts[index] + 1);
    }

    TemplateException Error(string message, int offset)
    {
        var (line, column) = Position(Math.Min(offset, source.Length));
        return new TemplateException(message, name, line, column) { Kind = "TemplateSyntaxError" };
    }

    void Emit(TokenKind kind, string text, int offset, object? value = null)
    {
        var (line, column) = Position(offset);
        tokens.Add(new Token(kind, text, line, column, value));
    }

    void Run()
    {
        while (pos < source.Length)
        {
            int tag = FindTagStart(pos);
            if (tag < 0)
            {
                Emit(TokenKind.Data, source[pos..], pos);
                pos = source.Length;
                break;
            }
            char kind = source[tag + 1];
            int after = tag + 2;
            char sign = after < source.Length && (source[after] == '-' || source[after] == '+') ? source[after] : '\0';
            int rawEnd = kind == '%' ? MatchRawBegin(tag) : -1;
            string text = source[pos..tag];
            text = ApplyLeftStrip(text, sign, isVariable: kind == '{');
            if (text.Length > 0)
                Emit(TokenKind.Data, text, pos);
            if (rawEnd >= 0)
            {
                lineStarting = source[rawEnd - 1] == '\n';
                pos = rawEnd;
                LexRaw(tag);
                continue;
            }
            pos = after + (sign != '\0' ? 1 : 0);
            lineStarting = false;
            switch (kind)
            {
                case '#':
                    LexComment(tag);
                    break;
                case '{':
                    Emit(TokenKind.VariableBegin, "{{", tag);
                    LexTag(isBlock: false, tag);
                    break;
                default:
                    Emit(TokenKind.BlockBegin, "{%", tag);
                    LexTag(isBlock: true, tag);
                    break;
            }
        }
        Emit(TokenKind.End, "", source.Length);
    }

    int FindTagStart(int from)
    {
        for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
        {
            char c = source[i + 1];
            if (c == '{' || c == '%' || c == '#')
                return i;
        }
        return -1;
    }

    /// <summary>jinja2's OptionalLStrip: <c>-</c> strips all whitespace before the tag; lstrip_blocks strips the indentation of a block or comment tag that starts its line.</summary>
    string ApplyLeftStrip(string text, char sign, bool isVariable)
    {
        if (sign == '-')
            return PyString.RStrip(text);
        if (sign != '+' && !isVariable)
        {
            int lineStart = text.LastIndexOf('\n') + 1;
            if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsRegexWhitespace(text.AsSpan(lineStart)))
                return text[..lineStart];
        }
        return text;
    }

    static bool IsRegexWhitespace(ReadOnlySpan<char> span)
    {
        foreach (char c in span)
            if (!PyString.IsSpace(c))
                return false;
        return true;
    }

    /// <summary>Matches <c>{%[-+]?\s*raw\s*(-%}\s*|%})</c> at <paramref name="at"/>; returns the end offset or -1.</summary>
    int MatchRawBegin(int at)
    {
        int i = at + 2;
        if (i < source.Length && (source[i] == '-' || source[i] == '+'))
            i++;
        i = SkipRegexSpace(i);
        if (string.CompareOrdinal(source, i, "raw", 0, 3) != 0)
            return -1;
        i = SkipRegexSpace(i + 3);
        if (string.CompareOrdinal(source, i, "-%}", 0, 3) == 0)
            return SkipRegexSpace(i + 3);
        if (string.CompareOrdinal(source, i, "%}", 0, 2) == 0)
            return i + 2;
        return -1;
    }

    int SkipRegexSpace(int i)
    {
        while (i < source.Length && PyString.IsSpace(source[i]))
            i++;
        return i;
    }

    void LexRaw(int tagOffset)
    {
        for (int i = source.IndexOf("{%", pos, StringComparison.Ordinal); i >= 0; i = source.IndexOf("{%", i + 1, StringComparison.Ordinal))
        {
            int j = i + 2;
            char sign = j < source.Length && (source[j] == '-' || source[j] == '+') ? source[j] : '\0';
            if (sign != '\0')
                j++;
            j = SkipRegexSpace(j);
            if (string.CompareOrdinal(source, j, "endraw", 0, 6) != 0)
                continue;
            j = SkipRegexSpace(j + 6);
            int end = MatchBlockEnd(j);
            if (end < 0)
                continue;
            string text = ApplyLeftStrip(source[pos..i], sign, isVariable: false);
            if (text.Length > 0)
                Emit(TokenKind.Data, text, pos);
            lineStarting = source[end - 1] == '\n';
            pos = end;
            return;
        }
        throw Error("Missing end of raw directive", tagOffset);
    }

    /// <summary>Matches a block end (<c>+%}</c>, <c>-%}\s*</c> or <c>%}\n?</c>) at <paramref name="i"/>; returns its end or -1.</summary>
    int MatchBlockEnd(int i) => MatchEnd(i, '%', trimNewline: true);

    int MatchEnd(int i, char closer, bool trimNewline)
    {
        if (i + 2 < source.Length && source[i] == '+' && source[i + 1] == closer && source[i + 2] == '}')
            return i + 3;
        if (i + 2 < source.Length && source[i] == '-' && source[i + 1] == closer && source[i + 2] == '}')
            return SkipRegexSpace(i + 3);
        if (i + 1 < source.Length && source[i] == closer && source[i + 1] == '}')
            return trimNewline && i + 2 < source.Length && source[i + 2] == '\n' ? i + 3 : i + 2;
        return -1;
    }

    void LexComment(int tagOffset)
    {
        for (int i = pos; i < source.Length; i++)
        {
            int end = MatchEnd(i, '#', trimNewline: true);
            if (end >= 0)
            {
                lineStarting = source[end - 1] == '\n';
                pos = end;
                return;
            }
        }
        throw Error("Missing end of comment tag", tagOffset);
    }

    void LexTag(bool isBlock, int tagOffset)
    {
        var balancing = new Stack<char>();
        while (true)
        {
            if (pos >= source.Length)
                throw Error(isBlock ? "Missing end of block tag ('%}')" : "Missing end of variable tag ('}}')", tagOffset);
            if (balancing.Count == 0)
            {
                int end = isBlock ? MatchBlockEnd(pos) : MatchEnd(pos, '}', trimNewline: false);
                if (end >= 0)
                {
                    Emit(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, isBlock ? "%}" : "}}", pos);
                    lineStarting = source[end - 1] == '\n';
                    pos = end;
                    return;
                }
            }
            char c = source[pos];
            if (PyString.IsSpace(c))
            {
                pos = SkipRegexSpace(pos);
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                LexNumber();
                continue;
            }
            if (c == '_' || char.IsLetter(c) || char.IsSurrogate(c))
            {
                int start = pos;
                while (pos < source.Length && (source[pos] == '_' || char.IsLetterOrDigit(source[pos]) || char.IsSurrogate(source[pos])))
                    pos++;
                Emit(TokenKind.Name, source[start..pos], start);
                continue;
            }
            if (c == '\'' || c == '"')
            {
                LexString(c);
                continue;
            }
            string? op = null;
            foreach (string candidate in Operators)
                if (string.CompareOrdinal(source, pos, candidate, 0, candidate.Length) == 0)
                {
                    op = candidate;
                    break;
                }
            if (op is null)
                throw Error($"unexpected char {PyFormat.Repr(c.ToString())} at {pos}", pos);
            switch (op)
            {
                case "(" or "[" or "{":
                    balancing.Push(op[0]);
                    break;
                case ")" or "]" or "}":
                    char expected = op == ")" ? '(' : op == "]" ? '[' : '{';
                    if (balancing.Count == 0)
                        throw Error($"unexpected '{op}'", pos);
                    char open = balancing.Pop();
                    if (open != expected)
                        throw Error($"unexpected '{op}', expected '{(open == '(' ? ')' : open == '[' ? ']' : '}')}'", pos);
                    break;
            }
            Emit(TokenKind.Operator, op, pos);
            pos += op.Length;
        }
    }

    void LexNumber()
    {
        int start = pos;
        // Float: digits ('.' digits)? exponent | digits '.' digits (underscores between digits allowed).
        int i = SkipDigits(pos);
        bool isFloat = false;
        int j = i;
        if (j < source.Length && source[j] == '.' && j + 1 < source.Length && char.IsAsciiDigit(source[j + 1]))
        {
            j = SkipDigits(j + 1);
            isFloat = true;
        }
        if (j < source.Length && (source[j] == 'e' || source[j] == 'E'))
        {
            int k = j + 1;
            if (k < source.Length && (source[k] == '+' || source[k] == '-'))
                k++;
            if (k < source.Length && char.IsAsciiDigit(source[k]))
            {
                j = SkipDigits(k);
                isFloat = true;
            }
        }
        bool afterDot = start > 0 && source[start - 1] == '.';
        if (isFloat && !afterDot)
        {
            string text = source[start..j];
            pos = j;
            double value = double.Parse(text.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture);
            Emit(TokenKind.Float, text, start, value);
            return;
        }
        // Integer: 0b / 0o / 0x prefixes, [1-9](_?\d)* or 0(_?0)*.
        if (source[start] == '0' && start + 1 < source.Length && "bBoOxX".Contains(source[start + 1]))
        {
            char radixChar = char.ToLowerInvariant(source[start + 1]);
            int radix = radixChar == 'b' ? 2 : radixChar == 'o' ? 8 : 16;
            int k = start + 2;
            var digits = new StringBuilder();
            while (k < source.Length && (source[k] == '_' || Uri.IsHexDigit(source[k]) && Convert.ToInt32(source[k].ToString(), 16) < radix))
            {
                if (source[k] != '_')
                    digits.Append(source[k]);
                k++;
            }
            if (digits.Length > 0)
            {
                System.Numerics.BigInteger big = 0;
                foreach (char d in digits.ToString())
                    big = big * radix + Convert.ToInt32(d.ToString(), 16);
                pos = k;
                Emit(TokenKind.Integer, source[start..k], start, PyOps.Normalize(big));
                return;
            }
        }
        int end;
        if (source[start] == '0')
        {
            end = start + 1;
            while (end < source.Length && (source[end] == '0' || source[end] == '_' && end + 1 < source.Length && source[end + 1] == '0'))
                end++;
        }
        else
        {
            end = i;
        }
        string digitsText = source[start..end];
        pos = end;
        var parsed = System.Numerics.BigInteger.Parse(digitsText.Replace("_", ""), CultureInfo.InvariantCulture);
        Emit(TokenKind.Integer, digitsText, start, PyOps.Normalize(parsed));
    }

    int SkipDigits(int i)
    {
        while (i < source.Length && (char.IsAsciiDigit(source[i]) || source[i] == '_' && i + 1 < source.Length && char.IsAsciiDigit(source[i + 1]) && i > 0 && char.IsAsciiDigit(source[i - 1])))
            i++;
        return i;
    }

    void LexString(char quote)
    {
        int start = pos;
        int i = pos + 1;
        while (i < source.Length && source[i] != quote)
            i += source[i] == '\\' ? 2 : 1;
        if (i >= source.Length)
            throw Error($"unexpected char {PyFormat.Repr(quote.ToString())} at {start}", start);
        string body = source[(start + 1)..i];
        pos = i + 1;
        Emit(TokenKind.String, source[start..pos], start, Unescape(body, start));
    }

    /// <summary>Python's <c>unicode-escape</c> decoding of a string literal's body.</summary>
    string Unescape(string body, int offset)
    {
        if (!body.Contains('\\'))
            return body;
        var sb = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c != '\\' || i + 1 >= body.Length)
            {
                sb.Append(c);
                continue;
            }
            char e = body[++i];
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case >= '0' and <= '7':
                    {
                        int value = e - '0';
                        for (int k = 0; k < 2 && i + 1 < body.Length && body[i + 1] is >= '0' and <= '7'; k++)
                            value = value * 8 + (body[++i] - '0');
                        sb.Append((char)value);
                        break;
                    }
                case 'x' or 'u' or 'U':
                    {
                        int width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                        if (!IsHex(body, i + 1, width))
                            throw Error($"truncated \\{e} escape in string literal", offset);
                        int code = int.Parse(body.AsSpan(i + 1, width), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                        if (code > 0x10FFFF)
                            throw Error($"illegal Unicode character \\{e}{body.Substring(i + 1, width)} in string literal", offset);
                        sb.Append(code <= 0xFFFF ? ((char)code).ToString() : char.ConvertFromUtf32(code));
                        i += width;
                        break;
                    }
                case 'N':
                    throw Error("named Unicode escapes (\\N{...}) are not supported in string literals", offset);
                default:
                    sb.Append('\\').Append(e);
                    break;
            }
        }
        return sb.ToString();
    }

    static bool IsHex(string s, int start, int count)
    {
        if (start + count > s.Length)
            return false;
        for (int i = start; i < start + count; i++)
            if (!Uri.IsHexDigit(s[i]))
                return false;
        return true;
    }
}
