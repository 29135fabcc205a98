#!/usr/bin/env bash
# The GPU-scale claims (issue 10), one group per call on a lent GPU, after bench/device_check.sh.
#
#   here:   mkdir -p data claims-cache && cp ../shared/datasets/cifar10-jpeg.tar.gz data/
#           (data/ is ignored; add `/claims-cache/` to .git/info/exclude)
#   device: run(command="ALEXNET_COMMIT=<sha> GROUP=1 bash bench/device_claims.sh",
#               carry=["data", "claims-cache"], timeout_s=480)
#   after:  cp <files_at>/alexnet-claims.tar.gz claims-cache/   # the next call resumes from it
#           tar -xzf claims-cache/alexnet-claims.tar.gz results  # then copy results/*.json into
#           alexnet/results/ and run `python -m alexnet reproduce ledger --scale gpu` here
#   dry run on a CPU (tests/test_device_scripts.py): DRY_RUN=1 OUT=/tmp/x bash bench/device_claims.sh
#
# One group a call: `reproduce all --scale gpu --group N` first measures images/s of the trainer on
# this GPU and prints the group's time estimate, then trains; runs finished are kept in the run
# cache. The training stops at BUDGET_S (default 400 s) so that the archive is always written
# inside the call's 8 minutes: ONE file, $OUT/alexnet-claims.tar.gz, holding results/, the run
# cache (the records of finished runs, a few kB each, no weights: the next call skips them) and
# the log. Carry it back in claims-cache/ and run the same group again until its log says it
# finished. If the cache ever outgrows
# the 16 MB a returned file may have, the script says so and the archive keeps only results/ and
# the log (the group then retrains on its next call).
set -uo pipefail
OUT=${OUT:-/tmp/alexnet-claims}
GROUP=${GROUP:-1}
DRY_RUN=${DRY_RUN:-0}
BUDGET_S=${BUDGET_S:-400}
PY=${PYTHON:-python3}
ARCHIVE_LIMIT_KB=15800
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/claims.XXXXXX")
mkdir -p "$OUT" "$STAGE/results" "$STAGE/cache"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ALEXNET_DATA=${ALEXNET_DATA:-$PWD/data}
unset TRITON_INTERPRET
if [[ -f claims-cache/alexnet-claims.tar.gz ]]; then          # the previous call's archive
  tar -xzf claims-cache/alexnet-claims.tar.gz -C "$STAGE" && echo "resuming from claims-cache/"
fi
[[ -f "$ALEXNET_DATA/cifar10-jpeg.tar.gz" || -d "$ALEXNET_DATA/cifar10-jpeg" ]] || {
  echo "FATAL: no CIFAR-10 under $ALEXNET_DATA: carry data/ (see the header)"; exit 2; }
if [[ $DRY_RUN == 1 ]]; then   # the CPU's smallest scale, no group: proves the plumbing only
  RUN=(reproduce dropout --scale test --device cpu)
  [[ -n ${ALEXNET_CACHE:-} ]] && cp -r "$ALEXNET_CACHE"/cifar10-jpeg-*.pt "$STAGE/cache/" 2>/dev/null
else
  RUN=(reproduce all --scale gpu --group "$GROUP")
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw,memory.used --format=csv \
    >"$STAGE/nvidia-smi.csv" 2>&1
fi
export ALEXNET_CACHE=$STAGE/cache
cp alexnet/results/pilot-gpu.json "$STAGE/results/" 2>/dev/null   # an earlier group's seed plan
timeout --kill-after=15 "$BUDGET_S" "$PY" -m alexnet "${RUN[@]}" --out "$STAGE/results" \
  2>&1 | tee "$STAGE/group-$GROUP.log"
rc=${PIPESTATUS[0]}
case $rc in
  0) echo "group $GROUP: finished in ${SECONDS}s" ;;
  124|137) echo "group $GROUP: stopped at the ${BUDGET_S}s budget; finished runs are in the cache:" \
              "carry the archive back and run the group again" ;;
  *) echo "group $GROUP: failed (rc=$rc)" ;;
esac | tee -a "$STAGE/group-$GROUP.log"
rm -f "$STAGE"/cache/cifar10-jpeg-*.pt                   # the decoded data: rebuilt from data/
tar -czf "$OUT/alexnet-claims.tar.gz" -C "$STAGE" .
if (( $(du -k "$OUT/alexnet-claims.tar.gz" | cut -f1) > ARCHIVE_LIMIT_KB )); then
  echo "the run cache is over 16 MB: the archive keeps results/ and the log only" \
    | tee -a "$STAGE/group-$GROUP.log"
  tar -czf "$OUT/alexnet-claims.tar.gz" -C "$STAGE" results "group-$GROUP.log"
fi
echo "archive: $OUT/alexnet-claims.tar.gz ($(du -k "$OUT/alexnet-claims.tar.gz" | cut -f1) KiB)"
rm -rf "$STAGE"
exit "$rc"
