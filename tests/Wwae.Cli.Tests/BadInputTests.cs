using System.Text;
using Toolkit.Runtime;
using Wwae.Evaluation;

namespace Wwae.Cli.Tests;

/// <summary>
/// The wwae tool on bad input: damaged weight files, truncated checkpoints, unusable output paths, diverging training and
/// damaged images. Each must end with exit code 2 and exactly one line on standard error that names the problem.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("wwae-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A folder of 28x28-able images for quick runs (about 80 % land in the train split).</summary>
    string Images(int count = 90)
    {
        string folder = Path.Combine(dir, "images");
        if (!Directory.Exists(folder)) ImageFolders.Write(folder, count);
        return folder;
    }

    /// <summary>Arguments of a quick training run; <paramref name="extra"/> adds options or overrides the defaults ("--option value" pairs or flags).</summary>
    string[] QuickTrain(string output, params string[] extra)
    {
        var options = new List<(string Name, string? Value)>
        {
            ("--data", "folder:" + Images()), ("--image-size", "28"), ("--width", "4"), ("--latent", "4"), ("--batch-size", "16"),
            ("--epochs", "1"), ("--max-steps-per-epoch", "2"), ("--device", "cpu"), ("--out", output),
        };
        for (int i = 0; i < extra.Length; i++)
        {
            string? value = i + 1 < extra.Length && !extra[i + 1].StartsWith("--", StringComparison.Ordinal) ? extra[++i] : null;
            options.RemoveAll(o => o.Name == extra[value == null ? i : i - 1]);
            options.Add((extra[value == null ? i : i - 1], value));
        }
        return ["train", .. options.SelectMany(o => o.Value == null ? new[] { o.Name } : [o.Name, o.Value])];
    }

    /// <summary>A trained run folder (the tool itself writes it).</summary>
    string TrainedRun()
    {
        string run = Path.Combine(dir, "run");
        var result = Tool.Run(QuickTrain(run));
        Assert.True(result.ExitCode == 0, result.ToString());
        return run;
    }

    static void AssertBadInput(ToolRun run, params string[] mentions)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        var errors = run.ErrorLines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToArray();
        Assert.True(errors.Length == 1, run.ToString());
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.DoesNotContain("unexpected", run.Stderr);
        foreach (var m in mentions) Assert.Contains(m, errors[0]);
    }

    [Fact]
    public void TruncatedCheckpointIsNamed()
    {
        string run = TrainedRun();
        string weights = Path.Combine(run, "model-e1.bin");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights).AsSpan(0, 700).ToArray());
        AssertBadInput(Tool.Run("sample", "--run", run, "--out", Path.Combine(dir, "s.png"), "--device", "cpu"), "model-e1.bin", "damaged");
        AssertBadInput(Tool.Run(QuickTrain(run, "--resume", "--epochs", "2")), "model-e1.bin");
        // The optimizer state too: resume with intact weights but a cut optimizer file.
        string other = Path.Combine(dir, "run2");
        Assert.Equal(0, Tool.Run(QuickTrain(other)).ExitCode);
        string optimizer = Path.Combine(other, "optimizer-e1.bin");
        File.WriteAllBytes(optimizer, File.ReadAllBytes(optimizer).AsSpan(0, 100).ToArray());
        AssertBadInput(Tool.Run(QuickTrain(other, "--resume", "--epochs", "2")), "optimizer-e1.bin");
        // state.json that is not JSON.
        File.WriteAllText(Path.Combine(other, "state.json"), "{ not json");
        AssertBadInput(Tool.Run("sample", "--run", other, "--out", Path.Combine(dir, "s.png"), "--device", "cpu"), "state.json");
    }

    [Fact]
    public void CorruptClassifierWeightsAreNamed()
    {
        string run = TrainedRun();
        LibTorch.EnsureLoaded();
        // A classifier file of the right kind but cut short, one of random bytes, and a damaged shape file.
        string good = Path.Combine(dir, "classifier.bin");
        using (var classifier = new DatasetClassifier(3, 28, 10)) classifier.Save(good);
        string cut = Path.Combine(dir, "cut.bin");
        File.WriteAllBytes(cut, File.ReadAllBytes(good).AsSpan(0, 3000).ToArray());
        File.Copy(good + ".shape", cut + ".shape");
        string noise = Path.Combine(dir, "noise.bin");
        File.WriteAllBytes(noise, Enumerable.Range(0, 5000).Select(i => (byte)(i * 37 % 251)).ToArray());
        File.Copy(good + ".shape", noise + ".shape");
        string badShape = Path.Combine(dir, "shape.bin");
        File.Copy(good, badShape);
        File.WriteAllText(badShape + ".shape", "3 x");
        foreach (var (file, mention) in new[] { (cut, "cut.bin"), (noise, "noise.bin"), (badShape, "shape.bin.shape") })
            AssertBadInput(Tool.Run("eval", "--runs", run, "--data", "folder:" + Images(), "--image-size", "28", "--features", "classifier",
                "--classifier", file, "--samples", "8", "--device", "cpu", "--out", Path.Combine(dir, "e.json")), mention);
    }

    [Fact]
    public void CorruptInceptionWeightsAreNamed()
    {
        string run = TrainedRun();
        string noise = Path.Combine(dir, "noise.safetensors");
        File.WriteAllBytes(noise, Enumerable.Range(0, 5000).Select(i => (byte)(i * 91 % 253)).ToArray());
        // A well-formed safetensors file that is not the Inception state dict (one small tensor).
        string foreign = Path.Combine(dir, "foreign.safetensors");
        string header = "{\"Conv2d_1a_3x3.conv.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        var bytes = new List<byte>(BitConverter.GetBytes((ulong)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(new byte[8]);
        File.WriteAllBytes(foreign, bytes.ToArray());
        // The same, cut inside its data.
        string cut = Path.Combine(dir, "cut.safetensors");
        File.WriteAllBytes(cut, bytes.Take(bytes.Count - 4).ToArray());
        foreach (var (file, mention) in new[] { (noise, "noise.safetensors"), (foreign, "foreign.safetensors"), (cut, "cut.safetensors") })
            AssertBadInput(Tool.Run("eval", "--runs", run, "--data", "folder:" + Images(), "--image-size", "28", "--features", "inception",
                "--inception-weights", file, "--samples", "8", "--device", "cpu", "--out", Path.Combine(dir, "e.json")), mention);
    }

    [Fact]
    public void OutputUnderAFileIsRefused()
    {
        string file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "x");
        AssertBadInput(Tool.Run(QuickTrain(Path.Combine(file, "run"))), "a-file", "--out");
        AssertBadInput(Tool.Run("w2-bias", "--batch-sizes", "20", "--latents", "4", "--draws", "10", "--out", Path.Combine(file, "bias.json")), "a-file");
    }

    [Theory]
    [InlineData("wwae")]
    [InlineData("vae")]
    [InlineData("wae-gan")]
    public void DivergenceStopsWithAdvice(string model)
    {
        var run = Tool.Run(QuickTrain(Path.Combine(dir, "diverge-" + model), "--model", model, "--lr", "1e30", "--max-steps-per-epoch", "5"));
        AssertBadInput(run, "diverged", "lower --lr");
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpg")]
    public void TruncatedImagesAreCountedAndRefused(string extension)
    {
        string folder = Images();
        // Three files of the train split (the split is a hash of the file name).
        var damaged = Directory.GetFiles(folder, "*." + extension).Order()
            .Where(f => Wwae.Data.Datasets.SplitOf(Path.GetFileName(f)) == Wwae.Data.DatasetSplit.Train).Take(3).ToList();
        int trainCount = Directory.GetFiles(folder).Count(f => Wwae.Data.Datasets.SplitOf(Path.GetFileName(f)) == Wwae.Data.DatasetSplit.Train);
        foreach (var f in damaged) ImageFolders.Truncate(f);
        var run = Tool.Run(QuickTrain(Path.Combine(dir, "r")));
        Assert.True(run.ExitCode == 2, run.ToString());
        var error = Assert.Single(run.ErrorLines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains($"error: 3 of {trainCount} images in '{folder}' cannot be decoded", error);
        Assert.Contains(Path.GetFileName(damaged[0]), error);
        Assert.Contains("--skip-damaged", error);
        // With --skip-damaged the run trains without them and says how many it left out.
        var skipped = Tool.Run(QuickTrain(Path.Combine(dir, "s"), "--skip-damaged"));
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        int leftOut = skipped.ErrorLines.Where(l => l.Contains("left out")).Sum(l => int.Parse(System.Text.RegularExpressions.Regex.Match(l, @"left out (\d+) of").Groups[1].Value));
        Assert.Equal(3, leftOut);
    }

    [Fact]
    public void FolderRunResumesToTheSameState()
    {
        string whole = Path.Combine(dir, "whole"), split = Path.Combine(dir, "split");
        Assert.Equal(0, Tool.Run(QuickTrain(whole, "--epochs", "2", "--seed", "5")).ExitCode);
        Assert.Equal(0, Tool.Run(QuickTrain(split, "--epochs", "1", "--seed", "5")).ExitCode);
        var resumed = Tool.Run(QuickTrain(split, "--epochs", "2", "--seed", "5", "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var a = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(whole, "state.json"))).RootElement.GetProperty("History");
        var b = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(split, "state.json"))).RootElement.GetProperty("History");
        Assert.Equal(2, b.GetArrayLength());
        Assert.Equal(a[1].GetProperty("Loss").GetDouble(), b[1].GetProperty("Loss").GetDouble(), 3);
        // Without --resume the folder is not overwritten.
        AssertBadInput(Tool.Run(QuickTrain(split, "--epochs", "3", "--seed", "5")), "--resume");
    }
}
