namespace Toolkit.Data.Text.Templates;

/// <summary>Python <c>list</c>/<c>tuple</c> methods callable from templates; the mutating ones are blocked as in jinja2's immutable sandbox.</summary>
internal static class ListMethods
{
    static readonly HashSet<string> Mutating = ["append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"];

    public static bool Has(string name) => name is "index" or "count" or "copy";

    public static bool IsUnsafe(string name) => Mutating.Contains(name);

    public static object? Call(object? target, string name, Arguments arguments)
    {
        var items = target is PyTuple t ? t.Items : (List<object?>)target!;
        arguments.PositionalOnly(name);
        switch (name)
        {
            case "count":
                {
                    var a = arguments.Bind("count", ["value"], required: 1);
                    return (long)items.Count(x => PyOps.Equal(x, a[0]));
                }
            case "index":
                {
                    var a = arguments.Bind("index", ["value", "start", "stop"], required: 1);
                    var indices = PyOps.SliceIndices(items.Count, Arguments.Or(a[1], null), Arguments.Or(a[2], null), null);
                    foreach (int i in indices)
                        if (PyOps.Equal(items[i], a[0]))
                            return (long)i;
                    throw new TemplateException(target is PyTuple ? "tuple.index(x): x not in tuple" : $"{PyFormat.Repr(a[0])} is not in list") { Kind = "ValueError" };
                }
            case "copy" when target is List<object?> list:
                arguments.Bind("copy", []);
                return new List<object?>(list);
        }
        throw new TemplateException($"'{PyOps.TypeName(target)}' object has no attribute '{name}'") { Kind = "AttributeError" };
    }
}
