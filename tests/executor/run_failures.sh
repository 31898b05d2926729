# SPDX-License-Identifier: MIT
# A missing command fails its job with 127; the rest run. Exit statuses.
. "$(dirname "$0")/common.inc"

expect_status 1 "$E" run -k --joblog jl ./no-such-command ::: 1
grep -q 'no-such-command' err || fail "no message for a missing command"
expect_eq "exitval 127" "127" "$(awk -F'\t' 'NR == 2 { print $7 }' jl)"

printf 'a\nb\nc\n' >in
expect_status 1 "$E" run -k -a in --joblog jl sh -c 'test "$0" != b && echo "$0"'
expect_eq "the rest run" "a
c" "$(cat out)"

# The exit status counts the failed jobs.
expect_status 3 "$E" run false ::: 1 2 3
expect_status 0 "$E" run true ::: 1 2 3
seq 150 | "$E" run -j 4 false
expect_eq "more than 100 failed" 101 "$?"

# A job killed by a signal fails and the signal is logged.
expect_status 1 "$E" run --joblog jl sh -c 'kill -9 $$' ::: 1
expect_eq "signal column" "9" "$(awk -F'\t' 'NR == 2 { print $8 }' jl)"
echo ok
