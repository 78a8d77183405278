namespace Toolkit.Runtime.Cuda;

/// <summary>Page-locked host memory the GPU can read and write directly (what async copies need to overlap).</summary>
public interface IPinnedHostMemory
{
    /// <summary>Start address.</summary>
    IntPtr Pointer { get; }

    /// <summary>Length in bytes.</summary>
    long Length { get; }
}

/// <summary>
/// Page-locked host memory allocated by the driver (cuMemHostAlloc, portable: usable from every context).
/// Allocation is slow (the OS pins pages): allocate once and reuse. Dispose frees it; do so only after the
/// copies that use it have completed.
/// </summary>
public sealed unsafe class PinnedHostBuffer : IPinnedHostMemory, IDisposable
{
    IntPtr pointer;

    /// <summary>The context it was allocated in.</summary>
    public CudaContext Context { get; }

    /// <inheritdoc/>
    public IntPtr Pointer => pointer != IntPtr.Zero ? pointer : throw new ObjectDisposedException(nameof(PinnedHostBuffer));

    /// <inheritdoc/>
    public long Length { get; }

    PinnedHostBuffer(CudaContext context, IntPtr pointer, long length) => (Context, this.pointer, Length) = (context, pointer, length);

    /// <summary>Allocates <paramref name="bytes"/> of pinned host memory (contents undefined).</summary>
    public static PinnedHostBuffer Allocate(CudaContext context, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuMemHostAlloc(out IntPtr p, (nuint)bytes, NativeMethods.CU_MEMHOSTALLOC_PORTABLE), "cuMemHostAlloc", $"{bytes} bytes");
        return new PinnedHostBuffer(context, p, bytes);
    }

    /// <summary>The whole buffer as a span (only when it is shorter than 2 GiB; otherwise use the ranged overload).</summary>
    public Span<byte> AsSpan() => Length <= int.MaxValue
        ? new Span<byte>((void*)Pointer, (int)Length)
        : throw new InvalidOperationException($"This pinned buffer holds {Length} bytes, more than a Span can address: use AsSpan(offset, length).");

    /// <summary>A range of the buffer as a span.</summary>
    public Span<byte> AsSpan(long offset, int length)
    {
        TensorMemory.CheckHostRange(Length, offset, length, "buffer");
        return new Span<byte>((byte*)Pointer + offset, length);
    }

    public void Dispose()
    {
        if (pointer == IntPtr.Zero) return;
        IntPtr p = pointer;
        pointer = IntPtr.Zero;
        Context.MakeCurrent();
        CudaErrors.CheckRelease(NativeMethods.cuMemFreeHost(p), "cuMemFreeHost");
    }
}

/// <summary>
/// Existing host memory (for example a memory-mapped checkpoint region) page-locked and registered with
/// the driver (cuMemHostRegister, portable), so async copies from it overlap compute. The memory stays
/// owned by the caller: keep it mapped until this registration is disposed (which unregisters it).
/// Registering costs time proportional to the size (the OS pins each page); do it once, up front.
/// </summary>
public sealed class HostRegistration : IPinnedHostMemory, IDisposable
{
    IntPtr pointer;

    /// <summary>The context it was registered in.</summary>
    public CudaContext Context { get; }

    /// <inheritdoc/>
    public IntPtr Pointer => pointer != IntPtr.Zero ? pointer : throw new ObjectDisposedException(nameof(HostRegistration));

    /// <inheritdoc/>
    public long Length { get; }

    HostRegistration(CudaContext context, IntPtr pointer, long length) => (Context, this.pointer, Length) = (context, pointer, length);

    /// <summary>
    /// Registers [<paramref name="pointer"/>, +<paramref name="bytes"/>). <paramref name="readOnly"/> asks for
    /// CU_MEMHOSTREGISTER_READ_ONLY, which read-only mappings (e.g. a file mapped for reading) need.
    /// </summary>
    public static HostRegistration Register(CudaContext context, IntPtr pointer, long bytes, bool readOnly = false)
    {
        if (pointer == IntPtr.Zero) throw new ArgumentException("Cannot register a null pointer.", nameof(pointer));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        context.MakeCurrent();
        uint flags = NativeMethods.CU_MEMHOSTREGISTER_PORTABLE | (readOnly ? NativeMethods.CU_MEMHOSTREGISTER_READ_ONLY : 0);
        CudaErrors.Check(NativeMethods.cuMemHostRegister_v2(pointer, (nuint)bytes, flags), "cuMemHostRegister_v2", $"{bytes} bytes at 0x{pointer:x}");
        return new HostRegistration(context, pointer, bytes);
    }

    public void Dispose()
    {
        if (pointer == IntPtr.Zero) return;
        IntPtr p = pointer;
        pointer = IntPtr.Zero;
        Context.MakeCurrent();
        CudaErrors.CheckRelease(NativeMethods.cuMemHostUnregister(p), "cuMemHostUnregister");
    }
}

/// <summary>
/// Raw device memory from the driver (cuMemAlloc), outside TorchSharp's caching allocator. Used where no
/// tensor is involved (bandwidth measurement); model weights belong in TorchSharp tensors.
/// </summary>
public sealed class CudaDeviceBuffer : IDisposable
{
    ulong address;

    /// <summary>The context it was allocated in.</summary>
    public CudaContext Context { get; }

    /// <summary>Device address (CUdeviceptr).</summary>
    public ulong Address => address != 0 ? address : throw new ObjectDisposedException(nameof(CudaDeviceBuffer));

    /// <summary>Length in bytes.</summary>
    public long Length { get; }

    CudaDeviceBuffer(CudaContext context, ulong address, long length) => (Context, this.address, Length) = (context, address, length);

    /// <summary>Allocates <paramref name="bytes"/> of device memory (contents undefined).</summary>
    public static CudaDeviceBuffer Allocate(CudaContext context, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        context.MakeCurrent();
        CudaErrors.Check(NativeMethods.cuMemAlloc_v2(out ulong a, (nuint)bytes), "cuMemAlloc_v2", $"{bytes} bytes on cuda:{context.DeviceIndex}");
        return new CudaDeviceBuffer(context, a, bytes);
    }

    public void Dispose()
    {
        if (address == 0) return;
        ulong a = address;
        address = 0;
        Context.MakeCurrent();
        CudaErrors.CheckRelease(NativeMethods.cuMemFree_v2(a), "cuMemFree_v2");
    }
}
