#!/usr/bin/env bash
# bench/agent_idle.sh BUILD_DIR [AGENT_CONFIG]: yiwang-agent's CPU and RSS at idle, on loopback.
# Starts a server and an enrolled agent (default configuration: every collector on, or the given
# config with no log files), waits for the FIM baseline (when FIM is on) plus 30 s of settling,
# then prints the agent's CPU share (utime + stime from /proc/<pid>/stat) over three 60 s
# windows and its RSS. Take the median; run it on a quiet machine: the process and network
# collectors see the whole host. AGENT=path overrides the agent binary (before/after runs).
set -euo pipefail
build=$1 cfg=${2:-}
agent=${AGENT:-$build/yiwang-agent}
T=$(mktemp -d /tmp/yw-idle.XXXXXX); S=$T/s; A=$T/a
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/yiwang-server" --data-dir "$S" --listen "127.0.0.1:$port" --advertise "127.0.0.1:$port" \
  >"$S.log" 2>&1 &
sp=$!; ap=
trap 'kill $sp $ap 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -S "$S/yiwang.sock" ] && break; sleep 0.1; done
"$agent" enroll "$("$build/yiwang" token create --data-dir "$S")" --state-dir "$A" >/dev/null
if [ -n "$cfg" ]; then
  "$agent" --state-dir "$A" --config "$cfg" --file "$T/none.log" >"$A.log" 2>&1 &
else
  "$agent" --state-dir "$A" >"$A.log" 2>&1 &
fi
ap=$!
if [ -z "$cfg" ]; then
  for _ in $(seq 300); do
    n=$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%fim_baseline_created%'" 2>/dev/null || echo 0)
    [ "$n" -ge 1 ] && break; sleep 1
  done
fi
sleep 30
hz=$(getconf CLK_TCK)
for r in 1 2 3; do
  a=$(awk '{print $14 + $15}' "/proc/$ap/stat"); sleep 60; b=$(awk '{print $14 + $15}' "/proc/$ap/stat")
  echo "run $r: $(awk -v a="$a" -v b="$b" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz / 60 * 100 }') % CPU, RSS $(awk '/VmRSS/ {print $2}' "/proc/$ap/status") KiB"
done
grep -E 'collector .* started|network: sockets|privileges:' "$A.log" || true
