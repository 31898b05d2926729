# SPDX-License-Identifier: MIT
# Malformed command lines: exit status 2 and a message, nothing runs.
. "$(dirname "$0")/common.inc"

for args in "-j 0" "-j abc" "-j -3" "-j" "--jobs=" "--timeout x" \
  "--timeout -1" "--retries -1" "--halt sometimes" "--halt now,fail=0" \
  "--bogus" "--resume"; do
  # shellcheck disable=SC2086
  "$E" run $args touch made ::: 1 >out 2>err </dev/null
  st=$?
  [ "$st" = 2 ] || fail "'$args': status $st, expected 2"
  [ -s err ] || fail "'$args': no message"
  [ -e made ] && fail "'$args': a job ran"
done
expect_status 2 "$E" run ::: 1 2
expect_status 2 "$E" nonsense
expect_status 2 "$E" run -a /no/such/file echo
expect_status 0 "$E" run --help
expect_status 0 "$E" --version
# -j N with N > 1 works, and so do the attached forms.
expect_status 0 "$E" run -j3 true ::: 1 2 3
expect_status 0 "$E" run --jobs=2 true ::: 1 2 3
echo ok
