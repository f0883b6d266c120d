#!/usr/bin/env bash
# Builds and runs the whole test suite through CTest.
#   scripts/test.sh            normal build (build/)
#   scripts/test.sh --asan     the same suite under AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ "${1:-}" = "--asan" ]; then
  export BUILD_DIR=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
         UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  scripts/build.sh -DYW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
  export BUILD_DIR=build
  scripts/build.sh
fi
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
