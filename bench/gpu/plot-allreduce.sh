#!/usr/bin/env bash
# Plots one gpu_allreduce_bench output (weft on cudaMalloc buffers, weft on
# registered buffers, NCCL; same run) with gnuplot: busbw against size
# (log-log) or, with --latency, time against size. The GPU machines have no
# gnuplot, so the raw text comes back and the plot is drawn here.
#
#   bench/gpu/plot-allreduce.sh [--latency] BENCH.txt OUT.png "TITLE"
set -euo pipefail
mode=busbw
if [ "${1:-}" = --latency ]; then mode=latency; shift; fi
[ $# -eq 3 ] || { sed -n '2,7p' "$0"; exit 2; }
in=$1 png=$2 title=$3
# bytes weft_us weft_busbw reg_us reg_busbw nccl_us nccl_busbw ...
data=$(awk '$1 ~ /^[0-9]+$/ && NF >= 7' "$in")
[ -n "$data" ] || { echo "no result rows in $in" >&2; exit 1; }
if [ "$mode" = busbw ]; then
  cols=(3 5 7); ylabel='bus bandwidth (GB/s)'; key='top left'
else
  cols=(2 4 6); ylabel='time per allreduce (µs)'; key='top left'
fi
gnuplot <<GP
set terminal pngcairo size 1000,640 enhanced font 'sans,11'
set output '$png'
set title '$title'
set logscale xy 2
set logscale y 10
set format x '%.0b%BB'
set format y '%g'
set xlabel 'message size (bytes)'
set ylabel '$ylabel'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key $key
\$d << EOD
$data
EOD
plot \$d using 1:(\$${cols[0]} > 0 ? \$${cols[0]} : 1/0) with linespoints lw 2 pt 7 title 'weft (cudaMalloc buffers)', \
     \$d using 1:(\$${cols[1]} > 0 ? \$${cols[1]} : 1/0) with linespoints lw 2 pt 5 title 'weft (registered buffers)', \
     \$d using 1:(\$${cols[2]} > 0 ? \$${cols[2]} : 1/0) with linespoints lw 2 pt 9 title 'NCCL 2.28.9 (NVLS off)'
GP
echo "$png"
