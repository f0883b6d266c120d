#!/usr/bin/env bash
# End-to-end: `yiwang hunt` with the bundled rules evaluates the bundled correlation rules over
# the scripted attack story and prints their alerts (jsonl and text), after the base matches.
# usage: hunt_correlation.sh BUILD_DIR SHARED_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$3
yw=$build/yiwang
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}

"$yw" hunt --rules "$src/rules/sigma" --year 2026 --output jsonl "$src/samples/auth.log" \
  > "$tmp/story.jsonl" 2> "$tmp/story.err"
check "correlation alerts of the attack story" python3 -c '
import json, sys
alerts = {}
lines = [json.loads(l) for l in open(sys.argv[1])]
for i, m in enumerate(lines):
    if "correlation" in m:
        alerts[m["rule"]["title"]] = (i, m)
want = {
    "SSH Brute Force From One Source": ("event_count", {"source.ip": "203.0.113.45"}, 5),
    "SSH Password Spraying From One Source": ("value_count", {"source.ip": "203.0.113.45"}, 4),
    "SSH Login After Brute Force From The Same Source":
        ("temporal_ordered", {"source.ip": "203.0.113.45"}, 2),
    "New Local User Added To A Privileged Group":
        ("temporal_ordered", {"user.name": "svc-backup"}, 2),
}
assert set(alerts) == set(want), sorted(alerts)
for title, (typ, group, value) in want.items():
    c = alerts[title][1]["correlation"]
    assert (c["type"], c["group"], c["value"]) == (typ, group, value), (title, c)
    assert c["rules"] and all(r["id"] for r in c["rules"]), c
# The login alert comes right after the accepted login that completed it, at 01:01:40.
i, m = alerts["SSH Login After Brute Force From The Same Source"]
assert m["correlation"]["last"] == "2026-11-26T01:01:40.000Z", m
assert lines[i - 1]["rule"]["title"] == "SSH Login Accepted", lines[i - 1]
assert m["rule"]["level"] == "critical" and "attack.t1110" in m["rule"]["tags"]
# generate: true keeps the base matches: 6 failures are still reported one by one.
n = sum(1 for x in lines if x["rule"]["title"] == "SSH Authentication Failure")
assert n == 6, n
' "$tmp/story.jsonl"
check "summary counts the correlation alerts" grep -q '^4 correlation alerts from 5 correlation rules' "$tmp/story.err"

"$yw" hunt --rules "$src/rules/sigma" --year 2026 "$src/samples/auth.log" > "$tmp/story.txt"
check "text output shows group and count" \
  grep -q 'SSH Brute Force From One Source  \[event_count source.ip=203.0.113.45 value=5 since=2026-11-26T00:58:14.000Z\]' "$tmp/story.txt"
check "text output shows the distinct count" \
  grep -q 'distinct(user.name)=4' "$tmp/story.txt"

# A correlation with generate: false hides its base rule; its own alert still shows.
mkdir "$tmp/rules"
cp "$src/rules/sigma/linux/yw_lnx_sshd_auth_failure.yml" "$tmp/rules/"
cat > "$tmp/rules/bf.yml" <<'YML'
title: Three failures
correlation:
    type: event_count
    rules: [20411c47-2020-5086-b900-27897393c6ec]
    group-by: [source.ip]
    timespan: 1m
    condition: {gte: 3}
level: high
YML
"$yw" hunt --rules "$tmp/rules" --year 2026 --output jsonl "$src/samples/auth.log" \
  > "$tmp/gen.jsonl" 2>/dev/null
check "generate: false reports only the correlation (2 alerts: 6 failures / 3)" python3 -c '
import json, sys
t = [json.loads(l)["rule"]["title"] for l in open(sys.argv[1])]
assert t == ["Three failures", "Three failures"], t
' "$tmp/gen.jsonl"

# --level filters correlation alerts like matches.
"$yw" hunt --rules "$src/rules/sigma" --year 2026 --level critical --output jsonl \
  "$src/samples/auth.log" > "$tmp/crit.jsonl" 2>/dev/null
check "--level critical keeps the login-after-brute-force alert" python3 -c '
import json, sys
t = [json.loads(l)["rule"]["title"] for l in open(sys.argv[1])]
assert t == ["SSH Login After Brute Force From The Same Source"], t
' "$tmp/crit.jsonl"
exit $fail
