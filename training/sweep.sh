#!/usr/bin/env bash
# Several training runs at once on one machine (each a process of training/train.py), for a GPU
# lease where one small model leaves the card mostly idle. Used for the runs recorded in README
# "Train"; on a 2-core CPU run them one after another instead.
#
#   bash training/sweep.sh MINUTES OUTDIR NAME="train.py flags" [NAME="flags" ...]
#
# Each run writes OUTDIR/NAME/ (args, config, metrics.jsonl, model/) and OUTDIR/NAME.log, and is
# packed into OUTDIR/NAME.tgz (without its optimizer checkpoint) when it ends.
set -uo pipefail
minutes=$1 out=$2
shift 2
mkdir -p "$out"
pids=()
for spec in "$@"; do
  name=${spec%%=*} flags=${spec#*=}
  # shellcheck disable=SC2086
  PYTHONUNBUFFERED=1 python3 training/train.py --data "${DATA:-data/clips.npz}" --run-dir "$out/$name" \
    --minutes "$minutes" --epochs 100000 --threads 2 $flags >"$out/$name.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for spec in "$@"; do
  name=${spec%%=*}
  tar -czf "$out/$name.tgz" -C "$out" --exclude checkpoint.pt "$name" "$name.log"
done
exit $status
