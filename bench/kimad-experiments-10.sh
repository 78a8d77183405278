#!/usr/bin/env bash
# Tenth series (docs/kimad.md): long runs to a high target on the 100x square wave, where the slow phases must
# contribute: kimad+:auto and kimad:auto against fixed ratios. 4 workers, CNN, 1500 rounds or 150 s each.
set -euo pipefail
out=${1:-/tmp/kimad-exp10}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
common=(--workers 4 --task cnn --rounds 1500 --max-wall-s 150 --lr 0.1 --eval-every 50 --timeout-s 400 --target-accuracy 0.8)
dotnet "$cli" compare "${common[@]}" --trace src/Kimad/Traces/${TRACE:-square-100x}.csv \
  --methods "${METHODS:-kimad+:auto,ef21-fixed:0.03,ef21-fixed:0.1,ef21-fixed:0.3,kimad:auto}" --out "$out"
dotnet "$cli" summarize "$out" --targets 0.7,0.75,0.78,0.8,0.82 --out "$out"
