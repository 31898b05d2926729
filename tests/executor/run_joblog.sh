# SPDX-License-Identifier: MIT
# The joblog's columns, and --resume / --resume-failed from it.
. "$(dirname "$0")/common.inc"

expect_status 1 "$E" run -k --joblog jl sh -c 'printf "%s" "$0"; exit $(( $0 == 3 ))' ::: 1 22 3
expect_eq "header" "$(printf 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand')" "$(head -n1 jl)"
awk -F'\t' 'NR > 1 {
  if (NF != 9) { print "fields " NF; exit 1 }
  if ($2 != ":") { print "host " $2; exit 1 }
  if ($3 !~ /^[0-9]+\.[0-9][0-9][0-9]$/) { print "start " $3; exit 1 }
  if ($4 !~ /^[0-9]+\.[0-9][0-9][0-9]$/) { print "runtime " $4; exit 1 }
  if ($5 != 0) { print "send " $5; exit 1 }
}' jl || fail "bad joblog line: $(cat jl)"
expect_eq "seqs" "1 2 3" "$(awk -F'\t' 'NR > 1 { print $1 }' jl | sort -n | tr '\n' ' ' | sed 's/ $//')"
expect_eq "receive (bytes of stdout)" "1 2 1" "$(sort -n jl | awk -F'\t' '$1 ~ /^[0-9]/ { print $6 }' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "exitvals" "0 0 1" "$(sort -n jl | awk -F'\t' '$1 ~ /^[0-9]/ { print $7 }' | tr '\n' ' ' | sed 's/ $//')"
grep -q "sh -c 'printf \"%s\" \"\$0\"; exit \$(( \$0 == 3 ))' 22" jl || fail "command column: $(cat jl)"

# --resume: only seqs not in the log run; the log is appended to.
printf 'a\nb\nc\nd\ne\n' >in
expect_status 0 "$E" run -j 1 -a in --joblog jl2 echo
head -n 3 jl2 >jl3 # header + seqs 1-2 done
expect_status 0 "$E" run -k -a in --joblog jl3 --resume echo
expect_eq "resumed output" "c
d
e" "$(cat out)"
expect_eq "resumed log" "1 2 3 4 5" "$(awk -F'\t' 'NR > 1 { print $1 }' jl3 | sort -n | tr '\n' ' ' | sed 's/ $//')"
expect_eq "one header" 1 "$(grep -c '^Seq' jl3)"
expect_status 0 "$E" run -k -a in --joblog jl3 --resume echo
expect_eq "nothing left" "" "$(cat out)"

# --resume-failed: failed jobs run again.
expect_status 2 "$E" run -k --joblog jl4 sh -c 'test -e "$0.ok"' ::: x y
touch y.ok
expect_status 1 "$E" run -k --joblog jl4 --resume-failed sh -c 'test -e "$0.ok" && echo "$0"' ::: x y
expect_eq "only the failed jobs ran" "y" "$(cat out)"
expect_eq "x logged twice, y twice" "2 2" "$(awk -F'\t' 'NR > 1 { print $1 }' jl4 | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
echo ok
