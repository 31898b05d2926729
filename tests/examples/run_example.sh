#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one example under valgrind (memcheck, every child process traced):
#   run_example.sh VALGRIND PRELOAD FAIL_AT [VALGRIND-OPTION...] -- EXAMPLE [ARG...]
# PRELOAD is the fail_submit shim. FAIL_AT 0 runs the example as it is: it
# must exit 0. FAIL_AT k > 0 makes the k-th submit fail: the example must
# report it (a non-zero exit) and still release everything. Either way
# every process valgrind saw must end with no error, leaks counted as
# errors unless a VALGRIND-OPTION says otherwise.
set -u
vg=$1 preload=$2 fail_at=$3
shift 3
opts=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  opts="$opts $1"
  shift
done
[ "${1:-}" = -- ] && shift
logs=$(mktemp -d "${TMPDIR:-/tmp}/example-vg.XXXXXX")
trap 'rm -rf "$logs"' EXIT

# shellcheck disable=SC2086 # opts are words
set -- "$vg" --leak-check=full --errors-for-leak-kinds=definite,possible \
  --error-exitcode=9 --trace-children=yes --log-file="$logs/vg.%p" $opts "$@"
# The example is valgrind, started in the background so its pid (the name
# of its log) is known.
if [ "$fail_at" -gt 0 ]; then
  CF_FAIL_SUBMIT_AT=$fail_at LD_PRELOAD=$preload "$@" >"$logs/out" 2>"$logs/err" &
else
  "$@" >"$logs/out" 2>"$logs/err" &
fi
vgpid=$!
wait "$vgpid"
status=$?
cat "$logs/out" "$logs/err"

# A process that ended normally has a summary; one the pool killed (a
# worker, the zygote) has none, so its log is searched for error records.
errors='ERROR SUMMARY: [1-9]|Invalid (read|write|free)|uninitialised|'
errors="$errors"'Mismatched free|overlap|Syscall param|Illegal|Jump to the invalid'
case $opts in
  *--errors-for-leak-kinds=none*) ;; # leaks shown, not counted
  *) errors="$errors"'|are definitely lost|are possibly lost' ;;
esac
bad=0

for log in "$logs"/vg.*; do
  [ -e "$log" ] || continue
  grep -Eq "$errors" "$log" || continue
  echo "--- valgrind, $(basename "$log"):"
  cat "$log"
  bad=1
done
grep -q "ERROR SUMMARY: 0 errors" "$logs/vg.$vgpid" 2>/dev/null ||
  { echo "FAIL: no clean valgrind summary for the example itself"; bad=1; }
[ "$bad" -eq 0 ] || { echo "FAIL: valgrind reported errors"; exit 1; }
if [ "$fail_at" -gt 0 ]; then
  grep -q "^fail_submit: .* call $fail_at fails" "$logs/err" ||
    { echo "FAIL: submit $fail_at was never made: nothing was injected"; exit 1; }
  case $status in
    0) echo "FAIL: exit 0 although submit $fail_at failed"; exit 1 ;;
    9) echo "FAIL: valgrind error exit"; exit 1 ;;
  esac
  [ "$status" -lt 128 ] || { echo "FAIL: killed by signal $((status - 128))"; exit 1; }
else
  [ "$status" -eq 0 ] || { echo "FAIL: exit status $status"; exit 1; }
fi
echo "ok: exit $status, valgrind clean"
