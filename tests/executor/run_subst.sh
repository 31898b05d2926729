# SPDX-License-Identifier: MIT
# Replacement strings, input sources and their product, odd arguments.
. "$(dirname "$0")/common.inc"

expect_status 0 "$E" run -k echo '{}|{.}|{/}|{//}|{/.}|{#}' ::: \
  /a/b/c.tar.gz d.txt noext /root.d/file
expect_eq "modifiers" "/a/b/c.tar.gz|/a/b/c.tar|c.tar.gz|/a/b|c.tar|1
d.txt|d|d.txt|.|d|2
noext|noext|noext|.|noext|3
/root.d/file|/root.d/file|file|/root.d|file|4" "$(cat out)"

# {%} is the job's slot: 1 .. -j.
expect_status 0 "$E" run -j 1 echo '{%}' ::: a b c
expect_eq "slot" "1
1
1" "$(cat out)"

# Several ::: lists: their product, the last varying fastest.
expect_status 0 "$E" run -k echo '{1}-{2}' ::: a b ::: 1 2 3
expect_eq "product" "a-1
a-2
a-3
b-1
b-2
b-3" "$(tr '\n' ' ' <out | sed 's/ $//' | tr ' ' '\n')"

# No replacement string: arguments appended as words of their own.
expect_status 0 "$E" run -k printf '<%s>' ::: a ::: 'b c'
expect_eq "appended" "<a><b c>" "$(cat out)"

# Spaces, quotes, a leading dash, a backslash: passed exactly.
printf '%s\n' 'two words' "it's" '"dq"' '-n' 'back\slash' >args
expect_status 0 "$E" run -k -a args printf '[%s]\n'
expect_eq "odd arguments" "[two words]
[it's]
[\"dq\"]
[-n]
[back\\slash]" "$(cat out)"

# -0: records may hold newlines.
printf 'line1\nline2\000second\000' | "$E" run -k -0 printf '[%s]\n' >out ||
  fail "-0"
expect_eq "-0 records" "[line1
line2]
[second]" "$(cat out)"

# {} inside a word, and in --shell mode quoted for the shell.
expect_status 0 "$E" run -k --shell 'echo x{}y | tr a-z A-Z' ::: 'a b' "q'q"
expect_eq "shell mode" "XA BY
XQ'QY" "$(cat out)"

# --dry-run prints the commands, quoted, and runs nothing.
expect_status 0 "$E" run --dry-run touch ::: 'a b' c
expect_eq "dry run" "touch 'a b'
touch c" "$(cat out)"
[ -e c ] && fail "dry run ran a job"

# A 100 kB argument goes through whole; a 1 MB one is more than the kernel
# takes for one argument (E2BIG): that job fails with 126, the next runs.
head -c 100000 /dev/zero | tr '\0' x >big
printf '\n' >>big
head -c 1000000 /dev/zero | tr '\0' y >>big
printf '\nshort\n' >>big
expect_status 1 "$E" run -k -a big sh -c 'printf "%s\n" "$0" | wc -c'
expect_eq "long arguments" "100001
6" "$(tr -d ' ' <out)"
grep -q 'Argument list too long' err || fail "no E2BIG message"

echo ok
