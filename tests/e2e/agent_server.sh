#!/usr/bin/env bash
# The functional path of the real programs on loopback: tokens (single use, expired, N uses),
# enrolment (identity files 0600 in a 0700 directory), an agent streaming a log file, alerts
# from the bundled rules (`yiwang alerts`, also with --follow), `yiwang agents`, revocation of a
# live agent, and a clean stop of agent and server on SIGINT.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
yw() { "$build/yiwang" "$@" --data-dir "$S"; }

# 1. A default token (1 use, 24 h) enrols one agent; the identity is owner-only.
tok=$(yw token create)
check "enrol with a fresh token" enrol_agent "$tok" "$T/a1"
id1=$(agent_id "$T/a1")
check "state directory is 0700" test "$(stat -c %a "$T/a1")" = 700
for f in agent.key agent.crt ca.crt server.addr; do
  check "$f is 0600" test "$(stat -c %a "$T/a1/$f")" = 600
done
check "a single-use token is refused the second time" \
  not enrol_agent "$tok" "$T/a1b"
check "the server logs the reused token with the peer" \
  grep -Eq '127\.0\.0\.1:[0-9]+: closed: enrolment token rejected: enrolment token used up' "$S.log"
check "the refused enrolment left no identity" test ! -e "$T/a1b/agent.crt"

# 2. An expired token is refused.
tok=$(yw token create --expires 1s)
sleep 1.2
check "an expired token is refused" not enrol_agent "$tok" "$T/ax"
check "the server logs the expired token" grep -q 'enrolment token expired' "$S.log"

# 3. --uses 2: twice, not three times.
tok=$(yw token create --uses 2)
check "a 2-use token works once" enrol_agent "$tok" "$T/a2"
check "a 2-use token works twice" enrol_agent "$tok" "$T/a3"
check "a 2-use token is refused the third time" \
  not enrol_agent "$tok" "$T/a4"
check "the two agents got different ids" test "$(agent_id "$T/a2")" != "$(agent_id "$T/a3")"

# 4. The agent streams a file; the bundled rules raise alerts for it.
: >"$T/in1.log"
run_agent "$T/a1" "$T/in1.log"; A1=$AGENT_PID
check "agent 1 connects" wait_for 15 grep -q "connected to 127.0.0.1:$port as $id1" "$T/a1.log"
cat "$src/samples/auth.log" >>"$T/in1.log"
lines=$(wc -l <"$src/samples/auth.log")
has_alert() { # has_alert TITLE AGENT_ID
  yw alerts --output jsonl --limit 1000 | python3 -c '
import json, sys
sys.exit(0 if any(a["title"] == sys.argv[1] and a["agent_id"] == sys.argv[2]
                  for a in map(json.loads, sys.stdin)) else 1)' "$1" "$2"
}
check "alert 'User Added To A Privileged Group' for agent 1" \
  wait_for 20 has_alert "User Added To A Privileged Group" "$id1"
check "alert 'Root Password Changed' for agent 1" has_alert "Root Password Changed" "$id1"
agent_field() { # agent_field ID FIELD: prints the field of `yiwang agents --output jsonl`
  yw agents --output jsonl | python3 -c '
import json, sys
for a in map(json.loads, sys.stdin):
    if a["id"] == sys.argv[1]:
        print(a[sys.argv[2]])' "$1" "$2"
}
received_ge() { [ "$(agent_field "$1" events_received)" -ge "$2" ]; }
check "agents: every line received from agent 1" wait_for 15 received_ge "$id1" "$lines"
check "agents: agent 1 online" test "$(agent_field "$id1" online)" = 1
check "agents: agent 1 not revoked" test "$(agent_field "$id1" revoked_at)" = 0
check "agents: addresses is a JSON array" \
  python3 -c 'import json,sys; assert isinstance(json.loads(sys.argv[1]), list)' \
  "$(agent_field "$id1" addresses)"

# 5. alerts --follow prints an alert that arrives while it runs.
# (No `timeout` wrapper: it would signal the whole process group, LeakSanitizer's helper at
# exit included, under the ASan build. The cleanup kills it if it ever hangs.)
"$build/yiwang" alerts --follow --output jsonl --data-dir "$S" >"$T/follow.out" \
  2>"$T/follow.err" &
F=$!; PIDS+=("$F")
check "alerts --follow prints the stored alerts first" wait_for 10 test -s "$T/follow.out"
echo "Nov 26 02:00:00 ops-web-01 usermod[6001]: add 'mallory' to group 'sudo'" >>"$T/in1.log"
check "alerts --follow prints a new alert" wait_for 15 grep -q "mallory" "$T/follow.out"
kill -INT "$F"
rc=0; wait "$F" || rc=$?
check "alerts --follow stops on SIGINT with status 0" test "$rc" = 0

# 6. Revocation closes the live connection at once; the agent stops, a restart is refused.
check "revoke agent 1" yw agents revoke "$id1" >/dev/null
check "server logs the closed connection with the agent" \
  wait_for 5 grep -Eq "127\.0\.0\.1:[0-9]+ agent $id1: closed: agent revoked" "$S.log"
check "agent 1 logs that it was refused" wait_for 5 grep -q "refused" "$T/a1.log"
exit_status 10 "$A1"; rc=$EXIT_STATUS
check "agent 1 stops by itself with status 1 ($rc)" test "$rc" = 1
check "agents: agent 1 revoked and offline" \
  test "$(agent_field "$id1" revoked_at)" != 0 -a "$(agent_field "$id1" online)" = 0
run_agent "$T/a1" "$T/in1.log"; A1=$AGENT_PID
check "a revoked agent's reconnect is refused in the TLS handshake" \
  wait_for 15 grep -Eq "127\.0\.0\.1:[0-9]+: closed: TLS handshake failed.*CN=\"$id1\".*revoked" \
  "$S.log"
exit_status 15 "$A1"; rc=$EXIT_STATUS
check "the restarted revoked agent stops with status 1 ($rc)" test "$rc" = 1

# 7. SIGINT stops agent and server cleanly.
: >"$T/in2.log"
run_agent "$T/a2" "$T/in2.log"; A2=$AGENT_PID
id2=$(agent_id "$T/a2")
check "agent 2 connects" wait_for 15 grep -q "connected to 127.0.0.1:$port as $id2" "$T/a2.log"
head -5 "$src/samples/auth.log" >>"$T/in2.log"
check "agent 2's lines arrive" wait_for 15 received_ge "$id2" 5
kill -INT "$A2"
rc=0; wait "$A2" || rc=$?
check "agent 2 exits 0 on SIGINT" test "$rc" = 0
check "the agent said goodbye (server log)" \
  wait_for 5 grep -q "agent $id2: closed: agent said goodbye" "$S.log"
check "agents: agent 2 offline after its BYE" test "$(agent_field "$id2" online)" = 0
kill -INT "$SERVER_PID"
rc=0; wait "$SERVER_PID" || rc=$?
check "server exits 0 on SIGINT" test "$rc" = 0
check "server logs its shutdown" grep -q "shutting down" "$S.log"
check "server removed its API socket" test ! -e "$S/yiwang.sock"
check "no sanitizer reports in the logs" clean_logs "$S.log" "$T"/*.log
if [ $fail != 0 ]; then tail -n 40 "$S.log" "$T"/a*.log; fi
exit $fail
