#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang and runs each for SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
scripts/deps.sh
CC=clang BUILD_DIR=build-fuzz scripts/build.sh -DYW_FUZZ=ON -DYW_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
mkdir -p build-fuzz/corpus
status=0
for f in build-fuzz/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  mkdir -p "build-fuzz/corpus/$name"
  seeds=()
  [ -d "fuzz/seeds/$name" ] && seeds+=("fuzz/seeds/$name")
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
