using System.Text;
using Toolkit.Build;

namespace Toolkit.Runtime.Tests.Build;

public class ElfVersionNeedsTests
{
    /// <summary>
    /// Builds a minimal little-endian ELF64 image: a string table and one SHT_GNU_verneed section whose
    /// single entry needs libstdc++.so.6 with the given versions (and flags), or a verdef section.
    /// </summary>
    internal static byte[] CraftElf(string library, (string Version, ushort Flags)[] needs, string[]? definitions = null)
    {
        var strings = new MemoryStream();
        strings.WriteByte(0);
        int Add(string s) { int at = (int)strings.Length; var b = Encoding.ASCII.GetBytes(s); strings.Write(b); strings.WriteByte(0); return at; }
        int libName = Add(library);
        var needNames = needs.Select(n => Add(n.Version)).ToArray();
        var defNames = (definitions ?? []).Select(Add).ToArray();
        byte[] strtab = strings.ToArray();

        // verneed: one 16-byte Verneed followed by 16-byte Vernaux entries.
        var verneed = new byte[16 + 16 * needs.Length];
        W16(verneed, 0, 1); W16(verneed, 2, (ushort)needs.Length); W32(verneed, 4, (uint)libName); W32(verneed, 8, 16); W32(verneed, 12, 0);
        for (int i = 0; i < needs.Length; i++)
        {
            int a = 16 + 16 * i;
            W32(verneed, a, 0x1234); W16(verneed, a + 4, needs[i].Flags); W16(verneed, a + 6, (ushort)(2 + i));
            W32(verneed, a + 8, (uint)needNames[i]); W32(verneed, a + 12, i == needs.Length - 1 ? 0u : 16u);
        }
        // verdef: 20-byte Verdef + 8-byte Verdaux per definition.
        var verdef = new byte[28 * defNames.Length];
        for (int i = 0; i < defNames.Length; i++)
        {
            int d = 28 * i;
            W16(verdef, d, 1); W16(verdef, d + 4, (ushort)(i + 1)); W16(verdef, d + 6, 1); W32(verdef, d + 12, 20);
            W32(verdef, d + 16, i == defNames.Length - 1 ? 0u : 28u); W32(verdef, d + 20, (uint)defNames[i]);
        }

        int strOff = 64, needOff = strOff + strtab.Length, defOff = needOff + verneed.Length;
        int shoff = (defOff + verdef.Length + 7) / 8 * 8;
        int shnum = 4;
        var elf = new byte[shoff + 64 * shnum];
        elf[0] = 0x7f; elf[1] = (byte)'E'; elf[2] = (byte)'L'; elf[3] = (byte)'F'; elf[4] = 2; elf[5] = 1; elf[6] = 1;
        W64(elf, 0x28, (ulong)shoff); W16(elf, 0x3A, 64); W16(elf, 0x3C, (ushort)shnum);
        strtab.CopyTo(elf, strOff); verneed.CopyTo(elf, needOff); verdef.CopyTo(elf, defOff);
        void Section(int index, uint type, int offset, int size, uint link, uint info)
        {
            int h = shoff + 64 * index;
            W32(elf, h + 4, type); W64(elf, h + 0x18, (ulong)offset); W64(elf, h + 0x20, (ulong)size); W32(elf, h + 0x28, link); W32(elf, h + 0x2C, info);
        }
        Section(1, 3, strOff, strtab.Length, 0, 0);
        Section(2, 0x6ffffffe, needOff, verneed.Length, 1, 1);
        Section(3, 0x6ffffffd, defOff, verdef.Length, 1, (uint)defNames.Length);
        return elf;
    }

    static void W16(byte[] b, int o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }
    static void W32(byte[] b, int o, uint v) { for (int i = 0; i < 4; i++) b[o + i] = (byte)(v >> (8 * i)); }
    static void W64(byte[] b, int o, ulong v) { for (int i = 0; i < 8; i++) b[o + i] = (byte)(v >> (8 * i)); }

    [Fact]
    public void Weakens_only_the_named_version_and_is_idempotent()
    {
        var elf = CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.30", 0), ("GLIBCXX_3.4.32", 0), ("CXXABI_1.3", 0)]);
        var before = (byte[])elf.Clone();
        Assert.Equal(WeakenResult.Patched, ElfVersionNeeds.WeakenNeed(elf, "crafted", "GLIBCXX_3.4.32"));
        var needs = ElfVersionNeeds.ReadNeeds(elf, "crafted");
        Assert.Equal(["GLIBCXX_3.4.30", "GLIBCXX_3.4.32", "CXXABI_1.3"], needs.Select(n => n.Version));
        Assert.All(needs, n => Assert.Equal("libstdc++.so.6", n.Library));
        Assert.Equal([false, true, false], needs.Select(n => n.IsWeak));
        // Exactly one byte changed: the low byte of that vna_flags.
        Assert.Equal(1, elf.Zip(before).Count(p => p.First != p.Second));
        var once = (byte[])elf.Clone();
        Assert.Equal(WeakenResult.AlreadyWeak, ElfVersionNeeds.WeakenNeed(elf, "crafted", "GLIBCXX_3.4.32"));
        Assert.Equal(once, elf);
    }

