#!/usr/bin/env bash
# The OpenAI-compatible server (`expertflow bench-serve`) under concurrent streaming clients, all experts resident and
# then offloaded into MEMORY, against Hugging Face transformers `generate` on the same prompts as static batches
# (bench/expertflow/serve_transformers_peer.py), in the same run. Model: a random bf16 checkpoint of SHAPE written once
# into WORK. Reports throughput, time to first token and inter-token latency per client count.
# Needs a CUDA GPU, a CUDA libtorch (LIBTORCH, or python3's torch) and Python with torch and transformers for the peer.
#
#   bash bench/expertflow/serve-vs-transformers.sh
#   SHAPE=qwen1.5-moe-a2.7b MEMORY=6.5GiB CLIENTS=1,8,32,64 NEW=32 bash bench/expertflow/serve-vs-transformers.sh
#   DEVICE=cpu SHAPE=tiny MEMORY=96KiB CLIENTS=1,4 NEW=8 PEER=0 bash bench/expertflow/serve-vs-transformers.sh   # smoke run on a CPU
# Results: runs/serve-vs-transformers/<time>/ (or $OUT): resident/ and offloaded/ reports, transformers.json, summary.md.
set -uo pipefail
source "$(dirname "$0")/../env.sh"
SHAPE=${SHAPE:-qwen1.5-moe-a2.7b} MEMORY=${MEMORY:-6.5GiB} CLIENTS=${CLIENTS:-1,8,32,64} NEW=${NEW:-64}
DEVICE=${DEVICE:-cuda} PEER=${PEER:-1} WORK=${WORK:-runs/bench-model-$SHAPE}
need_tool ExpertFlow.Cli || exit 2
dir=$(out_dir serve-vs-transformers)
record_machine "$dir"
echo "results in $dir"
expertflow bench-serve --synthetic "$SHAPE" --work "$WORK" --clients "$CLIENTS" --new-tokens "$NEW" --device "$DEVICE" \
  --out "$dir/resident" | tee "$dir/resident.txt" || { echo "bench-serve (resident) failed"; exit 1; }
expertflow bench-serve --model "$WORK" --memory "$MEMORY" --clients "$CLIENTS" --new-tokens "$NEW" --device "$DEVICE" \
  --out "$dir/offloaded" | tee "$dir/offloaded.txt" || echo "bench-serve (offloaded) failed"
if [ "$PEER" = 1 ]; then
  python3 bench/expertflow/serve_transformers_peer.py "$WORK" "$dir/resident/prompts.json" "$dir/transformers.json" \
    --clients "$CLIENTS" | tee "$dir/transformers.txt" || echo "the transformers peer failed"
fi
{
  echo "# Server vs transformers ($SHAPE, $NEW new tokens)"; echo
  grep -h '^|' "$dir/resident.txt" "$dir/offloaded.txt" 2> /dev/null | awk '!seen[$0]++'; echo
  cat "$dir/transformers.txt" 2> /dev/null
} > "$dir/summary.md"
echo "summary: $dir/summary.md"
