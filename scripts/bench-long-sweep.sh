#!/usr/bin/env bash
# A long sweep's own costs: 150 tiny runs (1 epoch on 100 synthetic images), the sweep
# process's memory and open files sampled while it runs, the wall time per run; then
# `plateau report` and `plateau fit` on a 1000-row results file made from those rows.
# Usage: scripts/bench-long-sweep.sh   (after `cargo build --release`)
set -euo pipefail
cd "$(dirname "$0")/.."
plateau=target/release/plateau
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/long.toml" <<'TOML'
name = "long"
[upstream]
dataset = "synthetic"
image_size = 8
train_examples = 100
val_examples = 20
test_examples = 20
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 50
epochs = 1
[[downstream]]
dataset = "synthetic"
name = "probe"
classes = [0, 1, 2, 3, 4]
shots = [1]
seeds = 1
test_examples = 50
[[grid]]
preset = "mixer-tiny-p4"
width = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60]
depth = [1]
seed = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
TOML

start=$(date +%s.%N)
"$plateau" sweep "$work/long.toml" --out "$work/out" 2> "$work/sweep.log" &
pid=$!
# Resident memory (kB) and open files of the sweep process, every second.
: > "$work/samples"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l || true)
  [ -n "$rss" ] && echo "$rss $fds" >> "$work/samples"
  sleep 1
done
wait "$pid"
end=$(date +%s.%N)
runs=$(wc -l < "$work/out/long/results.jsonl")
awk -v s="$start" -v e="$end" -v n="$runs" 'BEGIN { printf "sweep: %d runs in %.1f s, %.3f s per run\n", n, e - s, (e - s) / n }'
grep '^time:' "$work/sweep.log" || true
# Memory and open files at each quarter of the sweep: flat means no growth per run.
awk '{ r[NR] = $1; f[NR] = $2 }
     END { printf "sweep process RSS (kB) / open files at 1/4, 1/2, 3/4, end: ";
           for (q = 1; q <= 4; q++) { i = int(NR * q / 4); if (i < 1) i = 1; printf "%d/%d ", r[i], f[i] }
           printf "(%d samples)\n", NR }' "$work/samples"

# 1000 rows: the sweep's rows again under other run ids (and slightly other sizes).
python3 - "$work/out/long/results.jsonl" "$work/big" <<'PY'
import json, os, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
os.makedirs(sys.argv[2], exist_ok=True)
with open(os.path.join(sys.argv[2], "results.jsonl"), "w") as out:
    for i in range(1000):
        row = dict(rows[i % len(rows)])
        row["run_id"] = f"{i:012x}"
        row["config"] = dict(row["config"], width=row["config"]["width"] + 1000 * (i // len(rows)))
        row["params"] = row["params"] + i
        out.write(json.dumps(row) + "\n")
PY
for command in "report $work/big" "fit $work/big" "fit $work/big --x params"; do
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$plateau" $command > /dev/null 2>&1 || echo "($command exited non-zero)"
  t1=$(date +%s.%N)
  awk -v s="$t0" -v e="$t1" -v c="${command//$work\//}" 'BEGIN { printf "plateau %s on 1000 rows: %.2f s\n", c, e - s }'
done
