using Toolkit.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ExpertFlow.Model;

/// <summary>
/// A MoE feed-forward block: router, routed experts (reached only through <see cref="IExpertProvider"/>) and the
/// optional shared expert. Input and output are [N, H] (valid tokens only).
/// </summary>
internal sealed class MoeBlock
{
    readonly int layer, numExperts, topK;
    readonly RouterKind router;
    readonly bool normTopK;
    readonly string act;
    readonly bool gated;
    readonly double outScale;
    readonly Param gate;
    readonly Param? sharedGate, sharedUp, sharedDown, sharedExpertGate, scoreBias, routerBias;
    readonly double? swigluLimit;
    readonly double swigluAlpha;
    readonly int biasColumns;
    readonly double routedScale;
    readonly int groups, topGroups;
    readonly bool groupLimited;
    /// <summary>The router runs on its own in fp32 (Switch, DeepSeek-V2/V3); otherwise it is fused with the shared expert's projections.</summary>
    bool Fp32Router => router is RouterKind.SwitchTop1 or RouterKind.DeepseekV2 or RouterKind.DeepseekV3;

    /// <summary>At most this many tokens use the dense all-experts kernel of a stacked provider (above: grouped).</summary>
    public static int DenseTokenLimit { get; set; } = 64;

    public MoeBlock(ParamSet ps, MoeConfig c, int layer, string prefix, string routerName, bool shared, string sharedPrefix, string? sharedGateName)
    {
        this.layer = layer;
        numExperts = c.NumExperts;
        topK = c.TopK;
        normTopK = c.NormTopKProb;
        act = c.HiddenAct;
        gated = c.GatedExperts;
        outScale = c.ResidualMultiplier;
        router = c.Family switch
        {
            ModelFamily.Mixtral => RouterKind.Mixtral,
            ModelFamily.Deepseek => RouterKind.Deepseek,
            ModelFamily.SwitchTransformers => RouterKind.SwitchTop1,
            ModelFamily.GraniteMoe => RouterKind.GraniteTopK,
            ModelFamily.DeepseekV2 => RouterKind.DeepseekV2,
            ModelFamily.DeepseekV3 => RouterKind.DeepseekV3,
            ModelFamily.GptOss => RouterKind.GptOss,
            _ => RouterKind.SoftmaxTopK,
        };
        (swigluLimit, swigluAlpha, biasColumns) = (c.SwigluLimit, c.SwigluAlpha, c.ExpertBiasColumns);
        gate = ps.Declare($"{prefix}.{routerName}", c.NumExperts, c.HiddenSize);
        if (c.RouterBias)
        {
            if (shared) throw new InvalidOperationException("a router bias with a shared expert is not implemented");
            routerBias = ps.Declare($"{prefix}.{routerName[..routerName.LastIndexOf('.')]}.bias", c.NumExperts);
        }
        if (router == RouterKind.DeepseekV3) scoreBias = ps.Declare($"{prefix}.gate.e_score_correction_bias", c.NumExperts);
        (routedScale, groups, topGroups, groupLimited) = (c.RoutedScalingFactor, c.NumGroups, c.TopKGroups, c.GroupLimited);
        if (shared)
        {
            int si = c.SharedExpertIntermediateSize;
            sharedGate = ps.Declare($"{sharedPrefix}.gate_proj.weight", si, c.HiddenSize);
            sharedUp = ps.Declare($"{sharedPrefix}.up_proj.weight", si, c.HiddenSize);
            sharedDown = ps.Declare($"{sharedPrefix}.down_proj.weight", c.HiddenSize, si);
            if (sharedGateName != null) sharedExpertGate = ps.Declare(sharedGateName, 1, c.HiddenSize);
        }
        if (!Fp32Router) ps.Fuse([gate, .. new[] { sharedGate, sharedUp, sharedExpertGate }.OfType<Param>()]);
        else if (sharedGate != null) ps.Fuse(sharedGate, sharedUp!); // the router runs in fp32 on its own
    }

    public int Layer => layer;

