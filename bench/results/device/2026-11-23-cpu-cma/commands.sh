#!/usr/bin/env bash
# The device run of 2026-11-23 (nvidia-h100-x1, used for its 16 CPU cores):
# host-memory collectives on a larger host than the 2-core VM. Builds
# weft-perf without CUDA, prints the machine and its copy limits, then A/Bs
# the single copy (WEFT_SHM_CMA=1, process_vm_readv) against the two copies
# through the segment (WEFT_SHM_CMA=0) on 2, 4 and 8 ranks. Logs under $OUT.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../../.." && pwd)
cd "$root"
out=${OUT:-/tmp/cpu-cma}; mkdir -p "$out"
{ date -u; nproc; lscpu; free -g; cat /sys/kernel/mm/transparent_hugepage/enabled; } > "$out/machine.txt" 2>&1
cmake -S . -B build-cpu -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CUDA=OFF \
  -DWEFT_BUILD_BENCH=OFF -DWEFT_DEPS_DIR="$root/.device/deps" > "$out/build.log" 2>&1 &&
  cmake --build build-cpu -j "$(nproc)" --target weft-perf >> "$out/build.log" 2>&1 ||
  { tail -30 "$out/build.log"; exit 3; }
perf=build-cpu/bin/weft-perf
$perf allreduce --np 2 -b 1M -e 1M -n 5 --limits > "$out/limits.txt" 2>&1
tail -4 "$out/limits.txt"
bench/compare/env-ab.sh $perf WEFT_SHM_CMA "1 0" "allreduce reduce_scatter allgather broadcast" \
  "${NPS:-2 4 8}" "256K 1M 4M 16M" "${REPS:-3}" > "$out/cma-ab.txt" 2>&1
bench/compare/env_ab_medians.py "$out/cma-ab.txt" | tee "$out/cma-ab.md"
