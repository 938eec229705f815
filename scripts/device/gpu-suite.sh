#!/usr/bin/env bash
# Everything weft does on a lent GPU machine, in one call (device time is
# scarce): build with CUDA on (vendored deps from .device/deps, made here by
# scripts/device/pack-deps.sh), run the GPU tests, benchmark weft against
# NCCL, and drive a weft store with torch.distributed.TCPStore when torch is
# importable. Logs and a summary go to $OUT (default ./gpu-logs).
#
#   scripts/device/gpu-suite.sh [--tests REGEX] [--bench-np "N ..."] [--bench-blocks "B ..."]
#                               [--bench-graph] [--no-bench] [--perf "allreduce allgather ..."]
#                               [--bench-hosts "H ..."] [--python] [--pytest "FILE ..."]
#                               [--ddp "NP ..."]
#
# --bench-hosts: gpu_allreduce_bench --hosts H (GPUs split into H virtual
# hosts; weft staged / hierarchical, NCCL over its socket transport); H > 1
# times eager launches from 4 KiB (graphs cannot hold cross-host operations).
# --perf: weft-perf --compare nccl for each collective, registered buffers,
# eager and CUDA-graph launches, on --bench-np GPUs.
# --python: the Python package's tests (tests/python, with torch where the
# machine's python3 has it) and examples/compare_ddp.sh when present.
# --pytest: only these files of tests/python (implies --python).
# --ddp: examples/compare_ddp.sh --device cuda on NP GPUs, 50 steps, 3 rounds:
# backend weft, and weft_cpp where weft._c10d was built, against nccl.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$root/gpu-logs}
mkdir -p "$out"
tests_regex=""; bench_np=""; bench_blocks="32"; bench=1; bench_graph=0; perf_colls=""; python_tests=0
bench_hosts="1"; pytest_files=""; ddp_np=""
while [ $# -gt 0 ]; do
  case $1 in
    --tests) tests_regex=$2; shift 2 ;;
    --bench-np) bench_np=$2; shift 2 ;;
    --bench-blocks) bench_blocks=$2; shift 2 ;;
    --no-bench) bench=0; shift ;;
    --bench-graph) bench_graph=1; shift ;;
    --bench-hosts) bench_hosts=$2; shift 2 ;;
    --perf) perf_colls=$2; shift 2 ;;
    --python) python_tests=1; shift ;;
    --pytest) python_tests=1; pytest_files=$2; shift 2 ;;
    --ddp) ddp_np=$2; shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
log() { echo "[gpu-suite $(date -u +%H:%M:%S)] $*" | tee -a "$out/summary.txt"; }
ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
log "$ngpu GPU(s); $(nproc) cores"
{ nvidia-smi; nvidia-smi topo -m; } > "$out/machine.txt" 2>&1

build="$root/build-gpu"
# pybind11 and pytest travel in .device/deps/python (the machine cannot install packages).
export PYTHONPATH="$root/.device/deps/python${PYTHONPATH:+:$PYTHONPATH}"
log "configure + build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_CUDA=ON \
  -DWEFT_BUILD_BENCH=OFF -DWEFT_DEPS_DIR="$root/.device/deps" > "$out/build.log" 2>&1 &&
  cmake --build "$build" -j "$(nproc)" >> "$out/build.log" 2>&1
if [ $? -ne 0 ]; then
  log "BUILD FAILED"; grep -E "error|FAILED" "$out/build.log" | head -40; exit 3
fi
log "built"

cd "$build" || exit 4
log "ctest -L gpu ${tests_regex:+-R $tests_regex}"
ctest -L gpu ${tests_regex:+-R "$tests_regex"} --output-on-failure --timeout 600 > "$out/ctest-gpu.log" 2>&1
rc=$?
grep -E "^\s*[0-9]+/[0-9]+ Test|tests passed|tests failed|\(Failed\)|\(Timeout\)" "$out/ctest-gpu.log" | tail -40 | tee -a "$out/summary.txt"
grep -hE "^\[(correctness|graph|peerlost|timeout|multihost|multihost_peerlost) n=" "$out/ctest-gpu.log" | sort | uniq | head -40 >> "$out/summary.txt"

if [ "$bench" = 1 ] && [ -x bin/gpu_allreduce_bench ]; then
  nccl_lib=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
  for np in ${bench_np:-$ngpu}; do
    for hosts in $bench_hosts; do
      [ "$hosts" = 1 ] && continue
      log "gpu_allreduce_bench --np $np --hosts $hosts (NCCL: NCCL_HOSTID per host, socket transport)"
      timeout 300 bin/gpu_allreduce_bench --np "$np" --hosts "$hosts" -b 4K -e 256M -n 5 -w 2 \
        ${nccl_lib:+--nccl-lib "$nccl_lib"} > "$out/bench-allreduce-np$np-hosts$hosts.txt" 2>&1
      echo "exit $?" >> "$out/bench-allreduce-np$np-hosts$hosts.txt"
      tee -a "$out/summary.txt" < "$out/bench-allreduce-np$np-hosts$hosts.txt" | tail -40
    done
    case " $bench_hosts " in *" 1 "*) ;; *) continue ;; esac
    for blocks in $bench_blocks; do
      log "gpu_allreduce_bench --np $np --blocks $blocks (NCCL: ${nccl_lib:-default search})"
      timeout 300 bin/gpu_allreduce_bench --np "$np" --blocks "$blocks" -b 8 -e 256M \
        ${nccl_lib:+--nccl-lib "$nccl_lib"} > "$out/bench-allreduce-np$np-b$blocks.txt" 2>&1
      tee -a "$out/summary.txt" < "$out/bench-allreduce-np$np-b$blocks.txt" | tail -40
      if [ "$bench_graph" = 1 ]; then
        log "gpu_allreduce_bench --np $np --blocks $blocks --graph"
        timeout 300 bin/gpu_allreduce_bench --np "$np" --blocks "$blocks" --graph -b 8 -e 256M \
          ${nccl_lib:+--nccl-lib "$nccl_lib"} > "$out/bench-allreduce-np$np-b$blocks-graph.txt" 2>&1
        tee -a "$out/summary.txt" < "$out/bench-allreduce-np$np-b$blocks-graph.txt" | tail -40
      fi
    done
  done
