using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Toolkit.Runtime.Cuda;

/// <summary>
/// Captures the libtorch work this thread issues into a CUDA graph and replays it with one launch, as
/// torch.cuda.graph does. TorchSharp 0.107 exposes neither CUDA streams nor graphs, so this reaches libtorch's
/// own C++ API by its mangled names (see <see cref="TorchCudaNative"/>): at::cuda::CUDAGraph, whose capture
/// routes every allocation made during capture to a private memory pool that stays reserved for the graph (so
/// nothing outside can reuse an address the graph writes), and c10::cuda's current-stream functions, because a
/// graph must be captured on a stream other than the default one.
/// </summary>
/// <remarks>
/// Rules for the captured work, as for any CUDA graph: no host synchronisation (no .cpu(), .item(), data()), no
/// shapes or control flow that depend on tensor values, inputs read from tensors allocated before the capture
/// (replay reads whatever they hold then), outputs written to tensors that outlive the graph's replays. A failure
/// inside libtorch's C++ code called from here cannot be turned into a .NET exception (C++ exceptions do not cross
/// P/Invoke), so the preconditions libtorch checks are checked here first.
/// </remarks>
public sealed unsafe class TorchCudaGraph : IDisposable
{
    // at::cuda::CUDAGraph is a C++ object of a size that varies between releases: reserve far more than it needs
    const int ObjectBytes = 64 * 1024;
    IntPtr self;
    bool captured;

    TorchCudaGraph(IntPtr self) => this.self = self;

    /// <summary>True when the loaded libtorch has CUDA and exports what capture needs; otherwise why not.</summary>
    public static bool IsAvailable([NotNullWhen(false)] out string? reason) => TorchCudaNative.TryResolve(out reason);

    /// <summary>Whether graphs can share one memory pool here (see <see cref="Capture"/>'s sharePoolWith).</summary>
    public static bool CanSharePools => TorchCudaNative.CanSharePools;

    /// <summary>
    /// Runs <paramref name="warmUp"/> eagerly, then captures <paramref name="capture"/>, both on a side stream from
    /// libtorch's pool (libraries such as cuBLAS create per-stream workspaces on first use, which must not happen
    /// during capture). The device is synchronised before and after; the current stream is restored.
    /// </summary>
    /// <param name="warmUp">Eager run before the capture (its results are this step's).</param>
    /// <param name="capture">The work to capture.</param>
    /// <param name="sharePoolWith">
    /// A graph whose private memory pool this one shares (as torch.cuda.graph(pool=...)): safe when the graphs always
    /// replay in the order they were captured, and it saves a pool per graph. Ignored where libtorch does not export
    /// CUDAGraph::pool.
    /// </param>
    public static TorchCudaGraph Capture(Action warmUp, Action capture, TorchCudaGraph? sharePoolWith = null)
    {
        if (!TorchCudaNative.TryResolve(out var why)) throw new NotSupportedException("CUDA graphs are not available: " + why);
        torch.cuda.synchronize();
        var previous = TorchCudaNative.GetCurrentStream(-1);
        var side = SideStream(previous);
        if (side.Id == TorchCudaNative.GetDefaultStream(-1).Id)
            throw new InvalidOperationException("libtorch returned the default stream for capture; CUDA graphs need a side stream.");
        TorchCudaNative.SetCurrentStream(side);
        IntPtr memory = IntPtr.Zero;
        try
        {
            warmUp();
            torch.cuda.synchronize();
            memory = (IntPtr)NativeMemory.AllocZeroed(ObjectBytes);
            TorchCudaNative.Construct(memory);
            var graph = new TorchCudaGraph(memory);
            memory = IntPtr.Zero; // owned by the graph from here
            var pool = sharePoolWith is { self: not 0, captured: true } other && TorchCudaNative.CanSharePools
                ? TorchCudaNative.Pool(other.self) : default;
            TorchCudaNative.CaptureBegin(graph.self, pool);
            try { capture(); }
            catch
            {
                // End the capture through the driver (libtorch's capture_end would throw a C++ exception on an
                // invalidated capture, which cannot cross into .NET); the half-made graph is discarded.
                TorchCudaNative.AbandonCapture(side);
                graph.Dispose();
                throw;
            }
            TorchCudaNative.CaptureEnd(graph.self);
            graph.captured = true;
            return graph;
        }
        finally
        {
            if (memory != IntPtr.Zero) NativeMemory.Free((void*)memory);
            TorchCudaNative.SetCurrentStream(previous);
            torch.cuda.synchronize();
        }
    }

