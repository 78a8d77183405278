#!/usr/bin/env bash
# Session 4, final offloading call: device memory of one fresh process per case with segmented CUDA graphs (--cold),
# the 4 GiB batch-1 sweep with 64 new tokens (graph capture amortised), and HF accelerate at 4 GiB in the same call.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
bench() { local name=$1; shift; sleep 5; local s=$(date +%s); timeout ${T:-150} dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --device cuda "$@" --out /tmp/r/$name > /tmp/r-$name.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/r-$name.txt; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; }
s=$(date +%s); timeout 150 dotnet $A/ExpertFlow.Tests.dll -trait "Category=GPU" > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"; tail -n 2 "$OUT/tests.txt"
bench cold-4g-b1 --memory 4GiB --batch 1 --policies on-demand --new-tokens 12 --cold
bench cold-6g-b16 --memory 6.5GiB --batch 16 --policies lru --new-tokens 12 --cold
bench cold-6g-b1 --memory 6.5GiB --batch 1 --policies lru --new-tokens 12 --cold
bench sweep-4g-b1 --memory 4GiB --batch 1 --policies on-demand,lru,next-layer --new-tokens 64
s=$(date +%s); timeout 200 python3 accelerate_offload.py --model $W/model --memory 4GiB --batch 1 --new-tokens 3 --out "$OUT/accelerate.json" > /tmp/acc.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/acc.txt
for f in /tmp/r-*.txt; do echo "== $f"; grep -E "│ (on-d|lru|next)|rc=|rror" $f; done | tee "$OUT/bench-tables.txt"; tail -n 2 /tmp/acc.txt
