#!/usr/bin/env python3
"""Medians (µs) of the interleaved A/B runs in a run directory: ab-NAME-old-rK.txt
(previous commit) against ab-NAME-gpu-rK.txt (this tree), gpu_allreduce_bench output.
Usage: ab-medians.py RUN_DIR"""
import collections, glob, re, statistics, sys

run = sys.argv[1]
for name in ("small", "large"):
    rows = collections.defaultdict(lambda: collections.defaultdict(list))
    for f in sorted(glob.glob(f"{run}/ab-{name}-*-r*.txt")):
        build = re.search(rf"ab-{name}-(\w+)-r\d", f).group(1)
        for line in open(f):
            c = line.split()  # bytes weft_us weft_busbw reg_us reg_busbw nccl_us nccl_busbw best/nccl wrong
            if len(c) >= 9 and c[0].isdigit():
                rows[int(c[0])][build + " malloc"].append(float(c[1]))
                rows[int(c[0])][build + " reg"].append(float(c[3]))
                rows[int(c[0])][build + " nccl"].append(float(c[5]))
                rows[int(c[0])][build + " wrong"].append(int(c[8]))
    if not rows:
        continue
    cols = ["old malloc", "gpu malloc", "old reg", "gpu reg", "old nccl", "gpu nccl"]
    print(f"# {name}: medians over rounds, us (old = previous commit, gpu = this tree; nccl = NCCL in the same runs)")
    print(f"{'bytes':>10} " + " ".join(f"{c:>11}" for c in cols) + "  wrong")
    for size in sorted(rows):
        d = rows[size]
        med = [statistics.median(d[c]) if d[c] else float("nan") for c in cols]
        wrong = sum(d["old wrong"]) + sum(d["gpu wrong"])
        print(f"{size:>10} " + " ".join(f"{m:11.2f}" for m in med) + f"  {wrong}")
