#!/usr/bin/env bash
# Fourth device run of 2026-11-23 (nvidia-h200-x2): LL batches of one line
# where the grid covers the message, pull steps back to 8 MiB; A/B against
# the previous commit (old-tree/, carried), interleaved; final 2-GPU tables.
# Logs: $OUT/all.tgz.
# old-tree/ was `git archive 544ca9d | tar x -C old-tree` (git-ignored, carried).
set -uo pipefail
root=$(cd "$(dirname "$0")/../../../../.." && pwd)
cd "$root"
w=/tmp/run4; rm -rf "$w"; mkdir -p "$w"
s=$w/summary.txt
stamp() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$s"; }
export NCCL_NVLS_ENABLE=0
nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))')
stamp "build old-tree (background) + suite"
( cmake -S old-tree -B build-old -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CUDA=ON -DWEFT_BUILD_BENCH=OFF \
    -DWEFT_BUILD_TESTS=OFF -DWEFT_DEPS_DIR="$root/.device/deps" && cmake --build build-old -j 12 --target gpu_allreduce_bench weft-perf ) \
  > "$w/build-old.log" 2>&1 &
old_pid=$!
OUT=$w/suite scripts/device/gpu-suite.sh --tests 2gpus --no-bench > "$w/suite.out" 2>&1
grep -E "tests passed|tests failed|Failed|Timeout" "$w/suite/ctest-gpu.log" >> "$s"
wait $old_pid; echo "old build exit $?" >> "$s"
if ! grep -q "100% tests passed" "$w/suite/ctest-gpu.log"; then
  stamp "GPU tests failed: no benchmarks"; tar czf "$OUT/all.tgz" -C "$w" .; cp "$s" "$OUT/"; exit 1
fi
ab() {  # ab NAME ARGS...: old and new gpu_allreduce_bench interleaved, 3 rounds
  local name=$1; shift
  for rep in 1 2 3; do
    for b in old gpu; do
      timeout 90 build-$b/bin/gpu_allreduce_bench --np 2 "$@" --nccl-lib "$nccl" > "$w/ab-$name-$b-r$rep.txt" 2>&1
    done
  done
}
stamp "A/B small, graph"; ab small --graph -b 8 -e 1M -n 50 -w 10
perf() {  # perf NAME COLL ARGS...
  local name=$1 coll=$2; shift 2
  timeout 120 build-gpu/bin/weft-perf "$coll" --np 2 --compare nccl --nccl-lib "$nccl" -n 20 -w 5 -c 1 "$@" \
    > "$w/perf-$name.txt" 2>&1
  echo "exit $?" >> "$w/perf-$name.txt"
  { echo "== $name"; sed -n '/weft time/,$p' "$w/perf-$name.txt"; } >> "$s"
}
stamp "A/B weft-perf unregistered large allgather (old, new)"
for b in old gpu; do
  timeout 120 build-$b/bin/weft-perf allgather --np 2 --compare nccl --nccl-lib "$nccl" -n 20 -w 5 -c 1 \
    -b 1M -e 256M -f 4 --graph > "$w/abperf-allgather-$b.txt" 2>&1
  { echo "== allgather $b"; sed -n '/weft time/,$p' "$w/abperf-allgather-$b.txt"; } >> "$s"
done
stamp "weft-perf"
perf ar-graph allreduce -b 8 -e 256M --graph
perf ag-reg-graph allgather -b 8 -e 256M --register --graph
perf rs-reg-graph reduce_scatter -b 8 -e 256M --register --graph
stamp "scripts/run.sh (GPU branch)"
ln -sfn build-gpu build
WEFT_RUN_BUILD=0 timeout 120 scripts/run.sh > "$w/run-sh.txt" 2>&1
echo "exit $?" >> "$w/run-sh.txt"
sed -n '/weft time/,$p' "$w/run-sh.txt" >> "$s"
stamp "eager, full sweep (new)"
timeout 120 build-gpu/bin/gpu_allreduce_bench --np 2 -b 8 -e 256M --nccl-lib "$nccl" > "$w/eager-full.txt" 2>&1
stamp "done"
tar czf "$OUT/all.tgz" -C "$w" .
cp "$s" "$OUT/"
