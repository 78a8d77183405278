using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>Python <c>str</c> methods callable from templates (<c>content.strip()</c>, <c>name.split('.')</c>, ...).</summary>
internal static class StringMethods
{
    static readonly HashSet<string> Supported =
    [
        "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha", "isascii",
        "isdecimal", "isdigit", "expandtabs", "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
        "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip",
        "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill",
    ];

    static readonly HashSet<string> Unsupported = ["encode", "format_map", "isidentifier", "isprintable", "maketrans", "translate"];

    public static bool Has(string name) => Supported.Contains(name) || Unsupported.Contains(name);

    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    static string? OptionalString(object? value, string function, string what)
    {
        if (Arguments.IsMissing(value) || value is null)
            return null;
        return value as string ?? throw TypeError($"{function} {what} must be None or str, not {PyOps.TypeName(value)}");
    }

    static string RequiredString(object? value, string function, int position) =>
        value as string ?? throw TypeError($"{function}() argument {position} must be str, not {PyOps.TypeName(value)}");

    static long Integer(object? value, long fallback, string function)
    {
        if (Arguments.IsMissing(value))
            return fallback;
        return PyOps.IsInt(value) ? (long)PyOps.ToBig(value) : throw TypeError($"'{PyOps.TypeName(value)}' object cannot be interpreted as an integer");
    }

