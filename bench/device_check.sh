#!/usr/bin/env bash
# The first session on a lent GPU: is every CUDA path right? One call, at most 7 minutes.
#
#   here:   mkdir -p data && cp ../shared/datasets/cifar10-jpeg.tar.gz data/   # data/ is ignored
#   device: run(command="ALEXNET_COMMIT=<sha> bash bench/device_check.sh", carry=["data"],
#               timeout_s=480)
#   dry run on a CPU (what tests/test_device_scripts.py runs): DRY_RUN=1 OUT=/tmp/x bash bench/device_check.sh
#
# Steps, in priority order under one budget (BUDGET_S, default 400 s; a step that would overrun it
# is skipped and listed): versions and capability; the CUDA tests (the compiled Triton kernel
# against float64, the dispatch, the CPU stand-ins of tests/test_cuda_paths.py); the trainer's
# paths (bench/device_paths.py: syncs per step, each AMP mode the device has, resume from no AMP
# into fp16, the chapter 5 head, the LRN against float64, the two-tower check with TF32 on and
# off); the command line end to end (train, resume with another --amp, evaluate; needs data/);
# cheap timings (bench's training step). Everything goes into ONE archive,
# $OUT/device-check.tar.gz (logs, JSON, summary.json with device, capability and commit), well under
# the 16 MB a returned file may have; summary.json is printed last. Installs nothing; reads the
# GPU's state with nvidia-smi queries only.
set -uo pipefail
OUT=${OUT:-/tmp/alexnet-device-check}
DRY_RUN=${DRY_RUN:-0}
BUDGET_S=${BUDGET_S:-$([[ $DRY_RUN == 1 ]] && echo 150 || echo 400)}
PY=${PYTHON:-python3}
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/device-check.XXXXXX")
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ALEXNET_DATA=${ALEXNET_DATA:-$PWD/data} ALEXNET_CACHE=${ALEXNET_CACHE:-$STAGE/cache}
export ALEXNET_COMMIT=${ALEXNET_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
unset TRITON_INTERPRET
[[ $DRY_RUN == 1 ]] && DEVICE=cpu || DEVICE=cuda
STEPS=()

step() {  # step NAME LIMIT_S COMMAND...: a timeout clipped to the budget left; log in the stage
  local name=$1 limit=$2 left=$((BUDGET_S - SECONDS)) started=$SECONDS rc
  shift 2
  if (( left < 20 )); then
    echo "=== SKIP $name: ${left}s of budget left"; STEPS+=("$name skipped 0"); return; fi
  (( limit > left )) && limit=$left
  echo "=== $name (limit ${limit}s, at ${SECONDS}s)"
  timeout --kill-after=10 "$limit" "$@" >"$STAGE/$name.log" 2>&1
  rc=$?
  tail -n 8 "$STAGE/$name.log"
  echo "=== $name: rc=$rc in $((SECONDS - started))s"
  STEPS+=("$name $rc $((SECONDS - started))")
}

finish() {  # summary.json, the archive, and the summary printed
  "$PY" - "$STAGE" "$DEVICE" "$DRY_RUN" "${STEPS[@]}" <<'PY'
import json, os, sys
from pathlib import Path
import torch
stage, device, dry, steps = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
summary = {"dry_run": dry, "commit": os.environ.get("ALEXNET_COMMIT"), "torch": torch.__version__,
           "steps": {s.split()[0]: {"rc": None if s.split()[1] == "skipped" else int(s.split()[1]),
                                    "seconds": int(s.split()[2])} for s in steps}}
if device == "cuda" and torch.cuda.is_available():
    major, minor = torch.cuda.get_device_capability()
    summary.update(device=torch.cuda.get_device_name(), capability=f"{major}.{minor}")
else:
    summary.update(device="cpu", capability=None)
paths = stage / "device_paths.json"
if paths.exists():
    summary["paths"] = {k: v for k, v in json.loads(paths.read_text()).items() if k != "provenance"}
summary["skipped"] = [k for k, v in summary["steps"].items() if v["rc"] is None]
summary["ok"] = all(v["rc"] in (0, None) for v in summary["steps"].values())
(stage / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
print(json.dumps({k: summary[k] for k in ("device", "capability", "commit", "ok", "skipped", "steps")}, indent=1))
PY
  rm -rf "$STAGE/cache" "$STAGE/cli-run"   # weights: not needed back
  tar -czf "$OUT/device-check.tar.gz" -C "$STAGE" .
  echo "archive: $OUT/device-check.tar.gz ($(du -k "$OUT/device-check.tar.gz" | cut -f1) KiB)"
  rm -rf "$STAGE"
}

echo "=== preflight (dry run: $DRY_RUN)"
step preflight 60 "$PY" -c "
import sys, torch, torchvision
try:
    import triton; tv = triton.__version__
except ImportError:
    tv = None
print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda,
      'triton', tv, 'torchvision', torchvision.__version__)
if '$DEVICE' == 'cuda':
    assert torch.cuda.is_available(), 'torch sees no CUDA device'
    print('device', torch.cuda.get_device_name(), torch.cuda.get_device_capability(),
          'bf16 (hardware)', torch.cuda.is_bf16_supported(including_emulation=False))
"
[[ $DEVICE == cuda ]] && nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,temperature.gpu,memory.used,memory.total --format=csv >"$STAGE/nvidia-smi.csv" 2>&1

# 1. correctness: the kernel compiled on this GPU vs float64, and the CUDA paths' tests
if [[ $DRY_RUN == 1 ]]; then TESTS=(tests/test_cuda_paths.py)
else TESTS=(tests/test_kernels_lrn.py tests/test_cuda_paths.py tests/test_lrn.py); fi
step cuda-tests 150 "$PY" -m pytest "${TESTS[@]}" -q -o addopts="" -p no:cacheprovider -p no:nbval
# 2. the trainer's paths, one JSON
step trainer-paths 120 "$PY" bench/device_paths.py --device "$DEVICE" --out "$STAGE/device_paths.json"
# 3. the command line end to end: train, resume into fp16 (CUDA), evaluate
if [[ -f "$ALEXNET_DATA/cifar10-jpeg.tar.gz" || -d "$ALEXNET_DATA/cifar10-jpeg" ]]; then
  RUN=(--data cifar10 --device "$DEVICE" --no-progress --workers 0 --checkpoint-dir "$STAGE/cli-run")
  if [[ $DRY_RUN == 1 ]]; then SIZE=(--arch four-layer --train-subset 64 --batch-size 64); AMP2=()
  else SIZE=(--arch cifar --train-subset 8192 --batch-size 128); AMP2=(--amp fp16); fi
  step cli-train 90 "$PY" -m alexnet train "${RUN[@]}" "${SIZE[@]}" --epochs 1
  step cli-resume 90 "$PY" -m alexnet train "${RUN[@]}" "${SIZE[@]}" --epochs 2 --resume "${AMP2[@]}"
  step cli-evaluate 60 "$PY" -m alexnet evaluate --checkpoint "$STAGE/cli-run/last.pt" \
    --data cifar10 --device "$DEVICE" --no-progress --workers 0
else
  echo "=== SKIP the command line: no CIFAR-10 under $ALEXNET_DATA (carry data/)"
  STEPS+=("cli skipped 0")
fi
# 4. cheap timings: the training step of both networks (bench's settings, printed in its table)
if [[ $DRY_RUN == 1 ]]; then TIMING=(--device cpu --parts cifar --rounds 1 --warmup 0)
else TIMING=(--parts train,cifar --rounds 5); fi
step bench-train 120 "$PY" -m alexnet bench "${TIMING[@]}" --out "$STAGE/bench-train.json"

finish
