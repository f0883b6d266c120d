# Helpers for the end-to-end tests: start and stop the real programs on loopback.
# Every wait is bounded; every process started is killed on exit.
set -euo pipefail
build=$1 shared=$2 src=$3
T=$(mktemp -d /tmp/yw-e2e.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  { wait "${PIDS[@]}"; } 2>/dev/null || true
  [ -n "${NETNS:-}" ] && { ip link del yw-h0 2>/dev/null || true; ip netns del "$NETNS" 2>/dev/null || true; }
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail=0
# An agent that only follows the files a test names: the host collectors (processes, network,
# inventory, baseline, journal) would add events of their own to what the test counts.
QUIET_CFG=$T/quiet-agent.yml
cat > "$QUIET_CFG" <<'YML'
journald: off
process:
  enabled: false
network:
  enabled: false
inventory:
  enabled: false
sca:
  enabled: false
fim:
  enabled: false
# whether the kernel's audit rules match rules/audit is the machine's business, not the test's
audit:
  check: false
YML
check() { local what=$1; shift; if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server DIR ADDR [extra args...]: runs yiwang-server in the background; sets SERVER_PID
start_server() {
  local dir=$1 addr=$2; shift 2
  "$build/yiwang-server" --data-dir "$dir" --listen "$addr" --advertise "$addr" "$@" \
    >>"$dir.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  wait_for 10 test -S "$dir/yiwang.sock"
}
# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds
wait_for() {
  local secs=$1; shift
  local n=$((secs * 10))
  while ! "$@" 2>/dev/null; do
    n=$((n - 1)); [ $n -gt 0 ] || return 1
    sleep 0.1
  done
}
db_count() { sqlite3 -cmd '.timeout 5000' "$1/yiwang.db" "SELECT COUNT(*) FROM events" 2>/dev/null || echo 0; }
# stored_ge DIR N: at least N events stored (for wait_for, which re-evaluates it)
stored_ge() { [ "$(db_count "$1")" -ge "$2" ]; }
# not COMMAND...: succeeds when COMMAND fails (for check and wait_for)
not() { ! "$@"; }
# enrol_agent ENROLMENT_STRING STATE_DIR: `yiwang-agent enroll`, its output kept in STATE_DIR.enrol
enrol_agent() { "$build/yiwang-agent" enroll "$1" --state-dir "$2" >"$2.enrol" 2>&1; }
# agent_id STATE_DIR: the id an enrol_agent call printed
agent_id() { sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$1.enrol"; }
# run_agent STATE_DIR FILE [args...]: the agent following FILE from its start, in the background,
# logging to STATE_DIR.log; sets AGENT_PID
run_agent() {
  local dir=$1 file=$2; shift 2
  "$build/yiwang-agent" --config "$QUIET_CFG" --state-dir "$dir" --file "$file" --from-beginning "$@" >>"$dir.log" 2>&1 &
  AGENT_PID=$!; PIDS+=("$AGENT_PID")
}
# exit_status SECONDS PID: waits for the child PID to end and sets EXIT_STATUS to its exit status,
# or kills it after SECONDS and sets EXIT_STATUS=running (not in $(...): wait needs the parent)
exit_status() {
  EXIT_STATUS=0
  if wait_for "$1" not kill -0 "$2"; then
    wait "$2" 2>/dev/null || EXIT_STATUS=$?
  else
    kill -9 "$2" 2>/dev/null; wait "$2" 2>/dev/null || true
    EXIT_STATUS=running
  fi
}
# log_has SECONDS FILE ERE: FILE gets a line matching the extended regular expression in time
log_has() { wait_for "$1" grep -Eq -- "$3" "$2"; }
# clean_logs FILE...: no sanitizer report (ASan, LSan, UBSan builds) in the programs' logs
clean_logs() { ! grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$@"; }
# sql_ge DIR N QUERY: the query's single number is at least N (for wait_for)
sql_ge() { [ "$(sqlite3 -cmd '.timeout 5000' "$1/yiwang.db" "$3" 2>/dev/null || echo 0)" -ge "$2" ]; }
