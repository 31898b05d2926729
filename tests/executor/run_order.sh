# SPDX-License-Identifier: MIT
# --keep-order prints in input order; every job's output stays together.
. "$(dirname "$0")/common.inc"

expect_status 0 "$E" run -k -j 4 sh -c 'sleep "$0"; echo "$0"' ::: 0.3 0.2 0.1 0
expect_eq "keep-order" "0.3
0.2
0.1
0" "$(cat out)"

# Without -k, completion order: the short job prints first.
expect_status 0 "$E" run -j 2 sh -c 'sleep "$0"; echo "$0"' ::: 0.4 0
expect_eq "completion order" "0
0.4" "$(cat out)"

# Each job writes 3 lines with pauses; lines of different jobs never mix.
expect_status 0 "$E" run -j 4 sh -c \
  'for i in 1 2 3; do echo "$0 $i"; sleep 0.05; done' ::: a b c d e f g h
[ "$(wc -l <out)" = 24 ] || fail "24 lines expected"
awk '{ if (NR % 3 == 1) job = $1; else if ($1 != job) exit 1 }' out ||
  fail "interleaved output: $(cat out)"

# stdout and stderr of a job go to stdout and stderr.
expect_status 0 "$E" run -k sh -c 'echo out "$0"; echo err "$0" >&2' ::: 1 2
expect_eq "stdout" "out 1
out 2" "$(cat out)"
expect_eq "stderr" "err 1
err 2" "$(cat err)"

# Input from stdin, one argument per line, appended to the command.
printf 'x\ny\nz\n' | "$E" run -k echo pre >out || fail "stdin input"
expect_eq "stdin" "pre x
pre y
pre z" "$(cat out)"
# A reader that goes away (| head) stops the run: status 141, the jobs
# still running are stopped, no more start.
start=$(date +%s)
{
  "$E" run -k -j 2 sh -c 'echo "$0"; sleep "$0"' ::: 1 2 3 4 5 6 7 8 9
  echo $? >status
} | head -n 1 >first
expect_eq "first line" 1 "$(cat first)"
expect_eq "status after EPIPE" 141 "$(cat status)"
[ $(($(date +%s) - start)) -lt 10 ] || fail "the run went on after EPIPE"
echo ok
