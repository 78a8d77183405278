"""Tables for docs/wwae.md from `wwae eval` JSON files and the run folders' metrics.json.

    python3 summarize.py RUNS_DIR fd-classifier.json fd-resnet18.json ...
"""
import json, os, statistics, sys

runs_dir, score_files = sys.argv[1], sys.argv[2:]
order = ["Wwae", "Vae", "WaeMmd"]
names = {"Wwae": "WWAE", "Vae": "VAE", "WaeMmd": "WAE-MMD", "real": "real train vs test (baseline)"}


def ms(values, digits):
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


metrics = [json.load(open(os.path.join(runs_dir, d, "metrics.json"))) for d in sorted(os.listdir(runs_dir))
           if os.path.exists(os.path.join(runs_dir, d, "metrics.json"))]
print("| model | seeds | epochs | test squared L2 per image | test L1 per image | test MSE per pixel |")
print("| --- | --- | --- | --- | --- | --- |")
for m in order:
    rows = [r for r in metrics if r["Model"] == m]
    if rows:
        print(f"| {names[m]} | {len(rows)} | {rows[0]['Epochs']} | {ms([r['TestSquaredL2PerImage'] for r in rows], 2)} | "
              f"{ms([r['TestL1PerImage'] for r in rows], 2)} | {ms([r['TestMsePerPixel'] for r in rows], 4)} |")
print()
for path in score_files:
    scores = json.load(open(path))
    s0 = scores[0]
    print(f"Features: {s0['Features']} ({s0['FeatureDimension']}-d); {s0['Samples']} generated vs {s0['ReferenceSamples']} test images; "
          f"KID subsets of {s0['KidSubsetSize']}. Mean ± standard deviation over seeds.\n")
    print("| model | seeds | FD | KID |")
    print("| --- | --- | --- | --- |")
    for m in ["real"] + order:
        rows = [s for s in scores if s["Model"] == m]
        if rows:
            print(f"| {names[m]} | {len(rows) if m != 'real' else '-'} | {ms([r['FrechetDistance'] for r in rows], 2)} | {ms([r['KidMean'] for r in rows], 3)} |")
    print()
