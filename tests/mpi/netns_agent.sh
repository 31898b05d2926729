#!/bin/sh
# SPDX-License-Identifier: MIT
# mpirun's remote-shell agent for hosts.sh: called as
#   netns_agent.sh [options] HOST COMMAND...
# it runs COMMAND (a shell command line, as rsh would pass it: with an
# absolute mpirun it starts by setting PATH) in the network namespace
# named HOST, with HOST as its host name.
while [ $# -gt 0 ]; do
  case $1 in
    -*) shift ;;
    *) break ;;
  esac
done
host=$1
shift
exec ip netns exec "$host" unshare --uts /bin/sh -c "hostname '$host'; $*"
