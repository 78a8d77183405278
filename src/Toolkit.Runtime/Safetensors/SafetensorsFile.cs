using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace Toolkit.Runtime.Safetensors;

/// <summary>
/// A safetensors file, memory-mapped read-only. The header is fully validated on <see cref="Open"/>, so every
/// tensor's bytes lie inside the file; spans and pointers stay valid until <see cref="Dispose"/>.
/// Thread-safe for concurrent reads. Data is little-endian, as the format prescribes (the host's order on x64 and arm64).
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    readonly MemoryMappedFile map;
    readonly MemoryMappedViewAccessor view;
    readonly Dictionary<string, TensorInfo> tensors;
    byte* basePointer;

    SafetensorsFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, SafetensorsHeader.Parsed header)
    {
        FilePath = path;
        FileLength = length;
        this.map = map;
        this.view = view;
        tensors = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Names = header.Tensors.Select(t => t.Name).ToArray();
        Metadata = header.Metadata;
        DataStart = header.DataStart;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        basePointer = pointer + view.PointerOffset;
    }

    /// <summary>Full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>Offset of the data buffer (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => tensors;

    /// <summary>Tensor names in file order (by data offset).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The header's "__metadata__" strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Start of the read-only mapping of the whole file (valid until Dispose).</summary>
    public byte* BasePointer => basePointer != null ? basePointer : throw Disposed();

    /// <summary>
    /// Opens and validates a safetensors file. Throws <see cref="SafetensorsFormatException"/> for malformed
    /// content and <see cref="FileNotFoundException"/> when the file does not exist.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new FileNotFoundException($"Safetensors file '{full}' does not exist.", full);
        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.RandomAccess);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            Span<byte> prefix = stackalloc byte[8];
            if (length >= 8) stream.ReadExactly(prefix);
            SafetensorsHeader.Parsed header;
            try
            {
                long headerLength = SafetensorsHeader.ReadHeaderLength(full, prefix, length);
                byte[] json = new byte[headerLength];
                stream.ReadExactly(json);
                header = SafetensorsHeader.Parse(full, json, length - 8 - headerLength);
            }
            catch (SafetensorsFormatException e)
            {
                // A malformed header means a damaged or foreign file: say what to do about it.
                throw new SafetensorsFormatException(e.FilePath, e.TensorName, $"{e.Problem} {Remedy}", e);
            }

            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            if (view.Capacity < length)
                throw new SafetensorsFormatException(full, null, $"the file changed while being opened (mapped {view.Capacity} of {length} bytes).");
            return new SafetensorsFile(full, length, map, view, header);
        }
        catch
        {
            view?.Dispose();
            if (map is not null) map.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    /// <summary>What to do about a damaged file (appended to the messages of <see cref="Open"/>).</summary>
    internal const string Remedy = "Download or save the file again.";

    /// <summary>True when the file holds a tensor of this name.</summary>
    public bool Contains(string name) => tensors.ContainsKey(name);

    /// <summary>The tensor's description; <see cref="SafetensorsFormatException"/> if absent.</summary>
    public TensorInfo Info(string name) =>
        tensors.TryGetValue(name, out var info) ? info : throw NotFound(FilePath, name, Names);

    /// <summary>The tensor's bytes, zero-copy (valid until Dispose). Tensors over 2 GiB: use <see cref="GetPointer"/>.</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = Info(name);
        if (info.ByteLength > int.MaxValue)
            throw new NotSupportedException($"Tensor '{name}' in '{FilePath}' is {info.ByteLength} bytes, too large for a span; use GetPointer and ByteLength.");
        return new ReadOnlySpan<byte>(BasePointer + info.FileOffset, (int)info.ByteLength);
    }

    /// <summary>Pointer to the tensor's first byte in the read-only mapping (valid until Dispose; never write through it).</summary>
    public byte* GetPointer(string name) => BasePointer + Info(name).FileOffset;

    /// <summary>Same as <see cref="GetPointer"/>, as an IntPtr.</summary>
    public IntPtr GetAddress(string name) => (IntPtr)GetPointer(name);

    /// <summary>
    /// Materialises a tensor in TorchSharp: one copy from the mapping into a CPU tensor of the stored dtype,
    /// then a conversion to <paramref name="dtype"/> and a move to <paramref name="device"/> when asked.
    /// FP8 tensors cannot be loaded (TorchSharp has no FP8 type): read their bytes with GetBytes.
    /// </summary>
    public torch.Tensor Load(string name, torch.Device? device = null, torch.ScalarType? dtype = null)
    {
        var info = Info(name);
        return TensorCopy.FromMemory(info, BasePointer + info.FileOffset, device, dtype);
    }

    /// <summary>
    /// Copies the tensor into an existing tensor of the same shape (any device and dtype; a plain memcpy for a
    /// contiguous CPU tensor of the stored dtype). Under no_grad, so module parameters can be filled in place.
    /// </summary>
    public void LoadInto(string name, torch.Tensor destination)
    {
        var info = Info(name);
        TensorCopy.Into(info, BasePointer + info.FileOffset, destination);
    }

    public void Dispose()
    {
        if (basePointer == null) return;
        basePointer = null;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }

    ObjectDisposedException Disposed() => new(nameof(SafetensorsFile), $"Safetensors file '{FilePath}' was disposed; its spans and pointers are no longer valid.");

    internal static SafetensorsFormatException NotFound(string filePath, string name, IReadOnlyList<string> names)
    {
        string examples = names.Count == 0 ? "it holds no tensors" : $"it holds {names.Count} tensors, e.g. {string.Join(", ", names.Take(5).Select(n => $"'{n}'"))}";
        return new SafetensorsFormatException(filePath, name, $"no tensor of this name ({examples}).");
    }
}
