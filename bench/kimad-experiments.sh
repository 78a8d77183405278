#!/usr/bin/env bash
# Kimad experiments recorded in docs/kimad.md. Needs root for namespaces + tc (falls back to in-process throttles).
# Usage: bash bench/kimad-experiments.sh OUTDIR [KIMAD_CLI_DLL]
set -euo pipefail
out=${1:-/tmp/kimad-exp}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
traces=src/Kimad/Traces
common=(--workers 4 --task cnn --rounds 300 --lr 0.1 --eval-every 20 --time-budget-ms 100 --timeout-s 480)
# 1. Fluctuating links: random walk 0.5..30 Mbit/s, each worker's link shifted by 37 s.
dotnet "$cli" compare "${common[@]}" --trace $traces/random-walk.csv --trace-stagger-s 37 \
  --methods uncompressed,ef21-fixed:0.01,ef21-fixed:0.05,ef21-fixed:0.2,kimad,kimad+ --target-accuracy 0.65 --out "$out/random-walk"
# 2. Fast constant link (100 Mbit/s): Kimad+ should not be slower than uncompressed.
dotnet "$cli" compare "${common[@]}" --trace $traces/constant-100.csv \
  --methods uncompressed,kimad+ --target-accuracy 0.65 --out "$out/constant-100"
