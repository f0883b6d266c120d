#!/usr/bin/env bash
# The agent's events/s limit holds collection back without losing a line, and reports the time
# it spent paused as an event the server stores.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s; A=$T/a
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
"$build/yiwang-agent" enroll "$("$build/yiwang" token create --data-dir "$S")" --state-dir "$A" >/dev/null
for i in $(seq 1 600); do echo "Nov 26 08:00:00 h app[1]: line $i"; done > "$T/in.log"
{ cat "$QUIET_CFG"; cat <<YML
eps_limit: 200
eps_report_interval: 1s
YML
} > "$T/agent.yml"
"$build/yiwang-agent" --config "$T/agent.yml" --state-dir "$A" --file "$T/in.log" --from-beginning \
  >>"$A.log" 2>&1 &
PIDS+=($!)
t0=$(date +%s.%N)
wait_for 30 stored_ge "$S" 600 || true
t1=$(date +%s.%N)
lines=$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT COUNT(*) FROM events WHERE kind = 1")
check "every line arrives despite the limit ($lines of 600)" test "$lines" -eq 600
check "the limit held the rate down (600 lines at 200/s took $(echo "$t1 - $t0" | bc) s)" \
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.8) }'
wait_for 10 sql_ge "$S" 1 "SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%agent_eps_limited%'" || true
n=$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%agent_eps_limited%'")
check "the pause is reported as an agent event ($n)" test "$n" -ge 1
exit $fail