    // One side stream per device for every capture of the process: cuBLAS keeps a workspace per (handle, stream)
    // (~38 MiB on the H200), so a new pool stream per capture cost 0.95 GiB for the 25 graphs of a segmented step.
    static readonly Dictionary<long, TorchCudaNative.StreamValue> sideStreams = [];

    static TorchCudaNative.StreamValue SideStream(TorchCudaNative.StreamValue current)
    {
        lock (sideStreams)
        {
            if (!sideStreams.TryGetValue(current.Device, out var side)) sideStreams[current.Device] = side = TorchCudaNative.GetStreamFromPool(false, -1);
            return side;
        }
    }

    /// <summary>Launches the captured work on the current (default) stream: asynchronous, like any kernel.</summary>
    public void Replay()
    {
        ObjectDisposedException.ThrowIf(self == IntPtr.Zero, this);
        if (!captured) throw new InvalidOperationException("The graph holds no completed capture.");
        TorchCudaNative.Replay(self);
    }

    /// <summary>Destroys the graph and gives its private memory pool back to libtorch's allocator.</summary>
    public void Dispose()
    {
        if (self == IntPtr.Zero) return;
        torch.cuda.synchronize(); // a replay may still run
        TorchCudaNative.Destroy(self);
        NativeMemory.Free((void*)self);
        self = IntPtr.Zero;
    }
}

/// <summary>
/// The door to libtorch's C++ CUDA functions that TorchSharp does not wrap, resolved by their Itanium-ABI mangled
/// names in libc10_cuda.so and libtorch_cuda.so of the libtorch in use (<see cref="LibTorch.Loaded"/>). Candidate
/// names cover the signatures of recent PyTorch releases; what none of them matches is reported, not guessed.
/// c10::cuda::CUDAStream (a device and a 64-bit stream id, trivially copyable) travels by value in two registers;
/// MempoolId_t (a pair of unsigned long long) likewise.
/// </summary>
internal static unsafe class TorchCudaNative
{
    [StructLayout(LayoutKind.Sequential)]
    public struct StreamValue
    {
        public long Device; // c10::Device: type (int8) and index (int8), padded
        public long Id;     // c10::StreamId
    }

    // resolved once, on first use: null when everything was found, otherwise why not
    static readonly Lazy<string?> failure = new(Resolve);
    static delegate* unmanaged<byte, sbyte, StreamValue> getStreamFromPool;
    static delegate* unmanaged<sbyte, StreamValue> getCurrentStream, getDefaultStream;
    static delegate* unmanaged<StreamValue, void> setCurrentStream;
    static delegate* unmanaged<IntPtr, byte, void> construct;
    static delegate* unmanaged<IntPtr, void> destroy, captureEnd, replay;
    static delegate* unmanaged<IntPtr, ulong, ulong, int, byte, void> captureBegin;
    static delegate* unmanaged<StreamValue*, IntPtr> rawStream;
    static delegate* unmanaged<IntPtr, PoolId> graphPool;

    /// <summary>MempoolId_t: a pair of unsigned long long ({0, 0}: a new private pool).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PoolId
    {
        public ulong First, Second;
    }

    /// <summary>Whether graphs can share a memory pool (libtorch exports CUDAGraph::pool).</summary>
    public static bool CanSharePools => graphPool != null;

    /// <summary>cudaStreamCaptureModeRelaxed: the capturing thread may still call cudaMalloc (libtorch's allocator may need a new segment).</summary>
    const int CaptureModeRelaxed = 2;

    public static bool TryResolve([NotNullWhen(false)] out string? reason)
    {
        reason = failure.Value;
        return reason == null;
    }

