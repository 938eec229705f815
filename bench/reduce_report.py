#!/usr/bin/env python3
"""Turns reduce_bench's JSON (--benchmark_out) into the markdown tables of
bench/results/reduce.md: median GB/s per level, dtype, op and size, with the
ratio to memcpy timed in the same iterations."""
import json
import sys

SIZES = ["64KiB", "1MiB", "64MiB"]


def load(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        name = b["name"]
        if b.get("aggregate_name", "median") != "median":
            continue
        name = name.split("/manual_time")[0].split("/real_time")[0]
        rows[name] = b
    return data["context"], rows


LEVELS = ["portable", "avx2", "avx512"]
DTYPES = ["f32", "f64", "f16", "bf16", "i8", "u8", "i32", "u32", "i64", "u64"]
OPS = ["sum", "prod", "min", "max", "4in", "8in"]


def sort_key(key):
    kernel, level, dtype, op = key.split("/")
    return (kernel != "reduce", LEVELS.index(level), DTYPES.index(dtype), OPS.index(op))


def cell(b):
    if b is None:
        return "-"
    if "ratio" in b:
        return f"{b['GBps']:.1f} ({b['ratio']:.2f}x)"
    return f"{b['GBps'] / 1e9:.1f}"


def main():
    context, rows = load(sys.argv[1])
    print("memcpy alone (GB/s, read + write):\n")
    print("| " + " | ".join(SIZES) + " |")
    print("|" + "---|" * len(SIZES))
    print("| " + " | ".join(cell(rows.get(f"memcpy/{s}")) for s in SIZES) + " |\n")
    keys = sorted({n.rsplit("/", 1)[0] for n in rows if not n.startswith("memcpy")},
                  key=sort_key)
    level = None
    for key in keys:
        parts = key.split("/")
        if (parts[0], parts[1]) != level:
            level = (parts[0], parts[1])
            print(f"\n`{parts[0]}`, `{parts[1]}` kernels: GB/s (ratio to memcpy in the same iterations)\n")
            print("| kernel | dtype | op / inputs | " + " | ".join(SIZES) + " |")
            print("|---|---|---|" + "---|" * len(SIZES))
        cells = " | ".join(cell(rows.get(f"{key}/{s}")) for s in SIZES)
        print(f"| {parts[0]} | {parts[2]} | {parts[3]} | {cells} |")


if __name__ == "__main__":
    main()
