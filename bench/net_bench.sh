#!/usr/bin/env bash
# Benchmarks of the agent <-> server network on loopback; prints figures, not pass/fail.
#   (a) AGENTS real TLS agent connections (bench_loadgen) at RATE records/s each for DURATION s:
#       loss, server CPU and RSS, RSS per connected agent
#   (b) the highest sustained records/s into the store: SWEEP_AGENTS agents at increasing rates
#       until the server falls behind, then unthrottled
#   (c) yiwang-agent following a file that grows by 1,000 lines/s for DURATION s: RSS, CPU
#   (d) a line written to the followed file -> its alert stored: median and p99
# Usage: bench/net_bench.sh [BUILD_DIR]   (a Release build: cmake -DCMAKE_BUILD_TYPE=Release)
# Environment: AGENTS (1000) RATE (10) DURATION (60) SWEEP_AGENTS (50) SWEEP_RATES
# ("200 400 800 1600 3200") SWEEP_DURATION (15) LAT_LINES (300) KEEP=1 keeps the work dir.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
AGENTS=${AGENTS:-1000} RATE=${RATE:-10} DURATION=${DURATION:-60}
SWEEP_AGENTS=${SWEEP_AGENTS:-50} SWEEP_RATES=${SWEEP_RATES:-"200 400 800 1600 3200"}
SWEEP_DURATION=${SWEEP_DURATION:-15} LAT_LINES=${LAT_LINES:-300}
[ "$SWEEP_AGENTS" -le "$AGENTS" ] || SWEEP_AGENTS=$AGENTS # (b) reuses (a)'s identities
corpus=${YW_SHARED_DIR:-$src/../shared}/corpus/auth/ubuntu-ec2-auth.log
for p in yiwang yiwang-server yiwang-agent bench/bench_loadgen; do
  [ -x "$build/$p" ] || { echo "net_bench: $build/$p missing (build it first)" >&2; exit 2; }
done
command -v sqlite3 >/dev/null || { echo "net_bench: sqlite3 is needed" >&2; exit 2; }

