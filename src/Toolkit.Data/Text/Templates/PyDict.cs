using System.Numerics;
using System.Runtime.CompilerServices;

namespace Toolkit.Data.Text.Templates;

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (<c>1 == 1.0 == True</c>).</summary>
internal sealed class PyDict
{
    static readonly object NoneKey = new();

    readonly List<KeyValuePair<object?, object?>> entries = [];
    readonly Dictionary<object, int> index = new(KeyComparer.Instance);

    public int Count => entries.Count;

    public IReadOnlyList<KeyValuePair<object?, object?>> Entries => entries;

    public IEnumerable<object?> Keys => entries.Select(e => e.Key);

    public IEnumerable<object?> Values => entries.Select(e => e.Value);

    public void Set(object? key, object? value)
    {
        object k = Wrap(key);
        if (index.TryGetValue(k, out int i))
            entries[i] = new(entries[i].Key, value);
        else
        {
            index[k] = entries.Count;
            entries.Add(new(key, value));
        }
    }

    public bool TryGet(object? key, out object? value)
    {
        if (IsHashable(key) && index.TryGetValue(Wrap(key), out int i))
        {
            value = entries[i].Value;
            return true;
        }
        value = null;
        return false;
    }

    public bool ContainsKey(object? key) => TryGet(key, out _);

    public PyDict Copy()
    {
        var copy = new PyDict();
        foreach (var (k, v) in entries)
            copy.Set(k, v);
        return copy;
    }

    static object Wrap(object? key)
    {
        if (!IsHashable(key))
            throw new TemplateException($"unhashable type: {PyFormat.Repr(PyOps.TypeName(key))}") { Kind = "TypeError" };
        return key ?? NoneKey;
    }

    public static bool IsHashable(object? key)
    {
        if (key is PyTuple t)
        {
            Renderer.Tick(t.Count);
            return t.Items.All(IsHashable);
        }
        return key is not (List<object?> or PyDict or TemplateNamespace or DictView or Undefined or PyRange);
    }

    sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public new bool Equals(object? x, object? y) =>
            PyOps.Equal(ReferenceEquals(x, NoneKey) ? null : x, ReferenceEquals(y, NoneKey) ? null : y);

        public int GetHashCode(object obj) => obj switch
        {
            bool b => b ? 1 : 0,
            long l => l.GetHashCode(),
            BigInteger big => big.GetHashCode(),
            double d when double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9.2e18 => ((long)d).GetHashCode(),
            double d => d.GetHashCode(),
            string s => StringComparer.Ordinal.GetHashCode(s),
            PyTuple t => HashTuple(t),
            _ => RuntimeHelpers.GetHashCode(obj),
        };

        int HashTuple(PyTuple t)
        {
            Renderer.Tick(t.Count);
            return t.Items.Aggregate(17, (h, item) => h * 31 + GetHashCode(item ?? NoneKey));
        }
    }
}
