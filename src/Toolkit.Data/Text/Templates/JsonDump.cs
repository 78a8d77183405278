using System.Globalization;
using System.Numerics;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Python's <c>json.dumps</c>, which transformers' <c>tojson</c> filter calls with <c>ensure_ascii=False</c> by
/// default: <c>", "</c>/<c>": "</c> separators (<c>","</c> when indenting), Python float repr, NaN/Infinity.
/// </summary>
internal static class JsonDump
{
    public sealed record Options(bool EnsureAscii, string? Indent, string ItemSeparator, string KeySeparator, bool SortKeys);

    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    public static string Dumps(object? value, Options options, TemplateLimits limits)
    {
        var sb = new StringBuilder();
        Write(sb, value, options, 0, limits);
        return sb.ToString();
    }

    static void Write(StringBuilder sb, object? value, Options options, int level, TemplateLimits limits)
    {
        if (sb.Length > limits.MaxOutputLength)
            throw new TemplateException($"value too large: more than {limits.MaxOutputLength} characters") { Kind = "MemoryError" };
        if (level > limits.MaxNestingDepth * 4)
            throw new TemplateException("maximum recursion depth exceeded while encoding a JSON object") { Kind = "RecursionError" };
        switch (value)
        {
            case null:
                sb.Append("null");
                return;
            case bool b:
                sb.Append(b ? "true" : "false");
                return;
            case long or BigInteger:
                sb.Append(PyFormat.Str(value));
                return;
            case double d:
                sb.Append(FloatText(d));
                return;
            case string s:
                WriteString(sb, s, options.EnsureAscii);
                return;
            case List<object?> or PyTuple:
                {
                    var items = value is PyTuple t ? t.Items : (List<object?>)value;
                    if (items.Count == 0)
                    {
                        sb.Append("[]");
                        return;
                    }
                    sb.Append('[');
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (i > 0)
                            sb.Append(options.ItemSeparator);
                        NewLine(sb, options, level + 1);
                        Write(sb, items[i], options, level + 1, limits);
                    }
                    NewLine(sb, options, level);
                    sb.Append(']');
                    return;
                }
            case PyDict dict:
                {
                    if (dict.Count == 0)
                    {
                        sb.Append("{}");
                        return;
                    }
                    IEnumerable<KeyValuePair<object?, object?>> entries = dict.Entries;
                    if (options.SortKeys)
                    {
                        var list = dict.Entries.ToList();
                        try
                        {
                            list.Sort((x, y) => PyOps.Compare(x.Key, y.Key, "<"));
                        }
                        catch (InvalidOperationException e) when (e.InnerException is TemplateException inner)
                        {
                            throw inner;
                        }
                        entries = list;
                    }
                    sb.Append('{');
                    bool first = true;
                    foreach (var (k, v) in entries)
                    {
                        if (!first)
                            sb.Append(options.ItemSeparator);
                        first = false;
                        NewLine(sb, options, level + 1);
                        WriteString(sb, KeyText(k), options.EnsureAscii);
                        sb.Append(options.KeySeparator);
                        Write(sb, v, options, level + 1, limits);
                    }
                    NewLine(sb, options, level);
                    sb.Append('}');
                    return;
                }
        }
        throw TypeError($"Object of type {PyOps.TypeName(value)} is not JSON serializable");
    }

    static string KeyText(object? key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        null => "null",
        long or BigInteger => PyFormat.Str(key),
        double d => FloatText(d),
        _ => throw TypeError($"keys must be str, int, float, bool or None, not {PyOps.TypeName(key)}"),
    };

    static string FloatText(double d) =>
        double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFormat.FloatRepr(d);

    static void NewLine(StringBuilder sb, Options options, int level)
    {
        if (options.Indent is null)
            return;
        sb.Append('\n');
        for (int i = 0; i < level; i++)
            sb.Append(options.Indent);
    }

    static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || ensureAscii && c > 0x7e)
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