    /// <summary>
    /// The router, the shared expert's gate and up projections and the shared-expert gate are one [E+2I+1, H] weight
    /// (fused at load, see the constructor): one matmul per token batch instead of four. Each output is still its own
    /// dot product.
    /// </summary>
    public void Prepare()
    {
        sharedInter = sharedGate == null ? 0 : sharedGate.Shape[0];
        if (Fp32Router)
        {
            sharedIn = sharedGate?.Value; // gate and up rows of the shared expert, one tensor
            if (sharedDown != null) sharedDownT = sharedDown.Value.t().DetachFromDisposeScope();
            return;
        }
        if (gate.Group == null) return;
        fusedIn = gate.Value; // loaded as one tensor (ParamSet.Fuse)
        if (sharedDown != null) sharedDownT = sharedDown.Value.t().DetachFromDisposeScope(); // a view, made once
    }

    Tensor? fusedIn, sharedDownT, sharedIn;

    /// <summary>Releases the view made in <see cref="Prepare"/> (a view keeps its weight's device memory alive).</summary>
    public void Release() => sharedDownT?.Dispose();
    long sharedInter;

    /// <summary>
    /// Returns <paramref name="residual"/> + MoE(<paramref name="x"/>), both [N, H]. The shared expert's down projection
    /// is fused with the sums (addmm), and its sigmoid gate scales the (smaller) activation before it. <paramref name="guess"/>:
    /// the next MoE layer's look-ahead guess for these tokens ([N, g] expert ids, see <see cref="Guess"/>) and that layer's
    /// index, handed to an <see cref="IAnticipatingProvider"/> when the experts go through the provider.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor residual, IExpertProvider provider, StepContext ctx, (Tensor Experts, int Layer)? guess = null)
    {
        var (experts, weights, sharedAct) = Router(x);
        if (ctx.Observed) ctx.Routing.Add((layer, experts.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope())); // read after the layer's scope ends; Publish disposes them
        var y = RunExperts(x, experts, weights, provider, guess);
        return Combine(residual, y, sharedAct);
    }

    /// <summary>
    /// This layer's router used as a guess: the <paramref name="k"/> highest-scoring experts per token of [N, H]
    /// <paramref name="normed"/> (already through this layer's post-attention norm), [N, k] int64, best first. Plain
    /// top-k of the router's logits, whatever the family's routing rule.
    /// </summary>
    internal Tensor Guess(Tensor normed, int k)
    {
        var logits = fusedIn is null ? RouterLogits(normed) : F.linear(normed, fusedIn.narrow(0, 0, numExperts));
        return logits.topk(Math.Min(k, numExperts), -1).indexes;
    }

    /// <summary>
    /// The routing of [N, H] tokens: experts [N, k] (int64) and weights [N, k] (dtype <see cref="WeightsDType"/>), and
    /// the shared expert's gated activation [N, <see cref="SharedWidth"/>] (null without a shared expert). Device only.
    /// </summary>
    internal (Tensor Experts, Tensor Weights, Tensor? SharedAct) Router(Tensor x)
    {
        Tensor logits;
        Tensor? sharedAct = null;
        if (fusedIn is null)
        {
            logits = RouterLogits(x);
            if (sharedIn is not null)
            {
                var both = F.linear(x, sharedIn);
                sharedAct = Ops.Activation(both.narrow(-1, 0, sharedInter), act) * both.narrow(-1, sharedInter, sharedInter);
            }
        }
        else
        {
            var all = F.linear(x, fusedIn);
            logits = all.narrow(-1, 0, numExperts);
            if (sharedInter > 0)
            {
                sharedAct = Ops.Activation(all.narrow(-1, numExperts, sharedInter), act) * all.narrow(-1, numExperts + sharedInter, sharedInter);
                if (sharedExpertGate != null) sharedAct = sharedAct * F.sigmoid(all.narrow(-1, numExperts + 2 * sharedInter, 1));
            }
        }
        var (experts, weights) = Route(logits, x.dtype);
        return (experts, weights, sharedAct);
    }

    /// <summary><paramref name="residual"/> + <paramref name="y"/> (the routed experts' sum) + the shared expert's down projection.</summary>
    internal Tensor Combine(Tensor residual, Tensor y, Tensor? sharedAct)
    {
        if (outScale != 1) y = Ops.Mul(y, outScale); // GraniteMoE's residual_multiplier (it has no shared expert)
        return sharedAct is null ? residual + y : addmm(residual + y, sharedAct, sharedDownT!, 1, 1);
    }

    /// <summary>The dtype of the routing weights for a compute dtype: fp32 for Mixtral and DeepSeek, else the compute dtype.</summary>
    internal ScalarType WeightsDType(ScalarType dtype) => router is RouterKind.Mixtral or RouterKind.Deepseek or RouterKind.DeepseekV2 or RouterKind.DeepseekV3 ? ScalarType.Float32 : dtype;

