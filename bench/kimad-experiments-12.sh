#!/usr/bin/env bash
# Twelfth series (docs/kimad.md, session 5): links that fluctuate one at a time. Trace rotating-slow (0.3 Mbit/s for
# 10 s, 30 Mbit/s for 30 s) staggered by 10 s per worker, so exactly one of the 4 links is slow at any moment.
# Per-worker downlinks and the shared-bottleneck rule (session 5). Kimad+ (auto budget) against the fixed ratios
# around the best one of the sweep in series 12a; REPEATS alternating repeats, 120 s of training each.
# Series 12b (final code): EXTRA="--comm-ratio 1" METHODS="kimad+,kimad+:auto,ef21-fixed:0.01" bash bench/kimad-experiments-12.sh OUT
set -euo pipefail
out=${1:-/tmp/kimad-exp12}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
common=(--workers 4 --task cnn --rounds 3000 --max-wall-s 120 --lr 0.1 --eval-every 20 --timeout-s 300 --target-accuracy 0.75 ${EXTRA:-})
for r in $(seq 1 "${REPEATS:-3}"); do
  dotnet "$cli" compare "${common[@]}" --trace src/Kimad/Traces/${TRACE:-rotating-slow}.csv --trace-stagger-s ${STAGGER:-10} \
    --methods "${METHODS:-kimad+:auto,ef21-fixed:0.01,ef21-fixed:0.03}" --out "$out/run$r"
  dotnet "$cli" summarize "$out/run$r" --targets 0.65,0.7,0.75,0.78,0.8 --out "$out/run$r"
done
