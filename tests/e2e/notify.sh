#!/usr/bin/env bash
# Alerts raised from an agent's events are notified: the server's webhook channel posts each
# alert of the configured level, signed, with its solution, to a receiver this test runs.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s; A=$T/a
printf 'test-secret' > "$T/hook.secret"; chmod 600 "$T/hook.secret"
cat > "$T/channels.yml" <<YML
channels:
  - name: soc-hook
    type: webhook
    url: http://127.0.0.1:$hport/hook
    secret_file: $T/hook.secret
    min_level: high
YML
printf 'notify:\n  channels: %s\n' "$T/channels.yml" > "$T/server.yml"
python3 - "$hport" "$T/received.jsonl" <<'PY' &
import hashlib, hmac, http.server, json, sys, threading
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers.get("X-Yiwang-Timestamp", "")
        want = "sha256=" + hmac.new(b"test-secret", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers.get("X-Yiwang-Signature", ""))
        out.write(json.dumps({"signed": ok, "body": json.loads(body)}) + "\n"); out.flush()
        self.send_response(200 if ok else 401); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
threading.Timer(60, srv.shutdown).start()
srv.serve_forever()
PY
PIDS+=($!)
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
"$build/yiwang-agent" enroll "$("$build/yiwang" token create --data-dir "$S" --group plant-a)" \
  --state-dir "$A" >/dev/null
cp "$src/samples/auth.log" "$T/in.log"
"$build/yiwang-agent" --config "$QUIET_CFG" --state-dir "$A" --file "$T/in.log" --from-beginning \
  >>"$A.log" 2>&1 &
PIDS+=($!)
got() { [ -f "$T/received.jsonl" ] && grep -q "$1" "$T/received.jsonl"; }
wait_for 20 got "User Added To A Privileged Group" || true
check "the high alert was posted" got "User Added To A Privileged Group"
check "every post is signed, high or critical, with agent, group and solution" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows, "nothing received"
for r in rows:
    b = r["body"]
    assert r["signed"], r
    assert b["level"] in ("high", "critical"), b
    assert b["agent"]["group"] == "plant-a", b
    assert "发生了什么" in b["solution"], b
assert not any(r["body"]["level"] == "medium" for r in rows)
' "$T/received.jsonl"
# Every alert is shown with its solution, in both languages.
"$build/yiwang" alerts --output jsonl --data-dir "$S" > "$T/alerts.jsonl"
check "every stored alert comes with a solution" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) >= 5, len(rows)
for r in rows:
    s = r["solution"]
    assert s and s["what"]["en"] and s["what"]["zh"] and s["fix"]["zh"], r["title"]
    assert s["level"] in ("rule", "technique", "tactic", "generic"), s["level"]
' "$T/alerts.jsonl"
check "text output shows what to do" grep -q "solution: " <("$build/yiwang" alerts --data-dir "$S")
exit $fail
