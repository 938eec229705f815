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
# Pure-Python packages the Python package's build and tests need (pybind11's
# headers and CMake files, pytest and its dependencies): put on PYTHONPATH there.
site=$(python3 -c 'import pybind11, os; print(os.path.dirname(os.path.dirname(pybind11.__file__)))')
mkdir -p "$deps/python"
for pkg in pybind11 pytest _pytest pluggy iniconfig packaging pygments py.py; do
  [ -e "$site/$pkg" ] && cp -r "$site/$pkg" "$deps/python/"
done
du -sh "$deps"
