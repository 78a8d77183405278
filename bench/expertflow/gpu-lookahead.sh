#!/usr/bin/env bash
# Session 6, look-ahead prefetching (issue 4's batch-1 gap): the GPU tests (segmented graphs now also capture the
# look-ahead guess), the 4 GiB batch-1 sweep with and without +lookahead (64 new tokens; on-demand first and last to
# see drift), 6.5 GiB at batch 1 and 16, one fresh process for the memory of the look-ahead at 4 GiB, and HF
# accelerate at 4 GiB in the same call.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
export COLUMNS=200
bench() { local name=$1; shift; sleep 3; local s=$(date +%s); timeout ${T:-200} dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --device cuda "$@" --out /tmp/r/$name > /tmp/r-$name.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/r-$name.txt; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; cp /tmp/r/$name/report.md "$OUT/$name.md" 2>/dev/null; }
s=$(date +%s); timeout 200 dotnet $A/ExpertFlow.Tests.dll -trait "Category=GPU" > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"; tail -n 3 "$OUT/tests.txt"
bench sweep-4g-b1 --memory 4GiB --batch 1 --new-tokens 64 --bandwidth \
  --policies on-demand,on-demand+lookahead,lru+lookahead,on-demand+lookahead:2,next-layer,next-layer+lookahead,lru+lookahead,on-demand
bench 6g --memory 6.5GiB --batch 1,16 --policies lru,lru+lookahead --new-tokens 32
bench cold-4g-b1-lookahead --memory 4GiB --batch 1 --policies lru+lookahead --new-tokens 64 --cold
s=$(date +%s); timeout 200 python3 accelerate_offload.py --model $W/model --memory 4GiB --batch 1 --new-tokens 3 --out "$OUT/accelerate.json" > /tmp/acc.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/acc.txt
for f in /tmp/r-*.txt; do echo "== $f"; grep -E "│|rc=|rror" $f | tail -n 14; done > "$OUT/bench-tables.txt"; cat "$OUT"/*.md | grep -E "^\|" ; tail -n 3 /tmp/acc.txt
