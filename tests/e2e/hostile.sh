#!/usr/bin/env bash
# Hostile peers: garbage bytes, oversized and truncated frames, slow senders, certificates from
# another CA or for another purpose, a revoked certificate, an old TLS version, made-up and
# reused tokens, and a flood from one agent. Each is rejected or throttled with a server log line
# naming the peer (and the agent where known), while the server keeps serving a normal agent.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s; A=127.0.0.1:$port
cat >"$T/s.yml" <<YML
agents: {handshake_timeout: 2s, idle_timeout: 3s, heartbeat: 1s, eps_limit: 200}
YML
start_server "$S" "$A" --config "$T/s.yml" --rules "$src/rules/sigma"
yw() { "$build/yiwang" "$@" --data-dir "$S"; }
CA=$S/pki/ca.crt

cat >"$T/peer.py" <<'PY'
# Hostile peers for tests/e2e/hostile.sh: each case connects to the server on loopback, misbehaves
# and reports what the server did. Prints "peer=HOST:PORT" (our address, as the server logs it)
# first, then "result ..." lines. Every wait is bounded.
import os, socket, ssl, struct, sys, time

def frame(t, payload, flags=0, length=None):
    n = len(payload) if length is None else length
    return b"YW" + bytes([1, t, flags, 0]) + struct.pack(">I", n) + payload

def t16(b):
    return struct.pack(">H", len(b)) + b

def t32(b):
    return struct.pack(">I", len(b)) + b

def hello(agent_id):
    return frame(1, bytes([1, 1]) + t16(agent_id.encode()) + t16(b"0.1.0") + t16(b"hostile")
                 + t16(b"python") + struct.pack(">Q", 1))

def batch(first_seq, lines):
    p = struct.pack(">QI", first_seq, len(lines))
    for i, l in enumerate(lines):
        p += struct.pack(">Iqb", 0 if i == 0 else 1, time.time_ns(), 1)
        p += t16(b"file:/hostile") + t32(l)
    return frame(5, p)

