#!/bin/bash
# quick.sh N: interleaved base / v1 (seq_cst publish) / v2 (release publish), 8-32 B, 2 ranks
for i in $(seq 1 $1); do
 for v in base v1 v2; do
  case $v in base) d=/tmp/fastbox-base;; v1) d=/tmp/fastbox-v1;; v2) d=/work/wt-cpu-fastbox/build/bin; esac
  if [ $v = v2 ]; then L=/work/wt-cpu-fastbox/build/lib; else L=$d; fi
  echo "$v $(LD_LIBRARY_PATH=$L setsid -w /tmp/fastbox/ar2-base/prio-run.sh $d/weft-perf allreduce --np 2 -b 8 -e 32 -f 2 -n 20000 -w 2000 2>&1 | awk '$1 ~ /^[0-9]+$/ {printf "%s:%s/%s ", $1, $6, $11}')"
 done
done
