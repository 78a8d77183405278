#!/usr/bin/env bash
# Thirteenth series (docs/kimad.md, session 5): the session-5 code (per-worker downlinks, shared-bottleneck rule) on
# (a) a fast constant link, kimad+:auto against uncompressed, three alternating pairs of 60 s, and
# (SQUARE=0 skips (b); EXTRA="--comm-ratio 1" CONSTANT_METHODS="kimad+,uncompressed" checks Kimad+ with the compute-aware budget)
# (b) the 100x square wave with all links in phase (series 10's setting), kimad+:auto against TopK 10 %, 150 s each.
set -euo pipefail
out=${1:-/tmp/kimad-exp13}
cli=${2:-src/Kimad.Cli/bin/Release/net10.0/Kimad.Cli.dll}
for r in 1 2 3; do
  dotnet "$cli" compare --workers 4 --task cnn --rounds 3000 --max-wall-s 60 --lr 0.1 --eval-every 20 --timeout-s 200 --target-accuracy 0.7 \
    --trace src/Kimad/Traces/constant-100.csv --methods "${CONSTANT_METHODS:-kimad+:auto,uncompressed}" ${EXTRA:-} --out "$out/constant-run$r"
  dotnet "$cli" summarize "$out/constant-run$r" --targets 0.65,0.7,0.75 --out "$out/constant-run$r"
done
[ "${SQUARE:-1}" = 1 ] || exit 0
dotnet "$cli" compare --workers 4 --task cnn --rounds 3000 --max-wall-s 150 --lr 0.1 --eval-every 50 --timeout-s 400 --target-accuracy 0.8 \
  --trace src/Kimad/Traces/square-100x.csv --methods "kimad+:auto,ef21-fixed:0.1" --out "$out/square"
dotnet "$cli" summarize "$out/square" --targets 0.7,0.75,0.78,0.8,0.82 --out "$out/square"
