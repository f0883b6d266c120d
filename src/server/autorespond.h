/* Automatic response: a reviewed policy file maps detections to response actions
 * (docs/respond.md, "Automatic response"). Shared Sigma rules stay unmodified; the agent's own
 * policy still decides, so an automatic command gets no privilege a human lacks. */
#ifndef YIWANG_SERVER_AUTORESPOND_H
#define YIWANG_SERVER_AUTORESPOND_H

#include <stdint.h>

#include "yiwang/diag.h"
#include "yiwang/sigma.h"

struct yw_autorespond;

/* Loads a YAML list of policies:
 *   - rule: <rule id, or a tag such as attack.t1110>
 *     action: block_ip | kill_process | quarantine_file | lock_account | ...
 *     args: {ip: "{source.ip}", timeout_s: 3600}   # "{field}" takes the event's field
 *     min_level: high          # default informational
 *     dry_run: true            # default false
 *     max_per_hour: 20         # per agent and policy, default 20
 * Every problem is a diagnostic with file:line:col; returns 0, YW_EINVAL, YW_ENOENT/YW_EIO. */
int yw_autorespond_load(const char *path, struct yw_diags *d, struct yw_autorespond **out);
void yw_autorespond_free(struct yw_autorespond *ar);

/* Receives one command to send: args_json is a compact JSON object, requested_by
 * "rule:<policy rule>". All borrowed for the call. */
typedef void (*yw_autorespond_fn)(void *ud, const char *agent_id, const char *action,
				  const char *args_json, const char *requested_by);

/* For an alert (rule, its level and evidence): calls cb once per matching policy whose
 * arguments could be filled from the event and whose hourly budget for this agent is not
 * spent. Thread-safe. now_ms: wall clock in milliseconds. */
void yw_autorespond_alert(struct yw_autorespond *ar, const char *agent_id,
			  const struct yw_rule_info *rule, const char *event_json, int64_t now_ms,
			  yw_autorespond_fn cb, void *ud);

#endif
