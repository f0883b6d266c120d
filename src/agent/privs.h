/* Least privilege for yiwang-agent: after start-up (collectors, identity and spool open) the
 * agent keeps only the capabilities its enabled collectors and response actions need. */
#ifndef YIWANG_AGENT_PRIVS_H
#define YIWANG_AGENT_PRIVS_H

#include <stddef.h>
#include <stdint.h>

struct yw_agent_config;

/* The capabilities (bit n = capability n, as in /proc/<pid>/status) cfg needs after
 * start-up. Pure: reads only cfg. docs/agent.md "Privileges" has the table. */
uint64_t yw_privs_needed(const struct yw_agent_config *cfg);

/* "cap_a,cap_b" (or "none") into buf; returns buf. Unknown bits print as "cap_<n>". */
const char *yw_privs_names(uint64_t mask, char *buf, size_t n);

/* Drops every capability outside keep from the bounding, inheritable, permitted and effective
 * sets and the ambient set, then sets PR_SET_NO_NEW_PRIVS. With user (not NULL or empty) the
 * process first becomes that user (its primary group, no supplementary groups) keeping keep
 * through PR_SET_KEEPCAPS; keep is then also raised as ambient capabilities so the programs
 * the agent runs (nft, usermod) get them. Capabilities the process does not have are not
 * gained. Single-threaded callers only (capabilities are per thread). Logs the final sets.
 * 0, YW_ENOENT (no such user) or YW_EIO (a syscall failed; errno says which). */
int yw_privs_drop(uint64_t keep, const char *user);

#endif
