# SPDX-License-Identifier: MIT
# The front door: subcommands, help, version, and usage errors (exit 255, a
# message on stderr, "did you mean" when a subcommand is mistyped).
. "$(dirname "$0")/common.inc"

# No subcommand: usage on stderr, nothing on stdout, and no benchmark run.
expect_status 255 "$E"
[ -s out ] && fail "usage went to stdout: $(cat out)"
grep -q '^usage: cfutures run' err || fail "no usage on stderr: $(cat err)"

# help, --help, -h: the usage on stdout, status 0.
for h in help --help -h; do
  expect_status 0 "$E" $h
  grep -q '^usage: cfutures run' out || fail "$h: no usage: $(cat out)"
  grep -q 'cfutures bench' out || fail "$h: bench missing: $(cat out)"
  [ -s err ] && fail "$h wrote to stderr: $(cat err)"
done

# help SUBCOMMAND is the subcommand's --help.
"$E" run --help >run_help 2>&1
expect_status 0 "$E" help run
cmp -s out run_help || fail "help run differs from run --help"
"$E" bench --help >bench_help 2>&1
expect_status 0 "$E" help bench
cmp -s out bench_help || fail "help bench differs from bench --help"
expect_status 0 "$E" help version
grep -q 'cfutures version' out || fail "help version: $(cat out)"
expect_status 0 "$E" help help
expect_status 255 "$E" help nosuch
expect_status 255 "$E" help run bench

# version and --version: the name and the version, one line.
expect_status 0 "$E" version
grep -Eqx 'cfutures [0-9]+\.[0-9]+\.[0-9]+' out || fail "version: $(cat out)"
cp out version_out
expect_status 0 "$E" --version
cmp -s out version_out || fail "--version differs from version"
expect_status 255 "$E" version extra

# Unknown subcommands and options: 255, a message, a suggestion when close.
expect_status 255 "$E" nonsense
grep -q "unknown subcommand 'nonsense'" err || fail "message: $(cat err)"
grep -q 'did you mean' err && fail "a suggestion for a word far away: $(cat err)"
for typo in rnu rn bnech bech versoin hlep; do
  expect_status 255 "$E" $typo
  grep -q "did you mean '" err || fail "$typo: no suggestion: $(cat err)"
done
expect_status 255 "$E" rnu
grep -q "did you mean 'run'" err || fail "rnu: $(cat err)"
expect_status 255 "$E" bnech
grep -q "did you mean 'bench'" err || fail "bnech: $(cat err)"
expect_status 255 "$E" --verison
grep -q "did you mean '--version'" err || fail "--verison: $(cat err)"
expect_status 255 "$E" --frobnicate
[ -s out ] && fail "an error wrote to stdout"

# A subcommand's usage error is 255 too, not a count of failed jobs.
expect_status 255 "$E" run --bogus true ::: 1
expect_status 255 "$E" bench --bogus
expect_status 2 "$E" run false ::: 1 2
echo ok
