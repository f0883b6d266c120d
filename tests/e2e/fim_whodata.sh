#!/usr/bin/env bash
# FIM who-data: the agent follows an audit log (a file here: the kernel's audit is not used by
# tests) and adds the user and process of the matching SYSCALL/CWD/PATH/PROCTITLE records to
# realtime FIM events. A change without audit records arrives after the wait, without who-data.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s; A=$T/a
start_server "$S" "127.0.0.1:$port"
enrol_agent "$("$build/yiwang" token create --data-dir "$S")" "$A"
mkdir -p "$T/watched"; echo original > "$T/watched/app.conf"; echo x > "$T/watched/old.txt"
: > "$T/audit.log"
sed 's/^fim:$/fim_off:/; /^fim_off:/,$d' "$QUIET_CFG" > "$T/agent.yml"
cat >> "$T/agent.yml" <<YML
fim:
  paths: [$T/watched]
  whodata_wait: 1s
YML
"$build/yiwang-agent" --config "$T/agent.yml" --state-dir "$A" --file "$T/audit.log" \
  >>"$A.log" 2>&1 &
PIDS+=($!)
ev() { sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "SELECT event FROM events WHERE CAST(event AS TEXT) LIKE '%\"event.action\":\"$1\"%' AND CAST(event AS TEXT) LIKE '%$2%' LIMIT 1" 2>/dev/null; }
has_ev() { [ -n "$(ev "$1" "$2")" ]; }
wait_for 15 sql_ge "$S" 1 "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%fim_baseline_created%'" || true
check "the FIM baseline is built" sql_ge "$S" 1 "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%fim_baseline_created%'"

# change.py OP NAME: makes the change (modify or unlink, relative to the watched directory)
# and appends the audit records auditd would write for it, with this process's real identity.
cat > "$T/change.py" <<'PY'
import os, sys, time
op, name, log, serial = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.chdir(os.path.dirname(log) + "/watched")
if op == "modify":
    with open(name, "w") as f:
        f.write("changed by python\n")
    sc, nt = 257, "NORMAL"
else:
    os.unlink(name)
    sc, nt = 263, "DELETE"
t = time.time()
time.sleep(0.2)  # audit lines lag the change
stamp = "%d.%03d:%d" % (int(t), int(t * 1000) % 1000, serial)
exe = os.readlink("/proc/self/exe")
title = open("/proc/self/cmdline", "rb").read().rstrip(b"\0").hex().upper()
cwd = os.getcwd()
recs = [
    "type=SYSCALL msg=audit(%s): arch=c000003e syscall=%d success=yes exit=3 a0=ffffff9c "
    "a1=7ffd a2=241 a3=1b6 items=2 ppid=%d pid=%d auid=4294967295 uid=%d gid=%d euid=%d suid=%d "
    "fsuid=%d egid=%d sgid=%d fsgid=%d tty=(none) ses=4294967295 comm=\"python3\" exe=\"%s\" "
    "subj=unconfined key=\"yw_fim\"" % (stamp, sc, os.getppid(), os.getpid(),
    os.getuid(), os.getgid(), os.geteuid(), os.getuid(), os.getuid(), os.getegid(),
    os.getgid(), os.getgid(), exe),
    "type=CWD msg=audit(%s): cwd=\"%s\"" % (stamp, cwd),
    "type=PATH msg=audit(%s): item=0 name=\"%s/\" inode=2 dev=08:01 mode=040755 ouid=0 ogid=0 "
    "rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" % (stamp, cwd),
    "type=PATH msg=audit(%s): item=1 name=\"%s\" inode=3 dev=08:01 mode=0100644 ouid=0 ogid=0 "
    "rdev=00:00 nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" % (stamp, name, nt),
    "type=PROCTITLE msg=audit(%s): proctitle=%s" % (stamp, title),
    "type=EOE msg=audit(%s): " % stamp,
]
with open(log, "a") as f:
    f.write("\n".join(recs) + "\n")
print(os.getpid(), exe)
PY
read -r wpid wexe < <(python3 "$T/change.py" modify app.conf "$T/audit.log" 7001)
wait_for 10 has_ev file_modified "$T/watched/app.conf" || true
e=$(ev file_modified "$T/watched/app.conf")
check "a modification arrives with the user and process that made it" python3 -c '
import json, os, pwd, sys
e = json.loads(sys.argv[1])
assert e.get("yiwang.fim.whodata") is True, e
assert e["user.id"] == str(os.getuid()) and e["user.name"] == pwd.getpwuid(os.getuid()).pw_name, e
assert e["process.pid"] == int(sys.argv[2]) and e["process.ppid"] > 1, e
assert e["process.executable"] == sys.argv[3], e
assert e["process.name"] == os.path.basename(sys.argv[3]), e
assert "change.py modify app.conf" in e["process.command_line"], e
assert "user.audit.id" not in e, e  # auid unset (4294967295)
' "$e" "$wpid" "$wexe"

read -r dpid _ < <(python3 "$T/change.py" delete old.txt "$T/audit.log" 7002)
wait_for 10 has_ev file_deleted "$T/watched/old.txt" || true
e=$(ev file_deleted "$T/watched/old.txt")
check "a deletion (nametype DELETE) carries who-data" python3 -c '
import json, sys
e = json.loads(sys.argv[1])
assert e.get("yiwang.fim.whodata") is True and e["process.pid"] == int(sys.argv[2]), e
' "$e" "$dpid"

# No audit record: the event waits out whodata_wait (1 s, after the 1 s debounce), then
# arrives without who-data.
t0=$(date +%s.%N)
echo new > "$T/watched/new.txt"
wait_for 10 has_ev file_added "$T/watched/new.txt" || true
e=$(ev file_added "$T/watched/new.txt")
check "a change without audit records arrives after the wait, without who-data" python3 -c '
import json, sys, datetime
e = json.loads(sys.argv[1])
assert "yiwang.fim.whodata" not in e and "process.pid" not in e and "user.id" not in e, e
ts = datetime.datetime.fromisoformat(e["@timestamp"].replace("Z", "+00:00")).timestamp()
assert ts - float(sys.argv[2]) >= 1.8, ts - float(sys.argv[2])
' "$e" "$t0"
check "the audit lines themselves were forwarded too" sql_ge "$S" 1 "SELECT COUNT(*) FROM events WHERE CAST(event AS TEXT) LIKE '%7001%' AND CAST(event AS TEXT) NOT LIKE '%\"event.module\":\"fim\"%'"
check "no sanitizer reports" clean_logs "$S.log" "$A.log"
exit $fail
