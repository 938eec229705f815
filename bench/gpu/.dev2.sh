set -u
export NCCL_NVLS_ENABLE=0
scripts/device/gpu-suite.sh --tests 'Pipelined.*2gpus|GraphCapture.*2gpus|EveryCollective.*2gpus' --no-bench > $OUT/suite.txt 2>&1; grep -E "tests passed|Failed|Timeout" $OUT/suite.txt
WEFT_GPU_LL_THREADS=64 build-gpu/bin/gpu_coll_test --gtest_filter='*Pipelined*2gpus:*Graph*2gpus' > $OUT/t64.txt 2>&1; grep -E "PASSED|FAILED|wrong" $OUT/t64.txt | head
nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))')
mkdir -p $OUT/sweep
for rep in 1 2; do for b in 32 64; do for t in 64 128 256 512; do
  WEFT_GPU_LL_THREADS=$t timeout 60 build-gpu/bin/gpu_allreduce_bench --np 2 --blocks $b --graph -b 8 -e 64K -f 2 -n 50 -w 10 --nccl-lib $nccl > $OUT/sweep/b$b-t$t-r$rep.txt 2>&1
done; done; done
python3 - $OUT/sweep <<'PY'
import glob,re,sys,collections,statistics
d=collections.defaultdict(list)
for f in glob.glob(sys.argv[1]+"/*.txt"):
    b,t=re.search(r"b(\d+)-t(\d+)",f).groups()
    for l in open(f):
        c=l.split()
        if len(c)>=6 and c[0].isdigit(): d[(int(c[0]),int(b),int(t))].append((min(float(c[1]),float(c[3])),float(c[5])))
sizes=sorted({k[0] for k in d}); combos=sorted({k[1:] for k in d})
print("bytes "+" ".join(f"b{b}t{t}" for b,t in combos)+"  nccl")
for s in sizes:
    print(f"{s:6d} "+" ".join(f"{statistics.median([x[0] for x in d[(s,)+c]]):7.2f}" for c in combos)+f" {statistics.median([x[1] for c in combos for x in d[(s,)+c]]):6.2f}")
PY
for c in allgather reduce_scatter; do for l in graph eager; do f=""; [ $l = graph ] && f=--graph
  timeout 100 build-gpu/bin/weft-perf $c -b 8 -e 4M -f 4 -n 50 -w 10 -c 1 --np 2 --compare nccl --register $f --nccl-lib $nccl > $OUT/perf-$c-$l.txt 2>&1; echo "== $c $l"; sed -n '/weft time/,$p' $OUT/perf-$c-$l.txt | head -20
done; done
tar czf $OUT/sweep.tgz -C $OUT sweep; rm -rf $OUT/sweep
