using System.Globalization;
using System.Numerics;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>Python's <c>format % args</c> (printf-style) for the conversions templates use: s, r, d, i, f, x, o, c, %.</summary>
internal static class PrintfFormat
{
    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    public static string Format(string format, object? args)
    {
        IReadOnlyList<object?> values = args is PyTuple t ? t.Items : [args];
        var mapping = args as PyDict;
        int next = 0;
        bool usedMapping = false;
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            if (++i >= format.Length)
                throw new TemplateException("incomplete format") { Kind = "ValueError" };
            object? value;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0 || mapping is null)
                    throw TypeError(mapping is null ? "format requires a mapping" : "incomplete format key");
                string key = format[(i + 1)..close];
                if (!mapping.TryGet(key, out value))
                    throw new TemplateException(PyFormat.Repr(key)) { Kind = "KeyError" };
                usedMapping = true;
                i = close + 1;
            }
            else
                value = Arguments.Missing;
            string flags = "";
            while (i < format.Length && "-+ #0".Contains(format[i]))
                flags += format[i++];
            int width = ReadNumber(format, ref i, values, ref next);
            int precision = -1;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = Math.Max(0, ReadNumber(format, ref i, values, ref next));
            }
            if (i >= format.Length)
                throw new TemplateException("incomplete format") { Kind = "ValueError" };
            if (width > Renderer.MaxLength || precision > 10_000)
                throw new TemplateException("value too large: format width or precision") { Kind = "MemoryError" };
            char type = format[i];
            if (type == '%')
            {
                sb.Append('%');
                continue;
            }
            if (Arguments.IsMissing(value))
            {
                if (next >= values.Count)
                    throw TypeError("not enough arguments for format string");
                value = values[next++];
            }
            string text = type switch
            {
                's' => PyFormat.Str(value),
                'r' or 'a' => PyFormat.Repr(value),
                'd' or 'i' or 'u' => Integer(value, type).ToString(CultureInfo.InvariantCulture),
                'x' => Integer(value, type).ToString("x", CultureInfo.InvariantCulture).TrimStart('0').PadLeft(1, '0'),
                'X' => Integer(value, type).ToString("X", CultureInfo.InvariantCulture).TrimStart('0').PadLeft(1, '0'),
                'o' => ToOctal(Integer(value, type)),
                'f' or 'F' => Real(value, type).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture),
                'c' => value is string s && PyString.Length(s) == 1 ? s : char.ConvertFromUtf32((int)Integer(value, type)),
                _ => throw new TemplateException($"unsupported format character '{type}' (0x{(int)type:x}) at index {i}") { Kind = "ValueError" },
            };
            if (type == 's' && precision >= 0 && PyString.Length(text) > precision)
                text = text[..PyString.Utf16Index(text, precision)];
            if ((type is 'd' or 'i' or 'f' or 'F') && !text.StartsWith('-'))
                text = flags.Contains('+') ? "+" + text : flags.Contains(' ') ? " " + text : text;
            int pad = width - PyString.Length(text);
            if (pad > 0)
            {
                if (flags.Contains('-'))
                    text += new string(' ', pad);
                else if (flags.Contains('0') && type is not ('s' or 'r' or 'a' or 'c'))
                {
                    int signLength = text.Length > 0 && text[0] is '-' or '+' or ' ' ? 1 : 0;
                    text = text[..signLength] + new string('0', pad) + text[signLength..];
                }
                else
                    text = new string(' ', pad) + text;
            }
            sb.Append(text);
        }
        if (!usedMapping && mapping is null && next < values.Count)
            throw TypeError("not all arguments converted during string formatting");
        return sb.ToString();
    }

    static int ReadNumber(string format, ref int i, IReadOnlyList<object?> values, ref int next)
    {
        if (i < format.Length && format[i] == '*')
        {
            i++;
            if (next >= values.Count || !PyOps.IsInt(values[next]))
                throw TypeError("* wants int");
            return (int)PyOps.ToBig(values[next++]);
        }
        int start = i;
        while (i < format.Length && char.IsAsciiDigit(format[i]))
            i++;
        return i > start ? int.Parse(format.AsSpan(start, i - start), CultureInfo.InvariantCulture) : -1;
    }

    static BigInteger Integer(object? value, char type)
    {
        if (PyOps.IsInt(value))
            return PyOps.ToBig(value);
        if (value is double d && double.IsFinite(d))
            return new BigInteger(Math.Truncate(d));
        throw TypeError($"%{type} format: a real number is required, not {PyOps.TypeName(value)}");
    }

    static double Real(object? value, char type) =>
        PyOps.IsNumber(value) ? PyOps.ToDouble(value) : throw TypeError($"must be real number, not {PyOps.TypeName(value)}");

    static string ToOctal(BigInteger value)
    {
        if (value.IsZero)
            return "0";
        var sb = new StringBuilder();
        var v = BigInteger.Abs(value);
        while (v > 0)
        {
            sb.Insert(0, (char)('0' + (int)(v % 8)));
            v /= 8;
        }
        return (value.Sign < 0 ? "-" : "") + sb;
    }
}
