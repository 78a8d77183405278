#!/usr/bin/env bash
# The OpenAI-compatible server under 1, 8, 32 and 64 concurrent streaming clients (all experts resident, then offloaded
# into MEMORY) against Hugging Face transformers generate on the same prompts as static batches, in the same run.
#   SHAPE=qwen1.5-moe-a2.7b MEMORY=6.5GiB CLIENTS=1,8,32,64 NEW=64 bash bench/serve/vs-transformers.sh
source "$(dirname "$0")/../env.sh"
SHAPE=${SHAPE:-qwen1.5-moe-a2.7b}; MEMORY=${MEMORY:-6.5GiB}; CLIENTS=${CLIENTS:-1,8,32,64}; NEW=${NEW:-64}; WORK=${WORK:-runs/bench-model}
dir=$(out_dir serve); record_machine "$dir"
need_tool ExpertFlow.Cli || exit 2
expertflow bench-serve --synthetic "$SHAPE" --work "$WORK" --clients "$CLIENTS" --new-tokens "$NEW" --device cuda --out "$dir/resident" | tee "$dir/resident.txt"
expertflow bench-serve --model "$WORK" --memory "$MEMORY" --clients "$CLIENTS" --new-tokens "$NEW" --device cuda --out "$dir/offloaded" | tee "$dir/offloaded.txt"
python3 bench/serve/transformers_peer.py "$WORK" "$dir/resident/prompts.json" "$dir/transformers.json" --clients "$CLIENTS" | tee "$dir/transformers.txt"
{ echo "# Server vs transformers ($SHAPE)"; echo; grep -h '^|' "$dir/resident.txt" "$dir/offloaded.txt" | awk '!seen[$0]++'; echo; cat "$dir/transformers.txt"; } > "$dir/summary.md"
echo "summary: $dir/summary.md"
