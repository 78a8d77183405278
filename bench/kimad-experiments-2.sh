#!/usr/bin/env bash
# Second series (docs/kimad.md): Kimad and Kimad+ with smaller time budgets on the same random-walk links.
set -euo pipefail
out=${1:-/tmp/kimad-exp}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 300 --lr 0.1 --eval-every 20 --timeout-s 480 --trace $traces/random-walk.csv --trace-stagger-s 37 --target-accuracy 0.65)
for t in 25 50; do
  dotnet "$cli" compare "${common[@]}" --time-budget-ms $t --methods kimad,kimad+ --out "$out/random-walk-budget$t"
done
