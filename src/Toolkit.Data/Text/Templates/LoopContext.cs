namespace Toolkit.Data.Text.Templates;

/// <summary>The <c>loop</c> variable of a for loop: index, index0, revindex, first, last, length, previtem, nextitem, cycle, changed, depth.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items)
{
    readonly IReadOnlyList<object?> items = items;
    object? lastChanged = Arguments.Missing;

    public int Index0 { get; set; }

    public int Length => items.Count;

    public bool TryGetAttribute(string name, out object? value)
    {
        value = name switch
        {
            "index" => (long)Index0 + 1,
            "index0" => (long)Index0,
            "revindex" => (long)(Length - Index0),
            "revindex0" => (long)(Length - Index0 - 1),
            "first" => Index0 == 0,
            "last" => Index0 == Length - 1,
            "length" => (long)Length,
            "depth" => 1L,
            "depth0" => 0L,
            "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.WithHint("there is no previous item"),
            "nextitem" => Index0 < Length - 1 ? items[Index0 + 1] : Undefined.WithHint("there is no next item"),
            "cycle" or "changed" => new BoundMethod(this, name),
            _ => Arguments.Missing,
        };
        if (Arguments.IsMissing(value))
        {
            value = null;
            return false;
        }
        return true;
    }

    public object? Call(string method, Arguments arguments)
    {
        var values = arguments.PositionalOnly(method).Positional;
        if (method == "cycle")
        {
            if (values.Count == 0)
                throw new TemplateException("no items for cycling given") { Kind = "TypeError" };
            return values[Index0 % values.Count];
        }
        object? current = values.Count == 1 ? values[0] : new PyTuple([.. values]);
        if (!Arguments.IsMissing(lastChanged) && PyOps.Equal(lastChanged, current))
            return false;
        lastChanged = current;
        return true;
    }
}
