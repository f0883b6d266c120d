/* FIM who-data: a small cache of recent audit file events (SYSCALL + CWD + PATH + PROCTITLE
 * records of one audit event), fed line by line by the log file collector as it follows the
 * audit log, and read by the FIM collector to name the user and process behind a change.
 * Both collectors run on the agent's one loop thread: no locking (docs/agent.md). */
#ifndef YIWANG_AGENT_WHODATA_H
#define YIWANG_AGENT_WHODATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/strbuf.h"

/* PATH record nametypes the cache keeps (PARENT and UNKNOWN records are not the changed
 * file). */
enum yw_whodata_nametype {
	YW_WHODATA_NORMAL = 1,
	YW_WHODATA_CREATE = 2,
	YW_WHODATA_DELETE = 3,
};

/* One audit file event for one path; borrowed from the cache until the next feed. */
struct yw_whodata_rec {
	int64_t time_ns; /* the audit record's time (epoch) */
	uint64_t serial;
	int nametype;
	int64_t pid, ppid;
	int64_t uid, auid; /* -1: unset (auid 4294967295) */
	const char *path;  /* absolute, normalised */
	const char *exe;   /* "" when absent */
	const char *comm;
	const char *cmdline; /* PROCTITLE decoded, arguments joined by spaces; "" when absent */
};

struct yw_whodata;

/* A cache with the limits of yw_limits.h. Caller frees with yw_whodata_free (accepts NULL). */
int yw_whodata_new(struct yw_whodata **out);
void yw_whodata_free(struct yw_whodata *wd);

/* Takes one audit log line (without the newline; borrowed for the call). Lines that are not
 * SYSCALL, CWD, PATH, PROCTITLE or EOE records are ignored. now_ns: the real time, for
 * expiry. Returns 0 or YW_ENOMEM (the event is dropped, the cache stays usable). */
int yw_whodata_feed(struct yw_whodata *wd, const char *line, size_t len, int64_t now_ns);

/* The newest cached event for path (absolute) whose time is within YW_WHODATA_WINDOW_MS of
 * ref_ns, or NULL. Borrowed until the next feed. */
const struct yw_whodata_rec *yw_whodata_find(struct yw_whodata *wd, const char *path, size_t len,
                                             int64_t ref_ns, int64_t now_ns);

/* True while audit records keyed yw_fim (the FIM watch rules) arrived within
 * YW_WHODATA_LIVE_MS: only then is waiting for a late audit record worth it. */
bool yw_whodata_live(const struct yw_whodata *wd, int64_t now_ns);

/* Entries cached now (after expiry at now_ns) and their bytes: for tests and diagnostics. */
size_t yw_whodata_count(struct yw_whodata *wd, int64_t now_ns, size_t *bytes);

/* Appends the ECS fields of r (",\"user.id\":..." through "\"yiwang.fim.whodata\":true") to b
 * for a JSON object under construction. User names come from getpwuid_r, cached. */
int yw_whodata_json(struct yw_whodata *wd, const struct yw_whodata_rec *r, struct yw_strbuf *b);

#endif
