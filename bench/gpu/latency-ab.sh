#!/usr/bin/env bash
# Small-message allreduce latency, weft against NCCL in the same runs, with a
# WEFT_* variable switched between values, interleaved (A B A B ...) so drift
# of the machine hits both alike. gpu_allreduce_bench times 8 B .. MAX with
# CUDA-graph replays (device timing) and eager launches.
#
#   bench/gpu/latency-ab.sh BUILD OUT NP VAR "V1 V2" [REPEATS] [MAX]
#   e.g. bench/gpu/latency-ab.sh build-gpu $OUT 2 WEFT_GPU_PDL "1 0" 3 1M
set -uo pipefail
[ $# -ge 5 ] || { sed -n '2,9p' "$0"; exit 2; }
build=$1 out=$2 np=$3 var=$4 values=$5 repeats=${6:-3} max=${7:-1M}
export NCCL_NVLS_ENABLE=0
nccl_lib=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
mkdir -p "$out"
for rep in $(seq 1 "$repeats"); do
  for launch in graph eager; do
    flag=""; [ "$launch" = graph ] && flag="--graph"
    for v in $values; do
      log="$out/latency-np$np-$launch-$var-$v-r$rep.txt"
      env "$var=$v" timeout 120 "$build/bin/gpu_allreduce_bench" --np "$np" $flag -b 8 -e "$max" -n 50 -w 10 \
        ${nccl_lib:+--nccl-lib "$nccl_lib"} > "$log" 2>&1
      echo "exit $?" >> "$log"
    done
  done
done
# One line per (launch, value, size): the median over repeats of weft (the
# better of its two buffer kinds) and of NCCL, in µs.
python3 - "$out" "$np" "$var" <<'PY'
import glob, re, statistics, sys, collections
out, np_, var = sys.argv[1:4]
rows = collections.defaultdict(lambda: ([], []))
for f in sorted(glob.glob(f"{out}/latency-np{np_}-*-{var}-*-r*.txt")):
    m = re.search(rf"latency-np{np_}-(\w+)-{var}-(.+)-r\d+\.txt$", f)
    launch, value = m.group(1), m.group(2)
    for line in open(f):
        cols = line.split()
        # bytes weft_us weft_busbw reg_us reg_busbw nccl_us ...
        if len(cols) >= 6 and re.fullmatch(r"\d+", cols[0]):
            try:
                w = min(float(cols[1]), float(cols[3])); n = float(cols[5])
            except ValueError:
                continue
            rows[(launch, value, int(cols[0]))][0].append(w)
            rows[(launch, value, int(cols[0]))][1].append(n)
print(f"{'launch':6} {var:>14} {'bytes':>9} {'weft us':>9} {'nccl us':>9} {'weft/nccl time':>15}")
for (launch, value, size), (w, n) in sorted(rows.items()):
    mw, mn = statistics.median(w), statistics.median(n)
    print(f"{launch:6} {value:>14} {size:>9} {mw:9.2f} {mn:9.2f} {mw / mn:15.2f}")
PY
