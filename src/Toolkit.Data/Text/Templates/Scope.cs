namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Variables visible at a point of a render. Each for-loop iteration, macro call, with block and set block gets a
/// child scope, so <c>{% set %}</c> inside them does not leak out (jinja2's scoping); lookups walk outwards.
/// </summary>
internal sealed class Scope(Scope? parent, IReadOnlyDictionary<string, object?>? fallback = null)
{
    readonly Dictionary<string, object?> variables = [];

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope.variables.TryGetValue(name, out value))
                return true;
            if (scope.fallback is not null && scope.fallback.TryGetValue(name, out value))
                return true;
        }
        value = null;
        return false;
    }

    readonly IReadOnlyDictionary<string, object?>? fallback = fallback;

    public void Set(string name, object? value) => variables[name] = value;
}
