#!/usr/bin/env bash
# The GPU check: is wgpu on a real GPU, how fast do the three families train there, and does a
# tiny sweep on it agree with the same sweep on the CPU backend? One script, no network, no
# cargo: it runs the `plateau` binary beside it (a bundle made by scripts/gpu-bundle.sh) or
# target/release/plateau, and writes its JSON summary after every step, so a run cut off by a
# time limit still reports what it measured.
#
#   scripts/gpu-check.sh [--software] [--out DIR]
#
# --software: for a machine without a GPU (CI's lavapipe): skip the real-GPU assertion and use
# small sizes. Everything lands in DIR (default ./gpu-check): gpu-check.json, the bench outputs,
# both sweeps.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
software=0
out=gpu-check
while [ $# -gt 0 ]; do
  case $1 in
    --software) software=1 ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--software] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out" && out=$(cd "$out" && pwd)

# The binary: the bundle's, else this checkout's. A bundle carries its Vulkan loader in lib/.
if [ -x "$here/plateau" ]; then plateau=$here/plateau; else plateau=$here/../target/release/plateau; fi
[ -d "$here/lib" ] && export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -x "$plateau" ] || { echo "no plateau binary at $plateau (build with --features wgpu)" >&2; exit 2; }

summary=$out/gpu-check.json
steps=()
# Rewrites the summary with the steps so far; $1 says whether the check is over.
write_summary() {
  local joined
  joined=$(IFS=,; echo "${steps[*]:-}")
  printf '{"machine": "%s", "software": %s, "finished": %s, "steps": [%s]}\n' \
    "$(uname -n) $(nproc) cores" "$software" "$1" "$joined" > "$summary.tmp" && mv "$summary.tmp" "$summary"
}
# Records one step: its name, whether it passed, and its JSON (or a string).
step() { steps+=("{\"step\": \"$1\", \"ok\": $2, \"result\": $3}"); write_summary false; }
fail() { step "$1" false "\"$2\""; write_summary true; echo "gpu-check: $1: $2" >&2; exit 1; }

# 1. A real GPU, or say so and stop (every number after would be a CPU's).
devices=$("$plateau" devices --format json) || fail devices "plateau devices failed"
if [ "$software" = 0 ]; then
  "$plateau" devices --require-gpu >/dev/null || fail devices "wgpu has no real GPU here: $devices"
fi
step devices true "$devices"

# 2. Training and evaluation speed, three families at two sizes each.
if [ "$software" = 1 ]; then
  sizes="resnet-cifar:8 resnet-cifar:16 vit-tiny-p4:32 vit-tiny-p4:64 mixer-tiny-p4:32 mixer-tiny-p4:64"
  bench_flags=(--batch-size 16 --steps 2 --warmup 1)
else
  sizes="resnet-cifar:16 resnet-cifar:64 vit-tiny-p4:64 vit-tiny-p4:192 mixer-tiny-p4:64 mixer-tiny-p4:256"
  bench_flags=(--batch-size 128 --steps 20 --warmup 5)
fi
for size in $sizes; do
  preset=${size%%:*} width=${size##*:}
  if result=$("$plateau" --backend wgpu bench --preset "$preset" --width "$width" "${bench_flags[@]}" --format json 2>"$out/bench-$preset-$width.log"); then
    step "bench $preset width=$width" true "$result"
  else
    step "bench $preset width=$width" false "\"failed: see bench-$preset-$width.log\""
  fi
done

# 3. The same tiny sweep on the GPU and on the CPU backend: test accuracies within TOLERANCE
# (float sums in another order drift a little over training; more than this is a bug).
tolerance=0.05
cat > "$out/tiny.toml" <<TOML
name = "tiny"
seed = 1
[upstream]
dataset = "synthetic"
image_size = 16
train_examples = 400
val_examples = 100
test_examples = 200
[train]
optimizer = "adamw"
lr = 1e-2
batch_size = 40
epochs = 3
[[grid]]
preset = "mixer-tiny-p4"
width = [16, 32]
depth = [1]
[[grid]]
preset = "resnet-cifar"
width = [8]
depth = [1]
TOML
"$plateau" --backend wgpu sweep "$out/tiny.toml" --out "$out/gpu" >"$out/sweep-gpu.log" 2>&1 \
  || fail "sweep on wgpu" "see sweep-gpu.log"
"$plateau" sweep "$out/tiny.toml" --out "$out/cpu" >"$out/sweep-cpu.log" 2>&1 \
  || fail "sweep on flex" "see sweep-cpu.log"
# run_id → test accuracy, from each sweep's results.csv.
accuracies() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
           { print $col["run_id"], $col["upstream_test_accuracy"] }' "$1" | sort -u
}
comparison=$(join <(accuracies "$out/gpu/tiny/results.csv") <(accuracies "$out/cpu/tiny/results.csv") \
  | awk -v tol="$tolerance" '{ d = $2 - $3; if (d < 0) d = -d; if (d > tol) bad++;
      printf "%s{\"run\": \"%s\", \"wgpu\": %s, \"flex\": %s}", (NR > 1 ? ", " : ""), $1, $2, $3 }
      END { exit bad > 0 }')
agreed=$?
runs=$(grep -c . <(accuracies "$out/cpu/tiny/results.csv"))
[ "$runs" = 3 ] || fail "sweep comparison" "expected 3 runs on each backend"
if [ "$agreed" = 0 ]; then ok=true; else ok=false; fi
step "sweep wgpu vs flex (tolerance $tolerance)" "$ok" "[$comparison]"
write_summary true
echo "gpu-check: summary in $summary"
[ "$ok" = true ]
