#!/usr/bin/env bash
# Session 4: where an offloaded batch-1 decode step spends its time at 4 GiB (host phases from the engine's stats,
# and an Nsight Systems profile where nsys exists), with the fused kernels on and off, and HF accelerate at the same
# budget in the same call. Bundle as bench/runtime/gpu-run.sh (make-bundle.sh), this script copied into .gpu/.
cd "$(dirname "$0")"
source ./gpu-env.sh
A=app/ExpertFlow.Tests; W=/tmp/ef-bench
(command -v nsys; ls /usr/local/cuda*/bin 2>/dev/null | grep -i -E "nsys|ncu"; ls /opt/nvidia 2>/dev/null) > "$OUT/tools.txt" 2>&1
bench() { local name=$1; shift; local s=$(date +%s); timeout ${T:-150} dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --new-tokens 12 --device cuda --memory 4GiB --batch 1 "$@" --out /tmp/r/$name > "$OUT/$name.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/$name.txt"; cp /tmp/r/$name/results.json "$OUT/$name.json" 2>/dev/null; }
bench fused --policies on-demand,lru,next-layer --bandwidth
bench unfused --policies on-demand,lru,next-layer --no-fused-kernels
if command -v nsys > /dev/null; then
  timeout 150 nsys profile -o /tmp/prof --force-overwrite true --stats=false dotnet $A/ExpertFlow.Cli.dll bench --synthetic qwen1.5-moe-a2.7b --work $W/model --prompt-tokens 32 --new-tokens 12 --device cuda --memory 4GiB --batch 1 --policies on-demand --out /tmp/r/prof > /dev/null 2>&1
  nsys stats --report cuda_api_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum --format csv -o /tmp/prof-stats /tmp/prof.nsys-rep > /dev/null 2>&1
  for f in /tmp/prof-stats*.csv; do echo "== $f"; head -25 "$f"; done > "$OUT/nsys.txt" 2>&1
fi
s=$(date +%s); timeout 200 python3 accelerate_offload.py --model $W/model --memory 4GiB --batch 1 --new-tokens 3 > "$OUT/accelerate.txt" 2>&1; echo "rc=$? s=$(( $(date +%s) - s ))" >> "$OUT/accelerate.txt"
python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, sys, glob
out = sys.argv[1]
for name in ("fused", "unfused"):
    try: d = json.load(open(f"{out}/{name}.json"))
    except Exception as e: print(name, repr(e)); continue
    for r in d.get("runs", d if isinstance(d, list) else []):
        o = r.get("offload") or r.get("Offload") or r
        print(name, json.dumps({k: r.get(k) for k in ("policy", "budget", "batch", "decode_tokens_per_second", "tokens_per_second") if k in r}),
              {k: o.get(k) for k in ("DeviceStallSeconds", "DemandCopySeconds", "HostInLayerSeconds", "HostBetweenLayersSeconds", "Seconds", "Steps", "DecodeHitRatio")})
PY
tail -n 4 "$OUT/fused.txt" "$OUT/unfused.txt" "$OUT/accelerate.txt"; cat "$OUT/tools.txt"
