#!/usr/bin/env bash
# Trains examples/ddp_train.py with DDP on weft's backends and on a reference
# backend (gloo on CPU; nccl with --device cuda), same seeds, and checks that
# each weft backend's per-step losses agree with the reference; prints the
# step times side by side.
#
#   examples/compare_ddp.sh [--nproc N] [--steps S] [--device cpu|cuda]
#                           [--backends "weft weft_cpp"] [--rounds R] [-- extra ddp_train.py args]
#
# --device cuda: every rank trains on GPU LOCAL_RANK; weft (its CUDA
# communicator, on torch's current stream) is compared with nccl.
# --backends: weft's backends to run (default "weft"; "weft_cpp" is the C++
# c10d backend, present where weft was configured with a python with torch).
# --rounds R: every backend runs R times, rounds alternating the backends so
# that machine noise hits them alike; medians are over all rounds.
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
backends=weft
rounds=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nproc) nproc=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--nproc N] [--steps S] [--device cpu|cuda] [--backends LIST] [--rounds R] [-- ddp_train.py args]" >&2; exit 2 ;;
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
for round in $(seq 1 "$rounds"); do
  for backend in $backends "$ref"; do
    echo "== $backend (round $round): $nproc processes, $steps steps, device $device"
    "$weftrun" --standalone --nproc-per-node "$nproc" "$root/examples/ddp_train.py" \
        --backend "$backend" --device "$device" --steps "$steps" "${extra[@]}" \
        > "$out/$backend.$round.log"
    grep -E '^\[0\]:(backend|summary)' "$out/$backend.$round.log" | sed 's/^\[0\]://'
  done
done

python3 - "$out" "$rounds" "$ref" "$tol" $backends <<'EOF'
import re, statistics, sys
out, rounds, ref, tol = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
weft = sys.argv[5:]
names = weft + [ref]
def steps(path):
    rows = {}
    for line in open(path):
        m = re.match(r"\[0\]:step (\d+) loss (\S+) time_ms (\S+)", line)
        if m:
            rows[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    return rows
runs = {b: [steps(f"{out}/{b}.{r}.log") for r in range(1, rounds + 1)] for b in names}
for b in weft:
    for r in range(rounds):
        if not runs[b][r] or sorted(runs[b][r]) != sorted(runs[ref][r]):
            sys.exit(f"compare_ddp: step lines differ: {b} has {len(runs[b][r])}, "
                     f"{ref} has {len(runs[ref][r])} (round {r + 1})")
first = {b: runs[b][0] for b in names}
print(f"{'step':>4} " + " ".join(f"{'loss ' + b:>14}" for b in names) + " " +
      " ".join(f"{'ms ' + b:>11}" for b in names) + "   (round 1)")
for s in sorted(first[ref]):
    print(f"{s:>4} " + " ".join(f"{first[b][s][0]:>14.6f}" for b in names) + " " +
          " ".join(f"{first[b][s][1]:>11.2f}" for b in names))
# Step times from step 5 on: the first steps warm up allocators and connections.
def median_ms(run_list):
    return statistics.median(t for run in run_list for s, (_, t) in run.items() if s >= 5)
med = {b: median_ms(runs[b]) for b in names}
print("median step time (ms, steps 5.., all rounds): " +
      ", ".join(f"{b} {med[b]:.2f}" for b in names))
if rounds > 1:
    for r in range(rounds):
        print(f"  round {r + 1}: " + ", ".join(f"{b} {median_ms([runs[b][r]]):.2f}"
                                              for b in names))
print(f"throughput relative to {ref}: " +
      ", ".join(f"{b} {med[ref] / med[b]:.3f}x" for b in weft))
failed = []
for b in weft:
    worst = max(abs(runs[b][r][s][0] - runs[ref][r][s][0]) / max(abs(runs[ref][r][s][0]), 1e-12)
                for r in range(rounds) for s in runs[b][r])
    a = first[b]
    print(f"{b}: loss {a[min(a)][0]:.4f} -> {a[max(a)][0]:.4f}; worst relative difference to "
          f"{ref} {worst:.2e} (tolerance {tol:g})")
    if a[max(a)][0] >= a[min(a)][0]:
        failed.append(f"{b}: the loss did not fall")
    if worst > tol:
        failed.append(f"{b}: losses differ from {ref}'s by more than {tol:g}")
if failed:
    sys.exit("compare_ddp: " + "; ".join(failed))
print("compare_ddp: OK")
EOF
