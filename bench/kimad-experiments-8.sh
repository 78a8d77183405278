#!/usr/bin/env bash
# Eighth series (docs/kimad.md): the fast constant link again (Kimad+ now skips the knapsack when the whole
# model fits), then slow phases dominating (20 Mbit/s for 5 s, 0.5 Mbit/s for 15 s): Kimad+ with
# --comm-ratio 1 against a sweep of fixed ratios, 600 rounds or 100 s each.
set -euo pipefail
out=${1:-/tmp/kimad-exp8}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 600 --max-wall-s 100 --lr 0.1 --eval-every 20 --timeout-s 400 --target-accuracy 0.65)
for i in 1 2 3; do
  dotnet "$cli" compare "${common[@]}" --trace $traces/constant-100.csv --comm-ratio 1 --methods kimad+,uncompressed --out "$out/constant-$i"
done
dotnet "$cli" compare "${common[@]}" --trace $traces/square-slow.csv --comm-ratio 1 \
  --methods kimad+,ef21-fixed:0.01,ef21-fixed:0.02,ef21-fixed:0.05,ef21-fixed:0.1,ef21-fixed:0.2 --out "$out/square-slow"
