using ExpertFlow.Model;
using TorchSharp;

namespace ExpertFlow.Tests.Model;

/// <summary>
/// Logits and greedy outputs against transformers 5.17 on the committed tiny models (fp32): prefill (every position),
/// 8 cached decode steps fed the reference's tokens, and a 16-token greedy continuation.
/// </summary>
public class ParityTests
{
    const double Tolerance = 1e-4;

    public static TheoryData<string, bool> FamiliesAndPaths()
    {
        var data = new TheoryData<string, bool>();
        foreach (var f in Fixtures.AllFamilies)
        {
            data.Add(f, true);
            data.Add(f, false);
        }
        return data;
    }

    /// <param name="stacked">true: the resident provider's batched kernels; false: every step through OnRouted/Get (grouped by expert).</param>
    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void Matches_transformers_on_cpu(string family, bool stacked) => CheckParity(family, stacked, Fixtures.Cpu());

    [Theory]
    [Trait("Category", "GPU")]
    [MemberData(nameof(FamiliesAndPaths))]
    public void Matches_transformers_on_gpu(string family, bool stacked)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(torch.cuda.is_available(), "no CUDA device");
        CheckParity(family, stacked, new torch.Device(DeviceType.CUDA, 0));
    }

    internal static void CheckParity(string family, bool stacked, torch.Device device)
    {
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        using var model = MoeModels.Load(Fixtures.Folder(family), new ModelLoadOptions { Device = device, Experts = new ResidentExpertProvider(stacked) });
        foreach (var c in Fixtures.Cases(family))
        {
            bool seq2seq = model is SwitchModel;
            if (model is SwitchModel sw) sw.Encode([c.InputIds]);
            model.ResetCache(1, 64);
            int[] first = seq2seq ? [model.Config.DecoderStartTokenId] : c.InputIds;
            using (var prefill = model.Step([first], allPositions: true))
            {
                var rows = prefill.reshape(first.Length, -1);
                for (int t = 0; t < first.Length; t++)
                {
                    double d = Fixtures.MaxAbsDiff(Fixtures.Row(rows[t]), c.PrefillLogits[t]);
                    Assert.True(d <= Tolerance, $"{family}: prefill position {t} differs by {d:g3}");
                }
            }
            for (int s = 0; s < c.DecodeTokens.Length; s++)
            {
                using var logits = model.Step([[c.DecodeTokens[s]]]);
                double d = Fixtures.MaxAbsDiff(Fixtures.Row(logits), c.DecodeLogits[s]);
                Assert.True(d <= Tolerance, $"{family}: decode step {s} differs by {d:g3}");
            }
            var result = Generation.Generate(model, [c.InputIds], new GenerationOptions { MaxNewTokens = c.Greedy.Length, StopTokens = [] }, TestContext.Current.CancellationToken);
            Assert.Equal(c.Greedy, result.OutputIds[0]);
        }
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPaths))]
    public void A_batch_of_prompts_of_different_lengths_gives_each_prompts_own_outputs(string family, bool stacked)
    {
        Fixtures.Cpu();
        Assert.SkipUnless(Fixtures.Exists(family), $"fixture {family} not present");
        var cases = Fixtures.Cases(family);
        using var model = MoeModels.Load(Fixtures.Folder(family), new ModelLoadOptions { Experts = new ResidentExpertProvider(stacked) });
        var result = Generation.Generate(model, cases.Select(c => c.InputIds).ToArray(), new GenerationOptions { MaxNewTokens = 16, StopTokens = [] }, TestContext.Current.CancellationToken);
        for (int i = 0; i < cases.Count; i++) Assert.Equal(cases[i].Greedy, result.OutputIds[i]);
    }
}
