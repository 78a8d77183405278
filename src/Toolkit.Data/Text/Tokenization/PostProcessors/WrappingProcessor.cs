namespace Toolkit.Data.Text.Tokenization.PostProcessors;

/// <summary>RobertaProcessing and BertProcessing: <c>cls $A sep</c>.</summary>
internal sealed class WrappingProcessor(int cls, int sep) : IPostProcessor
{
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Added { get; } = ([cls], [sep]);

    public List<int> Process(List<int> ids, bool addSpecialTokens)
    {
        if (!addSpecialTokens) return ids;
        var result = new List<int>(ids.Count + 2) { cls };
        result.AddRange(ids);
        result.Add(sep);
        return result;
    }

    public static WrappingProcessor Parse(JsonField block, string defaultCls, int defaultClsId, string defaultSep, int defaultSepId) =>
        new(Id(block.GetNonNull("cls"), defaultClsId), Id(block.GetNonNull("sep"), defaultSepId));

    static int Id(JsonField? pair, int fallback)
    {
        if (pair is not { } p) return fallback;
        var items = p.Items().ToList();
        if (items.Count != 2) throw p.Error("is not a [token, id] pair");
        items[0].AsString();
        return items[1].AsIndex();
    }
}
