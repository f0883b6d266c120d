#!/usr/bin/env bash
# Packaging (docs/install.md): both systemd units pass `systemd-analyze verify`, the server's
# exposure stays low, the agent's capability bounding set is what src/agent/privs.c may keep
# (plus its two start-up-only ones); the default configurations hold every built-in default and
# load; cpack builds the two .debs from this build tree (about 10 s), whose contents, modes,
# conffiles, Depends and maintainer scripts are checked. Nothing is installed on this machine.
source "$(dirname "$0")/lib.bash"
P=$src/packaging
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")

# 1. Units, with ExecStart pointing into the build tree (verify checks it is executable).
mkdir -p "$T/units"
for u in server agent; do
  sed "s|/usr/bin/yiwang-$u|$build/yiwang-$u|" "$P/systemd/yiwang-$u.service" >"$T/units/yiwang-$u.service"
done
check "systemd-analyze verify: both units, no complaint" \
  sh -c "systemd-analyze verify '$T/units/yiwang-server.service' '$T/units/yiwang-agent.service' >'$T/verify.out' 2>&1 && ! test -s '$T/verify.out'"
[ -s "$T/verify.out" ] && cat "$T/verify.out"
systemd-analyze security --offline=yes "$T/units/yiwang-server.service" >"$T/security.out" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for yiwang-server.service: \([0-9.]*\).*/\1/p' "$T/security.out")
echo "#    server exposure: ${score:-?}"
check "systemd-analyze security: server exposure at most 2.0" \
  python3 -c "import sys; sys.exit(not (sys.argv[1] and float(sys.argv[1]) <= 2.0))" "${score:-}"
