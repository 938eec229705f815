#!/usr/bin/env bash
# Builds weft with CUDA on in ./build-gpu and runs the GPU tests (ctest -L gpu),
# plus the CPU tests of the registration layers as a sanity check of that
# build. Everything is logged under $OUT (default: ./gpu-logs).
#
#   OUT=/path/to/logs tests/gpu/run_on_device.sh [extra cmake args]
#
# The lent machines cannot install packages: when .device/deps exists (made
# by scripts/device/pack-deps.sh here and carried along), it is used as
# WEFT_DEPS_DIR for CLI11, nlohmann-json and GoogleTest.
#
# Exit status: 0 when the build and every GPU test passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/gpu-logs}
mkdir -p "$out"
build="$root/build-gpu"
jobs=$(nproc 2>/dev/null || echo 4)

log() { echo "[run_on_device $(date -u +%H:%M:%S)] $*" | tee -a "$out/summary.txt"; }

{
  echo "## nvidia-smi"; nvidia-smi 2>&1 || true
  echo "## nvidia-smi topo -m"; nvidia-smi topo -m 2>&1 || true
  echo "## nvcc"; /usr/local/cuda/bin/nvcc --version 2>&1 || true
  echo "## host"; uname -a; nproc
} > "$out/machine.txt"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
deps=()
[ -d "$root/.device/deps" ] && deps=(-DWEFT_DEPS_DIR="$root/.device/deps")
log "configure (CUDA on) into $build"
if ! cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DWEFT_CUDA=ON -DWEFT_BUILD_BENCH=OFF "${deps[@]}" "$@" > "$out/configure.log" 2>&1; then
  log "configure FAILED (see configure.log)"; tail -30 "$out/configure.log"; exit 2
fi
log "build with $jobs jobs"
if ! cmake --build "$build" -j "$jobs" > "$out/build.log" 2>&1; then
  log "build FAILED (see build.log)"; grep -E "error|FAILED" "$out/build.log" | head -30; exit 3
fi

cd "$build" || exit 4
log "ctest -L gpu"
ctest -L gpu --output-on-failure --timeout 300 > "$out/ctest-gpu.log" 2>&1
gpu_rc=$?
tail -15 "$out/ctest-gpu.log" | tee -a "$out/summary.txt"
log "ctest -L 'ipc|register' (CPU tests of this build)"
ctest -L 'ipc|register' --output-on-failure --timeout 300 > "$out/ctest-cpu.log" 2>&1
cpu_rc=$?
tail -5 "$out/ctest-cpu.log" | tee -a "$out/summary.txt"
cp -f "$build"/Testing/Temporary/LastTest*.log "$out/" 2>/dev/null || true
log "gpu rc=$gpu_rc cpu rc=$cpu_rc"
[ "$gpu_rc" -eq 0 ] && [ "$cpu_rc" -eq 0 ]