    public static object? Call(Renderer renderer, string s, string name, Arguments arguments)
    {
        if (Unsupported.Contains(name))
            throw new TemplateException($"str.{name}() is not supported") { Kind = "TemplateSyntaxError" };
        switch (name)
        {
            case "strip" or "lstrip" or "rstrip":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["chars"]);
                    string? chars = OptionalString(a[0], name, "arg");
                    return name == "strip" ? PyString.Strip(s, chars) : name == "lstrip" ? PyString.LStrip(s, chars) : PyString.RStrip(s, chars);
                }
            case "split" or "rsplit":
                {
                    var a = arguments.Bind(name, ["sep", "maxsplit"]);
                    string? sep = OptionalString(a[0], "", "must be str or None, not");
                    long max = Integer(a[1], -1, name);
                    return name == "split" ? PyString.Split(s, sep, max) : PyString.RSplit(s, sep, max);
                }
            case "splitlines":
                {
                    var a = arguments.Bind(name, ["keepends"]);
                    return PyString.SplitLines(s, PyOps.Truthy(Arguments.Or(a[0], false))).Cast<object?>().ToList();
                }
            case "startswith" or "endswith":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["prefix", "start", "end"], required: 1);
                    string target = SliceOf(s, a[1], a[2]);
                    IEnumerable<object?> candidates = a[0] is PyTuple t ? t.Items : [a[0]];
                    foreach (var candidate in candidates)
                    {
                        if (candidate is not string text)
                            throw TypeError(a[0] is PyTuple
                                ? $"tuple for {name} must only contain str, not {PyOps.TypeName(candidate)}"
                                : $"{name} first arg must be str or a tuple of str, not {PyOps.TypeName(candidate)}");
                        if (name == "startswith" ? target.StartsWith(text, StringComparison.Ordinal) : target.EndsWith(text, StringComparison.Ordinal))
                            return true;
                    }
                    return false;
                }
            case "replace":
                {
                    var a = arguments.Bind(name, ["old", "new", "count"], required: 2);
                    string result = PyString.Replace(s, RequiredString(a[0], name, 1), RequiredString(a[1], name, 2), Integer(a[2], -1, name));
                    if (result.Length > renderer.Limits.MaxOutputLength)
                        throw new TemplateException("value too large") { Kind = "MemoryError" };
                    return result;
                }
            case "upper": arguments.PositionalOnly(name).Bind(name, []); return PyString.Upper(s);
            case "lower" or "casefold": arguments.PositionalOnly(name).Bind(name, []); return PyString.Lower(s);
            case "title": arguments.PositionalOnly(name).Bind(name, []); return PyString.Title(s);
            case "capitalize": arguments.PositionalOnly(name).Bind(name, []); return PyString.Capitalize(s);
            case "swapcase": arguments.PositionalOnly(name).Bind(name, []); return PyString.SwapCase(s);
            case "find" or "rfind" or "index" or "rindex" or "count":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["sub", "start", "end"], required: 1);
                    string sub = a[0] as string ?? throw TypeError($"must be str, not {PyOps.TypeName(a[0])}");
                    int offset = StartOffset(s, a[1]);
                    string target = SliceOf(s, a[1], a[2]);
                    if (name == "count")
                        return (long)PyString.Count(target, sub);
                    int at = name is "find" or "index" ? target.IndexOf(sub, StringComparison.Ordinal) : target.LastIndexOf(sub, StringComparison.Ordinal);
                    if (sub.Length == 0)
                        at = name is "find" or "index" ? 0 : target.Length;
                    if (at < 0)
                    {
                        if (name is "index" or "rindex")
                            throw new TemplateException("substring not found") { Kind = "ValueError" };
                        return -1L;
                    }
                    return (long)(offset + PyString.CodePointIndex(target, at));
                }
            case "join":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["iterable"], required: 1);
                    var items = PyOps.Iterate(a[0]);
                    var sb = new StringBuilder();
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (items[i] is not string item)
                            throw TypeError($"sequence item {i}: expected str instance, {PyOps.TypeName(items[i])} found");
                        if (i > 0)
                            sb.Append(s);
                        sb.Append(item);
                        if (sb.Length > renderer.Limits.MaxOutputLength)
                            throw new TemplateException("value too large") { Kind = "MemoryError" };
                    }
                    return sb.ToString();
                }
            case "center" or "ljust" or "rjust":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["width", "fillchar"], required: 1);
                    long width = Integer(a[0], 0, name);
                    if (width > renderer.Limits.MaxOutputLength)
                        throw new TemplateException("value too large") { Kind = "MemoryError" };
                    string fill = Arguments.IsMissing(a[1]) ? " " : a[1] as string ?? throw TypeError("The fill character must be a unicode character");
                    if (PyString.Length(fill) != 1)
                        throw TypeError("The fill character must be exactly one character long");
                    int pad = (int)width - PyString.Length(s);
                    if (pad <= 0)
                        return s;
                    return name == "center" ? PyString.Center(s, (int)width, fill)
                        : name == "ljust" ? s + string.Concat(Enumerable.Repeat(fill, pad))
                        : string.Concat(Enumerable.Repeat(fill, pad)) + s;
                }
            case "zfill":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["width"], required: 1);
                    long width = Integer(a[0], 0, name);
                    if (width > renderer.Limits.MaxOutputLength)
                        throw new TemplateException("value too large") { Kind = "MemoryError" };
                    int pad = (int)width - PyString.Length(s);
                    if (pad <= 0)
                        return s;
                    int sign = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
                    return s[..sign] + new string('0', pad) + s[sign..];
                }
            case "partition" or "rpartition":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["sep"], required: 1);
                    string sep = a[0] as string ?? throw TypeError($"must be str, not {PyOps.TypeName(a[0])}");
                    if (sep.Length == 0)
                        throw new TemplateException("empty separator") { Kind = "ValueError" };
                    int at = name == "partition" ? s.IndexOf(sep, StringComparison.Ordinal) : s.LastIndexOf(sep, StringComparison.Ordinal);
                    if (at < 0)
                        return name == "partition" ? new PyTuple([s, "", ""]) : new PyTuple(["", "", s]);
                    return new PyTuple([s[..at], sep, s[(at + sep.Length)..]]);
                }
            case "removeprefix" or "removesuffix":
                {
                    var a = arguments.PositionalOnly(name).Bind(name, ["affix"], required: 1);
                    string affix = RequiredString(a[0], name, 1);
                    if (name == "removeprefix")
                        return s.StartsWith(affix, StringComparison.Ordinal) ? s[affix.Length..] : s;
                    return affix.Length > 0 && s.EndsWith(affix, StringComparison.Ordinal) ? s[..^affix.Length] : s;
                }
            case "isalnum": return PyString.All(s, r => System.Text.Rune.IsLetterOrDigit(r));
            case "isalpha": return PyString.All(s, System.Text.Rune.IsLetter);
            case "isascii": return s.All(c => c < 128);
            case "isdecimal" or "isdigit" or "isnumeric": return PyString.All(s, System.Text.Rune.IsDigit);
            case "isspace": return s.Length > 0 && s.All(PyString.IsSpace);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper) && s.Any(char.IsLower);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower) && s.Any(char.IsUpper);
            case "istitle": return s.Length > 0 && PyString.Title(s) == s && s.Any(char.IsLetter);
            case "format":
                return StrFormat.Format(renderer, s, arguments);
            case "expandtabs":
                {
                    var a = arguments.Bind(name, ["tabsize"]);
                    long size = Integer(a[0], 8, name);
                    var sb = new StringBuilder();
                    int column = 0;
                    foreach (char c in s)
                    {
                        if (c == '\t')
                        {
                            if (size > 0)
                            {
                                if (sb.Length + size > renderer.Limits.MaxOutputLength)
                                    throw new TemplateException("value too large") { Kind = "MemoryError" };
                                int spaces = (int)(size - column % size);
                                sb.Append(' ', spaces);
                                column += spaces;
                            }
                        }
                        else
                        {
                            sb.Append(c);
                            column = c is '\n' or '\r' ? 0 : column + 1;
                        }
                        if (sb.Length > renderer.Limits.MaxOutputLength)
                            throw new TemplateException("value too large") { Kind = "MemoryError" };
                    }
                    return sb.ToString();
                }
        }
        throw new TemplateException($"str.{name}() is not supported") { Kind = "TemplateSyntaxError" };
    }

    static int StartOffset(string s, object? start)
    {
        if (Arguments.IsMissing(start) || start is null)
            return 0;
        int length = PyString.Length(s);
        long i = (long)PyOps.ToBig(start);
        if (i < 0)
            i = Math.Max(0, i + length);
        return (int)Math.Min(i, length);
    }

    static string SliceOf(string s, object? start, object? end)
    {
        if ((Arguments.IsMissing(start) || start is null) && (Arguments.IsMissing(end) || end is null))
            return s;
        object? Clean(object? v) => Arguments.IsMissing(v) ? null : v;
        return PyString.Slice(s, PyOps.SliceIndices(PyString.Length(s), Clean(start), Clean(end), null).ToList());
    }
}
