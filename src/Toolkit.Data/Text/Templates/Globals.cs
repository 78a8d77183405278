using System.Numerics;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// The global functions a chat template sees: jinja2's <c>range</c>, <c>dict</c>, <c>namespace</c>, <c>joiner</c>
/// and transformers' <c>raise_exception</c> and <c>strftime_now</c>.
/// </summary>
internal static class Globals
{
    public static IReadOnlyDictionary<string, object?> Table { get; } = new Dictionary<string, object?>
    {
        ["range"] = new BuiltinFunction("range", Range),
        ["dict"] = new BuiltinFunction("dict", Dict),
        ["namespace"] = new BuiltinFunction("namespace", Namespace),
        ["joiner"] = new BuiltinFunction("joiner", Joiner),
        ["raise_exception"] = new BuiltinFunction("raise_exception", RaiseException),
        ["strftime_now"] = new BuiltinFunction("strftime_now", StrftimeNow),
    };

    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    static object? Range(Renderer renderer, Arguments arguments)
    {
        var values = arguments.PositionalOnly("range").Positional;
        if (values.Count is 0 or > 3)
            throw TypeError(values.Count == 0 ? "range expected at least 1 argument, got 0" : $"range expected at most 3 arguments, got {values.Count}");
        foreach (var v in values)
            if (!PyOps.IsInt(v))
                throw TypeError($"'{PyOps.TypeName(v)}' object cannot be interpreted as an integer");
        BigInteger start = 0, stop, step = 1;
        if (values.Count == 1)
            stop = PyOps.ToBig(values[0]);
        else
        {
            start = PyOps.ToBig(values[0]);
            stop = PyOps.ToBig(values[1]);
            if (values.Count == 3)
                step = PyOps.ToBig(values[2]);
        }
        if (step.IsZero)
            throw new TemplateException("range() arg 3 must not be zero") { Kind = "ValueError" };
        var range = new PyRange(start, stop, step);
        if (range.Count > renderer.Limits.MaxRange)
            throw new TemplateException($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({renderer.Limits.MaxRange}).") { Kind = "OverflowError" };
        return range;
    }

    static object? Dict(Renderer renderer, Arguments arguments)
    {
        var dict = new PyDict();
        if (arguments.Positional.Count > 1)
            throw TypeError($"dict expected at most 1 argument, got {arguments.Positional.Count}");
        if (arguments.Positional.Count == 1)
        {
            if (arguments.Positional[0] is PyDict source)
                foreach (var (k, v) in source.Entries)
                    dict.Set(k, v);
            else
                foreach (var pair in PyOps.Iterate(arguments.Positional[0]))
                {
                    var items = PyOps.Iterate(pair);
                    if (items.Count != 2)
                        throw new TemplateException($"dictionary update sequence element has length {items.Count}; 2 is required") { Kind = "ValueError" };
                    dict.Set(items[0], items[1]);
                }
        }
        foreach (var (k, v) in arguments.Keyword)
            dict.Set(k, v);
        return dict;
    }

    static object? Namespace(Renderer renderer, Arguments arguments)
    {
        var ns = new TemplateNamespace();
        var fromDict = (PyDict?)Dict(renderer, arguments);
        foreach (var (k, v) in fromDict!.Entries)
            ns.Attributes.Set(k, v);
        return ns;
    }

    static object? Joiner(Renderer renderer, Arguments arguments)
    {
        var bound = arguments.Bind("joiner", ["sep"]);
        string separator = Arguments.IsMissing(bound[0]) ? ", " : PyFormat.Str(bound[0]);
        bool used = false;
        return new BuiltinFunction("joiner", (_, _) =>
        {
            if (!used)
            {
                used = true;
                return "";
            }
            return separator;
        });
    }

    static object? RaiseException(Renderer renderer, Arguments arguments)
    {
        var bound = arguments.Bind("raise_exception", ["message"], required: 1);
        throw new TemplateException(PyFormat.Str(bound[0])) { RaisedByTemplate = true, Kind = "TemplateError" };
    }

    static object? StrftimeNow(Renderer renderer, Arguments arguments)
    {
        var bound = arguments.Bind("strftime_now", ["format"], required: 1);
        if (bound[0] is not string format)
            throw TypeError($"strftime() argument 1 must be str, not {PyOps.TypeName(bound[0])}");
        var now = renderer.Now ?? DateTimeOffset.Now;
        return Strftime.Format(now.DateTime, format);
    }
}
