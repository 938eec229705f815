#!/usr/bin/env python3
# Medians of interleaved A/B runs of weft-perf (bench/results/cpu/*/ab.sh):
#
#   bench/compare/ab_medians.py DIR [COLLECTIVE [inplace]]
#
# DIR holds one folder per variant (base, new, ...), each with run-<i>/ folders
# of weft-perf --keep-dir JSON (<lib>-<collective>.json). Per size: each
# variant's median weft and Open MPI time, and the median of the per-run
# Open MPI time / weft time ratios (> 1: weft faster). Out-of-place rows
# unless `inplace`.
import json, glob, statistics as st, sys, os
root = sys.argv[1]; coll = sys.argv[2] if len(sys.argv) > 2 else 'allreduce'
inplace = len(sys.argv) > 3 and sys.argv[3] == 'inplace'
variants = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
data = {}
for v in variants:
    for run in sorted(glob.glob(f'{root}/{v}/run-*/')):
        for lib in ('weft', 'mpi', 'gloo'):
            f = f'{run}/{lib}-{coll}.json'
            if not os.path.exists(f): continue
            for r in json.load(open(f))['rows']:
                if r['in_place'] != inplace: continue
                data.setdefault((v, lib, r['bytes']), []).append(r['time_us'])
sizes = sorted({k[2] for k in data})
print('| size | ' + ' | '.join(f'{v} weft us | {v} mpi us | {v} mpi/weft time (>1: weft faster)' for v in variants) + ' |')
for s in sizes:
    cells = []
    for v in variants:
        w = data.get((v, 'weft', s), []); m = data.get((v, 'mpi', s), [])
        ratios = [b / a for a, b in zip(w, m)]
        cells.append(f'{st.median(w):.3f} | {st.median(m):.3f} | {st.median(ratios):.2f}' if w and m else f'{st.median(w):.3f} | - | -' if w else '- | - | -')
    print(f'| {s} | ' + ' | '.join(cells) + ' |')
print('runs:', {v: len(glob.glob(f'{root}/{v}/run-*/')) for v in variants})
