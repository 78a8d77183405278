#!/usr/bin/env bash
# Session 6, second look-ahead call: three alternating pairs of on-demand and on-demand+lookahead at 4 GiB, batch 1,
# 64 new tokens (one process: the model and its pinned arena are shared; the bench's warm-up run comes first), then
# HF accelerate at 4 GiB twice, for medians instead of single runs.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
export COLUMNS=200
s=$(date +%s); timeout 300 dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --device cuda \
  --memory 4GiB --batch 1 --new-tokens 64 --policies on-demand,on-demand+lookahead,on-demand,on-demand+lookahead,on-demand,on-demand+lookahead \
  --out /tmp/r/pairs > /tmp/r-pairs.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/r-pairs.txt
cp /tmp/r/pairs/results.json "$OUT/pairs.json"; cp /tmp/r/pairs/report.md "$OUT/pairs.md"; tail -n 1 /tmp/r-pairs.txt
for i in 1 2; do s=$(date +%s); timeout 150 python3 accelerate_offload.py --model $W/model --memory 4GiB --batch 1 --new-tokens 4 --out "$OUT/accelerate-$i.json" > /tmp/acc-$i.txt 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> /tmp/acc-$i.txt; tail -n 2 /tmp/acc-$i.txt; done
grep -E "^\|" "$OUT/pairs.md"
