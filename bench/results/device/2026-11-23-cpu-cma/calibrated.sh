#!/usr/bin/env bash
# Second device run of 2026-11-23 (nvidia-h100-x1, its 16 CPU cores): the
# calibration (src/shm/calibration.*) on the Xeon host. Builds weft-perf
# without CUDA, logs the calibration's figures and choice 5 times each on 2,
# 4 and 8 ranks, then A/Bs the calibrated default (WEFT_SHM_CMA_CALIBRATE=1)
# against the uncalibrated single copy (0). Logs under $OUT.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../../.." && pwd)
cd "$root"
out=${OUT:-/tmp/cpu-cma}; mkdir -p "$out"
cmake -S . -B build-cpu -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CUDA=OFF \
  -DWEFT_BUILD_BENCH=OFF -DWEFT_DEPS_DIR="$root/.device/deps" > "$out/build.log" 2>&1 &&
  cmake --build build-cpu -j "$(nproc)" --target weft-perf >> "$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 3; }
perf=build-cpu/bin/weft-perf
for np in 2 4 8; do
  for i in 1 2 3 4 5; do
    rm -rf /tmp/cal-logs && mkdir -p /tmp/cal-logs
    WEFT_DEBUG=INFO WEFT_DEBUG_FILE=/tmp/cal-logs/%p $perf allreduce --np $np -b 64K -e 64K -n 5 > /dev/null 2>&1
    echo "np=$np run $i: $(grep -h 'cross-memory attach' /tmp/cal-logs/* | head -1 | sed 's/.*cross-memory attach //')"
  done
done | tee "$out/calibration.txt"
bench/compare/env-ab.sh $perf WEFT_SHM_CMA_CALIBRATE "0 1" "allreduce reduce_scatter allgather broadcast" \
  "2 4 8" "1M 4M" 3 > "$out/calibrate-ab.txt" 2>&1
bench/compare/env_ab_medians.py "$out/calibrate-ab.txt" | tee "$out/calibrate-ab.md"