    static string? Resolve()
    {
        var location = LibTorch.Loaded;
        if (location == null || !location.HasCuda) return "the libtorch in use has no CUDA (set LIBTORCH to a CUDA libtorch)";
        if (!NativeLibrary.TryLoad(Path.Combine(location.LibDirectory, "libc10_cuda.so"), out var c10)) return "libc10_cuda.so could not be loaded";
        if (!NativeLibrary.TryLoad(Path.Combine(location.LibDirectory, "libtorch_cuda.so"), out var torchCuda)) return "libtorch_cuda.so could not be loaded";
        var missing = new List<string>();
        IntPtr Find(IntPtr library, string what, params string[] names)
        {
            foreach (var name in names)
                if (NativeLibrary.TryGetExport(library, name, out var address)) return address;
            missing.Add($"{what} ({string.Join(" or ", names)})");
            return IntPtr.Zero;
        }
        var pool = Find(c10, "c10::cuda::getStreamFromPool(bool, DeviceIndex)", "_ZN3c104cuda17getStreamFromPoolEba");
        var current = Find(c10, "c10::cuda::getCurrentCUDAStream", "_ZN3c104cuda20getCurrentCUDAStreamEa");
        var @default = Find(c10, "c10::cuda::getDefaultCUDAStream", "_ZN3c104cuda20getDefaultCUDAStreamEa");
        var set = Find(c10, "c10::cuda::setCurrentCUDAStream", "_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE");
        var ctor = Find(torchCuda, "at::cuda::CUDAGraph::CUDAGraph(bool)", "_ZN2at4cuda9CUDAGraphC1Eb");
        var dtor = Find(torchCuda, "at::cuda::CUDAGraph::~CUDAGraph()", "_ZN2at4cuda9CUDAGraphD1Ev");
        // capture_begin(MempoolId_t, cudaStreamCaptureMode[, bool dynamic_graph]): an extra bool is ignored by the older signature
        var begin = Find(torchCuda, "at::cuda::CUDAGraph::capture_begin",
            "_ZN2at4cuda9CUDAGraph13capture_beginESt4pairIyyE21cudaStreamCaptureModeb",
            "_ZN2at4cuda9CUDAGraph13capture_beginESt4pairIyyE21cudaStreamCaptureMode");
        var end = Find(torchCuda, "at::cuda::CUDAGraph::capture_end", "_ZN2at4cuda9CUDAGraph11capture_endEv");
        var launch = Find(torchCuda, "at::cuda::CUDAGraph::replay", "_ZN2at4cuda9CUDAGraph6replayEv");
        var raw = Find(c10, "c10::cuda::CUDAStream::stream() const", "_ZNK3c104cuda10CUDAStream6streamEv");
        if (!CudaDriver.TryOpen(out _, out var noDriver)) missing.Add("a CUDA driver: " + noDriver);
        // optional: sharing one pool between graphs that replay in capture order
        if (NativeLibrary.TryGetExport(torchCuda, "_ZN2at4cuda9CUDAGraph4poolEv", out var poolOf)) graphPool = (delegate* unmanaged<IntPtr, PoolId>)poolOf;
        if (missing.Count > 0) return $"libtorch in {location.LibDirectory} does not export {string.Join("; ", missing)}";
        getStreamFromPool = (delegate* unmanaged<byte, sbyte, StreamValue>)pool;
        getCurrentStream = (delegate* unmanaged<sbyte, StreamValue>)current;
        getDefaultStream = (delegate* unmanaged<sbyte, StreamValue>)@default;
        setCurrentStream = (delegate* unmanaged<StreamValue, void>)set;
        construct = (delegate* unmanaged<IntPtr, byte, void>)ctor;
        destroy = (delegate* unmanaged<IntPtr, void>)dtor;
        captureBegin = (delegate* unmanaged<IntPtr, ulong, ulong, int, byte, void>)begin;
        captureEnd = (delegate* unmanaged<IntPtr, void>)end;
        replay = (delegate* unmanaged<IntPtr, void>)launch;
        rawStream = (delegate* unmanaged<StreamValue*, IntPtr>)raw;
        return null;
    }

    public static StreamValue GetStreamFromPool(bool highPriority, sbyte device) => getStreamFromPool(highPriority ? (byte)1 : (byte)0, device);
    public static StreamValue GetCurrentStream(sbyte device) => getCurrentStream(device);
    public static StreamValue GetDefaultStream(sbyte device) => getDefaultStream(device);
    public static void SetCurrentStream(StreamValue stream) => setCurrentStream(stream);
    public static void Construct(IntPtr self) => construct(self, 0); // keep_graph = false: instantiate at capture_end
    public static void Destroy(IntPtr self) => destroy(self);
    /// <summary>Pool {0, 0}: a new private pool for this graph; another graph's pool id: share it.</summary>
    public static void CaptureBegin(IntPtr self, PoolId pool) => captureBegin(self, pool.First, pool.Second, CaptureModeRelaxed, 0);
    public static PoolId Pool(IntPtr self) => graphPool(self);
    public static void CaptureEnd(IntPtr self) => captureEnd(self);
    public static void Replay(IntPtr self) => replay(self);

    /// <summary>Ends a failed capture on <paramref name="stream"/> with the driver and drops what was captured.</summary>
    public static void AbandonCapture(StreamValue stream)
    {
        IntPtr handle = rawStream(&stream);
        if (NativeMethods.cuStreamEndCapture(handle, out var graph) == 0 && graph != IntPtr.Zero) NativeMethods.cuGraphDestroy(graph);
    }
}
