# SPDX-License-Identifier: MIT
# Arguments are never seen by a shell: metacharacters stay literal.
. "$(dirname "$0")/common.inc"

cat >evil <<EOF2
; touch $T/pwned1
\$(touch $T/pwned2)
\`touch $T/pwned3\`
| touch $T/pwned4
&& touch $T/pwned5
EOF2
expect_status 0 "$E" run -k -a evil echo
expect_eq "literal" "$(cat evil)" "$(cat out)"
# --shell quotes each argument for the shell.
expect_status 0 "$E" run -k --shell -a evil echo
expect_eq "literal under --shell" "$(cat evil)" "$(cat out)"
expect_status 0 "$E" run -k --shell -a evil 'echo {}'
expect_eq "literal under --shell with {}" "$(cat evil)" "$(cat out)"
for i in 1 2 3 4 5; do
  [ -e "$T/pwned$i" ] && fail "pwned$i exists: an argument was executed"
done

# An input line that looks like an environment assignment is an argument.
echo 'LD_PRELOAD=/nonexistent/evil.so' | "$E" run sh -c 'echo "[$0] ${LD_PRELOAD:-unset}"' >out 2>err ||
  fail "LD_PRELOAD line"
expect_eq "LD_PRELOAD from input" "[LD_PRELOAD=/nonexistent/evil.so] unset" "$(cat out)"

# Jobs see the descriptors cfutures inherited and none of its own (all of
# the program's are close-on-exec): the same set as ls run directly.
expect_status 0 "$E" run ls /proc/self/fd/{} ::: ''
expect_eq "descriptors" "$(ls /proc/self/fd/ | sort -n | tr '\n' ' ')" "$(sort -n out | tr '\n' ' ')"
echo ok
