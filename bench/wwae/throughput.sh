#!/usr/bin/env bash
# Training throughput of the wwae tool (TorchSharp, FlatAdam) against PyTorch on the same model, batch and optimizer
# (PyTorch with its default multi-tensor Adam and with fused Adam), three alternating rounds in one call.
#
#   bash bench/wwae/throughput.sh                      # CUDA, all five models, results under runs/wwae/throughput/
#   DEVICE=cpu STEPS=20 MODELS=wwae bash bench/wwae/throughput.sh   # a quick check on the CPU
#
# WWAE: the command that runs the tool (default: dotnet run of src/Wwae.Cli; on a machine with a published copy,
# e.g. WWAE="bash .gpu-wwae/run.sh Wwae.Cli"). PYTHON: a python with torch. Writes one JSON per run, versions.txt and
# summary.md (images/s per model and run, and the ratio of TorchSharp to each PyTorch variant per round).
set -euo pipefail
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-300}
BATCH=${BATCH:-100}
MODELS=${MODELS:-wwae,vae,wae-mmd,wae-gan}
ROUNDS=${ROUNDS:-3}
OUT=${OUT_DIR:-runs/wwae/throughput}
PYTHON=${PYTHON:-python3}
WWAE=${WWAE:-dotnet run --project src/Wwae.Cli -c Release --}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(hostname)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  $PYTHON -c "import torch; print('pytorch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
  # TorchSharp's libtorch: the libtorch package the tool was built against (its deps.json names it).
  find . -path ./runs -prune -o -name 'Wwae.Cli.deps.json' -print 2>/dev/null | head -1 | xargs -r grep -o '"libtorch-[a-z0-9.-]*/[0-9.]*"' | sort -u | sed 's/^/torchsharp /' || true
} | tee "$OUT/versions.txt"
for round in $(seq 1 "$ROUNDS"); do
  $PYTHON "$HERE/throughput.py" --device "$DEVICE" --steps "$STEPS" --batch-size "$BATCH" --models "$MODELS" --adam foreach --out "$OUT/pytorch-foreach-$round.json"
  $WWAE bench --device "$DEVICE" --steps "$STEPS" --batch-size "$BATCH" --models "$MODELS" --out "$OUT/torchsharp-$round.json"
  $PYTHON "$HERE/throughput.py" --device "$DEVICE" --steps "$STEPS" --batch-size "$BATCH" --models "$MODELS" --adam fused --out "$OUT/pytorch-fused-$round.json"
done
$PYTHON - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/summary.md"
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
names = {"Wwae": "wwae", "Vae": "vae", "BetaVae": "beta-vae", "WaeMmd": "wae-mmd", "WaeGan": "wae-gan"}
def load(kind, r):
    return {names.get(x["Model"], x["Model"]): x["ImagesPerSecond"] for x in json.load(open(f"{out}/{kind}-{r}.json"))}
print("| model | round | PyTorch foreach Adam (images/s) | TorchSharp FlatAdam (images/s) | PyTorch fused Adam (images/s) | TorchSharp / foreach | TorchSharp / fused |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for r in range(1, rounds + 1):
    f, t, u = load("pytorch-foreach", r), load("torchsharp", r), load("pytorch-fused", r)
    for m in t:
        print(f"| {m} | {r} | {f[m]:,.0f} | {t[m]:,.0f} | {u[m]:,.0f} | {t[m] / f[m]:.2f} | {t[m] / u[m]:.2f} |")
PY
