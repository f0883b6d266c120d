/* Start-up check of the kernel's audit rules against the shipped recommended set
 * (rules/audit/yiwang.rules): which of its keys (-k) the loaded rules lack. */
#ifndef YIWANG_AGENT_AUDIT_CHECK_H
#define YIWANG_AGENT_AUDIT_CHECK_H

#include <stddef.h>

#include "yiwang/strbuf.h"

/* Collects the distinct `-k KEY` / `-F key=KEY` values of an audit rules text into keys
 * (comma-separated, in order of appearance). Returns the number of keys. */
size_t yw_audit_rule_keys(const char *text, size_t len, struct yw_strbuf *keys);

/* Writes to missing the keys of `wanted` (comma-separated) that `have` lacks; returns how
 * many. */
size_t yw_audit_missing_keys(const char *wanted, const char *have, struct yw_strbuf *missing);

/* Runs `auditctl -l` (bounded time) and compares with the rules file. Returns 0 and fills
 * missing (possibly empty), YW_ENOENT when auditctl or the file is absent, YW_EIO when
 * auditctl failed (e.g. no permission). */
int yw_audit_check(const char *rules_file, struct yw_strbuf *missing);

#endif
