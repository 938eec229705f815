#!/usr/bin/env bash
# weft's main job on this host: builds weft, then runs a multi-process
# collective benchmark. weft-perf starts one process per rank, hosts the
# rendezvous store itself (embedded), sweeps allreduce over sizes, checks
# every result exactly, and prints an nccl-tests-like table:
#   - with two or more GPUs: one process per GPU (weft's CUDA path),
#     beside NCCL in the same run when a libnccl.so.2 is found ($NCCL_LIB,
#     PyTorch's nvidia-nccl wheel, or the loader's path), NVLS off;
#   - otherwise on host memory, min(cores, 4) ranks (at least 2), beside
#     Open MPI and Gloo in the same run when their runners were built
#     (scripts/setup.sh installs them), with the ratios.
# `scripts/run.sh [COLLECTIVE] [WEFT-PERF OPTIONS]`: another collective
# first (allgather, reduce_scatter, broadcast, ...); options, when given,
# replace the default sweep (e.g. `scripts/run.sh allgather -b 1K -e 1G -f 4`).
# WEFT_RUN_NP sets the rank count; WEFT_RUN_BUILD=0 skips the build and
# uses the tools already in build/bin.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "${WEFT_RUN_BUILD:-1}" = 0 ] || "$root/scripts/build.sh" >/dev/null
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
  nccl=${NCCL_LIB:-}
  [ -n "$nccl" ] || nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null || true)
  [ -n "$nccl" ] && [ -f "$nccl" ] || nccl=$(ldconfig -p 2>/dev/null | awk '/libnccl\.so\.2 /{print $NF; exit}' || true)
  if [ -n "$nccl" ] && [ -f "$nccl" ]; then
    export NCCL_NVLS_ENABLE=0  # NVLink multicast stays off
    exec "$bin/weft-perf" "$collective" --np "$np" --compare nccl --nccl-lib "$nccl" "${sweep[@]}"
  fi
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
