using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using Spectre.Console;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary>
/// <c>expertflow chat</c>: an interactive conversation with a model folder through its own chat template, tokenizer and
/// generation config; replies stream as they are generated. Reads one message per line from standard input (a
/// terminal or a pipe); /reset starts over, /stats prints the expert cache's statistics, /exit (or end of input) ends.
/// </summary>
internal static class ChatCommand
{
    sealed record Settings(EngineOptions Engine, string? System, int? MaxNewTokens, int? Context, SamplingRequest Sampling, string? Template,
        IReadOnlyDictionary<string, JsonNode?> TemplateArgs, bool ShowSpecial);

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder with a chat template (tokenizer_config.json or chat_template.jinja).", Required = true };
        var system = new Option<string?>("--system") { Description = "A system message that starts the conversation." };
        var maxNew = new Option<int?>("--max-new-tokens") { Description = "Tokens per reply at most (default: generation_config.json's max_new_tokens, else 512)." };
        var context = new Option<int?>("--context") { Description = "Positions the conversation may take (default: 4096 or the model's max_position_embeddings if smaller); older turns are dropped to fit." };
        var template = new Option<string?>("--template") { Description = "Which of the model's named chat templates to use (default: 'default')." };
        var templateArgs = new Option<string[]>("--template-arg") { Description = "A template variable as KEY=VALUE (repeatable; VALUE is JSON, e.g. enable_thinking=false, or a plain string)." };
        var showSpecial = new Option<bool>("--show-special") { Description = "Print special tokens in replies." };
        var device = CommonOptions.Device();
        var dtype = new Option<string>("--dtype") { Description = "fp32, fp16 or bf16 (auto: bf16 on CUDA, fp32 on the CPU).", DefaultValueFactory = _ => "auto" };
        var verbose = CommonOptions.Verbose();
        var experts = new ExpertFormatSettings();
        var command = new Command("chat", "Talk to a model: its chat template, tokenizer and generation config, replies streamed; /reset, /stats, /exit.")
        {
            model, system, maxNew, context, template, templateArgs, showSpecial, device, dtype, verbose,
        };
        experts.AddTo(command);
        var sampling = new SamplingSettings();
        sampling.AddTo(command);
        var offload = new OffloadSettings();
        offload.AddTo(command);
        command.SetAction(r =>
        {
            if (r.GetValue(maxNew) is < 1) throw new ArgumentException($"--max-new-tokens must be at least 1 (got {r.GetValue(maxNew)}).");
            if (r.GetValue(context) is < 2) throw new ArgumentException($"--context must be at least 2 positions (got {r.GetValue(context)}).");
            var settings = new Settings(
                new EngineOptions
                {
                    ModelFolder = r.GetValue(model)!, Device = ComputeDevice.Resolve(r.GetValue(device)!), DType = r.GetValue(dtype) == "auto" ? null : MoeModels.ParseDType(r.GetValue(dtype)!), ExpertFormat = experts.Bind(r),
                    Offload = offload.Bind(r), PredictorFolder = offload.PredictorFolder(r),
                },
                r.GetValue(system), r.GetValue(maxNew), r.GetValue(context), sampling.Bind(r), r.GetValue(template), TemplateArgs(r.GetValue(templateArgs) ?? []), r.GetValue(showSpecial));
            using var logging = CliApp.CreateLogging(r.GetValue(verbose));
            return Run(settings with { Engine = settings.Engine with { Log = r.GetValue(verbose) ? logging.CreateLogger("expertflow") : null } });
        });
        return command;
    }

    static IReadOnlyDictionary<string, JsonNode?> TemplateArgs(string[] pairs)
    {
        var args = new Dictionary<string, JsonNode?>();
        foreach (var pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--template-arg '{pair}': write KEY=VALUE, as in enable_thinking=false.");
            string value = pair[(eq + 1)..];
            JsonNode? node;
            try { node = JsonNode.Parse(value); }
            catch (JsonException) { node = JsonValue.Create(value); }
            args[pair[..eq]] = node;
        }
        return args;
    }

    static int Run(Settings s)
    {
        if (!Directory.Exists(s.Engine.ModelFolder)) throw new DirectoryNotFoundException($"--model '{s.Engine.ModelFolder}' is not a folder.");
        var tokenizer = ModelTokenizer.Load(s.Engine.ModelFolder);
        var formatter = ChatFormatter.TryLoad(s.Engine.ModelFolder, tokenizer, s.Template)
            ?? throw new InvalidDataException($"'{s.Engine.ModelFolder}' has no chat template (tokenizer_config.json's chat_template or chat_template.jinja); use 'expertflow generate --prompt' for plain text.");
        var config = MoeConfig.Load(s.Engine.ModelFolder);
        int context = s.Context ?? Math.Min(4096, config.MaxPositionEmbeddings);
        var generationConfig = GenerationConfig.Load(s.Engine.ModelFolder);
        int maxNew = Math.Min(s.MaxNewTokens ?? generationConfig?.MaxNewTokens ?? 512, context - 1);
        using var engine = InferenceEngine.Load(s.Engine, new Workload(1, context - maxNew, context), tokenizer);
        var sampling = GenerationConfig.Resolve(engine.GenerationConfig, s.Sampling);
        var stopIds = engine.StopTokenIds.Concat(tokenizer.EosTokenId is int eos ? [eos] : []).Distinct().ToArray();
        var stopStrings = engine.GenerationConfig?.StopStrings ?? [];
        var ended = StopStrings.Matcher(tokenizer, stopStrings);
        bool interactive = !Console.IsInputRedirected;
        var messages = new JsonArray();
        void Reset()
        {
            messages.Clear();
            if (s.System != null) messages.Add(new JsonObject { ["role"] = "system", ["content"] = s.System });
        }
        Reset();
        CliApp.Error.MarkupLineInterpolated($"[grey]{config.ModelType} from {s.Engine.ModelFolder} on {engine.Model.Device}; /reset, /stats, /exit[/]");
        int turn = 0;
        while (true)
        {
            if (interactive) AnsiConsole.Markup("[bold]> [/]");
            string? line = Console.ReadLine();
            if (line == null || line.Trim() is "/exit" or "/quit") break;
            if (line.Trim().Length == 0) continue;
            if (line.Trim() == "/reset") { Reset(); CliApp.Error.MarkupLine("[grey]conversation reset[/]"); continue; }
            if (line.Trim() == "/stats")
            {
                if (engine.Offload?.Stats is { } stats) OffloadStatsView.Print(stats);
                else CliApp.Error.MarkupLine("[grey]all experts are resident on the device (no --policy or --memory)[/]");
                continue;
            }
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = line });
            int[] prompt = formatter.Encode(messages, addGenerationPrompt: true, extra: s.TemplateArgs);
            // older turns go (the system message stays) until the conversation fits beside a full reply
            while (prompt.Length > context - maxNew && messages.Count > (s.System != null ? 2 : 1))
            {
                messages.RemoveAt(s.System != null ? 1 : 0);
                prompt = formatter.Encode(messages, addGenerationPrompt: true, extra: s.TemplateArgs);
            }
            if (prompt.Length > context - maxNew)
                throw new ArgumentException($"the message takes {prompt.Length} tokens with its template; at most {context - maxNew} fit (raise --context or lower --max-new-tokens).");
            var stream = tokenizer.CreateStream(skipSpecialTokens: !s.ShowSpecial);
            var result = engine.Generate([prompt], new GenerationOptions
            {
                MaxNewTokens = maxNew, Sampling = sampling with { Seed = sampling.Seed + turn++ }, StopTokens = stopIds,
                Ended = ended == null ? null : (_, tokens) => ended(tokens),
                OnToken = (_, token) => Console.Write(stream.Append(token)),
            });
            Console.WriteLine(stream.Flush());
            string reply = StopStrings.Cut(tokenizer.Decode(result.OutputIds[0], skipSpecialTokens: true), stopStrings);
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = reply });
            if (interactive) CliApp.Error.MarkupLineInterpolated($"[grey]{result.GeneratedTokens} tokens, {result.DecodeTokensPerSecond:F1} tokens/s[/]");
        }
        return 0;
    }
}
