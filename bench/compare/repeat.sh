#!/usr/bin/env bash
# Runs one weft-perf comparison N times and prints, per size and library,
# the median over the runs (run-to-run noise on the shared VMs is large:
# compare medians, and ratios measured in the same run):
#
#   bench/compare/repeat.sh N OUTDIR -- WEFT_PERF_ARGS...
#   bench/compare/repeat.sh 5 /tmp/ar -- allreduce --np 2 -b 64K -e 64M -f 4 --compare mpi
#
# Each run keeps its JSON under OUTDIR/run-<i>/ (weft-perf --keep-dir) and its
# table in OUTDIR/run-<i>.txt; the summary (also OUTDIR/median.md) has, per
# size, every library's median time and busbw, and for weft against each
# other library the median of the per-run busbw ratios. Out-of-place rows
# (add --in-place to summarise the in-place rows instead).
#   WEFT_PERF=path      the weft-perf to run (default: build/bin/weft-perf)
#   REPEAT_PRIO=1       as root, run each repetition in its own session with
#                       autogroup nice -15, as run-cpu-comparators.sh does
#   REPEAT_RESUME=1     keep the runs already in OUTDIR (run only the missing
#                       ones): `for i in 1 2 3; do for v in a b; do REPEAT_RESUME=1
#                       repeat.sh $i out-$v -- ...` interleaves variants, so
#                       that a change of load hits all of them alike
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -lt 3 ] || [ "$3" != "--" ]; then
  sed -n '2,21p' "$0" >&2
  exit 2
fi
n=$1 out=$2
shift 3
perf=${WEFT_PERF:-$root/build/bin/weft-perf}
in_place=false
for a in "$@"; do [ "$a" = --in-place ] && in_place=true; done
mkdir -p "$out"

prio=()
if [ -n "${REPEAT_PRIO:-}" ] && [ "$(id -u)" -eq 0 ] && [ -w /proc/self/autogroup ]; then
  wrapper="$out/prio-run.sh"
  printf '#!/bin/bash\necho -15 > /proc/$$/autogroup\nexec nice -n -15 "$@"\n' > "$wrapper"
  chmod +x "$wrapper"
  prio=(setsid -w "$wrapper")
fi

if [ -z "${REPEAT_RESUME:-}" ] || [ ! -f "$out/header.txt" ]; then
  {
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; weft-perf $*"
    echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$out/header.txt"
fi
for i in $(seq 1 "$n"); do
  if [ -n "${REPEAT_RESUME:-}" ] && ls "$out/run-$i"/*.json >/dev/null 2>&1; then continue; fi
  rm -rf "$out/run-$i"
  "${prio[@]}" "$perf" "$@" --keep-dir "$out/run-$i" > "$out/run-$i.txt" 2>&1 || {
    echo "repeat.sh: run $i failed, see $out/run-$i.txt" >&2
    tail -5 "$out/run-$i.txt" >&2
    exit 1
  }
  echo "# run $i done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
echo "# load average after run $n: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/header.txt"

python3 - "$out" "$n" "$in_place" <<'EOF' | tee "$out/median.md"
import glob, json, os, statistics, sys
out, n, in_place = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "true"
runs = []  # per run: {library: {bytes: row}}
for i in range(1, n + 1):
    libs = {}
    for path in glob.glob(os.path.join(out, f"run-{i}", "*.json")):
        with open(path) as f:
            res = json.load(f)
        rows = {}
        for row in res["rows"]:
            if row.get("in_place", False) == in_place or row["bytes"] not in rows:
                rows[row["bytes"]] = row
        libs[res["library"]] = rows
        meta = res
    runs.append(libs)
names = sorted({lib for run in runs for lib in run}, key=lambda l: (l != "weft", l))
sizes = sorted({b for run in runs for lib in run.values() for b in lib})
with open(os.path.join(out, "header.txt")) as f:
    sys.stdout.write(f.read())
print(f"# {meta['collective']}, {meta['dtype']} {meta['op']}, {meta['nranks']} ranks, "
      f"{'in-place' if in_place else 'out-of-place'} rows; medians of {n} runs")
head = ["size (B)"]
for lib in names:
    head += [f"{lib} time (us)", f"{lib} busbw (GB/s)"]
others = [l for l in names if l != "weft"]
if "weft" in names:
    head += [f"weft/{l} busbw" for l in others]
print("| " + " | ".join(head) + " |")
print("|" + "---:|" * len(head))
def med(values):
    return statistics.median(values) if values else float("nan")
for b in sizes:
    cells = [str(b)]
    for lib in names:
        rows = [run[lib][b] for run in runs if lib in run and b in run[lib]]
        cells += [f"{med([r['time_us'] for r in rows]):.1f}", f"{med([r['busbw_gbs'] for r in rows]):.2f}"]
    if "weft" in names:
        for lib in others:
            ratios = [run["weft"][b]["busbw_gbs"] / run[lib][b]["busbw_gbs"] for run in runs
                      if "weft" in run and lib in run and b in run["weft"] and b in run[lib]
                      and run[lib][b]["busbw_gbs"] > 0]
            cells.append(f"{med(ratios):.2f}x")
    print("| " + " | ".join(cells) + " |")
wrong = sum(r.get("wrong", 0) for run in runs for lib in run.values() for r in lib.values())
print(f"# wrong results in all runs: {wrong}")
EOF
