#!/usr/bin/env bash
# The device run of 2026-11-23 (nvidia-h200-x2): LL in batches of lines with
# slots sized by rank count, and the push path without its self-copy.
# Builds, runs the 2-GPU tests, sweeps WEFT_GPU_LL_MAX_BYTES (allreduce with
# gpu_allreduce_bench, allgather and reduce_scatter with weft-perf), A/Bs
# WEFT_GPU_BLOCKS, and runs scripts/run.sh's GPU branch. Logs: $OUT/all.tgz.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../../../.." && pwd)
cd "$root"
w=/tmp/ll-batch; rm -rf "$w"; mkdir -p "$w"
s=$w/summary.txt
stamp() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$s"; }
export NCCL_NVLS_ENABLE=0
stamp "suite"
OUT=$w/suite scripts/device/gpu-suite.sh --tests 2gpus --no-bench > "$w/suite.out" 2>&1
tail -15 "$w/suite/summary.txt" >> "$s"
if ! grep -q "100% tests passed" "$w/suite/ctest-gpu.log"; then
  stamp "GPU tests failed: no benchmarks"; tar czf "$OUT/all.tgz" -C "$w" .; cp "$s" "$OUT/"; exit 1
fi
stamp "LL max sweep, allreduce"
bench/gpu/latency-ab.sh build-gpu "$w/lat-llmax" 2 WEFT_GPU_LL_MAX_BYTES "131072 262144 524288" 2 2M \
  > "$w/lat-llmax.txt" 2>&1
grep -E "^(graph|eager) .* (65536|131072|262144|524288|1048576|2097152) " "$w/lat-llmax.txt" >> "$s"
for coll in allgather reduce_scatter; do
  stamp "LL max sweep, $coll"
  bench/gpu/threshold-sweep.sh build-gpu "$w/sweep-$coll" "$coll" 2 WEFT_GPU_LL_MAX_BYTES \
    "131072 524288" -b 64K -e 4M -f 2 > "$w/sweep-$coll.txt" 2>&1
  grep -A12 "weft time" "$w/sweep-$coll.txt" >> "$s"
done
stamp "blocks 32 vs 64"
bench/gpu/latency-ab.sh build-gpu "$w/lat-blocks" 2 WEFT_GPU_BLOCKS "32 64" 1 8M > "$w/lat-blocks.txt" 2>&1
grep -E "^graph .* (262144|1048576|4194304|8388608) " "$w/lat-blocks.txt" >> "$s"
stamp "scripts/run.sh (GPU branch)"
ln -sfn build-gpu build
WEFT_RUN_BUILD=0 timeout 200 scripts/run.sh > "$w/run-sh.txt" 2>&1
echo "exit $?" >> "$w/run-sh.txt"
tail -30 "$w/run-sh.txt" >> "$s"
stamp "done"
tar czf "$OUT/all.tgz" -C "$w" .
cp "$s" "$OUT/"
