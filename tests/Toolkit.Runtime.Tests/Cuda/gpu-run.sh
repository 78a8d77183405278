#!/usr/bin/env bash
# f-cuda's GPU check: PyTorch's pinned H2D reference, expertflow doctor, the GPU tests, then the other tests.
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export TOOLKIT_GPU_REPORT=$OUT/gpu-figures.txt
nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.current,pcie.link.width.current,memory.total --format=csv > "$OUT/env.txt" 2>&1
timeout 60 python3 h2d_reference.py > "$OUT/h2d-reference.txt" 2>&1
ref=$(tail -1 "$OUT/h2d-reference.txt"); export CUDA_H2D_REFERENCE_GBPS=$ref
echo "CUDA_H2D_REFERENCE_GBPS=$ref" >> "$OUT/env.txt"
start=$(date +%s%N)
timeout 90 bash run.sh ExpertFlow.Cli doctor > "$OUT/doctor.txt" 2>&1; echo "rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))" >> "$OUT/doctor.txt"
timeout 60 bash run.sh ExpertFlow.Cli doctor --json --no-bandwidth >> "$OUT/doctor.txt" 2>&1
start=$(date +%s%N)
timeout 180 bash run.sh Toolkit.Runtime.Tests -trait Category=GPU > "$OUT/gpu-tests.txt" 2>&1; echo "rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))" >> "$OUT/gpu-tests.txt"
timeout 90 bash run.sh Toolkit.Runtime.Tests -notrait Category=GPU > "$OUT/other-tests.txt" 2>&1; echo "rc=$?" >> "$OUT/other-tests.txt"
tail -n 4 "$OUT"/*.txt
