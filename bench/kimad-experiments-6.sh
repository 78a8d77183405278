#!/usr/bin/env bash
# Sixth series (docs/kimad.md): compute-aware budget (--comm-ratio) and the budget-time bandwidth estimate,
# on a 100x square-wave trace (30 <-> 0.3 Mbit/s every 10 s, all workers in phase) with a sweep of fixed
# ratios, then one pair on the fast constant link. Kimad+ rows of this series ran the code before the latency model.
set -euo pipefail
out=${1:-/tmp/kimad-exp6}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 300 --max-wall-s 100 --lr 0.1 --eval-every 20 --timeout-s 400 --target-accuracy 0.65)
dotnet "$cli" compare "${common[@]}" --trace $traces/square-100x.csv --comm-ratio 0.5 \
  --methods kimad+,ef21-fixed:0.01,ef21-fixed:0.02,ef21-fixed:0.05,ef21-fixed:0.1,ef21-fixed:0.2,uncompressed --out "$out/square"
# One pair on the fast constant link with this (pre-latency-model) code, the rest of the series moved to -7.sh:
dotnet "$cli" compare "${common[@]}" --trace $traces/constant-100.csv --comm-ratio 0.5 --methods uncompressed,kimad+ --out "$out/constant-1"
