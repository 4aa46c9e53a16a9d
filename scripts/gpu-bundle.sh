#!/usr/bin/env bash
# Builds the GPU check's bundle on a CPU machine (by hand: the `gpu-tuned` release build takes
# 15–20 minutes here, so it stays out of CI):
#
#   scripts/gpu-bundle.sh [DIR]        # default: target/gpu-bundle
#
# DIR then holds everything a GPU machine needs, with no network and no cargo there:
#   plateau          a stripped release build with --features wgpu,gpu-tuned (about 86 MB)
#   lib/             the Vulkan loader (Debian's libvulkan1, unpacked), for machines without one
#   gpu-check.sh     the check (scripts/gpu-check.sh); it finds the binary and lib/ beside it
#   README.txt       how to run it
# Copy DIR to the GPU machine (with its NVIDIA driver, which brings the Vulkan driver itself)
# and run ./gpu-check.sh there. Built on Debian 12 (glibc 2.36), the binary runs on Debian 12 or
# newer and on other distributions with glibc 2.36 or newer.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=$(realpath -m "${1:-target/gpu-bundle}")
mkdir -p "$bundle/lib"

cargo build --release --features wgpu,gpu-tuned
cp target/release/plateau "$bundle/plateau"
strip "$bundle/plateau"
size=$(stat -c %s "$bundle/plateau")
echo "plateau: $((size / 1024 / 1024)) MB stripped"
# The aim is under 40 MB; with the release profile it is about 86 MB (measured 2026-12-02), which
# still travels fine: say so rather than stop.
[ "$size" -lt $((40 * 1024 * 1024)) ] || echo "note: the binary is over the 40 MB aim" >&2

# The Vulkan loader, from the package registry (no root needed for a download).
work=$(mktemp -d)
(cd "$work" && apt-get download libvulkan1 >/dev/null)
dpkg-deb -x "$work"/libvulkan1_*.deb "$work/root"
cp -a "$work"/root/usr/lib/*/libvulkan.so.1* "$bundle/lib/"
rm -rf "$work"

cp scripts/gpu-check.sh "$bundle/gpu-check.sh"
cat > "$bundle/README.txt" <<TXT
plateau's GPU check, built $(date -u +%Y-%m-%d) from commit $(git rev-parse --short HEAD).
Run ./gpu-check.sh (about 4 minutes on a modern GPU); it writes gpu-check/gpu-check.json after
every step. It first asserts that wgpu sees a real GPU (./plateau devices), then benchmarks
three model families at two sizes each on it, then compares a tiny sweep on the GPU with the
same sweep on the CPU backend.
TXT
echo "bundle: $bundle ($(du -sh "$bundle" | cut -f1))"
