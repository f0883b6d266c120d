#!/usr/bin/env bash
# Automatic response: a policy maps a detection to an action with arguments from the event; the
# server sends it to the agent that raised the alert (dry run here: nothing on this host
# changes), the agent reports the result and audits it, and the hourly budget holds.
source "$(dirname "$0")/lib.bash"
port=$(free_port); S=$T/s; A=$T/a
rule=$(awk '/^id:/ { print $2 }' "$src/rules/sigma/linux/yw_lnx_sshd_invalid_user.yml")
cat > "$T/policies.yml" <<YML
- rule: $rule
  action: block_ip
  args: {ip: "{source.ip}", timeout_s: 600}
  min_level: medium
  dry_run: true
  max_per_hour: 2
YML
printf 'respond:\n  policies: %s\n' "$T/policies.yml" > "$T/server.yml"
start_server "$S" "127.0.0.1:$port" --config "$T/server.yml" --rules "$src/rules/sigma"
"$build/yiwang-agent" enroll "$("$build/yiwang" token create --data-dir "$S")" --state-dir "$A" >/dev/null
: > "$T/in.log"
"$build/yiwang-agent" --config "$QUIET_CFG" --state-dir "$A" --file "$T/in.log" --from-beginning \
  >>"$A.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q "connected to" "$A.log" || true
for i in 1 2 3; do
  echo "Nov 26 08:00:0$i h sshd[$i]: Invalid user admin$i from 192.0.2.5$i port 4242" >> "$T/in.log"
  sleep 0.3
done
audit="SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%response_block_ip%'"
wait_for 15 sql_ge "$S" 2 "$audit" || true
sleep 1
n=$(sqlite3 -cmd '.timeout 5000' "$S/yiwang.db" "$audit")
check "the policy's command ran on the agent and was audited ($n of the budget of 2)" test "$n" -eq 2
check "with the address taken from the event, as a dry run" sql_ge "$S" 1 \
  "SELECT COUNT(*) FROM events WHERE kind = 3 AND CAST(data AS TEXT) LIKE '%192.0.2.51%' AND CAST(data AS TEXT) LIKE '%dry_run%'"
r=$(sqlite3 -cmd '.timeout 5000' "$S/responses.db" "SELECT COUNT(*) FROM commands WHERE requested_by = 'rule:$rule'" 2>/dev/null || echo 0)
check "the server recorded who asked: the rule ($r)" test "$r" -eq 2
check "the third alert in the hour was held back by the budget" \
  test "$(sqlite3 -cmd '.timeout 5000' "$S/responses.db" "SELECT COUNT(*) FROM commands WHERE args LIKE '%192.0.2.53%'" 2>/dev/null || echo 0)" -eq 0
# A bad policy file stops the server with the position of the problem.
printf -- '- rule: x\n  action: block_ip\n  min_level: urgent\n' > "$T/bad.yml"
printf 'respond:\n  policies: %s\n' "$T/bad.yml" > "$T/bad-server.yml"
set +e
out=$("$build/yiwang-server" --config "$T/bad-server.yml" --data-dir "$T/bad" --listen 127.0.0.1:1 2>&1)
rc=$?
set -e
check "a bad policy is refused at file:line:col (rc $rc)" grep -q "bad.yml:3:14: error: unknown level 'urgent'" <<<"$out"
exit $fail