fi

if [ -n "$perf_colls" ] && [ -x bin/weft-perf ]; then
  nccl_lib=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "lib", "libnccl.so.2"))' 2>/dev/null)
  for np in ${bench_np:-$ngpu}; do
    for coll in $perf_colls; do
      for launch in eager graph; do
        flag=""; [ "$launch" = graph ] && flag="--graph"
        log "weft-perf $coll --np $np --compare nccl --register $flag"
        timeout 300 bin/weft-perf "$coll" -b 8 -e 256M -n 20 -w 5 -c 1 --np "$np" --compare nccl \
          --register $flag ${nccl_lib:+--nccl-lib "$nccl_lib"} > "$out/perf-$coll-np$np-$launch.txt" 2>&1
        echo "exit $?" >> "$out/perf-$coll-np$np-$launch.txt"
        sed -n '/weft time/,$p' "$out/perf-$coll-np$np-$launch.txt" | tee -a "$out/summary.txt" | tail -32
      done
    done
  done
fi

if [ "$python_tests" = 1 ] && [ -d "$build/python/weft" ]; then
  log "python tests (tests/python) with $(python3 -c 'import sys; print(sys.version.split()[0])' 2>&1)"
  targets=("$root/tests/python")
  if [ -n "$pytest_files" ]; then
    targets=(); for f in $pytest_files; do targets+=("$root/tests/python/$f"); done
  fi
  PYTHONPATH="$build/python:$PYTHONPATH" timeout 400 python3 -m pytest -q -p no:cacheprovider -rs \
    "${targets[@]}" > "$out/python-tests.txt" 2>&1
  echo "pytest exit $?" >> "$out/python-tests.txt"
  tail -25 "$out/python-tests.txt" | tee -a "$out/summary.txt"
  if [ -x "$root/examples/compare_ddp.sh" ] && [ -z "$pytest_files" ]; then
    log "examples/compare_ddp.sh"
    PYTHONPATH="$build/python:$PYTHONPATH" WEFTRUN="$build/bin/weftrun" timeout 300 \
      "$root/examples/compare_ddp.sh" > "$out/compare-ddp.txt" 2>&1
    echo "exit $?" >> "$out/compare-ddp.txt"
    tail -30 "$out/compare-ddp.txt" | tee -a "$out/summary.txt"
  fi
fi

ddp_backends="weft"
if ls "$build"/python/weft/_c10d*.so > /dev/null 2>&1; then ddp_backends="weft weft_cpp"; fi
for np in $ddp_np; do
  log "examples/compare_ddp.sh --device cuda --nproc $np (backends: $ddp_backends vs nccl)"
  PYTHONPATH="$build/python:$PYTHONPATH" WEFTRUN="$build/bin/weftrun" timeout 400 \
    "$root/examples/compare_ddp.sh" --device cuda --nproc "$np" --steps 50 --rounds 3 \
    --backends "$ddp_backends" > "$out/ddp-cuda-np$np.txt" 2>&1
  echo "exit $?" >> "$out/ddp-cuda-np$np.txt"
  grep -vE '^ *[0-9]+ ' "$out/ddp-cuda-np$np.txt" | tail -24 | tee -a "$out/summary.txt"
done

if [ -f "$root/tests/compat/torch_tcpstore.py" ]; then
  log "torch TCPStore against weft-store"
  timeout 120 python3 "$root/tests/compat/torch_tcpstore.py" "$build/bin/weft-store" > "$out/torch-compat.txt" 2>&1
  tail -30 "$out/torch-compat.txt" | tee -a "$out/summary.txt"
fi
if [ -x "$build/bin/weftrun" ] && [ -f "$root/tests/launcher/torch_env_check.py" ]; then
  log "weftrun + torch env:// (gloo allreduce through the agent's store)"
  timeout 120 "$build/bin/weftrun" --standalone --nproc-per-node 4 "$root/tests/launcher/torch_env_check.py" \
    > "$out/weftrun-torch.txt" 2>&1
  echo "weftrun exit code $?" >> "$out/weftrun-torch.txt"
  tail -12 "$out/weftrun-torch.txt" | tee -a "$out/summary.txt"
fi
log "gpu ctest rc=$rc"
exit $rc
