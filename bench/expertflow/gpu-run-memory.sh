#!/usr/bin/env bash
# Issue 4's memory and speed at a 4 GiB budget with ONE model per process (earlier runs measured a process that had
# also warmed up other batch sizes), plus the all-resident runtime (CUDA graphs) alone per batch size and Hugging Face
# accelerate at the same budget. Bundle layout as bench/runtime/gpu-run.sh (make-bundle.sh, then copy this script and
# bench/expertflow/accelerate_offload.py into .gpu/). Writes into $OUT.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
nm -D --defined-only "$LIBTORCH/lib/libc10_cuda.so" | grep -i -E "emptyCache|DeviceStats|CachingAllocator9allocator" | head -30 > "$OUT/alloc-symbols.txt"
run() { local name=$1; shift; local s=$(date +%s); timeout ${T:-150} dotnet $A/ExpertFlow.Cli.dll "$@" > "$OUT/$name.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/$name.txt"; }
B="bench --synthetic qwen1.5-moe-a2.7b --work $W/model --memory 4GiB --prompt-tokens 32 --new-tokens 12 --device cuda"
# reports go to /tmp (the device tool returns few files): only results.json comes back, as NAME.json
bench() { local name=$1; shift; run $name $B "$@" --out /tmp/r/$name; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; }
bench b1-cold --batch 1 --policies on-demand --cold
bench b16-cold --batch 16 --policies on-demand --cold
PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True bench b1-cold-expandable --batch 1 --policies on-demand --cold
bench b1 --batch 1 --policies on-demand,lru,next-layer --bandwidth
for f in b1-cold b16-cold b1-cold-expandable b1; do echo "== $f"; grep -E "after|peak measured|rc=" "$OUT/$f.txt" | cut -c1-200; done
