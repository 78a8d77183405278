#!/usr/bin/env bash
# Issue 3's comparison repeated: this runtime (stacked + CUDA graphs, one process per repeat) and the transformers
# peer, alternating, three times each, so the ratio is not one noisy pair. Bundle as gpu-run.sh. Writes into $OUT.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests
for i in 1 2 3; do
  timeout 60 dotnet $A/ExpertFlow.Cli.dll bench-runtime --device cuda --paths stacked --cuda-graphs on --json "$OUT/ours-$i.json" > /dev/null 2>&1
  timeout 60 python3 transformers_peer.py "$OUT/peer-$i.json" > /dev/null 2>&1
done
python3 - "$OUT" <<'PY'
import json, sys, statistics, glob
out = sys.argv[1]
def ours(i, b): return next(r["decode_tokens_per_second"] for r in json.load(open(f"{out}/ours-{i}.json"))["results"] if r["batch"] == b)
def peer(i, b):
    d = json.load(open(f"{out}/peer-{i}.json"))
    rs = d.get("results", d if isinstance(d, list) else [])
    return next(r["decode_tokens_per_second"] for r in rs if r["batch"] == b)
for b in (1, 16):
    o = [ours(i, b) for i in (1, 2, 3)]; p = [peer(i, b) for i in (1, 2, 3)]
    print(f"batch {b}: ours {['%.1f' % x for x in o]} peer {['%.1f' % x for x in p]} ratio of medians {statistics.median(o) / statistics.median(p):.2f}x")
PY
