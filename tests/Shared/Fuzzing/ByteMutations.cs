using System.Buffers.Binary;
using CsCheck;

namespace Fuzzing;

/// <summary>
/// Generators of damaged binary files: bit flips, byte overwrites, truncations, insertions, deletions, duplicated
/// ranges and little-endian integers overwritten with absurd values (length and count fields), one to three at a time.
/// <c>hotSpots</c> are offsets of structure (length prefixes, headers) that get half of the positioned mutations.
/// </summary>
public static class ByteMutations
{
    /// <summary>Values that break length and count fields: zero, one, just past the file, sign bits, the type limits.</summary>
    static readonly ulong[] Absurd =
        [0, 1, 2, 7, 8, 255, 256, 65535, 65536, int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue, (ulong)uint.MaxValue + 1,
         1UL << 40, long.MaxValue, (ulong)long.MaxValue + 1, ulong.MaxValue];

    static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, (byte)'{', (byte)'}', (byte)'"', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)'-', (byte)'9'];

    public static Gen<Mutant> Of(byte[] original, params int[] hotSpots) =>
        Gen.Int[1, 3].SelectMany(count => One(original.Length, hotSpots).Array[count]).Select(steps =>
        {
            byte[] bytes = original;
            var names = new List<string>();
            foreach (var step in steps)
            {
                bytes = step.Apply(bytes);
                names.Add(step.Name);
            }
            return new Mutant(string.Join(", then ", names), bytes);
        });

    sealed record Step(string Name, Func<byte[], byte[]> Apply);

    static Gen<int> Position(int length, int[] hotSpots)
    {
        var anywhere = Gen.Int[0, Math.Max(0, length - 1)];
        if (hotSpots.Length == 0) return anywhere;
        var near = Gen.Select(Gen.Int[0, hotSpots.Length - 1], Gen.Int[-2, 9], (i, d) => Math.Clamp(hotSpots[i] + d, 0, Math.Max(0, length - 1)));
        return Gen.Frequency((1, anywhere), (1, near));
    }

    static Gen<Step> One(int length, int[] hotSpots)
    {
        var position = Position(length, hotSpots);
        var flip = Gen.Select(position, Gen.Int[0, 7], (p, b) => new Step($"flip bit {b} of byte {p}", x => Edit(x, p, y => y[p] ^= (byte)(1 << b))));
        var set = Gen.Select(position, Gen.Frequency((1, Gen.Byte), (1, Gen.OneOf(Interesting))),
            (p, v) => new Step($"set byte {p} to 0x{v:X2}", x => Edit(x, p, y => y[p] = v)));
        var truncate = Gen.Frequency((3, Gen.Int[0, Math.Max(0, length - 1)]), (1, Gen.Int[Math.Max(0, length - 16), Math.Max(0, length - 1)]))
            .Select(n => new Step($"truncate to {n} bytes", x => x[..Math.Min(n, x.Length)]));
        var insert = Gen.Select(position, Gen.Byte.Array[1, 16], (p, v) => new Step($"insert {v.Length} bytes at {p}", x => [.. x[..Math.Min(p, x.Length)], .. v, .. x[Math.Min(p, x.Length)..]]));
        var delete = Gen.Select(position, Gen.Int[1, 64], (p, n) => new Step($"delete {n} bytes at {p}", x =>
        {
            int s = Math.Min(p, x.Length), e = Math.Min(x.Length, s + n);
            return [.. x[..s], .. x[e..]];
        }));
        var duplicate = Gen.Select(position, Gen.Int[1, 64], (p, n) => new Step($"duplicate {n} bytes at {p}", x =>
        {
            int s = Math.Min(p, x.Length), e = Math.Min(x.Length, s + n);
            return [.. x[..e], .. x[s..e], .. x[e..]];
        }));
        var integer = Gen.Select(position, Gen.OneOf(Absurd), Gen.OneOf(2, 4, 8), (p, v, w) => new Step($"write {w}-byte integer {v} at {p}", x =>
        {
            if (p + w > x.Length) return x;
            var y = (byte[])x.Clone();
            if (w == 8) BinaryPrimitives.WriteUInt64LittleEndian(y.AsSpan(p), v);
            else if (w == 4) BinaryPrimitives.WriteUInt32LittleEndian(y.AsSpan(p), (uint)v);
            else BinaryPrimitives.WriteUInt16LittleEndian(y.AsSpan(p), (ushort)v);
            return y;
        }));
        return Gen.Frequency((3, flip), (3, set), (1, truncate), (1, insert), (1, delete), (1, duplicate), (2, integer));
    }

    static byte[] Edit(byte[] x, int p, Action<byte[]> edit)
    {
        if (p >= x.Length) return x;
        var y = (byte[])x.Clone();
        edit(y);
        return y;
    }
}
