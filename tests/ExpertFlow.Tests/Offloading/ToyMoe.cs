using ExpertFlow.Offloading;
using TorchSharp;
using static TorchSharp.torch;

namespace ExpertFlow.Tests.Offloading;

/// <summary>
/// A tiny decoder-only MoE (embedding, per layer: top-k router + SwiGLU experts + residual, LM head) whose
/// experts are reached either directly (the reference) or through the offloading engine, so that every
/// policy and budget can be checked for bit-identical logits. Computes one expert at a time, as the
/// runtime does: gather its tokens, run the FFN, scatter-add weighted results.
/// </summary>
sealed class ToyMoe : IDisposable
{
    public const int Hidden = 16, Ff = 24, Vocab = 40;
    readonly Tensor embed, head;
    readonly Tensor[] routers;
    readonly Dictionary<(int, int, string), Tensor> experts = [];

    public ToyMoe(int layers = 3, int expertsPerLayer = 8, int topK = 2, long seed = 7, ScalarType dtype = ScalarType.Float32)
    {
        Layers = layers; Experts = expertsPerLayer; TopK = topK; DType = dtype;
        var g = new Generator((ulong)seed);
        embed = randn([Vocab, Hidden], generator: g).to(dtype);
        head = (randn([Vocab, Hidden], generator: g) * 0.5).to(dtype);
        routers = Enumerable.Range(0, layers).Select(_ => (randn([expertsPerLayer, Hidden], generator: g) * 2).to(dtype)).ToArray();
        for (int l = 0; l < layers; l++)
            for (int e = 0; e < expertsPerLayer; e++)
            {
                experts[(l, e, "gate_proj")] = (randn([Ff, Hidden], generator: g) * 0.3).to(dtype);
                experts[(l, e, "up_proj")] = (randn([Ff, Hidden], generator: g) * 0.3).to(dtype);
                experts[(l, e, "down_proj")] = (randn([Hidden, Ff], generator: g) * 0.3).to(dtype);
            }
        Layout = new ExpertLayout(Enumerable.Range(0, layers).ToArray(), expertsPerLayer,
            [new ExpertPart("gate_proj", [Ff, Hidden]), new ExpertPart("up_proj", [Ff, Hidden]), new ExpertPart("down_proj", [Hidden, Ff])], dtype);
    }

    public int Layers { get; }
    public int Experts { get; }
    public int TopK { get; }
    public ScalarType DType { get; }
    public ExpertLayout Layout { get; }
    public IExpertSource Source => new TensorExpertSource(Layout, (k, part) => experts[(k.Layer, k.Expert, part)]);
    public Tensor ExpertPartTensor(int layer, int expert, string part) => experts[(layer, expert, part)];

    /// <summary>Greedy decoding of <paramref name="steps"/> tokens from one start token per sequence.
    /// Returns the logits of every step [steps, batch, vocab] and the chosen ids.</summary>
    public (Tensor Logits, long[][] Ids) Generate(long[] start, int steps, ExpertOffloadEngine? engine, Device? device = null,
        bool explicitRelease = true, List<List<int>[]>? trace = null)
    {
        device ??= CPU;
        using var _ = no_grad();
        var all = new List<Tensor>();
        var ids = start.Select(_ => new List<long>()).ToArray();
        var tokens = tensor(start, device: device);
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            engine?.BeginStep(new ExpertFlow.Model.StepInfo(step, step == 0, Enumerable.Range(0, start.Length).ToArray(), Enumerable.Repeat(step, start.Length).ToArray(),
                tokens.cpu().data<long>().ToArray().Select(t => new[] { (int)t }).ToArray()));
            var h = embed.to(device).index_select(0, tokens);
            var routed = new List<int>[Layers];
            for (int l = 0; l < Layers; l++)
            {
                var scores = h.matmul(routers[l].to(device).t()).softmax(-1);
                var (weights, chosen) = scores.topk(TopK, dim: -1);
                weights = weights / weights.sum(-1, keepdim: true);
                long[] chosenCpu = chosen.cpu().flatten().data<long>().ToArray();
                var distinct = chosenCpu.Select(c => (int)c).Distinct().Order().ToList();
                routed[l] = distinct;
                engine?.OnRouted(l, distinct);
                var order = engine?.ComputeOrder(l, distinct) ?? distinct;
                var output = zeros_like(h);
                foreach (int e in order)
                {
                    var hit = (chosen == e);
                    var rows = hit.any(-1).nonzero().squeeze(-1);
                    var w = (weights * hit.to(weights.dtype)).sum(-1).index_select(0, rows).unsqueeze(-1);
                    var x = h.index_select(0, rows);
                    Tensor gate, up, down;
                    if (engine == null)
                    { gate = experts[(l, e, "gate_proj")].to(device); up = experts[(l, e, "up_proj")].to(device); down = experts[(l, e, "down_proj")].to(device); }
                    else
                    { var parts = engine.Get(l, e); gate = parts[0]; up = parts[1]; down = parts[2]; }
                    var y = (nn.functional.silu(x.matmul(gate.t())) * x.matmul(up.t())).matmul(down.t()) * w;
                    output.index_add_(0, rows, y, 1);
                    if (engine != null && explicitRelease) engine.Release(l, e);
                }
                engine?.OnLayerDone(l);
                h = h + output;
            }
            var logits = h.matmul(head.to(device).t());
            tokens = logits.argmax(-1);
            engine?.EndStep(start.Length);
            trace?.Add(routed);
            all.Add(logits.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope());
            tokens.MoveToOuterDisposeScope();
            var chosenIds = tokens.cpu().data<long>().ToArray();
            for (int b = 0; b < start.Length; b++) ids[b].Add(chosenIds[b]);
        }
        return (stack(all), ids.Select(l => l.ToArray()).ToArray());
    }

    public void Dispose()
    {
        embed.Dispose(); head.Dispose();
        foreach (var r in routers) r.Dispose();
        foreach (var t in experts.Values) t.Dispose();
    }
}
