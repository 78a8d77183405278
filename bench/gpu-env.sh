# Sourced by the scripts that run on the GPU machine (bench/runtime/*.sh, bench/expertflow/gpu-*.sh), from the bundle
# folder .gpu/ they are copied into: unpacks the bundled .NET runtime once, points TorchSharp at PyTorch's CUDA
# libtorch and makes $OUT (the device tool's result folder).
bundle="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
if [ ! -x /tmp/gpu-dotnet/dotnet ]; then mkdir -p /tmp/gpu-dotnet && tar -xJf "$bundle/dotnet.tar.xz" -C /tmp/gpu-dotnet; fi
export DOTNET_ROOT=/tmp/gpu-dotnet PATH=/tmp/gpu-dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LIBTORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')
export LD_LIBRARY_PATH="$LIBTORCH/lib:${LD_LIBRARY_PATH:-}"
