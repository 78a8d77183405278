using System.Text.Json;
using ExpertFlow.Prediction;
using ExpertFlow.Tracing;
using Toolkit.Runtime.Safetensors;

namespace ExpertFlow.Cli.Tests;

/// <summary>
/// The real <c>expertflow</c> tool on broken folders: exit code 2, exactly one line on standard error naming the broken
/// file, nothing on standard output (so that <c>--json</c> output stays parseable); and on a valid folder, <c>--json</c>
/// prints nothing but the JSON.
/// </summary>
public class BrokenInputTests(BrokenFolders folders, ITestOutputHelper output) : IClassFixture<BrokenFolders>
{
    void AssertCleanError(ToolRun run, string file)
    {
        output.WriteLine(run.Stderr);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.True(run.ErrorLines.Length == 1, $"expected one line on stderr:\n{run}");
        Assert.StartsWith("error: ", run.ErrorLines[0]);
        Assert.Contains(file, run.ErrorLines[0]);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.True(run.Stdout.Length == 0, $"expected nothing on stdout:\n{run}");
    }

    static string[] Generate(string model, bool json) =>
        json ? ["generate", "--model", model, "--input-ids", "1,2,3", "--device", "cpu", "--json"] : ["generate", "--model", model, "--input-ids", "1,2,3", "--device", "cpu"];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generate_with_config_that_is_not_json(bool json) => AssertCleanError(Tool.Run(Generate(folders.ConfigNotJson, json)), "config.json");

    [Fact]
    public void Generate_with_config_that_is_an_array() => AssertCleanError(Tool.Run(Generate(folders.ConfigArray, json: false)), "config.json");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generate_with_truncated_weights(bool json) => AssertCleanError(Tool.Run(Generate(folders.TruncatedWeights, json)), SafetensorsCheckpoint.SingleFileName);

    [Fact]
    public void Generate_with_empty_weights() => AssertCleanError(Tool.Run(Generate(folders.EmptyWeights, json: true)), SafetensorsCheckpoint.SingleFileName);

    [Fact]
    public void Generate_with_an_index_naming_a_missing_shard() => AssertCleanError(Tool.Run(Generate(folders.MissingShard, json: false)), BrokenFolders.MissingShardName);

    [Fact]
    public void Generate_with_a_corrupt_predictor() =>
        AssertCleanError(Tool.Run([.. Generate(folders.Valid, json: true), "--policy", "expertflow", "--memory", "1MiB", "--predictor", folders.CorruptPredictor]), PredictorTrainer.WeightsFile);

    [Fact]
    public void Eval_predictor_with_a_corrupt_predictor() =>
        AssertCleanError(Tool.Run("eval-predictor", "--predictor", folders.CorruptPredictor, "--device", "cpu"), PredictorTrainer.WeightsFile);

    [Fact]
    public void Eval_predictor_with_a_corrupt_trace() =>
        AssertCleanError(Tool.Run("eval-predictor", "--predictor", folders.CorruptTrace, "--device", "cpu"), TraceSet.HeldOutFile);

    [Fact]
    public void Eval_predictor_with_another_models_trace() =>
        AssertCleanError(Tool.Run("eval-predictor", "--predictor", folders.ForeignTrace, "--device", "cpu"), TraceSet.TrainFile);

    [Fact]
    public void Eval_predictor_with_a_corrupt_calibration() =>
        AssertCleanError(Tool.Run("eval-predictor", "--predictor", folders.CorruptCalibration, "--device", "cpu", "--out", Path.Combine(folders.Root, "eval-" + Guid.NewGuid().ToString("N"))),
            PredictorCalibration.FileName);

    [Fact]
    public void Generate_with_a_corrupt_calibration() =>
        AssertCleanError(Tool.Run([.. Generate(folders.Valid, json: true), "--policy", "expertflow", "--memory", "1MiB", "--predictor", folders.CorruptCalibration]), PredictorCalibration.FileName);

    [Fact]
    public void Eval_predictor_calibrate_writes_the_temperature_and_reports_layers_and_calibration()
    {
        string outDir = Path.Combine(folders.Root, "eval-" + Guid.NewGuid().ToString("N"));
        var run = Tool.Run("eval-predictor", "--predictor", folders.ValidPredictor, "--calibrate", "--device", "cpu", "--out", outDir);
        Assert.True(run.ExitCode == 0, run.ToString());
        var calibration = PredictorCalibration.Load(folders.ValidPredictor);
        Assert.NotNull(calibration);
        Assert.True(calibration.BceAfter <= calibration.BceBefore + 1e-12, calibration.ToString());
        string report = File.ReadAllText(Path.Combine(outDir, "eval.md"));
        Assert.Contains("| prefill | 0 |", report);
        Assert.Contains("| ECE |", report);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        // prefill and decode x the fixture's 2 MoE layers; prefill and decode x raw and normalised x before and after the temperature
        Assert.Equal(4, results.RootElement.GetProperty("layers").GetArrayLength());
        Assert.Equal(8, results.RootElement.GetProperty("calibration").GetArrayLength());
        Assert.True(File.Exists(Path.Combine(outDir, "reliability.png")) || run.Stderr.Contains("not drawn"), run.ToString());
    }

    string[] EvalCache(string model, string predictor) =>
        ["eval-cache", "--model", model, "--predictor", predictor, "--policies", "lru", "--cache", "0.5", "--batch", "1", "--new-tokens", "2",
         "--runs", "1", "--plots", "false", "--device", "cpu", "--out", Path.Combine(folders.Root, "eval-cache-" + Guid.NewGuid().ToString("N"))];

    [Fact]
    public void Eval_cache_with_config_that_is_not_json() => AssertCleanError(Tool.Run(EvalCache(folders.ConfigNotJson, folders.CorruptTrace)), "config.json");

    [Fact]
    public void Eval_cache_with_a_corrupt_predictor() => AssertCleanError(Tool.Run(EvalCache(folders.Valid, folders.CorruptPredictor)), PredictorTrainer.WeightsFile);

    [Fact]
    public void Eval_cache_with_a_corrupt_trace() => AssertCleanError(Tool.Run(EvalCache(folders.Valid, folders.CorruptTrace)), TraceSet.HeldOutFile);

    [Fact]
    public void Eval_cache_with_another_models_trace() => AssertCleanError(Tool.Run(EvalCache(folders.Valid, folders.ForeignTrace)), TraceSet.HeldOutFile);

    [Fact]
    public void Generate_json_prints_nothing_but_the_json()
    {
        var run = Tool.Run([.. Generate(folders.Valid, json: true), "--max-new-tokens", "3"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var document = JsonDocument.Parse(run.Stdout); // throws on anything but one JSON value
        Assert.Equal(3, document.RootElement.GetProperty("output_ids")[0].GetArrayLength());
        Assert.Equal([1, 2, 3], document.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()));
    }
}
