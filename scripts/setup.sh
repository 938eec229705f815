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
