using System.Numerics;

namespace Toolkit.Data.Text.Templates;

/// <summary>jinja2's builtin tests (<c>x is defined</c>, <c>x is string</c>, <c>x is divisibleby 3</c>, ...).</summary>
internal static class TestFunctions
{
    static readonly HashSet<string> Names =
    [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter", "float",
        "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt", "lessthan", "<", "mapping",
        "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    ];

    public static bool Exists(string name) => Names.Contains(name);

    public static object? Apply(Renderer renderer, string name, object? value, Arguments arguments)
    {
        object? Other(string test)
        {
            var a = arguments.Bind(test, ["other"], required: 1);
            return a[0];
        }
        switch (name)
        {
            case "defined": arguments.Bind(name, []); return value is not Undefined;
            case "undefined": arguments.Bind(name, []); return value is Undefined;
            case "none": arguments.Bind(name, []); return value is null;
            case "boolean": arguments.Bind(name, []); return value is bool;
            case "false": arguments.Bind(name, []); return value is false;
            case "true": arguments.Bind(name, []); return value is true;
            case "integer": arguments.Bind(name, []); return value is long or BigInteger;
            case "float": arguments.Bind(name, []); return value is double;
            case "number": arguments.Bind(name, []); return PyOps.IsNumber(value);
            case "string": arguments.Bind(name, []); return value is string;
            case "mapping": arguments.Bind(name, []); return value is PyDict;
            case "iterable":
                arguments.Bind(name, []);
                return value is string or List<object?> or PyTuple or PyDict or DictView or PyIterator or PyRange or Undefined;
            case "sequence":
                arguments.Bind(name, []);
                return value is string or List<object?> or PyTuple or PyDict or PyRange or Undefined;
            case "callable":
                arguments.Bind(name, []);
                return value is Macro or BuiltinFunction or BoundMethod;
            case "escaped": arguments.Bind(name, []); return false;
            case "sameas":
                {
                    object? other = Other(name);
                    if (value is null || other is null)
                        return value is null && other is null;
                    if (value is bool || other is bool)
                        return value is bool a && other is bool b && a == b;
                    if (value is long x && other is long y)
                        return x == y && x is >= -5 and <= 256;
                    return ReferenceEquals(value, other);
                }
            case "odd" or "even":
                {
                    arguments.Bind(name, []);
                    object? remainder = PyOps.Modulo(value, 2L, renderer.Limits);
                    return PyOps.Equal(remainder, name == "odd" ? 1L : 0L);
                }
            case "divisibleby":
                {
                    var a = arguments.Bind(name, ["num"], required: 1);
                    return PyOps.Equal(PyOps.Modulo(value, a[0], renderer.Limits), 0L);
                }
            case "eq" or "equalto" or "==": return PyOps.Equal(value, Other(name));
            case "ne" or "!=": return !PyOps.Equal(value, Other(name));
            case "lt" or "lessthan" or "<": return PyOps.Compare(value, Other(name), "<") < 0;
            case "le" or "<=": return PyOps.Compare(value, Other(name), "<=") <= 0;
            case "gt" or "greaterthan" or ">": return PyOps.Compare(value, Other(name), ">") > 0;
            case "ge" or ">=": return PyOps.Compare(value, Other(name), ">=") >= 0;
            case "in":
                {
                    var a = arguments.Bind(name, ["seq"], required: 1);
                    return PyOps.Contains(a[0], value);
                }
            case "lower":
                {
                    arguments.Bind(name, []);
                    string s = PyFormat.Str(value);
                    return s.Any(char.IsLower) && !s.Any(char.IsUpper);
                }
            case "upper":
                {
                    arguments.Bind(name, []);
                    string s = PyFormat.Str(value);
                    return s.Any(char.IsUpper) && !s.Any(char.IsLower);
                }
            case "filter": arguments.Bind(name, []); return value is string f && Filters.Exists(f);
            case "test": arguments.Bind(name, []); return value is string t && Exists(t);
        }
        throw new TemplateException($"No test named '{name}'.") { Kind = "TemplateRuntimeError" };
    }
}
