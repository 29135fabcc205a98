#!/usr/bin/env bash
# One call on a lent GPU (H100): versions, LRN kernel correctness, then the issue-5 timings.
#
#   ALEXNET_COMMIT=$(git rev-parse HEAD) bash bench/device_check.sh     # run from the repo root
#
# Installs nothing (the device machine has no internet; its image has torch, triton, torchvision,
# pytest, tqdm, pyyaml under python3, KINDS.md). Writes logs and JSON under $OUT and prints
# a summary table last. Steps run in priority order under one time budget (BUDGET_S, default 420 s,
# well under the 8 minutes a call may take); a step that would overrun it is skipped and listed.
# Reads the GPU's state with nvidia-smi queries only; changes no setting.
set -uo pipefail
OUT=${OUT:-/tmp/alexnet-device-check}
BUDGET_S=${BUDGET_S:-420}
mkdir -p "$OUT"
PY=${PYTHON:-python3}  # the device image's python3 holds PyTorch; there may be no "python"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
unset TRITON_INTERPRET
FAILED=() SKIPPED=()

echo "=== preflight"
"$PY" - <<'PY' 2>&1 | tee "$OUT/preflight.log"
import sys
try:
    import torch, triton, torchvision
except ImportError as error:
    sys.exit(f"FATAL: {error}: this script needs torch, triton and torchvision preinstalled")
print(f"python {sys.version.split()[0]} torch {torch.__version__} (CUDA {torch.version.cuda}) "
      f"triton {triton.__version__} torchvision {torchvision.__version__}")
if not torch.cuda.is_available():
    sys.exit("FATAL: torch sees no CUDA device")
print("device:", torch.cuda.get_device_name(), torch.cuda.get_device_capability())
for name in ("numpy", "PIL", "tqdm", "pytest"):
    try:
        __import__(name)
    except ImportError:
        print(f"WARNING: {name} missing; steps that need it will fail")
PY
[[ ${PIPESTATUS[0]} -eq 0 ]] || exit 2
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu,utilization.gpu,memory.used,memory.total --format=csv 2>&1 | tee "$OUT/nvidia-smi.csv"

step() {  # step NAME LIMIT_S COMMAND...: run with a timeout clipped to the budget left
  local name=$1 limit=$2 left=$((BUDGET_S - SECONDS)) started=$SECONDS rc
  shift 2
  if (( left < 30 )); then echo "=== SKIP $name: ${left}s of budget left"; SKIPPED+=("$name"); return; fi
  (( limit > left )) && limit=$left
  echo "=== $name (limit ${limit}s, at ${SECONDS}s)"
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  tail -n 12 "$OUT/$name.log"
  echo "=== $name: rc=$rc in $((SECONDS - started))s"
  (( rc == 0 )) || FAILED+=("$name(rc=$rc)")
}

if "$PY" -m alexnet bench --help >/dev/null 2>&1; then BENCH=("$PY" -m alexnet bench)
else BENCH=("$PY" -m alexnet.bench); fi  # before the subcommand is wired into the CLI

# 1. correctness first: the kernel tests on the GPU (compiled kernels, inductor, dispatch)
step pytest-lrn-kernel 150 "$PY" -m pytest tests/test_lrn_kernel.py -q -o addopts="" -p no:cacheprovider
# 2. eager, bf16, channels-last, batch 256: both networks, the stock-LRN model, LRN, input pipeline
step bench-eager 120 "${BENCH[@]}" --baseline --out "$OUT/bench-eager.json"
# 3. compiled: both networks and the compiled LRN reference
step bench-compiled 200 "${BENCH[@]}" --compile --parts train,lrn --out "$OUT/bench-compiled.json"
# 4. the kernel's launch settings, each checked then timed against its floor
step lrn-sweep 90 "$PY" bench/lrn_sweep.py --out "$OUT/lrn_sweep.json"
# 5. whole-step CUDA graphs, eager and compiled (the compile caches of step 3 are warm)
step bench-graphs 60 "${BENCH[@]}" --cuda-graphs --parts train --out "$OUT/bench-graphs.json"
step bench-compiled-graphs 150 "${BENCH[@]}" --compile --cuda-graphs --parts train \
    --out "$OUT/bench-compiled-graphs.json"

echo "=== summary (all numbers from this one call, $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null))"
"$PY" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
from alexnet.bench import format_table
out = Path(sys.argv[1])
for name in ("eager", "compiled", "graphs", "compiled-graphs"):
    path = out / f"bench-{name}.json"
    if path.exists():
        print(format_table(json.loads(path.read_text())))
sweep = out / "lrn_sweep.json"
if sweep.exists():
    rows = [r for r in json.loads(sweep.read_text())["rows"] if "ms" in r]
    for name in ("forward", "backward"):
        ok = [r for r in rows if r["pass"] == name and r["channels_last"] and r["relative_error"] < 1e-2]
        if ok:
            best = min(ok, key=lambda r: r["ms"])
            print(f"  sweep best {name:8s} NHWC tile={best['tile']} warps={best['num_warps']}: "
                  f"{best['ms']:.4f} ms = {best['times_floor']:.2f}x its floor")
    bad = [r for r in json.loads(sweep.read_text())["rows"] if not r.get("relative_error", 1) < 1e-2]
    print(f"  sweep settings failing the check: {len(bad)}")
PY
echo "failed: ${FAILED[*]:-none}; skipped: ${SKIPPED[*]:-none}; total ${SECONDS}s"
(( ${#FAILED[@]} == 0 ))
