#!/usr/bin/env bash
# Installs the Debian 12 packages yiwang needs to build and test, when any is missing.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config git
  libyaml-dev libpcre2-dev libjansson-dev libaudit-dev
  libssl-dev libzstd-dev libsqlite3-dev libvectorscan-dev libcurl4-openssl-dev libmicrohttpd-dev
  libsystemd-dev libcmocka-dev clang libclang-rt-14-dev
  python3 sqlite3 iproute2 nftables openssl bc procps curl systemd-journal-remote
  dpkg-dev shellcheck  # dpkg-shlibdeps for the .debs (cmake/package.cmake); maintainer-script checks
  nodejs npm chromium fonts-wqy-microhei
)
missing=()
for p in "${pkgs[@]}"; do
  # Node.js from elsewhere (e.g. NodeSource, whose nodejs carries npm and conflicts with
  # Debian's npm package) serves as well: what matters is the commands.
  case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The web pages' packages (ECharts, embedded at build time; playwright-core for the browser
# tests), exactly as web/package-lock.json pins them.
web=$(dirname "$0")/../web
if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules" ]; then
  npm ci --prefix "$web" --no-audit --no-fund
  touch "$web/node_modules"
fi
