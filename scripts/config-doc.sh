#!/usr/bin/env bash
# Rewrites the option tables of docs/configuration.md from the programs' --print-config.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
python3 - "$build" <<'PY'
import subprocess, sys, re
build = sys.argv[1]
doc = open("docs/configuration.md").read()
for prog, head in (("yiwang-server", "## yiwang-server"), ("yiwang-agent", "## yiwang-agent")):
    table = subprocess.run([f"{build}/{prog}", "--print-config"], capture_output=True,
                           text=True, check=True).stdout.rstrip("\n")
    start = doc.index("| option |", doc.index(head))
    end = start
    lines = doc[start:].split("\n")
    n = 0
    while n < len(lines) and lines[n].startswith("|"):
        n += 1
    end = start + len("\n".join(lines[:n]))
    doc = doc[:start] + table + doc[end:]
open("docs/configuration.md", "w").write(doc)
PY
