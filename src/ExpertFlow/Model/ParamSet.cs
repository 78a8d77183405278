using static TorchSharp.torch;

namespace ExpertFlow.Model;

/// <summary>The weights a model declared, in declaration order; materialises them all at once.</summary>
internal sealed class ParamSet
{
    readonly List<Param> all = [];
    public IReadOnlyList<Param> All => all;

    public Param Declare(string name, params long[] shape)
    {
        var p = new Param(name, shape);
        all.Add(p);
        return p;
    }

    /// <summary>Declares a weight only if the source has it (optional biases).</summary>
    public Param? Optional(IWeightSource source, string name, params long[] shape) =>
        source.Contains(name) ? Declare(name, shape) : null;

    /// <summary>
    /// Stores these weights as one tensor, their concatenation along dim 0 (one matmul instead of several). The fused
    /// tensor is allocated once and each piece is loaded straight into its rows, so loading never holds a weight twice
    /// on the device: fusing after loading left the freed pieces reserved in CUDA's caching allocator (1.7 GiB for
    /// Qwen1.5-MoE), which the memory budget does not see and TorchSharp cannot release.
    /// </summary>
    public void Fuse(params Param[] members)
    {
        if (members.Length < 2) return;
        for (int i = 1; i < members.Length; i++)
            if (all.IndexOf(members[i]) < all.IndexOf(members[i - 1]))
                throw new InvalidOperationException($"Fuse {members[i - 1].Name} and {members[i].Name} in declaration order (the first member allocates the fused tensor).");
        foreach (var m in members)
        {
            if (m.Group != null) throw new InvalidOperationException($"{m.Name} is already in a fused group.");
            if (!m.Shape.AsSpan(1).SequenceEqual(members[0].Shape.AsSpan(1)))
                throw new InvalidOperationException($"Cannot fuse {m.Name} [{string.Join(", ", m.Shape)}] with {members[0].Name} [{string.Join(", ", members[0].Shape)}]: trailing dimensions differ.");
            m.Group = members;
        }
    }

    /// <summary>Checks every shape first (so that a bad file fails before any allocation), then loads in declaration order.</summary>
    public void Materialise(IWeightSource source, Device device, ScalarType dtype)
    {
        foreach (var p in all) source.Check(p.Name, p.Shape);
        foreach (var p in all)
        {
            var old = p.Value;
            if (p.Group is not { } group)
                p.Value = source.Load(p.Name, p.Shape, device, dtype).DetachFromDisposeScope();
            else
            {
                // The first member allocates the fused tensor; later members (declared after it) find it there.
                var fused = p == group[0]
                    ? empty([group.Sum(m => m.Shape[0]), .. p.Shape.Skip(1)], dtype, device).DetachFromDisposeScope()
                    : group[0].Value;
                long row = group.TakeWhile(m => m != p).Sum(m => m.Shape[0]);
                // Dispose the view too: an undisposed view keeps the fused storage alive after the model is disposed.
                using (var rows = fused.narrow(0, row, p.Shape[0]))
                    source.LoadInto(p.Name, p.Shape, rows);
                p.Value = fused;
            }
            old.Dispose();
        }
    }

    public long Bytes => all.Select(p => p.Value).Distinct().Sum(v => v.NumberOfElements * v.ElementSize);
}
