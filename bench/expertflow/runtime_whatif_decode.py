"""What-if timing of the runtime's CUDA-graph decode step, replicated op for op in PyTorch (same libtorch kernels as
the C# runtime calls), on the Qwen1.5-MoE-A2.7B shape in bf16 at batch 1. Variants change one thing at a time, to see
which kernel changes would pay before writing them in C#:
  norm=composite|fused   RMSNorm as 8 kernels (transformers' arithmetic) or F.rms_norm (one fused kernel in 2.11)
  experts=gather|fixed|grouped   the chosen experts' weights gathered by index_select before the bmm, read in place
                         (an upper bound for a gather-free kernel), or torch._grouped_mm over all experts with
                         per-expert token offsets (tokens sorted by expert)
  fold=0|1               residual added separately, or folded into the weighted-sum product (baddbmm)
Prints one JSON line per variant: median ms per replayed step and tokens/s."""
import json, sys, time, torch
import torch.nn.functional as F

torch.manual_seed(0)
dev, dt = "cuda", torch.bfloat16
L, H, NH, HD, E, K, I, SI, V, CAP = 24, 2048, 16, 128, 60, 4, 1408, 5632, 151936, 64
layers = int(sys.argv[1]) if len(sys.argv) > 1 else L

def rnd(*s): return (torch.randn(*s, device=dev, dtype=dt) * 0.02)
W = []
for _ in range(layers):
    W.append(dict(n1=torch.ones(H, device=dev, dtype=dt), n2=torch.ones(H, device=dev, dtype=dt),
                  qkv=rnd(3 * H, H), oT=rnd(H, H).t(), fused=rnd(E + 2 * SI + 1, H), sdT=rnd(H, SI).t(),
                  win=rnd(E, 2 * I, H), wout=rnd(E, H, I),
                  k=torch.zeros(16, CAP, NH, HD, device=dev, dtype=dt), v=torch.zeros(16, CAP, NH, HD, device=dev, dtype=dt)))
embed, lm, nf = rnd(V, H), rnd(V, H), torch.ones(H, device=dev, dtype=dt)
pos_full = torch.arange(CAP, device=dev)
inv = 1.0 / (10000.0 ** (torch.arange(0, HD, 2, device=dev).float() / HD))
ang = pos_full.float()[:, None] * inv[None]
cos_t, sin_t = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

def rms(x, w, fused):
    if fused: return F.rms_norm(x, (H,), w, 1e-6)
    x32 = x.to(torch.float32)
    var = x32.pow(2).mean(-1, keepdim=True)
    return w * (x32 * torch.rsqrt(var + 1e-6)).to(x.dtype)