def enroll(token):
    return frame(3, t16(token) + t32(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n")
                 + t16(b"hostile") + t16(b"python") + t16(b"0.1.0"))

def tcp(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    h, p = s.getsockname()[:2]
    print("peer=%s:%d" % (h, p), flush=True)
    return s

def tls(addr, ca, cert=None, key=None, maxver=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if maxver:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = maxver
    s = tcp(addr)
    try:
        return ctx.wrap_socket(s)
    except (ssl.SSLError, OSError) as e:
        print("result handshake_failed %s" % type(e).__name__, flush=True)
        print("detail %s" % e)
        sys.exit(0)

def drain(s, limit=10.0):
    """Reads until the server closes; reports ERROR frames and how long the close took."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    buf = b""
    how = "timeout"
    while time.monotonic() - t0 < limit:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError) as e:
            how = "error:%s" % (getattr(e, "reason", None) or type(e).__name__)
            break
        if not d:
            how = "closed"
            break
        buf += d
    while len(buf) >= 10:
        t, n = buf[3], struct.unpack(">I", buf[6:10])[0]
        p = buf[10:10 + n]
        buf = buf[10 + n:]
        if t == 12:
            code = struct.unpack(">H", p[:2])[0]
            print("result error_frame code=%d msg=%s" % (code, p[4:].decode(errors="replace")))
        else:
            print("result frame type=%d" % t)
    print("result %s after=%.1f" % (how, time.monotonic() - t0), flush=True)

def slow_handshake(addr, ca):
    # A TLS ClientHello sent one byte every 0.25 s: the handshake timeout must end it.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello_bytes = out.read()
    s = tcp(addr)
    t0 = time.monotonic()
    how = "timeout"
    for i in range(len(hello_bytes)):
        if time.monotonic() - t0 > 10:
            break
        try:
            s.send(hello_bytes[i:i + 1])
            s.settimeout(0.25)
            if s.recv(4096) == b"":
                how = "closed"
                break
        except socket.timeout:
            continue
        except OSError as e:
            how = "error:%s" % type(e).__name__
            break
    print("result %s after=%.1f" % (how, time.monotonic() - t0), flush=True)

def main():
    case, addr = sys.argv[1], sys.argv[2]
    a = sys.argv[3:]
    if case == "garbage":
        s = tcp(addr)
        s.sendall(b"GET / HTTP/1.1\r\nHost: yiwang\r\n\r\n" + os.urandom(512))
        drain(s)
    elif case == "silent":
        drain(tcp(addr))
    elif case == "slow_handshake":
        slow_handshake(addr, a[0])
    elif case == "nocert_batch":
        s = tls(addr, a[0])
        s.sendall(batch(1, [b"Nov 26 08:00:00 host app[1]: sneaked in"]))
        drain(s)
    elif case == "bad_token":
        s = tls(addr, a[0])
        s.sendall(enroll(os.urandom(32).hex().encode()))
        drain(s)
    elif case == "oversize":
        s = tls(addr, a[0], a[1], a[2])
        s.sendall(b"YW" + bytes([1, 5, 0, 0]) + b"\xff\xff\xff\xff")
        drain(s)
    elif case == "truncated_hello":
        s = tls(addr, a[0], a[1], a[2])
        s.sendall(hello(a[3])[:15])
        drain(s)
    elif case == "truncated_batch":
        s = tls(addr, a[0], a[1], a[2])
        s.sendall(hello(a[3]))
        b = batch(1, [b"x" * 100])
        s.sendall(b[:len(b) // 2])
        drain(s)
    elif case == "hello":  # a certificate the server should refuse: try to stream anyway
        s = tls(addr, a[0], a[1], a[2])
        try:
            s.sendall(hello(a[3]) + batch(1, [b"Nov 26 08:00:00 host app[1]: sneaked in"]))
        except (ssl.SSLError, OSError) as e:
            print("result send_failed %s" % type(e).__name__)
        drain(s)
    elif case == "tls12":
        s = tls(addr, a[0], maxver=ssl.TLSVersion.TLSv1_2)
        drain(s)
    else:
        sys.exit("unknown case " + case)

main()
PY
peer() { # peer NAME CASE ARGS...: runs a hostile client; its output in $T/NAME.out
  local name=$1; shift
  timeout 20 python3 "$T/peer.py" "$1" "$A" "${@:2}" >"$T/$name.out" 2>&1 || true
}
peer_addr() { sed -n 's/^peer=//p' "$T/$1.out"; }
# rejected NAME WHAT ERE [AGENT_ID]: the server logged a line naming NAME's peer address (and
# the agent, when given) that matches ERE
rejected() {
  local p who; p=$(peer_addr "$1")
  who="${p//./\\.}${4:+ agent $4}"
  check "$1: $2 (log names ${p:-?}${4:+ and the agent})" \
    log_has 5 "$S.log" "^[^ ]+ [a-z]+: $who( agent [^:]+)?: $3"
}
closed_within() { # closed_within NAME MIN MAX: the server closed NAME's connection in [MIN, MAX] s
  local t; t=$(sed -n 's/^result closed after=//p' "$T/$1.out")
  check "$1: closed by the server after ${t:-never} s (expected $2..$3)" \
    python3 -c 'import sys; t=float(sys.argv[1] or -1); sys.exit(not float(sys.argv[2]) <= t <= float(sys.argv[3]))' \
    "${t:-}" "$2" "$3"
}

# An enrolled identity for the clients that hold a certificate; agents for the flood.
tok=$(yw token create --uses 4)
for a in p flood quiet late; do enrol_agent "$tok" "$T/$a" || echo "FAIL - enrol $a"; done
ID=$(agent_id "$T/p"); P=("$T/p/ca.crt" "$T/p/agent.crt" "$T/p/agent.key")

# 1. Slow peers, all at once (each waits for a timeout): a silent TCP connection, a ClientHello
#    one byte at a time, a HELLO cut short, a BATCH cut short after a good HELLO.
peer silent silent & w1=$!
peer slow_handshake slow_handshake "$CA" & w2=$!
peer truncated_hello truncated_hello "${P[@]}" "$ID" & w3=$!
peer truncated_batch truncated_batch "${P[@]}" "$ID" & w4=$!

# 2. Quick rejections, meanwhile.
peer garbage garbage
check "garbage: the connection is dropped" grep -Eq '^result (closed|error)' "$T/garbage.out"
rejected garbage "garbage bytes rejected" "closed: TLS handshake failed"
peer nocert_batch nocert_batch "$CA"
check "nocert_batch: ERROR AUTH" grep -q '^result error_frame code=3' "$T/nocert_batch.out"
rejected nocert_batch "BATCH without a certificate rejected" \
  "closed: a client certificate is required"
peer bad_token bad_token "$CA"
check "bad_token: ERROR ENROLL" grep -q '^result error_frame code=4' "$T/bad_token.out"
rejected bad_token "made-up token rejected" "closed: enrolment token rejected"
check "reused token: refused" not enrol_agent "$tok" "$T/reused"
check "reused token: logged with the peer" log_has 5 "$S.log" \
  '127\.0\.0\.1:[0-9]+: closed: enrolment token rejected: enrolment token used up'
peer oversize oversize "${P[@]}"
check "oversize: ERROR LIMIT" grep -q '^result error_frame code=5' "$T/oversize.out"
rejected oversize "4 GiB frame header rejected" "closed: bad frame" "$ID"
peer server_cert hello "$CA" "$S/pki/server.crt" "$S/pki/server.key" "$ID"
rejected server_cert "the server's own certificate as a client's rejected" \
  "closed: TLS handshake failed.*CN=\"yiwang-server\".*purpose"
peer tls12 tls12 "$CA"
check "tls12: the handshake fails" grep -q '^result handshake_failed' "$T/tls12.out"
rejected tls12 "TLS 1.2 rejected" "closed: TLS handshake failed.*unsupported protocol"
if command -v openssl >/dev/null; then
  # A certificate from another CA, for a real agent's id (impersonation).
  o=$T/other; mkdir -p "$o"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$o/ca.key" \
    -out "$o/ca.crt" -subj "/CN=other CA" -days 1 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$o/agent.key" \
    -out "$o/agent.csr" -subj "/CN=$ID" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n' >"$o/ext"
  openssl x509 -req -in "$o/agent.csr" -CA "$o/ca.crt" -CAkey "$o/ca.key" -CAcreateserial \
    -out "$o/agent.crt" -days 1 -extfile "$o/ext" 2>/dev/null
  peer other_ca hello "$CA" "$o/agent.crt" "$o/agent.key" "$ID"
  rejected other_ca "a certificate from another CA rejected" "closed: TLS handshake failed"
  check "other_ca: nothing was stored for the agent" test "$(db_count "$S")" = 0
else
  echo "skip - certificate from another CA (no openssl command to make one)"
fi
wait $w1 $w2 $w3 $w4 || true
closed_within silent 1.5 3.5
rejected silent "silent connection closed" "closed: no handshake or HELLO in time"
closed_within slow_handshake 1.5 3.5
rejected slow_handshake "slow handshake closed" "closed: no handshake or HELLO in time"
closed_within truncated_hello 1.5 3.5
rejected truncated_hello "truncated HELLO closed" "closed: no handshake or HELLO in time" "$ID"
check "truncated_batch: WELCOME first" grep -q '^result frame type=2' "$T/truncated_batch.out"
closed_within truncated_batch 2.5 5
rejected truncated_batch "truncated BATCH closed (idle)" "closed: idle: no data or heartbeat" "$ID"
check "no hostile peer got anything stored" test "$(db_count "$S")" = 0

# 3. A flood: one agent with 20,000 lines waiting, agents.eps_limit 200. It is throttled (and
#    not cut off), while another agent's lines arrive promptly.
seq 1 20000 | sed 's/^/Nov 26 08:00:00 flood app[7]: flood line /' >"$T/flood.in"
: >"$T/quiet.in"
run_agent "$T/flood" "$T/flood.in"; FLOOD=$AGENT_PID
run_agent "$T/quiet" "$T/quiet.in"; QUIET=$AGENT_PID
fid=$(agent_id "$T/flood"); qid=$(agent_id "$T/quiet")
received() { # received ID: events_received of that agent
  yw agents --output jsonl | python3 -c '
import json, sys
print(sum(a["events_received"] for a in map(json.loads, sys.stdin) if a["id"] == sys.argv[1]))' "$1"
}
received_ge() { [ "$(received "$1")" -ge "$2" ]; }
check "flood: streaming" wait_for 15 received_ge "$fid" 1
check "quiet agent connected" log_has 15 "$T/quiet.log" "connected to"
sleep 1
n0=$(received "$fid"); t0=$(date +%s.%N)
for i in 1 2 3 4 5; do echo "Nov 26 08:00:0$i quiet app[9]: quiet line $i" >>"$T/quiet.in"; done
q0=$(date +%s.%N)
check "quiet agent's lines stored within 3 s during the flood" wait_for 3 received_ge "$qid" 5
echo "     quiet lines stored after $(python3 -c "import time,sys; print('%.2f' % (time.time() - float(sys.argv[1])))" "$q0") s"
sleep 4
n1=$(received "$fid"); t1=$(date +%s.%N)
rate=$(python3 -c 'import sys; print(int((int(sys.argv[2]) - int(sys.argv[1])) / (float(sys.argv[4]) - float(sys.argv[3]))))' "$n0" "$n1" "$t0" "$t1")
check "flood: throttled to about the limit (${rate}/s, limit 200/s)" test "$rate" -ge 100 -a "$rate" -le 300
check "flood: the server logs the throttled agent with its address" \
  log_has 5 "$S.log" "127\.0\.0\.1:[0-9]+ agent $fid: over agents\.eps_limit"
check "flood: the throttled agent was not cut off" not grep -q "lost" "$T/flood.log"
kill -INT "$FLOOD" "$QUIET"; exit_status 10 "$FLOOD"; r1=$EXIT_STATUS; exit_status 10 "$QUIET"
check "flood and quiet agents exit 0 on SIGINT ($r1, $EXIT_STATUS)" test "$r1$EXIT_STATUS" = 00

# 4. A revoked certificate.
yw agents revoke "$ID" >/dev/null
peer revoked hello "${P[@]}" "$ID"
rejected revoked "revoked certificate rejected" "closed: TLS handshake failed.*CN=\"$ID\".*revoked"

# 5. After all this, the server still serves: a new agent enrols and streams.
check "server still running" kill -0 "$SERVER_PID"
tok=$(yw token create)
check "a new agent enrols" enrol_agent "$tok" "$T/after"
head -3 "$src/samples/auth.log" >"$T/after.in"
run_agent "$T/after" "$T/after.in"
check "the new agent's lines are stored" wait_for 15 received_ge "$(agent_id "$T/after")" 3
kill -INT "$AGENT_PID"; exit_status 10 "$AGENT_PID"
check "the new agent exits 0 on SIGINT ($EXIT_STATUS)" test "$EXIT_STATUS" = 0
kill -INT "$SERVER_PID"; exit_status 20 "$SERVER_PID"
check "the server exits 0 on SIGINT after all this ($EXIT_STATUS)" test "$EXIT_STATUS" = 0
check "no sanitizer reports in the logs" clean_logs "$S.log" "$T"/*.log
if [ $fail != 0 ]; then tail -n 60 "$S.log"; grep -h . "$T"/*.out; fi
exit $fail
