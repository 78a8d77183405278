namespace Toolkit.Data.Text.Tokenization.PostProcessors;

/// <summary>Sequence: the post-processors in order.</summary>
internal sealed class SequenceProcessor(IReadOnlyList<IPostProcessor> processors) : IPostProcessor
{
    public (IReadOnlyList<int> Before, IReadOnlyList<int> After) Added
    {
        get
        {
            var before = new List<int>();
            var after = new List<int>();
            foreach (var p in processors)
            {
                before.InsertRange(0, p.Added.Before);
                after.AddRange(p.Added.After);
            }
            return (before, after);
        }
    }

    public List<int> Process(List<int> ids, bool addSpecialTokens)
    {
        foreach (var p in processors) ids = p.Process(ids, addSpecialTokens);
        return ids;
    }
}
