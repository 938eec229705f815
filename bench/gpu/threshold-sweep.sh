#!/usr/bin/env bash
# Sweeps one WEFT_GPU_* size threshold for a collective with weft-perf against
# NCCL in the same run (registered buffers, CUDA-graph launches), to choose the
# default from a measurement. One weft-perf run per value; NCCL runs in each,
# so every table carries its own comparator.
#
#   bench/gpu/threshold-sweep.sh BUILD OUT COLL NP VAR "V1 V2 ..." [weft-perf size args]
#   e.g. bench/gpu/threshold-sweep.sh build-gpu $OUT allgather 2 WEFT_GPU_ZERO_COPY_MIN_BYTES \
#            "262144 16777216" -b 128K -e 8M -f 2
set -uo pipefail
[ $# -ge 6 ] || { sed -n '2,10p' "$0"; exit 2; }
build=$1 out=$2 coll=$3 np=$4 var=$5 values=$6
shift 6
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(-b 128K -e 8M -f 2)
export NCCL_NVLS_ENABLE=0
nccl_lib=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
mkdir -p "$out"
for v in $values; do
  log="$out/sweep-$coll-np$np-$var-$v.txt"
  echo "== $coll np=$np $var=$v" | tee "$log"
  env "$var=$v" timeout 200 "$build/bin/weft-perf" "$coll" "${sizes[@]}" -n 20 -w 5 -c 1 \
    --np "$np" --compare nccl --register --graph ${nccl_lib:+--nccl-lib "$nccl_lib"} >> "$log" 2>&1
  echo "exit $?" >> "$log"
  sed -n '/weft time/,$p' "$log"
done
