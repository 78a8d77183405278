using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// Preallocated expert slots on the compute device: one contiguous range per slot holding all parts of one expert,
/// with a view per part. Allocated once; copies overwrite them in place, so the memory the cache uses never grows.
/// On CUDA all slots are views into ONE allocation: libtorch's allocator rounds every large tensor up to 2 MiB, which
/// cost 1.5 MiB per 16.5 MiB slot (0.25 GiB over a 6.5 GiB budget with 168 slots, measured on the H200).
/// </summary>
public sealed class SlotPool : IDisposable
{
    readonly Tensor? block;
    readonly Tensor[] storage;
    readonly Tensor[][] parts;
    readonly IntPtr[] pointers;

    public SlotPool(ExpertLayout layout, int slotCount, Device device)
    {
        if (slotCount < 0) throw new ArgumentOutOfRangeException(nameof(slotCount));
        Layout = layout;
        Device = device;
        storage = new Tensor[slotCount];
        parts = new Tensor[slotCount][];
        pointers = new IntPtr[slotCount];
        long perSlot = layout.ElementsPerExpert;
        // CPU slots stay separate tensors: they are written through their own address (TorchSharp's storage never moves)
        if (device.type != DeviceType.CPU && slotCount > 0)
            block = empty(slotCount * perSlot, dtype: layout.DType, device: device).DetachFromDisposeScope();
        for (int s = 0; s < slotCount; s++)
        {
            var slot = block is null ? empty(perSlot, dtype: layout.DType, device: device) : block.narrow(0, s * perSlot, perSlot);
            slot.DetachFromDisposeScope();
            storage[s] = slot;
            parts[s] = new Tensor[layout.Parts.Count];
            for (int p = 0; p < layout.Parts.Count; p++)
            {
                var part = layout.Parts[p];
                var view = slot.narrow(0, layout.PartElementOffsets[p], part.Elements).view(part.Shape);
                view.DetachFromDisposeScope();
                parts[s][p] = view;
            }
            // CUDA slots are written through the driver, at the address of their storage view.
            if (device.type == DeviceType.CPU) pointers[s] = AddressOf(slot);
        }
    }

    public ExpertLayout Layout { get; }
    public Device Device { get; }
    public int Count => storage.Length;
    /// <summary>Device memory the slots occupy.</summary>
    public long Bytes => Count * Layout.BytesPerExpert;
    /// <summary>The part tensors of a slot, in layout order (views; do not dispose).</summary>
    public IReadOnlyList<Tensor> Parts(int slot) => parts[slot];
    /// <summary>A view over consecutive parts of a slot (e.g. gate and up rows as one [2I, H] matrix); the caller disposes it.</summary>
    public Tensor View(int slot, int firstPart, int partCount, long[] shape)
    {
        var (start, elements) = Layout.PartRange(firstPart, partCount, shape);
        var view = storage[slot].narrow(0, start, elements).view(shape);
        view.DetachFromDisposeScope();
        return view;
    }

    /// <summary>The slot's whole storage: one contiguous 1-D tensor (the target of device copies).</summary>
    public Tensor Storage(int slot) => storage[slot];

    static unsafe IntPtr AddressOf(Tensor cpuTensor) => (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetReference(cpuTensor.bytes));
    /// <summary>The slot's bytes as a span; CPU slots only.</summary>
    public unsafe Span<byte> HostSpan(int slot)
    {
        if (Device.type != DeviceType.CPU) throw new InvalidOperationException("only CPU slots can be written through a span");
        return new Span<byte>((void*)pointers[slot], checked((int)Layout.BytesPerExpert));
    }

    public void Dispose()
    {
        foreach (var ps in parts) foreach (var p in ps) p.Dispose();
        foreach (var s in storage) s.Dispose();
        block?.Dispose();
    }
}
