#!/usr/bin/env bash
# Fifth series (docs/kimad.md): slow links with a larger budget (100 ms), best fixed ratio right after.
set -euo pipefail
out=${1:-/tmp/kimad-exp}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
dotnet "$cli" compare --workers 4 --task cnn --rounds 300 --max-wall-s 150 --lr 0.1 --eval-every 20 --timeout-s 400 \
  --trace $traces/random-walk-slow.csv --trace-stagger-s 37 --time-budget-ms 100 --target-accuracy 0.65 \
  --methods kimad+,ef21-fixed:0.05 --out "$out/random-walk-slow-budget100"