    /// <summary>Width of the shared expert's activation (0 without one).</summary>
    internal long SharedWidth => sharedInter;

    internal int TopK => topK;

    Tensor RouterLogits(Tensor x) => Fp32Router
        ? F.linear(x.to(ScalarType.Float32), gate.Value.to(ScalarType.Float32))
        : F.linear(x, gate.Value, routerBias?.Value);

    /// <summary>Returns (experts [N,k] int64, weights [N,k]) exactly as the family's transformers router.</summary>
    internal (Tensor Experts, Tensor Weights) Route(Tensor logits, ScalarType dtype)
    {
        if (router == RouterKind.SwitchTop1)
        {
            // transformers 5.x flattens tokens to [N, H] before the router: the cumulative-sum capacity mask runs over a
            // length-1 axis and so never drops a token (expert_capacity has no effect in eval); jitter is training-only.
            var probs = logits.softmax(-1);
            var (maxProb, index) = probs.max(-1, keepdim: true);
            return (index, maxProb.to(dtype));
        }
        if (router == RouterKind.DeepseekV2)
        {
            var scores = logits.softmax(-1, ScalarType.Float32);
            var (top, chosen) = (groupLimited ? MaskedToGroups(scores, scores.view(-1, groups, numExperts / groups).max(-1).values) : scores).topk(topK, -1, sorted: false);
            if (normTopK && topK > 1) top = top / (top.sum(-1, keepdim: true) + 1e-20);
            return (chosen, routedScale == 1 ? top : Ops.Mul(top, routedScale));
        }
        if (router == RouterKind.DeepseekV3)
        {
            var scores = F.sigmoid(logits.to(ScalarType.Float32));
            var choice = scores + scoreBias!.Value.to(ScalarType.Float32).unsqueeze(0);
            var groupScores = choice.view(-1, groups, numExperts / groups).topk(2, -1).values.sum(-1);
            var chosen = MaskedToGroups(choice, groupScores).topk(topK, -1, sorted: false).indexes;
            var top = scores.gather(1, chosen);
            if (normTopK) top = top / (top.sum(-1, keepdim: true) + 1e-20);
            return (chosen, routedScale == 1 ? top : Ops.Mul(top, routedScale));
        }
        if (router == RouterKind.GptOss)
        {
            var (top, chosen) = logits.topk(topK, -1);
            return (chosen, top.softmax(-1).to(dtype));
        }
        if (router == RouterKind.GraniteTopK)
        {
            var (top, chosen) = logits.to(ScalarType.Float32).topk(topK, -1);
            return (chosen, top.softmax(-1).to(dtype));
        }
        var p = logits.softmax(-1, ScalarType.Float32);
        var (w, idx) = p.topk(topK, -1);
        if (router == RouterKind.Mixtral) w = w / w.sum(-1, keepdim: true);
        else if (normTopK && router == RouterKind.Deepseek) { if (topK > 1) w = w / (w.sum(-1, keepdim: true) + 1e-20); }
        else if (normTopK) w = w / w.sum(-1, keepdim: true);
        if (router == RouterKind.SoftmaxTopK && dtype != ScalarType.Float32) w = w.to(dtype);
        return (idx, w);
    }

    /// <summary>[N, E] scores with every expert outside the top-scoring groups set to 0 (transformers' group mask).</summary>
    Tensor MaskedToGroups(Tensor scores, Tensor groupScores)
    {
        var best = groupScores.topk(topGroups, -1, sorted: false).indexes;
        var keep = zeros_like(groupScores).scatter(1, best, ones_like(best, dtype: groupScores.dtype));
        var mask = keep.unsqueeze(-1).expand(-1, groups, numExperts / groups).reshape(-1, numExperts);
        return scores.masked_fill(mask.logical_not(), 0.0);
    }

    /// <summary>One expert on its tokens x [n, H]: input [R, H (+ c)], output [H, I (+ c)].</summary>
    Tensor Ffn(Tensor x, Tensor input, Tensor output) => F.linear(Activate(F.linear(Extend(x), input)), output);

    /// <summary>
    /// Experts with biases (<see cref="MoeConfig.ExpertBiasColumns"/> c &gt; 0) have them as column 0 of c extra columns
    /// of their matrices: their inputs [.., H] become [.., H + c] with a 1 and c - 1 zeros appended. Others: unchanged.
    /// </summary>
    Tensor Extend(Tensor x)
    {
        if (biasColumns == 0) return x;
        long[] shape = x.shape.ToArray();
        shape[^1] = biasColumns;
        var tail = zeros(shape, x.dtype, x.device);
        tail.narrow(-1, 0, 1).fill_(1);
        return cat([x, tail], -1);
    }

