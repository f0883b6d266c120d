#!/usr/bin/env bash
# Least privilege: the agent started as root keeps only the capabilities its configuration
# needs (here: files, process executions and the kill_process response action) in its
# effective, permitted and bounding sets, with no_new_privs; a file line and a process
# execution still reach the server. Then the same agent as user nobody (agent.user) keeps
# the same set, also as ambient capabilities, and still delivers.
source "$(dirname "$0")/lib.bash"
if [ "$(id -u)" != 0 ]; then echo "skip - needs root"; exit 0; fi
port=$(free_port); S=$T/s; A=$T/a
start_server "$S" "127.0.0.1:$port"
enrol_agent "$("$build/yiwang" token create --data-dir "$S")" "$A"
cat > "$T/agent.yml" <<YML
journald: off
network:
  enabled: false
inventory:
  enabled: false
sca:
  enabled: false
fim:
  enabled: false
audit:
  check: false
respond:
  actions: [kill_process]
files: [$T/app.log]
YML
# cap_dac_read_search (2), cap_kill (5), cap_sys_ptrace (19)
want=0000000000080024
: > "$T/app.log"
"$build/yiwang-agent" --config "$T/agent.yml" --state-dir "$A" >>"$A.log" 2>&1 &
ap=$!; PIDS+=($ap)
log_has 10 "$A.log" "privileges: uid 0, capabilities" || true
status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$ap/status"; }
check "the agent logs the capabilities it keeps" \
  grep -q "capabilities cap_dac_read_search,cap_kill,cap_sys_ptrace " "$A.log"
check "CapEff is exactly the needed set" test "$(status CapEff)" = $want
check "CapPrm too" test "$(status CapPrm)" = $want
check "CapBnd too (nothing can be regained)" test "$(status CapBnd)" = $want
check "no inheritable or ambient capabilities as root" \
  test "$(status CapInh)$(status CapAmb)" = 00000000000000000000000000000000
check "NoNewPrivs is set" test "$(status NoNewPrivs)" = 1
wait_for 10 grep -q "connected to" "$A.log" || true
echo "privs-line-one $$" >> "$T/app.log"
lq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%privs-line-one $$%'"
wait_for 10 sql_ge "$S" 1 "$lq" || true
check "a file line still reaches the server" sql_ge "$S" 1 "$lq"
if grep -q "collector process started" "$A.log"; then
  mkdir -p "$T/bin" && cp /bin/cat "$T/bin/privcat"
  mkfifo "$T/hold"
  "$T/bin/privcat" "$T/hold" > /dev/null &
  cp=$!
  pq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%\"process.executable\":\"$T/bin/privcat\"%'"
  wait_for 10 sql_ge "$S" 1 "$pq" || true
  timeout 5 bash -c "echo > \"$T/hold\"" || kill "$cp" 2>/dev/null; wait "$cp" || true
  check "a process execution still reaches the server" sql_ge "$S" 1 "$pq"
else
  echo "skip - process connector unavailable here"
fi
kill "$ap"; exit_status 10 "$ap"
check "the agent stops cleanly" test "$EXIT_STATUS" = 0

# As nobody: the state directory must be the user's; the log file stays root's (0600, in a
# 0700 directory) and is read through cap_dac_read_search.
chown -R nobody: "$A"
chmod 600 "$T/app.log"
printf 'agent:\n  user: nobody\n' >> "$T/agent.yml"
"$build/yiwang-agent" --config "$T/agent.yml" --state-dir "$A" >>"$A.log" 2>&1 &
ap=$!; PIDS+=($ap)
log_has 10 "$A.log" "privileges: uid $(id -u nobody), capabilities" || true
check "agent.user: runs as nobody" test "$(awk '$1 == "Uid:" {print $2 $3 $4 $5}' /proc/$ap/status)" = "$(id -u nobody)$(id -u nobody)$(id -u nobody)$(id -u nobody)"
check "agent.user: CapEff is the needed set" test "$(status CapEff)" = $want
check "agent.user: CapBnd too" test "$(status CapBnd)" = $want
check "agent.user: ambient, for the programs it runs" test "$(status CapAmb)" = $want
check "agent.user: NoNewPrivs" test "$(status NoNewPrivs)" = 1
echo "privs-line-two $$" >> "$T/app.log"
lq="SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%privs-line-two $$%'"
wait_for 10 sql_ge "$S" 1 "$lq" || true
check "agent.user: a root-only file line still reaches the server" sql_ge "$S" 1 "$lq"
check "no sanitizer report" clean_logs "$A.log" "$S.log"
exit $fail
