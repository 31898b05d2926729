# SPDX-License-Identifier: MIT
# --retries K runs a failing job up to K more times.
. "$(dirname "$0")/common.inc"

# Fails twice, then succeeds.
cat >flaky <<'EOF2'
n=$(cat "$1" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1"
echo "attempt $n"
[ "$n" -ge 3 ]
EOF2
expect_status 0 "$E" run --retries 2 --joblog jl sh flaky ::: "$T/count"
expect_eq "attempts" 3 "$(cat count)"
expect_eq "only the last attempt's output" "attempt 3" "$(cat out)"
expect_eq "one joblog line" 2 "$(wc -l <jl | tr -d ' ')"

rm -f count
expect_status 1 "$E" run --retries 1 sh flaky ::: "$T/count"
expect_eq "attempts with --retries 1" 2 "$(cat count)"

# A job that succeeds is not run again.
expect_status 0 "$E" run --retries 5 sh -c 'echo x >>"$0"' ::: "$T/once"
expect_eq "success runs once" 1 "$(wc -l <once | tr -d ' ')"
echo ok