    /// <summary>
    /// The activation of the input projection's output [.., R] (gated: gate rows then up rows), extended for the output
    /// projection (<see cref="Extend"/>): act(gate) · up, gpt-oss's clamped SwiGLU (up + 1) · g · σ(alpha · g) with
    /// g = min(gate, limit) and up clamped to ±limit, or act(x) for ungated experts.
    /// </summary>
    Tensor Activate(Tensor hid)
    {
        if (!gated) return Extend(Ops.Activation(hid, act));
        long inter = hid.shape[^1] / 2;
        var g = hid.narrow(-1, 0, inter);
        var up = hid.narrow(-1, inter, inter);
        if (swigluLimit is not double limit) return Extend(Ops.Activation(g, act) * up);
        g = g.clamp_max(limit);
        up = up.clamp(-limit, limit);
        return Extend(Ops.Add(up, 1.0) * (g * F.sigmoid(Ops.Mul(g, swigluAlpha))));
    }

    Tensor RunExperts(Tensor x, Tensor idx, Tensor w, IExpertProvider provider, (Tensor Experts, int Layer)? guess)
    {
        long n = x.shape[0], k = idx.shape[1];
        var stacked = (provider as IStackedExperts)?.Stacked(layer);
        if (stacked is null && (provider as IPackedStackedExperts)?.Packed(layer) is { } p)
        {
            // quantized experts: dequantize only the chosen ones for few tokens, all of them when a stacked kernel will read them
            if (n * k * 3 <= numExperts)
            {
                var (win, wout) = p.Layout.Dequantize(p.Packed.index_select(0, idx.reshape(-1)), x.dtype);
                return GatheredFfn(x, w, win, wout);
            }
            bool groupedFits = Ops.UsesFusedKernels(x) && (x.dtype == ScalarType.BFloat16 || x.device_type != TorchSharp.DeviceType.CUDA)
                && x.shape[1] % 8 == 0 && p.Layout.Input.Rows % 8 == 0 && p.Layout.Output.Cols % 8 == 0;
            if (n <= DenseTokenLimit || groupedFits) stacked = p.Layout.Dequantize(p.Packed, x.dtype);
        }
        if (stacked is { } s)
        {
            // the grouped GEMM reads each chosen expert once, in place: for few tokens (no gather copy) and many (no host sync)
            if ((n * k * 3 <= numExperts || n > DenseTokenLimit || Ops.FusedForcedOn) && GroupedGemmFits(x, s.Inputs, s.Outputs))
                return GroupedGemmPath(x, idx, w, s.Inputs, s.Outputs);
            if (n * k * 3 <= numExperts) return GatherPath(x, idx, w, s.Inputs, s.Outputs);
            if (n <= DenseTokenLimit) return DensePath(x, idx, w, s.Inputs, s.Outputs);
        }
        return GroupedPath(x, idx, w, provider, guess);
    }

    /// <summary>Grouped-GEMM layer runs on this thread (tests check the path was taken).</summary>
    [ThreadStatic] internal static int GroupedGemmRuns;

    static bool GroupedGemmFits(Tensor x, Tensor inputs, Tensor outputs) =>
        Ops.UsesFusedKernels(x) && (x.dtype == ScalarType.BFloat16 || x.device_type != TorchSharp.DeviceType.CUDA) && inputs.dtype == x.dtype && x.shape[1] % 8 == 0 && inputs.shape[1] % 8 == 0
        && outputs.shape[2] % 8 == 0;

