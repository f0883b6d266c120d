#!/usr/bin/env bash
# Exactly once: an agent streams 100,000 log lines to the server; in separate runs the server
# is killed -9 mid-stream, the agent is killed -9 mid-stream, and the network between them is
# cut (the agent in a network namespace of this test, its link taken down). Afterwards every
# line is stored exactly once.
source "$(dirname "$0")/lib.bash"
N=${YW_E2E_EVENTS:-100000}
python3 - "$T/input.log" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write("Nov 26 08:%02d:%02d host-e2e app[42]: evt-%07d payload\n" % (i // 60 % 60, i % 60, i))
PY

verify() { # verify SERVER_DIR LABEL
  local dir=$1 what=$2
  if ! wait_for 180 stored_ge "$dir" "$N"; then
    echo "     stored only $(db_count "$dir") of $N"
  fi
  sleep 0.5
  local r
  r=$(sqlite3 -cmd '.timeout 5000' "$dir/yiwang.db" "SELECT COUNT(*), COUNT(DISTINCT data), COUNT(DISTINCT seq),
      MIN(CAST(substr(data, instr(data,'evt-')+4, 7) AS INTEGER)),
      MAX(CAST(substr(data, instr(data,'evt-')+4, 7) AS INTEGER)) FROM events")
  check "$what: every line stored exactly once ($r)" test "$r" = "$N|$N|$N|1|$N"
}

enrol() { # enrol SERVER_DIR AGENT_DIR
  local tok
  tok=$("$build/yiwang" token create --data-dir "$1")
  "$build/yiwang-agent" enroll "$tok" --state-dir "$2" >/dev/null
}

start_agent() { # start_agent AGENT_DIR [netns]
  local cmd=("$build/yiwang-agent" --config "$QUIET_CFG" --state-dir "$1" --file "$T/input.log" --from-beginning)
  if [ -n "${2:-}" ]; then cmd=(ip netns exec "$2" "${cmd[@]}"); fi
  "${cmd[@]}" >>"$1.log" 2>&1 &
  AGENT_PID=$!; PIDS+=("$AGENT_PID")
}

# 1. kill -9 the server mid-stream, start it again.
port=$(free_port); S=$T/s1; A=$T/a1
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
enrol "$S" "$A"
start_agent "$A"
wait_for 60 stored_ge "$S" $((N / 5)) || true
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
echo "     server killed at $(db_count "$S") stored"
sleep 1
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
verify "$S" "server killed -9"
kill "$AGENT_PID" "$SERVER_PID"; wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null || true

# 2. kill -9 the agent mid-stream, start it again.
port=$(free_port); S=$T/s2; A=$T/a2
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
enrol "$S" "$A"
start_agent "$A"
wait_for 60 stored_ge "$S" $((N / 5)) || true
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
echo "     agent killed at $(db_count "$S") stored"
start_agent "$A"
verify "$S" "agent killed -9"
kill "$AGENT_PID" "$SERVER_PID"; wait "$AGENT_PID" "$SERVER_PID" 2>/dev/null || true

# 3. Cut the network: the agent lives in a namespace joined by a veth pair; the link goes
#    down long enough for both sides to give the connection up, then comes back.
if ip netns add "yw-e2e-$$" 2>/dev/null; then
  NETNS=yw-e2e-$$
  ip link add yw-h0 type veth peer name yw-a0
  ip link set yw-a0 netns "$NETNS"
  ip addr add 10.251.$(( $$ % 200 )).1/30 dev yw-h0; ip link set yw-h0 up
  ip netns exec "$NETNS" ip addr add 10.251.$(( $$ % 200 )).2/30 dev yw-a0
  ip netns exec "$NETNS" ip link set yw-a0 up
  ip netns exec "$NETNS" ip link set lo up
  addr=10.251.$(( $$ % 200 )).1:$(free_port); S=$T/s3; A=$T/a3
  cat > "$T/s3.yml" <<YML
agents:
  heartbeat: 1s
  idle_timeout: 3s
YML
  start_server "$S" "$addr" --config "$T/s3.yml" --rules "$src/rules/sigma"
  enrol "$S" "$A"
  start_agent "$A" "$NETNS"
  wait_for 60 stored_ge "$S" $((N / 5)) || true
  ip link set yw-h0 down
  echo "     link down at $(db_count "$S") stored"
  sleep 6
  ip link set yw-h0 up
  verify "$S" "network cut"
  check "the agent reconnected after the cut" grep -q "connection to .* lost" "$A.log"
else
  echo "skip - network cut (cannot create a network namespace here)"
fi
exit $fail
