#!/usr/bin/env bash
# The local API serves while another local client holds a connection open without a request,
# and drops an oversized request; the socket is the owner's only.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s
start_server "$S" "127.0.0.1:$port" --rules "$src/rules/sigma"
check "API socket is 0600 inside a 0700 directory" \
  test "$(stat -c %a "$S/yiwang.sock")$(stat -c %a "$S")" = "600700"
python3 - "$S/yiwang.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(4)
PY
PIDS+=($!)
sleep 0.3
t0=$(date +%s%N)
out=$(timeout 3 "$build/yiwang" agents --data-dir "$S" --output jsonl; echo "rc=$?")
t1=$(date +%s%N)
check "a silent client does not hold others up ($(( (t1 - t0) / 1000000 )) ms)" \
  test $(( (t1 - t0) / 1000000 )) -lt 1500
check "the request was answered" grep -q 'rc=0' <<<"$out"
r=$(python3 - "$S/yiwang.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
try:
    s.sendall(b"x" * 70000)
except OSError:
    pass
try:
    print(len(s.recv(100)))
except OSError as e:
    print("closed")
PY
)
check "an oversized request is dropped without an answer ($r)" test "$r" = 0 -o "$r" = closed
check "the server still answers" timeout 3 "$build/yiwang" agents --data-dir "$S"
exit $fail
