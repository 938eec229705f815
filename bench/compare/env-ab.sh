#!/usr/bin/env bash
# Interleaved A/B of one environment variable's values for weft-perf, finely
# grained (per size and repetition, the order alternating), so that a machine
# whose speed drifts over minutes (the 2-core VMs do) favours no variant:
#
#   bench/compare/env-ab.sh WEFT_PERF VAR "VALUES" "COLLECTIVES" "NPS" "SIZES" REPS > OUT.txt
#   bench/compare/env_ab_medians.py OUT.txt
#
# e.g. bench/compare/env-ab.sh build/bin/weft-perf WEFT_SHM_CMA "1 0" \
#        "allreduce reduce_scatter allgather broadcast" "2 4" "256K 1M 4M 16M" 5
# Each line: collective np size rep value out-of-place-us in-place-us wrong.
# Every run checks its result (-c 1): a wrong count other than 0 is printed.
set -uo pipefail
perf=$1 var=$2 values=$3 colls=$4 nps=$5 sizes=$6 reps=$7
iters_for() {  # about 20-50 ms of timed calls per run
  case $1 in
    *K) echo 200 ;; 1M | 2M) echo 100 ;; 4M | 8M) echo 30 ;; *) echo 10 ;;
  esac
}
for coll in $colls; do
  for np in $nps; do
    for size in $sizes; do
      for rep in $(seq 1 "$reps"); do
        order=$values
        (( rep % 2 )) || order=$(echo "$values" | tr ' ' '\n' | tac | tr '\n' ' ')
        for v in $order; do
          row=$(env "$var=$v" timeout 300 "$perf" "$coll" --np "$np" -b "$size" -e "$size" \
                  -n "$(iters_for "$size")" -w 3 -c 1 2>&1 | grep -E "^ +[0-9]")
          echo "$coll $np $size $rep $v $(echo "$row" | awk '{print $6, $11, $9 + $14}')"
        done
      done
    done
  done
done
