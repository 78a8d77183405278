using System.Globalization;
using System.Numerics;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>Python's <c>str()</c> and <c>repr()</c> of template values (what <c>{{ value }}</c> prints).</summary>
internal static class PyFormat
{
    /// <summary><c>str(value)</c>; undefined prints as nothing.</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        BigInteger big => big.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => Repr(value),
    };

    /// <summary><c>repr(value)</c>.</summary>
    public static string Repr(object? value)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, value, []);
        return sb.ToString();
    }

    static void AppendRepr(StringBuilder sb, object? value, HashSet<object> visiting)
    {
        Renderer.Tick();
        if (sb.Length > Renderer.MaxLength)
            throw new TemplateException($"value too large: its text is longer than {Renderer.MaxLength} characters") { Kind = "MemoryError" };
        switch (value)
        {
            case string s:
                AppendStringRepr(sb, s);
                return;
            case null or bool or long or BigInteger or double:
                sb.Append(Str(value));
                return;
            case Undefined:
                sb.Append("Undefined");
                return;
            case List<object?> list:
                if (!visiting.Add(list))
                {
                    sb.Append("[...]");
                    return;
                }
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                        sb.Append(", ");
                    AppendRepr(sb, list[i], visiting);
                }
                sb.Append(']');
                visiting.Remove(list);
                return;
            case PyTuple tuple:
                sb.Append('(');
                for (int i = 0; i < tuple.Count; i++)
                {
                    if (i > 0)
                        sb.Append(", ");
                    AppendRepr(sb, tuple[i], visiting);
                }
                sb.Append(tuple.Count == 1 ? ",)" : ")");
                return;
            case PyDict dict:
                if (!visiting.Add(dict))
                {
                    sb.Append("{...}");
                    return;
                }
                sb.Append('{');
                bool first = true;
                foreach (var (k, v) in dict.Entries)
                {
                    if (!first)
                        sb.Append(", ");
                    first = false;
                    AppendRepr(sb, k, visiting);
                    sb.Append(": ");
                    AppendRepr(sb, v, visiting);
                }
                sb.Append('}');
                visiting.Remove(dict);
                return;
            case PyRange range:
                sb.Append(range);
                return;
            case DictView view:
                sb.Append(view.TypeName).Append('(');
                AppendRepr(sb, view.Items.ToList(), visiting);
                sb.Append(')');
                return;
            case TemplateNamespace ns:
                sb.Append("<Namespace ");
                AppendRepr(sb, ns.Attributes, visiting);
                sb.Append('>');
                return;
            case PyIterator iterator:
                sb.Append("<").Append(iterator.TypeName).Append(" object>");
                return;
            case Macro macro:
                sb.Append("<Macro ").Append(Repr(macro.Name)).Append('>');
                return;
            case BuiltinFunction function:
                sb.Append("<function ").Append(function.Name).Append('>');
                return;
            case BoundMethod method:
                sb.Append("<built-in method ").Append(method.Name).Append(" of ").Append(PyOps.TypeName(method.Target)).Append(" object>");
                return;
            case LoopContext loop:
                sb.Append("<LoopContext ").Append(loop.Index0 + 1).Append('/').Append(loop.Length).Append('>');
                return;
            default:
                sb.Append('<').Append(PyOps.TypeName(value)).Append(" object>");
                return;
        }
    }

    static bool IsPrintable(Rune r)
    {
        if (r.Value == ' ')
            return true;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>Python's repr of a str: single quotes unless the text has a single quote and no double quote.</summary>
    public static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            int cp = c;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                cp = char.ConvertToUtf32(c, s[i + 1]);
            if (c == quote || c == '\\')
                sb.Append('\\').Append(c);
            else if (c == '\t')
                sb.Append("\\t");
            else if (c == '\n')
                sb.Append("\\n");
            else if (c == '\r')
                sb.Append("\\r");
            else if (cp < 0x20 || cp == 0x7f)
                sb.Append("\\x").Append(cp.ToString("x2", CultureInfo.InvariantCulture));
            else if (cp < 0x7f)
                sb.Append(c);
            else if (char.IsSurrogate(c) && cp == c)
                sb.Append("\\u").Append(cp.ToString("x4", CultureInfo.InvariantCulture));
            else if (IsPrintable(new Rune(cp)))
                sb.Append(char.ConvertFromUtf32(cp));
            else if (cp <= 0xff)
                sb.Append("\\x").Append(cp.ToString("x2", CultureInfo.InvariantCulture));
            else if (cp <= 0xffff)
                sb.Append("\\u").Append(cp.ToString("x4", CultureInfo.InvariantCulture));
            else
                sb.Append("\\U").Append(cp.ToString("x8", CultureInfo.InvariantCulture));
            if (cp > 0xFFFF)
                i++;
        }
        sb.Append(quote);
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest round-tripping digits, scientific below 1e-4 and from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d))
            return "nan";
        if (double.IsInfinity(d))
            return d > 0 ? "inf" : "-inf";
        if (d == 0)
            return double.IsNegative(d) ? "-0.0" : "0.0";
        string shortest = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        // Digits and decimal exponent of the shortest representation.
        string mantissa = shortest;
        int exponent = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            mantissa = shortest[..e];
            exponent = int.Parse(shortest[(e + 1)..], CultureInfo.InvariantCulture);
        }
        int dot = mantissa.IndexOf('.');
        string digits = dot >= 0 ? mantissa.Remove(dot, 1) : mantissa;
        int pointPosition = (dot >= 0 ? dot : mantissa.Length) + exponent;
        int leadingZeros = 0;
        while (leadingZeros < digits.Length - 1 && digits[leadingZeros] == '0')
            leadingZeros++;
        digits = digits[leadingZeros..];
        pointPosition -= leadingZeros;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0)
            digits = "0";
        int sciExponent = pointPosition - 1;
        string sign = d < 0 ? "-" : "";
        if (sciExponent >= -4 && sciExponent < 16)
        {
            if (pointPosition <= 0)
                return sign + "0." + new string('0', -pointPosition) + digits;
            if (pointPosition >= digits.Length)
                return sign + digits + new string('0', pointPosition - digits.Length) + ".0";
            return sign + digits[..pointPosition] + "." + digits[pointPosition..];
        }
        string mant = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
        string expText = Math.Abs(sciExponent).ToString("00", CultureInfo.InvariantCulture);
        return sign + mant + "e" + (sciExponent < 0 ? "-" : "+") + expText;
    }
}
