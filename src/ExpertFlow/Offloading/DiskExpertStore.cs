namespace ExpertFlow.Offloading;

/// <summary>
/// Disk tier: nothing is kept in host memory; every load reads the source (e.g. the memory-mapped
/// safetensors checkpoint), so the page cache and the disk serve it.
/// </summary>
public sealed class DiskExpertStore(IExpertSource source) : IExpertStore
{
    public ExpertLayout Layout => source.Layout;
    public string Tier => "disk";
    public long HostBytes => 0;
    public bool IsPinned => false;
    public bool TryGetHostPointer(ExpertKey key, out IntPtr pointer) { pointer = IntPtr.Zero; return false; }
    public void ReadInto(ExpertKey key, Span<byte> destination) => source.Read(key, destination);
    public void Dispose() { }
}
