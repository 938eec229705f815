#!/usr/bin/env bash
# Trains examples/ddp_train.py with DDP on backend weft and on a reference
# backend (gloo on CPU; nccl with --device cuda), same seeds, and checks that
# the per-step losses agree; prints the step times side by side.
#
#   examples/compare_ddp.sh [--nproc N] [--steps S] [--device cpu|cuda] [-- extra ddp_train.py args]
#
# --device cuda: every rank trains on GPU LOCAL_RANK; weft (its CUDA
# communicator, on torch's current stream) is compared with nccl.
#
# Environment: WEFTRUN (default build/bin/weftrun), PYTHON (a python3 with torch;
# its directory is put first on PATH, since weftrun runs `python3`), REF (gloo
# on cpu, nccl on cuda),
# TOL (relative tolerance, default 1e-4), PYTHONPATH (default build/python).
#
# Tolerance: DDP averages gradients with one allreduce per bucket. With 2 ranks
# a sum has one order, so weft and gloo give bitwise equal gradients and losses;
# with more ranks the summation order differs (ring chunks vs gloo's), giving
# rounding differences of ~1e-7 relative per step that the optimizer carries on.
# 1e-4 relative over 50 steps leaves room for that and still catches any real
# error (a wrong or missing average changes the loss by > 1e-2 within a few steps).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nproc=2
steps=50
device=cpu
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nproc) nproc=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--nproc N] [--steps S] [--device cpu|cuda] [-- ddp_train.py args]" >&2; exit 2 ;;
  esac
done
weftrun=${WEFTRUN:-$root/build/bin/weftrun}
case "$device" in
  cpu) ref=${REF:-gloo} ;;
  cuda) ref=${REF:-nccl}; export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0} ;;
  *) echo "compare_ddp: --device is cpu or cuda, not $device" >&2; exit 2 ;;
esac
tol=${TOL:-1e-4}
export PYTHONPATH=${PYTHONPATH:-$root/build/python}
if [ -n "${PYTHON:-}" ]; then export PATH="$(dirname "$PYTHON"):$PATH"; fi
python3 -c "import torch" 2>/dev/null || { echo "compare_ddp: python3 ($(command -v python3)) cannot import torch; set PYTHON=" >&2; exit 2; }
if [ "$device" = cuda ]; then
  gpus=$(python3 -c "import torch; print(torch.cuda.device_count())")
  [ "$gpus" -ge "$nproc" ] || { echo "compare_ddp: --device cuda needs $nproc GPUs, torch sees $gpus" >&2; exit 2; }
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for backend in weft "$ref"; do
  echo "== $backend: $nproc processes, $steps steps, device $device"
  "$weftrun" --standalone --nproc-per-node "$nproc" "$root/examples/ddp_train.py" \
      --backend "$backend" --device "$device" --steps "$steps" "${extra[@]}" > "$out/$backend.log"
  grep -E '^\[0\]:(backend|summary)' "$out/$backend.log" | sed 's/^\[0\]://'
done

python3 - "$out/weft.log" "$out/$ref.log" "$ref" "$tol" <<'EOF'
import re, sys
weft_log, ref_log, ref, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def steps(path):
    rows = {}
    for line in open(path):
        m = re.match(r"\[0\]:step (\d+) loss (\S+) time_ms (\S+)", line)
        if m:
            rows[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    return rows
a, b = steps(weft_log), steps(ref_log)
if not a or sorted(a) != sorted(b):
    sys.exit(f"compare_ddp: step lines differ: weft has {len(a)}, {ref} has {len(b)}")
print(f"{'step':>4} {'loss weft':>12} {'loss ' + ref:>12} {'rel diff':>9} {'ms weft':>9} {'ms ' + ref:>9}")
worst = 0.0
for s in sorted(a):
    (la, ta), (lb, tb) = a[s], b[s]
    rel = abs(la - lb) / max(abs(lb), 1e-12)
    worst = max(worst, rel)
    print(f"{s:>4} {la:>12.6f} {lb:>12.6f} {rel:>9.2e} {ta:>9.2f} {tb:>9.2f}")
first, last = a[min(a)][0], a[max(a)][0]
print(f"loss {first:.4f} -> {last:.4f}; worst relative difference {worst:.2e} (tolerance {tol:g})")
if last >= first:
    sys.exit("compare_ddp: the loss did not fall")
if worst > tol:
    sys.exit(f"compare_ddp: losses differ by more than {tol:g}")
print("compare_ddp: OK")
EOF
