#!/usr/bin/env bash
# The GPU-scale claims (issue 10), one group per call on a lent GPU, after bench/device_check.sh.
#
#   here:   mkdir -p data && cp ../shared/datasets/cifar10-jpeg.tar.gz data/   # data/ is ignored
#   device: run(command="ALEXNET_COMMIT=<sha> GROUP=1 bash bench/device_claims.sh",
#               carry=["data"], timeout_s=480)
#
# Each group (alexnet.reproduce.GPU_GROUPS) prints its time estimate from images/s measured on the
# device before it trains, and fits one call; runs finished before a timeout are kept in
# $OUT/cache, so the same group can be rerun (carry the cache back) to resume. Result files and
# the pilot's seed plan go to $OUT/results; copy them into alexnet/results/ and run
# `python -m alexnet reproduce ledger --scale gpu` here to rebuild the verdicts and LEDGER.md.
set -uo pipefail
OUT=${OUT:-/tmp/alexnet-claims}
GROUP=${GROUP:-1}
PY=${PYTHON:-python3}
mkdir -p "$OUT/results" "$OUT/cache"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ALEXNET_DATA=${ALEXNET_DATA:-$PWD/data} ALEXNET_CACHE=${ALEXNET_CACHE:-$OUT/cache}
unset TRITON_INTERPRET
[[ -f "$ALEXNET_DATA/cifar10-jpeg.tar.gz" || -d "$ALEXNET_DATA/cifar10-jpeg" ]] || {
  echo "FATAL: no CIFAR-10 under $ALEXNET_DATA: carry data/ (see the header)"; exit 2; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw,memory.used --format=csv 2>&1 \
  | tee "$OUT/nvidia-smi.csv"
cp alexnet/results/pilot-gpu.json "$OUT/results/" 2>/dev/null   # an earlier group's seed plan
"$PY" -m alexnet reproduce all --scale gpu --group "$GROUP" --out "$OUT/results" \
  2>&1 | tee "$OUT/group-$GROUP.log"
rc=${PIPESTATUS[0]}
echo "group $GROUP: rc=$rc in ${SECONDS}s; results in $OUT/results"
exit "$rc"
