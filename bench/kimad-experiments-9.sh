#!/usr/bin/env bash
# Ninth series (docs/kimad.md): the auto budget (kimad:auto, kimad+:auto: the message size that maximises EF21's
# contraction per second of round time) against Kimad+ with --comm-ratio 1 and a sweep of fixed ratios, on the
# 100x square wave and on slow-dominated and random-walk links. 4 workers, CNN, 600 rounds or 80 s each.
set -euo pipefail
out=${1:-/tmp/kimad-exp9}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 600 --max-wall-s 80 --lr 0.1 --eval-every 20 --timeout-s 400 --target-accuracy 0.7 --comm-ratio 1)
methods=kimad+:auto,kimad:auto,kimad+,ef21-fixed:0.01,ef21-fixed:0.03,ef21-fixed:0.1,ef21-fixed:0.3,uncompressed
for trace in ${TRACES:-square-100x square-slow random-walk}; do
  dotnet "$cli" compare "${common[@]}" --trace $traces/$trace.csv --methods "${METHODS:-$methods}" --out "$out/$trace"
done
dotnet "$cli" summarize "$out/square-100x" --targets 0.6,0.65,0.7,0.75 --out "$out/square-100x"
