"""Training throughput of the WWAE / VAE / beta-VAE / WAE-MMD / WAE-GAN auto-encoders in PyTorch, the peer of `wwae bench`.

Same architecture (src/Wwae/Models/GaussianAutoEncoder.cs, LatentAdversary.cs), objective (src/Wwae/Training/Objective.cs,
WWAE with the bias-corrected estimator), optimiser (Adam, lr 1e-3, betas 0.5/0.999; adversary lr 5e-4) and protocol
(16 device-resident random batches, 20 warm-up steps, then timed steps, synchronised at the end) as
src/Wwae/Training/ThroughputBenchmark.cs. --adam foreach (PyTorch's CUDA default) or fused.

    python3 throughput.py --device cuda --steps 300 --batch-size 100 --width 64 --latent 8 --adam fused --out result.json
"""
import argparse, json, time
import torch
from torch import nn


def autoencoder(channels, size, latent, width):
    stages = {28: 2, 64: 4}[size]
    bottom, bottom_ch = size >> stages, width << (stages - 1)
    enc, c = [], channels
    for s in range(stages):
        o = width << s
        enc += [nn.Conv2d(c, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        c = o
    enc += [nn.Flatten(), nn.Linear(bottom_ch * bottom * bottom, 2 * latent)]
    dec = [nn.Linear(latent, bottom_ch * bottom * bottom, bias=False), nn.BatchNorm1d(bottom_ch * bottom * bottom), nn.ReLU(),
           nn.Unflatten(1, (bottom_ch, bottom, bottom))]
    c = bottom_ch
    for s in range(stages - 2, -2, -1):
        last = s < 0
        o = channels if last else width << s
        dec.append(nn.ConvTranspose2d(c, o, 4, 2, 1, bias=last))
        if not last:
            dec += [nn.BatchNorm2d(o), nn.ReLU()]
        c = o
    dec.append(nn.Sigmoid())
    return nn.Sequential(*enc), nn.Sequential(*dec)


def shrinkage(n, d, draws=2000):
    """c(n, d) = E sum sqrt(eig(S_hat)) / d for n standard normal d-vectors (as src/Wwae/Penalties/W2Shrinkage.cs)."""
    g = torch.Generator().manual_seed(12345)
    z = torch.randn(draws, n, d, dtype=torch.float64, generator=g)
    c = z - z.mean(1, keepdim=True)
    s = c.transpose(1, 2) @ c / (n - 1)
    return (torch.linalg.eigvalsh(s).clamp_min(0).sqrt().sum() / (draws * d)).item()


def w2_squared_corrected(z, c_nd):
    n, d = z.shape
    z = z.double()
    m = z.mean(0)
    c = z - m
    s = c.T @ c / (n - 1)
    s = 0.5 * (s + s.T)
    root = torch.linalg.eigvalsh(s).clamp_min(1e-6).sqrt().sum()
    tr = torch.trace(s)
    return (m.square().sum() - tr / n + tr + d - 2 * root / c_nd).float()


def adversary(latent):
    layers, c = [], latent
    for _ in range(4):
        layers += [nn.Linear(c, 512), nn.ReLU()]
        c = 512
    layers.append(nn.Linear(512, 1))
    return nn.Sequential(*layers)


def imq_mmd(z, p):
    n, d = z.shape
    def sq(a, b):
        return (a.square().sum(1, keepdim=True) + b.square().sum(1).unsqueeze(0) - 2 * a @ b.T).clamp_min(0)
    dqq, dpp, dpq = sq(z, z), sq(p, p), sq(z, p)
    off = 1 - torch.eye(n, device=z.device)
    total = 0
    for scale in [0.1, 0.2, 0.5, 1, 2, 5, 10]:
        c = 2.0 * d * scale
        total = total + (c / (c + dqq) * off).sum() / (n * (n - 1)) + (c / (c + dpp) * off).sum() / (n * (n - 1)) - 2 * (c / (c + dpq)).sum() / (n * n)
    return total


def run(model, args, device):
    torch.manual_seed(0)
    enc, dec = autoencoder(args.channels, args.size, args.latent, args.width)
    enc, dec = enc.to(device).train(), dec.to(device).train()
    fused = args.adam == "fused"
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3, betas=(0.5, 0.999), fused=fused, foreach=None if fused else True)
    data = torch.rand(16, args.batch_size, args.channels, args.size, args.size, device=device)
    deterministic = model in ("wae-mmd", "wae-gan")
    lam = {"vae": 0.05, "beta-vae": 0.05 * args.beta, "wae-gan": 1.0}.get(model, 10.0)
    c_nd = shrinkage(args.batch_size, args.latent) if model == "wwae" else None
    if model == "wae-gan":
        adv = adversary(args.latent).to(device).train()
        adv_opt = torch.optim.Adam(adv.parameters(), lr=5e-4, betas=(0.5, 0.999), fused=fused, foreach=None if fused else True)
    softplus = nn.functional.softplus

    def step(i):
        x = data[i % 16]
        h = enc(x)
        mean, logvar = h.chunk(2, 1)
        logvar = logvar.clamp(-12, 8)
        z = mean if deterministic else mean + (0.5 * logvar).exp() * torch.randn_like(mean)
        xhat = dec(z)
        recon = (xhat - x).square().flatten(1).sum(1).mean()
        if model == "wwae":
            pen = w2_squared_corrected(z, c_nd)
        elif model in ("vae", "beta-vae"):
            pen = (0.5 * (mean.square() + logvar.exp() - 1 - logvar)).sum(1).mean()
        elif model == "wae-gan":
            pen = softplus(-adv(z).squeeze(1)).mean()
        else:
            pen = imq_mmd(z, torch.randn_like(z))
        loss = 0.05 * recon + lam * pen
        opt.zero_grad(set_to_none=True)
        if model == "wae-gan":
            adv_opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if model == "wae-gan":
            adv_opt.zero_grad(set_to_none=True)
            zd = z.detach()
            adv_loss = lam * (softplus(-adv(torch.randn_like(zd)).squeeze(1)).mean() + softplus(adv(zd).squeeze(1)).mean())
            adv_loss.backward()
            adv_opt.step()
        return loss

    for i in range(20):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(args.steps):
        loss = step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t
    return {"Model": model, "Device": str(device), "BatchSize": args.batch_size, "Steps": args.steps, "Seconds": sec,
            "ImagesPerSecond": args.steps * args.batch_size / sec, "FinalLoss": float(loss), "Adam": args.adam,
            "Torch": torch.__version__, "Cuda": torch.version.cuda}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--models", default="wwae,vae,wae-mmd,wae-gan")
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--adam", choices=["foreach", "fused"], default="foreach")
    ap.add_argument("--out")
    a = ap.parse_args()
    a.channels = 3 if a.size == 64 else 1
    dev = torch.device(a.device)
    results = []
    for m in a.models.split(","):
        r = run(m, a, dev)
        results.append(r)
        print(f"pytorch ({a.adam} adam) {m}: {r['ImagesPerSecond']:.0f} images/s ({a.steps} steps of {a.batch_size} in {r['Seconds']:.2f} s on {dev})", flush=True)
    if a.out:
        json.dump(results, open(a.out, "w"), indent=2)
