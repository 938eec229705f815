#!/bin/bash
for i in $(seq 1 $1); do
 for v in base new; do
  case $v in base) d=/tmp/fastbox-base; L=$d;; new) d=/work/wt-cpu-fastbox/build/bin; L=/work/wt-cpu-fastbox/build/lib;; esac
  echo "$v $(LD_LIBRARY_PATH=$L setsid -w /tmp/fastbox/ar2-base/prio-run.sh $d/weft-perf allreduce --np 2 -b $2 -e $3 -f 2 -n 20000 -w 2000 2>&1 | awk '$1 ~ /^[0-9]+$/ {printf "%s:%s/%s ", $1, $6, $11}')"
 done
done
