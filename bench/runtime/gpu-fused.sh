#!/usr/bin/env bash
# Session 4's GPU call for the fused kernels (LibTorchOps: rms_norm + grouped expert GEMM): the GPU tests, one
# bench-runtime with the fused kernels on and off in the same process, then issue 3's comparison as three alternating
# pairs (this runtime, fused + CUDA graphs, against the transformers peer). Bundle as gpu-run.sh.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests
s=$(date +%s); timeout 150 dotnet $A/ExpertFlow.Tests.dll -trait "Category=GPU" > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"
s=$(date +%s); timeout 120 dotnet $A/ExpertFlow.Cli.dll bench-runtime --device cuda --paths stacked --cuda-graphs on --fused-kernels both --json "$OUT/fused-ab.json" > "$OUT/fused-ab.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/fused-ab.txt"
for i in 1 2 3; do
  timeout 70 dotnet $A/ExpertFlow.Cli.dll bench-runtime --device cuda --paths stacked --cuda-graphs on --fused-kernels on --json "$OUT/ours-$i.json" > /dev/null 2>&1
  timeout 70 python3 transformers_peer.py "$OUT/peer-$i.json" > /dev/null 2>&1
done
timeout 25 dotnet $A/ExpertFlow.Cli.dll generate --model $A/fixtures/moe/qwen2_moe --input-ids 1,2,3,4 --max-new-tokens 8 --device cuda --dtype bf16 --json > "$OUT/generate.txt" 2>&1; echo "rc=$?" >> "$OUT/generate.txt"
python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, sys, statistics
out = sys.argv[1]
def rows(path): return json.load(open(path))["results"]
def pick(path, b): return next(r["decode_tokens_per_second"] for r in rows(path) if r["batch"] == b)
for b in (1, 16):
    try:
        o = [pick(f"{out}/ours-{i}.json", b) for i in (1, 2, 3)]; p = [pick(f"{out}/peer-{i}.json", b) for i in (1, 2, 3)]
        print(f"batch {b}: ours {['%.1f' % x for x in o]} peer {['%.1f' % x for x in p]} ratio of medians {statistics.median(o) / statistics.median(p):.2f}x")
    except Exception as e: print(f"batch {b}: {e!r}")
PY
grep -E "\[FAIL\]" "$OUT/tests.txt" | head -20; tail -n 3 "$OUT/tests.txt" "$OUT/generate.txt"; tail -n 12 "$OUT/fused-ab.txt"
