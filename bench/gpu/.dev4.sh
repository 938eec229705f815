set -u
export NCCL_NVLS_ENABLE=0
scripts/device/gpu-suite.sh --tests '2gpus' --no-bench > $OUT/suite.txt 2>&1; grep -E "tests passed|Failed|Timeout|wrong" $OUT/suite.txt | head -20
nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))')
for i in 1 2 3; do build-gpu/bin/gpu_allreduce_bench --np 2 --host-cost -b 8 -e 8 -n 50 -w 10 --nccl-lib $nccl 2>&1 | grep "host us"; done
bench/gpu/latency-ab.sh build-gpu $OUT/lat 2 WEFT_GPU_PDL "1 0" 3 1M > $OUT/latency-ab.txt 2>&1; cat $OUT/latency-ab.txt
tar czf $OUT/lat.tgz -C $OUT lat; rm -rf $OUT/lat
