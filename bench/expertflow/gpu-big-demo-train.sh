#!/usr/bin/env bash
# Session 5, call A: trains the larger demo MoE on the H200 (issue 5's "larger configuration for the GPU evaluation"):
# Mixtral-style, 8 layers, 16 experts top-2, hidden 1024, expert width 2816 (34.6 MB per expert in fp32, 1.1 B
# parameters), on GCIDE (the bundle carries /usr/share/dictd/gcide.dict.dz as .gpu/gcide.dict.dz). The model stays in
# /tmp/ef-big on the GPU machine for call B (gpu-big-demo-eval.sh), which must follow while the machine is warm.
# Bundle (CLI only, so the corpus fits the device tool's 64 MiB): as bench/runtime/make-bundle.sh but publishing only
# src/ExpertFlow.Cli into .gpu/app/ExpertFlow.Tests, then
#   cp bench/gpu-env.sh bench/expertflow/gpu-big-demo-*.sh /usr/share/dictd/gcide.dict.dz .gpu/
# and move models/ and docs/ aside while the device call runs. Run: bash .gpu/gpu-big-demo-train.sh (carry .gpu).
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; M=/tmp/ef-big/model
rm -rf /tmp/ef-big && mkdir -p /tmp/ef-big
s=$(date +%s)
timeout ${T:-500} dotnet $A/ExpertFlow.Cli.dll train-demo --output $M --corpus "$PWD/gcide.dict.dz" --device cuda \
  --hidden 1024 --ff 2816 --layers 8 --experts 16 --top-k 2 --vocab 8192 --steps ${STEPS:-3000} --batch 16 --seq-len 128 \
  --lr 1e-3 --checkpoint-every 100000 --max-minutes ${MINUTES:-6} > "$OUT/train-demo.log" 2>&1
echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/train-demo.log"
tail -c 3000 "$OUT/train-demo.log"
cp $M/loss.png $M/training_log.csv $M/config.json "$OUT/" 2>/dev/null
ls -la $M
