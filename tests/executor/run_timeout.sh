# SPDX-License-Identifier: MIT
# --timeout kills the job's whole process group, grandchildren included.
. "$(dirname "$0")/common.inc"

start=$(date +%s)
expect_status 1 "$E" run --timeout 0.5 --joblog jl \
  sh -c 'sleep 30 & echo $! > "$0"; wait' ::: "$T/pidfile"
[ $(($(date +%s) - start)) -lt 15 ] || fail "the timeout did not stop the job"
gp=$(cat pidfile)
[ -n "$gp" ] || fail "no grandchild pid"
n=0
while ! pid_dead "$gp" && [ $n -lt 50 ]; do
  sleep 0.1
  n=$((n + 1))
done
pid_dead "$gp" || fail "grandchild $gp survived the timeout"
expect_eq "exitval of a timed-out job" "-1" "$(awk -F'\t' 'NR == 2 { print $7 }' jl)"
expect_eq "signal of a timed-out job" "15" "$(awk -F'\t' 'NR == 2 { print $8 }' jl)"

# A job that ignores SIGTERM is killed with SIGKILL.
expect_status 1 "$E" run --timeout 0.3 sh -c 'trap "" TERM; sleep 30' ::: 1

# Fast jobs are not touched by the timeout.
expect_status 0 "$E" run --timeout 5 true ::: 1 2 3
echo ok
