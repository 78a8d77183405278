using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Toolkit.Runtime.Tests;

/// <summary>CPU tensors over caller-owned memory (<see cref="HostTensors"/>): no copy in either direction, any dtype.</summary>
public unsafe class HostTensorsTests
{
    public HostTensorsTests() => LibTorch.EnsureLoaded();

    [Fact]
    public void A_view_reads_and_writes_the_memory_in_place()
    {
        Assert.True(HostTensors.IsAvailable(out var why), why);
        var memory = (float*)NativeMemory.AlignedAlloc(6 * sizeof(float), 64);
        try
        {
            for (int i = 0; i < 6; i++) memory[i] = i + 1;
            using (var t = HostTensors.View((IntPtr)memory, [2, 3], ScalarType.Float32))
            {
                Assert.Equal(new long[] { 2, 3 }, t.shape);
                Assert.Equal(TorchSharp.DeviceType.CPU, t.device_type);
                Assert.Equal(6f, t[1, 2].item<float>());
                using var doubled = t.mul(2);
                Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, doubled.data<float>().ToArray());
                t[0, 0] = tensor(-1f);
            }
            Assert.Equal(-1f, memory[0]); // written through, and the memory survives the tensor
            using var bf = HostTensors.View((IntPtr)memory, [6], ScalarType.BFloat16); // 12 bytes as bf16 values
            Assert.Equal(6, bf.numel());
        }
        finally { NativeMemory.AlignedFree(memory); }
    }

    [Fact]
    public void A_null_pointer_is_refused() =>
        Assert.Throws<ArgumentException>(() => HostTensors.View(IntPtr.Zero, [1], ScalarType.Float32));
}
