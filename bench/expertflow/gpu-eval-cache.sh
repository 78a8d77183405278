#!/usr/bin/env bash
# Issue 5's cache evaluation on the GPU machine with the committed demo model and predictor (docs/expertflow-prediction.md).
# Bundle: .gpu/dotnet.tar.xz, .gpu/gpu-env.sh and .gpu/app/ (the published CLI alone, see the session-3 notes there); run from the
# repository root with carry [".gpu"]: bash .gpu/gpu-eval-cache.sh. Writes into $OUT.
cd "$(dirname "$0")/.."
source .gpu/gpu-env.sh
s=$(date +%s)
timeout ${T:-400} dotnet .gpu/app/ExpertFlow.Cli.dll eval-cache --model models/demo-moe --device cuda \
  --policies lru,next-layer,expertflow-no-ts,expertflow --cache 0.1,0.25,0.5 --batch 1,16 --new-tokens 48 --plots false \
  --out /tmp/cache-gpu > "$OUT/eval-cache.log" 2>&1
echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/eval-cache.log"
cp /tmp/cache-gpu/report.md /tmp/cache-gpu/results.json "$OUT/" 2>/dev/null
grep -E "^\| " /tmp/cache-gpu/report.md | cut -d'|' -f2-8,10,11,14; grep -E "decode misses|rc=" "$OUT/eval-cache.log" | cut -c1-160
