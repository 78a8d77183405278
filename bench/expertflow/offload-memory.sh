#!/usr/bin/env bash
# Device memory of the offloading engine against its budget: one fresh process per (budget, batch) case
# (`expertflow bench --cold`: no warm-up, so the driver-measured peak is that case's own), on the random bf16
# Qwen1.5-MoE-A2.7B-shaped checkpoint that `expertflow bench --synthetic` writes once into $WORK.
# summary.md: per case the planned bytes, the peak the driver measured above the process's CUDA baseline, and
# whether it stayed within the budget; a budget below the model's footprint is refused with the minimum it needs.
# Needs a CUDA GPU and a CUDA libtorch (LIBTORCH, or python3's torch).
#
#   bash bench/expertflow/offload-memory.sh
#   MEMORY=4GiB,6.5GiB,8GiB BATCH=1,16 POLICY=lru+lookahead NEW_TOKENS=32 bash bench/expertflow/offload-memory.sh
# Results: runs/offload-memory/<time>/ (or $OUT).
set -uo pipefail
source "$(dirname "$0")/../env.sh"
MEMORY=${MEMORY:-4GiB,6.5GiB} BATCH=${BATCH:-1,16} POLICY=${POLICY:-lru} NEW_TOKENS=${NEW_TOKENS:-12}
PROMPT_TOKENS=${PROMPT_TOKENS:-32} DEVICE=${DEVICE:-cuda}
SYNTHETIC=${SYNTHETIC:-qwen1.5-moe-a2.7b} WORK=${WORK:-runs/bench-model-$SYNTHETIC}
need_tool ExpertFlow.Cli || exit 2
out=$(out_dir offload-memory)
record_machine "$out"
echo "results in $out"

for m in ${MEMORY//,/ }; do
  for b in ${BATCH//,/ }; do
    name="$m-batch$b"
    expertflow bench --synthetic "$SYNTHETIC" --work "$WORK" --memory "$m" --batch "$b" --policies "$POLICY" --cold \
      --prompt-tokens "$PROMPT_TOKENS" --new-tokens "$NEW_TOKENS" --device "$DEVICE" --out "$out/$name" \
      > "$out/$name.txt" 2>&1 || echo "$name: exit $? (see $out/$name.txt)"
  done
done

python3 - "$out" "$MEMORY" "$BATCH" <<'PY' | tee "$out/summary.md"
import json, os, sys
out, budgets, batches = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
def gib(b): return f"{b / 2**30:.2f} GiB"
print("| budget | batch | policy | planned | measured peak | within budget | decode tok/s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for m in budgets:
    for b in batches:
        name = f"{m}-batch{b}"
        path = f"{out}/{name}/results.json"
        if not os.path.exists(path):
            log = open(f"{out}/{name}.txt").read().strip().splitlines() if os.path.exists(f"{out}/{name}.txt") else ["no output"]
            print(f"| {m} | {b} | | | | refused: {log[-1] if log else ''} | |")
            continue
        for r in json.load(open(path)):
            if r.get("error"):
                print(f"| {m} | {b} | {r['policy']} | | | error: {r['error']} | |"); continue
            within = "yes" if r["measured_peak_device_bytes"] <= r["memory_bytes"] else "no"
            print(f"| {m} | {b} | {r['policy']} | {gib(r['planned_device_bytes'])} | {gib(r['measured_peak_device_bytes'])} | {within} | {r['decode_tokens_per_second']:.2f} |")
PY
