#!/usr/bin/env bash
# Kimad, Kimad+ and the progress-aware Kimad+ (kimad-progress) against fixed TopK ratios (0.1-30 %) and uncompressed
# training, in one call: every method on every
# trace family with several seeds (`kimad compare`), workers in network namespaces with tc-shaped links (root), CNN on
# Fashion-MNIST (Debian package dataset-fashion-mnist, or FASHION_MNIST_DIR). Every run's metrics stay in the output
# folder; running the same command again skips finished runs. summary.md: medians and spreads over seeds, and Kimad+
# against the best fixed ratio of the same call per family and target; time_to_target.png.
# The compute/link balance decides the outcome: MIN_COMPUTE_MS makes every round's compute at least that long, so that
# the balance is the same on a faster machine (measured compute per round is in summary.md).
#
#   bash bench/kimad/compare.sh                                                    # 4 families x 3 seeds, 120 s per run
#   FAMILIES=in-phase,independent WORKERS=2 SECONDS_PER_RUN=6 BATCH=32 TARGETS=0.5,0.6,0.65 \
#     METHODS=kimad+,kimad,ef21-fixed:0.001,ef21-fixed:0.01,ef21-fixed:0.1,ef21-fixed:0.3 bash bench/kimad/compare.sh   # small CPU version
# LEVELS picks the level set of the adaptive methods (topk, qsgd, fp16, powersgd, mixed, ...); a method may carry its own
# after '@' (METHODS=kimad+,kimad+@mixed,kimad-progress@powersgd,...; one family or mixed there, as commas separate methods).
# Results: runs/kimad-compare/<time>/ (or $OUT).
set -uo pipefail
source "$(dirname "$0")/../env.sh"
FAMILIES=${FAMILIES:-independent,in-phase,slow-dominated,constant-fast}
METHODS=${METHODS:-kimad+,kimad-progress,kimad,ef21-fixed:0.001,ef21-fixed:0.003,ef21-fixed:0.01,ef21-fixed:0.03,ef21-fixed:0.1,ef21-fixed:0.3,uncompressed}
SEEDS=${SEEDS:-3} WORKERS=${WORKERS:-4} TASK=${TASK:-cnn} BATCH=${BATCH:-64} SECONDS_PER_RUN=${SECONDS_PER_RUN:-120}
LEVELS=${LEVELS:-topk} COMM_RATIO=${COMM_RATIO:-1} MIN_COMPUTE_MS=${MIN_COMPUTE_MS:-50} EVAL_EVERY=${EVAL_EVERY:-20} TARGETS=${TARGETS:-0.65,0.7,0.75}
need_tool Kimad.Cli || exit 2
out=$(out_dir kimad-compare)
record_machine "$out"
echo "results in $out"
run_tool Kimad.Cli compare --task "$TASK" --workers "$WORKERS" --families "$FAMILIES" --methods "$METHODS" --levels "$LEVELS" --seeds "$SEEDS" \
  --comm-ratio "$COMM_RATIO" --min-compute-ms "$MIN_COMPUTE_MS" --max-wall-s "$SECONDS_PER_RUN" --rounds 1000000 \
  --eval-every "$EVAL_EVERY" --batch-size "$BATCH" --targets "$TARGETS" --out "$out" > "$out/compare.log" 2>&1
status=$?
[ -f "$out/summary.md" ] && cat "$out/summary.md"
exit $status