T=$(mktemp -d /tmp/yw-netbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
ROWS=()
row() { ROWS+=("$(printf '| %s | %s | %s |' "$1" "$2" "$3")"); }
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds
wait_for() {
  local n=$(($1 * 5)); shift
  until "$@" 2>/dev/null; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.2; done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
db() { sqlite3 -cmd '.timeout 5000' "$T/s/yiwang.db" "$@"; }
events() { db "SELECT COUNT(*) FROM events"; }
# field KEY: a value from the last bench_loadgen RESULT line in $T/lg.out
field() { sed -n 's/^RESULT .*\b'"$1"'=\([^ ]*\).*/\1/p' "$T/lg.out" | tail -1; }
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
proc_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), \
$(free -m | awk '/^Mem:/ {print $2}') MiB RAM, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "work dir $T"

# ---- the server ----
port=$(free_port)
cat >"$T/server.yml" <<YML
agents:
  eps_limit: 0
  max: $((AGENTS + 100))
log_level: warning
YML
"$build/yiwang-server" --config "$T/server.yml" --data-dir "$T/s" --listen "127.0.0.1:$port" \
  --advertise "127.0.0.1:$port" --rules "$src/rules/sigma" >>"$T/s.log" 2>&1 &
SERVER_PID=$!; PIDS+=("$SERVER_PID")
wait_for 20 test -S "$T/s/yiwang.sock" || { echo "net_bench: the server did not start" >&2; exit 1; }

# ---- (a) AGENTS agents x RATE records/s ----
echo "(a) $AGENTS agents x $RATE records/s for $DURATION s (enrolling first)"
tok=$("$build/yiwang" token create --uses "$AGENTS" --data-dir "$T/s")
before=$(events)
set +e
"$build/bench/bench_loadgen" -n "$AGENTS" -r "$RATE" -d "$DURATION" -e "$tok" -s "$T/agents" \
  -p "$SERVER_PID" -D 120 >"$T/lg.out" 2>"$T/lg.err"
rc=$?
set -e
sed 's/^/    /' "$T/lg.out" | grep -v RESULT
stored=$(( $(events) - before ))
sent=$(field sent); sent=${sent:-0}
row "(a) agents connected" "$(field connected) of $AGENTS" "connect phase $(field connect_s) s"
row "(a) records offered / sent / acked / stored" \
  "$(field offered) / $sent / $(field acked) / $stored" \
  "loss (sent - stored) $((sent - stored)); exit status $rc"
row "(a) acked records/s while sending" "$(field acked_per_s)" "offered $((AGENTS * RATE))/s"
row "(a) ACK latency p50 / p99 / max" "$(field p50_ms) / $(field p99_ms) / $(field max_ms) ms" \
  "record sent -> its ACK received"
row "(a) server CPU while sending" "$(field server_cpu_pct) % of one core" \
  "per thread (tid:%) $(field server_threads_pct); loadgen $(field loadgen_cpu_pct) %"
row "(a) server RSS idle / $AGENTS connected / end (peak)" \
  "$(($(field server_rss_idle_kb) / 1024)) / $(($(field server_rss_conn_kb) / 1024)) / \
$(($(field server_rss_end_kb) / 1024)) ($(($(field server_hwm_kb) / 1024))) MiB" "VmRSS, VmHWM"
row "(a) server RSS per connected agent" "$(field rss_per_agent_kb) KiB" \
  "(RSS connected - RSS idle) / agents"

# ---- (b) the highest sustained records/s ----
echo "(b) $SWEEP_AGENTS agents, rates $SWEEP_RATES records/s each, $SWEEP_DURATION s per step"
best=0 best_note="none sustained"
for r in $SWEEP_RATES; do
  before=$(events)
  set +e
  "$build/bench/bench_loadgen" -n "$SWEEP_AGENTS" -r "$r" -d "$SWEEP_DURATION" -s "$T/agents" \
    -p "$SERVER_PID" -H 1 -D 60 >"$T/lg.out" 2>>"$T/lg.err"
  set -e
  stored=$(( $(events) - before ))
  off=$(field offered) sent=$(field sent) acked=$(field acked) aps=$(field acked_per_s)
  p99=$(field p99_ms)
  echo "    $((SWEEP_AGENTS * r))/s offered: sent $sent acked $acked stored $stored," \
    "acked/s $aps, ACK p99 $p99 ms, server CPU $(field server_cpu_pct) %" \
    "($(field server_threads_pct))"
  # Sustained: everything offered was sent (no backlog), acknowledged and stored, ACKs kept
  # pace (>= 95 % of the offered rate while sending) and p99 stayed under a second.
  if [ "$sent" = "$off" ] && [ "$acked" = "$sent" ] && [ "$stored" = "$sent" ] &&
     awk -v a="$aps" -v o="$((SWEEP_AGENTS * r))" -v p="$p99" \
       'BEGIN {exit !(a >= 0.95 * o && p < 1000)}'; then
    best=$((SWEEP_AGENTS * r)) best_note="p99 ACK $p99 ms, server CPU $(field server_cpu_pct) %"
  else
    break
  fi
done
row "(b) highest sustained rate" "$best records/s" "$SWEEP_AGENTS agents; $best_note"
before=$(events)
set +e
"$build/bench/bench_loadgen" -n "$SWEEP_AGENTS" -r 0 -d "$SWEEP_DURATION" -s "$T/agents" \
  -p "$SERVER_PID" -H 1 -D 60 >"$T/lg.out" 2>>"$T/lg.err"
set -e
stored=$(( $(events) - before ))
echo "    unthrottled: sent $(field sent) acked $(field acked) stored $stored," \
  "acked/s $(field acked_per_s), ACK p99 $(field p99_ms) ms, server CPU" \
  "$(field server_cpu_pct) % ($(field server_threads_pct))"
row "(b) unthrottled (window 20,000, batches 2,000)" "$(field acked_per_s) records/s" \
  "stored $stored of $(field sent) sent; ACK p99 $(field p99_ms) ms; server CPU \
$(field server_cpu_pct) % ($(field server_threads_pct))"

# ---- (c) the agent following a file at 1,000 lines/s ----
echo "(c) yiwang-agent following a file at 1,000 lines/s for $DURATION s"
tok=$("$build/yiwang" token create --data-dir "$T/s")
"$build/yiwang-agent" enroll "$tok" --state-dir "$T/agent" >/dev/null
: >"$T/follow.log"
"$build/yiwang-agent" --state-dir "$T/agent" --file "$T/follow.log" --from-beginning \
  >>"$T/agent.log" 2>&1 &
AGENT_PID=$!; PIDS+=("$AGENT_PID")
wait_for 20 grep -q "connected to" "$T/agent.log" || { echo "net_bench: agent did not connect" >&2; exit 1; }
num=$(db "SELECT num FROM agents ORDER BY num DESC LIMIT 1")
agent_events() { db "SELECT COUNT(*) FROM events WHERE agent = $num"; }
agent_events_ge() { [ "$(agent_events)" -ge "$1" ]; }
sleep 1
cpu0=$(proc_cpu "$AGENT_PID") t0=$(date +%s.%N)
python3 - "$T/follow.log" "$corpus" "$DURATION" <<'PY'
# 1,000 lines/s in 10 ms steps of 10 lines, each with a unique pid; paced on the clock.
import re, sys, time
out, corpus, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l.rstrip("\n") for l in open(corpus, errors="replace") if re.search(r"\[\d+\]: ", l)]
n, start = 0, time.monotonic()
with open(out, "a") as f:
    for step in range(secs * 100):
        buf = []
        for _ in range(10):
            l = lines[n % len(lines)]
            buf.append(re.sub(r"\[\d+\]: ", "[%d]: " % (100000 + n), l, count=1))
            n += 1
        f.write("\n".join(buf) + "\n")
        f.flush()
        delay = start + (step + 1) / 100 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
