#!/usr/bin/env bash
# Attacks on the HTTP API and the pages of the real server over HTTPS on loopback
# (docs/security.md, "HTTP API and pages"): the regressions of the security review, and the
# checks of what it found sound. Each part talks from its own loopback address, so the
# per-address rate limit of one part does not spill into the next.
#  1. Requests outside /api/v1 with other methods are rate limited and never audited (they
#     wrote one audit row each, without limit, for anyone).
#  2. Requests the rate limit turns away are not audited: the log grows at most at the limit.
#  3. /metrics is rate limited.
#  4. A live stream ends soon after its session is logged out, or its user deleted.
#  5. Sound: roles on every method and path spelling, security headers on every kind of
#     answer, no cookies, no echo of input into headers.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s
# A small burst, so the limit shows after a few requests.
printf 'http:\n  listen: 127.0.0.1:%s\n  rate_limit: 1\n  rate_burst: 5\n' "$hport" >"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
check "the server announces the HTTP API" log_has 10 "$S.log" "HTTP API on https://127\.0\.0\.1:$hport/"
for u in admin:admin viewer:viewer doomed:viewer; do
  echo "${u%%:*}-password" | "$build/yiwang" user add "${u%%:*}" --role "${u#*:}" --data-dir "$S" >/dev/null
done
B="https://127.0.0.1:$hport" U="$B/api/v1"
# st ADDR METHOD URL [curl args...]: the status code, from the loopback address ADDR.
st() {
  local ip=$1 m=$2 url=$3; shift 3
  curl -sS --path-as-is --max-time 5 --cacert "$S/pki/ca.crt" --interface "$ip" -o "$T/body" \
    -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$url" || echo 000
}
login() {
  curl -sS --cacert "$S/pki/ca.crt" --interface "$1" -X POST "$U/login" \
    -d "{\"user\":\"$2\",\"password\":\"$2-password\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
audit_rows() { sqlite3 -cmd '.timeout 5000' "$S/api.db" "SELECT COUNT(*) FROM audit WHERE address='$1'"; }
# many ADDR N METHOD URL [curl args...]: N requests on one connection; prints "<code> <count>"
many() {
  local ip=$1 n=$2 m=$3 url=$4; shift 4
  local args=()
  for _ in $(seq "$n"); do args+=(-o /dev/null -w '%{http_code}\n' -X "$m" "$@" "$url"); done
  curl -sS --max-time 20 --cacert "$S/pki/ca.crt" --interface "$ip" "${args[@]}" | sort | uniq -c |
    awk '{print $2, $1}'
}

# 1. PUT on a page or an unknown path: 405/404 for the first few, then 429; no audit rows.
out=$(many 127.0.0.2 40 PUT "$B/ui/screen.html")
echo "# PUT /ui/screen.html x40: $(echo $out)"
check "PUT on a page: 405 at first" grep -q '^405 ' <<<"$out"
check "PUT on a page: rate limited" grep -q '^429 ' <<<"$out"
out=$(many 127.0.0.3 40 DELETE "$B/$(head -c 400 /dev/zero | tr '\0' x)")
check "DELETE on an unknown path: rate limited" grep -q '^429 ' <<<"$out"
check "no audit rows for paths outside the API" test "$(audit_rows 127.0.0.2)$(audit_rows 127.0.0.3)" = 00
check "page reads are not rate limited" \
  test "$(many 127.0.0.2 30 GET "$B/ui/api.js" | awk '$1 == 200 {print $2}')" = 30

# 2. An API flood without a token: only what the limit lets through is audited.
out=$(many 127.0.0.4 40 POST "$U/alerts/1/status" -d '{}')
echo "# POST /alerts/1/status x40 without a token: $(echo $out)"
passed=$(awk '$1 != 429 {n += $2} END {print n + 0}' <<<"$out")
check "API flood: rate limited" grep -q '^429 ' <<<"$out"
check "API flood: between 1 and 10 answered" test "$passed" -ge 1 -a "$passed" -le 10
check "API flood: one audit row per answered request, none for the refused" \
  test "$(audit_rows 127.0.0.4)" = "$passed"
check "an audited 401 keeps its status" \
  test "$(sqlite3 "$S/api.db" "SELECT status FROM audit WHERE address='127.0.0.4' LIMIT 1")" = 401

# 3. /metrics counts against the limit (it reads the store).
V=$(login 127.0.0.5 viewer)
check "viewer logs in" test -n "$V"
out=$(many 127.0.0.5 20 GET "$B/metrics" -H "Authorization: Bearer $V")
check "/metrics: rate limited" grep -q '^429 ' <<<"$out"

# 4. Streams end after a logout and after the user is deleted (re-checked every 5 s).
# stream_for ADDR TOKEN OUT: a stream in the background; sets SP
stream_for() {
  curl -sS -N --max-time 30 --cacert "$S/pki/ca.crt" --interface "$1" \
    -H "Authorization: Bearer $2" "$U/stream" >"$3" 2>&1 &
  SP=$!; PIDS+=("$SP")
}
V6=$(login 127.0.0.6 viewer)
stream_for 127.0.0.6 "$V6" "$T/s1.out"; S1=$SP
D=$(login 127.0.0.7 doomed)
stream_for 127.0.0.7 "$D" "$T/s2.out"; S2=$SP
V8=$(login 127.0.0.8 viewer)
stream_for 127.0.0.8 "$V8" "$T/s3.out"; S3=$SP
check "the streams open" wait_for 5 sh -c "grep -q '^: yiwang live stream' '$T/s1.out' && grep -q '^: yiwang live stream' '$T/s2.out' && grep -q '^: yiwang live stream' '$T/s3.out'"
check "logout: 200" test "$(st 127.0.0.6 POST "$U/logout" -H "Authorization: Bearer $V6")" = 200
"$build/yiwang" user delete doomed --data-dir "$S" >/dev/null
check "the logged-out session's stream ends within 8 s" wait_for 8 not kill -0 "$S1"
check "the deleted user's stream ends within 8 s" wait_for 8 not kill -0 "$S2"
check "a live session's stream goes on" kill -0 "$S3"
n0=$(grep -c '^event: counters' "$T/s3.out" || true)
check "and keeps getting counters" wait_for 5 sh -c "[ \$(grep -c '^event: counters' '$T/s3.out') -gt $n0 ]"
kill "$S3" 2>/dev/null || true

# 5. Roles hold for every method and spelling of a path: a viewer never gets a 2xx from an
# admin or analyst endpoint, whatever the method, slashes, dots or percent-encoding.
V9=$(login 127.0.0.9 viewer)
bad="" n403=0 i=0
for m in GET POST PUT DELETE PATCH OPTIONS; do
  for p in /audit /audit/ //audit /./audit /x/../audit /%61udit '/audit%00' /tokens /tokens/ \
    /tokens/x /responses /alerts/status /alerts/1/status /agents/a/respond; do
    # An address of its own for each request: the rate limit stays out of the way.
    i=$((i + 1))
    c=$(st "127.0.1.$i" "$m" "$U$p" -H "Authorization: Bearer $V9")
    case $c in 2*|000|429) bad="$bad $m:$p:$c" ;; 403) n403=$((n403 + 1)) ;; esac
  done
