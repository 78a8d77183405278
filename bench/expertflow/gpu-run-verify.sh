#!/usr/bin/env bash
# After the per-layer dispose scopes: GPU tests (parity, CUDA graphs, offloading), the offloading memory at 4 GiB in
# fresh processes (batch 1 and 16), and the all-resident runtime with CUDA graphs alone. Bundle as gpu-run-memory.sh.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
run() { local name=$1; shift; local s=$(date +%s); timeout ${T:-150} dotnet $A/ExpertFlow.Cli.dll "$@" > "$OUT/$name.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/$name.txt"; }
s=$(date +%s); timeout 120 dotnet $A/ExpertFlow.Tests.dll -class ExpertFlow.Tests.Model.DecodeGraphTests -class ExpertFlow.Tests.Model.ParityTests \
  -class ExpertFlow.Tests.Offloading.OffloadingCorrectnessTests -class ExpertFlow.Tests.Offloading.FixtureOffloadingTests -class ExpertFlow.Tests.Offloading.CachePolicyTests > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"
B="bench --synthetic qwen1.5-moe-a2.7b --work $W/model --memory 4GiB --prompt-tokens 32 --new-tokens 12 --device cuda --cold"
run b1-cold $B --batch 1 --policies on-demand --out /tmp/r/b1
B65="bench --synthetic qwen1.5-moe-a2.7b --work $W/model --memory 6.5GiB --prompt-tokens 32 --new-tokens 12 --device cuda --cold"
run b1-cold-6.5 $B65 --batch 1 --policies lru --out /tmp/r/b1-65
run b16-cold-6.5 $B65 --batch 16 --policies lru --out /tmp/r/b16-65
bench() { local name=$1; shift; run $name bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --new-tokens 12 --device cuda "$@" --out /tmp/r/$name; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; }
bench sweep-b1 --memory 6.5GiB,4GiB --batch 1 --policies on-demand,lru,next-layer --bandwidth
T=200 bench sweep-b16 --memory 6.5GiB,4GiB --batch 16 --policies on-demand,lru
grep -E "\[FAIL\]" "$OUT/tests.txt" | head; tail -n 3 "$OUT/tests.txt"
for f in b1-cold b1-cold-6.5 b16-cold-6.5; do echo "== $f"; grep -E "after|peak measured|plan|rc=" "$OUT/$f.txt" | cut -c1-200; done
for f in sweep-b1 sweep-b16; do echo "== $f"; grep -E "peak measured|plan|rc=" "$OUT/$f.txt" | cut -c1-200; done
