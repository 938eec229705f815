#!/usr/bin/env bash
# Trains examples/ddp_train.py with DDP on backends weft_cpp (this folder's
# C++ backend), weft (the Python-level one) and gloo, same seeds, under
# weftrun; checks that both weft backends' per-step losses match gloo's and
# prints the median step times side by side, rounds alternating the backends.
# A shorthand for examples/compare_ddp.sh --backends "weft_cpp weft", which
# does the work.
#
#   python/c10d/compare_ddp_backends.sh [--nproc N] [--steps S] [--rounds R] [-- ddp_train.py args]
#
# Environment: PYTHON (a python with torch, default /work/torchvenv211/bin/python),
# WEFTRUN, PYTHONPATH, TOL as for examples/compare_ddp.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PYTHON=${PYTHON:-/work/torchvenv211/bin/python}
exec "$root/examples/compare_ddp.sh" --steps 30 --backends "weft_cpp weft" "$@"
