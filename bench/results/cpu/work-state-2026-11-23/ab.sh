#!/bin/bash
# interleaved A/B: base (/tmp/base) vs new (build), N rounds
cd /work/main
N=${1:-5}; shift
for i in $(seq 1 $N); do
  for v in base new; do
    if [ $v = base ]; then
      LD_LIBRARY_PATH=/tmp/base REPEAT_PRIO=1 REPEAT_RESUME=1 WEFT_PERF=/tmp/base/weft-perf bench/compare/repeat.sh $i /tmp/ab1/$v -- "$@" > /dev/null
    else
      REPEAT_PRIO=1 REPEAT_RESUME=1 bench/compare/repeat.sh $i /tmp/ab1/$v -- "$@" > /dev/null
    fi
  done
done
for v in base new; do echo "== $v"; cat /tmp/ab1/$v/median.md; done
