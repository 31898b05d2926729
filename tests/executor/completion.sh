# SPDX-License-Identifier: MIT
# Bash completion (executor/completion/cfutures.bash), sourced in a plain
# bash without the bash-completion package: COMP_WORDS and COMP_CWORD set
# by hand, the function called, COMPREPLY checked. Every long option of
# `run --help` and `bench --help` must be offered. The zsh completion is
# loaded and checked for syntax where zsh is installed.
src=$(cd "$(dirname "$0")/../../executor/completion" && pwd)
. "$(dirname "$0")/common.inc"
command -v bash >/dev/null 2>&1 || fail "no bash"

"$E" run --help | grep -oE -- '--[a-z][a-z-]*' | sort -u >run_opts
"$E" bench --help | grep -oE -- '--[a-z][a-z-]*' | sort -u >bench_opts
mkdir -p dir/sub
: >dir/sub/file.txt
: >jobs.log

bash --norc --noprofile -s "$src/cfutures.bash" <<'EOF2' || fail "bash completion"
set -u
. "$1"
[ "$(complete -p cfutures)" = "complete -F _cfutures cfutures" ] ||
  { echo "not registered: $(complete -p cfutures)"; exit 1; }
bad=0
# comp WORD...: completes the last word; the replies, sorted, one a line.
comp() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _cfutures
  printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}
# expect DESCRIPTION WANT WORD...: the replies, joined by spaces, are WANT.
expect() {
  what=$1 want=$2
  shift 2
  got=$(comp "$@" | tr '\n' ' ' | sed 's/ $//')
  if [ "$got" != "$want" ]; then
    echo "FAIL $what: [$*] gave [$got], want [$want]"
    bad=1
  fi
}
# has DESCRIPTION REPLY WORD...: REPLY is among the replies.
has() {
  what=$1 want=$2
  shift 2
  comp "$@" | grep -qxF -- "$want" || {
    echo "FAIL $what: [$*] does not offer [$want]: $(comp "$@" | tr '\n' ' ')"
    bad=1
  }
}
# none DESCRIPTION WORD...: nothing is offered.
none() {
  what=$1
  shift
  expect "$what" "" "$@"
}

expect "subcommands" "bench help run version" cfutures ""
expect "subcommand prefix" "run" cfutures r
expect "top-level options" "--help --version" cfutures --
expect "help's argument" "bench help run version" cfutures help ""
none "help takes one" cfutures help run ""
none "version takes none" cfutures version ""
none "unknown subcommand" cfutures frob ""

expect "run --jo" "--joblog --jobs" cfutures run --jo
expect "run --res" "--resume --resume-failed" cfutures run --res
expect "bench --w" "--workers" cfutures bench --w
expect "bench --kind" "process thread" cfutures bench --kind ""
expect "bench workloads" "cpu mixed noop sleep" cfutures bench --repeat 2 ""
none "bench after a workload" cfutures bench cpu ""
has "run -j N" 2 cfutures run -j ""
has "run --jobs N" 1 cfutures run --jobs ""
has "run --halt" "now,fail=1" cfutures run --halt ""
none "run --timeout S" cfutures run --timeout ""
expect "run --joblog FILE" "jobs.log" cfutures run --joblog jo
expect "run --joblog=FILE, one word" "--joblog=jobs.log" cfutures run --joblog=jo
expect "run --joblog = FILE, split by bash" "jobs.log" cfutures run --joblog = jo
expect "run -a FILE" "dir/" cfutures run -a di
expect "run -a FILE, deeper" "dir/sub/" cfutures run -a dir/s
# The command word: commands, not options or files.
has "the command" bash cfutures run -k bas
has "the command after --" bash cfutures run -- bas
has "the command after an option's value" bash cfutures run -j 4 bas
# After the command: its arguments (files), and the source separators.
expect "an argument" "jobs.log" cfutures run -k gzip jo
expect "a separator" "::: ::::" cfutures run gzip :
# After ::: come values: files, never options or subcommands.
expect "after :::" "jobs.log" cfutures run gzip ::: jo
none "no option after :::" cfutures run gzip ::: --jo
none "no option after ::: (value)" cfutures run echo ::: a --
expect "after ::::" "jobs.log" cfutures run gzip :::: jo
# An option after the command is the command's.
none "the command's options" cfutures run gzip --jo

# Every long option of --help is offered.
while read -r o; do has "run offers $o" "$o" cfutures run "$o"; done <run_opts
while read -r o; do has "bench offers $o" "$o" cfutures bench "$o"; done <bench_opts
exit $bad
EOF2

if command -v zsh >/dev/null 2>&1; then
  zsh -n "$src/_cfutures" || fail "zsh completion: syntax"
  # Loaded by compinit from a directory on fpath, as installed.
  mkdir zfunc
  cp "$src/_cfutures" zfunc/
  HOME=$T ZDOTDIR=$T zsh -f -c '
    fpath=(./zfunc $fpath)
    autoload -Uz compinit && compinit -u -d ./zcompdump
    [[ ${_comps[cfutures]} == _cfutures ]] || { print "not bound: ${_comps[cfutures]}"; exit 1 }
    autoload +X _cfutures || exit 1
  ' || fail "zsh completion: not loaded by compinit"
else
  echo "zsh not installed: its completion's syntax is not checked"
fi
echo ok
