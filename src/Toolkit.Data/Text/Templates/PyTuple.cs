namespace Toolkit.Data.Text.Templates;

/// <summary>A Python tuple: an immutable sequence that prints with parentheses.</summary>
internal sealed class PyTuple(IReadOnlyList<object?> items)
{
    public static readonly PyTuple Empty = new([]);

    public IReadOnlyList<object?> Items { get; } = items;

    public int Count => Items.Count;

    public object? this[int index] => Items[index];
}
