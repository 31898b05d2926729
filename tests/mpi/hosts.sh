#!/bin/sh
# SPDX-License-Identifier: MIT
# hosts.sh "MPIRUN ARGS" N PROGRAM [ARGS...]
# Runs PROGRAM as an MPI job of N ranks on N simulated hosts, one rank
# each: network namespaces joined by a bridge, each with an address of its
# own; mpirun (in this namespace) starts its daemons in them through
# netns_agent.sh, as it would over ssh, and the ranks talk TCP over the
# veth links, as on a small cluster. Exits 77 (skipped) where namespaces
# cannot be made: not root, no iproute2, a container without the rights.
set -u
mpirun=$1 n=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
command -v ip >/dev/null || { echo "skip: no ip (iproute2)"; exit 77; }
command -v unshare >/dev/null || { echo "skip: no unshare"; exit 77; }

# Names and a subnet of this run's own, so that runs do not collide.
tag=$$
net=10.$((64 + tag % 64)).$((tag / 64 % 250)).0
pre=${net%.0}
br=cfbr$tag
hosts=
cleanup() {
  for i in $(seq 1 "$n"); do
    ns=cfh$tag-$i
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "$br" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip link add "$br" type bridge 2>/dev/null || { echo "skip: cannot make a bridge"; exit 77; }
ip addr add "$pre.254/24" dev "$br"
ip link set "$br" up
for i in $(seq 1 "$n"); do
  ns=cfh$tag-$i
  ip netns add "$ns" || { echo "skip: cannot make a network namespace"; exit 77; }
  ip link add "cfv$tag-$i" type veth peer name eth0 netns "$ns"
  ip link set "cfv$tag-$i" master "$br"
  ip link set "cfv$tag-$i" up
  ip -n "$ns" addr add "$pre.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  hosts=${hosts:+$hosts,}$ns
done
echo "hosts $hosts on $net/24"

# --bind-to none: each simulated host would bind its rank to core 0.
# shellcheck disable=SC2086 # mpirun and its flags split into words
$mpirun --bind-to none --mca plm_rsh_agent "$here/netns_agent.sh" \
  --mca plm_rsh_no_tree_spawn 1 \
  --mca oob_tcp_if_include "$net/24" --mca btl_tcp_if_include "$net/24" \
  --mca btl self,tcp -n "$n" --host "$hosts" "$@"
