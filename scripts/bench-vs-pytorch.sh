#!/usr/bin/env bash
# plateau's training and inference speed against PyTorch on the same models.
#
# For each model (the small ones at 3×32×32 and batch 128, the ImageNet-style ResNets at 3×64×64
# and batch 32; 10 classes) and each round, runs `plateau bench` and then
# benches/reference/torch_bench.py on the spec from `plateau params` (same model, checked to the
# parameter; same batch, threads, optimizer; synthetic data), alternating A B A B so that drift
# in machine load hits both sides alike. Measures the sgemm peak once, writes every raw JSON line
# to a results file and prints markdown tables (benches/reference/compare.py).
#
# Usage: scripts/bench-vs-pytorch.sh [--threads N] [--batch N] [--steps N] [--warmup N]
#            [--rounds N] [--optimizer adamw|sgd] [--models REGEX] [--plateau PATH]
#            [--python PATH] [--out FILE]
# or as environment variables: THREADS BATCH STEPS WARMUP ROUNDS OPTIMIZER MODELS PLATEAU PYTHON
# OUT. --batch overrides every model's own batch; --models keeps the models whose
# preset:width:size:batch matches (grep -E), e.g. --models '^resnet'.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REF="$ROOT/benches/reference"

THREADS="${THREADS:-2}"
BATCH="${BATCH:-}"
STEPS="${STEPS:-20}"
WARMUP="${WARMUP:-3}"
ROUNDS="${ROUNDS:-2}"
OPTIMIZER="${OPTIMIZER:-adamw}"
MODELS="${MODELS:-.}"
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
    --models) MODELS="$2"; shift 2 ;;
    --plateau) PLATEAU="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "error: unknown argument $1" >&2; usage 2 ;;
  esac
done

# preset:width:image size:batch (an empty width is the preset's own), 3 channels, 10 classes.
ALL_MODELS=(resnet-cifar:16:32:128 resnet-cifar:32:32:128 vit-tiny-p4:64:32:128
  vit-tiny-p4:128:32:128 mixer-tiny-p4:128:32:128 resnet18::64:32 resnet50::64:32)
mapfile -t SELECTED < <(printf '%s\n' "${ALL_MODELS[@]}" | grep -E -- "$MODELS" || true)
if [[ ${#SELECTED[@]} -eq 0 ]]; then
  echo "error: --models '$MODELS' matches none of ${ALL_MODELS[*]}" >&2
  exit 2
fi

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

for model in "${SELECTED[@]}"; do
  IFS=: read -r preset width size batch <<<"$model"
  batch="${BATCH:-$batch}"
  shape=(--preset "$preset" ${width:+--width "$width"} --image-size "$size" --in-channels 3
    --num-classes 10)
  "$PLATEAU" params "${shape[@]}" --format json >"$SPEC"
  for round in $(seq 1 "$ROUNDS"); do
    echo "$model, round $round/$ROUNDS: plateau" >&2
    "$PLATEAU" bench "${shape[@]}" \
      --batch-size "$batch" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" \
      --optimizer "$OPTIMIZER" --format json | compact >>"$OUT"
    echo "$model, round $round/$ROUNDS: pytorch" >&2
    "$PYTHON" "$REF/torch_bench.py" --spec "$SPEC" \
      --batch-size "$batch" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" \
      --optimizer "$OPTIMIZER" --format json | compact >>"$OUT"
  done
done

echo "raw results: $OUT" >&2
"$PYTHON" "$REF/compare.py" "$OUT"
