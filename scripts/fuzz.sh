#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang and runs each for SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
scripts/deps.sh
CC=clang BUILD_DIR=build-fuzz scripts/build.sh -DYW_FUZZ=ON -DYW_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
mkdir -p build-fuzz/corpus
# Seeds from the project's own samples and rules: one file per line or rule.
seed() { # seed NAME FILE...: split lines of FILE into NAME's seed directory
  local dir=build-fuzz/seeds/$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  cat "$@" | awk -v d="$dir" 'NF { print > (d "/" NR) }'
}
seed fuzz_syslog samples/auth.log
seed fuzz_auditd samples/audit.log
build/yiwang decode samples/auth.log 2>/dev/null | head -50 > build-fuzz/events.jsonl || true
seed fuzz_json build-fuzz/events.jsonl
rm -rf build-fuzz/seeds/fuzz_sigma && mkdir -p build-fuzz/seeds/fuzz_sigma
cp rules/sigma/linux/*.yml build-fuzz/seeds/fuzz_sigma/
# Valid frames for fuzz_frame (docs/protocol.md): one per message type, and a whole session in
# one stream; valid enrolment strings for fuzz_enroll_string.
python3 - build-fuzz/seeds <<'PY'
import base64, os, struct, sys
root = sys.argv[1]
def frame(t, p): return b"YW" + bytes([1, t, 0, 0]) + struct.pack(">I", len(p)) + p
def t16(b): return struct.pack(">H", len(b)) + b
def t32(b): return struct.pack(">I", len(b)) + b
def rec(delta, line):
    return struct.pack(">Iqb", delta, 1795600000000000000, 1) + t16(b"file:/var/log/auth.log") + t32(line)
lines = [l.rstrip(b"\n") for l in open("samples/auth.log", "rb")][:5]
frames = {
    "hello": frame(1, bytes([1, 1]) + t16(b"6f58ef02-c2c5-4fbc-b7ca-77c6183d8dad") + t16(b"0.1.0")
                   + t16(b"web-01") + t16(b"Debian GNU/Linux 12") + struct.pack(">Q", 1001)),
    "welcome": frame(2, bytes([1]) + t16(b"0.1.0") + struct.pack(">QHII", 1000, 30, 10000, 4 << 20)),
    "enroll": frame(3, t16(b"ab" * 32) + t32(b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
                    b"-----END CERTIFICATE REQUEST-----\n") + t16(b"web-01") + t16(b"Linux") + t16(b"0.1.0")),
    "enrolled": frame(4, t16(b"6f58ef02") + t32(b"-----BEGIN CERTIFICATE-----\n") + t32(b"-----BEGIN CERTIFICATE-----\n")),
    "batch": frame(5, struct.pack(">QI", 1001, len(lines))
                   + b"".join(rec(0 if i == 0 else 1 + i % 2, l) for i, l in enumerate(lines))),
    "ack": frame(6, struct.pack(">Q", 1005)),
    "ping": frame(7, struct.pack(">Q", 42)),
    "pong": frame(8, struct.pack(">Q", 42)),
    "config": frame(9, struct.pack(">Q", 7) + t32(b'{"files":["/var/log/auth.log"]}')),
    "command": frame(10, struct.pack(">Q", 42) + t16(b"block_ip") + t32(b'{"ip":"203.0.113.45"}')),
    "result": frame(11, struct.pack(">QB", 42, 3) + t32(b"{}")),
    "error": frame(12, struct.pack(">H", 4) + t16(b"enrolment token rejected")),
    "bye": frame(13, b""),
}
frames["session"] = b"".join(frames[k] for k in ("hello", "batch", "ping", "result", "bye"))
d = os.path.join(root, "fuzz_frame"); os.makedirs(d, exist_ok=True)
for k, v in frames.items():
    open(os.path.join(d, k), "wb").write(v)
d = os.path.join(root, "fuzz_enroll_string"); os.makedirs(d, exist_ok=True)
for i, addr in enumerate([b"127.0.0.1:1514", b"siem.example.org:443", b"[::1]:1514"]):
    p = bytes([len(addr)]) + addr + bytes(range(32)) + bytes(range(100, 132))
    open(os.path.join(d, str(i)), "w").write("yw1:" + base64.urlsafe_b64encode(p).decode().rstrip("="))
PY
mkdir -p build-fuzz/seeds/fuzz_sigma_cond
printf 'selection and not filter' > build-fuzz/seeds/fuzz_sigma_cond/1
printf '1 of sel* and not all of filter_*' > build-fuzz/seeds/fuzz_sigma_cond/2
# Who-data: the audit samples, and one whole file event (SYSCALL, CWD, PATH with a relative and
# a hex-encoded name, PROCTITLE, EOE) in one seed.
seed fuzz_whodata samples/audit.log
cat > build-fuzz/seeds/fuzz_whodata/event <<'AUD'
type=SYSCALL msg=audit(1700000000.100:77): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55d1 a2=241 a3=1b6 items=2 ppid=1 pid=4242 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="vi" exe="/usr/bin/vim.basic" subj=unconfined key="yw_fim"
type=CWD msg=audit(1700000000.100:77): cwd="/etc"
type=PATH msg=audit(1700000000.100:77): item=0 name="/etc/" inode=2 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PATH msg=audit(1700000000.100:77): item=1 name=6865726520697320612066696C65 inode=9 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PROCTITLE msg=audit(1700000000.100:77): proctitle=7669002F6574632F686F737473
type=EOE msg=audit(1700000000.100:77):
AUD
# SCA policies: the shipped policy's header with one of its checks each (whole policies are
# larger than -max_len, and a cut YAML document never gets past the parser).
rm -rf build-fuzz/seeds/fuzz_sca_policy && mkdir -p build-fuzz/seeds/fuzz_sca_policy
python3 - build-fuzz/seeds/fuzz_sca_policy rules/sca/*.yml <<'PY'
import os, re, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    head, _, body = text.partition("\nchecks:\n")
    for i, chk in enumerate(re.split(r"\n(?=  - id: )", body)):
        name = "%s-%03d" % (os.path.basename(path), i)
        open(os.path.join(out, name), "w", encoding="utf-8").write(head + "\nchecks:\n" + chk + "\n")
PY
status=0
for f in build-fuzz/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  mkdir -p "build-fuzz/corpus/$name"
  seeds=()
  [ -d "build-fuzz/seeds/$name" ] && seeds+=("build-fuzz/seeds/$name")
  echo "== $name ($secs s)"
  if ! "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="build-fuzz/$name-" "build-fuzz/corpus/$name" "${seeds[@]}" \
       >"build-fuzz/$name.log" 2>&1; then
    echo "$name FAILED:"; tail -40 "build-fuzz/$name.log"; status=1
  else
    tail -1 "build-fuzz/$name.log"
  fi
done
exit $status
