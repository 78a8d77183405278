namespace Toolkit.Data.Text.Templates;

/// <summary>
/// A Python iterator or generator (what <c>map</c>, <c>select</c>, <c>reverse</c> and similar filters return):
/// always true, has no length, and is consumed by iteration. The items are computed eagerly.
/// </summary>
internal sealed class PyIterator(IReadOnlyList<object?> items, string typeName = "generator")
{
    int position;

    public string TypeName { get; } = typeName;

    /// <summary>The items not yet consumed; iterating consumes them, as a Python iterator would.</summary>
    public IReadOnlyList<object?> Take()
    {
        if (position == 0)
        {
            position = items.Count;
            return items;
        }
        var rest = new List<object?>();
        for (; position < items.Count; position++)
            rest.Add(items[position]);
        return rest;
    }
}
