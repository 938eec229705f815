#!/usr/bin/env bash
# Trains examples/ddp_train.py with DDP on backends weft_cpp (this folder's
# C++ backend), weft (the Python-level one) and gloo, same seeds, under
# weftrun; checks that weft_cpp's per-step losses match gloo's and prints the
# median step times side by side. Rounds alternate the backends, so that
# machine noise hits all three alike.
#
#   python/c10d/compare_ddp_backends.sh [--nproc N] [--steps S] [--rounds R] [-- ddp_train.py args]
#
# Environment: PYTHON (a python with torch, default /work/torchvenv211/bin/python),
# WEFTRUN (default build/bin/weftrun), PYTHONPATH (default build/python), TOL (1e-4).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nproc=2; steps=30; rounds=1; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nproc) nproc=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [--nproc N] [--steps S] [--rounds R] [-- ddp_train.py args]" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-/work/torchvenv211/bin/python}
weftrun=${WEFTRUN:-$root/build/bin/weftrun}
export PYTHONPATH=${PYTHONPATH:-$root/build/python}
export PATH="$(dirname "$python"):$PATH"   # weftrun runs `python3`
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq 1 "$rounds"); do
  for backend in weft_cpp weft gloo; do
    "$weftrun" --standalone --nproc-per-node "$nproc" "$root/examples/ddp_train.py" \
        --backend "$backend" --steps "$steps" "${extra[@]}" > "$out/$backend.$round.log" 2>&1 \
      || { cat "$out/$backend.$round.log" >&2; exit 1; }
  done
done
"$python" - "$out" "$rounds" "${TOL:-1e-4}" <<'PY'
import re, statistics, sys
out, rounds, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def parse(path):
    losses, times = {}, []
    for line in open(path):
        m = re.match(r"\[0\]:step (\d+) loss (\S+) time_ms (\S+)", line)
        if m:
            losses[int(m.group(1))] = float(m.group(2))
            times.append(float(m.group(3)))
    return losses, times
backends = ["weft_cpp", "weft", "gloo"]
runs = {b: [parse(f"{out}/{b}.{r}.log") for r in range(1, rounds + 1)] for b in backends}
med = {b: statistics.median(t for _, ts in runs[b] for t in ts[5:]) for b in backends}
print("median step time (ms, steps 5.., all rounds): " +
      ", ".join(f"{b} {med[b]:.2f}" for b in backends))
for r in range(rounds):
    print(f"  round {r + 1}: " + ", ".join(
        f"{b} {statistics.median(runs[b][r][1][5:]):.2f}" for b in backends))
print("relative to gloo: " + ", ".join(f"{b} {med[b] / med['gloo']:.3f}" for b in backends))
worst = 0.0
for r in range(rounds):
    a, g = runs["weft_cpp"][r][0], runs["gloo"][r][0]
    if not a or sorted(a) != sorted(g):
        sys.exit(f"compare: step lines differ (weft_cpp {len(a)}, gloo {len(g)})")
    worst = max(worst, max(abs(a[s] - g[s]) / max(abs(g[s]), 1e-12) for s in a))
a = runs["weft_cpp"][0][0]
print(f"weft_cpp loss {a[min(a)]:.4f} -> {a[max(a)]:.4f}; worst relative difference to gloo "
      f"{worst:.2e} (tolerance {tol:g})")
if a[max(a)] >= a[min(a)]:
    sys.exit("compare: the loss did not fall")
if worst > tol:
    sys.exit(f"compare: weft_cpp's losses differ from gloo's by more than {tol:g}")
print("compare: OK")
PY