    /// <summary>
    /// Stacked experts on CUDA in bf16: token copies sorted by expert, then one grouped GEMM per projection over all
    /// experts (libtorch's _grouped_mm with per-expert row offsets), which reads only the chosen experts' weights, in
    /// place. No host sync, so CUDA graphs capture it; at batch 1 it is ~1.4x faster per step than gathering the
    /// weights (bench/expertflow/runtime_whatif_decode.py).
    /// </summary>
    Tensor GroupedGemmPath(Tensor x, Tensor idx, Tensor w, Tensor inputs, Tensor outputs)
    {
        GroupedGemmRuns++;
        long n = x.shape[0], k = idx.shape[1], h = x.shape[1];
        var flat = idx.reshape(-1);
        var order = flat.sort(stable: true).Indices; // (token, slot) pairs grouped by expert
        var counts = zeros(numExperts, ScalarType.Int32, x.device).scatter_add_(0, flat, ones_like(flat, ScalarType.Int32));
        var offsets = counts.cumsum(0, ScalarType.Int32);
        var rows = Extend(x).index_select(0, order.div(k, RoundingMode.floor));
        var hid = LibTorchOps.GroupedMm(rows, inputs.transpose(1, 2), offsets); // [n*k, R]
        var a = Activate(hid);
        var o = LibTorchOps.GroupedMm(a, outputs.transpose(1, 2), offsets); // [n*k, H], in expert order
        var bySlot = empty_like(o).index_copy_(0, order, o);
        return WeightedSum(w, bySlot, n, k, h, o.dtype);
    }

    /// <summary>Few tokens: gather the chosen experts' weights and run them as one batched matmul (no host sync).</summary>
    Tensor GatherPath(Tensor x, Tensor idx, Tensor w, Tensor inputs, Tensor outputs)
    {
        var flat = idx.reshape(-1);
        // [n*k, R, H] and [n*k, H, I]: each token's k experts, stacked
        return GatheredFfn(x, w, inputs.index_select(0, flat), outputs.index_select(0, flat));
    }

    /// <summary>The experts of each token, gathered as <paramref name="win"/> [n*k, R, H] and <paramref name="wout"/> [n*k, H, I], as batched products.</summary>
    Tensor GatheredFfn(Tensor x, Tensor w, Tensor win, Tensor wout)
    {
        long n = x.shape[0], k = w.shape[1], h = x.shape[1];
        long r = win.shape[1], hin = win.shape[2];
        // one matrix-vector product per token over its k experts' rows: no copy of x
        var hid = bmm(win.view(n, k * r, hin), Extend(x).view(n, hin, 1)).view(n * k, r);
        var a = Activate(hid);
        var o = bmm(wout, a.unsqueeze(2)).view(n, k, h);
        return WeightedSum(w, o, n, k, h, o.dtype);
    }

    /// <summary>Moderate token counts: every expert on every token, combined with a dense weight matrix (no host sync).</summary>
    Tensor DensePath(Tensor x, Tensor idx, Tensor w, Tensor inputs, Tensor outputs)
    {
        long n = x.shape[0];
        var hid = matmul(Extend(x).unsqueeze(0), inputs.transpose(1, 2)); // [E, N, 2I]
        var a = Activate(hid);
        var o = bmm(a, outputs.transpose(1, 2)); // [E, N, H]
        var dense = zeros([n, numExperts], w.dtype, x.device).scatter(1, idx, w); // [N, E]
        var ow = o.permute(1, 2, 0); // [N, H, E]
        if (ow.dtype != dense.dtype) ow = ow.to(dense.dtype);
        return bmm(ow, dense.unsqueeze(2)).squeeze(2).to(x.dtype);
    }

    /// <summary>
    /// The general path, through the provider: the routing comes to the host once (<see cref="ExpertsBySlot"/>) and the
    /// outputs are summed with their weights in one batched product.
    /// </summary>
    Tensor GroupedPath(Tensor x, Tensor idx, Tensor w, IExpertProvider provider, (Tensor Experts, int Layer)? guess)
    {
        long n = x.shape[0], k = idx.shape[1], h = x.shape[1];
        Tensor bySlot;
        if (guess is not { } g) bySlot = ExpertsBySlot(x, idx.cpu().data<long>().ToArray(), (int)k, provider);
        else
        {
            // one host round trip for the routing and the guess
            int gk = (int)g.Experts.shape[1];
            var (chosen, ahead) = SplitColumns(cat([idx, g.Experts], 1).cpu().data<long>().ToArray(), (int)k, gk);
            bySlot = ExpertsBySlot(x, chosen, (int)k, provider, guess: (g.Layer, ahead, gk));
        }
        return WeightedSum(w, bySlot, n, k, h, x.dtype);
    }

    /// <summary>Splits rows of <paramref name="k"/> + <paramref name="g"/> values into their first k and last g columns.</summary>
    internal static (long[] Left, long[] Right) SplitColumns(long[] rows, int k, int g)
    {
        int n = rows.Length / (k + g);
        var first = new long[n * k];
        var rest = new long[n * g];
        for (int t = 0; t < n; t++)
        {
            Array.Copy(rows, t * (k + g), first, t * k, k);
            Array.Copy(rows, t * (k + g) + k, rest, t * g, g);
        }
        return (first, rest);
    }

