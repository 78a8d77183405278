#!/usr/bin/env bash
# Session 5, call B (right after gpu-big-demo-train.sh, same warm machine): traces the larger demo model, trains its
# routing path predictor on the GPU, and runs the cache evaluation (every policy's ids checked against all-resident).
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; M=/tmp/ef-big/model
[ -f $M/model.safetensors ] || { echo "no model in $M: call A did not run on this machine"; exit 3; }
s=$(date +%s)
timeout ${T1:-300} dotnet $A/ExpertFlow.Cli.dll train-predictor --model $M --trace-entries 8000 --generated-entries 1500 \
  --steps 6000 --max-minutes ${PMIN:-2.5} --device cuda > "$OUT/train-predictor.log" 2>&1
echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/train-predictor.log"
cp $M/predictor/eval.md "$OUT/predictor-eval.md" 2>/dev/null
s=$(date +%s)
timeout ${T2:-250} dotnet $A/ExpertFlow.Cli.dll eval-cache --model $M --device cuda --policies ${POLICIES:-on-demand,lru,next-layer,expertflow-no-ts,expertflow} \
  --cache ${CACHE:-0.25} --batch 1,16 --new-tokens 24 --plots false --out /tmp/ef-big/cache > "$OUT/eval-cache.log" 2>&1
echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/eval-cache.log"
cp /tmp/ef-big/cache/report.md "$OUT/cache-report.md"; cp /tmp/ef-big/cache/results.json "$OUT/cache-results.json"
tail -c 2500 "$OUT/train-predictor.log"; tail -c 4000 "$OUT/eval-cache.log"
