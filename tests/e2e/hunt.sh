#!/usr/bin/env bash
# End-to-end: the real `yiwang` binary hunts through real third-party logs with SigmaHQ's rules
# and the bundled ones, and through the bundled demo samples.
# usage: hunt.sh BUILD_DIR SHARED_DIR SOURCE_DIR
set -euo pipefail
build=$1 shared=$2 src=$3
yw=$build/yiwang
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok   - $what"; else echo "FAIL - $what"; fail=1; fi
}
# count_rule FILE RULE_ID: matches of that rule in a jsonl hunt output
count_rule() { python3 -c '
import json, sys
n = sum(1 for l in open(sys.argv[1]) if json.loads(l)["rule"]["id"] == sys.argv[2])
print(n)' "$1" "$2"; }

# 1. OTRF binary padding (dd) fires SigmaHQ's lnx_auditd_binary_padding.
"$yw" hunt --rules "$shared/sigma/rules/linux" --output jsonl \
  "$shared/corpus/otrf/sh_binary_padding_dd_2020-11-10081941.log" > "$tmp/dd.jsonl"
n=$(count_rule "$tmp/dd.jsonl" c52a914f-3d8b-4b2a-bb75-b3991e75f8ba)
check "binary padding fires once on the OTRF dd log (got $n)" test "$n" -eq 1
check "the dd match carries the EXECVE arguments" \
  python3 -c '
import json, sys
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m["rule"]["id"] == "c52a914f-3d8b-4b2a-bb75-b3991e75f8ba":
        e = m["event"]
        assert e["process.args"][:2] == ["dd", "if=/dev/zero"], e
        assert "EXECVE" in e["auditd.type"], e
        assert m["rule"]["level"] == "high" and "attack.t1027.001" in m["rule"]["tags"]
' "$tmp/dd.jsonl"

# 2. OTRF arp -a fires SigmaHQ's Linux remote system discovery (a process_creation rule).
"$yw" hunt --rules "$shared/sigma/rules/linux" --output jsonl \
  "$shared/corpus/otrf/sh_arp_cache_2020-11-10074812.log" > "$tmp/arp.jsonl"
n=$(count_rule "$tmp/arp.jsonl" 11063ec2-de63-4153-935e-b1a8b9e616f1)
check "remote system discovery fires once on the OTRF arp log (got $n)" test "$n" -eq 1

# 3. The elastic auth.log: every failed sshd authentication with the right sources. Expected
#    values come from grep: 632 "Failed <method>" lines plus 85 rsyslog "message repeated N
#    times: [ Failed ...]" lines, whose inner message is decoded too. 34.204.227.175 tries an
#    empty user name ("for invalid user  from"), 43 times.
"$yw" hunt --rules "$src/rules/sigma" --output jsonl \
  "$shared/corpus/auth/ubuntu-ec2-auth.log" > "$tmp/auth.jsonl"
check "sshd failures and their top sources" python3 -c '
import json, sys, collections
c = collections.Counter()
for l in open(sys.argv[1]):
    m = json.loads(l)
    if m["rule"]["title"] == "SSH Authentication Failure":
        c[m["event"]["source.ip"]] += 1
total = sum(c.values())
assert total == 717, total
top = c.most_common(5)
assert top == [("24.151.103.17", 157), ("34.204.227.175", 43), ("49.4.143.105", 40),
               ("201.178.81.113", 32), ("122.163.61.218", 30)], top
' "$tmp/auth.jsonl"

# 4. The demo samples: the story's key steps are all found.
"$yw" hunt --rules "$src/rules/sigma" --rules "$shared/sigma/rules/linux" --output jsonl \
  "$src"/samples/*.log > "$tmp/demo.jsonl"
check "demo samples raise the expected warnings" python3 -c '
import json, sys
titles = {json.loads(l)["rule"]["title"] for l in open(sys.argv[1])}
want = ["SSH Authentication Failure", "SSH Login Attempt For Unknown User",
        "User Added To A Privileged Group", "Local User Account Created",
        "Interactive Root Shell Through Sudo", "Binary Padding - Linux"]
missing = [w for w in want if w not in titles]
assert not missing, (missing, sorted(titles))
' "$tmp/demo.jsonl"

# 5. Text output: one line per hit plus a summary; attacker text cannot emit escape codes.
printf 'Nov 26 01:00:00 h sshd[1]: Failed password for \033[31mevil\033[0m from 192.0.2.1 port 1 ssh2\n' \
  > "$tmp/esc.log"
"$yw" hunt --rules "$src/rules/sigma" "$tmp/esc.log" > "$tmp/esc.txt"
check "text output escapes control bytes" bash -c "! grep -q \$'\\033' '$tmp/esc.txt' && grep -q 'x1b\\[31mevil' '$tmp/esc.txt'"
check "text output ends with a summary" grep -q '^1 events, 1 matches' "$tmp/esc.txt"

# 6. Exit codes.
set +e
"$yw" hunt "$tmp/esc.log" >/dev/null 2>&1; rc1=$?
"$yw" hunt --rules "$src/rules/sigma" "$tmp/nonexistent.log" >/dev/null 2>&1; rc2=$?
"$yw" nosuchcommand >/dev/null 2>&1; rc3=$?
set -e
check "usage error exits 2 (got $rc1)" test "$rc1" -eq 2
check "unreadable input exits 1 (got $rc2)" test "$rc2" -eq 1
check "unknown command exits 2 (got $rc3)" test "$rc3" -eq 2

exit $fail
