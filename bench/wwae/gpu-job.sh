#!/usr/bin/env bash
# The one GPU-machine job behind docs/wwae.md: throughput (TorchSharp vs PyTorch, same run), the Inception-v3
# port check against PyTorch, the data-set classifier, and the Fashion-MNIST comparison (3 models x 3 seeds).
# Run from the repository root with the bundle in .gpu-wwae (see docs/wwae.md); results go to $OUT.
G=.gpu-wwae
TRAIN_BUDGET_S=${TRAIN_BUDGET_S:-150}
mkdir -p "$OUT" /tmp/wwae-runs
# The published tool travels xz-compressed (the 64 MiB limit); unpack it where run.sh looks.
[ -d "$G/app/Wwae.Cli" ] || { mkdir -p "$G/app" && tar -xJf "$G/app.tar.xz" -C "$G/app"; }
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 "$G/throughput.py" --device cuda --steps 300 --out "$OUT/bench-pytorch.json"
bash "$G/run.sh" Wwae.Cli bench --device cuda --steps 300 --out /tmp/wwae-runs/bench-torchsharp.json
python3 "$G/throughput.py" --device cuda --steps 300 --out /tmp/wwae-runs/bench-pytorch-again.json
if [ -z "${SKIP_CHECKS:-}" ]; then  # the Inception check and the classifier (done once: docs/wwae/gpu-run1)
  python3 "$G/inception_reference.py" /tmp/wwae-inception
  bash "$G/run.sh" Wwae.Cli inception-check --weights /tmp/wwae-inception/weights.safetensors --check /tmp/wwae-inception/check.safetensors \
    --devices cpu,cuda --out /tmp/wwae-runs/inception-check.json
  bash "$G/run.sh" Wwae.Cli train-classifier --data "$G/data" --epochs 5 --device cuda --seed 7 --out /tmp/wwae-runs/classifier.bin
fi
# Epochs that fit the budget: 3 seeds x 60000 images per model at the measured TorchSharp rates, 15% slack.
EPOCHS=$(python3 -c "
import json; r=json.load(open('/tmp/wwae-runs/bench-torchsharp.json')); per_epoch=sum(3 * 60000 / x['ImagesPerSecond'] for x in r)
print(max(1, min(30, int($TRAIN_BUDGET_S / (1.15 * per_epoch)))))" 2>/dev/null || echo 3)
echo "training epochs per run: $EPOCHS"
timeout $((TRAIN_BUDGET_S + 25)) bash "$G/run.sh" Wwae.Cli compare --data "$G/data" --epochs "$EPOCHS" --seeds 1,2,3 --device cuda --out /tmp/wwae-runs/fashion
cd /tmp && tar czf "$OUT/runs.tgz" --exclude='optimizer-*' wwae-runs
ls -la "$OUT"
