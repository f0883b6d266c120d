#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, build, start a server (SQLite and
# the CA in ./yiwang-data), enrol a local agent that follows this machine's logs plus a replay
# file, replay the bundled attack samples into that file, and show the alerts as they arrive.
# Ctrl-C stops everything cleanly. `scripts/demo.sh hunt` runs the offline hunt instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
yw=$PWD/build

rules=(--rules rules/sigma)
[ -d ../shared/sigma/rules/linux ] && rules+=(--rules ../shared/sigma/rules/linux)
if [ "${1:-}" = hunt ]; then
  exec "$yw/yiwang" hunt "${rules[@]}" samples/*.log
fi

D=${YIWANG_DEMO_DIR:-$PWD/yiwang-data}
port=${YIWANG_PORT:-1514}
mkdir -p "$D" && chmod 700 "$D"
pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "stopped; data kept in $D (logs: $D/server.log, $D/agent.log)"
}
trap stop INT TERM EXIT

hport=${YIWANG_HTTP_PORT:-8443}
printf 'http:\n  listen: 127.0.0.1:%s\n' "$hport" > "$D/server.yml"
"$yw/yiwang-server" --data-dir "$D/server" --listen "127.0.0.1:$port" --config "$D/server.yml" \
  --advertise "127.0.0.1:$port" "${rules[@]}" 2>>"$D/server.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$D/server/yiwang.sock" ] && break; sleep 0.1; done
[ -S "$D/server/yiwang.sock" ] || { echo "the server did not start; see $D/server.log"; exit 1; }

# A first admin for the web pages, its password kept beside the data (0600).
if [ ! -f "$D/admin.password" ]; then
  (umask 077; od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$D/admin.password")
  "$yw/yiwang" user add admin --role admin --data-dir "$D/server" < "$D/admin.password" >/dev/null
fi

if [ ! -f "$D/agent/agent.crt" ]; then
  token=$("$yw/yiwang" token create --data-dir "$D/server" --group demo)
  "$yw/yiwang-agent" enroll "$token" --state-dir "$D/agent"
fi
: > "$D/replay.log"
files=(--file "$D/replay.log")
for f in /var/log/auth.log /var/log/secure /var/log/syslog /var/log/messages \
         /var/log/audit/audit.log; do
  [ -r "$f" ] && files+=(--file "$f")
done
"$yw/yiwang-agent" --state-dir "$D/agent" "${files[@]}" 2>>"$D/agent.log" &
pids+=($!)

# Replay the attack story: syslog lines get today's timestamps; audit records of one event
# are written together, as auditd writes them.
(
  sleep 1
  while IFS= read -r line; do
    printf '%s%s\n' "$(LC_ALL=C date '+%b %e %H:%M:%S')" "${line:15}" >> "$D/replay.log"
    sleep 0.3
  done < samples/auth.log
  otrf=()
  [ -d ../shared/corpus/otrf ] && otrf=(../shared/corpus/otrf/*.log)
  for f in samples/audit.log "${otrf[@]}"; do
    awk '{ s = $2; sub(/.*:/, "", s); if (s != prev && NR > 1) printf "\n"; printf "%s\n", $0; prev = s }' "$f" |
      while IFS= read -r l; do
        if [ -z "$l" ]; then sleep 0.3; else printf '%s\n' "$l" >> "$D/replay.log"; fi
      done
  done
) &
pids+=($!)

cat <<MSG

yiwang is running: server on 127.0.0.1:$port, one agent enrolled, data in $D.
The agent follows this machine's logs and $D/replay.log, into which the bundled attack
samples are being replayed. Alerts appear below as they are stored.
The big screen: https://127.0.0.1:$hport/ (user admin, password in $D/admin.password;
the certificate is the server's own, signed by its CA $D/server/pki/ca.crt).
In another terminal:
  $yw/yiwang agents --data-dir $D/server
  $yw/yiwang alerts --data-dir $D/server --level high
Ctrl-C stops everything.

MSG
"$yw/yiwang" alerts --follow --data-dir "$D/server" --limit 20 || true
