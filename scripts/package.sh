#!/usr/bin/env bash
# Builds the Debian packages yiwang-server and yiwang-agent (Release, installed under /usr) into
# build-pkg/ (or $BUILD_DIR). Extra arguments go to cmake. Needs dpkg-dev (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build-pkg}
command -v dpkg-shlibdeps >/dev/null || {
  echo "package.sh: dpkg-shlibdeps missing: apt-get install dpkg-dev" >&2
  exit 1
}
# /usr: the programs look for their rules under the prefix they were built with.
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DYW_SANITIZE=OFF "$@" >/dev/null
cmake --build "$dir" -j "${JOBS:-$(nproc)}" --target yiwang yiwang-server yiwang-agent
(cd "$dir" && cpack --config CPackConfig.cmake)
ls -l "$dir"/*.deb
