# SPDX-License-Identifier: MIT
# 10,000 true jobs: every one run and logged exactly once.
. "$(dirname "$0")/common.inc"

seq 10000 | "$E" run -j 4 --joblog jl true || fail "status $?"
expect_eq "log lines" 10001 "$(wc -l <jl | tr -d ' ')"
expect_eq "distinct seqs" 10000 "$(awk -F'\t' 'NR > 1 { print $1 }' jl | sort -un | wc -l | tr -d ' ')"
expect_eq "all succeeded" 10000 "$(awk -F'\t' 'NR > 1 && $7 == 0 && $8 == 0' jl | wc -l | tr -d ' ')"
expect_eq "seq range" "1 10000" "$(awk -F'\t' 'NR > 1 { print $1 }' jl | sort -n | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"

seq 3000 | "$E" run -k -j 3 echo >out || fail "status $?"
seq 3000 | cmp -s - out || fail "keep-order over 3000 jobs"
echo ok
