#!/usr/bin/env bash
# Routing-path predictor and expert-cache policies on a trained MoE: `expertflow eval-cache` generates from held-out
# prompts through the offloading engine (two batches in flight) under every policy, cache size and batch size, and
# compares each run's ids with the all-resident run's. Steps:
#   1. MODEL=large only: trains the larger demo configuration (Mixtral-style, 8 layers x 16 experts top-2, hidden 1024,
#      expert width 2816: 1.15 B parameters, 34.6 MB per fp32 expert) for TRAIN_MINUTES into runs/large-demo-moe,
#      unless a model is already there;
#   2. the predictor folder (PREDICTOR, default MODEL/predictor): trains the routing-path predictor when a policy
#      needs it and the folder has none (or TRAIN_PREDICTOR=1, then into the run folder); records held-out traces when
#      the folder has none (the prompts come from them);
#   3. EVAL_PREDICTOR=1: the predictor's held-out recall next to heuristics and the token scheduler on traces
#      (`expertflow eval-predictor` on a copy in the run folder, traced here when the training traces are absent);
#   4. `expertflow eval-cache` with POLICIES, CACHE, BATCH, NEW_TOKENS, RUNS and any EXTRA options.
# The committed demo model runs on a CPU too (DEVICE=cpu); the larger model needs a GPU. Texts to train and trace on:
# CORPUS (a .dict.dz, .jsonl or text file; default: what the model was trained on, else the Debian package dict-gcide).
#
#   DEVICE=cpu bash bench/expertflow/cache-eval.sh                       # all policies on the committed demo model
#   MODEL=large POLICIES=lru,expertflow,expertflow-oracle,lru CACHE=0.25,0.5 BATCH=1 NEW_TOKENS=32 RUNS=6 \
#     bash bench/expertflow/cache-eval.sh                                # batch 1 on the larger model (GPU)
#   MODEL=large POLICIES=lru,next-layer,expertflow-oracle CACHE=0.25,0.5 BATCH=16,1 bash bench/expertflow/cache-eval.sh
# Results: runs/cache-eval/<time>/ (or $OUT): cache/report.md (table and plots), cache/results.json, logs.
set -uo pipefail
source "$(dirname "$0")/../env.sh"
MODEL=${MODEL:-models/demo-moe} DEVICE=${DEVICE:-auto}
POLICIES=${POLICIES:-on-demand,lru,next-layer,expertflow-no-ts,expertflow,expertflow-oracle}
CACHE=${CACHE:-0.1,0.25,0.5} BATCH=${BATCH:-1,16} NEW_TOKENS=${NEW_TOKENS:-48} RUNS=${RUNS:-2} EXTRA=${EXTRA:-}
TRAIN_MINUTES=${TRAIN_MINUTES:-5} TRAIN_PREDICTOR=${TRAIN_PREDICTOR:-0} EVAL_PREDICTOR=${EVAL_PREDICTOR:-0}
need_tool ExpertFlow.Cli || exit 2
out=$(out_dir cache-eval)
record_machine "$out"
echo "results in $out"
corpus=()
[ -n "${CORPUS:-}" ] && corpus=(--corpus "$CORPUS")

if [ "$MODEL" = large ]; then
  MODEL=runs/large-demo-moe
  TRACE_ENTRIES=${TRACE_ENTRIES:-8000} GENERATED_ENTRIES=${GENERATED_ENTRIES:-1500} PREDICTOR_MINUTES=${PREDICTOR_MINUTES:-2.5}
  if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "training the larger demo model for $TRAIN_MINUTES minutes into $MODEL"
    expertflow train-demo --preset large --output "$MODEL" "${corpus[@]}" --device "$DEVICE" \
      --max-minutes "$TRAIN_MINUTES" > "$out/train-demo.log" 2>&1 || { echo "train-demo failed: see $out/train-demo.log"; exit 1; }
  fi
fi
TRACE_ENTRIES=${TRACE_ENTRIES:-12000} GENERATED_ENTRIES=${GENERATED_ENTRIES:-4000} PREDICTOR_MINUTES=${PREDICTOR_MINUTES:-0}
traced=(--trace-entries "$TRACE_ENTRIES" --generated-entries "$GENERATED_ENTRIES" --device "$DEVICE")

predictor=${PREDICTOR:-$MODEL/predictor}
needs_predictor=0
echo ",$POLICIES," | grep -Eq ',expertflow(-no-ts)?[,+]' && needs_predictor=1
if [ "$TRAIN_PREDICTOR" = 1 ] || { [ "$needs_predictor" = 1 ] && [ ! -f "$predictor/predictor_config.json" ]; }; then
  [ "$TRAIN_PREDICTOR" = 1 ] && [ -z "${PREDICTOR:-}" ] && predictor=$out/predictor
  echo "training the routing-path predictor into $predictor"
  expertflow train-predictor --model "$MODEL" --output "$predictor" "${corpus[@]}" "${traced[@]}" \
    --max-minutes "$PREDICTOR_MINUTES" > "$out/train-predictor.log" 2>&1 || { echo "train-predictor failed: see $out/train-predictor.log"; exit 1; }
elif [ ! -f "$predictor/heldout.eftrace" ]; then
  echo "recording held-out traces into $predictor"
  expertflow trace --model "$MODEL" --output "$predictor" "${corpus[@]}" --trace-entries 100 --generated-entries 0 \
    --device "$DEVICE" > "$out/trace.log" 2>&1 || { echo "trace failed: see $out/trace.log"; exit 1; }
fi

if [ "$EVAL_PREDICTOR" = 1 ]; then
  mkdir -p "$out/predictor-eval" && cp "$predictor"/predictor* "$predictor"/*.eftrace "$out/predictor-eval/" 2> /dev/null
  if [ ! -f "$out/predictor-eval/train.eftrace" ]; then
    expertflow trace --model "$MODEL" --output "$out/predictor-eval" "${corpus[@]}" "${traced[@]}" > "$out/trace-eval.log" 2>&1
  fi
  expertflow eval-predictor --predictor "$out/predictor-eval" --out "$out/predictor-eval" --device "$DEVICE" > "$out/eval-predictor.log" 2>&1 \
    || echo "eval-predictor failed: see $out/eval-predictor.log"
  cat "$out/predictor-eval/eval.md" 2> /dev/null
fi

# shellcheck disable=SC2086  # EXTRA holds several options
expertflow eval-cache --model "$MODEL" --predictor "$predictor" --device "$DEVICE" --policies "$POLICIES" --cache "$CACHE" \
  --batch "$BATCH" --new-tokens "$NEW_TOKENS" --runs "$RUNS" --out "$out/cache" $EXTRA > "$out/eval-cache.log" 2>&1 \
  || echo "eval-cache failed: see $out/eval-cache.log"
grep -E '^\|' "$out/cache/report.md" 2> /dev/null | tee "$out/summary.md"