unit_val() { sed -n "s/^$2=//p" "$P/systemd/yiwang-$1.service" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '; }
check "server: user yiwang, state 0700, no capabilities" sh -c "
  grep -qx 'User=yiwang' '$P/systemd/yiwang-server.service' &&
  grep -qx 'StateDirectory=yiwang' '$P/systemd/yiwang-server.service' &&
  grep -qx 'StateDirectoryMode=0700' '$P/systemd/yiwang-server.service' &&
  grep -qx 'CapabilityBoundingSet=' '$P/systemd/yiwang-server.service' &&
  grep -qx 'ExecStart=/usr/bin/yiwang-server --config /etc/yiwang/server.yml' '$P/systemd/yiwang-server.service'"
# The default ports need no CAP_NET_BIND_SERVICE.
check "server: default ports above 1024" sh -c "
  '$build/yiwang-server' --print-config | grep -E '^\| \`(listen|http.listen)\`' |
  grep -oE ':[0-9]+\`' | tr -d ':\`' | awk '\$1 < 1024 { bad = 1 } END { exit bad }'"
kept=$(sed -n '1,/^}/p' "$src/src/agent/privs.c" | grep -o 'BIT(CAP_[A-Z_]*)' | sed 's/BIT(\(.*\))/\1/' |
  { cat; printf 'CAP_SETPCAP\nCAP_AUDIT_CONTROL\n'; } | sort -u | tr '\n' ' ')
got=$(unit_val agent CapabilityBoundingSet)
check "agent: bounding set = privs.c's kept set + CAP_SETPCAP, CAP_AUDIT_CONTROL ($got)" test "$kept" = "$got"
check "agent: no ambient capabilities, no_new_privs, Restart=always, state dir" sh -c "
  grep -qx 'AmbientCapabilities=' '$P/systemd/yiwang-agent.service' &&
  grep -qx 'NoNewPrivileges=yes' '$P/systemd/yiwang-agent.service' &&
  grep -qx 'Restart=always' '$P/systemd/yiwang-agent.service' &&
  grep -qx 'StateDirectory=yiwang-agent' '$P/systemd/yiwang-agent.service' &&
  grep -qx 'ExecStart=/usr/bin/yiwang-agent --config /etc/yiwang/agent.yml' '$P/systemd/yiwang-agent.service'"

# 2. Default configurations: every option with a default is set to it, every other one is only
# shown commented out, and nothing else is set.
defaults_match() {
  "$build/$1" --print-config >"$T/$1.ref"
  python3 - "$T/$1.ref" "$2" <<'PY'
import re, sys, yaml
ref = {}
for line in open(sys.argv[1]):
    m = re.match(r'^\| `([^`]+)` \| (\w+) \| (`([^`]*)`|—) \|', line)
    if m:
        ref[m.group(1)] = (m.group(2), m.group(4))
text = open(sys.argv[2]).read()
def flat(d, pre=''):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, pre + k + '.')
        else:
            yield pre + k, v
def show(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, list):
        return ','.join(map(str, v))
    return str(v)
bad = []
got = dict(flat(yaml.safe_load(text)))
for k, v in got.items():
    if k not in ref:
        bad.append(f'{k}: not an option')
    elif ref[k][1] is None:
        bad.append(f'{k}: has no default, must stay commented out')
    elif show(v) != ref[k][1]:
        bad.append(f'{k}: {show(v)} != default {ref[k][1]}')
for k, (typ, dflt) in ref.items():
    leaf = k.split('.')[-1]
    if dflt is not None and k not in got:
        bad.append(f'{k}: missing')
    if dflt is None and not re.search(r'^\s*#\s*' + re.escape(leaf) + r':', text, re.M):
        bad.append(f'{k}: not shown (commented out)')
for b in bad:
    print('#   ', b)
sys.exit(1 if bad else 0)
PY
}
check "server.yml: every option, each at its built-in default" defaults_match yiwang-server "$P/etc/server.yml"
check "agent.yml: every option, each at its built-in default" defaults_match yiwang-agent "$P/etc/agent.yml"
# The server runs with it (only the data directory and ports moved into the test's).
port=$(free_port); hport=$(free_port)
sed "s|^  listen: 127.0.0.1:8443$|  listen: 127.0.0.1:$hport|" "$P/etc/server.yml" >"$T/server.yml"
check "the test's copy moved only http.listen" test "$(diff "$P/etc/server.yml" "$T/server.yml" | grep -c '^[<>]')" = 2
check "yiwang-server starts with server.yml" start_server "$T/s" "127.0.0.1:$port" --config "$T/server.yml"
check "server.yml: no error or warning logged" not grep -Eq 'error|warning' "$T/s.log"
check "the server's HTTP API listens as configured" log_has 10 "$T/s.log" "HTTP API on https://127\.0\.0\.1:$hport/"
kill -TERM "$SERVER_PID" 2>/dev/null || true
exit_status 10 "$SERVER_PID"
check "the server stops cleanly on SIGTERM (as systemctl stop does)" test "$EXIT_STATUS" = 0
check "no sanitizer report" clean_logs "$T/s.log"
# The agent has no check-only mode: the file is loaded before the command is read, so an unknown
# command fails after a clean load, and a broken file fails before.
set +e
out=$("$build/yiwang-agent" --config "$P/etc/agent.yml" no-such-command 2>&1); rc=$?
printf 'files:\n  - /var/log/x\nfim:\n  hash: md5\n' >"$T/bad-agent.yml"
bad=$("$build/yiwang-agent" --config "$T/bad-agent.yml" no-such-command 2>&1)
set -e
check "agent.yml loads without diagnostics" sh -c "[ $rc = 2 ] && ! grep -q 'agent.yml:' <<'E'
$out
E
grep -q \"unknown command 'no-such-command'\" <<'E'
$out
E"
check "(the agent check can fail: a bad file is reported)" grep -q 'bad-agent.yml:4:' <<<"$bad"