done 2>/dev/null
check "a viewer gets no 2xx from admin and analyst endpoints (${bad:-none})" test -z "$bad"
echo "# $n403 of $i answered 403, the rest 404 or 405"
check "the known paths answer 403 to GET" test "$n403" -ge 5
check "a token one character too long: 401" \
  test "$(st 127.0.0.10 GET "$U/me" -H "Authorization: Bearer ${V9}0")" = 401

# Headers on every kind of answer: JSON error, redirect, page, 304, stream, 405.
hdr_ok() {
  grep -qi '^X-Content-Type-Options: nosniff' "$T/hdr" && grep -qi '^X-Frame-Options: DENY' "$T/hdr" &&
    grep -qi '^Content-Security-Policy: ' "$T/hdr" && ! grep -qi '^Set-Cookie' "$T/hdr"
}
st 127.0.0.11 GET "$U/me" >/dev/null
check "401 JSON: security headers" hdr_ok
st 127.0.0.11 GET "$B/" >/dev/null
check "redirect: security headers, Location ours" sh -c "grep -qi '^Location: /ui/screen.html' '$T/hdr'"
check "redirect: headers" hdr_ok
st 127.0.0.11 GET "$B/ui/login.html" >/dev/null
check "page: security headers" hdr_ok
check "page: frame-ancestors 'none' and no referrer" \
  sh -c "grep -qi \"frame-ancestors 'none'\" '$T/hdr' && grep -qi '^Referrer-Policy: no-referrer' '$T/hdr'"
st 127.0.0.11 GET "$B/ui/api.js" >/dev/null
et=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$T/hdr" | tr -d '\r')
c=$(st 127.0.0.11 GET "$B/ui/api.js" -H "If-None-Match: $et")
check "304 answered" test "$c" = 304
check "304: headers" hdr_ok
c=$(st 127.0.0.12 GET "$U/stream" -H "Authorization: Bearer $V9" --max-time 2)
check "stream: headers" hdr_ok
c=$(st 127.0.0.12 POST "$B/ui/x.js")
check "405 on a page: headers" hdr_ok
# Nothing of the request is echoed into a header (CR/LF in the path, the query, a header).
c=$(st 127.0.0.13 GET "$B/ui/%0d%0aX-Evil:%201" -H 'If-None-Match: "a"%0d%0aX-Evil: 1')
check "no injected header" not grep -qi '^X-Evil' "$T/hdr"

check "no sanitizer report" clean_logs "$S.log"
exit $fail
