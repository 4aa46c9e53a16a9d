#!/usr/bin/env bash
# Copies a finished sweep folder's records into a folder small enough to commit, then rebuilds
# its results files, report and figures there with `plateau report`:
#   scripts/export-study.sh runs/study-fashion-mnist docs/study/fashion-mnist
# Kept: the sweep's sweep.json and timing.json, and of each run its config.json, metrics.jsonl,
# summary.json and result.json (its record). Left behind: weights, checkpoints, TensorBoard
# events, locks, claims, scorer folders; what `plateau report` needs is all kept.
set -euo pipefail
from=${1:?the finished sweep folder, e.g. runs/study-fashion-mnist}
to=${2:?where the copy goes, e.g. docs/study/fashion-mnist}
plateau=${PLATEAU:-target/release/plateau}

[ -f "$from/sweep.json" ] || { echo "$from: no sweep.json: not a sweep folder" >&2; exit 1; }
if [ -e "$to" ]; then
  echo "$to exists: remove it first (this script does not merge into an older copy)" >&2
  exit 1
fi
mkdir -p "$to"
for file in sweep.json timing.json; do
  [ -f "$from/$file" ] && cp "$from/$file" "$to/"
done
copied=0
for run in "$from"/*/; do
  run=${run%/}
  [ -f "$run/result.json" ] || continue
  id=$(basename "$run")
  mkdir -p "$to/$id"
  for file in config.json metrics.jsonl summary.json result.json; do
    [ -f "$run/$file" ] && cp "$run/$file" "$to/$id/"
  done
  copied=$((copied + 1))
done
echo "copied the records of $copied runs into $to"
"$plateau" report "$to"
rm -f "$to/sweep.lock"
du -sh "$to"
