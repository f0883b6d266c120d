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
mkdir -p build-fuzz/seeds/fuzz_sigma_cond
printf 'selection and not filter' > build-fuzz/seeds/fuzz_sigma_cond/1
printf '1 of sel* and not all of filter_*' > build-fuzz/seeds/fuzz_sigma_cond/2
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
