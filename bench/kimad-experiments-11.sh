#!/usr/bin/env bash
# Eleventh series (docs/kimad.md): the auto budget where slow phases dominate (square-slow: 20 Mbit/s for 5 s,
# 0.5 Mbit/s for 15 s), against fixed ratios. 4 workers, CNN, 1000 rounds or 100 s each.
set -euo pipefail
out=${1:-/tmp/kimad-exp11}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
common=(--workers 4 --task cnn --rounds 1000 --max-wall-s 100 --lr 0.1 --eval-every 25 --timeout-s 400 --target-accuracy 0.75)
dotnet "$cli" compare "${common[@]}" --trace src/Kimad/Traces/square-slow.csv \
  --methods "${METHODS:-kimad+:auto,ef21-fixed:0.01,ef21-fixed:0.03,ef21-fixed:0.1}" --out "$out"
dotnet "$cli" summarize "$out" --targets 0.65,0.7,0.75,0.78,0.8 --out "$out"