    /// <summary>Σ_j w[t, j] · out[t, j] as one batched product; <paramref name="bySlot"/> is [n*k, h] in (token, slot) order.</summary>
    internal static Tensor WeightedSum(Tensor w, Tensor bySlot, long n, long k, long h, ScalarType dtype) =>
        bmm((w.dtype == dtype ? w : w.to(dtype)).view(n, 1, k), bySlot.view(n, k, h)).view(n, h);

    /// <summary>
    /// The experts' outputs [n*k, H] in (token, slot) order for host-side routing <paramref name="chosen"/> (n*k expert
    /// ids), through the provider: tokens are grouped by expert (ascending expert, then top-k slot, then token, as
    /// transformers), each expert runs once on its tokens, and the outputs go back to (token, slot) order with one
    /// index_copy (unique targets: deterministic, unlike an atomic index_add on CUDA), into
    /// <paramref name="into"/> when given. A <paramref name="guess"/> of the next MoE layer's experts goes to an
    /// <see cref="IAnticipatingProvider"/> right after the routing, before any expert runs.
    /// </summary>
    internal Tensor ExpertsBySlot(Tensor x, long[] chosen, int k, IExpertProvider provider, Tensor? into = null, (int Layer, long[] PerToken, int K)? guess = null)
    {
        long n = x.shape[0], h = x.shape[1];
        var rowsOf = new List<long>[numExperts];
        var flatOf = new List<long>[numExperts];
        for (int slot = 0; slot < k; slot++)
            for (long t = 0; t < n; t++)
            {
                int e = (int)chosen[t * k + slot];
                (rowsOf[e] ??= []).Add(t);
                (flatOf[e] ??= []).Add(t * k + slot);
            }
        var experts = new List<int>();
        var order = new List<long>((int)(n * k));
        var flat = new List<long>((int)(n * k));
        for (int e = 0; e < numExperts; e++)
        {
            if (rowsOf[e] == null) continue;
            experts.Add(e);
            order.AddRange(rowsOf[e]);
            flat.AddRange(flatOf[e]);
        }
        var hostProvider = provider is IHostComputeProvider { ComputesOnHost: true } hosted ? hosted : null;
        var onHost = hostProvider?.PlanHost(layer, experts, experts.Select(e => rowsOf[e].Count).ToArray()) ?? [];
        provider.OnRouted(layer, experts);
        if (guess is { } g && provider is IAnticipatingProvider anticipating) anticipating.Anticipate(g.Layer, g.PerToken, g.K);
        var device = x.device;
        var xs = x.index_select(0, tensor(order.ToArray(), ScalarType.Int64, device));
        var outputs = new Tensor[experts.Count];
        var starts = new long[experts.Count];
        for (int i = 1; i < experts.Count; i++) starts[i] = starts[i - 1] + rowsOf[experts[i - 1]].Count;
        if (onHost.Count > 0)
        {
            // Host experts first: the CPU computes them while the copies of the others are in flight.
            var xsHost = xs.device_type == TorchSharp.DeviceType.CPU ? xs : xs.cpu();
            for (int i = 0; i < experts.Count; i++)
            {
                int e = experts[i];
                if (!onHost.Contains(e)) continue;
                int count = rowsOf[e].Count;
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                var weights = hostProvider!.HostWeights(layer, e);
                using (weights.Input)
                using (weights.Output)
                    outputs[i] = Ffn(xsHost.narrow(0, starts[i], count), weights.Input, weights.Output);
                hostProvider.HostDone(layer, e, count, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds);
                if (outputs[i].device_type != device.type) outputs[i] = outputs[i].to(device);
            }
        }
        for (int i = 0; i < experts.Count; i++)
        {
            if (outputs[i] is not null) continue;
            int e = experts[i];
            var weights = provider.Get(layer, e);
            outputs[i] = Ffn(xs.narrow(0, starts[i], rowsOf[e].Count), weights.Input, weights.Output);
        }
        provider.OnLayerDone(layer);
        var grouped = outputs.Length == 1 ? outputs[0] : cat(outputs, 0);
        into ??= empty([n * k, h], x.dtype, device);
        return into.index_copy_(0, tensor(flat.ToArray(), ScalarType.Int64, device), grouped);
    }
}
