#!/usr/bin/env bash
# Installs what weft needs on a Debian 12 machine, only what is missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config      # toolchain
  libgtest-dev libgmock-dev googletest  # tests
  libbenchmark-dev                      # benchmarks
  libcli11-dev nlohmann-json3-dev       # command lines, JSON output
  iproute2 procps psmisc                # network namespaces (multi-host tests), process tools
  libgloo-dev openmpi-bin libopenmpi-dev gnuplot-nox  # comparators: weft-perf --compare gloo,mpi, --plot
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "weft setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python package (python/) and its tests: pip packages for the python3 on PATH
# (pyenv's, not /usr/bin/python3), installed only when missing.
if command -v python3 >/dev/null; then
  py_missing=$(python3 - <<'PY'
import importlib.util
wanted = {"numpy": "numpy", "pybind11": "pybind11", "pytest": "pytest",
          "scikit_build_core": "scikit-build-core"}
print(" ".join(pkg for mod, pkg in wanted.items() if importlib.util.find_spec(mod) is None))
PY
)
  if [ -n "$py_missing" ]; then
    echo "weft setup: pip installing $py_missing"
    python3 -m pip install -q --disable-pip-version-check $py_missing
  fi
fi
