/* Security configuration assessment (SCA): YAML policies of baseline checks, and their
 * evaluation against a host (or a directory standing in for its root, for tests).
 * The policy format and the check types are described in docs/sca.md. */
#ifndef YIWANG_SCA_H
#define YIWANG_SCA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "yiwang/diag.h"
#include "yiwang/strbuf.h"

enum yw_sca_result {
	YW_SCA_PASSED = 0,
	YW_SCA_FAILED = 1,
	YW_SCA_NA = 2, /* not applicable: nothing to check (file absent, package not installed) */
};

enum yw_sca_cond { YW_SCA_ALL = 0, YW_SCA_ANY, YW_SCA_NONE };

struct yw_sca_rule; /* one compiled rule; private to sca_policy.c */

struct yw_sca_check {
	char *id, *title, *title_zh, *description, *rationale, *remediation; /* owned */
	char **cis;  /* CIS benchmark section numbers; ncis entries, owned */
	size_t ncis;
	char **gbt; /* GB/T 22239-2019 items; ngbt entries, owned */
	size_t ngbt;
	int condition;             /* enum yw_sca_cond over rules */
	struct yw_sca_rule *rules; /* owned */
	size_t nrules;
	struct yw_sca_rule *requires; /* all must hold, else the check is not applicable */
	size_t nrequires;
	unsigned line; /* where the check starts in its file */
};

struct yw_sca_policy {
	char *file, *id, *name, *description, *benchmark; /* owned */
	char **os_like; /* /etc/os-release ID / ID_LIKE words it applies to; none = any host */
	size_t nos_like;
	struct yw_sca_check *checks; /* the valid checks only; owned */
	size_t nchecks;
	size_t nbad; /* checks skipped because of an error (each has a diagnostic) */
};

/* Loads a policy. Errors and warnings go to d with file:line:col. A check with an error is
 * skipped (counted in nbad) and the others load. Returns 0 and *out (caller frees with
 * yw_sca_policy_free) or YW_EIO / YW_EPARSE / YW_ELIMIT / YW_ENOMEM when the file as a whole
 * cannot be used (unreadable, not YAML, no policy id); *out is then NULL. */
int yw_sca_policy_load(const char *path, struct yw_sca_policy **out, struct yw_diags *d);
void yw_sca_policy_free(struct yw_sca_policy *p);

/* How checks run. */
struct yw_sca_opts {
	const char *root;    /* prefix of every file path ("" or NULL = /); borrowed */
	bool allow_commands; /* false: command rules are not applicable */
	bool drop_privs;     /* when root, commands run as run_uid/run_gid */
	uid_t run_uid;
	gid_t run_gid;
};

/* Evaluation context: options plus caches (dpkg status, os-release, modules) that live for
 * one run. */
struct yw_sca_ctx;

int yw_sca_ctx_new(const struct yw_sca_opts *o, struct yw_sca_ctx **out);
/* Forgets the caches, so the next check sees the host as it is now. */
void yw_sca_ctx_reset(struct yw_sca_ctx *c);
void yw_sca_ctx_free(struct yw_sca_ctx *c);

/* Whether the policy applies to the host (its os_like against /etc/os-release). */
bool yw_sca_applies(struct yw_sca_ctx *c, const struct yw_sca_policy *p);

/* Evaluates one check; reason (NUL-terminated, cut to rlen) says which rule decided. */
int yw_sca_eval(struct yw_sca_ctx *c, const struct yw_sca_check *chk, char *reason, size_t rlen);

const char *yw_sca_result_name(int result);

/* Runs argv (argv[0] an absolute path or found in the standard system directories) without a
 * shell; stdout and stderr are collected into out (at most max bytes, the rest discarded).
 * After timeout_ms the process group is killed. When drop is set and we are root, the child
 * runs as uid/gid with no supplementary groups. *status is the exit code, or -1 after a
 * timeout or a signal. Returns 0, YW_ENOENT (no such program) or YW_EIO. */
int yw_sca_run(char *const argv[], int timeout_ms, size_t max, bool drop, uid_t uid, gid_t gid,
               struct yw_strbuf *out, int *status);

/* Installed packages in root's /var/lib/dpkg/status (only "install ok installed"-like
 * entries: the third status word is "installed"), passed to cb in file order. Strings are
 * borrowed for the call. Returns 0, YW_ENOENT (no status file), YW_ELIMIT, YW_EIO. */
int yw_sca_dpkg_each(const char *root,
                     int (*cb)(void *ud, const char *name, const char *version, const char *arch),
                     void *ud);

#endif
