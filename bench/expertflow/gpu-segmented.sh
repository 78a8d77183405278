#!/usr/bin/env bash
# Session 4: segmented CUDA graphs for offloaded decode. GPU tests, then the 4 GiB batch-1 sweep with graphs on and
# off in separate processes, 6.5 GiB batch 1 and 16, and HF accelerate at 4 GiB in the same call.
# Bundle as bench/runtime/gpu-run.sh (make-bundle.sh), this script and accelerate_offload.py copied into .gpu/.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
s=$(date +%s); timeout 150 dotnet $A/ExpertFlow.Tests.dll -trait "Category=GPU" > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"
bench() { local name=$1; shift; local s=$(date +%s); timeout ${T:-150} dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --new-tokens 12 --device cuda "$@" --out /tmp/r/$name > /tmp/r-$name.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/r-$name.txt; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; }
bench graphs-4g --memory 4GiB --batch 1 --policies on-demand,lru,next-layer --bandwidth
bench eager-4g --memory 4GiB --batch 1 --policies on-demand,lru,next-layer --no-cuda-graphs
bench graphs-6g --memory 6.5GiB --batch 1,16 --policies lru,next-layer
s=$(date +%s); timeout 200 python3 accelerate_offload.py --model $W/model --memory 4GiB --batch 1 --new-tokens 3 --out "$OUT/accelerate.json" > /tmp/acc.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/acc.txt
cat /tmp/r-*.txt | grep -E "│ (on-d|lru|next)|rc=|error|Error" > "$OUT/bench-tables.txt"; tail -n 5 /tmp/acc.txt >> "$OUT/bench-tables.txt"
grep -E "\[FAIL\]" -A8 "$OUT/tests.txt" | grep -v "^\s*at " | head -40; tail -n 3 "$OUT/tests.txt"; cat "$OUT/bench-tables.txt"
