#!/usr/bin/env bash
# Session 6, host compute (+cpu): missed experts split between the PCIe link (copied, computed on the GPU) and the host
# CPU (computed from the pinned arena in place). The offloading fixture tests on the GPU (incl. on-demand+cpu), then
# 4 GiB batch 1 with and without +cpu (alternating), 6.5 GiB batch 16, and HF accelerate at 4 GiB, in one call.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
export COLUMNS=200
s=$(date +%s); timeout 60 dotnet $A/ExpertFlow.Tests.dll -class "ExpertFlow.Tests.Offloading.FixtureOffloadingTests" > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"; grep -E "Total:|FAIL|rc=" "$OUT/tests.txt" | tail -n 4
bench() { local name=$1; shift; local s=$(date +%s); timeout ${T:-120} dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --device cuda "$@" --out /tmp/r/$name > /tmp/r-$name.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/r-$name.txt; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; cp /tmp/r/$name/report.md "$OUT/$name.md" 2>/dev/null; tail -n 1 /tmp/r-$name.txt; grep -E "rror" /tmp/r-$name.txt | head -3; }
T=130 bench b1-4g --memory 4GiB --batch 1 --new-tokens 64 \
  --policies on-demand+lookahead,on-demand+lookahead+cpu,on-demand+cpu,on-demand+lookahead,on-demand+lookahead+cpu
T=90 bench b16-6g --memory 6.5GiB --batch 16 --new-tokens 16 --policies lru,lru+cpu
s=$(date +%s); timeout 60 python3 accelerate_offload.py --model $W/model --memory 4GiB --batch 1 --new-tokens 3 --out "$OUT/accelerate.json" > /tmp/acc.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/acc.txt; tail -n 2 /tmp/acc.txt
cat "$OUT"/*.md | grep -E "^\|"
