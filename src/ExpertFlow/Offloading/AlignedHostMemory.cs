using Toolkit.Runtime;
using System.Runtime.InteropServices;

namespace ExpertFlow.Offloading;

/// <summary>Ordinary (pageable) host memory, 4 KiB aligned.</summary>
public sealed unsafe class AlignedHostMemory : IHostMemory
{
    public AlignedHostMemory(long bytes)
    {
        Bytes = bytes;
        try { Pointer = (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 4096); }
        catch (OutOfMemoryException)
        { throw new OutOfMemoryException($"could not allocate {MemorySize.Format(bytes)} of host memory for the expert arena; use the disk host tier or free memory."); }
    }
    public IntPtr Pointer { get; private set; }
    public long Bytes { get; }
    public bool IsPinned => false;
    public void Dispose()
    {
        if (Pointer != IntPtr.Zero) NativeMemory.AlignedFree((void*)Pointer);
        Pointer = IntPtr.Zero;
    }
}