    [Fact]
    public void Leaves_files_without_the_need_alone()
    {
        var elf = CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.30", 0)]);
        var before = (byte[])elf.Clone();
        Assert.Equal(WeakenResult.NotNeeded, ElfVersionNeeds.WeakenNeed(elf, "crafted", "GLIBCXX_3.4.32"));
        Assert.Equal(before, elf);
    }

    [Fact]
    public void Keeps_other_flag_bits()
    {
        var elf = CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.32", 0x1)]);
        ElfVersionNeeds.WeakenNeed(elf, "crafted", "GLIBCXX_3.4.32");
        Assert.Equal(0x3, ElfVersionNeeds.ReadNeeds(elf, "crafted")[0].Flags);
    }

    [Fact]
    public void Reads_version_definitions()
    {
        var elf = CraftElf("libc.so.6", [], ["libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.32"]);
        Assert.Equal(["libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.32"], ElfVersionNeeds.ReadDefinitions(elf, "crafted"));
    }

    [Theory]
    [InlineData(0)]    // empty
    [InlineData(10)]   // shorter than a header
    [InlineData(100)]  // header intact, sections cut off
    public void Truncated_files_raise_clear_errors(int length)
    {
        var elf = CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.32", 0)]);
        var cut = elf.Take(length).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.WeakenNeed(cut, "cut.so", "GLIBCXX_3.4.32"));
        Assert.Contains("cut.so", e.Message);
    }

    [Fact]
    public void Rejects_non_elf_and_wrong_class()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeeds(new byte[64], "zeros"));
        var elf = CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.32", 0)]);
        elf[4] = 1; // ELF32
        Assert.Contains("ELF64", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeeds(elf, "x")).Message);
    }

    [Fact]
    public void Corrupt_offsets_never_read_out_of_bounds()
    {
        var rng = new Random(7);
        var good = CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.30", 0), ("GLIBCXX_3.4.32", 0)]);
        for (int trial = 0; trial < 2000; trial++)
        {
            var elf = (byte[])good.Clone();
            for (int k = 0; k < 3; k++) elf[rng.Next(elf.Length)] = (byte)rng.Next(256);
            try { ElfVersionNeeds.WeakenNeed(elf, "fuzz", "GLIBCXX_3.4.32"); }
            catch (InvalidDataException) { }
        }
    }

    [Fact]
    public void File_level_patch_is_atomic_and_idempotent()
    {
        string path = Path.Combine(Path.GetTempPath(), $"elf-{Guid.NewGuid():N}.so");
        try
        {
            File.WriteAllBytes(path, CraftElf("libstdc++.so.6", [("GLIBCXX_3.4.32", 0)]));
            Assert.Equal(WeakenResult.Patched, ElfVersionNeeds.WeakenNeed(path, "GLIBCXX_3.4.32"));
            var stamp = File.GetLastWriteTimeUtc(path);
            Assert.Equal(WeakenResult.AlreadyWeak, ElfVersionNeeds.WeakenNeed(path, "GLIBCXX_3.4.32"));
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));
            Assert.False(File.Exists(path + ".patching"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Real_TorchSharp_shim_needs_the_tag_and_the_output_copy_is_loadable()
    {
        // The pristine copy in the NuGet cache declares a strong need; the build output's copy is weak
        // wherever the system libstdc++ lacks the tag.
        string nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string pristine = Path.Combine(nuget, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.SkipUnless(File.Exists(pristine), "TorchSharp's NuGet package is not in the cache");
        var bytes = File.ReadAllBytes(pristine);
        var need = Assert.Single(ElfVersionNeeds.ReadNeeds(bytes, pristine), n => n.Version == "GLIBCXX_3.4.32");
        Assert.False(need.IsWeak);
        Assert.Equal(WeakenResult.Patched, ElfVersionNeeds.WeakenNeed(bytes, pristine, "GLIBCXX_3.4.32"));

        string system = PatchLibTorchSharp.FindSystemLibstdcxx() ?? "";
        Assert.SkipWhen(system == "", "no system libstdc++ found");
        var output = Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).First();
        bool systemHasTag = PatchLibTorchSharp.SystemDefines(system, "GLIBCXX_3.4.32");
        var outputNeed = ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(output), output).Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.True(systemHasTag || outputNeed.IsWeak, "the build must weaken the need where the system lacks the tag");
    }
}
