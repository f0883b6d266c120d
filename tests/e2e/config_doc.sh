#!/usr/bin/env bash
# docs/configuration.md lists every option exactly as the programs print them, and a config
# file with an unknown key or a bad value is refused with file:line:col.
set -euo pipefail
build=$1 shared=$2 src=$3
fail=0
for prog in yiwang-server yiwang-agent; do
  while IFS= read -r line; do
    grep -qxF -- "$line" "$src/docs/configuration.md" || { echo "FAIL - $prog: not in docs: $line"; fail=1; }
  done < <("$build/$prog" --print-config)
done
[ $fail = 0 ] && echo "ok   - docs/configuration.md matches --print-config"
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
printf 'listen: 127.0.0.1:1\nagents:\n  heartbeet: 5s\n  max: lots\n' > "$t/bad.yml"
set +e
out=$("$build/yiwang-server" --config "$t/bad.yml" --data-dir "$t/d" 2>&1); rc=$?
set -e
if [ $rc -eq 2 ] && grep -q "bad.yml:3:3: error: unknown option 'agents.heartbeet'" <<<"$out" &&
   grep -q "bad.yml:4:8: error: agents.max must be an integer" <<<"$out"; then
  echo "ok   - bad server configuration refused with positions"
else
  echo "FAIL - bad configuration: rc=$rc: $out"; fail=1
fi
exit $fail
