set -u
export NCCL_NVLS_ENABLE=0
[ -x build-gpu/bin/gpu_allreduce_bench ] || scripts/device/gpu-suite.sh --tests 'Pipelined.*2gpus' --no-bench > $OUT/suite.txt 2>&1
nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))')
mkdir -p $OUT/sweep
for rep in 1 2; do for b in 32 64; do for t in 64 128 256 512; do
  WEFT_GPU_LL_THREADS=$t timeout 60 build-gpu/bin/gpu_allreduce_bench --np 2 --blocks $b --graph -b 8 -e 64K -n 50 -w 10 --nccl-lib $nccl > $OUT/sweep/b$b-t$t-r$rep.txt 2>&1
done; done; done
head -5 $OUT/sweep/b32-t64-r1.txt
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
tar czf $OUT/sweep.tgz -C $OUT sweep; rm -rf $OUT/sweep
