#!/usr/bin/env bash
# The big screen over HTTPS with the real server (docs/api.md, "Situation"): an agent streams
# samples/auth.log, then GET /api/v1/situation has every part in its shape, its counts agree
# with /alerts, /agents and /rules/hits, tz moves the local days, bad tz and methods are
# refused, a viewer may read and a stranger may not; after the server's first risk snapshot the
# riskiest terminal and the fleet trend appear.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s
printf 'http:\n  listen: 127.0.0.1:%s\n' "$hport" >"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
check "the server announces the HTTP API" log_has 10 "$S.log" "HTTP API on https://127\.0\.0\.1:$hport/api/v1"
U="https://127.0.0.1:$hport/api/v1"
for u in admin viewer; do
  check "user add $u" sh -c "echo '$u-password' | \"$build/yiwang\" user add $u --role $u --data-dir '$S' >/dev/null"
done

req() {
  local args=(-sS --cacert "$S/pki/ca.crt" -o "$T/body" -w '%{http_code}' -X "$1")
  [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
  code=$(curl "${args[@]}" "$U$2") || code=000
}
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"; }
login() {
  curl -sS --cacert "$S/pki/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "{\"user\":\"$1\",\"password\":\"$1-password\"}" "$U/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
ADMIN=$(login admin); VIEWER=$(login viewer)
check "logins" test -n "$ADMIN" -a -n "$VIEWER"

# An empty server: the screen's shape with zeros.
req GET /situation "$VIEWER"
check "empty: 200" test "$code" = 200
check "empty: zeros and 24 + 7 buckets" test "$(jq_ 'd["terminals"]["total"] == 0 and d["open_alerts"] == 0 and d["warnings_today"]["total"] == 0 and len(d["alerts_24h"]) == 24 and len(d["alerts_7d"]) == 7 and d["top_rules"] == [] and d["tactics"] == [] and d["riskiest_terminals"] == []')" = True

# An agent streams auth.log; wait until every line and its alerts are in.
tok=$("$build/yiwang" token create --data-dir "$S")
check "enrol" enrol_agent "$tok" "$T/a1"
id1=$(agent_id "$T/a1")
run_agent "$T/a1" "$src/samples/auth.log"
lines=$(wc -l <"$src/samples/auth.log")
received_all() { req GET /agents "$VIEWER"; [ "$(jq_ 'd["items"][0]["events_received"]')" -ge "$lines" ]; }
check "every line received" wait_for 30 received_all
req GET "/alerts?limit=1000" "$VIEWER"
cp "$T/body" "$T/alerts.json"
nalerts=$(jq_ 'len(d["items"])')
occ=$(jq_ 'sum(a["count"] for a in d["items"])')
check "the sample raises alerts" test "$nalerts" -ge 3

# Every part, in its shape.
req GET /situation "$VIEWER"
cp "$T/body" "$T/sit.json"
check "situation: 200 for a viewer" test "$code" = 200
levels='["critical","high","medium","low","informational"]'
check "situation: the top-level keys" test "$(jq_ 'sorted(d) == sorted(["generated_at","terminals","warnings_today","open_alerts","fleet_risk","alerts_24h","alerts_7d","top_rules","riskiest_terminals","tactics","agents_by_os"])')" = True
check "terminals: one online agent in group default" test "$(jq_ 'd["terminals"]["total"], d["terminals"]["online"], d["terminals"]["offline"], d["terminals"]["revoked"], d["terminals"]["by_group"]')" = "(1, 1, 0, 0, [{'group': 'default', 'total': 1, 'online': 1}])"
check "warnings_today: the five levels and their total" test "$(jq_ 'set(d["warnings_today"]) == set('"$levels"') | {"total"} and d["warnings_today"]["total"] == sum(d["warnings_today"][l] for l in '"$levels"')')" = True
check "warnings_today: every alert (made just now)" test "$(jq_ 'd["warnings_today"]["total"]')" = "$nalerts"
check "open_alerts: every alert" test "$(jq_ 'd["open_alerts"]')" = "$nalerts"
check "alerts_24h: 24 hours, oldest first, ending with this one" test "$(jq_ 'all(b["t"] - a["t"] == 3600 * 10**9 for a, b in zip(d["alerts_24h"], d["alerts_24h"][1:])) and d["alerts_24h"][-1]["t"] <= d["generated_at"] < d["alerts_24h"][-1]["t"] + 3600 * 10**9 and all(set(b) == set('"$levels"') | {"t"} for b in d["alerts_24h"])')" = True
check "alerts_24h and alerts_7d hold every alert" test "$(jq_ 'sum(b[l] for b in d["alerts_24h"] for l in '"$levels"'), sum(b[l] for b in d["alerts_7d"] for l in '"$levels"')')" = "($nalerts, $nalerts)"
check "alerts_7d: 7 UTC days ending today" test "$(jq_ 'all(b["t"] % 86400000000000 == 0 for b in d["alerts_7d"]) and d["alerts_7d"][-1]["t"] <= d["generated_at"] < d["alerts_7d"][-1]["t"] + 86400 * 10**9 and d["alerts_7d"][0]["t"] == d["alerts_7d"][-1]["t"] - 6 * 86400 * 10**9')" = True
check "levels per alert agree with /alerts" test "$(jq_ 'sorted((l, sum(b[l] for b in d["alerts_24h"])) for l in '"$levels"')')" = "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); L=["critical","high","medium","low","informational"]; print(sorted((l, sum(a["level"] == l for a in d["items"])) for l in L))' "$T/alerts.json")"
check "top_rules: at most 10, by count, with titles and levels" test "$(jq_ 'len(d["top_rules"]) <= 10 and all(set(r) == {"rule_id","title","level","count"} and r["title"] for r in d["top_rules"]) and [r["count"] for r in d["top_rules"]] == sorted([r["count"] for r in d["top_rules"]], reverse=True)')" = True
check "top_rules: the busiest rule of /alerts" test "$(jq_ 'd["top_rules"][0]["count"]')" = "$(python3 -c 'import json,sys,collections; d=json.load(open(sys.argv[1])); c=collections.Counter(); [c.update({a["rule_id"]: a["count"]}) for a in d["items"]]; print(max(c.values()))' "$T/alerts.json")"
check "tactics: ATT&CK tactic ids, by count" test "$(jq_ 'all(t["tactic"] in {"reconnaissance","resource_development","initial_access","execution","persistence","privilege_escalation","defense_evasion","credential_access","discovery","lateral_movement","collection","command_and_control","exfiltration","impact"} and t["count"] > 0 for t in d["tactics"]) and [t["count"] for t in d["tactics"]] == sorted([t["count"] for t in d["tactics"]], reverse=True)')" = True
want_tactics=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = set()
for a in d["items"]:
    for t in a["tags"]:
        if t.lower().startswith("attack."):
            s.add(t[7:].lower().replace("-", "_"))
print(sorted(s & {"reconnaissance","resource_development","initial_access","execution","persistence","privilege_escalation","defense_evasion","credential_access","discovery","lateral_movement","collection","command_and_control","exfiltration","impact"}))' "$T/alerts.json")
check "tactics: those the alerts are tagged with" test "$(jq_ 'sorted(t["tactic"] for t in d["tactics"])')" = "$want_tactics"
check "agents_by_os: one agent" test "$(jq_ 'len(d["agents_by_os"]) == 1 and d["agents_by_os"][0]["n"] == 1 and isinstance(d["agents_by_os"][0]["os"], str)')" = True
check "fleet_risk: a score and a list" test "$(jq_ 'isinstance(d["fleet_risk"]["score"], (int, float)) and isinstance(d["fleet_risk"]["trend"], list)')" = True

# tz: local days move; the counts do not.
req GET "/situation?tz=330" "$VIEWER"
check "tz=330: days start at 18:30 UTC" test "$(jq_ 'all((b["t"] + 330 * 60 * 10**9) % 86400000000000 == 0 for b in d["alerts_7d"]) and sum(b[l] for b in d["alerts_7d"] for l in '"$levels"')')" = "$nalerts"
req GET "/situation?tz=-720" "$VIEWER"
check "tz=-720: 200" test "$code" = 200
req GET "/situation?tz=840" "$VIEWER"
check "tz=840: 200" test "$code" = 200
for bad in -721 841 abc 1.5; do
  req GET "/situation?tz=$bad" "$VIEWER"
  check "tz=$bad: 400" test "$code" = 400
done

# Rule hits.
req GET /rules/hits "$VIEWER"
check "rules/hits: 200" test "$code" = 200
check "rules/hits: the rules of the alerts, with their occurrences" test "$(jq_ 'sorted((i["rule_id"], i["count_total"], i["count_7d"]) for i in d["items"])')" = "$(python3 -c 'import json,sys,collections; d=json.load(open(sys.argv[1])); c=collections.Counter(); [c.update({a["rule_id"]: a["count"]}) for a in d["items"]]; print(sorted((r, n, n) for r, n in c.items()))' "$T/alerts.json")"
check "rules/hits: last_seen is a time" test "$(jq_ 'all(i["last_seen"] > 10**18 for i in d["items"])')" = True
check "rules/hits: total occurrences" test "$(jq_ 'sum(i["count_total"] for i in d["items"])')" = "$occ"

# Methods and authentication.
req POST /situation "$ADMIN"
check "POST /situation: 405" test "$code" = 405
req POST /rules/hits "$ADMIN"
check "POST /rules/hits: 405" test "$code" = 405
req GET /situation
check "no token: 401" test "$code" = 401
req GET /rules/hits "ywa_$(printf '0%.0s' $(seq 64))"
check "a bad token: 401" test "$code" = 401
req GET /openapi.json
check "openapi.json lists both paths" test "$(jq_ '"/situation" in d["paths"] and "/rules/hits" in d["paths"]')" = True

# The server's first risk snapshot (a minute after start) fills the riskiest terminals.
riskiest() { req GET /situation "$VIEWER"; [ "$(jq_ 'len(d["riskiest_terminals"])')" = 1 ]; }
check "after the first snapshot: the riskiest terminal" wait_for 120 riskiest
check "riskiest: the agent, scored, online" test "$(jq_ 'd["riskiest_terminals"][0]["id"] == "'"$id1"'" and d["riskiest_terminals"][0]["score"] > 0 and d["riskiest_terminals"][0]["online"] is True and d["riskiest_terminals"][0]["group"] == "default"')" = True
check "fleet trend: the snapshot's point, the score the latest" test "$(jq_ 'len(d["fleet_risk"]["trend"]) >= 1 and d["fleet_risk"]["score"] == d["fleet_risk"]["trend"][-1]["score"] > 0')" = True

kill -INT "$AGENT_PID" "$SERVER_PID"
exit_status 30 "$SERVER_PID"
check "the server stops cleanly" test "$EXIT_STATUS" = 0
check "no sanitizer reports" clean_logs "$S.log" "$T/a1.log"
exit $fail
