namespace Toolkit.Data.Text.Templates;

/// <summary>Python <c>dict</c> methods callable from templates; the mutating ones are blocked as in jinja2's immutable sandbox.</summary>
internal static class DictMethods
{
    static readonly HashSet<string> Safe = ["get", "items", "keys", "values", "copy"];

    static readonly HashSet<string> Mutating = ["clear", "pop", "popitem", "setdefault", "update"];

    public static bool Has(string name) => Safe.Contains(name);

    public static bool IsUnsafe(string name) => Mutating.Contains(name);

    public static object? Call(PyDict dict, string name, Arguments arguments)
    {
        arguments.PositionalOnly(name);
        switch (name)
        {
            case "get":
                {
                    var a = arguments.Bind("get", ["key", "default"], required: 1);
                    if (!PyDict.IsHashable(a[0]))
                        throw new TemplateException($"unhashable type: '{PyOps.TypeName(a[0])}'") { Kind = "TypeError" };
                    return dict.TryGet(a[0], out object? value) ? value : Arguments.Or(a[1], null);
                }
            case "items":
                arguments.Bind(name, []);
                return new DictView("dict_items", dict.Entries.Select(e => (object?)new PyTuple([e.Key, e.Value])).ToList());
            case "keys":
                arguments.Bind(name, []);
                return new DictView("dict_keys", dict.Keys.ToList());
            case "values":
                arguments.Bind(name, []);
                return new DictView("dict_values", dict.Values.ToList());
            default:
                arguments.Bind(name, []);
                return dict.Copy();
        }
    }
}
