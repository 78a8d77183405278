using System.CommandLine;
using System.Text.Json;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;
using static TorchSharp.torch;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow generate</c>: text or token generation with a MoE model folder, experts resident or offloaded.</summary>
internal static class GenerateCommand
{
    /// <summary>Everything <c>generate</c> was asked for, bound once from the command line.</summary>
    sealed record Settings(EngineOptions Engine, string? Prompt, int[]? InputIds, GenerationOptions Generation, int Batch, bool Json, string? StatsJson);

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json + *.safetensors, optionally tokenizer.json).", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (needs the folder's tokenizer)." };
        var inputIds = new Option<string?>("--input-ids") { Description = "Prompt token ids, comma-separated (e.g. 1,2,3)." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate per sequence.", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding (the default unless a sampling option is given)." };
        var temperature = new Option<double?>("--temperature") { Description = "Sampling temperature (> 0)." };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens (0: all)." };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling: the smallest set of tokens reaching probability p." };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var dtype = new Option<string>("--dtype") { Description = "fp32, fp16 or bf16 (auto: bf16 on CUDA, fp32 on the CPU).", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int>("--batch") { Description = "Run the prompt as this many sequences at once.", DefaultValueFactory = _ => 1 };
        var stop = new Option<string?>("--stop-ids") { Description = "Comma-separated stop token ids (default: the config's eos_token_id)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (output_ids per sequence, tokens_per_second, ...) instead of text." };
        var noGraphs = new Option<bool>("--no-cuda-graphs") { Description = "Decode eagerly on CUDA (by default, decode steps with resident experts replay a captured CUDA graph)." };
        var noFused = new Option<bool>("--no-fused-kernels") { Description = "On CUDA in bf16/fp16, run transformers' exact op sequence instead of libtorch's fused rms_norm and grouped expert GEMM." };
        var verbose = CommonOptions.Verbose();
        var command = new Command("generate", "Generate tokens with a MoE model (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-MoE, Switch Transformers), experts resident or offloaded.")
        {
            model, prompt, inputIds, maxNew, greedy, temperature, topK, topP, seed, device, dtype, batch, stop, json, noGraphs, noFused, verbose,
        };
        var offload = new OffloadSettings();
        offload.AddTo(command);
        command.SetAction(r =>
        {
            bool sampling = r.GetValue(temperature) != null || r.GetValue(topK) != null || r.GetValue(topP) != null;
            if (r.GetValue(greedy) && sampling) throw new ArgumentException("--greedy cannot be combined with --temperature, --top-k or --top-p.");
            if ((r.GetValue(prompt) == null) == (r.GetValue(inputIds) == null)) throw new ArgumentException("Give exactly one of --prompt TEXT or --input-ids 1,2,3.");
            if (r.GetValue(batch) < 1) throw new ArgumentException($"--batch must be at least 1 (got {r.GetValue(batch)}).");
            if (r.GetValue(maxNew) < 1) throw new ArgumentException($"--max-new-tokens must be at least 1 (got {r.GetValue(maxNew)}).");
            var dev = ComputeDevice.Resolve(r.GetValue(device)!);
            bool verboseLogs = r.GetValue(verbose) && !r.GetValue(json);
            var settings = new Settings(
                new EngineOptions
                {
                    ModelFolder = r.GetValue(model)!, Device = dev, DType = r.GetValue(dtype) == "auto" ? null : MoeModels.ParseDType(r.GetValue(dtype)!),
                    CudaGraphs = !r.GetValue(noGraphs), FusedKernels = !r.GetValue(noFused), Offload = offload.Bind(r), PredictorFolder = offload.PredictorFolder(r),
                },
                r.GetValue(prompt), r.GetValue(inputIds) is string ids ? OptionValues.Ints(ids, "--input-ids", 0).ToArray() : null,
                new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNew),
                    StopTokens = r.GetValue(stop) is string s ? OptionValues.Ints(s, "--stop-ids", 0).ToArray() : null,
                    Sampling = sampling
                        ? new SamplingOptions { Greedy = false, Temperature = r.GetValue(temperature) ?? 1.0, TopK = r.GetValue(topK) ?? 0, TopP = r.GetValue(topP) ?? 1.0, Seed = r.GetValue(seed) }
                        : new SamplingOptions(),
                },
                r.GetValue(batch), r.GetValue(json), offload.StatsJson(r));
            settings.Generation.Sampling.Validate();
            using var logging = CliApp.CreateLogging(r.GetValue(verbose));
            return Run(settings with { Engine = settings.Engine with { Log = verboseLogs ? logging.CreateLogger("expertflow") : null } });
        });
        return command;
    }

    static int Run(Settings s)
    {
        if (!Directory.Exists(s.Engine.ModelFolder)) throw new DirectoryNotFoundException($"--model '{s.Engine.ModelFolder}' is not a folder.");
        ModelTokenizer? tokenizer;
        if (s.Prompt != null) tokenizer = ModelTokenizer.Load(s.Engine.ModelFolder);
        else
        {
            try { tokenizer = ModelTokenizer.TryLoad(s.Engine.ModelFolder); }
            catch (InvalidDataException) { tokenizer = null; } // token ids in and out: the text is only a convenience
        }
        int[] ids = s.Prompt != null ? tokenizer!.Encode(s.Prompt) : s.InputIds!;
        if (ids.Length == 0) throw new ArgumentException("the prompt encodes to no tokens; give some text or token ids.");
        using var engine = InferenceEngine.Load(s.Engine, Workload.For(s.Batch, ids.Length, s.Generation.MaxNewTokens), tokenizer);
        bool stream = !s.Json && s.Batch == 1 && tokenizer != null;
        if (stream) Console.Write(s.Prompt ?? tokenizer!.Decode(ids));
        var result = engine.Generate(Enumerable.Repeat(ids, s.Batch).ToArray(), s.Generation with { OnToken = stream ? Streamer(tokenizer!) : null });
        if (stream) Console.WriteLine();
        var stats = engine.FinishOffload();
        if (stats != null && s.StatsJson != null) OffloadReport.WriteJson(s.StatsJson, stats);
        var model = engine.Model;
        bool cuda = model.Device.type == TorchSharp.DeviceType.CUDA;
        if (s.Json)
        {
            var report = new Dictionary<string, object?>
            {
                ["model"] = s.Engine.ModelFolder, ["model_type"] = model.Config.ModelType, ["device"] = model.Device.ToString(), ["dtype"] = model.DType.ToString(),
                ["batch"] = s.Batch, ["prompt_ids"] = ids, ["output_ids"] = result.OutputIds,
                ["text"] = tokenizer == null ? null : result.OutputIds.Select(o => tokenizer.Decode(o)).ToArray(),
                ["generated_tokens"] = result.GeneratedTokens, ["prefill_seconds"] = result.PrefillSeconds, ["decode_seconds"] = result.DecodeSeconds,
                ["tokens_per_second"] = result.TokensPerSecond, ["decode_tokens_per_second"] = result.DecodeTokensPerSecond,
            };
            if (stats != null) report["offload"] = OffloadReport.Document(stats);
            if (cuda) report["cuda_graphs"] = new { replays = model.GraphStats.Replays, captures = model.GraphStats.Captures, off_because = model.GraphStats.Off };
            if (cuda) report["fused_kernels"] = MoeModels.UsesFusedKernels(model.Device, model.DType);
            Console.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        if (stats != null) OffloadStatsView.Print(stats);
        if (!stream)
            for (int i = 0; i < result.OutputIds.Length; i++)
                AnsiConsole.MarkupLineInterpolated($"[grey]sequence {i}:[/] {(tokenizer != null ? tokenizer.Decode(result.OutputIds[i]) : string.Join(",", result.OutputIds[i]))}");
        AnsiConsole.MarkupLineInterpolated($"[grey]{result.GeneratedTokens} tokens, prefill {result.PrefillSeconds:F2} s, {result.TokensPerSecond:F1} tokens/s ({result.DecodeTokensPerSecond:F1} tokens/s decoding)[/]");
        if (cuda)
        {
            var (captures, replays, off) = model.GraphStats;
            AnsiConsole.MarkupLineInterpolated($"[grey]decoding: {(replays > 0 ? $"{replays} steps replayed from CUDA graphs ({captures} capture(s))" : "eager" + (off != null ? $" ({off})" : s.Engine.CudaGraphs ? " (no decode step was eligible: e.g. rows feeding several tokens)" : " (--no-cuda-graphs)"))}, fused kernels {(MoeModels.UsesFusedKernels(model.Device, model.DType) ? "on" : "off")}[/]");
        }
        return 0;
    }

    /// <summary>Prints the text of each new token as it arrives (decoding the whole tail keeps multi-byte characters whole).</summary>
    static Action<int, int> Streamer(ModelTokenizer tokenizer)
    {
        var tokens = new List<int>();
        string printed = "";
        return (_, token) =>
        {
            tokens.Add(token);
            string text = tokenizer.Decode(tokens);
            if (text.Length > printed.Length && !text.EndsWith('\uFFFD'))
            {
                Console.Write(text[printed.Length..]);
                printed = text;
            }
        };
    }
}
