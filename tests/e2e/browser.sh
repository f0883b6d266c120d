#!/usr/bin/env bash
# The web pages in a real browser: Debian's Chromium, headless, driven by playwright-core
# (web/node_modules, installed by scripts/deps.sh), against the real server with its HTTPS API
# and one real enrolled agent following a temporary log file. tests/browser/run.mjs holds the
# tests (docs/dashboard.md, "Browser tests"); screenshots go to BUILD_DIR/artifacts/browser.
#
# HTTPS, not plain HTTP: the pages are tested over the transport they are served with in
# production. Chromium trusts exactly the server's key (--ignore-certificate-errors-spki-list
# with its SHA-256), not every certificate, so a certificate problem elsewhere still fails.
source "$(dirname "$0")/lib.bash"
chromium=${YW_CHROMIUM:-/usr/bin/chromium}
pw=${YW_PLAYWRIGHT:-$src/web/node_modules/playwright-core}
# Missing tools are a failure: scripts/deps.sh installs them.
for need in "node:$(command -v node || true)" "chromium:$chromium" \
  "playwright-core:$pw/package.json"; do
  if [ ! -e "${need#*:}" ]; then
    echo "FAIL - ${need%%:*} is missing (${need#*:}); run scripts/deps.sh"
    exit 1
  fi
done
# ASan and UBSan make the server several times slower: waits on it grow, bounded (not the 2-s
# live-warning bound).
slow=1
grep -q '^YW_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null && slow=3

port=$(free_port); hport=$(free_port); S=$T/s
printf 'http:\n  listen: 127.0.0.1:%s\n' "$hport" >"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
check "the server serves HTTPS" log_has 20 "$S.log" "HTTP API on https://127\.0\.0\.1:$hport/"
spki=$(openssl x509 -in "$S/pki/server.crt" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
password="browser-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
add_admin() {
  printf '%s\n' "$password" | "$build/yiwang" user add admin --role admin --data-dir "$S" >/dev/null
}
check "admin user (password on standard input)" add_admin

# The agent's host name is attacker-controlled text too: in a UTS namespace of its own (root
# only) the agent runs with an HTML payload as its host name.
host_payload='<b>yw</b><img src=x onerror=window.__xss=4>'
in_host=()
if [ "$(id -u)" = 0 ] && unshare --uts true 2>/dev/null; then
  # An array, not a function, so that $! below is the agent itself (SIGINT stops it cleanly).
  in_host=(unshare --uts -- python3 -c 'import os, socket, sys
socket.sethostname(sys.argv[1]); os.execvp(sys.argv[2], sys.argv[2:])' "$host_payload")
else
  echo "# not root: the agent keeps this machine's host name (no host-name payload)"
  host_payload=""
fi
enrol_in_host() {
  "${in_host[@]}" "$build/yiwang-agent" enroll "$1" --state-dir "$2" >"$2.enrol" 2>&1
}
check "enrol" enrol_in_host "$("$build/yiwang" token create --data-dir "$S")" "$T/a1"
aid=$(agent_id "$T/a1")
: >"$T/watched.log"
"${in_host[@]}" "$build/yiwang-agent" --config "$QUIET_CFG" --state-dir "$T/a1" \
  --file "$T/watched.log" --from-beginning >>"$T/a1.log" 2>&1 &
AGENT_PID=$!; PIDS+=("$AGENT_PID")
check "the agent connects" \
  wait_for $((15 * slow)) grep -q "connected to 127.0.0.1:$port as $aid" "$T/a1.log"

# A few alerts before the browser opens: the screen, list and charts have something to show.
now() { LC_ALL=C date '+%b %e %H:%M:%S'; }
for i in 1 2 3; do
  echo "$(now) ops-web-01 sshd[310$i]: Invalid user guest$i from 203.0.113.$((20 + i)) port 4410$i"
done >>"$T/watched.log"
echo "$(now) ops-web-01 sshd[3110]: Failed password for root from 203.0.113.30 port 44110 ssh2" \
  >>"$T/watched.log"
alerts_ge() { sql_ge "$S" "$1" "SELECT COUNT(*) FROM alerts"; }
check "the first alerts are stored" wait_for $((20 * slow)) alerts_ge 3

art=$build/artifacts/browser
rm -rf "$art"; mkdir -p "$art"
# The whole browser run is bounded; the runner bounds every test and every wait inside it.
YW_URL="https://127.0.0.1:$hport" YW_USER=admin YW_PASSWORD="$password" YW_LOG="$T/watched.log" \
  YW_ARTIFACTS="$art" YW_CHROMIUM="$chromium" YW_SPKI="$spki" YW_PLAYWRIGHT="$pw" \
  YW_AGENT_ID="$aid" YW_AGENT_HOST="$host_payload" YW_SLOW=$slow \
  timeout -k 5 $((140 * slow)) node "$src/tests/browser/run.mjs" >"$T/node.out" 2>&1 &
NODE_PID=$!; PIDS+=("$NODE_PID")
wait "$NODE_PID" && rc=0 || rc=$?
cat "$T/node.out"
check "the browser tests pass" test "$rc" = 0
check "screenshots saved" test -s "$art/screen.png"

kill -INT "$AGENT_PID" "$SERVER_PID" 2>/dev/null || true
exit_status 30 "$AGENT_PID"; a=$EXIT_STATUS
exit_status 30 "$SERVER_PID"
check "agent and server stop cleanly" test "$a:$EXIT_STATUS" = 0:0
check "no sanitizer reports" clean_logs "$S.log" "$T/a1.log"
[ "$fail" = 0 ] || { echo "--- server log (tail)"; tail -n 30 "$S.log"; }
exit $fail
