#!/usr/bin/env bash
# The web pages the server carries (docs/dashboard.md): / redirects to the big screen; every
# page, script and style of web/ui and ECharts come from the binary with the right type,
# security headers on pages (CSP without inline code), no-store on HTML, ETag and 304 on the
# rest, a week for ECharts; unknown names and traversal attempts are 404, methods other than
# GET/HEAD 405; no page holds inline script or style.
source "$(dirname "$0")/lib.bash"
port=$(free_port); hport=$(free_port); S=$T/s
printf 'http:\n  listen: 127.0.0.1:%s\n' "$hport" >"$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
check "the server announces the HTTP API" log_has 10 "$S.log" "HTTP API on https://127\.0\.0\.1:$hport/api/v1"
B="https://127.0.0.1:$hport"
# get PATH [curl args...]: status in $code, headers in $T/hdr, body in $T/body
get() {
  local p=$1; shift
  rm -f "$T/body"; touch "$T/body"
  code=$(curl -sS --path-as-is --cacert "$S/pki/ca.crt" -o "$T/body" -D "$T/hdr" -w '%{http_code}' "$@" "$B$p") || code=000
}
hdr() { grep -i "^$1:" "$T/hdr" | head -1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'; }

get /
check "/ redirects to the big screen" test "$code:$(hdr Location)" = "302:/ui/screen.html"

csp="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
for f in "$src"/web/ui/*; do
  n=$(basename "$f")
  get "/ui/$n"
  check "$n: 200 and the file's bytes" sh -c "test '$code' = 200 && cmp -s '$f' '$T/body'"
  case $n in
    *.html) want="text/html; charset=utf-8" ;;
    *.js) want="text/javascript; charset=utf-8" ;;
    *.css) want="text/css; charset=utf-8" ;;
    *) want=unknown ;;
  esac
  check "$n: Content-Type" test "$(hdr Content-Type)" = "$want"
  check "$n: CSP" test "$(hdr Content-Security-Policy)" = "$csp"
  check "$n: nosniff, no-referrer" test "$(hdr X-Content-Type-Options):$(hdr Referrer-Policy)" = "nosniff:no-referrer"
  if [[ $n == *.html ]]; then
    check "$n: no-store, no ETag" test "$(hdr Cache-Control):$(hdr ETag)" = "no-store:"
    # CSP forbids inline code: no <script> with content, no on* handlers, no style= or <style>.
    check "$n: no inline script or style" python3 - "$f" <<'PY'
import re, sys
h = open(sys.argv[1]).read()
assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", h), "inline script"
assert not re.search(r"\son[a-z]+\s*=", h, re.I), "event handler attribute"
assert not re.search(r"\sstyle\s*=|<style", h, re.I), "inline style"
assert 'id="lang-toggle"' in h
PY
  else
    etag=$(hdr ETag)
    check "$n: no-cache with an ETag" test "$(hdr Cache-Control)" = no-cache -a -n "$etag"
    get "/ui/$n" -H "If-None-Match: $etag"
    check "$n: 304 on its ETag, no body" test "$code:$(stat -c %s "$T/body")" = "304:0"
  fi
done

get /ui/vendor/echarts.min.js
check "ECharts: the npm package's file" cmp -s "$src/web/node_modules/echarts/dist/echarts.min.js" "$T/body"
check "ECharts: a week, with an ETag" test "$(hdr Cache-Control)" = "public, max-age=604800" -a -n "$(hdr ETag)"
etag=$(hdr ETag)
get /ui/vendor/echarts.min.js -H "If-None-Match: W/\"nope\", $etag"
check "ECharts: 304 on a list naming its tag" test "$code" = 304
get /ui/vendor/echarts.min.js -H 'If-None-Match: "0123"'
check "another tag: 200" test "$code" = 200
get /ui/screen.html -I
check "HEAD: 200 with the length" test "$code:$(hdr Content-Length)" = "200:$(stat -c %s "$src/web/ui/screen.html")"
check "HEAD: no body" not grep -q '<html' "$T/body"
check "the etag is the content's hash" test "$(get /ui/dom.js; hdr ETag)" = "\"$(sha256sum "$src/web/ui/dom.js" | cut -c1-32)\""

for p in /ui/nope.html /ui/ /ui/../CMakeLists.txt /ui/%2e%2e/CMakeLists.txt /ui/vendor/ /ui/screen.html/ \
         /ui/vendor/../screen.html /ui//screen.html /ui/SCREEN.HTML /uix /favicon.ico; do
  get "$p"
  if [ "$p" = /ui/ ]; then
    check "$p: redirect" test "$code" = 302
  else
    check "$p: 404" test "$code" = 404
  fi
done
get /ui/screen.html -X POST -d x
check "POST: 405 with Allow" test "$code:$(hdr Allow)" = "405:GET, HEAD"
get /ui/screen.html -X DELETE
check "DELETE: 405" test "$code" = 405
get /api/v1/agents
check "the API still needs a token" test "$code" = 401
check "the API keeps its own CSP" test "$(hdr Content-Security-Policy)" = "default-src 'none'"
check "no sanitizer report" clean_logs "$S.log"
exit $fail
