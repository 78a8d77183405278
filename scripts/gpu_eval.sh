#!/usr/bin/env bash
# The GPU part of docs/expertflow-prediction.md, run on the GPU machine from the repository root with the
# bundle in .gpu-ef-predict/ (gpu-bundle of src/ExpertFlow.Cli plus models/demo-moe copied to
# .gpu-ef-predict/demo-moe and this script). Writes to $OUT.
set -uo pipefail
D=.gpu-ef-predict
M=$D/demo-moe
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
# 1. transformers loads the demo model and continues a prompt exactly as ExpertFlow's runtime does (CPU reference ids).
timeout 45 python3 $D/check_demo_transformers.py "$M" "$(cat $D/prompt_ids.txt)" "$(cat $D/expected_ids.txt)" > "$OUT/transformers_check.json" 2> "$OUT/transformers_check.err"
echo "transformers check rc=$?"
cat "$OUT/transformers_check.json"
# 2. cache policies on the GPU.
timeout 115 bash $D/run.sh ExpertFlow.Cli eval-cache --model "$M" --predictor "$M/predictor" --device cuda --cache 0.25,0.1,0.5 --plots false --out "$OUT/cache-gpu" > "$OUT/eval-cache.log" 2>&1
echo "eval-cache rc=$?"
tail -c 6000 "$OUT/eval-cache.log"
