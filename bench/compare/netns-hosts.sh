#!/usr/bin/env bash
# Stand-in hosts for the multi-host CPU comparison (needs root): namespaces
# wft-h1..wft-hN, each with eth0 = 10.231.1.i/24 on a veth enslaved to the
# bridge wft-br0 in the root namespace (10.231.1.254), where weft-perf, its
# store and mpirun stay.
#   bench/compare/netns-hosts.sh up N     create
#   bench/compare/netns-hosts.sh down N   remove (idempotent)
set -u
cmd=$1 n=${2:-3}
if [ "$cmd" = down ]; then
  for i in $(seq 1 "$n"); do ip netns del "wft-h$i" 2>/dev/null; ip link del "wft-v$i" 2>/dev/null; done
  ip link del wft-br0 2>/dev/null
  exit 0
fi
set -e
ip link add wft-br0 type bridge
ip addr add 10.231.1.254/24 dev wft-br0
ip link set wft-br0 up
for i in $(seq 1 "$n"); do
  ip netns add "wft-h$i"
  ip link add "wft-v$i" type veth peer name eth0 netns "wft-h$i"
  ip link set "wft-v$i" master wft-br0 up
  ip -n "wft-h$i" addr add "10.231.1.$i/24" dev eth0
  ip -n "wft-h$i" link set eth0 up
  ip -n "wft-h$i" link set lo up
done
