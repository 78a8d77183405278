using Toolkit.Data.Images;
using Toolkit.Runtime;
using Wwae.Training;

namespace Wwae.Tests;

public sealed class TrainingTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("wwae-train-").FullName;

    public TrainingTests() => LibTorch.EnsureLoaded();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static ImageSet Data()
    {
        Assert.SkipUnless(Directory.Exists(MnistFormat.FashionMnistDebianDirectory), "dataset-fashion-mnist is not installed");
        return MnistFormat.LoadFashionMnist(DataSplit.Test).Take(3000);
    }

    static TrainingOptions Quick(ModelKind model, int epochs) => new()
    {
        Model = model, Width = 8, Latent = 8, Epochs = epochs, BatchSize = 64, MaxStepsPerEpoch = 12, Seed = 3,
        Beta = model == ModelKind.BetaVae ? 2 : null,
    };

    [Theory]
    [InlineData(ModelKind.Wwae)]
    [InlineData(ModelKind.Vae)]
    [InlineData(ModelKind.WaeMmd)]
    [InlineData(ModelKind.BetaVae)]
    [InlineData(ModelKind.WaeGan)]
    public void ShortRunReducesTheLoss(ModelKind model)
    {
        var (m, state) = new Trainer(Quick(model, 4), Data(), "fashion-mnist", CPU).Run(null, resume: false, cancel: TestContext.Current.CancellationToken);
        m.Dispose();
        var history = state.History;
        Assert.Equal(4, history.Count);
        // 48 steps of a tiny model: both the total loss and the reconstruction term must fall clearly. The margins
        // leave room for thread-count-dependent rounding (CI machines differ from this one).
        string trace = string.Join(", ", history.Select(h => $"{h.Loss:F3}/{h.Reconstruction:F3}"));
        Assert.True(history[^1].Loss < 0.9 * history[0].Loss, $"{model}: loss/reconstruction per epoch {trace}");
        Assert.True(history[^1].Reconstruction < 0.85 * history[0].Reconstruction, $"{model}: loss/reconstruction per epoch {trace}");
        Assert.Equal(4 * 12, state.Curve.Count);  // every step is sampled when an epoch has fewer than 20
        Assert.Equal(Enumerable.Range(1, 48).Select(i => (long)i), state.Curve.Select(c => c.Step));
    }

    [Fact]
    public void ResumedRunMatchesAnUninterruptedOne()
    {
        var data = Data();
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b");
        new Trainer(Quick(ModelKind.Wwae, 3), data, "fashion-mnist", CPU).Run(a, resume: false, cancel: TestContext.Current.CancellationToken).Model.Dispose();
        new Trainer(Quick(ModelKind.Wwae, 2), data, "fashion-mnist", CPU).Run(b, resume: false, cancel: TestContext.Current.CancellationToken).Model.Dispose();
        Assert.Throws<ArgumentException>(() => new Trainer(Quick(ModelKind.Wwae, 3), data, "fashion-mnist", CPU).Run(b, resume: false, cancel: TestContext.Current.CancellationToken));
        var (model, resumed) = new Trainer(Quick(ModelKind.Wwae, 3), data, "fashion-mnist", CPU).Run(b, resume: true, cancel: TestContext.Current.CancellationToken);
        model.Dispose();
        var full = Checkpoint.ReadState(a);
        Assert.Equal(3, resumed.EpochsDone);
        Assert.Equal(full.History[2].Loss, resumed.History[2].Loss, 3);
        // Only the latest epoch's files remain.
        Assert.Equal(["model-e3.bin", "optimizer-e3.bin"], Directory.GetFiles(b, "*.bin").Select(f => Path.GetFileName(f)!).Order().ToArray());
        // WAE-GAN resumes its adversary and the adversary's optimizer too.
        string g1 = Path.Combine(dir, "g1"), g2 = Path.Combine(dir, "g2");
        new Trainer(Quick(ModelKind.WaeGan, 2), data, "fashion-mnist", CPU).Run(g1, resume: false, cancel: TestContext.Current.CancellationToken).Model.Dispose();
        new Trainer(Quick(ModelKind.WaeGan, 1), data, "fashion-mnist", CPU).Run(g2, resume: false, cancel: TestContext.Current.CancellationToken).Model.Dispose();
        new Trainer(Quick(ModelKind.WaeGan, 2), data, "fashion-mnist", CPU).Run(g2, resume: true, cancel: TestContext.Current.CancellationToken).Model.Dispose();
        Assert.Equal(Checkpoint.ReadState(g1).History[1].Loss, Checkpoint.ReadState(g2).History[1].Loss, 3);
        Assert.Equal(["adversary-e2.bin", "adversary-optimizer-e2.bin", "model-e2.bin", "optimizer-e2.bin"],
            Directory.GetFiles(g2, "*.bin").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());
        var vae = Quick(ModelKind.Vae, 3);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(vae, data, "fashion-mnist", CPU).Run(b, resume: true, cancel: TestContext.Current.CancellationToken));
        Assert.Contains("Vae", e.Message);
    }
}
