set terminal pngcairo size 1000,640 enhanced font 'sans,11'
set output 'bench/results/cpu/allreduce-8r.png'
set title "allreduce, 8 ranks, f32 sum, out-of-place"
set logscale xy 2
set format x '%.0b%BB'
set format y '%g'
set logscale y 10
set xlabel 'message size (bytes, nccl-tests convention)'
set ylabel 'bus bandwidth (GB/s)'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left
$d0 << EOD
1024 0.0512088
4096 0.208161
16384 0.68295
65536 1.21754
262144 1.99051
1048576 1.65786
4194304 1.47946
16777216 2.06051
67108864 2.03841
EOD
$d1 << EOD
1024 0.000294958
4096 0.00117776
16384 0.00904485
65536 0.0273631
262144 0.0905063
1048576 0.180692
4194304 0.343814
16777216 0.358734
67108864 0.424531
EOD
$d2 << EOD
1024 0.033675
4096 0.105092
16384 0.230319
65536 0.585464
262144 1.04071
1048576 1.26913
4194304 0.689365
16777216 0.626294
67108864 0.623125
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'weft', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'gloo', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'mpi'
