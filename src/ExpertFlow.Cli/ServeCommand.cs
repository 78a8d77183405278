using System.CommandLine;
using ExpertFlow.Engine;
using ExpertFlow.Model;
using ExpertFlow.Serving;
using Toolkit.Cli;
using Toolkit.Runtime;

namespace ExpertFlow.Cli;

/// <summary><c>expertflow serve</c>: an OpenAI-compatible HTTP server over a model folder (<see cref="ExpertFlowServer"/>).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (with tokenizer files; a chat template for /v1/chat/completions).", Required = true };
        var host = new Option<string>("--host") { Description = "Address to bind: 127.0.0.1 (local clients only) by default; 0.0.0.0 serves others (give --api-key, and TLS through Kestrel__Endpoints__ settings).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0: any free one).", DefaultValueFactory = _ => 8000 };
        var name = new Option<string?>("--served-model-name") { Description = "The model name clients send (default: the folder's name)." };
        var maxSequences = new Option<int>("--max-sequences") { Description = "Sequences generated at once (continuous batching over this many KV cache rows).", DefaultValueFactory = _ => 8 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests waiting for a row beyond which new ones are refused with 429.", DefaultValueFactory = _ => 256 };
        var context = new Option<int?>("--context") { Description = "Positions per sequence, prompt plus completion (default: 4096 or the model's max_position_embeddings if smaller)." };
        var maxBody = new Option<string>("--max-request-size") { Description = "Largest request body accepted (413 beyond).", DefaultValueFactory = _ => "1MiB" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1 requests (also read from EXPERTFLOW_API_KEY)." };
        var device = CommonOptions.Device();
        var dtype = new Option<string>("--dtype") { Description = "fp32, fp16 or bf16 (auto: bf16 on CUDA, fp32 on the CPU).", DefaultValueFactory = _ => "auto" };
        var verbose = CommonOptions.Verbose();
        var experts = new ExpertFormatSettings();
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (chat and text completions, streaming, /v1/models, /health, /metrics) with continuous batching.")
        {
            model, host, port, name, maxSequences, maxQueue, context, maxBody, apiKey, device, dtype, verbose,
        };
        experts.AddTo(command);
        var offload = new OffloadSettings();
        offload.AddTo(command);
        command.SetAction(async (r, cancel) =>
        {
            var engine = new EngineOptions
            {
                ModelFolder = r.GetValue(model)!, Device = ComputeDevice.Resolve(r.GetValue(device)!), DType = r.GetValue(dtype) == "auto" ? null : MoeModels.ParseDType(r.GetValue(dtype)!), ExpertFormat = experts.Bind(r),
                Offload = offload.Bind(r), PredictorFolder = offload.PredictorFolder(r),
            };
            if (!Directory.Exists(engine.ModelFolder)) throw new DirectoryNotFoundException($"--model '{engine.ModelFolder}' is not a folder.");
            MoeConfig.Load(engine.ModelFolder); // a broken folder fails here, before the server listens
            var options = new ServerOptions
            {
                Host = r.GetValue(host)!, Port = r.GetValue(port), ModelName = r.GetValue(name), MaxSequences = r.GetValue(maxSequences), MaxQueue = r.GetValue(maxQueue),
                Context = r.GetValue(context), MaxRequestBodyBytes = OptionValues.Size(r.GetValue(maxBody)!, "--max-request-size"),
                ApiKey = r.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("EXPERTFLOW_API_KEY"),
            };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"serve: {e.Message}"); }
            using var logging = CliApp.CreateLogging(r.GetValue(verbose));
            await using var server = ExpertFlowServer.Create(engine, options, logging);
            await server.RunAsync(cancel);
            return 0;
        });
        return command;
    }
}
