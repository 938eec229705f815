#!/bin/bash
# Interleaved A/B of the per-operation path: base binaries in $BASE (weft-perf,
# weft-perf-mpi, libweft.so*), new ones in $NEW_BIN/../lib; runs i of base then new.
# Usage: ab.sh OUTDIR RUNS
set -u
out=$1; runs=${2:-5}
BASE=${BASE:-/tmp/base}; NEW=${NEW:-/work/main/build}
for i in $(seq 1 "$runs"); do
  for v in base new; do
    if [ $v = base ]; then bin=$BASE/weft-perf; lib=$BASE; else bin=$NEW/bin/weft-perf; lib=$NEW/lib; fi
    d=$out/$v
    mkdir -p "$d/one-rank" "$d/batched" "$d/blocking"
    LD_LIBRARY_PATH=$lib $bin allreduce --np 1 -b 8 -e 8 -n 500000 -w 5000 -c 1 --blocking \
      --keep-dir "$d/one-rank/run-$i" > "$d/one-rank/run-$i.txt" 2>&1
    LD_LIBRARY_PATH=$lib $bin allreduce --np 2 -b 8 -e 1K -f 2 -n 5000 -w 500 -c 1 --compare mpi \
      --keep-dir "$d/batched/run-$i" > "$d/batched/run-$i.txt" 2>&1
    LD_LIBRARY_PATH=$lib $bin allreduce --np 2 -b 8 -e 1K -f 2 -n 5000 -w 500 -c 1 --compare mpi --blocking \
      --keep-dir "$d/blocking/run-$i" > "$d/blocking/run-$i.txt" 2>&1
  done
done
