# SPDX-License-Identifier: MIT
# cfutures bench: the table, CSV, JSON and a well-formed SVG.
. "$(dirname "$0")/common.inc"

expect_status 0 "$E" bench --workers 1,2 --repeat 2 --tasks 40 cpu
grep -q '^workers' out || fail "no table header: $(cat out)"
grep -Eq '^ +1 +[0-9]+' out || fail "no row for 1 worker"
grep -Eq '^ +2 +[0-9]+' out || fail "no row for 2 workers"
grep -q '^best pool size: [12] (' out || fail "no recommendation"

expect_status 0 "$E" bench --workers 1,3,2 --repeat 1 --tasks 30 --csv sleep
expect_eq "csv lines" 4 "$(wc -l <out | tr -d ' ')"
expect_eq "csv sizes sorted" "1 2 3" "$(awk -F, 'NR > 1 { print $1 }' out | tr '\n' ' ' | sed 's/ $//')"
awk -F, 'NR == 1 && $1 != "workers" { exit 1 } NR > 1 && (NF != 11 || $2 <= 0) { exit 1 }' out ||
  fail "bad csv: $(cat out)"

expect_status 0 "$E" bench --workers 1,2 --repeat 1 --tasks 20 --json \
  --plot plot.svg mixed
if ! command -v python3 >/dev/null 2>&1; then
  # Without python3, a coarser look at both.
  grep -q '"workload": "mixed"' out || fail "bad JSON: $(cat out)"
  [ "$(grep -c '<polyline' plot.svg)" = 2 ] || fail "SVG lines"
  tail -n 1 plot.svg | grep -q '</svg>' || fail "SVG end"
else
python3 - out plot.svg <<'EOF2' || fail "bad JSON or SVG"
import json, sys, xml.etree.ElementTree as ET
d = json.load(open(sys.argv[1]))
assert d["workload"] == "mixed" and d["kind"] == "thread", d
assert [r["workers"] for r in d["results"]] == [1, 2], d
for r in d["results"]:
    assert r["throughput"] > 0 and r["throughput_min"] <= r["throughput"] <= r["throughput_max"]
    assert 0 <= r["latency_p50_s"] <= r["latency_p99_s"]
assert d["results"][0]["speedup"] == 1.0
assert d["best"]["workers"] in (1, 2) and d["best"]["reason"]
root = ET.parse(sys.argv[2]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg"
lines = root.findall(ns + "polyline")
assert len(lines) == 2, len(lines)
for l in lines:
    assert len(l.get("points").split()) == 2
texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
assert "throughput" in texts and "efficiency" in texts and "pool size" in texts
EOF2
fi
if command -v xmllint >/dev/null; then
  xmllint --noout plot.svg || fail "xmllint rejects the SVG"
fi

expect_status 0 "$E" bench --workers 1,2 --repeat 1 --tasks 10 noop
expect_status 255 "$E" bench --workers 0
expect_status 255 "$E" bench --workers 1,x
expect_status 255 "$E" bench --repeat 0
expect_status 255 "$E" bench --tasks -5
expect_status 255 "$E" bench --kind fiber
expect_status 255 "$E" bench nosuchworkload
expect_status 255 "$E" bench --csv --json
expect_status 0 "$E" bench --help
echo ok
