#!/bin/bash
# Interleaved A/B: run i of base, then run i of new, for i = 1..N.
cd /work/wt-cpu-fastbox
N=$1; shift; tag=$1; shift
for i in $(seq 1 $N); do
  for v in base new; do
    if [ $v = base ]; then export WEFT_PERF=/tmp/fastbox-base/weft-perf LD_LIBRARY_PATH=/tmp/fastbox-base;
    else export WEFT_PERF=$PWD/build/bin/weft-perf; unset LD_LIBRARY_PATH; fi
    REPEAT_RESUME=1 REPEAT_PRIO=1 bench/compare/repeat.sh $i /tmp/fastbox/$tag-$v -- "$@" > /tmp/fastbox/$tag-$v.last 2>&1
  done
done
echo done > /tmp/fastbox/$tag.done
