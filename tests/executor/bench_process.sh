# SPDX-License-Identifier: MIT
# cfutures bench --kind process: the same report from a process pool.
. "$(dirname "$0")/common.inc"

"$E" bench --kind process --workers 1 --repeat 1 --tasks 1 noop >out 2>err
st=$?
if [ "$st" = 255 ] && grep -q 'not available' err; then
  echo "skipped: this build has no process pool"
  exit 0
fi
expect_eq "status" 0 "$st"
expect_status 0 "$E" bench --kind process --workers 1,2 --repeat 2 --tasks 40 \
  --json cpu
if command -v python3 >/dev/null 2>&1; then
python3 - out <<'EOF2' || fail "bad JSON: $(cat out)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "process" and d["workload"] == "cpu", d
assert [r["workers"] for r in d["results"]] == [1, 2]
assert all(r["failed"] == 0 and r["throughput"] > 0 for r in d["results"])
EOF2
fi
expect_status 0 "$E" bench --kind process --workers 2 --repeat 1 --tasks 20 sleep
grep -q 'process pool' out || fail "table does not name the pool: $(cat out)"
expect_status 255 "$E" bench --kind process -- true
echo ok
