namespace Toolkit.Data.Text.Templates;

/// <summary>The result of <c>dict.items()</c>, <c>keys()</c> or <c>values()</c>: iterable, sized, printed as <c>dict_items([...])</c>.</summary>
internal sealed class DictView(string typeName, IReadOnlyList<object?> items)
{
    public string TypeName { get; } = typeName;

    public IReadOnlyList<object?> Items { get; } = items;
}
