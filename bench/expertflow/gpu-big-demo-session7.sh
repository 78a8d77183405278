#!/usr/bin/env bash
# Session 7: the larger demo MoE on the H200 again (as gpu-big-demo-session6.sh: train, trace, predictor), then the cache
# evaluation with this session's additions: expertflow-oracle (PLEC fed by the true routing: the bound for a perfect,
# free predictor), PLEC's cross-step prefetch for the waiting batch (--cross-step) and fully pipelined prediction
# (--overlap). Bundle: CLI only plus the corpus, as described in gpu-big-demo-train.sh. Device calls on one warm machine
# (10 minutes each at most; the model lives in the machine's /tmp):
#   bash .gpu/gpu-big-demo-session7.sh train      # 5 minutes of training
#   bash .gpu/gpu-big-demo-session7.sh predictor  # traces + predictor, then the batch-1 attribution runs
#   bash .gpu/gpu-big-demo-session7.sh sweep      # every policy at 10/25/50 % cache, batch 1 and 16, and repeats
#   bash .gpu/gpu-big-demo-session7.sh oracle     # alone, after the eviction fix: short training, no predictor
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; M=/tmp/ef-big/model
# the larger configuration, from scratch, for MINUTES of training
train() {
  rm -rf /tmp/ef-big && mkdir -p /tmp/ef-big
  local s=$(date +%s)
  timeout 420 dotnet $A/ExpertFlow.Cli.dll train-demo --output $M --corpus "$PWD/gcide.dict.dz" --device cuda \
    --hidden 1024 --ff 2816 --layers 8 --experts 16 --top-k 2 --vocab 8192 --steps 3000 --batch 16 --seq-len 128 \
    --lr 1e-3 --checkpoint-every 100000 --max-minutes $1 > "$OUT/train-demo.log" 2>&1
  echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/train-demo.log"; tail -n 3 "$OUT/train-demo.log"
}
# one eval-cache call: NAME then eval-cache options; report and log land in $OUT
cache() {
  local name=$1; shift; local s=$(date +%s)
  timeout ${CASE_LIMIT:-200} dotnet $A/ExpertFlow.Cli.dll eval-cache --model $M --device cuda --plots false --out /tmp/ef-big/$name "$@" > "$OUT/$name.log" 2>&1
  echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/$name.log"
  cp /tmp/ef-big/$name/report.md "$OUT/$name.md"; cp /tmp/ef-big/$name/results.json "$OUT/$name.json"
  echo "== $name"; grep -E "^\| (lru|expertflow|all|next|on-)" "$OUT/$name.md" | cut -d'|' -f2-4,6-12
}
case "$1" in
train)
  train ${MINUTES:-5}
  cp $M/training_log.csv $M/config.json "$OUT/" 2>/dev/null ;;
predictor)
  [ -f $M/model.safetensors ] || { echo "no model in $M: the train call did not run on this machine"; exit 3; }
  s=$(date +%s)
  timeout 330 dotnet $A/ExpertFlow.Cli.dll train-predictor --model $M --trace-entries 8000 --generated-entries 1500 \
    --steps 6000 --max-minutes ${PRED_MINUTES:-2.5} --device cuda > "$OUT/train-predictor.log" 2>&1
  echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/train-predictor.log"; tail -n 2 "$OUT/train-predictor.log"
  cp $M/predictor/eval.md "$OUT/predictor-eval.md" 2>/dev/null
  B1="--cache 0.25 --batch 1 --new-tokens 32 --runs 4"
  cache b1-overlap --policies lru,expertflow,expertflow-oracle,expertflow+lookahead $B1 --overlap
  cache b1-inline-nocross --policies lru,expertflow,expertflow-oracle $B1 --cross-step false
  cache b1-overlap-floor06 --policies lru,expertflow,expertflow+lookahead $B1 --overlap --prefetch-floor 0.6 ;;
sweep)
  # as run in session 7 (the calls after `predictor`, before the eviction fix)
  [ -f $M/predictor/predictor_config.json ] || { echo "no predictor in $M: the predictor call did not run on this machine"; exit 3; }
  cache b1-inline-cross --policies lru,expertflow,expertflow-oracle --cache 0.25 --batch 1 --new-tokens 32 --runs 4
  CASE_LIMIT=400 cache sweep --policies lru,next-layer,expertflow-no-ts,expertflow,expertflow-oracle --cache 0.1,0.25,0.5 --batch 1,16 --cross-step false
  for i in 1 2; do cache rep$i --policies lru,expertflow,expertflow-oracle,lru --cache 0.25,0.5 --batch 1 --new-tokens 32 --runs 6; done
  cache b16-la1 --policies lru,next-layer,expertflow,expertflow-oracle --cache 0.25,0.5 --batch 16 --lookahead 1 ;;
oracle)
  # One call, no trained predictor: a shorter training run, held-out traces only, then the policies that need no
  # predictor (lru, next-layer and expertflow-oracle, PLEC fed the true routing) after the distance-aware eviction fix.
  train ${MINUTES:-3}
  timeout 120 dotnet $A/ExpertFlow.Cli.dll train-predictor --model $M --trace-entries 100 --generated-entries 0 --steps 5 --device cuda > "$OUT/trace.log" 2>&1
  CASE_LIMIT=300 cache oracle-sweep --policies lru,next-layer,expertflow-oracle --cache 0.25,0.5 --batch 16,1 --runs 2 ;;
*) echo "usage: $0 train|predictor|sweep|oracle"; exit 2 ;;
esac
