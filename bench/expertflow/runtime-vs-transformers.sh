#!/usr/bin/env bash
# ExpertFlow's runtime (all experts resident) against Hugging Face transformers on the same model shape, in one call.
# Model: Qwen1.5-MoE-A2.7B shape (24 layers, hidden 2048, 60 experts of 1408 top-4, shared expert 5632, vocabulary
# 151936) with random bf16 weights on both sides; random prompts, greedy decoding. Steps:
#   1. `expertflow bench-runtime --paths stacked --cuda-graphs on --fused-kernels both`: the fused kernels on and off in
#      one process (off = transformers' op sequence);
#   2. REPEATS alternating pairs: `expertflow bench-runtime --paths stacked --cuda-graphs on` (the default decode path on
#      CUDA) in a fresh process, then bench/expertflow/runtime_transformers_peer.py;
#   3. summary.md: every run's decode tokens/s per batch size and the ratio of the medians.
# Needs a CUDA GPU, a CUDA libtorch (LIBTORCH, or python3's torch) and Python with torch and transformers for the peer.
#
#   bash bench/expertflow/runtime-vs-transformers.sh
#   REPEATS=5 BATCH=1,16 NEW_TOKENS=32 PROMPT_TOKENS=32 AB=0 bash bench/expertflow/runtime-vs-transformers.sh
#   DEVICE=cpu SMALL=1 PEER=0 REPEATS=1 bash bench/expertflow/runtime-vs-transformers.sh    # a smoke run of the script on a CPU
# Results: runs/runtime-vs-transformers/<time>/ (or $OUT).
set -uo pipefail
source "$(dirname "$0")/../env.sh"
REPEATS=${REPEATS:-3} BATCH=${BATCH:-1,16} NEW_TOKENS=${NEW_TOKENS:-32} PROMPT_TOKENS=${PROMPT_TOKENS:-32}
DEVICE=${DEVICE:-cuda} AB=${AB:-1} PEER=${PEER:-1} SMALL=${SMALL:-0}
need_tool ExpertFlow.Cli || exit 2
out=$(out_dir runtime-vs-transformers)
record_machine "$out"
shape=(--batch "$BATCH" --prompt-tokens "$PROMPT_TOKENS" --new-tokens "$NEW_TOKENS" --device "$DEVICE")
[ "$SMALL" = 1 ] && shape+=(--small --layers 2)
echo "results in $out"

if [ "$AB" = 1 ]; then
  expertflow bench-runtime "${shape[@]}" --paths stacked --cuda-graphs on --fused-kernels both --json "$out/fused-ab.json" \
    > "$out/fused-ab.txt" 2>&1 || echo "fused kernels A/B failed: see $out/fused-ab.txt"
fi
for i in $(seq 1 "$REPEATS"); do
  expertflow bench-runtime "${shape[@]}" --paths stacked --cuda-graphs on --json "$out/expertflow-$i.json" \
    > "$out/expertflow-$i.txt" 2>&1 || echo "run $i of expertflow failed: see $out/expertflow-$i.txt"
  if [ "$PEER" = 1 ]; then
    python3 bench/expertflow/runtime_transformers_peer.py "$out/transformers-$i.json" --batch "$BATCH" --prompt "$PROMPT_TOKENS" \
      --new "$NEW_TOKENS" > "$out/transformers-$i.txt" 2>&1 || echo "run $i of transformers failed: see $out/transformers-$i.txt"
  fi
done

python3 - "$out" "$REPEATS" <<'PY' | tee "$out/summary.md"
import json, os, statistics, sys
out, repeats = sys.argv[1], int(sys.argv[2])
def speeds(system):
    found = {}
    for i in range(1, repeats + 1):
        path = f"{out}/{system}-{i}.json"
        if not os.path.exists(path): continue
        for r in json.load(open(path))["results"]:
            if "decode_tokens_per_second" in r: found.setdefault(r["batch"], []).append(r["decode_tokens_per_second"])
    return found
ours, peer = speeds("expertflow"), speeds("transformers")
print("| batch | expertflow decode tok/s | transformers decode tok/s | ratio of medians |")
print("| --- | --- | --- | --- |")
for b in sorted(ours):
    o, p = ours[b], peer.get(b, [])
    ratio = f"{statistics.median(o) / statistics.median(p):.2f}x" if o and p else "-"
    print(f"| {b} | {' / '.join(f'{x:.1f}' for x in o)} | {' / '.join(f'{x:.1f}' for x in p) or '-'} | {ratio} |")
if os.path.exists(f"{out}/fused-ab.json"):
    print("\nFused kernels on/off in one process (decode tok/s):")
    for r in json.load(open(f"{out}/fused-ab.json"))["results"]:
        print(f"- {r['path']}, batch {r['batch']}: {r['decode_tokens_per_second']:.1f} (prefill {1000 * r['prefill_seconds']:.0f} ms)")
PY
