#!/usr/bin/env bash
# Builds weft and runs the whole test suite (CPU; GPU tests are labelled `gpu`
# and excluded here, they run on a GPU machine through tests/gpu/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$@"
cd "$root/build"
ctest --output-on-failure -j "${WEFT_TEST_JOBS:-2}" -LE gpu --timeout 600
