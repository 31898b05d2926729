# SPDX-License-Identifier: MIT
# --halt now/soon, fail/success, counts and percentages.
. "$(dirname "$0")/common.inc"

# now,fail=1: the failing job's status; the running job is killed; no more.
start=$(date +%s)
expect_status 3 "$E" run -j 2 --halt now,fail=1 --joblog jl \
  sh -c 'case $0 in f) sleep 0.2; exit 3;; *) sleep 20;; esac' ::: f slow a b c
[ $(($(date +%s) - start)) -lt 10 ] || fail "now,fail=1 did not kill the running job"
expect_eq "jobs logged" 3 "$(wc -l <jl | tr -d ' ')"
grep -q halt err || fail "no halt message"

# soon,fail=2: the running jobs finish, none starts.
expect_status 1 "$E" run -j 1 --halt soon,fail=2 --joblog jl \
  sh -c 'echo "$0"; exit "$0"' ::: 0 1 0 1 0 0
expect_eq "soon output" "0
1
0
1" "$(cat out)"

# now,success=1: the first success stops the rest; status 0.
expect_status 0 "$E" run -j 1 --halt now,success=1 sh -c 'echo "$0"; exit "$0"' ::: 1 0 1 1
expect_eq "success output" "1
0" "$(cat out)"

# fail=50%: of 4 jobs, the second failure halts.
expect_status 1 "$E" run -j 1 --halt soon,fail=50% sh -c 'echo "$0"; exit "$0"' ::: 1 0 1 0
expect_eq "percentage output" "1
0
1" "$(cat out)"

# Legacy numeric form: 2 = now,fail=1.
expect_status 1 "$E" run -j 1 --halt 2 false ::: 1 2 3
echo ok
