#!/usr/bin/env bash
# The HTTP API /api/v1 of the real server over HTTPS on loopback (docs/api.md): users made with
# `yiwang user`, login, 401 without a token, roles (viewer 403 / analyst 200 on an alert's
# status), alerts of an agent streaming samples/auth.log with filters and pagination, the
# audit log, API tokens, logout, body limits, security headers, openapi.json, the login-failure
# limit, plain HTTP refused on a non-loopback address, and the reads of inventory, risk history,
# solutions and rules.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s
printf 'http:\n  listen: 127.0.0.1:%s\n' "$hport" >"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
S_PID=$SERVER_PID
check "the server announces the HTTP API" log_has 10 "$S.log" "HTTP API on https://127\.0\.0\.1:$hport/api/v1"
yw() { "$build/yiwang" "$@" --data-dir "$S"; }
U="https://127.0.0.1:$hport/api/v1"

# 1. Users: the CLI writes api.db (0600); passwords come on standard input.
for u in admin:admin analyst:analyst viewer:viewer; do
  check "user add ${u%%:*}" sh -c "echo '${u%%:*}-password' | \"$build/yiwang\" user add ${u%%:*} --role ${u#*:} --data-dir '$S' >/dev/null"
done
check "api.db is 0600" test "$(stat -c %a "$S/api.db")" = 600
check "a second user of the same name is refused" \
  not sh -c "echo other-password | \"$build/yiwang\" user add admin --role viewer --data-dir '$S' 2>/dev/null"
check "a short password is refused" \
  not sh -c "echo short | \"$build/yiwang\" user add eve --role viewer --data-dir '$S' 2>/dev/null"
check "user list shows the roles" sh -c "\"$build/yiwang\" user list --data-dir '$S' | grep -qx 'analyst	analyst'"

