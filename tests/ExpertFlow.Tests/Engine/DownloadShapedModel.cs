using System.Text.Json.Nodes;
using ExpertFlow.Tests.Model;
using Toolkit.Data.Text.Tokenization;
using Toolkit.Runtime.Safetensors;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Engine;

/// <summary>
/// A model folder laid out like a Hugging Face download of the family: config.json, weights in two safetensors shards with
/// model.safetensors.index.json, tokenizer.json and tokenizer_config.json of the family's tokenizer kind (with its public
/// chat template), and generation_config.json. The weights are the family's tiny transformers fixture with the embedding
/// and head resized (random rows) to the tokenizer's vocabulary. Deleted on Dispose.
/// </summary>
sealed class DownloadShapedModel : IDisposable
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), $"download-shaped-{Guid.NewGuid():N}");

    /// <param name="family">A fixture family (tests/fixtures/moe).</param>
    /// <param name="tokenizerKind">A tokenizer fixture (tests/fixtures/tokenizers).</param>
    /// <param name="template">A public chat template (tests/fixtures/chat-templates, without .jinja).</param>
    /// <param name="generationConfig">The generation_config.json text; {eos} stands for the tokenizer's eos id.</param>
    public DownloadShapedModel(string family, string tokenizerKind, string template, string generationConfig)
    {
        Directory.CreateDirectory(Folder);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");
        string tokenizerDir = Path.Combine(fixtures, "tokenizers", tokenizerKind);
        File.Copy(Path.Combine(tokenizerDir, "tokenizer.json"), Path.Combine(Folder, "tokenizer.json"));
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(tokenizerDir, "tokenizer_config.json")))!.AsObject();
        tokenizerConfig["chat_template"] = File.ReadAllText(Path.Combine(fixtures, "chat-templates", template + ".jinja"));
        File.WriteAllText(Path.Combine(Folder, "tokenizer_config.json"), tokenizerConfig.ToJsonString());
        var tokenizer = HfTokenizer.FromFolder(Folder);
        Vocabulary = tokenizer.VocabSize;
        int eos = tokenizer.EosTokenId ?? 0;

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Folder(family), "config.json")))!.AsObject();
        config["vocab_size"] = Vocabulary;
        config["eos_token_id"] = eos;
        if (tokenizer.BosTokenId is int bos) config["bos_token_id"] = bos;
        File.WriteAllText(Path.Combine(Folder, "config.json"), config.ToJsonString());
        File.WriteAllText(Path.Combine(Folder, "generation_config.json"), generationConfig.Replace("{eos}", eos.ToString()));

        using var source = SafetensorsCheckpoint.Open(Fixtures.Folder(family));
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var tensors = source.Tensors.Keys.Order(StringComparer.Ordinal).Select(name =>
        {
            var t = source.Load(name, dtype: ScalarType.Float32);
            if (name is "model.embed_tokens.weight" or "lm_head.weight" && t.shape[0] != Vocabulary)
                t = randn([Vocabulary, t.shape[1]], generator: generator) * 0.02f;
            return KeyValuePair.Create(name, t);
        }).ToList();
        long half = tensors.Sum(t => t.Value.NumberOfElements * 4) / 2 + 1;
        var written = SafetensorsWriter.WriteSharded(Folder, tensors, half);
        if (written.Files.Count < 2 || written.IndexPath == null) throw new InvalidOperationException("the fixture should be sharded");
    }

    public int Vocabulary { get; }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
