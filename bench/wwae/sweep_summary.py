"""Summaries of bench/wwae/sweep.sh.

    python3 sweep_summary.py choose OUT   # prints 'MODEL VALUE' per model: the value with the lowest mean validation FD
    python3 sweep_summary.py table OUT    # markdown: validation FD per value, then test FD/KID and reconstruction of the chosen values
"""
import glob, json, os, statistics, sys

NAMES = {"wwae": "WWAE", "vae": "VAE (ELBO, beta = 1)", "beta-vae": "beta-VAE", "wae-mmd": "WAE-MMD", "wae-gan": "WAE-GAN"}
ORDER = ["wwae", "vae", "beta-vae", "wae-mmd", "wae-gan"]


def ms(values, digits=2):
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def split_name(stem):
    model, value = stem.rsplit("-", 1)
    return model, value


def validation(out):
    """{(model, value): [FD per seed]} from validation/*.json (the real-vs-real row left out)."""
    result = {}
    for path in sorted(glob.glob(os.path.join(out, "validation", "*.json"))):
        model, value = split_name(os.path.basename(path)[:-5])
        rows = [s for s in json.load(open(path)) if s["Model"] != "real"]
        result[(model, value)] = [r["FrechetDistance"] for r in rows]
    return result


def choose(out):
    best = {}
    for (model, value), fds in validation(out).items():
        if model == "vae":
            model, value = "vae", "elbo"
        mean = statistics.mean(fds)
        if model not in best or mean < best[model][1]:
            best[model] = (value, mean)
    for model in ORDER:
        if model in best:
            print(model, best[model][0])


def table(out):
    val = validation(out)
    print("Validation FD (classifier features; mean ± sd over seeds) per penalty weight:\n")
    print("| model | weight | seeds | validation FD |")
    print("| --- | --- | --- | --- |")
    for model in ORDER:
        for (m, v), fds in sorted(val.items(), key=lambda kv: (kv[0][0], float(kv[0][1]) if kv[0][1] != "elbo" else 0)):
            if m == model:
                label = "ELBO" if model == "vae" else ("lambda " if model in ("wwae", "wae-mmd", "wae-gan") else "beta ") + v
                print(f"| {NAMES[model]} | {label} | {len(fds)} | {ms(fds)} |")
    chosen = [line.split() for line in open(os.path.join(out, "chosen.txt")) if line.strip()]
    print("\nTest split, chosen weights only (mean ± sd over seeds):\n")
    print("| model | weight | seeds | FD classifier | KID classifier (x1e3) | FD ResNet-18 | KID ResNet-18 (x1e3) | test squared L2 / image |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    baseline = {}
    for model, value in chosen:
        scores = {}
        for feats in ("classifier", "resnet18"):
            rows = json.load(open(os.path.join(out, "test", f"{feats}-{model}-{value}.json")))
            baseline[feats] = next(r for r in rows if r["Model"] == "real")
            scores[feats] = [r for r in rows if r["Model"] != "real"]
        runs = sorted(glob.glob(os.path.join(out, "runs", f"{model}-{value}", "*", "metrics.json")))
        recon = [json.load(open(p))["TestSquaredL2PerImage"] for p in runs]
        c, r = scores["classifier"], scores["resnet18"]
        print(f"| {NAMES[model]} | {'ELBO' if model == 'vae' else value} | {len(c)} | {ms([x['FrechetDistance'] for x in c])} | {ms([1e3 * x['KidMean'] for x in c])} | "
              f"{ms([x['FrechetDistance'] for x in r])} | {ms([1e3 * x['KidMean'] for x in r])} | {ms(recon)} |")
    if baseline:
        c, r = baseline["classifier"], baseline["resnet18"]
        print(f"| real train vs test (baseline) | - | - | {c['FrechetDistance']:.2f} | {1e3 * c['KidMean']:.2f} | {r['FrechetDistance']:.2f} | {1e3 * r['KidMean']:.2f} | - |")
        print(f"\nSamples per score: classifier {c['Samples']}, ResNet-18 {r['Samples']}.")


if __name__ == "__main__":
    {"choose": choose, "table": table}[sys.argv[1]](sys.argv[2])
