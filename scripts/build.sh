#!/usr/bin/env bash
# Configures and builds weft into ./build (tools land in build/bin).
# Extra arguments go to CMake's configure step, e.g. -DWEFT_CUDA=OFF.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
jobs=${WEFT_BUILD_JOBS:-$(nproc)}
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$root/build" -j "$jobs"
