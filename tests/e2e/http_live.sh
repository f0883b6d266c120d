#!/usr/bin/env bash
# The live stream GET /api/v1/stream and GET /metrics of the real server with a real enrolled
# agent on loopback (docs/api.md "Live stream", "Metrics"): 401 without a token; an agent's
# connect and disconnect as "agent" events; counters every 2 s; a new alert on the stream
# within 2 s of the log line being written (the latency is printed); Last-Event-ID resumes;
# /metrics parses as Prometheus text and its values move; the other endpoints answer while 64
# streams are open and a 65th is refused; the server stops promptly with streams open;
# http.metrics_public serves /metrics without a token to loopback.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s
cat >"$T/server.yml" <<YML
http:
  listen: 127.0.0.1:$hport
  tls: false
  rate_limit: 0
YML
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
check "the server announces the HTTP API" log_has 10 "$S.log" "HTTP API on http://127\.0\.0\.1:$hport/api/v1"
yw() { "$build/yiwang" "$@" --data-dir "$S"; }
B="http://127.0.0.1:$hport"
U="$B/api/v1"
INVALID_USER=f419dd40-84e7-5507-aa81-6aa0c5596c6f # sshd invalid user, medium
echo 'viewer-password' | yw user add viewer --role viewer >/dev/null
V=$(curl -sS -X POST -H 'Content-Type: application/json' \
  --data-binary '{"user":"viewer","password":"viewer-password"}' "$U/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
check "viewer logs in" test -n "$V"
status() { curl -sS -o "$T/body" -D "$T/hdr" -w '%{http_code}' --max-time 5 "$@" || echo 000; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# 1. Without a token: 401, for the stream and for /metrics (metrics_public is off).
check "stream without a token: 401" test "$(status "$U/stream")" = 401
check "metrics without a token: 401" test "$(status "$B/metrics")" = 401
check "stream: POST is 405" test "$(status -X POST -H "Authorization: Bearer $V" "$U/stream")" = 405
check "stream: a bad Last-Event-ID is 400" \
  test "$(status -H "Authorization: Bearer $V" -H 'Last-Event-ID: x1' "$U/stream")" = 400

# open_stream FILE [curl args...]: a stream in the background into FILE; sets STREAM_PID
open_stream() {
  local f=$1; shift
  curl -sSN --max-time 120 -H "Authorization: Bearer ${TOK:-$V}" "$@" "$U/stream" >"$f" 2>"$f.err" &
  STREAM_PID=$!; PIDS+=("$STREAM_PID")
}
open_stream "$T/s1.out"
S1=$STREAM_PID
check "the stream opens" wait_for 5 grep -q '^: yiwang live stream' "$T/s1.out"
check "counters arrive" wait_for 5 grep -q '^event: counters' "$T/s1.out"
check "counters hold the fields" python3 - "$T/s1.out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
i = lines.index("event: counters")
d = json.loads(lines[i + 1][len("data: "):])
want = {"at", "events_total", "events_per_s", "alerts_total", "alerts_today", "agents_online",
        "agents_total"}
assert set(d) == want, set(d) ^ want
PY
sleep 2.2
check "counters come every 2 s" test "$(grep -c '^event: counters' "$T/s1.out")" -ge 2

# 2. An agent connects: "agent" online 1.
tok=$(yw token create)
check "enrol" enrol_agent "$tok" "$T/a1"
id1=$(agent_id "$T/a1")
: >"$T/in.log"
run_agent "$T/a1" "$T/in.log"
A1=$AGENT_PID
check "agent connects" wait_for 15 grep -q "connected to 127.0.0.1:$port as $id1" "$T/a1.log"
agent_event() { grep -A2 '^event: agent' "$T/s1.out" | grep '^data: ' | grep -q "\"id\":\"$id1\".*\"online\":$1"; }
check "stream: agent online 1" wait_for 3 agent_event 1
# Give the agent's first batch (its hello events, if any) time to settle before timing.
sleep 1

# 3. A log line that triggers a bundled rule: its alert on the stream within 2 s.
t0=$(now_ms)
echo "Nov 26 00:58:11 ops-web-01 sshd[2201]: Invalid user admin from 203.0.113.45 port 50411" >>"$T/in.log"
got=0
for _ in $(seq 500); do
  if grep -q '^event: alert$' "$T/s1.out"; then got=1; break; fi
  sleep 0.01
done
t1=$(now_ms)
lat=$((t1 - t0))
echo "# alert on the stream ${lat} ms after the line was written"
check "the alert arrives on the stream" test "$got" = 1
check "within 2 s of the write" test "$lat" -lt 2000
check "the alert event: id line, data is the alert" python3 - "$T/s1.out" "$INVALID_USER" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
i = lines.index("event: alert")
assert lines[i + 1].startswith("id: "), lines[i + 1]
d = json.loads(lines[i + 2][len("data: "):])
assert d["id"] == int(lines[i + 1][4:]) and d["rule_id"] == sys.argv[2], d
assert d["level"] == "medium" and d["status"] == "new" and d["event"], d
open(sys.argv[1] + ".id", "w").write(str(d["id"]))
PY
aid=$(cat "$T/s1.out.id" 2>/dev/null || echo 0)

# 4. Last-Event-ID: from 0 the alert is replayed; from its own id nothing is.
open_stream "$T/r0.out" -H 'Last-Event-ID: 0'
check "resume from 0 replays the alert" wait_for 3 grep -qx "id: $aid" "$T/r0.out"
open_stream "$T/r1.out" -H "Last-Event-ID: $aid"
wait_for 3 grep -q '^: yiwang live stream' "$T/r1.out" || true
sleep 0.5
check "resume from the alert's id: not replayed" not grep -qx "id: $aid" "$T/r1.out"

# 5. /metrics: Prometheus text, and its values moved.
check "metrics: 200 with a token" test "$(status -H "Authorization: Bearer $V" "$B/metrics")" = 200
check "metrics: text/plain version 0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/hdr"
check "metrics: the grammar and the values" python3 - "$T/body" <<'PY'
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$" % (name, label, label))
v = {}
for line in open(sys.argv[1]).read().splitlines():
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        continue
    m = sample.match(line)
    assert m, "not a sample line: %r" % line
    v[m.group(1) + (m.group(2) or "")] = float(m.group(3))
assert v["yiwang_events_received_total"] >= 1, v
assert v["yiwang_events_stored_total"] >= 1, v
assert v['yiwang_alerts_total{level="medium"}'] >= 1, v
assert v["yiwang_agents_connected"] == 1 and v["yiwang_agents_enrolled"] == 1, v
assert v["yiwang_detection_latency_seconds_count"] >= 1, v
assert v["yiwang_store_commit_seconds_count"] >= 1, v
assert v["yiwang_stream_clients"] == 3, v
assert v['yiwang_http_requests_total{code="200"}'] >= 1, v
assert v["process_resident_memory_bytes"] > 1e6 and v["process_cpu_seconds_total"] > 0, v
assert any(k.startswith('yiwang_pipeline_queue_depth{worker="0"}') for k in v), v
PY

# 6. The agent leaves: "agent" online 0.
kill "$A1"
check "stream: agent online 0" wait_for 5 agent_event 0

clients_are() {
  [ "$(curl -sS --max-time 2 -H "Authorization: Bearer $V" "$B/metrics" | sed -n 's/^yiwang_stream_clients //p')" = "$1" ]
}

# 7a. One user holds at most 16 streams: the viewer has s1, r0 and r1; 13 more fill its share and
# a 17th is refused with 429, from any address. Closing them frees the share.
extra=()
for i in $(seq 13); do open_stream "$T/u-$i.out" --interface 127.0.0.5; extra+=("$STREAM_PID"); done
check "16 streams of one user open" wait_for 10 clients_are 16
check "a 17th stream of that user: 429" \
  test "$(status --interface 127.0.0.6 -H "Authorization: Bearer $V" "$U/stream")" = 429
kill "${extra[@]}" 2>/dev/null || true
check "its streams closed free the share" wait_for 10 clients_are 3

# 7. 64 streams at once (two more addresses, as the per-address limit is 32; four more users,
# as one user holds at most 16): the API still answers quickly, and one more is refused.
toks=()
for n in 1 2 3 4; do
  echo "watcher-password-$n" | yw user add "watcher$n" --role viewer >/dev/null
  toks+=("$(curl -sS -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"user\":\"watcher$n\",\"password\":\"watcher-password-$n\"}" "$U/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')")
done
k=0
for ip in 127.0.0.2 127.0.0.3; do
  for i in $(seq 31); do
    TOK=${toks[$((k++ % 4))]} open_stream "$T/m-$ip-$i.out" --interface "$ip"
  done
done
# s1, r0, r1 and the 62 new ones: 65 asked, 64 admitted at most.
check "64 streams open" wait_for 10 clients_are 64
slow=0
for i in $(seq 10); do
  t0=$(now_ms)
  c=$(status -H "Authorization: Bearer $V" "$U/agents")
  [ "$c" = 200 ] && [ $(($(now_ms) - t0)) -lt 1000 ] || slow=$((slow + 1))
done
check "GET /agents answers in under 1 s while 64 streams are open" test "$slow" = 0
# watcher4 holds 15 of the 64: the global cap, not its own, refuses it.
check "a 65th stream: 503" \
  test "$(status --interface 127.0.0.4 -H "Authorization: Bearer ${toks[3]}" "$U/stream")" = 503

# 8. The server stops promptly with the streams open, and the streams end.
t0=$(now_ms)
kill -TERM "$SERVER_PID"
exit_status 10 "$SERVER_PID"
echo "# server stopped in $(($(now_ms) - t0)) ms with 64 streams open"
check "the server stops with streams open" test "$EXIT_STATUS" = 0
check "within 5 s" test $(($(now_ms) - t0)) -lt 5000
check "the first stream ended" wait_for 5 not kill -0 "$S1"

# 9. http.metrics_public: no token needed from loopback.
printf '  metrics_public: true\n' >>"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
wait_for 10 grep -q "HTTP API on http://127\.0\.0\.1:$hport" "$S.log" || true
wait_for 5 sh -c "curl -s -o /dev/null '$B/metrics'"
check "metrics_public: 200 without a token from loopback" test "$(status "$B/metrics")" = 200
check "metrics_public: the enrolled agent counted" grep -qx 'yiwang_agents_enrolled 1' "$T/body"
check "the stream still needs a token" test "$(status "$U/stream")" = 401
kill -TERM "$SERVER_PID"
exit_status 10 "$SERVER_PID"
check "server exits 0" test "$EXIT_STATUS" = 0
check "no sanitizer report" clean_logs "$S.log" "$T/a1.log"
exit $fail
