#!/usr/bin/env bash
# netns.sh — N fake hosts on a private network, for multi-host tests (needs root).
#
#   netns.sh probe                  exit 0 when network namespaces can be created
#                                   here (it tries: creates and deletes one); else
#                                   prints the reason and exits 1
#   netns.sh tag                    prints a fresh TAG ("wft-<pid>-<random>"); the
#                                   pid is the caller's, so `gc` can tell leftovers
#   netns.sh up TAG N [SUBNET]      creates hosts TAG-0 .. TAG-(N-1) and prints one
#                                   line "NAME ADDRESS" per host; on any error it
#                                   removes what it made and exits 1
#   netns.sh down TAG               deletes every namespace of TAG (idempotent)
#   netns.sh gc                     deletes the namespaces of tags whose owner pid
#                                   is gone (a test killed before it cleaned up)
#   netns.sh run N -- CMD ARGS...   up, runs CMD with NETNS_COUNT, NETNS_<i> (name)
#                                   and NETNS_ADDR_<i> exported, then down — always,
#                                   through a trap, also when CMD fails or is killed
#
# Layout (TAG t, N = 3, SUBNET 10.213.0):
#
#     t-0 (eth0 10.213.0.1/24)   t-1 (eth0 .2)   t-2 (eth0 .3)
#            |  veth                 |               |
#            p0 ------------------ p1 ------------- p2     all enslaved to br0
#                          t-hub (bridge br0, no address)
#
# Every interface and address lives inside these namespaces: the root
# namespace is never touched, so the subnet exists nowhere else and parallel
# runs (distinct tags) cannot collide even though they use the same subnet.
# Run a command on host i with `ip netns exec TAG-i CMD`.
#
# The C++ side (tests/common/netns/netns.h, weft::test::NetnsGroup) wraps this
# script with RAII for GoogleTest tests.
set -euo pipefail

die() { echo "netns.sh: $*" >&2; exit 1; }

cmd_probe() {
  command -v ip >/dev/null || die "the 'ip' command (iproute2) is missing"
  local name="wft-probe-$$-$RANDOM"
  local err
  if ! err=$(ip netns add "$name" 2>&1); then
    die "cannot create a network namespace: $err"
  fi
  if ! err=$(ip -n "$name" link add br0 type bridge 2>&1); then
    ip netns del "$name" 2>/dev/null || true
    die "cannot create a bridge inside a namespace: $err"
  fi
  ip netns del "$name"
}

cmd_tag() { echo "wft-${1:-$PPID}-$(printf '%04x' $((RANDOM)))"; }

cmd_down() {
  local tag=$1 ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case "$ns" in "$tag"-*) ip netns del "$ns" 2>/dev/null || true ;; esac
  done
}

cmd_up() {
  local tag=$1 n=$2 subnet=${3:-10.213.0}
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 && "$n" -le 250 ]] || die "host count must be 1..250, got '$n'"
  trap 'cmd_down "$tag"' ERR
  ip netns add "$tag-hub"
  ip -n "$tag-hub" link add br0 type bridge
  ip -n "$tag-hub" link set br0 up
  local i
  for ((i = 0; i < n; i++)); do
    local ns="$tag-$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # Both ends are created from the hub, the host end moved into its
    # namespace at once: no interface ever appears in the root namespace.
    ip -n "$tag-hub" link add "p$i" type veth peer name eth0 netns "$ns"
    ip -n "$tag-hub" link set "p$i" master br0 up
    ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  trap - ERR
  for ((i = 0; i < n; i++)); do echo "$tag-$i $subnet.$((i + 1))"; done
}

cmd_gc() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$ns" =~ ^wft-([0-9]+)-[0-9a-f]+- ]] || continue
    pid=${BASH_REMATCH[1]}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
  done
}

cmd_run() {
  local n=$1
  shift
  [ "${1:-}" = "--" ] && shift
  [ $# -ge 1 ] || die "usage: netns.sh run N -- CMD ARGS..."
  local tag
  tag=$(cmd_tag $$)
  trap 'cmd_down "$tag"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local lines i=0
  lines=$(cmd_up "$tag" "$n")
  export NETNS_COUNT=$n
  while read -r name addr; do
    export "NETNS_$i=$name" "NETNS_ADDR_$i=$addr"
    i=$((i + 1))
  done <<<"$lines"
  local rc=0
  "$@" || rc=$?
  exit $rc
}

case "${1:-}" in
  probe) cmd_probe ;;
  tag) cmd_tag "${2:-}" ;;
  up) [ $# -ge 3 ] || die "usage: netns.sh up TAG N [SUBNET]"; cmd_up "$2" "$3" "${4:-}" ;;
  down) [ $# -ge 2 ] || die "usage: netns.sh down TAG"; cmd_down "$2" ;;
  gc) cmd_gc ;;
  run) shift; [ $# -ge 1 ] || die "usage: netns.sh run N -- CMD ARGS..."; cmd_run "$@" ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
