set terminal pngcairo size 1000,640 enhanced font 'sans,11'
set output 'bench/results/cpu/reduce_scatter-2r.png'
set title "reduce_scatter, 2 ranks, f32 sum, out-of-place"
set logscale xy 2
set format x '%.0b%BB'
set format y '%g'
set logscale y 10
set xlabel 'message size (bytes, nccl-tests convention)'
set ylabel 'bus bandwidth (GB/s)'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left
$d0 << EOD
1024 0.229792
4096 1.944
16384 4.39132
65536 6.76668
262144 4.9191
1048576 4.25716
4194304 5.79017
16777216 3.724
67108864 3.19721
EOD
$d1 << EOD
1024 0.00682319
4096 0.0290186
16384 0.114766
65536 0.37848
262144 0.859853
1048576 1.2877
4194304 1.26992
16777216 0.980596
67108864 1.07916
EOD
$d2 << EOD
1024 0.127488
4096 2.74568
16384 1.11073
65536 1.305
262144 1.96864
1048576 2.04702
4194304 1.86827
16777216 1.25678
67108864 1.05247
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'weft', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'gloo', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'mpi'
