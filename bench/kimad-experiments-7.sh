#!/usr/bin/env bash
# Seventh series (docs/kimad.md): Kimad+ with the compute-aware budget and the latency-aware, harmonic
# bandwidth estimate on the 100x square wave (compare with series 6's fixed-ratio sweep, same trace and
# settings), then the fast constant link against uncompressed (three pairs).
set -euo pipefail
out=${1:-/tmp/kimad-exp7}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 600 --max-wall-s 100 --lr 0.1 --eval-every 20 --timeout-s 400 --target-accuracy 0.65)
for r in 0.5 1 2; do
  dotnet "$cli" compare "${common[@]}" --trace $traces/square-100x.csv --comm-ratio $r --methods kimad+,kimad --out "$out/square-r$r"
done
for i in 1 2 3; do
  dotnet "$cli" compare "${common[@]}" --trace $traces/constant-100.csv --comm-ratio 1 --methods uncompressed,kimad+ --out "$out/constant-$i"
done
