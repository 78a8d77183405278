using System.CommandLine;
using System.Text.Json;
using ExpertFlow.Model;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow generate</c>: text or token generation with a MoE model folder, all experts resident.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json + *.safetensors, optionally tokenizer.json).", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (needs the folder's tokenizer.json)." };
        var inputIds = new Option<string?>("--input-ids") { Description = "Prompt token ids, comma-separated (e.g. 1,2,3)." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate per sequence.", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy decoding (the default unless a sampling option is given)." };
        var temperature = new Option<double?>("--temperature") { Description = "Sampling temperature (> 0)." };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens (0: all)." };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling: the smallest set of tokens reaching probability p." };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var dtype = new Option<string>("--dtype") { Description = "fp32, fp16 or bf16 (auto: bf16 on CUDA, fp32 on CPU).", DefaultValueFactory = _ => "auto" };
        var batch = new Option<int>("--batch") { Description = "Run the prompt as this many sequences at once.", DefaultValueFactory = _ => 1 };
        var stop = new Option<string?>("--stop-ids") { Description = "Comma-separated stop token ids (default: the config's eos_token_id)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (output_ids per sequence, tokens_per_second, ...) instead of text." };
        var noGraphs = new Option<bool>("--no-cuda-graphs") { Description = "Decode eagerly on CUDA (by default, decode steps with resident experts replay a captured CUDA graph)." };
        var noFused = new Option<bool>("--no-fused-kernels") { Description = "On CUDA in bf16/fp16, run transformers' exact op sequence instead of libtorch's fused rms_norm and grouped expert GEMM." };
        var verbose = CommonOptions.Verbose();
        var command = new Command("generate", "Generate tokens with a MoE model (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-MoE, Switch Transformers).")
        {
            model, prompt, inputIds, maxNew, greedy, temperature, topK, topP, seed, device, dtype, batch, stop, json, noGraphs, noFused, verbose,
        };
        var offload = new OffloadCliOptions();
        offload.AddTo(command);
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(prompt), r.GetValue(inputIds), r.GetValue(maxNew), r.GetValue(greedy),
            r.GetValue(temperature), r.GetValue(topK), r.GetValue(topP), r.GetValue(seed), r.GetValue(device)!, r.GetValue(dtype)!,
            r.GetValue(batch), r.GetValue(stop), r.GetValue(json), r.GetValue(verbose), offload.Read(r), !r.GetValue(noGraphs), !r.GetValue(noFused)));
        return command;
    }

    internal static int[] ParseIds(string text, string option)
    {
        try
        {
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option} '{text}' must be comma-separated integers, as in 1,2,3.");
        }
    }

    static int Run(string folder, string? prompt, string? inputIds, int maxNew, bool greedy, double? temperature, int? topK, double? topP,
        int seed, string deviceSpec, string dtypeText, int batch, string? stopIds, bool json, bool verbose, OffloadCliOptions.Choice? offload = null, bool cudaGraphs = true, bool fusedKernels = true)
    {
        MoeModels.FusedCudaKernels = fusedKernels;
        if ((prompt == null) == (inputIds == null)) throw new ArgumentException("Give exactly one of --prompt TEXT or --input-ids 1,2,3.");
        bool sampling = temperature != null || topK != null || topP != null;
        if (greedy && sampling) throw new ArgumentException("--greedy cannot be combined with --temperature, --top-k or --top-p.");
        if (batch < 1) throw new ArgumentException($"--batch must be at least 1 (got {batch}).");
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--model '{folder}' is not a folder.");
        var device = ComputeDevice.Resolve(deviceSpec);
        var dtype = dtypeText == "auto" ? (device.type == TorchSharp.DeviceType.CUDA ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32) : MoeModels.ParseDType(dtypeText);
        using var logging = CliApp.CreateLogging(verbose);
        ModelTokenizer? tokenizer = null;
        try { tokenizer = ModelTokenizer.Load(folder); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            if (prompt != null) throw;
        }
        int[] ids = prompt != null ? tokenizer!.Encode(prompt) : ParseIds(inputIds!, "--input-ids");
        IMoeModel? loaded = null;
        var offloading = offload == null ? null
            : OffloadCliOptions.CreateProvider(offload, () => loaded!, batch, ids.Length, ids.Length + maxNew, verbose && !json ? logging.CreateLogger("offload") : null);
        using var model = loaded = MoeModels.Load(folder, new ModelLoadOptions { Device = device, DType = dtype, Experts = offloading, CudaGraphs = cudaGraphs, Log = verbose && !json ? logging.CreateLogger("expertflow") : null });
        if (offloading != null) model.Observers.Add(offloading);
        var options = new GenerationOptions
        {
            MaxNewTokens = maxNew,
            StopTokens = stopIds == null ? null : ParseIds(stopIds, "--stop-ids"),
            Sampling = sampling
                ? new SamplingOptions { Greedy = false, Temperature = temperature ?? 1.0, TopK = topK ?? 0, TopP = topP ?? 1.0, Seed = seed }
                : new SamplingOptions(),
            OnToken = !json && batch == 1 && tokenizer != null ? Streamer(tokenizer) : null,
        };
        if (!json && batch == 1 && tokenizer != null) Console.Write(prompt ?? tokenizer.Decode(ids));
        var prompts = Enumerable.Repeat(ids, batch).ToArray();
        var result = Generation.Generate(model, prompts, options);
        if (!json && batch == 1 && tokenizer != null && offloading != null) Console.WriteLine();
        object? offloadStats = offloading == null ? null : OffloadCliOptions.Finish(offload!, offloading, json);
        if (json)
        {
            var report = new Dictionary<string, object?>
            {
                ["model"] = folder, ["model_type"] = model.Config.ModelType, ["device"] = device.ToString(), ["dtype"] = dtype.ToString(),
                ["batch"] = batch, ["prompt_ids"] = ids, ["output_ids"] = result.OutputIds,
                ["text"] = tokenizer == null ? null : result.OutputIds.Select(o => tokenizer.Decode(o)).ToArray(),
                ["generated_tokens"] = result.GeneratedTokens, ["prefill_seconds"] = result.PrefillSeconds, ["decode_seconds"] = result.DecodeSeconds,
                ["tokens_per_second"] = result.TokensPerSecond, ["decode_tokens_per_second"] = result.DecodeTokensPerSecond,
            };
            if (offloadStats != null) report["offload"] = offloadStats;
            if (model is MoeCausalLM lm && device.type == TorchSharp.DeviceType.CUDA)
                report["cuda_graphs"] = new { replays = lm.GraphStats.Replays, captures = lm.GraphStats.Captures, off_because = lm.GraphStats.Off };
            if (device.type == TorchSharp.DeviceType.CUDA) report["fused_kernels"] = MoeModels.UsesFusedKernels(device, dtype);
            Console.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        if (batch == 1 && tokenizer != null) Console.WriteLine();
        else
            for (int i = 0; i < result.OutputIds.Length; i++)
                AnsiConsole.MarkupLineInterpolated($"[grey]sequence {i}:[/] {(tokenizer != null ? tokenizer.Decode(result.OutputIds[i]) : string.Join(",", result.OutputIds[i]))}");
        AnsiConsole.MarkupLineInterpolated($"[grey]{result.GeneratedTokens} tokens, prefill {result.PrefillSeconds:F2} s, {result.TokensPerSecond:F1} tokens/s ({result.DecodeTokensPerSecond:F1} tokens/s decoding)[/]");
        if (model is MoeCausalLM causal && device.type == TorchSharp.DeviceType.CUDA)
        {
            var (captures, replays, off) = causal.GraphStats;
            AnsiConsole.MarkupLineInterpolated($"[grey]decoding: {(replays > 0 ? $"{replays} steps replayed from CUDA graphs ({captures} capture(s))" : "eager" + (off != null ? $" ({off})" : cudaGraphs ? " (no decode step was eligible: e.g. rows feeding several tokens)" : " (--no-cuda-graphs)"))}, fused kernels {(MoeModels.UsesFusedKernels(device, dtype) ? "on" : "off")}[/]");
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
