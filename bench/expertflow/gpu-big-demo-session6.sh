#!/usr/bin/env bash
# Session 6, one call: rebuilds the larger demo MoE on the H200 (as gpu-big-demo-train.sh, 5 minutes of training),
# traces it and trains its predictor (as gpu-big-demo-eval.sh), then runs the cache evaluation with the session's new
# knobs: look-ahead guesses (+lookahead), PLEC's prefetch floor and pipelined prediction (--overlap). Bundle: CLI only
# plus the corpus, as described in gpu-big-demo-train.sh. Two device calls (10 minutes each at most) on one warm
# machine: bash .gpu/gpu-big-demo-session6.sh train, then bash .gpu/gpu-big-demo-session6.sh eval (carry .gpu).
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; M=/tmp/ef-big/model
if [ "$1" = train ]; then
rm -rf /tmp/ef-big && mkdir -p /tmp/ef-big
s=$(date +%s)
timeout 420 dotnet $A/ExpertFlow.Cli.dll train-demo --output $M --corpus "$PWD/gcide.dict.dz" --device cuda \
  --hidden 1024 --ff 2816 --layers 8 --experts 16 --top-k 2 --vocab 8192 --steps 3000 --batch 16 --seq-len 128 \
  --lr 1e-3 --checkpoint-every 100000 --max-minutes ${MINUTES:-5} > "$OUT/train-demo.log" 2>&1
echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/train-demo.log"; tail -n 3 "$OUT/train-demo.log"
cp $M/loss.png $M/training_log.csv $M/config.json "$OUT/" 2>/dev/null
exit 0
fi
[ -f $M/model.safetensors ] || { echo "no model in $M: the train call did not run on this machine"; exit 3; }
s=$(date +%s)
timeout 300 dotnet $A/ExpertFlow.Cli.dll train-predictor --model $M --trace-entries 8000 --generated-entries 1500 \
  --steps 6000 --max-minutes 2.5 --device cuda > "$OUT/train-predictor.log" 2>&1
echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/train-predictor.log"; tail -n 2 "$OUT/train-predictor.log"
cp $M/predictor/eval.md "$OUT/predictor-eval.md" 2>/dev/null
cache() { local name=$1; shift; local s=$(date +%s); timeout 200 dotnet $A/ExpertFlow.Cli.dll eval-cache --model $M --device cuda --cache 0.25 --new-tokens 24 --plots false --out /tmp/ef-big/$name "$@" > "$OUT/$name.log" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/$name.log"; cp /tmp/ef-big/$name/report.md "$OUT/$name.md"; grep -E "^\| (lru|expertflow|all)" "$OUT/$name.md"; }
cache cache-floor005 --policies lru,expertflow,expertflow+lookahead,lru+lookahead,expertflow-no-ts --batch 1,16
cache cache-floor03 --policies lru,expertflow,expertflow+lookahead --batch 1,16 --prefetch-floor 0.3
cache cache-floor03-overlap --policies lru,expertflow,expertflow+lookahead --batch 1,16 --prefetch-floor 0.3 --overlap
