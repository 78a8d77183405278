using System.CommandLine;
using System.Text.Json;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Offloading;
using ExpertFlow.Scheduling;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow generate</c>: text or token generation with a MoE model folder, experts resident or offloaded.</summary>
internal static class GenerateCommand
{
    /// <summary>Everything <c>generate</c> was asked for, bound once from the command line.</summary>
    sealed record Settings(EngineOptions Engine, string? Prompt, int[]? InputIds, string? PromptsFile, int? MaxNewTokens, SamplingRequest Sampling,
        int[]? StopIds, IReadOnlyList<string> StopStrings, bool ShowSpecial, bool AddSpecialTokens, int Batch, int MaxSequences, bool Json, string? StatsJson);

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json, *.safetensors or a sharded index, tokenizer.json, tokenizer_config.json, generation_config.json).", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (encoded with the folder's tokenizer, BOS added as the model expects)." };
        var inputIds = new Option<string?>("--input-ids") { Description = "Prompt token ids, comma-separated (e.g. 1,2,3)." };
        var promptsFile = new Option<string?>("--prompts-file") { Description = "Many prompts, batched: a text file (one prompt per line) or .jsonl (objects with a \"prompt\" string). Continuous batching over --max-sequences rows; with --policy expertflow the token scheduler regroups them into two batches by predicted paths." };
        var maxNew = new Option<int?>("--max-new-tokens") { Description = "Tokens to generate per sequence (default: generation_config.json's max_new_tokens, else 64)." };
        var device = CommonOptions.Device();
        var dtype = new Option<string>("--dtype") { Description = "fp32, fp16 or bf16 (auto: bf16 on CUDA, fp32 on the CPU).", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int>("--batch") { Description = "Run the prompt as this many sequences at once (a throughput check).", DefaultValueFactory = _ => 1 };
        var maxSequences = new Option<int>("--max-sequences") { Description = "With --prompts-file: sequences in flight at once.", DefaultValueFactory = _ => 16 };
        var stop = new Option<string?>("--stop-ids") { Description = "Comma-separated stop token ids (default: generation_config.json's eos_token_id, else config.json's)." };
        var stopText = new Option<string[]>("--stop") { Description = "A stop string (repeatable): generation ends once the text holds it (added to generation_config.json's stop_strings).", AllowMultipleArgumentsPerToken = false };
        var showSpecial = new Option<bool>("--show-special") { Description = "Print special tokens (e.g. <|endoftext|>) in the text instead of leaving them out." };
        var raw = new Option<bool>("--no-special-tokens") { Description = "Encode the prompt as it is: no BOS/EOS added by the tokenizer." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text: one object (with --prompts-file: one object per prompt, one per line)." };
        var noGraphs = new Option<bool>("--no-cuda-graphs") { Description = "Decode eagerly on CUDA (by default, decode steps with resident experts replay a captured CUDA graph)." };
        var noFused = new Option<bool>("--no-fused-kernels") { Description = "On CUDA in bf16/fp16, run transformers' exact op sequence instead of libtorch's fused rms_norm and grouped expert GEMM." };
        var verbose = CommonOptions.Verbose();
        var experts = new ExpertFormatSettings();
        var command = new Command("generate", "Generate text with a MoE model folder (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-MoE, Switch Transformers), experts resident or offloaded.")
        {
            model, prompt, inputIds, promptsFile, maxNew, device, dtype, batch, maxSequences, stop, stopText,
            showSpecial, raw, json, noGraphs, noFused, verbose,
        };
        experts.AddTo(command);
        var sampling = new SamplingSettings();
        sampling.AddTo(command);
        var offload = new OffloadSettings();
        offload.AddTo(command);
        command.SetAction(r =>
        {
            int given = (r.GetValue(prompt) != null ? 1 : 0) + (r.GetValue(inputIds) != null ? 1 : 0) + (r.GetValue(promptsFile) != null ? 1 : 0);
            if (given != 1) throw new ArgumentException("Give exactly one of --prompt TEXT, --input-ids 1,2,3 or --prompts-file FILE.");
            if (r.GetValue(batch) < 1) throw new ArgumentException($"--batch must be at least 1 (got {r.GetValue(batch)}).");
            if (r.GetValue(maxSequences) < 1) throw new ArgumentException($"--max-sequences must be at least 1 (got {r.GetValue(maxSequences)}).");
            if (r.GetValue(maxNew) is < 1) throw new ArgumentException($"--max-new-tokens must be at least 1 (got {r.GetValue(maxNew)}).");
            var settings = new Settings(
                new EngineOptions
                {
                    ModelFolder = r.GetValue(model)!, Device = ComputeDevice.Resolve(r.GetValue(device)!), DType = r.GetValue(dtype) == "auto" ? null : MoeModels.ParseDType(r.GetValue(dtype)!), ExpertFormat = experts.Bind(r),
                    CudaGraphs = !r.GetValue(noGraphs), FusedKernels = !r.GetValue(noFused), Offload = offload.Bind(r), PredictorFolder = offload.PredictorFolder(r),
                },
                r.GetValue(prompt), r.GetValue(inputIds) is string ids ? OptionValues.Ints(ids, "--input-ids", 0).ToArray() : null, r.GetValue(promptsFile),
                r.GetValue(maxNew), sampling.Bind(r),
                r.GetValue(stop) is string s ? OptionValues.Ints(s, "--stop-ids", 0).ToArray() : null, r.GetValue(stopText) ?? [],
                r.GetValue(showSpecial), !r.GetValue(raw), r.GetValue(batch), r.GetValue(maxSequences), r.GetValue(json), offload.StatsJson(r));
            if (settings.PromptsFile != null && settings.Batch > 1) throw new ArgumentException("--batch repeats one prompt; with --prompts-file use --max-sequences.");
            using var logging = CliApp.CreateLogging(r.GetValue(verbose));
            return Run(settings with { Engine = settings.Engine with { Log = r.GetValue(verbose) ? logging.CreateLogger("expertflow") : null } });
        });
        return command;
    }

    static int Run(Settings s)
    {
        if (!Directory.Exists(s.Engine.ModelFolder)) throw new DirectoryNotFoundException($"--model '{s.Engine.ModelFolder}' is not a folder.");
        bool text = s.Prompt != null || s.PromptsFile != null;
        ModelTokenizer? tokenizer;
        if (text) tokenizer = ModelTokenizer.Load(s.Engine.ModelFolder);
        else
        {
            try { tokenizer = ModelTokenizer.TryLoad(s.Engine.ModelFolder); }
            catch (FormatException) { tokenizer = null; } // token ids in and out: the text is only a convenience
        }
        var texts = s.PromptsFile != null ? PromptFile.Read(s.PromptsFile) : s.Prompt != null ? [s.Prompt] : null;
        var prompts = texts?.Select(t => tokenizer!.Encode(t, s.AddSpecialTokens)).ToArray() ?? [s.InputIds!];
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("a prompt encodes to no tokens; give some text or token ids.");
        var generationConfig = GenerationConfig.Load(s.Engine.ModelFolder);
        int maxNew = s.MaxNewTokens ?? generationConfig?.MaxNewTokens ?? 64;
        int rows = s.PromptsFile != null ? Math.Min(prompts.Length, s.MaxSequences) : s.Batch;
        using var engine = InferenceEngine.Load(s.Engine, Workload.For(rows, prompts.Max(p => p.Length), maxNew), tokenizer);
        var sampling = GenerationConfig.Resolve(engine.GenerationConfig, s.Sampling);
        var stopIds = s.StopIds ?? engine.StopTokenIds.ToArray();
        var stopStrings = s.StopStrings.Concat(engine.GenerationConfig?.StopStrings ?? []).Distinct().ToArray();
        var ended = StopStrings.Matcher(tokenizer, stopStrings);
        string Text(int[] ids) => tokenizer == null ? string.Join(",", ids) : StopStrings.Cut(tokenizer.Decode(ids, skipSpecialTokens: !s.ShowSpecial), stopStrings);

        if (s.PromptsFile != null) return RunMany(s, engine, texts!, prompts, maxNew, sampling, stopIds, ended, Text);

        bool stream = !s.Json && s.Batch == 1 && tokenizer != null;
        var textStream = stream ? tokenizer!.CreateStream(skipSpecialTokens: !s.ShowSpecial) : null;
        if (stream) Console.Write(s.Prompt ?? tokenizer!.Decode(prompts[0], skipSpecialTokens: !s.ShowSpecial));
        var result = engine.Generate(Enumerable.Repeat(prompts[0], s.Batch).ToArray(), new GenerationOptions
        {
            MaxNewTokens = maxNew, Sampling = sampling, StopTokens = stopIds,
            Ended = ended == null ? null : (_, tokens) => ended(tokens),
            OnToken = textStream == null ? null : (_, token) => Console.Write(textStream.Append(token)),
        });
        if (stream) Console.WriteLine(textStream!.Flush());
        var stats = engine.FinishOffload();
        if (stats != null && s.StatsJson != null) OffloadReport.WriteJson(s.StatsJson, stats);
        var model = engine.Model;
        bool cuda = model.Device.type == TorchSharp.DeviceType.CUDA;
        if (s.Json)
        {
            var report = new Dictionary<string, object?>
            {
                ["model"] = s.Engine.ModelFolder, ["model_type"] = model.Config.ModelType, ["device"] = model.Device.ToString(), ["dtype"] = model.DType.ToString(),
                ["batch"] = s.Batch, ["prompt_ids"] = prompts[0], ["output_ids"] = result.OutputIds,
                ["text"] = tokenizer == null ? null : result.OutputIds.Select(Text).ToArray(),
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
                AnsiConsole.MarkupLineInterpolated($"[grey]sequence {i}:[/] {Text(result.OutputIds[i])}");
        CliApp.Error.MarkupLineInterpolated($"[grey]{result.GeneratedTokens} tokens, prefill {result.PrefillSeconds:F2} s, {result.TokensPerSecond:F1} tokens/s ({result.DecodeTokensPerSecond:F1} tokens/s decoding)[/]");
        if (cuda)
        {
            var (captures, replays, off) = model.GraphStats;
            CliApp.Error.MarkupLineInterpolated($"[grey]decoding: {(replays > 0 ? $"{replays} steps replayed from CUDA graphs ({captures} capture(s))" : "eager" + (off != null ? $" ({off})" : s.Engine.CudaGraphs ? " (no decode step was eligible: e.g. rows feeding several tokens)" : " (--no-cuda-graphs)"))}, fused kernels {(MoeModels.UsesFusedKernels(model.Device, model.DType) ? "on" : "off")}[/]");
        }
        return 0;
    }

    /// <summary>--prompts-file: every prompt through the continuous-batching scheduler; results printed in prompt order.</summary>
    static int RunMany(Settings s, InferenceEngine engine, IReadOnlyList<string> texts, int[][] prompts, int maxNew, SamplingOptions sampling, int[] stopIds,
        Func<IReadOnlyList<int>, bool>? ended, Func<int[], string> text)
    {
        using var scheduler = engine.CreateScheduler(Math.Min(prompts.Length, s.MaxSequences), prompts.Max(p => p.Length) + maxNew);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tasks = prompts.Select(p => scheduler.Enqueue(new SequenceRequest { Prompt = p, MaxNewTokens = maxNew, Sampling = sampling, StopTokens = stopIds, Ended = ended })).ToArray();
        if (s.Json) scheduler.RunUntilIdle();
        else
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask("generating", maxValue: prompts.Length);
                    while (scheduler.Busy)
                    {
                        scheduler.Step();
                        bar.Value = tasks.Count(t => t.IsCompleted);
                    }
                });
        double seconds = clock.Elapsed.TotalSeconds;
        var results = tasks.Select(t => t.Result).ToArray();
        var stats = engine.FinishOffload();
        if (stats != null && s.StatsJson != null) OffloadReport.WriteJson(s.StatsJson, stats);
        for (int i = 0; i < results.Length; i++)
        {
            if (s.Json)
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    index = i, prompt = texts[i], prompt_ids = prompts[i], output_ids = results[i].Tokens, text = text(results[i].Tokens),
                    finish_reason = results[i].Reason.ToString().ToLowerInvariant(), time_to_first_token_seconds = results[i].TimeToFirstTokenSeconds,
                }));
            else
            {
                AnsiConsole.MarkupLineInterpolated($"[grey]── {i + 1} ──[/] {texts[i]}");
                Console.WriteLine(text(results[i].Tokens));
            }
        }
        if (!s.Json)
        {
            if (stats != null) OffloadStatsView.Print(stats);
            long tokens = results.Sum(r => (long)r.Tokens.Length);
            CliApp.Error.MarkupLineInterpolated($"[grey]{prompts.Length} prompts, {tokens} tokens in {seconds:F2} s ({tokens / Math.Max(seconds, 1e-9):F1} tokens/s), {scheduler.DecodeSteps} decode rounds, up to {scheduler.Rows} sequences at once{(scheduler.SchedulerSeconds > 0 ? $", token scheduler {scheduler.SchedulerSeconds:F2} s" : "")}[/]");
        }
        return 0;
    }
}
