/* Response actions on the agent (docs/respond.md): block an IP (nftables set with a timeout),
 * kill a process, quarantine a file, lock a local account, and their inverses. The server asks
 * with a COMMAND; the agent decides. It is the last line of defence: its allowlist (loopback,
 * this host's and the server's addresses, configured CIDRs) can never be blocked, and a
 * compromised server cannot override it. Every command and its result is audited as one
 * YW_REC_AGENT record ("event.action":"response_<name>").
 *
 * Commands run synchronously on the caller's thread, each bounded by its timeout. Helper
 * programs (nft, usermod) are executed directly (no shell) from a fixed PATH. */
#ifndef YIWANG_RESPOND_H
#define YIWANG_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/proto.h"
#include "yiwang/strbuf.h"

struct yw_responder;

/* Called with each audit record (a JSON object, len bytes, not NUL-terminated). A non-zero
 * return is logged; the command's result is unaffected. */
typedef int (*yw_respond_audit_fn)(void *ud, const char *json, size_t len);

struct yw_respond_opts {
	bool enabled;                 /* false: every command is answered DENIED */
	const char *const *actions;   /* forward actions allowed (their inverses too); */
	size_t nactions;              /* 0 = all */
	const char *const *allow_ips; /* CIDRs or addresses never blocked, beyond the built-in */
	size_t nallow_ips;
	const char *server_host;             /* its addresses are never blocked; NULL = none */
	const char *quarantine_dir;          /* created 0700 if missing */
	const char *const *quarantine_paths; /* only files under these may be quarantined */
	size_t nquarantine_paths;
	const char *const *protected_paths; /* never quarantined (the agent's own files) */
	size_t nprotected_paths;
	bool allow_system_accounts; /* lock accounts below UID_MIN (never root) */
	int64_t timeout_ms;         /* default per-command limit; args may lower it */
	const char *nft;            /* program paths; NULL = search /usr/sbin:/usr/bin:/sbin:/bin */
	const char *usermod;
	yw_respond_audit_fn audit; /* may be NULL */
	void *audit_ud;
};

/* Copies what it needs from o (the strings may be freed afterwards). Server host names are
 * resolved now. Returns 0, YW_EINVAL (a bad CIDR, named in err), YW_EIO (quarantine dir),
 * YW_ENOMEM. */
int yw_respond_new(const struct yw_respond_opts *o, struct yw_responder **out, char *err,
                   size_t errsz);
void yw_respond_free(struct yw_responder *r);

/* Runs command `name` with its JSON arguments; writes the result JSON object into result
 * (reset first) and returns its enum yw_cmd_status. Common arguments: "dry_run" (check
 * everything, change nothing), "timeout_ms". A successful change carries "undo": a token for
 * the "undo" command ({"token":"..."}) that runs the inverse action. */
int yw_respond_run(struct yw_responder *r, uint64_t id, const char *name, size_t name_len,
                   const char *args, size_t args_len, struct yw_strbuf *result);

/* Runs a COMMAND message (r may be NULL: answered DENIED) and appends its COMMAND_RESULT frame
 * to out. Returns 0, or a negative YW_E* from encoding. */
int yw_respond_command(struct yw_responder *r, const struct yw_msg_command *cmd, struct yw_proto *p,
                       struct yw_strbuf *out);

/* The agent's responder from its configuration: audit records go to the spool. */
struct yw_agent_config;
struct yw_spool;
int yw_respond_new_agent(const struct yw_agent_config *cfg, const char *server,
                         struct yw_spool *spool, struct yw_responder **out);

#endif
