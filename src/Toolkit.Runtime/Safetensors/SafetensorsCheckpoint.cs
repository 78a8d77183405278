using System.Text.Json;
using TorchSharp;

namespace Toolkit.Runtime.Safetensors;

/// <summary>
/// A checkpoint of one or more safetensors files: a single .safetensors file, a folder holding
/// model.safetensors, or a sharded folder with model.safetensors.index.json (Hugging Face layout: a
/// "weight_map" from tensor name to shard file). Each tensor resolves to its shard; all shards are opened
/// and validated up front. Disposing closes every shard.
/// </summary>
public sealed unsafe class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    readonly Dictionary<string, SafetensorsFile> fileOf;
    readonly Dictionary<string, TensorInfo> tensors;

    SafetensorsCheckpoint(string source, string? indexPath, IReadOnlyList<SafetensorsFile> shards,
        Dictionary<string, SafetensorsFile> fileOf, IReadOnlyList<string> names, IReadOnlyDictionary<string, string> metadata)
    {
        Source = source;
        IndexPath = indexPath;
        Shards = shards;
        this.fileOf = fileOf;
        Names = names;
        Metadata = metadata;
        tensors = names.ToDictionary(n => n, n => fileOf[n].Tensors[n], StringComparer.Ordinal);
    }

    /// <summary>The file or folder this checkpoint was opened from.</summary>
    public string Source { get; }

    /// <summary>The index file of a sharded checkpoint, else null.</summary>
    public string? IndexPath { get; }

    /// <summary>Every opened shard (one for a single file).</summary>
    public IReadOnlyList<SafetensorsFile> Shards { get; }

    /// <summary>Tensor names: the index's weight_map order for a sharded checkpoint, else file order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Tensors by name, each pointing at its shard (FilePath, FileOffset).</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => tensors;

    /// <summary>
    /// The index's "metadata" (non-string values as their JSON text, e.g. total_size) for a sharded
    /// checkpoint; the file's "__metadata__" for a single file.
    /// </summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Opens a checkpoint: a .safetensors file, an index .json file, or a folder holding
    /// model.safetensors.index.json (preferred) or model.safetensors.
    /// </summary>
    public static SafetensorsCheckpoint Open(string pathOrFolder)
    {
        string full = Path.GetFullPath(pathOrFolder);
        if (Directory.Exists(full))
        {
            string index = Path.Combine(full, IndexFileName);
            if (File.Exists(index)) return OpenSharded(full, index);
            string single = Path.Combine(full, SingleFileName);
            if (File.Exists(single)) return OpenSingle(full, single);
            throw new FileNotFoundException($"Folder '{full}' holds neither {IndexFileName} nor {SingleFileName}; point at a safetensors file or a Hugging Face checkpoint folder.", index);
        }
        if (!File.Exists(full))
            throw new FileNotFoundException($"No safetensors file or checkpoint folder at '{full}'.", full);
        return full.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenSharded(full, full) : OpenSingle(full, full);
    }

    static SafetensorsCheckpoint OpenSingle(string source, string file)
    {
        var shard = SafetensorsFile.Open(file);
        var map = shard.Names.ToDictionary(n => n, _ => shard, StringComparer.Ordinal);
        return new SafetensorsCheckpoint(source, null, [shard], map, shard.Names, shard.Metadata);
    }

    static SafetensorsCheckpoint OpenSharded(string source, string indexPath)
    {
        var (weightMap, metadata) = ReadIndex(indexPath);
        string folder = Path.GetDirectoryName(indexPath)!;
        var opened = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (name, shardName) in weightMap)
            {
                if (!opened.TryGetValue(shardName, out var shard))
                {
                    string shardPath = Path.Combine(folder, shardName);
                    if (!File.Exists(shardPath))
                        throw new SafetensorsFormatException(indexPath, name, $"the weight_map puts this tensor in shard '{shardName}', which does not exist in '{folder}'. Download the missing shard, or the index that belongs to these shards.");
                    shard = SafetensorsFile.Open(shardPath);
                    opened.Add(shardName, shard);
                }
                if (!shard.Contains(name))
                    throw new SafetensorsFormatException(indexPath, name, $"the weight_map puts this tensor in shard '{shardName}', but that shard holds no tensor of this name. Download the index that belongs to these shards.");
                fileOf.Add(name, shard);
            }
            return new SafetensorsCheckpoint(source, indexPath, opened.Values.ToList(), fileOf, weightMap.Select(p => p.Key).ToList(), metadata);
        }
        catch
        {
            foreach (var shard in opened.Values) shard.Dispose();
            throw;
        }
    }

    static (List<KeyValuePair<string, string>> WeightMap, Dictionary<string, string> Metadata) ReadIndex(string indexPath)
    {
        byte[] bytes = File.ReadAllBytes(indexPath);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new SafetensorsFormatException(indexPath, null, "the index is not UTF-8 text (damaged file); restore it (e.g. download the checkpoint's index again).");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(indexPath, null, $"the index is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}); restore it (e.g. download the checkpoint's index again).", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(indexPath, null, $"the index is a JSON {root.ValueKind}, expected an object with a 'weight_map'.");
            JsonElement? weightMapElement = null;
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var topKeys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!topKeys.Add(property.Name))
                    throw new SafetensorsFormatException(indexPath, null, $"the index has the key '{property.Name}' twice (duplicate JSON key).");
                if (property.Name == "weight_map") weightMapElement = property.Value;
                else if (property.Name == "metadata" && property.Value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var entry in property.Value.EnumerateObject())
                    {
                        string text = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
                        if (!metadata.TryAdd(entry.Name, text))
                            throw new SafetensorsFormatException(indexPath, null, $"the index metadata has the key '{entry.Name}' twice (duplicate JSON key).");
                    }
                }
            }
            if (weightMapElement is not { ValueKind: JsonValueKind.Object } weightMap)
                throw new SafetensorsFormatException(indexPath, null, "the index has no 'weight_map' object (tensor name -> shard file).");
            var entries = new List<KeyValuePair<string, string>>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (!seen.Add(entry.Name))
                    throw new SafetensorsFormatException(indexPath, entry.Name, "the weight_map names this tensor twice (duplicate JSON key).");
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new SafetensorsFormatException(indexPath, entry.Name, $"the weight_map value is a JSON {entry.Value.ValueKind}, expected a shard file name.");
                string shard = entry.Value.GetString()!;
                if (shard.Length == 0 || Path.IsPathRooted(shard) || shard.Contains('/') || shard.Contains('\\') || shard is "." or "..")
                    throw new SafetensorsFormatException(indexPath, entry.Name, $"the weight_map names shard '{shard}', which is not a plain file name in the index's folder.");
                entries.Add(new(entry.Name, shard));
            }
            return (entries, metadata);
        }
    }

    /// <summary>True when the checkpoint holds a tensor of this name.</summary>
    public bool Contains(string name) => tensors.ContainsKey(name);

    /// <summary>The tensor's description (its shard's FilePath and FileOffset); throws if absent.</summary>
    public TensorInfo Info(string name) =>
        tensors.TryGetValue(name, out var info) ? info : throw SafetensorsFile.NotFound(IndexPath ?? Source, name, Names);

    /// <summary>The shard holding a tensor.</summary>
    public SafetensorsFile FileOf(string name) =>
        fileOf.TryGetValue(name, out var file) ? file : throw SafetensorsFile.NotFound(IndexPath ?? Source, name, Names);

    /// <summary>The tensor's bytes, zero-copy (valid until Dispose).</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => FileOf(name).GetBytes(name);

    /// <summary>Pointer to the tensor's bytes in its shard's read-only mapping (valid until Dispose).</summary>
    public byte* GetPointer(string name) => FileOf(name).GetPointer(name);

    /// <summary>Same as <see cref="GetPointer"/>, as an IntPtr.</summary>
    public IntPtr GetAddress(string name) => FileOf(name).GetAddress(name);

    /// <summary>Materialises a tensor in TorchSharp on a device and dtype (see <see cref="SafetensorsFile.Load"/>).</summary>
    public torch.Tensor Load(string name, torch.Device? device = null, torch.ScalarType? dtype = null) =>
        FileOf(name).Load(name, device, dtype);

    /// <summary>Copies a tensor into an existing tensor of the same shape (see <see cref="SafetensorsFile.LoadInto"/>).</summary>
    public void LoadInto(string name, torch.Tensor destination) => FileOf(name).LoadInto(name, destination);

    public void Dispose()
    {
        foreach (var shard in Shards) shard.Dispose();
    }
}