PY
t1=$(date +%s.%N) cpu1=$(proc_cpu "$AGENT_PID")
hwm=$(proc_kb "$AGENT_PID" VmHWM) rss=$(proc_kb "$AGENT_PID" VmRSS)
want=$((DURATION * 1000))
wait_for 120 agent_events_ge "$want" || true
got=$(agent_events)
tck=$(getconf CLK_TCK)
pct=$(awk -v c="$((cpu1 - cpu0))" -v t="$tck" -v a="$t0" -v b="$t1" \
  'BEGIN {printf "%.2f", 100 * c / t / (b - a)}')
echo "    agent CPU $pct % of one core, VmHWM $hwm KiB, VmRSS $rss KiB, stored $got of $want"
row "(c) agent RSS at 1,000 lines/s (peak / end)" \
  "$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}') / \
$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}') MiB" "target <= 8 MiB (VmHWM)"
row "(c) agent CPU at 1,000 lines/s" "$pct % of one core" \
  "target <= 2 %; $((cpu1 - cpu0)) ticks over $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s; stored $got of $want"

# ---- (d) latency: line written -> alert stored ----
echo "(d) $LAT_LINES sshd failures at 10 lines/s -> 'SSH Authentication Failure' alerts"
python3 - "$T/follow.log" "$T/written.txt" "$LAT_LINES" <<'PY'
# Each line carries its id as the port; its write time (CLOCK_REALTIME, ns) goes to a file.
# Every line comes from its own address (documentation ranges, never contacted): alerts from
# one source are folded into one open alert with a count, and each must be timed alone.
import sys, time
nets = ["192.0.2.", "198.51.100.", "203.0.113."]
out, times, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.monotonic()
with open(out, "a") as f, open(times, "w") as t:
    for i in range(n):
        port = 40000 + i
        ip = nets[i // 250 % 3] + str(i % 250 + 1)
        f.write("Nov 26 12:00:00 bench-host sshd[4242]: Failed password for root from "
                "%s port %d ssh2\n" % (ip, port))
        f.flush()
        t.write("%d %d\n" % (port, time.time_ns()))
        delay = start + (i + 1) / 10 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
PY
q="SELECT CAST(e.data AS TEXT), a.created_at FROM alerts a
   JOIN events e ON e.agent = a.agent AND e.seq = a.seq
   WHERE a.agent = $num AND a.title = 'SSH Authentication Failure'
   AND CAST(e.data AS TEXT) LIKE '%Failed password for root from % port 4% ssh2'"
lat_ge() { [ "$(db "SELECT COUNT(*) FROM ($q)")" -ge "$1" ]; }
wait_for 60 lat_ge "$LAT_LINES" || true
db -separator ' ' "$q" >"$T/alerts.txt"
lat=$(python3 - "$T/written.txt" "$T/alerts.txt" <<'PY'
import re, sys
written = dict(map(int, l.split()) for l in open(sys.argv[1]))
lat = []
for l in open(sys.argv[2]):
    m = re.search(r"port (\d+) ssh2 (\d+)$", l.strip())
    if m and int(m.group(1)) in written:
        lat.append((int(m.group(2)) - written[int(m.group(1))]) / 1e6)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")
print("%d %.1f %.1f %.1f %.1f" % (len(lat), pct(50), pct(99), lat[0] if lat else 0,
                                  lat[-1] if lat else 0))
PY
)
read -r ln p50 p99 lmin lmax <<<"$lat"
echo "    $ln alerts: median $p50 ms, p99 $p99 ms (min $lmin, max $lmax)"
row "(d) line written -> alert stored, median / p99" "$p50 / $p99 ms" \
  "target p99 < 1 s; $ln of $LAT_LINES alerts, min $lmin ms, max $lmax ms"

echo
echo "| measure | result | notes |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
