#!/bin/sh
# SPDX-License-Identifier: MIT
# The manual pages list exactly the options the program takes: for each
# subcommand, every option its --help names and every long option its
# parser compares against is an item of its page's option list, and every
# item there is an option --help names. Likewise the front door's options
# and subcommands in cfutures(1).
#   check_options.sh PROGRAM SOURCE_DIR
set -u
prog=${1:?usage: check_options.sh PROGRAM SOURCE_DIR}
src=${2:?usage: check_options.sh PROGRAM SOURCE_DIR}
t=$(mktemp -d "${TMPDIR:-/tmp}/cf-manopts.XXXXXX")
trap 'rm -rf "$t"' EXIT
bad=0

# The options a page documents: every Fl on its .It lines ("Fl \-jobs" is
# --jobs, "Fl j" is -j; a lone "Fl \-" is the end of options).
page_options() {
  sed -n 's/^\.It //p' "$1" |
    awk '{ for (i = 1; i < NF; i++) if ($i == "Fl") {
             o = $(i + 1); gsub(/\\/, "", o)
             if (o == "-") continue
             print "-" o } }' | sort -u
}

# The options --help names: long ones anywhere, short ones where a line
# starts with one ("  -j, --jobs N").
help_options() {
  { grep -oE -- '--[a-z][a-z-]*' "$1"
    sed -n 's/^ *\(-[A-Za-z0-9]\)[, ].*/\1/p' "$1"; } | sort -u
}

# The long options the parser knows: whole string literals in the source,
# outside comments.
source_options() {
  cat "$@" | grep -v '^ *\(/\*\|\*\)' | grep -oE '"--[a-z][a-z-]*"' |
    tr -d '"' | sort -u
}

# compare WHAT WANT_FILE HAVE_FILE: each line of WANT is in HAVE.
missing() {
  comm -23 "$2" "$3" | while read -r o; do
    echo "$1: $o"
  done
}

check() {
  name=$1 page=$2
  shift 2
  page_options "$page" >"$t/page"
  missing "$name: in the program, not in $(basename "$page")" "$t/help" "$t/page" >"$t/out"
  missing "$name: in $(basename "$page"), not in --help" "$t/page" "$t/help" >>"$t/out"
  source_options "$@" >"$t/src"
  missing "$name: parsed in the source, not in --help" "$t/src" "$t/help" >>"$t/out"
  if [ -s "$t/out" ]; then
    cat "$t/out"
    bad=1
  fi
  echo "$name: $(wc -l <"$t/page" | tr -d ' ') options documented"
}

for sub in run bench; do
  "$prog" "$sub" --help >"$t/help.txt" 2>&1 || { echo "$sub --help failed"; exit 1; }
  help_options "$t/help.txt" >"$t/help"
  # --help documents itself by existing; -h is its short form.
  printf '%s\n' --help -h >>"$t/help"
  sort -u -o "$t/help" "$t/help"
  check "$sub" "$src/docs/man/cfutures-$sub.1" "$src/executor/$sub.c"
done

# The front door: its options and subcommands.
printf '%s\n' --help --version -h | sort >"$t/help"
check "cfutures" "$src/docs/man/cfutures.1" "$src/executor/main.c"
"$prog" help >"$t/help.txt"
sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p' "$t/help.txt" | sort -u >"$t/cmds"
sed -n 's/^\.It Cm \([a-z][a-z]*\).*/\1/p' "$src/docs/man/cfutures.1" | sort -u >"$t/pagecmds"
if ! cmp -s "$t/cmds" "$t/pagecmds"; then
  echo "subcommands differ: program: $(tr '\n' ' ' <"$t/cmds"), page: $(tr '\n' ' ' <"$t/pagecmds")"
  bad=1
fi

# bench's workloads.
sed -n 's/.*workload_names\[\] = {\(.*\)/\1/p; /workload_names\[\] = {/{n;p;}' \
  "$src/executor/bench.c" | grep -oE '"[a-z]+"' | tr -d '"' | grep -vx command |
  sort -u >"$t/wl"
sed -n 's/^\.It Cm \([a-z]*\)$/\1/p' "$src/docs/man/cfutures-bench.1" | sort -u >"$t/pagewl"
missing "bench: a workload not in cfutures-bench.1" "$t/wl" "$t/pagewl" >"$t/out"
if [ -s "$t/out" ] || [ ! -s "$t/wl" ]; then
  cat "$t/out"
  echo "workloads: $(tr '\n' ' ' <"$t/wl")"
  bad=1
fi
[ "$bad" = 0 ] || exit 1
echo "the pages match the program"
