# SPDX-License-Identifier: MIT
# SIGINT / SIGTERM mid-run: jobs get the signal, the joblog is completed,
# a summary is printed, and the status is 128 + the signal.
. "$(dirname "$0")/common.inc"

for sig in INT TERM; do
  case $sig in INT) num=2 ;; TERM) num=15 ;; esac
  # A shell starts background jobs with SIGINT ignored: restore it.
  env --default-signal=INT "$E" run -j 2 --joblog jl \
    sh -c 'echo $$ >>"$0"; sleep 30' ::: "$T/pids" "$T/pids" "$T/pids" "$T/pids" \
    >out 2>err &
  ex=$!
  n=0
  while [ "$(cat pids 2>/dev/null | wc -l)" -lt 2 ] && [ $n -lt 100 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  [ $n -lt 100 ] || fail "jobs did not start"
  start=$(date +%s)
  kill -s "$sig" "$ex"
  wait "$ex"
  st=$?
  [ $(($(date +%s) - start)) -lt 10 ] || fail "SIG$sig did not stop the run"
  want=$((128 + num))
  expect_eq "status after SIG$sig" "$want" "$st"
  grep -q 'stopped by' err || fail "no summary after SIG$sig: $(cat err)"
  grep -q '2 not run' err || fail "summary counts: $(cat err)"
  expect_eq "joblog lines after SIG$sig" 3 "$(wc -l <jl | tr -d ' ')"
  expect_eq "signal column" "$num $num" \
    "$(awk -F'\t' 'NR > 1 { print $8 }' jl | tr '\n' ' ' | sed 's/ $//')"
  for p in $(cat pids); do
    pid_dead "$p" || fail "job $p survived SIG$sig"
  done
  rm -f pids
done
echo ok
