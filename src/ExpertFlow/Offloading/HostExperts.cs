using Microsoft.Extensions.Logging;
using Toolkit.Runtime.Cuda;
using static TorchSharp.torch;

namespace ExpertFlow.Offloading;

/// <summary>
/// The host tier of one device, built once and shareable by several runs (a benchmark sweep fills the
/// 25 GB pinned arena once): the store, its pinned memory and the device's CUDA context.
/// </summary>
public sealed class HostExperts : IDisposable
{
    HostExperts(IExpertStore store, PinnedHostBuffer? pinned, CudaContext? context, Device device)
    {
        Store = store;
        Pinned = pinned;
        Context = context;
        Device = device;
    }

    public IExpertStore Store { get; }
    public PinnedHostBuffer? Pinned { get; }
    public CudaContext? Context { get; }
    public Device Device { get; }

    /// <summary>Fills the host tier for <paramref name="device"/> (pinned arena on CUDA unless the disk tier is asked for).</summary>
    public static HostExperts Create(IExpertSource source, Device device, HostTier tier, ILogger? log = null)
    {
        bool cuda = device.type == TorchSharp.DeviceType.CUDA;
        if (!cuda && device.type != TorchSharp.DeviceType.CPU) throw new ArgumentException($"offloading supports CPU and CUDA devices, not {device}");
        // packed (quantized) experts are made once, into the arena, rather than on every read from the disk tier
        if (tier == HostTier.Auto) tier = cuda || source.Layout.DType == ScalarType.Byte ? HostTier.Arena : HostTier.Disk;
        CudaContext? context = null;
        PinnedHostBuffer? pinned = null;
        try
        {
            if (cuda) context = CudaDriver.Open().RetainPrimaryContext(device.index < 0 ? 0 : device.index);
            IExpertStore store;
            if (tier == HostTier.Disk) store = new DiskExpertStore(source);
            else if (cuda)
            {
                pinned = PinnedHostBuffer.Allocate(context!, source.Layout.TotalExpertBytes);
                store = new ArenaExpertStore(source, new BorrowedPinnedMemory(pinned), log);
            }
            else store = new ArenaExpertStore(source, new AlignedHostMemory(source.Layout.TotalExpertBytes), log);
            return new HostExperts(store, pinned, context, device);
        }
        catch
        {
            pinned?.Dispose();
            context?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Store.Dispose();
        Pinned?.Dispose();
        Context?.Dispose();
    }

    /// <summary>The driver's pinned buffer as the store's host memory (freed by <see cref="HostExperts"/>).</summary>
    sealed class BorrowedPinnedMemory(PinnedHostBuffer buffer) : IHostMemory
    {
        public IntPtr Pointer => buffer.Pointer;
        public long Bytes => buffer.Length;
        public bool IsPinned => true;
        public void Dispose() { }
    }
}
