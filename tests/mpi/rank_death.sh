#!/bin/sh
# SPDX-License-Identifier: MIT
# rank_death.sh "MPIRUN ARGS" RANK_DEATH OPEN_AT_EXIT
# 1. A task that kills its rank: mpirun must end the whole job (non-zero,
#    naming the signal) well before its own --timeout, never hang.
# 2. A client that leaves its pool open at exit: every rank is released
#    and the job ends with 0.
set -u
mpirun=$1
err=$(mktemp)
trap 'rm -f "$err"' EXIT

start=$(date +%s)
# shellcheck disable=SC2086 # mpirun and its flags split into words
$mpirun --timeout 120 -n 4 "$2" >/dev/null 2>"$err"
rc=$?
took=$(($(date +%s) - start))
echo "rank death: mpirun exit $rc after ${took}s"
sed 's/^/  | /' "$err" | head -20
if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || grep -q 'time limit' "$err"; then
  echo "FAIL: the job went on, or hung until the timeout"
  exit 1
fi
if ! grep -q 'signal 9' "$err"; then
  echo "FAIL: mpirun did not name the signal that killed the rank"
  exit 1
fi

start=$(date +%s)
# shellcheck disable=SC2086
out=$($mpirun --timeout 120 -n 4 "$3" 2>"$err")
rc=$?
took=$(($(date +%s) - start))
echo "pool open at exit: mpirun exit $rc after ${took}s: $out"
if [ "$rc" -ne 0 ] || [ "$out" != "client done, pool left open" ]; then
  sed 's/^/  | /' "$err" | head -20
  echo "FAIL: a rank was not released at exit"
  exit 1
fi
echo "ok"
