#!/usr/bin/env bash
# The process and network collectors: real actions on this machine (an exec, a listening socket
# and a connection to it) arrive at the server as events, and SigmaHQ's process_creation rules
# fire on them unchanged.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s; A=$T/a
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma" --rules "$shared/sigma/rules/linux"
"$build/yiwang-agent" enroll "$("$build/yiwang" token create --data-dir "$S")" --state-dir "$A" >/dev/null
mkdir -p "$T/watched"; echo original > "$T/watched/app.conf"
cat > "$T/agent.yml" <<YML
network:
  interval: 200ms
fim:
  paths: [$T/watched]
YML
"$build/yiwang-agent" --config "$T/agent.yml" --state-dir "$A" --file "$T/none.log" >>"$A.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "collector process started" "$A.log" || true
if ! grep -q "collector process started" "$A.log"; then
  echo "skip - process connector unavailable here: $(grep 'collector process' "$A.log" || true)"
else
  sleep 0.5
  mkdir -p "$T/bin" && cp /bin/cat "$T/bin/cat"
  # The command stays alive (blocked on a FIFO) until its event is stored, so the collector
  # can read all of /proc/<pid> even on a loaded machine; short-lived processes are reported
  # with what could be read, which the unit tests cover.
  mkfifo "$T/hold"
  "$T/bin/cat" /etc/passwd "$T/hold" > /dev/null &
  catpid=$!
  q="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"process.executable\":\"$T/bin/cat\"%'"
  wait_for 10 sql_ge "$S" 1 "$q" || true
  timeout 5 bash -c "echo > \"$T/hold\"" || kill "$catpid" 2>/dev/null; wait "$catpid" || true
  check "the exec arrives as a process_creation event" sql_ge "$S" 1 "$q"
  e=$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT event FROM events WHERE CAST(event AS TEXT) LIKE '%\"process.executable\":\"$T/bin/cat\"%' LIMIT 1")
  check "with its command line, parent and log source" python3 -c '
import json, sys
e = json.loads(sys.argv[1])
assert e["process.command_line"] == sys.argv[2] + " /etc/passwd " + sys.argv[3], e
assert e["process.args"] == [sys.argv[2], "/etc/passwd", sys.argv[3]], e
assert e["logsource.category"] == "process_creation" and e["user.name"] == "root", e
assert e["process.parent.pid"] > 1, e
' "$e" "$T/bin/cat" "$T/hold"
  aq="SELECT COUNT(*) FROM alerts WHERE title = 'Local System Accounts Discovery - Linux' AND CAST(event AS TEXT) LIKE '%$T/bin/cat%'"
  wait_for 5 sql_ge "$S" 1 "$aq" || true
  check "SigmaHQ's rule fires on it" sql_ge "$S" 1 "$aq"
fi
lport=$(free_port)
python3 - "$lport" <<'PY' &
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(1)
time.sleep(1.0)
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(2.0)
PY
PIDS+=($!)
lq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"event.action\":\"listening\"%' AND CAST(event AS TEXT) LIKE '%\"source.port\":$lport%'"
cq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"logsource.category\":\"network_connection\"%' AND CAST(event AS TEXT) LIKE '%\"destination.port\":$lport%'"
wait_for 10 sql_ge "$S" 1 "$cq" || true
check "a new listening socket is reported" sql_ge "$S" 1 "$lq"
check "the outbound connection is reported as network_connection" sql_ge "$S" 1 "$cq"
# Inventory and baseline: the full inventory at start (packages included) and one SCA summary
# with a pass rate for the shipped Debian policy.
iq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"event.action\":\"inventory_snapshot_end\"%'"
wait_for 15 sql_ge "$S" 1 "$iq" || true
check "the inventory snapshot arrives" sql_ge "$S" 1 "$iq"
check "with the installed packages" sql_ge "$S" 50 "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"event.dataset\":\"inventory.packages\"%'"
agent=$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT id FROM agents LIMIT 1")
check "the server keeps the terminal's current inventory" python3 -c '
import json, subprocess, sys
out = subprocess.run([sys.argv[1] + "/yiwang", "inventory", sys.argv[2], "--output", "jsonl",
                      "--data-dir", sys.argv[3]], capture_output=True, text=True, check=True).stdout
rows = [json.loads(l) for l in out.splitlines()]
ds = {r["dataset"] for r in rows}
assert {"os", "hostname", "packages", "users"} <= ds, ds
assert any(r["dataset"] == "users" and r["key"] == "root" for r in rows)
assert sum(r["dataset"] == "packages" for r in rows) >= 50
' "$build" "$agent" "$S"
sq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"event.action\":\"sca_summary\"%' AND CAST(event AS TEXT) LIKE '%yiwang.sca.score%'"
wait_for 15 sql_ge "$S" 1 "$sq" || true
check "the baseline policy ran and reported its score" sql_ge "$S" 1 "$sq"
check "baseline check events carry their CIS numbers" sql_ge "$S" 1 "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"yiwang.sca.check.id\":\"ssh.permit_root_login\"%' AND CAST(event AS TEXT) LIKE '%\"yiwang.sca.compliance.cis\":[\"5.2.9\"]%'"
# File integrity: the baseline is silent, a change made now arrives with its new hash.
wait_for 10 sql_ge "$S" 1 "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%fim_baseline_created%'" || true
echo changed > "$T/watched/app.conf"
h=$(sha256sum "$T/watched/app.conf" | cut -d' ' -f1)
fq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"event.action\":\"file_modified\"%' AND CAST(event AS TEXT) LIKE '%$h%'"
wait_for 10 sql_ge "$S" 1 "$fq" || true
check "a modified watched file is reported with its new hash" sql_ge "$S" 1 "$fq"
check "the baseline itself raised no file events" test "$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%file_added%'")" -eq 0
exit $fail
