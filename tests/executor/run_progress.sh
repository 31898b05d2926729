# SPDX-License-Identifier: MIT
# --progress draws on stderr only when it is a terminal.
. "$(dirname "$0")/common.inc"

expect_status 0 "$E" run --progress -j 2 true ::: 1 2 3
[ -s err ] && fail "progress drawn on a non-terminal: $(cat err)"

# script(1) gives the run a terminal, when it is installed.
command -v script >/dev/null 2>&1 || {
  echo "skipped: no script(1)"
  exit 0
}
script -qec "$E run --progress -j 2 sleep ::: 0.1 0.2 0.1 0.2" /dev/null >tty ||
  fail "status under a terminal"
grep -q '0/4' tty || fail "no initial progress line: $(cat tty)"
grep -q '4/4' tty || fail "no final progress line: $(cat tty)"
grep -q '100%' tty || fail "no percentage: $(cat tty)"
grep -q 'jobs/s' tty || fail "no rate: $(cat tty)"
echo ok
