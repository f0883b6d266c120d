#!/usr/bin/env bash
# The big screen's first render at scale, in a real browser: a store with 10,000 terminals and
# 1,000,000 alerts (bench_situation), the Release server on it, Debian's Chromium driven by
# playwright-core loading /ui/screen.html over HTTPS. Prints each load's time to the
# `yw-first-render` mark (both first API calls answered and the charts painted) and the median.
#   bench/screen_bench.sh BUILD_DIR [DATA_DIR] [LOADS]
# DATA_DIR is kept and reused when it already holds a store (building one takes ~1 minute).
set -euo pipefail
build=$(cd "${1:?usage: screen_bench.sh BUILD_DIR [DATA_DIR] [LOADS]}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
data=${2:-/tmp/yw-screen-bench}
loads=${3:-7}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$tmp"; }
trap cleanup EXIT

if [ ! -s "$data/yiwang.db" ]; then
  mkdir -p "$data"
  # 1,370,000 alert occurrences: de-duplication folds about a quarter of them into repeats, which
  # leaves just over 1,000,000 stored alerts.
  "$build/bench/bench_situation" --agents 10000 --alerts "${YW_ALERTS:-1370000}" --runs 1 \
    --dir "$data" --keep
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); hport=$(free_port)
# Rate limit off: the bench reloads the page as fast as it can.
printf 'http:\n  listen: 127.0.0.1:%s\n  rate_limit: 0\n' "$hport" >"$tmp/server.yml"
"$build/yiwang-server" --data-dir "$data" --listen "127.0.0.1:$port" --config "$tmp/server.yml" \
  >"$tmp/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "HTTP API on" "$tmp/server.log" && break; sleep 0.1; done
password="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
"$build/yiwang" user delete bench --data-dir "$data" >/dev/null 2>&1 || true
printf '%s\n' "$password" | "$build/yiwang" user add bench --role viewer --data-dir "$data" >/dev/null
spki=$(openssl x509 -in "$data/pki/server.crt" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
echo "store: $(du -sh "$data/yiwang.db" | cut -f1), $(sqlite3 "$data/yiwang.db" \
  'SELECT (SELECT count(*) FROM agents) || " terminals, " || (SELECT count(*) FROM alerts) || " alerts"')"
YW_URL="https://127.0.0.1:$hport" YW_USER=bench YW_PASSWORD="$password" YW_SPKI="$spki" \
  YW_PLAYWRIGHT="$src/web/node_modules/playwright-core" YW_LOADS="$loads" \
  timeout 300 node "$src/bench/screen_bench.mjs"
