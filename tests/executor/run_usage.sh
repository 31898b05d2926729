# SPDX-License-Identifier: MIT
# Malformed command lines of `run`: exit status 255 and a message, nothing
# runs. (The front door's own usage: front_door.sh.)
. "$(dirname "$0")/common.inc"

for args in "-j 0" "-j abc" "-j -3" "-j" "--jobs=" "--timeout x" \
  "--timeout -1" "--retries -1" "--halt sometimes" "--halt now,fail=0" \
  "--bogus" "--resume"; do
  # shellcheck disable=SC2086
  "$E" run $args touch made ::: 1 >out 2>err </dev/null
  st=$?
  [ "$st" = 255 ] || fail "'$args': status $st, expected 255"
  [ -s err ] || fail "'$args': no message"
  [ -e made ] && fail "'$args': a job ran"
done
expect_status 255 "$E" run ::: 1 2
expect_status 255 "$E" run -a /no/such/file echo
expect_status 0 "$E" run --help
# -j N with N > 1 works, and so do the attached forms.
expect_status 0 "$E" run -j3 true ::: 1 2 3
expect_status 0 "$E" run --jobs=2 true ::: 1 2 3
echo ok
