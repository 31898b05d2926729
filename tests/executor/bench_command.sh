# SPDX-License-Identifier: MIT
# cfutures bench -- CMD {}: a real command per task.
. "$(dirname "$0")/common.inc"

expect_status 0 "$E" bench --workers 1,2 --repeat 1 --tasks 20 --csv \
  -- sh -c 'echo "$0" >>"$1"' '{}' "$T/seen"
expect_eq "each task ran once" 40 "$(wc -l <seen | tr -d ' ')"
expect_eq "task numbers" 20 "$(sort -un seen | wc -l | tr -d ' ')"
expect_status 1 "$E" bench --workers 1 --repeat 1 --tasks 3 -- false
expect_status 255 "$E" bench --
echo ok