# req METHOD PATH [TOKEN] [BODY]: the status code in $code, the body in $T/body, headers in $T/hdr.
req() {
  local args=(-sS --cacert "$S/pki/ca.crt" -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$1")
  [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
  code=$(curl "${args[@]}" "$U$2") || code=000
}
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/body" "$1"; }
login() { req POST /login "" "{\"user\":\"$1\",\"password\":\"$2\"}"; [ "$code" = 200 ] && jq_ 'd["token"]'; }

# 2. openapi.json needs no token, parses, and lists exactly the implemented paths.
req GET /openapi.json
check "openapi.json: 200" test "$code" = 200
check "openapi.json lists the paths" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["openapi"].startswith("3.0")
want = {"/openapi.json", "/login", "/logout", "/me", "/agents", "/alerts",
        "/alerts/{id}/status", "/incidents", "/risk", "/stats", "/audit",
        "/agents/{id}/inventory", "/agents/{id}/inventory/history", "/risk/history",
        "/solutions/{rule_id}", "/rules"}
# http_detail.sh tests these:
want |= {"/alerts/{id}", "/alerts/status", "/incidents/{id}", "/agents/{id}",
         "/agents/{id}/baseline", "/agents/{id}/files", "/agents/{id}/timeline", "/tokens",
         "/tokens/{id}", "/responses", "/agents/{id}/respond"}
# http_live.sh tests this:
want |= {"/stream"}
# http_situation.sh tests these:
want |= {"/situation", "/rules/hits"}
assert set(d["paths"]) == want, set(d["paths"]) ^ want' "$T/body"

# 3. No token, a bad token: 401.
req GET /agents
check "no token: 401" test "$code" = 401
check "401 says Bearer" grep -qi '^WWW-Authenticate: Bearer' "$T/hdr"
req GET /agents "ywa_$(printf '0%.0s' $(seq 64))"
check "an unknown token: 401" test "$code" = 401
req GET /nope
check "outside /api/v1: 404" sh -c "curl -sS --cacert '$S/pki/ca.crt' -o /dev/null -w '%{http_code}' https://127.0.0.1:$hport/nope | grep -qx 404"

# 4. Login: wrong password 401; right one a session token with the role.
req POST /login "" '{"user":"admin","password":"nope-nope"}'
check "wrong password: 401" test "$code" = 401
req POST /login "" '{"user":"ghost","password":"ghost-password"}'
check "unknown user: 401" test "$code" = 401
ADMIN=$(login admin admin-password)
check "admin logs in" test -n "$ADMIN"
check "the login answer names the role" test "$(jq_ 'd["role"]')" = admin
ANALYST=$(login analyst analyst-password)
VIEWER=$(login viewer viewer-password)
check "analyst and viewer log in" test -n "$ANALYST" -a -n "$VIEWER"
req GET /me "$VIEWER"
check "/me: viewer" test "$code:$(jq_ 'd["role"]'):$(jq_ 'd["user"]')" = "200:viewer:viewer"
check "JSON content type" grep -qi '^Content-Type: application/json; charset=utf-8' "$T/hdr"
check "nosniff" grep -qi '^X-Content-Type-Options: nosniff' "$T/hdr"
check "no-store" grep -qi '^Cache-Control: no-store' "$T/hdr"
req GET /audit "$VIEWER"
check "viewer reads the audit log: 403" test "$code" = 403

# 5. An agent streams samples/auth.log; its alerts appear at /alerts.
tok=$(yw token create)
check "enrol" enrol_agent "$tok" "$T/a1"
id1=$(agent_id "$T/a1")
run_agent "$T/a1" "$src/samples/auth.log"
alerts_ge() { req GET "/alerts?limit=1000" "$ADMIN"; [ "$code" = 200 ] && [ "$(jq_ 'len(d["items"])')" -ge "$1" ]; }
check "alerts appear at /api/v1/alerts" wait_for 30 alerts_ge 3
lines=$(wc -l <"$src/samples/auth.log")
received_all() { req GET /agents "$VIEWER"; [ "$(jq_ 'd["items"][0]["events_received"]')" -ge "$lines" ]; }
# Alerts are stored in the transaction of their events: once every line is in, all are.
check "/agents: every line received" wait_for 30 received_all
req GET "/alerts?limit=1000" "$ADMIN"
total=$(jq_ 'len(d["items"])')
check "the alerts are the agent's" test "$(jq_ 'set(a["agent_id"] for a in d["items"]) == {"'"$id1"'"}')" = True
check "every alert comes with its solution in both languages" test "$(jq_ 'all(a["solution"] and a["solution"]["what"]["en"] and a["solution"]["what"]["zh"] for a in d["items"])')" = True
req GET /agents "$VIEWER"
check "/agents lists the agent" test "$(jq_ '[a["id"] for a in d["items"]]')" = "['$id1']"
req GET "/alerts?agent=$id1&limit=1000" "$VIEWER"
check "agent filter" test "$(jq_ 'len(d["items"])')" = "$total"
req GET "/alerts?agent=nobody" "$VIEWER"
check "agent filter: nobody's" test "$(jq_ 'len(d["items"])')" = 0

# Pagination: pages of 2 with after_id cover every alert once, in id order.
pages() {
  local after=0 ids=""
  while :; do
    req GET "/alerts?limit=2&after_id=$after" "$VIEWER"
    [ "$code" = 200 ] || return 1
    [ "$(jq_ 'len(d["items"]) <= 2')" = True ] || return 1
    ids="$ids $(jq_ '" ".join(str(a["id"]) for a in d["items"])')"
    after=$(jq_ 'd["next_after_id"]')
    [ "$after" = None ] && break
  done
  echo $ids
}
all=$(req GET "/alerts?limit=1000" "$VIEWER"; jq_ '" ".join(str(a["id"]) for a in d["items"])')
check "pagination with after_id returns every alert once" test "$(pages)" = "$all"
req GET "/alerts?limit=2&newest=1" "$VIEWER"
check "newest=1: the last two" test "$(jq_ '" ".join(str(a["id"]) for a in d["items"])')" = "$(echo $all | awk '{print $(NF-1), $NF}')"
# Paging back from the newest with before_id also covers every alert once.
back_pages() {
  local before="" ids="" n=0
  req GET "/alerts?limit=2&newest=1" "$VIEWER"
  while :; do
    [ "$code" = 200 ] && [ $((n += 1)) -lt 1000 ] || return 1
    ids="$(jq_ '" ".join(str(a["id"]) for a in d["items"])') $ids"
    before=$(jq_ 'd["next_before_id"]')
    [ "$before" = None ] && break
    req GET "/alerts?limit=2&before_id=$before" "$VIEWER"
  done
  echo $ids
}
check "paging back with before_id returns every alert once" test "$(back_pages)" = "$all"
req GET "/alerts?before_id=0" "$VIEWER"
check "before_id=0: 400" test "$code" = 400
req GET "/alerts?level=critical&limit=1000" "$VIEWER"
check "level filter" test "$(jq_ 'all(a["level"] == "critical" for a in d["items"])')" = True
req GET "/alerts?limit=0" "$VIEWER"
check "limit=0: 400" test "$code" = 400
req GET "/alerts?limit=abc" "$VIEWER"
check "limit=abc: 400" test "$code" = 400
req GET "/alerts?level=severe" "$VIEWER"
check "unknown level: 400" test "$code" = 400

# 6. Changing an alert: viewer 403, analyst 200 (recorded with who), illegal changes refused.
aid=$(echo $all | awk '{print $1}')
req POST "/alerts/$aid/status" "$VIEWER" '{"status":"acknowledged"}'
check "viewer changes an alert: 403" test "$code" = 403
req POST "/alerts/$aid/status" "$ANALYST" '{"status":"acknowledged","comment":"looking"}'
check "analyst acknowledges: 200" test "$code" = 200
req GET "/alerts?after_id=$((aid - 1))&limit=1" "$VIEWER"
check "the alert is acknowledged by the analyst" \
  test "$(jq_ 'd["items"][0]["status"], d["items"][0]["ack_by"], d["items"][0]["ack_comment"]')" = "('acknowledged', 'analyst', 'looking')"
req GET "/alerts?status=acknowledged" "$VIEWER"
check "status filter" test "$(jq_ '[a["id"] for a in d["items"]]')" = "[$aid]"
req POST "/alerts/$aid/status" "$ANALYST" '{"status":"acknowledged"}'
check "acknowledging twice: 409" test "$code" = 409
req POST "/alerts/99999999/status" "$ANALYST" '{"status":"resolved"}'
check "unknown alert: 404" test "$code" = 404
req POST "/alerts/$aid/status" "$ANALYST" '{"status":"deleted"}'
check "unknown status: 400" test "$code" = 400
req POST "/alerts/$aid/status" "$ANALYST" 'not json'
check "a body that is not JSON: 400" test "$code" = 400
req GET "/alerts/$aid/status" "$ANALYST"
check "GET on a POST path: 405" test "$code" = 405
big=$(python3 -c 'print("{\"status\":\"resolved\",\"comment\":\"" + "x" * 70000 + "\"}")')
req POST "/alerts/$aid/status" "$ANALYST" "$big"
check "a body over 64 KiB: 413" test "$code" = 413
req POST "/alerts/$aid/status" "$ADMIN" '{"status":"resolved"}'
check "admin resolves: 200" test "$code" = 200

# 7. The audit log has who did what.
req GET "/audit?limit=1000" "$ADMIN"
check "audit: 200" test "$code" = 200
check "audit: the analyst's change with 200" test "$(jq_ 'any(r["user"] == "analyst" and r["path"] == "/api/v1/alerts/'"$aid"'/status" and r["status"] == 200 and r["method"] == "POST" and r["address"] == "127.0.0.1" for r in d["items"])')" = True
check "audit: the viewer's refused change with 403" test "$(jq_ 'any(r["user"] == "viewer" and r["status"] == 403 for r in d["items"])')" = True
check "audit: the failed login" test "$(jq_ 'any(r["user"] == "admin" and r["path"] == "/api/v1/login" and r["status"] == 401 for r in d["items"])')" = True
check "audit: GETs are not recorded" test "$(jq_ 'any(r["method"] == "GET" for r in d["items"])')" = False

# 8. Other reads.
req GET /stats "$VIEWER"
check "stats: alerts counted" test "$(jq_ 'd["alerts"]')" = "$total"
req GET /incidents "$VIEWER"
check "incidents: the agent's" test "$(jq_ 'any(i["kind"] == "agent" and i["key"] == "'"$id1"'" for i in d["items"])')" = True
req GET /risk "$VIEWER"
check "risk: the agent scored" test "$(jq_ '[r["agent_id"] for r in d["items"]] == ["'"$id1"'"] and "fleet" in d')" = True
req GET "/risk?agent=nobody" "$VIEWER"
check "risk of an unknown agent: 404" test "$code" = 404

# 8b. Inventory, risk history, solutions, rules.
req GET "/agents/$id1/inventory" "$VIEWER"
check "inventory of a quiet agent: 200, empty" test "$code:$(jq_ 'd["items"]')" = "200:[]"
req GET "/agents/$id1/inventory/history" "$VIEWER"
check "inventory history of a quiet agent: 200, empty" test "$code:$(jq_ 'd["items"], d["next_after_id"]')" = "200:([], None)"
req GET "/agents/nobody/inventory" "$VIEWER"
check "inventory of an unknown agent: 404" test "$code" = 404
req GET "/agents/nobody/inventory/history" "$VIEWER"
check "inventory history of an unknown agent: 404" test "$code" = 404
req GET "/agents/$id1/inventory/history?limit=0" "$VIEWER"
check "inventory history limit=0: 400" test "$code" = 400
req POST "/agents/$id1/inventory" "$ADMIN" '{}'
check "POST on the inventory: 405" test "$code" = 405
req GET "/agents/$id1/inventory"
check "inventory without a token: 401" test "$code" = 401
# An agent with its inventory collector on: the items arrive with their events as JSON.
printf 'journald: off\nprocess:\n  enabled: false\nnetwork:\n  enabled: false\nsca:\n  enabled: false\nfim:\n  enabled: false\n' >"$T/inv-agent.yml"
check "enrol an agent with inventory" enrol_agent "$(yw token create)" "$T/a2"
id2=$(agent_id "$T/a2")
"$build/yiwang-agent" --config "$T/inv-agent.yml" --state-dir "$T/a2" >>"$T/a2.log" 2>&1 &
A2_PID=$!; PIDS+=("$A2_PID")
inv_ge() { req GET "/agents/$id2/inventory" "$VIEWER"; [ "$code" = 200 ] && [ "$(jq_ 'len(d["items"])')" -ge 1 ]; }
check "the agent's inventory appears" wait_for 30 inv_ge
check "inventory rows: dataset, key, updated_at and data as a JSON object" test "$(jq_ 'all(isinstance(i["dataset"], str) and isinstance(i["key"], str) and i["updated_at"] > 0 and isinstance(i["data"], dict) for i in d["items"])')" = True
ds=$(jq_ 'd["items"][0]["dataset"]')
req GET "/agents/$id2/inventory?dataset=$ds" "$VIEWER"
check "dataset filter" test "$(jq_ 'len(d["items"]) >= 1 and all(i["dataset"] == "'"$ds"'" for i in d["items"])')" = True
req GET "/agents/$id2/inventory?dataset=no-such-dataset" "$VIEWER"
check "dataset filter: an unknown dataset" test "$code:$(jq_ 'd["items"]')" = "200:[]"
kill -INT "$A2_PID"; exit_status 30 "$A2_PID"
req GET /risk/history "$VIEWER"
check "risk history of the fleet: 200 with its shape" test "$code:$(jq_ 'd["scope"] == "fleet" and all(set(p) == {"ts", "score"} for p in d["items"])')" = "200:True"
req GET "/risk/history?scope=$id1&since=0" "$VIEWER"
check "risk history of an agent: 200" test "$code:$(jq_ 'd["scope"] == "'"$id1"'" and isinstance(d["items"], list)')" = "200:True"
req GET "/risk/history?scope=nobody" "$VIEWER"
check "risk history of an unknown agent: 404" test "$code" = 404
req GET "/risk/history?since=-1" "$VIEWER"
check "risk history since=-1: 400" test "$code" = 400
req GET "/alerts?limit=1" "$VIEWER"
rid=$(jq_ 'd["items"][0]["rule_id"]'); asol=$(jq_ 'd["items"][0]["solution"]')
req GET "/solutions/$rid" "$VIEWER"
check "the solution of an alert's rule: the alert's own" test "$code:$(jq_ 'd')" = "200:$asol"
req GET /solutions/no-such-rule "$VIEWER"
check "an unknown rule: the generic solution in both languages" test "$code:$(jq_ 'bool(d["what"]["en"] and d["what"]["zh"])')" = "200:True"
req GET /solutions/ "$VIEWER"
check "no rule id: 404" test "$code" = 404
req GET "/rules?limit=1000" "$VIEWER"
check "rules: 200 with every loaded rule" test "$code:$(jq_ 'd["total"] == len(d["items"]) and d["total"] >= 1 and d["next_offset"] is None')" = "200:True"
check "rules have id, title, level, tags and log source" test "$(jq_ 'all(set(r) >= {"id", "title", "level", "tags", "product", "service", "category"} and isinstance(r["tags"], list) for r in d["items"])')" = True
check "the alert's rule is listed" test "$(jq_ 'any(r["id"] == "'"$rid"'" for r in d["items"])')" = True
allrules=$(jq_ '"".join("|" + str(r["id"]) for r in d["items"])')
rpages() {
  local off=0 out=""
  while :; do
    req GET "/rules?limit=2&offset=$off" "$VIEWER"
    [ "$code" = 200 ] || return 1
    out="$out$(jq_ '"".join("|" + str(r["id"]) for r in d["items"])')"
    off=$(jq_ 'd["next_offset"]')
    [ "$off" = None ] && break
  done
  echo "$out"
}
check "rules pages with offset cover every rule once" test "$(rpages)" = "$allrules"
req GET "/rules?offset=999999" "$VIEWER"
check "rules past the end: empty" test "$code:$(jq_ 'd["items"], d["next_offset"]')" = "200:([], None)"
req GET "/rules?limit=1001" "$VIEWER"
check "rules limit=1001: 400" test "$code" = 400

# 9. API tokens and logout.
API=$(yw user token analyst --label ci)
req GET /me "$API"
check "an API token authenticates" test "$code:$(jq_ 'd["user"]')" = "200:analyst"
req POST /logout "$VIEWER"
check "logout: 200" test "$code" = 200
req GET /me "$VIEWER"
check "the session is over after logout" test "$code" = 401
check "user delete" yw user delete analyst
req GET /me "$API"
check "a deleted user's token is refused" test "$code" = 401

# 10. Login failures: after 5 from one address, 429 with Retry-After, even with the password.
for i in 1 2 3 4 5; do req POST /login "" '{"user":"admin","password":"guess-'$i'"}'; done
req POST /login "" '{"user":"admin","password":"admin-password"}'
check "the 6th login from the address: 429" test "$code" = 429
check "429 has Retry-After" grep -Eqi '^Retry-After: [0-9]+' "$T/hdr"
req GET /me "$ADMIN"
check "existing sessions still work" test "$code" = 200

# 11. Plain HTTP: on loopback only.
printf 'http:\n  listen: 0.0.0.0:%s\n  tls: false\n' "$(free_port)" >"$T/plain-any.yml"
"$build/yiwang-server" --data-dir "$T/p1" --listen "127.0.0.1:$(free_port)" \
  --config "$T/plain-any.yml" >"$T/p1.log" 2>&1 &
P1=$!; PIDS+=("$P1")
exit_status 20 "$P1"
check "plain HTTP on 0.0.0.0 is refused" test "$EXIT_STATUS" != 0 -a "$EXIT_STATUS" != running
check "and says why" grep -q 'plain HTTP (http.tls off) only on a loopback address' "$T/p1.log"
pport=$(free_port)
printf 'http:\n  listen: 127.0.0.1:%s\n  tls: false\n' "$pport" >"$T/plain-lo.yml"
start_server "$T/p2" "127.0.0.1:$(free_port)" --config "$T/plain-lo.yml"
check "plain HTTP on loopback starts" log_has 20 "$T/p2.log" "HTTP API on http://127\.0\.0\.1:$pport/"
check "plain HTTP on loopback serves" sh -c "curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:$pport/api/v1/openapi.json | grep -qx 200"

kill -INT "$S_PID" "$SERVER_PID"
exit_status 30 "$S_PID"; s1=$EXIT_STATUS
exit_status 30 "$SERVER_PID"
check "servers stop cleanly" test "$s1:$EXIT_STATUS" = 0:0
check "no sanitizer reports" clean_logs "$S.log" "$T/p2.log" "$T/a1.log" "$T/a2.log"
exit $fail
