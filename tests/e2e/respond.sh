#!/usr/bin/env bash
# Response actions through the real programs: `yiwang respond quarantine_file` moves a file on
# the agent, the result comes back, the agent's audit record is stored among the server's
# events, `--undo` restores the file; a block of the server's own address is denied by the
# agent's allowlist; a command for an agent that is not connected is refused.
source "$(dirname "$0")/lib.bash"
if ! "$build/yiwang" respond --help >/dev/null 2>&1; then
  echo "skip - \`yiwang respond\` is not wired into the CLI (src/cli/main.c)"
  exit 0
fi
port=$(free_port); S=$T/s
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
yw() { "$build/yiwang" "$@" --data-dir "$S"; }
tok=$(yw token create)
check "enrol" enrol_agent "$tok" "$T/a"
id=$(agent_id "$T/a")
mkdir -p "$T/victim"
cp "$QUIET_CFG" "$T/agent.yml"
cat >>"$T/agent.yml" <<YML
respond:
  quarantine_paths: ["$T/victim"]
YML
: >"$T/in.log"
run_agent "$T/a" "$T/in.log" --config "$T/agent.yml"
check "agent connects" wait_for 15 grep -q "connected to 127.0.0.1:$port as $id" "$T/a.log"

# jfield JSON KEY...: a (nested) field of a JSON object
jfield() { python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"; }

# 1. quarantine: the file moves, the result (hash, undo token) comes back
printf 'evil payload\n' >"$T/victim/evil.sh"; chmod 0750 "$T/victim/evil.sh"
want=$(sha256sum "$T/victim/evil.sh" | cut -d' ' -f1)
out=$(yw respond quarantine_file --agent "$id" --file "$T/victim/evil.sh" --output json) || true
check "quarantine_file: ok ($out)" test "$(jfield "$out" status)" = ok
check "the file is gone" test ! -e "$T/victim/evil.sh"
check "the result carries the SHA-256" test "$(jfield "$out" result sha256)" = "$want"
qid=$(jfield "$out" result quarantine_id)
check "the file is in the agent's quarantine" test -f "$T/a/quarantine/$qid"
check "the quarantine has its metadata sidecar" test -f "$T/a/quarantine/$qid.json"
undo=$(jfield "$out" result undo)
check "an undo token came back" test "$undo" = "restore_file:$qid"
check "the text output shows the result and the undo command" \
  bash -c "\"$build/yiwang\" respond status $(jfield "$out" id) --data-dir '$S' | grep -q -- '--undo .restore_file:'"
check "responses.db is 0600" test "$(stat -c %a "$S/responses.db")" = 600
check "responses.db has the command as ok" \
  test "$(sqlite3 "$S/responses.db" "SELECT status FROM commands WHERE id = $(jfield "$out" id)")" = ok

# 2. the audit trail: the agent's record is stored like any event (kind 3)
audit_q="SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%\"event.action\":\"response_quarantine_file\"%' AND CAST(data AS TEXT) LIKE '%\"event.outcome\":\"success\"%'"
check "the audit record is stored among the events" wait_for 20 sql_ge "$S" 1 "$audit_q"

# 3. undo restores the file with its content and mode
out=$(yw respond --agent "$id" --undo "$undo" --output json) || true
check "undo: ok ($out)" test "$(jfield "$out" status)" = ok
check "the file is back" test "$(cat "$T/victim/evil.sh" 2>/dev/null)" = "evil payload"
check "with its mode" test "$(stat -c %a "$T/victim/evil.sh")" = 750
check "the restore is audited" wait_for 20 sql_ge "$S" 1 \
  "SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%response_restore_file%'"

# 4. the agent never blocks the server's address (nor loopback), whatever the server says
set +e
out=$(yw respond block_ip --agent "$id" --ip 127.0.0.1 --for 10m --output json); rc=$?
set -e
check "block_ip of the server's address is denied ($out)" test "$(jfield "$out" status)" = denied
check "the CLI exits 1 on a refused action" test $rc = 1
check "the error names the allowlist" grep -q allowlist <<<"$(jfield "$out" result error)"
check "the denial is audited" wait_for 20 sql_ge "$S" 1 \
  "SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%response_block_ip%' AND CAST(data AS TEXT) LIKE '%\"yiwang.response.status\":\"denied\"%'"

# 5. a file outside the agent's quarantine paths is refused; nothing moves
set +e
out=$(yw respond quarantine_file --agent "$id" --file "$T/in.log" --output json)
set -e
check "quarantine outside the allowed paths is denied" test "$(jfield "$out" status)" = denied
check "that file stayed" test -e "$T/in.log"

# 6. no live connection: refused by the server at once, not queued
set +e
err=$(yw respond block_ip --agent no-such-agent --ip 203.0.113.5 2>&1); rc=$?
set -e
check "an agent that is not connected is refused ($err)" \
  test $rc = 1 -a "$(grep -c 'not connected' <<<"$err")" = 1

check "no sanitizer reports" clean_logs "$S.log" "$T/a.log"
exit $fail
