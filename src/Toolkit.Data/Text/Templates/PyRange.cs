using System.Numerics;

namespace Toolkit.Data.Text.Templates;

/// <summary>Python's <c>range</c>: a lazy integer sequence printed as <c>range(start, stop[, step])</c>.</summary>
internal sealed class PyRange
{
    public PyRange(BigInteger start, BigInteger stop, BigInteger step)
    {
        Start = start;
        Stop = stop;
        Step = step;
        BigInteger length = step > 0
            ? (stop > start ? (stop - start + step - 1) / step : 0)
            : (start > stop ? (start - stop - step - 1) / -step : 0);
        Count = length > int.MaxValue ? int.MaxValue : (int)length;
    }

    public BigInteger Start { get; }

    public BigInteger Stop { get; }

    public BigInteger Step { get; }

    public int Count { get; }

    public object this[int index] => PyOps.Normalize(Start + Step * index);

    public IReadOnlyList<object?> Items()
    {
        var list = new List<object?>(Count);
        for (int i = 0; i < Count; i++)
            list.Add(this[i]);
        return list;
    }

    /// <summary><c>range[start:stop:step]</c> is again a range.</summary>
    public PyRange Slice(object? start, object? stop, object? step)
    {
        var (begin, end, sliceStep) = PyOps.SliceBounds(Count, start, stop, step);
        return new PyRange(Start + Step * begin, Start + Step * end, Step * sliceStep);
    }

    public override string ToString() => Step == 1 ? $"range({Start}, {Stop})" : $"range({Start}, {Stop}, {Step})";
}
