#!/usr/bin/env bash
# The offloading benchmark on the GPU machine, in one call (see docs/expertflow-offloading.md):
#   1. GPU tests of the offloading engine (toy model and runtime fixtures, every policy, bit-identical);
#   2. expertflow bench on a random bf16 Qwen1.5-MoE-A2.7B-shaped model: budgets 6.5 GiB and 4 GiB,
#      batch 1 and 16, policies on-demand / lru / next-layer, (RESIDENT=--resident adds the runtime's all-resident reference);
#   3. Hugging Face accelerate offload at 4 GiB on the same checkpoint.
# usage: bash gpu_run.sh BUNDLE_DIR  (writes into $OUT)
set -uo pipefail
B=$1
W=/tmp/ef-bench; mkdir -p $W
T0=$(date +%s)
( timeout ${TEST_TIMEOUT:-35} bash $B/run.sh ExpertFlow.Tests -trait "Category=GPU" -class "ExpertFlow.Tests.Offloading.OffloadingCorrectnessTests" -class "ExpertFlow.Tests.Offloading.FixtureOffloadingTests" ) >> $OUT/log.txt 2>&1
echo "tests rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/log.txt >&2
( timeout ${BENCH_TIMEOUT:-170} bash $B/run.sh ExpertFlow.Cli bench --synthetic qwen1.5-moe-a2.7b --work $W/model \
    --memory 6.5GiB,4GiB --batch 1,16 --prompt-tokens 32 --new-tokens ${NEW_TOKENS:-12} ${RESIDENT:-} --bandwidth --out $OUT/report --device cuda ) >> $OUT/log.txt 2>&1
echo "bench rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/log.txt >&2
[ "${HF_TIMEOUT:-70}" = 0 ] || ( timeout ${HF_TIMEOUT:-70} python3 $B/accelerate_offload.py --model $W/model --memory 4GiB --batch 1 16 --prompt-tokens 32 --new-tokens 3 --out $OUT/accelerate.json ) >> $OUT/log.txt 2>&1
echo "accelerate rc=$? at $(( $(date +%s) - T0 )) s" | tee -a $OUT/log.txt >&2
grep -E 'Passed|Failed|Total|rc=' $OUT/log.txt | tail -20
