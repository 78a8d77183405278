using System.Globalization;
using System.Numerics;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// jinja2's builtin filters (with transformers' own <c>tojson</c>) that chat templates use, with jinja2's argument
/// names, defaults and undefined handling.
/// </summary>
internal static class Filters
{
    static readonly HashSet<string> Supported =
    [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
        "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
        "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string",
        "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
    ];

    static readonly HashSet<string> KnownUnsupported =
        ["filesizeformat", "groupby", "pprint", "random", "striptags", "urlencode", "urlize", "wordwrap", "xmlattr"];

    public static bool Exists(string name) => Supported.Contains(name);

    public static bool IsKnownUnsupported(string name) => KnownUnsupported.Contains(name);

    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    public static object? Apply(Renderer renderer, string name, object? value, Arguments arguments)
    {
        var limits = renderer.Limits;
        switch (name)
        {
            case "abs":
                arguments.Bind("abs", []);
                if (value is Undefined ua)
                    throw ua.Fail();
                return value switch
                {
                    double d => Math.Abs(d),
                    long or BigInteger or bool => PyOps.Normalize(BigInteger.Abs(PyOps.ToBig(value))),
                    _ => throw TypeError($"bad operand type for abs(): '{PyOps.TypeName(value)}'"),
                };
            case "attr":
                {
                    var a = arguments.Bind("attr", ["name"], required: 1);
                    return PyOps.GetAttributeOnly(value, PyFormat.Str(a[0]));
                }
            case "batch":
                {
                    var a = arguments.Bind("batch", ["linecount", "fill_with"], required: 1);
                    long count = ToInteger(a[0]);
                    if (count <= 0)
                        throw new TemplateException("batch size must be positive") { Kind = "ValueError" };
                    var items = PyOps.Iterate(value);
                    var batches = new List<object?>();
                    for (int i = 0; i < items.Count; i += (int)Math.Min(count, int.MaxValue))
                    {
                        var batch = items.Skip(i).Take((int)Math.Min(count, int.MaxValue)).ToList();
                        if (batch.Count < count && !Arguments.IsMissing(a[1]) && a[1] is not null)
                            while (batch.Count < count)
                                batch.Add(a[1]);
                        batches.Add(batch);
                    }
                    return new PyIterator(batches);
                }
            case "capitalize":
                arguments.Bind(name, []);
                return PyString.Capitalize(PyFormat.Str(value));
            case "center":
                {
                    var a = arguments.Bind("center", ["width"]);
                    long width = Arguments.IsMissing(a[0]) ? 80 : ToInteger(a[0]);
                    if (width > limits.MaxOutputLength)
                        throw new TemplateException("value too large") { Kind = "MemoryError" };
                    return PyString.Center(PyFormat.Str(value), (int)width);
                }
            case "count" or "length":
                arguments.Bind(name, []);
                return (long)PyOps.Length(value);
            case "d" or "default":
                {
                    var a = arguments.Bind("default", ["default_value", "boolean"]);
                    object? fallback = Arguments.Or(a[0], "");
                    bool boolean = PyOps.Truthy(Arguments.Or(a[1], false));
                    return value is Undefined || boolean && !PyOps.Truthy(value) ? fallback : value;
                }
            case "dictsort":
                {
                    var a = arguments.Bind("dictsort", ["case_sensitive", "by", "reverse"]);
                    bool caseSensitive = PyOps.Truthy(Arguments.Or(a[0], false));
                    string by = PyFormat.Str(Arguments.Or(a[1], "key"));
                    int position = by switch
                    {
                        "key" => 0,
                        "value" => 1,
                        _ => throw new TemplateException("You can only sort by either \"key\" or \"value\"") { Kind = "FilterArgumentError" },
                    };
                    if (value is not PyDict dict)
                        throw new TemplateException($"'{PyOps.TypeName(value)}' object has no attribute 'items'") { Kind = "AttributeError" };
                    var pairs = dict.Entries.Select(e => (object?)new PyTuple([e.Key, e.Value])).ToList();
                    return SortList(pairs, item => SortKey(((PyTuple)item!)[position], caseSensitive), PyOps.Truthy(Arguments.Or(a[2], false)));
                }
            case "e" or "escape" or "forceescape":
                arguments.Bind(name, []);
                return HtmlEscape(PyFormat.Str(value));
            case "first":
                {
                    arguments.Bind("first", []);
                    var items = PyOps.Iterate(value);
                    return items.Count > 0 ? items[0] : Undefined.WithHint("No first item, sequence was empty.");
                }
            case "last":
                {
                    arguments.Bind("last", []);
                    if (value is PyIterator)
                        throw TypeError("'generator' object is not reversible");
                    var items = PyOps.Iterate(value);
                    return items.Count > 0 ? items[^1] : Undefined.WithHint("No last item, sequence was empty.");
                }
            case "float":
                {
                    var a = arguments.Bind("float", ["default"]);
                    return ToFloat(value) ?? Arguments.Or(a[0], 0.0);
                }
            case "int":
                {
                    var a = arguments.Bind("int", ["default", "base"]);
                    object? fallback = Arguments.Or(a[0], 0L);
                    int radix = Arguments.IsMissing(a[1]) ? 10 : (int)ToInteger(a[1]);
                    return ToInt(value, radix) ?? fallback;
                }
            case "format":
                {
                    if (arguments.Positional.Count > 0 && arguments.Keyword.Count > 0)
                        throw new TemplateException("can't handle positional and keyword arguments at the same time") { Kind = "FilterArgumentError" };
                    object? args;
                    if (arguments.Keyword.Count > 0)
                    {
                        var dict = new PyDict();
                        foreach (var (k, v) in arguments.Keyword)
                            dict.Set(k, v);
                        args = dict;
                    }
                    else
                        args = new PyTuple(arguments.Positional);
                    return PrintfFormat.Format(PyFormat.Str(value), args);
                }
            case "indent":
                {
                    var a = arguments.Bind("indent", ["width", "first", "blank"]);
                    object? widthValue = Arguments.Or(a[0], 4L);
                    string indention = widthValue is string w ? w : new string(' ', (int)Math.Clamp(ToInteger(widthValue), 0, 10_000));
                    return Indent(PyFormat.Str(value), indention, PyOps.Truthy(Arguments.Or(a[1], false)), PyOps.Truthy(Arguments.Or(a[2], false)), limits);
                }
            case "items":
                arguments.Bind("items", []);
                return value switch
                {
                    Undefined => new PyIterator([], "list_iterator"),
                    PyDict dict => new PyIterator(dict.Entries.Select(e => (object?)new PyTuple([e.Key, e.Value])).ToList(), "dict_itemiterator"),
                    _ => throw TypeError("Can only get item pairs from a mapping."),
                };
            case "join":
                {
                    var a = arguments.Bind("join", ["d", "attribute"]);
                    string separator = PyFormat.Str(Arguments.Or(a[0], ""));
                    var items = PyOps.Iterate(value);
                    if (!Arguments.IsMissing(a[1]) && a[1] is not null)
                        items = items.Select(item => AttributeChain(item, a[1], null)).ToList();
                    var sb = new StringBuilder();
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (i > 0)
                            sb.Append(separator);
                        sb.Append(PyFormat.Str(items[i]));
                        if (sb.Length > limits.MaxOutputLength)
                            throw new TemplateException("value too large") { Kind = "MemoryError" };
                    }
                    return sb.ToString();
                }
            case "list":
                arguments.Bind("list", []);
                return PyOps.Iterate(value).ToList();
            case "lower":
                arguments.Bind(name, []);
                return PyString.Lower(PyFormat.Str(value));
            case "upper":
                arguments.Bind(name, []);
                return PyString.Upper(PyFormat.Str(value));
            case "map":
                return Map(renderer, value, arguments);
            case "max" or "min":
                {
                    var a = arguments.Bind(name, ["case_sensitive", "attribute"]);
                    bool caseSensitive = PyOps.Truthy(Arguments.Or(a[0], false));
                    var items = PyOps.Iterate(value);
                    if (items.Count == 0)
                        return Undefined.WithHint(name == "max" ? "No largest item, sequence was empty." : "No smallest item, sequence was empty.");
                    object? attribute = Arguments.Or(a[1], null);
                    Func<object?, object?> key = item => SortKey(attribute is null ? item : AttributeChain(item, attribute, null), caseSensitive);
                    object? best = items[0];
                    object? bestKey = key(best);
                    foreach (var item in items.Skip(1))
                    {
                        object? k = key(item);
                        int c = PyOps.Compare(k, bestKey, name == "max" ? ">" : "<");
                        if (name == "max" ? c > 0 : c < 0)
                        {
                            best = item;
                            bestKey = k;
                        }
                    }
                    return best;
                }
            case "select" or "reject":
                return SelectOrReject(renderer, value, arguments, select: name == "select", byAttribute: false);
            case "selectattr" or "rejectattr":
                return SelectOrReject(renderer, value, arguments, select: name == "selectattr", byAttribute: true);
            case "replace":
                {
                    var a = arguments.Bind("replace", ["old", "new", "count"], required: 2);
                    string result = PyString.Replace(PyFormat.Str(value), PyFormat.Str(a[0]), PyFormat.Str(a[1]),
                        Arguments.IsMissing(a[2]) || a[2] is null ? -1 : ToInteger(a[2]));
                    if (result.Length > limits.MaxOutputLength)
                        throw new TemplateException("value too large") { Kind = "MemoryError" };
                    return result;
                }
            case "reverse":
                arguments.Bind("reverse", []);
                if (value is string s)
                    return PyString.Slice(s, PyOps.SliceIndices(PyString.Length(s), null, null, -1L).ToList());
                if (value is PyDict or DictView or PyIterator or Undefined)
                    return PyOps.Iterate(value).Reverse().ToList();
                return new PyIterator(PyOps.Iterate(value).Reverse().ToList(), "list_reverseiterator");
            case "round":
                {
                    var a = arguments.Bind("round", ["precision", "method"]);
                    long precision = ToInteger(Arguments.Or(a[0], 0L));
                    string method = PyFormat.Str(Arguments.Or(a[1], "common"));
                    if (method is not ("common" or "ceil" or "floor"))
                        throw new TemplateException("method must be common, ceil or floor") { Kind = "FilterArgumentError" };
                    if (value is Undefined ur)
                        throw ur.Fail();
                    if (!PyOps.IsNumber(value))
                        throw TypeError($"type {PyOps.TypeName(value)} doesn't define __round__ method");
                    if (method == "common")
                        return PyNumber.Round(value, precision);
                    double factor = Math.Pow(10, Math.Clamp(precision, -400, 400));
                    double scaled = PyOps.ToDouble(value) * factor;
                    return (method == "ceil" ? Math.Ceiling(scaled) : Math.Floor(scaled)) / factor;
                }
            case "safe":
                arguments.Bind("safe", []);
                return PyFormat.Str(value);
            case "slice":
                {
                    var a = arguments.Bind("slice", ["slices", "fill_with"], required: 1);
                    var items = PyOps.Iterate(value);
                    long slices = ToInteger(a[0]);
                    if (slices <= 0 || slices > 100_000)
                        throw new TemplateException("slices must be between 1 and 100000") { Kind = "ValueError" };
                    int perSlice = items.Count / (int)slices, withExtra = items.Count % (int)slices;
                    var result = new List<object?>();
                    int offset = 0;
                    for (int i = 0; i < slices; i++)
                    {
                        int start = offset + i * perSlice;
                        if (i < withExtra)
                            offset++;
                        int end = offset + (i + 1) * perSlice;
                        var part = items.Skip(start).Take(end - start).ToList();
                        if (!Arguments.IsMissing(a[1]) && a[1] is not null && i >= withExtra)
                            part.Add(a[1]);
                        result.Add(part);
                    }
                    return new PyIterator(result);
                }
            case "sort":
                {
                    var a = arguments.Bind("sort", ["reverse", "case_sensitive", "attribute"]);
                    bool caseSensitive = PyOps.Truthy(Arguments.Or(a[1], false));
                    object? attribute = Arguments.Or(a[2], null);
                    var items = PyOps.Iterate(value).ToList();
                    return SortList(items, item => SortKey(attribute is null ? item : AttributeChain(item, attribute, null), caseSensitive), PyOps.Truthy(Arguments.Or(a[0], false)));
                }
            case "string":
                arguments.Bind("string", []);
                return PyFormat.Str(value);
            case "sum":
                {
                    var a = arguments.Bind("sum", ["attribute", "start"]);
                    object? total = Arguments.Or(a[1], 0L);
                    object? attribute = Arguments.Or(a[0], null);
                    foreach (var item in PyOps.Iterate(value))
                        total = PyOps.Add(total, attribute is null ? item : AttributeChain(item, attribute, null), limits);
                    return total;
                }
            case "title":
                arguments.Bind(name, []);
                return JinjaTitle(PyFormat.Str(value));
            case "tojson":
                {
                    var a = arguments.Bind("tojson", ["ensure_ascii", "indent", "separators", "sort_keys"]);
                    object? indentValue = Arguments.Or(a[1], null);
                    string? indent = indentValue switch
                    {
                        null => null,
                        string s2 => s2,
                        _ when PyOps.IsInt(indentValue) => new string(' ', (int)Math.Clamp(ToInteger(indentValue), 0, 1000)),
                        _ => throw TypeError($"can't multiply sequence by non-int of type '{PyOps.TypeName(indentValue)}'"),
                    };
                    string itemSeparator = indent is null ? ", " : ",", keySeparator = ": ";
                    object? separators = Arguments.Or(a[2], null);
                    if (separators is not null)
                    {
                        var parts = PyOps.Iterate(separators);
                        if (parts.Count != 2 || parts[0] is not string first || parts[1] is not string second)
                            throw new TemplateException("separators must be a pair of strings") { Kind = "ValueError" };
                        (itemSeparator, keySeparator) = (first, second);
                    }
                    var options = new JsonDump.Options(PyOps.Truthy(Arguments.Or(a[0], false)), indent, itemSeparator, keySeparator, PyOps.Truthy(Arguments.Or(a[3], false)));
                    return JsonDump.Dumps(value, options, limits);
                }
            case "trim":
                {
                    var a = arguments.Bind("trim", ["chars"]);
                    object? chars = Arguments.Or(a[0], null);
                    if (chars is not null and not string)
                        throw TypeError("strip arg must be None or str");
                    return PyString.Strip(PyFormat.Str(value), (string?)chars);
                }
            case "truncate":
                {
                    var a = arguments.Bind("truncate", ["length", "killwords", "end", "leeway"]);
                    string s2 = PyFormat.Str(value);
                    long length = ToInteger(Arguments.Or(a[0], 255L));
                    bool killWords = PyOps.Truthy(Arguments.Or(a[1], false));
                    string end = PyFormat.Str(Arguments.Or(a[2], "..."));
                    long leeway = ToInteger(Arguments.Or(a[3], 5L));
                    int endLength = PyString.Length(end);
                    if (length < endLength)
                        throw new TemplateException($"expected length >= {endLength}, got {length}") { Kind = "AssertionError" };
                    if (leeway < 0)
                        throw new TemplateException($"expected leeway >= 0, got {leeway}") { Kind = "AssertionError" };
                    if (PyString.Length(s2) <= length + leeway)
                        return s2;
                    string head = s2[..PyString.Utf16Index(s2, (int)(length - endLength))];
                    if (killWords)
                        return head + end;
                    int space = head.LastIndexOf(' ');
                    return (space >= 0 ? head[..space] : head) + end;
                }
            case "unique":
                {
                    var a = arguments.Bind("unique", ["case_sensitive", "attribute"]);
                    bool caseSensitive = PyOps.Truthy(Arguments.Or(a[0], false));
                    object? attribute = Arguments.Or(a[1], null);
                    var seen = new PyDict();
                    var result = new List<object?>();
                    foreach (var item in PyOps.Iterate(value))
                    {
                        object? key = SortKey(attribute is null ? item : AttributeChain(item, attribute, null), caseSensitive);
                        if (!seen.ContainsKey(key))
                        {
                            seen.Set(key, true);
                            result.Add(item);
                        }
                    }
                    return new PyIterator(result);
                }
            case "wordcount":
                {
                    arguments.Bind("wordcount", []);
                    string s2 = PyFormat.Str(value);
                    long words = 0;
                    bool inWord = false;
                    foreach (var r in s2.EnumerateRunes())
                    {
                        bool word = Rune.IsLetterOrDigit(r) || r.Value == '_' || Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
                        if (word && !inWord)
                            words++;
                        inWord = word;
                    }
                    return words;
                }
        }
        throw new TemplateException($"No filter named '{name}'.") { Kind = "TemplateRuntimeError" };
    }

    static long ToInteger(object? value)
    {
        if (PyOps.IsInt(value))
        {
            var big = PyOps.ToBig(value);
            return big > long.MaxValue ? long.MaxValue : big < long.MinValue ? long.MinValue : (long)big;
        }
        if (value is Undefined u)
            throw u.Fail();
        throw TypeError($"'{PyOps.TypeName(value)}' object cannot be interpreted as an integer");
    }

    static double? ToFloat(object? value)
    {
        switch (value)
        {
            case double d:
                return d;
            case long or BigInteger or bool:
                return PyOps.ToDouble(value);
            case string s:
                {
                    string t = PyString.Strip(s).Replace("_", "");
                    string lower = t.ToLowerInvariant().TrimStart('+', '-');
                    if (lower is "inf" or "infinity" or "nan")
                        return lower == "nan" ? double.NaN : t.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity;
                    if (t.Length > 0 && (char.IsAsciiDigit(t[^1]) || t[^1] == '.')
                        && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed))
                        return parsed;
                    return null;
                }
            case Undefined u:
                throw u.Fail();
        }
        return null;
    }

    static object? ToInt(object? value, int radix)
    {
        switch (value)
        {
            case long or BigInteger:
                return value;
            case bool b:
                return b ? 1L : 0L;
            case double d:
                return double.IsFinite(d) ? PyOps.Normalize(new BigInteger(Math.Truncate(d))) : null;
            case string s:
                {
                    string t = PyString.Strip(s).Replace("_", "");
                    bool negative = t.StartsWith('-');
                    if (t.StartsWith('-') || t.StartsWith('+'))
                        t = t[1..];
                    if (radix == 16 && t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || radix == 8 && t.StartsWith("0o", StringComparison.OrdinalIgnoreCase)
                        || radix == 2 && t.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
                        t = t[2..];
                    if (t.Length > 0 && radix is >= 2 and <= 36)
                    {
                        BigInteger result = 0;
                        bool ok = true;
                        foreach (char c in t)
                        {
                            int digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? char.ToLowerInvariant(c) - 'a' + 10 : 99;
                            if (digit >= radix)
                            {
                                ok = false;
                                break;
                            }
                            result = result * radix + digit;
                        }
                        if (ok)
                            return PyOps.Normalize(negative ? -result : result);
                    }
                    double? f = ToFloat(s);
                    return f is { } fv && double.IsFinite(fv) ? PyOps.Normalize(new BigInteger(Math.Truncate(fv))) : null;
                }
            case Undefined u:
                throw u.Fail();
        }
        return null;
    }

    static string HtmlEscape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    static string Indent(string s, string indention, bool first, bool blank, TemplateLimits limits)
    {
        s += "\n";
        var lines = PyString.SplitLines(s);
        if (s.Length + (long)lines.Count * indention.Length > limits.MaxOutputLength)
            throw new TemplateException("value too large") { Kind = "MemoryError" };
        string result;
        if (blank)
            result = string.Join("\n" + indention, lines);
        else
        {
            var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
            for (int i = 1; i < lines.Count; i++)
            {
                sb.Append('\n');
                if (lines[i].Length > 0)
                    sb.Append(indention);
                sb.Append(lines[i]);
                if (sb.Length > limits.MaxOutputLength)
                    throw new TemplateException("value too large") { Kind = "MemoryError" };
            }
            result = sb.ToString();
        }
        return first ? indention + result : result;
    }

    /// <summary>jinja2's <c>title</c>: split at runs of <c>-</c>, whitespace and opening brackets; each piece upper-cases its first character and lower-cases the rest.</summary>
    static string JinjaTitle(string s)
    {
        var sb = new StringBuilder();
        int i = 0;
        while (i < s.Length)
        {
            bool separator = IsTitleSeparator(s[i]);
            int j = i;
            while (j < s.Length && IsTitleSeparator(s[j]) == separator)
                j++;
            string piece = s[i..j];
            var first = System.Text.Rune.GetRuneAt(piece, 0);
            sb.Append(System.Text.Rune.ToUpperInvariant(first).ToString()).Append(piece[first.Utf16SequenceLength..].ToLowerInvariant());
            i = j;
        }
        return sb.ToString();
    }

    static bool IsTitleSeparator(char c) => c is '-' or '(' or '{' or '[' or '<' || PyString.IsSpace(c);

    static object? SortKey(object? value, bool caseSensitive) =>
        !caseSensitive && value is string s ? PyString.Lower(s) : value;

    static List<object?> SortList(List<object?> items, Func<object?, object?> key, bool reverse)
    {
        var keyed = items.Select((item, index) => (Item: item, Key: key(item), Index: index)).ToList();
        // A stable merge sort keeps Python's sort stability; comparison errors propagate as TemplateException.
        var sorted = MergeSort(keyed, (x, y) =>
        {
            int c = reverse ? PyOps.Compare(y.Key, x.Key, "<") : PyOps.Compare(x.Key, y.Key, "<");
            return c;
        });
        return sorted.Select(k => k.Item).ToList();
    }

    static List<T> MergeSort<T>(List<T> items, Comparison<T> compare)
    {
        if (items.Count <= 1)
            return items;
        int mid = items.Count / 2;
        var left = MergeSort(items.GetRange(0, mid), compare);
        var right = MergeSort(items.GetRange(mid, items.Count - mid), compare);
        var result = new List<T>(items.Count);
        int i = 0, j = 0;
        while (i < left.Count && j < right.Count)
            result.Add(compare(right[j], left[i]) < 0 ? right[j++] : left[i++]);
        result.AddRange(left.Skip(i));
        result.AddRange(right.Skip(j));
        return result;
    }

    /// <summary>jinja2's <c>make_attrgetter</c>: a dotted path of attribute/item lookups (integer parts index).</summary>
    static object? AttributeChain(object? item, object? attribute, object? fallback)
    {
        IEnumerable<object?> parts = attribute is string path
            ? path.Split('.').Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? (object?)n : p)
            : [attribute];
        foreach (var part in parts)
        {
            item = PyOps.GetItem(item, part);
            if (item is Undefined && fallback is not null)
                return fallback;
        }
        return item;
    }

    static object? Map(Renderer renderer, object? value, Arguments arguments)
    {
        var items = PyOps.Iterate(value);
        if (arguments.Positional.Count == 0)
        {
            var attribute = arguments.Keyword.Where(k => k.Key == "attribute").Select(k => k.Value).ToList();
            if (attribute.Count == 0)
                throw new TemplateException("map requires a filter argument") { Kind = "FilterArgumentError" };
            object? fallback = arguments.Keyword.Where(k => k.Key == "default").Select(k => k.Value).FirstOrDefault();
            foreach (var (k, _) in arguments.Keyword)
                if (k is not ("attribute" or "default"))
                    throw new TemplateException($"Unexpected keyword argument {PyFormat.Repr(k)}") { Kind = "FilterArgumentError" };
            return new PyIterator(items.Select(item => AttributeChain(item, attribute[0], fallback)).ToList());
        }
        string filter = PyFormat.Str(arguments.Positional[0]);
        if (!Exists(filter))
            throw new TemplateException($"No filter named {PyFormat.Repr(filter)}.") { Kind = "TemplateRuntimeError" };
        var rest = new Arguments(arguments.Positional.Skip(1).ToList(), arguments.Keyword);
        return new PyIterator(items.Select(item => Apply(renderer, filter, item, rest)).ToList());
    }

    static object? SelectOrReject(Renderer renderer, object? value, Arguments arguments, bool select, bool byAttribute)
    {
        var items = PyOps.Iterate(value);
        var positional = arguments.Positional;
        int offset = 0;
        object? attribute = null;
        if (byAttribute)
        {
            if (positional.Count == 0)
                throw new TemplateException("Missing parameter for attribute name") { Kind = "FilterArgumentError" };
            attribute = positional[0];
            offset = 1;
        }
        Func<object?, bool> predicate;
        if (positional.Count > offset)
        {
            string test = PyFormat.Str(positional[offset]);
            if (!TestFunctions.Exists(test))
                throw new TemplateException($"No test named {PyFormat.Repr(test)}.") { Kind = "TemplateRuntimeError" };
            var rest = new Arguments(positional.Skip(offset + 1).ToList(), arguments.Keyword);
            predicate = item => PyOps.Truthy(TestFunctions.Apply(renderer, test, item, rest));
        }
        else
            predicate = PyOps.Truthy;
        var result = new List<object?>();
        foreach (var item in items)
        {
            object? subject = byAttribute ? AttributeChain(item, attribute, null) : item;
            if (predicate(subject) == select)
                result.Add(item);
        }
        return new PyIterator(result);
    }
}
