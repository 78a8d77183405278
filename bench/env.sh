# Sourced by the benchmark scripts (bench/README.md). Defines:
#   ROOT               the repository root (the scripts run from there)
#   need_tool NAME     makes the tool project NAME (e.g. ExpertFlow.Cli) runnable: a self-contained publish in
#                      $TOOLKIT_PUBLISH/NAME/ when present (default runs/publish), else a Release build made here
#   run_tool NAME ARGS runs it; expertflow ARGS is run_tool ExpertFlow.Cli ARGS
#   out_dir NAME       makes and prints the run folder: $OUT if set, else runs/NAME/<UTC time>
#   record_machine DIR   writes machine.txt: date, GPU and driver, CPU, libtorch (what a results row must name)
# and points TorchSharp at a CUDA libtorch: LIBTORCH as given, else python3's torch package when it imports.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
TOOLKIT_PUBLISH=${TOOLKIT_PUBLISH:-$ROOT/runs/publish}

if [ -z "${LIBTORCH:-}" ] && command -v python3 > /dev/null; then
  LIBTORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2> /dev/null || true)
fi
if [ -n "${LIBTORCH:-}" ]; then
  export LIBTORCH
  export LD_LIBRARY_PATH="$LIBTORCH/lib:${LD_LIBRARY_PATH:-}"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

need_tool() {
  local name=$1
  [ -x "$TOOLKIT_PUBLISH/$name/$name" ] && return 0
  if ! command -v dotnet > /dev/null; then
    echo "no .NET SDK and no published $name in $TOOLKIT_PUBLISH/$name: publish it as bench/README.md says" >&2
    return 2
  fi
  dotnet build "src/$name" -c Release -v q -nologo > /dev/null || { echo "building src/$name failed" >&2; return 2; }
}

run_tool() {
  local name=$1; shift
  if [ -x "$TOOLKIT_PUBLISH/$name/$name" ]; then "$TOOLKIT_PUBLISH/$name/$name" "$@"
  else dotnet "$ROOT/src/$name/bin/Release/net10.0/$name.dll" "$@"; fi
}

expertflow() { run_tool ExpertFlow.Cli "$@"; }

out_dir() {
  local dir=${OUT:-runs/$1/$(date -u +%Y%m%dT%H%M%SZ)}
  mkdir -p "$dir" && echo "$dir"
}

record_machine() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2> /dev/null || echo unknown)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) logical cores"
    if command -v nvidia-smi > /dev/null; then
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
    else
      echo "gpu: none (nvidia-smi not found)"
    fi
    echo "libtorch: ${LIBTORCH:-the CPU libtorch that ships with TorchSharp}"
    python3 -c 'import torch, transformers; print("python peers: torch", torch.__version__, "transformers", transformers.__version__)' 2> /dev/null \
      || echo "python peers: torch/transformers not importable"
  } > "$1/machine.txt"
}
