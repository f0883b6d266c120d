#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, build, and hunt through the
# bundled sample logs with the bundled rules (plus SigmaHQ's Linux rules when ../shared has them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
rules=(--rules rules/sigma)
[ -d ../shared/sigma/rules/linux ] && rules+=(--rules ../shared/sigma/rules/linux)
exec build/yiwang hunt "${rules[@]}" samples/*.log