# 3. The packages, from this build tree.
t0=$(date +%s)
check "cpack builds the packages" sh -c "cpack --config '$build/CPackConfig.cmake' -B '$T/pkg' >'$T/cpack.log' 2>&1"
echo "#    cpack took $(($(date +%s) - t0)) s"
arch=$(dpkg --print-architecture)
# has PKG MODE PATH: the package's listing has PATH with MODE
has() { grep -qx -- "$2 $3" "$T/$1.list"; }
for pkg in server agent; do
  deb=$T/pkg/yiwang-${pkg}_${version}-1_$arch.deb
  check "yiwang-$pkg: $(basename "$deb") built" test -f "$deb"
  [ -f "$deb" ] || continue
  dpkg-deb -I "$deb" >"$T/$pkg.info"
  dpkg-deb -c "$deb" | awk '{ print $1, $6 }' | sed 's|^\([^ ]*\) \./|\1 /|' >"$T/$pkg.list"
  dpkg-deb -e "$deb" "$T/$pkg.ctl"
  dpkg-deb -x "$deb" "$T/$pkg.root"
  check "yiwang-$pkg: Package, Version, Architecture" sh -c "
    dpkg-deb -f '$deb' Package | grep -qx 'yiwang-$pkg' &&
    dpkg-deb -f '$deb' Version | grep -qx '$version-1' &&
    dpkg-deb -f '$deb' Architecture | grep -qx '$arch'"
  check "yiwang-$pkg: Depends computed (libc6, libssl3)" sh -c "
    dpkg-deb -f '$deb' Depends | grep -q 'libc6 (>=' && dpkg-deb -f '$deb' Depends | grep -q 'libssl3'"
  check "yiwang-$pkg: unit 0644 in /lib/systemd/system" has $pkg -rw-r--r-- "/lib/systemd/system/yiwang-$pkg.service"
  check "yiwang-$pkg: $pkg.yml 0644 in /etc/yiwang" has $pkg -rw-r--r-- "/etc/yiwang/$pkg.yml"
  check "yiwang-$pkg: conffiles lists exactly /etc/yiwang/$pkg.yml" test "$(cat "$T/$pkg.ctl/conffiles")" = "/etc/yiwang/$pkg.yml"
  check "yiwang-$pkg: the shipped $pkg.yml is packaging/etc/$pkg.yml" cmp -s "$P/etc/$pkg.yml" "$T/$pkg.root/etc/yiwang/$pkg.yml"
  check "yiwang-$pkg: the shipped unit starts $prefix/bin/yiwang-$pkg" \
    grep -qx "ExecStart=$prefix/bin/yiwang-$pkg --config /etc/yiwang/$pkg.yml" "$T/$pkg.root/lib/systemd/system/yiwang-$pkg.service"
  for s in postinst prerm postrm; do
    check "yiwang-$pkg: $s 0755, passes sh -n" sh -c "test \"\$(stat -c %a '$T/$pkg.ctl/$s')\" = 755 && sh -n '$T/$pkg.ctl/$s'"
    if command -v shellcheck >/dev/null; then
      check "yiwang-$pkg: $s passes shellcheck" shellcheck -s sh "$T/$pkg.ctl/$s"
    fi
  done
  check "yiwang-$pkg: docs in $prefix/share/doc/yiwang-$pkg" has $pkg -rw-r--r-- "$prefix/share/doc/yiwang-$pkg/install.md"
done
check "yiwang-server: yiwang-server and yiwang 0755" sh -c "
  grep -qx -- '-rwxr-xr-x $prefix/bin/yiwang-server' '$T/server.list' &&
  grep -qx -- '-rwxr-xr-x $prefix/bin/yiwang' '$T/server.list'"
check "yiwang-server: Sigma rules, mapping, solutions" sh -c "
  grep -q ' $prefix/share/yiwang/rules/sigma/linux/.*\.yml$' '$T/server.list' &&
  grep -qx -- '-rw-r--r-- $prefix/share/yiwang/rules/mapping/ecs.yml' '$T/server.list' &&
  grep -q ' $prefix/share/yiwang/rules/solutions/' '$T/server.list'"
check "yiwang-server: depends on adduser (postinst), and libmicrohttpd, libsqlite3" sh -c "
  dpkg-deb -f '$T/pkg/yiwang-server_${version}-1_$arch.deb' Depends | grep -q 'adduser' &&
  dpkg-deb -f '$T/pkg/yiwang-server_${version}-1_$arch.deb' Depends | grep -q 'libmicrohttpd' &&
  dpkg-deb -f '$T/pkg/yiwang-server_${version}-1_$arch.deb' Depends | grep -q 'libsqlite3'"
check "yiwang-server: postinst makes the system user, postrm removes it and the data on purge" sh -c "
  grep -q 'adduser --quiet --system --group --no-create-home' '$T/server.ctl/postinst' &&
  grep -q 'deluser --quiet --system yiwang' '$T/server.ctl/postrm' &&
  grep -q 'rm -rf /var/lib/yiwang$' '$T/server.ctl/postrm'"
check "yiwang-agent: yiwang-agent 0755, SCA policies and audit rules" sh -c "
  grep -qx -- '-rwxr-xr-x $prefix/bin/yiwang-agent' '$T/agent.list' &&
  grep -qx -- '-rw-r--r-- $prefix/share/yiwang/rules/sca/debian.yml' '$T/agent.list' &&
  grep -qx -- '-rw-r--r-- $prefix/share/yiwang/rules/audit/yiwang.rules' '$T/agent.list'"
check "yiwang-agent: no server, CLI or Sigma rules" not grep -Eq "bin/yiwang(-server)?$|rules/sigma" "$T/agent.list"
# Both packages can be installed on one host: no file in both.
check "no file in both packages" bash -c "
  comm -12 <(grep -v '^d' '$T/server.list' | cut -d' ' -f2 | sort) <(grep -v '^d' '$T/agent.list' | cut -d' ' -f2 | sort) |
  { ! grep -q .; }"
exit $fail
