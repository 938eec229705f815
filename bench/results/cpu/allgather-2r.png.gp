set terminal pngcairo size 1000,640 enhanced font 'sans,11'
set output 'bench/results/cpu/allgather-2r.png'
set title "allgather, 2 ranks, f32, out-of-place"
set logscale xy 2
set format x '%.0b%BB'
set format y '%g'
set logscale y 10
set xlabel 'message size (bytes, nccl-tests convention)'
set ylabel 'bus bandwidth (GB/s)'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key top left
$d0 << EOD
1024 0.276607
4096 3.30749
16384 6.71861
65536 9.45685
262144 6.52401
1048576 3.89397
4194304 5.64314
16777216 2.85569
67108864 2.69815
EOD
$d1 << EOD
1024 0.000592642
4096 0.00332738
16384 0.00954179
65536 0.0855203
262144 0.197581
1048576 0.534978
4194304 1.10516
16777216 1.22174
67108864 1.29278
EOD
$d2 << EOD
1024 0.105881
4096 2.20262
16384 2.04185
65536 3.97332
262144 3.64068
1048576 3.4635
4194304 4.27124
16777216 2.10165
67108864 1.8578
EOD
plot $d0 using 1:2 with linespoints lw 2 pt 7 title 'weft', \
     $d1 using 1:2 with linespoints lw 2 pt 7 title 'gloo', \
     $d2 using 1:2 with linespoints lw 2 pt 7 title 'mpi'