def step(ids, positions, norm_fused, fixed, fold):
    rows = ids.shape[0]
    slots = positions + torch.arange(rows, device=dev) * CAP
    cos = cos_t.index_select(0, positions).view(rows, 1, 1, HD).to(dt)
    sin = sin_t.index_select(0, positions).view(rows, 1, 1, HD)
    ssin = torch.cat([-sin[..., :HD // 2], sin[..., HD // 2:]], -1).to(dt)
    allowed = pos_full.view(1, 1, CAP) <= positions.view(rows, 1, 1)
    mask = torch.zeros(rows, 1, CAP, device=dev, dtype=dt).masked_fill(~allowed, float("-inf")).unsqueeze(1)
    h = embed.index_select(0, ids).view(rows, 1, H)
    for w in W:
        x = rms(h, w["n1"], norm_fused)
        proj = F.linear(x, w["qkv"]).view(rows, 1, 3 * NH, HD)
        qk = proj[:, :, :2 * NH]
        qk = torch.addcmul(qk * cos, qk.roll(HD // 2, -1), ssin)
        q, k, v = qk[:, :, :NH], qk[:, :, NH:], proj[:, :, 2 * NH:]
        # the runtime's cache: [B, cap, nkv, hd], written through a flat [B*cap, nkv, hd] view, read transposed
        kc, vc = w["k"][:rows], w["v"][:rows]
        kf = kc.view(rows * CAP, NH, HD); vf = vc.view(rows * CAP, NH, HD)
        kf.index_copy_(0, slots, k.reshape(rows, NH, HD)); vf.index_copy_(0, slots, v.reshape(rows, NH, HD))
        a = F.scaled_dot_product_attention(q.transpose(1, 2), kc.transpose(1, 2), vc.transpose(1, 2), mask)
        h = torch.addmm(h.view(rows, H), a.transpose(1, 2).reshape(rows, H), w["oT"]).view(rows, 1, H)
        xn = rms(h, w["n2"], norm_fused).view(rows, H)
        res = h.view(rows, H)
        allo = F.linear(xn, w["fused"])
        logits = allo[:, :E]
        sact = F.silu(allo[:, E:E + SI]) * allo[:, E + SI:E + 2 * SI]
        sact = sact * torch.sigmoid(allo[:, E + 2 * SI:E + 2 * SI + 1])
        p = logits.softmax(-1, dtype=torch.float32)
        wt, idx = p.topk(K, -1)
        wt = wt.to(dt)
        if fixed == "dense":  # the runtime's DensePath (more than E/3k tokens): every expert on every token
            hidd = torch.matmul(xn.unsqueeze(0), w["win"].transpose(1, 2))
            actd = F.silu(hidd[..., :I]) * hidd[..., I:]
            od = torch.bmm(actd, w["wout"].transpose(1, 2))
            dense = torch.zeros(rows, E, device=dev, dtype=dt).scatter(1, idx, wt)
            o = None
            y = res + torch.bmm(od.permute(1, 2, 0), dense.unsqueeze(2)).squeeze(2)
        elif fixed == "grouped":
            flat = idx.reshape(-1)
            order = flat.argsort(stable=True)
            counts = torch.zeros(E, device=dev, dtype=torch.int32).scatter_add_(0, flat, torch.ones_like(flat, dtype=torch.int32))
            offs = counts.cumsum(0, dtype=torch.int32)
            xs = xn.index_select(0, order // K)
            hid = torch._grouped_mm(xs, w["win"].transpose(1, 2), offs)
            act = F.silu(hid[:, :I]) * hid[:, I:]
            og = torch._grouped_mm(act, w["wout"].transpose(1, 2), offs)
            o = torch.empty_like(og).index_copy_(0, order, og).view(rows, K, H)
        elif fixed:
            win, wout = w["win"][:K], w["wout"][:K]
        else:
            flat = idx.reshape(-1)
            win, wout = w["win"].index_select(0, flat), w["wout"].index_select(0, flat)
        if fixed not in ("grouped", "dense"):
            hid = torch.bmm(win.view(rows, K * 2 * I, H), xn.view(rows, H, 1)).view(rows * K, 2 * I)
            act = F.silu(hid[:, :I]) * hid[:, I:]
            o = torch.bmm(wout, act.unsqueeze(2)).view(rows, K, H)
        if fixed == "dense": pass
        elif fold:
            y = torch.baddbmm(res.view(rows, 1, H), wt.view(rows, 1, K), o).view(rows, H)
        else:
            y = res + torch.bmm(wt.view(rows, 1, K), o).view(rows, H)
        h = torch.addmm(y, sact, w["sdT"]).view(rows, 1, H)
    return F.linear(rms(h.view(rows, H), nf, norm_fused), lm).to(torch.float32)

def measure(norm_fused, fixed, fold, rows=1, reps=300):
    ids = torch.arange(rows, device=dev) * 997 + 5; positions = torch.full((rows,), 40, device=dev)
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(s):
        for _ in range(3): step(ids, positions, norm_fused, fixed, fold)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(g):
        out = step(ids, positions, norm_fused, fixed, fold)
    for _ in range(20): g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); g.replay(); torch.cuda.synchronize(); times.append(time.perf_counter() - t0)
    times.sort()
    ms = times[len(times) // 2] * 1e3
    return dict(norm="fused" if norm_fused else "composite", experts=fixed if isinstance(fixed, str) else "fixed" if fixed else "gather", fold=int(fold),
                rows=rows, layers=layers, median_ms=round(ms, 4), tok_s=round(rows * 1e3 / ms, 1))

print(json.dumps(dict(torch=torch.__version__, cuda=torch.version.cuda, gpu=torch.cuda.get_device_name())))
# numerics: grouped against gather on one step (same weights, same inputs)
with torch.no_grad():
    ids = torch.tensor([5], device=dev); positions = torch.tensor([0], device=dev)
    a = step(ids, positions, False, False, False)
    for w in W: w["k"].zero_(); w["v"].zero_()
    b = step(ids, positions, False, "grouped", False)
    for w in W: w["k"].zero_(); w["v"].zero_()
    print(json.dumps(dict(grouped_vs_gather_max_abs=float((a - b).abs().max()), logits_abs_max=float(a.abs().max()),
                          same_argmax=bool(a.argmax() == b.argmax()))), flush=True)
for nf_, fx, fo in [(0, False, 0), (0, "grouped", 0), (1, "grouped", 1), (0, True, 0), (1, False, 0), (0, False, 0)]:
    print(json.dumps(measure(bool(nf_), fx, bool(fo))), flush=True)
for nf_, fx, fo in [(0, "dense", 0), (0, "grouped", 0), (1, "grouped", 1), (0, False, 0)]:
    print(json.dumps(measure(bool(nf_), fx, bool(fo), rows=16)), flush=True)
