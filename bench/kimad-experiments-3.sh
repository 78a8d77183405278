#!/usr/bin/env bash
# Third series (docs/kimad.md): the best fixed ratio again next to Kimad+ with a 10 ms budget (same load period),
# and the fast constant link check repeated twice, interleaved.
set -euo pipefail
out=${1:-/tmp/kimad-exp}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 300 --lr 0.1 --eval-every 20 --timeout-s 480 --target-accuracy 0.65)
dotnet "$cli" compare "${common[@]}" --trace $traces/random-walk.csv --trace-stagger-s 37 --time-budget-ms 10 \
  --methods kimad+,ef21-fixed:0.05 --out "$out/random-walk-budget10"
for rep in 1 2; do
  dotnet "$cli" compare "${common[@]}" --trace $traces/constant-100.csv --time-budget-ms 100 --methods uncompressed,kimad+ --out "$out/constant-100-rep$rep"
done
