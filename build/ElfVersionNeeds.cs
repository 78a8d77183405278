// Weakens one symbol-version requirement (a "version need") of an ELF64 shared library.
//
// Why: TorchSharp's native shim libLibTorchSharp.so declares that it needs GLIBCXX_3.4.32 from
// libstdc++, which Debian 12 lacks. The only symbol behind that tag (std::ios_base_library_init) is
// referenced but never called, so marking the need weak (VER_FLG_WEAK in vna_flags) lets the dynamic
// loader accept the library. This file is compiled into the build (PatchLibTorchSharp task, see
// Toolkit.Native.targets) and into the unit tests; it has no dependencies beyond the BCL.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Toolkit.Build
{
    /// <summary>What <see cref="ElfVersionNeeds.WeakenNeed"/> did to a file.</summary>
    public enum WeakenResult
    {
        /// <summary>The need was strong and is now weak.</summary>
        Patched,
        /// <summary>The need was already weak; the file was not written.</summary>
        AlreadyWeak,
        /// <summary>The file declares no such version need; the file was not written.</summary>
        NotNeeded,
    }

    /// <summary>Reads and edits the GNU symbol-versioning sections of little-endian ELF64 files.</summary>
    public static class ElfVersionNeeds
    {
        const uint ShtGnuVerdef = 0x6ffffffd;
        const uint ShtGnuVerneed = 0x6ffffffe;
        /// <summary>VER_FLG_WEAK from elf.h.</summary>
        public const ushort VerFlagWeak = 0x2;

        /// <summary>One vernaux entry: a version that a needed library must define.</summary>
        public readonly struct Need
        {
            public Need(string library, string version, ushort flags, long flagsOffset)
            {
                Library = library; Version = version; Flags = flags; FlagsOffset = flagsOffset;
            }
            public string Library { get; }
            public string Version { get; }
            public ushort Flags { get; }
            /// <summary>File offset of the vna_flags field.</summary>
            public long FlagsOffset { get; }
            public bool IsWeak => (Flags & VerFlagWeak) != 0;
        }

        /// <summary>Lists the version needs (SHT_GNU_verneed) of an ELF64 file.</summary>
        public static List<Need> ReadNeeds(byte[] elf, string fileName)
        {
            var needs = new List<Need>();
            foreach (var section in Sections(elf, fileName))
            {
                if (section.Type != ShtGnuVerneed) continue;
                var strtab = StringTable(elf, fileName, section.Link);
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    Require(elf, fileName, entry, 16, "verneed entry");
                    ushort count = U16(elf, entry + 2);
                    string library = ReadString(elf, fileName, strtab, U32(elf, entry + 4));
                    long aux = entry + U32(elf, entry + 8);
                    for (int j = 0; j < count; j++)
                    {
                        Require(elf, fileName, aux, 16, "vernaux entry");
                        string version = ReadString(elf, fileName, strtab, U32(elf, aux + 8));
                        needs.Add(new Need(library, version, U16(elf, aux + 4), aux + 4));
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, entry + 12);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return needs;
        }

        /// <summary>Lists the versions an ELF64 library defines (SHT_GNU_verdef), e.g. GLIBCXX_3.4.30.</summary>
        public static List<string> ReadDefinitions(byte[] elf, string fileName)
        {
            var names = new List<string>();
            foreach (var section in Sections(elf, fileName))
            {
                if (section.Type != ShtGnuVerdef) continue;
                var strtab = StringTable(elf, fileName, section.Link);
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    Require(elf, fileName, entry, 20, "verdef entry");
                    ushort count = U16(elf, entry + 6);
                    if (count > 0)
                    {
                        long aux = entry + U32(elf, entry + 12);
                        Require(elf, fileName, aux, 8, "verdaux entry");
                        names.Add(ReadString(elf, fileName, strtab, U32(elf, aux)));
                    }
                    uint next = U32(elf, entry + 16);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return names;
        }

        /// <summary>Marks the need for <paramref name="version"/> weak, in place. Idempotent.</summary>
        public static WeakenResult WeakenNeed(string path, string version)
        {
            byte[] elf = File.ReadAllBytes(path);
            var result = WeakenNeed(elf, path, version);
            if (result == WeakenResult.Patched)
            {
                // Write beside the file and rename over it, so a crash never leaves half a library.
                string temp = path + ".patching";
                File.WriteAllBytes(temp, elf);
                File.Replace(temp, path, null);
            }
            return result;
        }

        /// <summary>Marks the need for <paramref name="version"/> weak in an in-memory image.</summary>
        public static WeakenResult WeakenNeed(byte[] elf, string fileName, string version)
        {
            var result = WeakenResult.NotNeeded;
            foreach (var need in ReadNeeds(elf, fileName))
            {
                if (need.Version != version) continue;
                if (need.IsWeak) { if (result == WeakenResult.NotNeeded) result = WeakenResult.AlreadyWeak; continue; }
                ushort flags = (ushort)(need.Flags | VerFlagWeak);
                elf[need.FlagsOffset] = (byte)flags;
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                result = WeakenResult.Patched;
            }
            return result;
        }

        readonly struct Section
        {
            public Section(uint type, long offset, long size, uint link, uint info)
            { Type = type; Offset = offset; Size = size; Link = link; Info = info; }
            public uint Type { get; }
            public long Offset { get; }
            public long Size { get; }
            public uint Link { get; }
            public uint Info { get; }
        }

        static List<Section> Sections(byte[] elf, string fileName)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"{fileName}: not an ELF file (bad magic or shorter than an ELF header).");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"{fileName}: only little-endian ELF64 is supported (class {elf[4]}, data {elf[5]}).");
            long shoff = (long)U64(elf, 0x28);
            ushort shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            if (shnum == 0) return new List<Section>();
            if (shentsize < 64) throw new InvalidDataException($"{fileName}: section header size {shentsize} is too small.");
            Require(elf, fileName, shoff, (long)shentsize * shnum, "section header table");
            var sections = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                var s = new Section(U32(elf, h + 4), (long)U64(elf, h + 0x18), (long)U64(elf, h + 0x20), U32(elf, h + 0x28), U32(elf, h + 0x2C));
                if (s.Type == ShtGnuVerneed || s.Type == ShtGnuVerdef) Require(elf, fileName, s.Offset, s.Size, "version section");
                sections.Add(s);
            }
            return sections;
        }

        static Section StringTable(byte[] elf, string fileName, uint index)
        {
            var all = Sections(elf, fileName);
            if (index >= all.Count) throw new InvalidDataException($"{fileName}: string table index {index} out of range.");
            var s = all[(int)index];
            Require(elf, fileName, s.Offset, s.Size, "string table");
            return s;
        }

        static string ReadString(byte[] elf, string fileName, Section strtab, uint offset)
        {
            if (offset >= strtab.Size) throw new InvalidDataException($"{fileName}: string offset {offset} past the string table.");
            long start = strtab.Offset + offset, end = start;
            long limit = strtab.Offset + strtab.Size;
            while (end < limit && elf[end] != 0) end++;
            if (end == limit) throw new InvalidDataException($"{fileName}: unterminated string in the string table.");
            return Encoding.ASCII.GetString(elf, (int)start, (int)(end - start));
        }

        static void Require(byte[] elf, string fileName, long offset, long length, string what)
        {
            if (offset < 0 || length < 0 || offset > elf.Length || length > elf.Length - offset)
                throw new InvalidDataException($"{fileName}: {what} at offset {offset} (+{length} bytes) lies outside the file ({elf.Length} bytes); the file is truncated or corrupt.");
        }

        static ushort U16(byte[] b, long o) => (ushort)(b[o] | b[o + 1] << 8);
        static uint U32(byte[] b, long o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        static ulong U64(byte[] b, long o) => U32(b, o) | (ulong)U32(b, o + 4) << 32;
    }

    /// <summary>
    /// MSBuild task: weakens libLibTorchSharp.so's need for a libstdc++ version tag in an output folder,
    /// only when the system libstdc++ does not define that tag. Leaves correct files alone.
    /// </summary>
    public class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>Folder searched (recursively) for libLibTorchSharp.so.</summary>
        [Required] public string Directory { get; set; } = "";
        /// <summary>The version tag to weaken.</summary>
        public string Version { get; set; } = "GLIBCXX_3.4.32";
        /// <summary>Path of the system libstdc++; empty means search the usual places.</summary>
        public string SystemLibstdcxx { get; set; } = "";

        public override bool Execute()
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux) || !System.IO.Directory.Exists(Directory)) return true;
            string? system = string.IsNullOrEmpty(SystemLibstdcxx) ? FindSystemLibstdcxx() : SystemLibstdcxx;
            if (system != null && SystemDefines(system, Version))
            {
                Log.LogMessage(MessageImportance.Low, $"{system} defines {Version}; libLibTorchSharp.so needs no patch.");
                return true;
            }
            foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                var result = ElfVersionNeeds.WeakenNeed(file, Version);
                Log.LogMessage(result == WeakenResult.Patched ? MessageImportance.High : MessageImportance.Low,
                    $"{file}: need for {Version} {(result == WeakenResult.Patched ? "marked weak (system libstdc++ lacks it)" : result == WeakenResult.AlreadyWeak ? "already weak" : "not present")}.");
            }
            return !Log.HasLoggedErrors;
        }

        /// <summary>True when the library at <paramref name="path"/> defines <paramref name="version"/>.</summary>
        public static bool SystemDefines(string path, string version) =>
            ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(path), path).Contains(version);

        /// <summary>The first libstdc++.so.6 found in the usual Linux library folders, or null.</summary>
        public static string? FindSystemLibstdcxx()
        {
            string[] folders = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib/aarch64-linux-gnu", "/usr/lib" };
            foreach (var folder in folders)
            {
                string candidate = Path.Combine(folder, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }
    }
}
