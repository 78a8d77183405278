using System.Buffers.Binary;
using System.Text;

namespace Toolkit.Runtime.Tests.Safetensors;

/// <summary>Builds safetensors bytes by hand, including malformed ones.</summary>
static class Crafted
{
    /// <summary>8-byte little-endian length (the real one unless overridden), the header bytes, then data.</summary>
    public static byte[] Bytes(string headerJson, byte[]? data = null, ulong? headerLength = null) =>
        Bytes(Encoding.UTF8.GetBytes(headerJson), data, headerLength);

    public static byte[] Bytes(byte[] header, byte[]? data = null, ulong? headerLength = null)
    {
        data ??= [];
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static string Write(TempFolder temp, string name, byte[] bytes)
    {
        string path = temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
