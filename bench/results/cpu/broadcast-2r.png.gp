set terminal pngcairo size 1000,640 enhanced font 'sans,11'
set output 'bench/results/cpu/broadcast-2r.png'
set title "broadcast, 2 ranks, f32, out-of-place"
set logscale xy 2
set format x '%.0b%BB'
set format y '%g'
set logscale y 10
set xlabel 'message size (bytes, nccl-tests convention)'
set ylabel 'bus bandwidth (GB/s)'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left
$d0 << EOD
1024 0.472848
4096 6.00763
16384 10.65
65536 9.7624
262144 5.27259
1048576 7.65832
4194304 8.92109
16777216 4.78335
67108864 3.84726
EOD
$d1 << EOD
1024 0.00231751
4096 0.00974872
16384 0.248413
65536 1.15481
262144 0.309715
1048576 1.31981
4194304 5.51304
16777216 2.88001
67108864 2.83815
EOD
$d2 << EOD
1024 0.352629
4096 1.12225
16384 4.88812
65536 7.08092
262144 10.6136
1048576 9.92429
4194304 10.8542
16777216 5.63822
67108864 4.96774
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'weft', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'gloo', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'mpi'
