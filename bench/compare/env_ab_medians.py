#!/usr/bin/env python3
# Medians of bench/compare/env-ab.sh output: per collective, rank count and
# size, each value's median out-of-place and in-place time, the ratio of each
# value's median to the first value's (< 1: faster than the first), and in how
# many repetitions it beat the first (they ran back to back).
#
#   bench/compare/env_ab_medians.py OUT.txt
import collections, statistics as st, sys
runs = collections.defaultdict(list)
order, values = [], []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 8:
        continue
    coll, np_, size, rep, value, t_out, t_in, wrong = f[:8]
    if float(wrong) != 0:
        print(f'WRONG RESULTS: {line.strip()}')
    key = (coll, np_, size)
    if key not in order:
        order.append(key)
    if value not in values:
        values.append(value)
    runs[key + (value,)].append((float(t_out), float(t_in)))
base = values[0]
head = ' | '.join(f'{v} out us | {v} in us' for v in values)
rel = ' | '.join(f'{v}/{base} out | {v}/{base} in | {v} faster (out, in)' for v in values[1:])
print(f'| collective | ranks | size | {head} | {rel} |')
print('|' + '---|' * (3 + 2 * len(values) + 3 * (len(values) - 1)))
for key in order:
    cells, b = [], runs[key + (base,)]
    med = {v: [st.median(r[i] for r in runs[key + (v,)]) for i in (0, 1)] for v in values}
    for v in values:
        cells += [f'{med[v][0]:.1f}', f'{med[v][1]:.1f}']
    for v in values[1:]:
        a = runs[key + (v,)]
        wins = [sum(1 for x, y in zip(a, b) if x[i] < y[i]) for i in (0, 1)]
        cells += [f'{med[v][0] / med[base][0]:.2f}', f'{med[v][1] / med[base][1]:.2f}',
                  f'{wins[0]}/{len(a)}, {wins[1]}/{len(a)}']
    print(f'| {key[0]} | {key[1]} | {key[2]} | ' + ' | '.join(cells) + ' |')
