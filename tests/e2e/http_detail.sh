#!/usr/bin/env bash
# The HTTP API's detail endpoints against the real server and agent on loopback (docs/api.md):
# enrolment tokens made over the API (an agent enrols with one), one alert with its history and
# agent, bulk triage, one incident, one agent with its risk, the baseline (SCA) and the file
# changes (FIM) of a real agent, its timeline with paging, response actions (sent to the live
# agent, 409 once it is gone, listed), role checks, bad parameters, and the per-address rate
# limit (429 with Retry-After) on a second server.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s
printf 'http:\n  listen: 127.0.0.1:%s\n  rate_limit: 1000\n  rate_burst: 1000\n' "$hport" >"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
check "the server announces the HTTP API" log_has 10 "$S.log" "HTTP API on https://127\.0\.0\.1:$hport/api/v1"
U="https://127.0.0.1:$hport/api/v1"
for u in admin:admin analyst:analyst viewer:viewer; do
  echo "${u%%:*}-password" | "$build/yiwang" user add "${u%%:*}" --role "${u#*:}" --data-dir "$S" >/dev/null
done
# req METHOD PATH [TOKEN] [BODY]: the status code in $code, the body in $T/body, headers in $T/hdr.
req() {
  local args=(-sS --cacert "$S/pki/ca.crt" -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$1")
  [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
  code=$(curl "${args[@]}" "${URL:-$U}$2") || code=000
}
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"; }
# pyck WHAT EXPR: EXPR (Python, d = the last body) holds
pyck() { check "$1" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert eval(sys.argv[2]), d' "$T/body" "$2"; }
login() { req POST /login "" "{\"user\":\"$1\",\"password\":\"$1-password\"}"; jq_ 'd["token"]'; }
ADMIN=$(login admin); ANALYST=$(login analyst); VIEWER=$(login viewer)

# 1. openapi.json lists the new paths.
req GET /openapi.json
check "openapi.json lists the detail paths" python3 -c '
import json, sys
p = set(json.load(open(sys.argv[1]))["paths"])
want = {"/alerts/{id}", "/alerts/status", "/incidents/{id}", "/agents/{id}",
        "/agents/{id}/baseline", "/agents/{id}/files", "/agents/{id}/timeline", "/tokens",
        "/tokens/{id}", "/responses", "/agents/{id}/respond"}
assert want <= p, want - p' "$T/body"

# 2. Enrolment tokens: admin only; the secret is shown once, never listed.
req POST /tokens "$ANALYST" '{"group":"web"}'
check "tokens: analyst 403" test "$code" = 403
req GET /tokens "$VIEWER"
check "token list: viewer 403" test "$code" = 403
for bad in '{"group":""}' '{"group":5}' '{"expires":"soon"}' '{"expires":"1s"}' '{"uses":-1}' \
  '{"uses":"ten"}' '[1]' 'nope'; do
  req POST /tokens "$ADMIN" "$bad"
  check "token create $bad: 400" test "$code" = 400
done
req POST /tokens "$ADMIN" '{"group":"web","expires":"2h","uses":2}'
check "token create: 201" test "$code" = 201
pyck "with an id and a yw1: enrolment string" 'd["id"] and d["enrollment"].startswith("yw1:")'
tid=$(jq_ 'd["id"]'); enroll=$(jq_ 'd["enrollment"]')
req GET /tokens "$ADMIN"
pyck "the token is listed with its group, uses and expiry" \
  'any(t["id"] == "'"$tid"'" and t["group"] == "web" and t["uses_left"] == 2 and t["expires_at"] > t["created_at"] for t in d["items"])'
check "the list never holds a secret" not grep -q "${enroll#yw1:}" "$T/body"
check "nor any hash" python3 -c 'import json,sys; assert all(set(t) == {"id","group","created_at","expires_at","uses_left"} for t in json.load(open(sys.argv[1]))["items"])' "$T/body"
check "an agent enrols with the API's token" enrol_agent "$enroll" "$T/a"
id=$(agent_id "$T/a")
req GET /tokens "$ADMIN"
pyck "one use is gone" 'any(t["id"] == "'"$tid"'" and t["uses_left"] == 1 for t in d["items"])'
req POST /tokens "$ADMIN" '{}'
tid2=$(jq_ 'd["id"]')
req DELETE "/tokens/$tid2" "$VIEWER"
check "token delete: viewer 403" test "$code" = 403
req DELETE "/tokens/$tid2" "$ADMIN"
check "token delete: 200" test "$code" = 200
req DELETE "/tokens/$tid2" "$ADMIN"
check "token delete again: 404" test "$code" = 404
req DELETE "/tokens/bad%20id" "$ADMIN"
check "token delete of a malformed id: 400" test "$code" = 400
req GET "/tokens/$tid" "$ADMIN"
check "GET of one token: 405" test "$code" = 405

# 3. The agent: auth.log for alerts, FIM on a directory, the shipped baseline policy, responses.
mkdir -p "$T/watched" "$T/victim"; echo original >"$T/watched/app.conf"
cat >"$T/agent.yml" <<YML
journald: off
process:
  enabled: false
network:
  enabled: false
inventory:
  enabled: false
fim:
  paths: [$T/watched]
sca:
  policies: [$src/rules/sca/debian.yml]
respond:
  quarantine_paths: ["$T/victim"]
YML
"$build/yiwang-agent" --config "$T/agent.yml" --state-dir "$T/a" --file "$src/samples/auth.log" \
  --from-beginning >>"$T/a.log" 2>&1 &
APID=$!; PIDS+=($APID)
check "agent connects" wait_for 15 grep -q "connected to 127.0.0.1:$port as $id" "$T/a.log"
alerts_ge() { req GET "/alerts?limit=1000" "$VIEWER"; [ "$code" = 200 ] && [ "$(jq_ 'len(d["items"])')" -ge "$1" ]; }
check "alerts arrive" wait_for 30 alerts_ge 3
aid=$(jq_ 'd["items"][0]["id"]'); aid2=$(jq_ 'd["items"][1]["id"]'); aid3=$(jq_ 'd["items"][2]["id"]')

# 4. One alert.
req GET "/alerts/$aid" "$VIEWER"
check "alert: 200" test "$code" = 200
pyck "as the list shows it, with history and agent" \
  'd["id"] == '"$aid"' and d["rule_id"] and "solution" in d and d["history"] == [] and d["agent"]["id"] == "'"$id"'" and d["agent"]["online"] is True and d["agent"]["group"] == "web"'
req GET "/alerts/999999" "$VIEWER"
check "unknown alert: 404" test "$code" = 404
for bad in 0 -1 abc 1x; do
  req GET "/alerts/$bad" "$VIEWER"
  check "alert id $bad: 400" test "$code" = 400
done
req POST "/alerts/$aid" "$ADMIN" '{}'
check "POST on an alert: 405" test "$code" = 405

# 5. Bulk triage.
req POST /alerts/status "$VIEWER" '{"ids":['"$aid"'],"status":"acknowledged"}'
check "bulk: viewer 403" test "$code" = 403
req GET /alerts/status "$ANALYST"
check "bulk: GET 405" test "$code" = 405
big=$(python3 -c 'print(",".join(str(i) for i in range(1, 1002)))')
for bad in '{"ids":[],"status":"resolved"}' '{"ids":[1],"status":"closed"}' \
  '{"ids":[0],"status":"resolved"}' '{"ids":["1"],"status":"resolved"}' \
  '{"ids":1,"status":"resolved"}' '{"ids":[1],"status":"resolved","comment":3}' \
  "{\"ids\":[$big],\"status\":\"resolved\"}"; do
  req POST /alerts/status "$ANALYST" "$bad"
  check "bulk ${bad:0:40}: 400" test "$code" = 400
done
req POST /alerts/status "$ANALYST" '{"ids":['"$aid,$aid2"',999999],"status":"acknowledged","comment":"looking"}'
check "bulk: 200" test "$code" = 200
pyck "two changed, the unknown one failed" 'd["changed"] == 2 and [f["id"] for f in d["failed"]] == [999999] and d["failed"][0]["error"]'
req POST /alerts/status "$ANALYST" '{"ids":['"$aid,$aid3"'],"status":"resolved"}'
pyck "resolve both" 'd["changed"] == 2 and d["failed"] == []'
req POST /alerts/status "$ANALYST" '{"ids":['"$aid"'],"status":"acknowledged"}'
pyck "a closed alert cannot be acknowledged: failed with a reason" 'd["changed"] == 0 and "status" in d["failed"][0]["error"]'
req GET "/alerts/$aid" "$VIEWER"
pyck "the alert's history shows both changes with who and the comment" \
  '[(h["action"], h["from"], h["to"], h["by"]) for h in d["history"]] == [("ack","new","acknowledged","analyst"),("resolve","acknowledged","resolved","analyst")] and d["history"][0]["comment"] == "looking" and d["status"] == "resolved"'

# 6. One incident.
req GET "/incidents" "$VIEWER"
inc=$(jq_ 'd["items"][0]["id"]'); incn=$(jq_ 'd["items"][0]["alert_count"]')
req GET "/incidents/$inc" "$VIEWER"
check "incident: 200" test "$code" = 200
pyck "the incident with its alerts" 'd["id"] == '"$inc"' and len(d["alerts"]) == min('"$incn"', 500) and all(a["agent_id"] == "'"$id"'" for a in d["alerts"]) and d["alerts_truncated"] is False'
req GET "/incidents/999999" "$VIEWER"
check "unknown incident: 404" test "$code" = 404
req GET "/incidents/x" "$VIEWER"
check "incident id x: 400" test "$code" = 400

# 7. One agent with its risk.
req GET "/agents/$id" "$VIEWER"
check "agent: 200" test "$code" = 200
pyck "its fields and its risk row" 'd["id"] == "'"$id"'" and d["group"] == "web" and d["online"] == 1 and d["risk"]["agent_id"] == "'"$id"'" and 0 <= d["risk"]["score"] <= 100'
req GET "/agents/nobody" "$VIEWER"
check "unknown agent: 404" test "$code" = 404
req GET "/agents/bad%20id" "$VIEWER"
check "malformed agent id: 400" test "$code" = 400
req GET "/agents/$id/nothing" "$VIEWER"
check "unknown sub-path: 404" test "$code" = 404

# 8. The baseline: every check of the shipped policy with its latest result.
checks=$(grep -c '^  - id:' "$src/rules/sca/debian.yml")
baseline_ready() { req GET "/agents/$id/baseline" "$VIEWER"; [ "$code" = 200 ]; }
check "baseline: 200 once the policy ran" wait_for 30 baseline_ready
pyck "policy, counts and score from the summary; one item per check ($checks)" \
  'd["policy"] == "yiwang-debian" and d["passed"] + d["failed"] + d["not_applicable"] == len(d["items"]) == '"$checks"' and d["complete"] is True and d["scanned_at"] > 0'
pyck "items carry result, rationale, remediation, compliance" \
  'all(i["result"] in ("passed","failed","not_applicable") and i["rationale"] and i["remediation"] and isinstance(i["compliance"], dict) for i in d["items"]) and sum(i["result"] == "failed" for i in d["items"]) == d["failed"]'
req GET "/agents/$id/baseline?policy=other" "$VIEWER"
check "another policy: 404" test "$code" = 404
req GET "/agents/$id/baseline?policy=a%20b" "$VIEWER"
check "a malformed policy: 400" test "$code" = 400
req GET "/agents/nobody/baseline" "$VIEWER"
check "baseline of an unknown agent: 404" test "$code" = 404

# 9. File changes.
fim_ready() { grep -q "fim_baseline_created\|baseline" "$T/a.log" 2>/dev/null || sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT 1 FROM events WHERE CAST(event AS TEXT) LIKE '%fim_baseline_created%' LIMIT 1" | grep -q 1; }
wait_for 15 fim_ready || true
echo changed >"$T/watched/app.conf"; echo new >"$T/watched/new.txt"
h=$(sha256sum "$T/watched/app.conf" | cut -d' ' -f1)
files_ge() { req GET "/agents/$id/files" "$VIEWER"; [ "$code" = 200 ] && [ "$(jq_ 'len(d["items"])')" -ge "$1" ]; }
check "file changes appear" wait_for 20 files_ge 2
pyck "the modification with before and after" \
  'any(i["action"] == "file_modified" and i["path"] == "'"$T/watched/app.conf"'" and i["after"]["hash.sha256"] == "'"$h"'" and i["before"]["hash.sha256"] != i["after"]["hash.sha256"] for i in d["items"])'
pyck "the addition with no before" \
  'any(i["action"] == "file_added" and i["path"] == "'"$T/watched/new.txt"'" and i["before"] is None for i in d["items"])'
pyck "newest first, only file changes" 'd["items"] == sorted(d["items"], key=lambda i: -i["id"]) and all(i["action"].startswith("file_") for i in d["items"])'
req GET "/agents/$id/files?limit=1" "$VIEWER"
first=$(jq_ 'd["items"][0]["id"]'); nb=$(jq_ 'd["next_before_id"]')
check "files page of 1 gives a cursor" test "$nb" = "$first"
req GET "/agents/$id/files?limit=1&before_id=$nb" "$VIEWER"
pyck "the next page is older" 'len(d["items"]) == 1 and d["items"][0]["id"] < '"$first"
req GET "/agents/$id/files?limit=0" "$VIEWER"
check "files limit=0: 400" test "$code" = 400

# 10. The timeline.
req GET "/agents/$id/timeline?limit=5" "$VIEWER"
check "timeline: 200" test "$code" = 200
pyck "5 events newest first with source, kind, event, message" \
  'len(d["items"]) == 5 and [i["seq"] for i in d["items"]] == sorted([i["seq"] for i in d["items"]], reverse=True) and all({"id","ts","source","kind","event","message"} <= set(i) for i in d["items"]) and d["next_before_id"] == d["items"][-1]["id"]'
nb=$(jq_ 'd["next_before_id"]'); lastseq=$(jq_ 'd["items"][-1]["seq"]')
req GET "/agents/$id/timeline?limit=5&before_id=$nb" "$VIEWER"
pyck "the next page follows on" 'd["items"][0]["seq"] < '"$lastseq"
req GET "/agents/$id/timeline?limit=1000&source=file:$src/samples/auth.log" "$VIEWER"
lines=$(wc -l <"$src/samples/auth.log")
pyck "source filter: the auth.log lines only ($lines)" \
  'len(d["items"]) == '"$lines"' and all(i["source"] == "file:'"$src"'/samples/auth.log" and i["kind"] == "log" and len(i["message"]) > 0 for i in d["items"])'
req GET "/agents/$id/timeline?before_id=abc" "$VIEWER"
check "timeline before_id=abc: 400" test "$code" = 400
req GET "/agents/$id/timeline?before_id=999999999" "$VIEWER"
check "timeline before_id of no event of the agent: 400" test "$code" = 400
req GET "/agents/$id/timeline?limit=1001" "$VIEWER"
check "timeline limit=1001: 400" test "$code" = 400

# 11. Response actions: sent through the server's loop to the live agent, listed, audited.
printf 'x\n' >"$T/victim/evil.sh"
req POST "/agents/$id/respond" "$ANALYST" '{"action":"quarantine_file","args":{"path":"'"$T/victim/evil.sh"'","dry_run":true}}'
check "respond: analyst 403" test "$code" = 403
for bad in '{"action":"Bad-Name"}' '{"action":"quarantine_file","args":[1]}' '{}' 'x'; do
  req POST "/agents/$id/respond" "$ADMIN" "$bad"
  check "respond $bad: 400" test "$code" = 400
done
req POST "/agents/nobody/respond" "$ADMIN" '{"action":"quarantine_file","args":{}}'
check "respond to an unknown agent: 404" test "$code" = 404
req POST "/agents/$id/respond" "$ADMIN" '{"action":"quarantine_file","args":{"path":"'"$T/victim/evil.sh"'","dry_run":true}}'
check "respond: 200" test "$code" = 200
cid=$(jq_ 'd["id"]')
check "with a command id" test "$cid" -ge 1
done_ok() { req GET "/responses?agent=$id" "$ANALYST"; [ "$(jq_ '[r["status"] for r in d["items"] if r["id"] == '"$cid"'][0]')" = ok ]; }
check "the agent's result arrives (status ok)" wait_for 15 done_ok
pyck "listed with action, args and who asked" \
  'd["items"][0]["id"] == '"$cid"' and d["items"][0]["action"] == "quarantine_file" and d["items"][0]["requested_by"] == "admin" and d["items"][0]["args"]["dry_run"] is True'
check "dry run: the file stays" test -e "$T/victim/evil.sh"
req GET "/responses" "$VIEWER"
check "responses: viewer 403" test "$code" = 403
req GET "/responses?limit=x" "$ANALYST"
check "responses limit=x: 400" test "$code" = 400
req GET "/responses?agent=nobody" "$ANALYST"
pyck "responses of another agent: none" 'd["items"] == []'
kill "$APID"; wait "$APID" 2>/dev/null || true
offline() { req GET "/agents/$id" "$VIEWER"; [ "$(jq_ 'd["online"]')" = 0 ]; }
wait_for 10 offline || true
req POST "/agents/$id/respond" "$ADMIN" '{"action":"quarantine_file","args":{"path":"'"$T/victim/evil.sh"'"}}'
check "respond to an offline agent: 409" test "$code" = 409

# 12. Every non-GET request is audited, refused ones included.
req GET "/audit?limit=1000" "$ADMIN"
pyck "the audit log has the bulk triage, the token and the 409" \
  'any(a["path"] == "/api/v1/alerts/status" and a["status"] == 403 for a in d["items"]) and any(a["path"] == "/api/v1/tokens" and a["status"] == 201 for a in d["items"]) and any(a["path"].endswith("/respond") and a["status"] == 409 for a in d["items"])'

# 13. The rate limit: a second server allowing 2 requests/s, bursts of 5.
port2=$(free_port); hport2=$(free_port); S2=$T/s2
printf 'http:\n  listen: 127.0.0.1:%s\n  rate_limit: 2\n  rate_burst: 5\n' "$hport2" >"$T/server2.yml"
start_server "$S2" "127.0.0.1:$port2" --config "$T/server2.yml" --rules "$src/rules/sigma"
log_has 10 "$S2.log" "HTTP API on" || true
codes=""
for i in $(seq 1 8); do
  c=$(curl -sS --cacert "$S2/pki/ca.crt" -o /dev/null -D "$T/hdr2" -w '%{http_code}' "https://127.0.0.1:$hport2/api/v1/me" || echo 000)
  codes="$codes $c"
done
check "the burst passes, then 429 ($codes)" test "$(echo $codes | tr ' ' '\n' | grep -c 429)" -ge 2
check "the first five were served (401: no token)" test "$(echo $codes | cut -d' ' -f1-5)" = "401 401 401 401 401"
check "429 carries Retry-After" grep -qi '^Retry-After: [1-9]' "$T/hdr2"
sleep 1.2
c=$(curl -sS --cacert "$S2/pki/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$hport2/api/v1/me" || echo 000)
check "a second later the address is served again ($c)" test "$c" = 401
check "no sanitizer report" clean_logs "$S.log" "$S2.log" "$T/a.log"
exit $fail
