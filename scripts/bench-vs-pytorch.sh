#!/usr/bin/env bash
# plateau's training and inference speed against PyTorch on the same models.
#
# For each small model (3×32×32, 10 classes) and each round, runs `plateau bench` and then
# benches/reference/torch_bench.py on the spec from `plateau params` (same model, checked to the
# parameter; same batch, threads, optimizer; synthetic data), alternating A B A B so that drift
# in machine load hits both sides alike. Measures the sgemm peak once, writes every raw JSON line
# to a results file and prints markdown tables (benches/reference/compare.py).
#
# Usage: scripts/bench-vs-pytorch.sh [--threads N] [--batch N] [--steps N] [--warmup N]
#            [--rounds N] [--optimizer adamw|sgd] [--plateau PATH] [--python PATH] [--out FILE]
# or as environment variables: THREADS BATCH STEPS WARMUP ROUNDS OPTIMIZER PLATEAU PYTHON OUT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REF="$ROOT/benches/reference"

THREADS="${THREADS:-2}"
BATCH="${BATCH:-128}"
STEPS="${STEPS:-20}"
WARMUP="${WARMUP:-3}"
ROUNDS="${ROUNDS:-2}"
OPTIMIZER="${OPTIMIZER:-adamw}"
PLATEAU="${PLATEAU:-$ROOT/target/release/plateau}"
PYTHON="${PYTHON:-/usr/bin/python3}" # Debian's interpreter: python3-torch lives there
OUT="${OUT:-$REF/last-run.jsonl}"

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --optimizer) OPTIMIZER="$2"; shift 2 ;;
    --plateau) PLATEAU="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "error: unknown argument $1" >&2; usage 2 ;;
  esac
done

# preset:width, all at 3×32×32 and 10 classes.
MODELS=(resnet-cifar:16 resnet-cifar:32 vit-tiny-p4:64 vit-tiny-p4:128 mixer-tiny-p4:128)
INPUT=(--image-size 32 --in-channels 3 --num-classes 10)

if [[ ! -x "$PLATEAU" ]]; then
  echo "$PLATEAU is missing: building it (cargo build --release)" >&2
  (cd "$ROOT" && cargo build --release)
fi
if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  echo "error: $PYTHON cannot import torch and numpy (Debian: apt-get install python3-torch" \
    "libopenblas0-pthread; or set PYTHON)" >&2
  exit 1
fi

# One JSON object per line, whatever the indentation of the producer.
compact() { "$PYTHON" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))'; }

mkdir -p "$(dirname "$OUT")"
: >"$OUT"
SPEC="$(mktemp)"
trap 'rm -f "$SPEC"' EXIT

echo "sgemm peak at $THREADS threads..." >&2
"$PYTHON" "$REF/sgemm_peak.py" --threads "$THREADS" | compact >>"$OUT"

for model in "${MODELS[@]}"; do
  preset="${model%%:*}" width="${model##*:}"
  "$PLATEAU" params --preset "$preset" --width "$width" "${INPUT[@]}" --format json >"$SPEC"
  for round in $(seq 1 "$ROUNDS"); do
    echo "$preset width $width, round $round/$ROUNDS: plateau" >&2
    "$PLATEAU" bench --preset "$preset" --width "$width" "${INPUT[@]}" \
      --batch-size "$BATCH" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" \
      --optimizer "$OPTIMIZER" --format json | compact >>"$OUT"
    echo "$preset width $width, round $round/$ROUNDS: pytorch" >&2
    "$PYTHON" "$REF/torch_bench.py" --spec "$SPEC" \
      --batch-size "$BATCH" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" \
      --optimizer "$OPTIMIZER" --format json | compact >>"$OUT"
  done
done

echo "raw results: $OUT" >&2
"$PYTHON" "$REF/compare.py" "$OUT"
