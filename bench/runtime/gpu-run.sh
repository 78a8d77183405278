#!/usr/bin/env bash
# ef-runtime's GPU run (one call): all ExpertFlow tests (GPU parity included), a CLI generate, bench-runtime, the
# transformers peer. Expects the bundle folder layout made for this run: dotnet.tar.xz and app/ExpertFlow.Tests/
# holding both the published tests and the published CLI (see docs/expertflow-runtime.md).
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/env.txt" 2>&1
# the libtorch C++ entry points the CUDA-graph binding resolves by mangled name (TorchCudaNative), for the record
nm -D --defined-only "$LIBTORCH/lib/libtorch_cuda.so" | grep -E "CUDAGraph(C1|D1|13capture_begin|11capture_end|6replay)" > "$OUT/symbols.txt" 2>&1
nm -D --defined-only "$LIBTORCH/lib/libc10_cuda.so" | grep -E "getStreamFromPool|setCurrentCUDAStream|getCurrentCUDAStream|getDefaultCUDAStream|CUDAStream6stream" >> "$OUT/symbols.txt" 2>&1
s=$(date +%s); timeout ${TEST_TIMEOUT:-90} dotnet $A/ExpertFlow.Tests.dll ${TEST_ARGS:-} > "$OUT/tests.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/tests.txt"
s=$(date +%s); timeout 240 dotnet $A/ExpertFlow.Cli.dll bench-runtime --device cuda --json "$OUT/bench.json" ${BENCH_ARGS:-} > "$OUT/bench.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/bench.txt"
s=$(date +%s); timeout 100 python3 transformers_peer.py "$OUT/peer.json" > "$OUT/peer.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/peer.txt"
timeout 25 dotnet $A/ExpertFlow.Cli.dll generate --model $A/fixtures/moe/qwen2_moe --prompt "The experts" --max-new-tokens 8 --device cuda --dtype fp32 --json > "$OUT/generate.txt" 2>&1; echo "rc=$?" >> "$OUT/generate.txt"
cat "$OUT/symbols.txt"; grep -E "\[FAIL\]" "$OUT/tests.txt" | head -20; tail -n 3 "$OUT/tests.txt" "$OUT/generate.txt"; tail -n 24 "$OUT/bench.txt"; tail -n 5 "$OUT/peer.txt"
