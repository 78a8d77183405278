using ExpertFlow.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// The fused kernels reached through <see cref="Toolkit.Runtime.LibTorchOps"/> (rms_norm and the grouped expert GEMM)
/// against the runtime's default op sequence: on the CPU in fp32 (libtorch's reference implementations, forced on for
/// every token count) and on a GPU in bf16, where they are on by default.
/// </summary>
public class FusedKernelTests
{
    public static TheoryData<string> DecoderFamilies() => [.. Fixtures.Families.Where(f => f != "switch_transformers")];

    /// <summary>Prefill of two prompts of different lengths, then greedy decode steps; logits [rows, V] per step.</summary>
    static List<float[][]> Run(string family, Device device, ScalarType dtype, bool fused, out int groupedRuns)
    {
        var cases = Fixtures.Cases(family);
        int[][] prompts = [cases[0].InputIds, cases[1].InputIds];
        var steps = new List<float[][]>();
        using var force = Ops.ForceFusedKernels(fused);
        int before = MoeBlock.GroupedGemmRuns;
        using var model = MoeCausalLM.Load(Fixtures.Folder(family), options: new ModelLoadOptions { Device = device, DType = dtype, CudaGraphs = false });
        model.ResetCache(2, 32);
        var feed = prompts;
        for (int s = 0; s < 7; s++)
        {
            using var scope = NewDisposeScope();
            var logits = model.Step(feed).cpu();
            steps.Add([Fixtures.Row(logits[0]), Fixtures.Row(logits[1])]);
            var next = TokenSampler.Pick(logits, new SamplingOptions(), null);
            feed = [[next[0]], [next[1]]];
        }
        groupedRuns = MoeBlock.GroupedGemmRuns - before;
        return steps;
    }

    [Theory]
    [MemberData(nameof(DecoderFamilies))]
    public void On_the_cpu_the_fused_path_matches_the_default_one(string family)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var config = MoeConfig.Load(Fixtures.Folder(family));
        // the grouped GEMM needs expert widths that are multiples of 8; fixtures with 12-wide experts take the other kernels
        Assert.SkipUnless(config.ExpertIntermediateSize % 8 == 0 && config.HiddenSize % 8 == 0, $"{family}: expert width {config.ExpertIntermediateSize} is not a multiple of 8");
        var plain = Run(family, CPU, ScalarType.Float32, fused: false, out int plainRuns);
        var fused = Run(family, CPU, ScalarType.Float32, fused: true, out int fusedRuns);
        Assert.Equal(0, plainRuns);
        Assert.True(fusedRuns > 0, "the grouped GEMM path was not taken");
        for (int s = 0; s < plain.Count; s++)
            for (int r = 0; r < 2; r++)
            {
                double d = Fixtures.MaxAbsDiff(plain[s][r], fused[s][r]);
                Assert.True(d <= 1e-5, $"{family}: step {s}, row {r} differs by {d:g3}");
            }
    }

    [Theory]
    [Trait("Category", "GPU")]
    [MemberData(nameof(DecoderFamilies))]
    public void On_the_gpu_in_bf16_the_fused_path_stays_within_rounding_of_the_default_one(string family)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(torch.cuda.is_available(), "no CUDA device");
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var device = new Device(DeviceType.CUDA, 0);
        var plain = Run(family, device, ScalarType.BFloat16, fused: false, out _);
        var fused = Run(family, device, ScalarType.BFloat16, fused: true, out int fusedRuns);
        Assert.True(fusedRuns > 0, "the grouped GEMM path was not taken");
        // bf16 keeps 8 bits: one rounding more or less per norm moves logits by a few hundredths at these scales, so the
        // greedy token may change only between near-tied candidates
        double scale = plain[0].Max(row => row.Max(Math.Abs));
        double tolerance = 0.05 * Math.Max(1, scale);
        for (int r = 0; r < 2; r++)
        {
            double d = Fixtures.MaxAbsDiff(plain[0][r], fused[0][r]);
            Assert.True(d <= tolerance, $"{family}: prefill logits of row {r} differ by {d:g3} (scale {scale:g3})");
            int pick = Array.IndexOf(fused[0][r], fused[0][r].Max());
            Assert.True(plain[0][r][pick] >= plain[0][r].Max() - tolerance, $"{family}: row {r}'s fused greedy token {pick} is not near-tied in the default run");
        }
    }
}
