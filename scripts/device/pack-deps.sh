#!/usr/bin/env bash
# Copies the header-only dependencies and GoogleTest's sources from this
# machine's Debian packages into .device/deps, a git-ignored folder that
# travels to the lent GPU machine (which cannot install packages). Build there
# with -DWEFT_DEPS_DIR=$PWD/.device/deps -DWEFT_BUILD_BENCH=OFF.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/scripts/setup.sh"
deps="$root/.device/deps"
rm -rf "$deps" && mkdir -p "$deps/include"
cp -r /usr/include/CLI "$deps/include/"
cp -r /usr/include/nlohmann "$deps/include/"
cp -r /usr/src/googletest "$deps/googletest"
du -sh "$deps"
