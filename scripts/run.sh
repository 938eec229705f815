#!/usr/bin/env bash
# weft's main job on this host: builds weft, then runs a multi-process
# collective benchmark. weft-perf starts one process per rank, hosts the
# rendezvous store itself (embedded), sweeps allreduce over sizes, checks
# every result exactly, and prints an nccl-tests-like table:
#   - with two or more GPUs: one process per GPU (weft's CUDA path);
#   - otherwise on host memory, min(cores, 4) ranks (at least 2), beside
#     Open MPI and Gloo in the same run when their runners were built
#     (scripts/setup.sh installs them), with the ratios.
# `scripts/run.sh [COLLECTIVE] [WEFT-PERF OPTIONS]`: another collective
# first (allgather, reduce_scatter, broadcast, ...); options, when given,
# replace the default sweep (e.g. `scripts/run.sh allgather -b 1K -e 1G -f 4`).
# WEFT_RUN_NP sets the rank count.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
bin="$root/build/bin"

collective=allreduce
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  collective=$1
  shift
fi

gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
fi

if [ "$gpus" -ge 2 ]; then
  np=${WEFT_RUN_NP:-$gpus}
  sweep=(-b 8 -e 256M -f 4 -n 20 -w 5 -c 1)
  [ $# -gt 0 ] && sweep=("$@")
  exec "$bin/weft-perf" "$collective" --np "$np" -g "${sweep[@]}"
fi

cores=$(nproc)
np=${WEFT_RUN_NP:-$(( cores < 2 ? 2 : (cores > 4 ? 4 : cores) ))}
compare=()
others=()
[ -x "$bin/weft-perf-mpi" ] && others+=(mpi)
[ -x "$bin/weft-perf-gloo" ] && others+=(gloo)
if [ ${#others[@]} -gt 0 ]; then
  compare=(--compare "$(IFS=,; echo "${others[*]}")")
fi
sweep=(-b 8 -e 64M -f 8 -n 20 -w 5 -c 1)
[ $# -gt 0 ] && sweep=("$@")
exec "$bin/weft-perf" "$collective" --np "$np" "${sweep[@]}" "${compare[@]}"
