#!/usr/bin/env bash
# The offloading engine against Hugging Face accelerate at the same device-memory budget, in one call.
# Model: a random bf16 Qwen1.5-MoE-A2.7B-shaped checkpoint that `expertflow bench --synthetic` writes once into
# $WORK (a safetensors folder transformers loads too). Steps:
#   1. `expertflow bench` at MEMORY and BATCH with POLICIES, in one process (a warm-up first; the default lists
#      on-demand and on-demand+lookahead three times each, alternating, so each gets a median);
#   2. ACCELERATE runs of bench/expertflow/accelerate_offload.py (from_pretrained with device_map="auto" and
#      max_memory = MEMORY on the GPU: accelerate's dispatch_model) on the same folder;
#   3. summary.md: decode tokens/s of every run, per policy the median and its ratio to accelerate's median.
# Needs a CUDA GPU, a CUDA libtorch (LIBTORCH, or python3's torch) and Python with torch, transformers, accelerate.
#
#   bash bench/expertflow/offload-vs-accelerate.sh
#   MEMORY=6.5GiB BATCH=16 NEW_TOKENS=16 POLICIES=lru,lru+cpu ACCELERATE=0 bash bench/expertflow/offload-vs-accelerate.sh
#   DEVICE=cpu SYNTHETIC=tiny MEMORY=96KiB NEW_TOKENS=8 ACCELERATE=0 bash bench/expertflow/offload-vs-accelerate.sh  # smoke run
# Results: runs/offload-vs-accelerate/<time>/ (or $OUT).
set -uo pipefail
source "$(dirname "$0")/../env.sh"
MEMORY=${MEMORY:-4GiB} BATCH=${BATCH:-1} NEW_TOKENS=${NEW_TOKENS:-64} PROMPT_TOKENS=${PROMPT_TOKENS:-32}
POLICIES=${POLICIES:-on-demand,on-demand+lookahead,on-demand,on-demand+lookahead,on-demand,on-demand+lookahead}
ACCELERATE=${ACCELERATE:-2} ACCEL_NEW_TOKENS=${ACCEL_NEW_TOKENS:-4} DEVICE=${DEVICE:-cuda}
SYNTHETIC=${SYNTHETIC:-qwen1.5-moe-a2.7b} WORK=${WORK:-runs/bench-model-$SYNTHETIC}
need_tool ExpertFlow.Cli || exit 2
out=$(out_dir offload-vs-accelerate)
record_machine "$out"
echo "results in $out"

extra=()
[[ "$DEVICE" == cuda* ]] && extra+=(--bandwidth)
expertflow bench --synthetic "$SYNTHETIC" --work "$WORK" --memory "$MEMORY" --batch "$BATCH" --prompt-tokens "$PROMPT_TOKENS" \
  --new-tokens "$NEW_TOKENS" --policies "$POLICIES" --device "$DEVICE" --out "$out/bench" "${extra[@]}" \
  > "$out/bench.txt" 2>&1 || echo "expertflow bench failed: see $out/bench.txt"
for i in $(seq 1 "$ACCELERATE"); do
  python3 bench/expertflow/accelerate_offload.py --model "$WORK" --memory "$MEMORY" --batch ${BATCH//,/ } \
    --prompt-tokens "$PROMPT_TOKENS" --new-tokens "$ACCEL_NEW_TOKENS" --out "$out/accelerate-$i.json" \
    > "$out/accelerate-$i.txt" 2>&1 || echo "accelerate run $i failed: see $out/accelerate-$i.txt"
done

python3 - "$out" "$ACCELERATE" <<'PY' | tee "$out/summary.md"
import json, os, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
results = json.load(open(f"{out}/bench/results.json")) if os.path.exists(f"{out}/bench/results.json") else []
accel = {}
for i in range(1, runs + 1):
    path = f"{out}/accelerate-{i}.json"
    if os.path.exists(path):
        for r in json.load(open(path)): accel.setdefault(r["batch"], []).append(r)
print("| policy | budget | batch | decode tok/s (run order) | median | x accelerate's median decode | peak device memory | ids = reference |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
def size(b):
    if not b: return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale: return f"{b / scale:.2f} {unit}"
    return f"{b} B"
groups = {}
for r in results:
    if r.get("error"): print(f"| {r['policy']} | | {r['batch']} | error: {r['error']} | | | | |"); continue
    groups.setdefault((r["policy"], r["memory_bytes"], r["batch"]), []).append(r)
for (policy, memory, batch), rs in groups.items():
    speeds = [r["decode_tokens_per_second"] for r in rs]
    a = [x["decode_tokens_per_s"] for x in accel.get(batch, [])]
    ratio = f"{statistics.median(speeds) / statistics.median(a):.0f}x" if a else "-"
    peak = max(r["measured_peak_device_bytes"] for r in rs)
    same = "yes" if all(r["same_ids_as_reference"] for r in rs) else "no"
    runs_text = " / ".join("%.2f" % x for x in speeds)
    print(f"| {policy} | {size(memory)} | {batch} | {runs_text} | {statistics.median(speeds):.2f} | {ratio} | {size(peak) if peak > 0 else '-'} | {same} |")
for batch, rs in accel.items():
    decode = " / ".join("%.3f" % r["decode_tokens_per_s"] for r in rs)
    overall = " / ".join("%.3f" % r["tokens_per_s"] for r in rs)
    peak = max(r["peak_allocated_bytes"] for r in rs) / 1e9
    print(f"\nHF accelerate, batch {batch}: decode {decode} tok/s, overall {overall} tok/s, peak allocated {peak:.2f} GB")
PY
