using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Python's <c>str.format</c>: replacement fields <c>{}</c>, <c>{0}</c>, <c>{name}</c>, attribute and item access,
/// <c>!s</c>/<c>!r</c>, and the format specs <c>[[fill]align][sign][0][width][.precision][type]</c> for s, d and f.
/// </summary>
internal static class StrFormat
{
    static TemplateException Error(string message, string kind = "ValueError") => new(message) { Kind = kind };

    public static string Format(Renderer renderer, string format, Arguments arguments)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '}')
            {
                if (i + 1 < format.Length && format[i + 1] == '}')
                {
                    sb.Append('}');
                    i++;
                    continue;
                }
                throw Error("Single '}' encountered in format string");
            }
            if (c != '{')
            {
                sb.Append(c);
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '{')
            {
                sb.Append('{');
                i++;
                continue;
            }
            int close = format.IndexOf('}', i);
            if (close < 0)
                throw Error("Single '{' encountered in format string");
            string field = format[(i + 1)..close];
            i = close;
            string spec = "";
            int colon = field.IndexOf(':');
            if (colon >= 0)
            {
                spec = field[(colon + 1)..];
                field = field[..colon];
            }
            char conversion = '\0';
            int bang = field.IndexOf('!');
            if (bang >= 0)
            {
                conversion = field.Length > bang + 1 ? field[bang + 1] : '\0';
                field = field[..bang];
            }
            int end = 0;
            while (end < field.Length && field[end] != '.' && field[end] != '[')
                end++;
            string head = field[..end];
            object? value;
            if (head.Length == 0)
                value = Positional(arguments, auto++);
            else if (int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                value = Positional(arguments, index);
            else
            {
                var match = arguments.Keyword.Where(k => k.Key == head).ToList();
                if (match.Count == 0)
                    throw new TemplateException(PyFormat.Repr(head)) { Kind = "KeyError" };
                value = match[0].Value;
            }
            // attribute / item chain
            int p = end;
            while (p < field.Length)
            {
                if (field[p] == '.')
                {
                    int q = p + 1;
                    while (q < field.Length && field[q] != '.' && field[q] != '[')
                        q++;
                    value = PyOps.GetAttribute(value, field[(p + 1)..q]);
                    p = q;
                }
                else
                {
                    int q = field.IndexOf(']', p);
                    if (q < 0)
                        throw Error("Missing ']' in format string");
                    string key = field[(p + 1)..q];
                    value = PyOps.GetItem(value, long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out long k) ? k : key);
                    p = q + 1;
                }
            }
            if (value is Undefined u)
                throw u.Fail();
            if (conversion is 'r' or 'a')
                value = PyFormat.Repr(value);
            else if (conversion == 's')
                value = PyFormat.Str(value);
            sb.Append(ApplySpec(value, spec));
            if (sb.Length > renderer.Limits.MaxOutputLength)
                throw new TemplateException("value too large") { Kind = "MemoryError" };
        }
        return sb.ToString();
    }

    static object? Positional(Arguments arguments, int index) =>
        index < arguments.Positional.Count
            ? arguments.Positional[index]
            : throw new TemplateException($"Replacement index {index} out of range for positional args tuple") { Kind = "IndexError" };

    static string ApplySpec(object? value, string spec)
    {
        if (spec.Length == 0)
            return PyFormat.Str(value);
        int i = 0;
        char fill = ' ', align = '\0';
        if (spec.Length >= 2 && spec[1] is '<' or '>' or '^' or '=')
        {
            fill = spec[0];
            align = spec[1];
            i = 2;
        }
        else if (spec[0] is '<' or '>' or '^' or '=')
        {
            align = spec[0];
            i = 1;
        }
        char sign = '-';
        if (i < spec.Length && spec[i] is '+' or '-' or ' ')
            sign = spec[i++];
        if (i < spec.Length && spec[i] == '0')
        {
            if (align == '\0')
            {
                fill = '0';
                align = '=';
            }
            i++;
        }
        int width = 0;
        while (i < spec.Length && char.IsAsciiDigit(spec[i]))
            width = width * 10 + (spec[i++] - '0');
        int precision = -1;
        if (i < spec.Length && spec[i] == '.')
        {
            i++;
            precision = 0;
            while (i < spec.Length && char.IsAsciiDigit(spec[i]))
                precision = precision * 10 + (spec[i++] - '0');
        }
        char type = i < spec.Length ? spec[i++] : '\0';
        if (width > Renderer.MaxLength || precision > 10_000)
            throw new TemplateException("value too large: format width or precision") { Kind = "MemoryError" };
        if (i != spec.Length)
            throw Error($"Invalid format specifier '{spec}' for object of type '{PyOps.TypeName(value)}'");
        string text;
        bool numeric = PyOps.IsNumber(value) && value is not bool || value is bool && type is 'd' or 'f';
        switch (type)
        {
            case '\0' or 's' when value is string s:
                text = precision >= 0 && PyString.Length(s) > precision ? s[..PyString.Utf16Index(s, precision)] : s;
                break;
            case '\0' when numeric:
                text = PyFormat.Str(value);
                break;
            case 'd' when PyOps.IsInt(value):
                text = PyOps.ToBig(value).ToString(CultureInfo.InvariantCulture);
                break;
            case 'f' or 'F' when numeric:
                text = PyOps.ToDouble(value).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture);
                break;
            default:
                throw Error($"format spec '{spec}' is not supported for object of type '{PyOps.TypeName(value)}'");
        }
        if (numeric && sign is '+' or ' ' && !text.StartsWith('-'))
            text = sign + text;
        if (align == '\0')
            align = numeric ? '>' : '<';
        int pad = width - PyString.Length(text);
        if (pad <= 0)
            return text;
        return align switch
        {
            '<' => text + new string(fill, pad),
            '>' => new string(fill, pad) + text,
            '^' => new string(fill, pad / 2) + text + new string(fill, pad - pad / 2),
            _ => text.Length > 0 && text[0] is '-' or '+' or ' ' ? text[0] + new string(fill, pad) + text[1..] : new string(fill, pad) + text,
        };
    }
}
