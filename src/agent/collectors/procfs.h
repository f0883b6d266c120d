/* /proc readers and JSON helpers shared by the process and network collectors. Internal to
 * src/agent/collectors. A process may vanish between any two reads: every reader reports
 * YW_ENOENT then, and callers emit what they already have. */
#ifndef YIWANG_COLLECTORS_PROCFS_H
#define YIWANG_COLLECTORS_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "yiwang/strbuf.h"

/* Reads /proc/<pid>/<name> (at most cap - 1 bytes; *cut when there was more) and
 * NUL-terminates it. Returns the bytes read, YW_ENOENT (gone) or YW_EIO (e.g. EACCES). */
ssize_t yw_procfs_read(pid_t pid, const char *name, char *buf, size_t cap, bool *cut);

/* readlink of /proc/<pid>/<name>, NUL-terminated. Same returns as yw_procfs_read. */
ssize_t yw_procfs_link(pid_t pid, const char *name, char *buf, size_t cap);

/* From /proc/<pid>/status: parent pid and real / effective uid. 0 or YW_ENOENT / YW_EIO. */
int yw_procfs_status(pid_t pid, pid_t *ppid, uint32_t *uid, uint32_t *euid);

/* From /proc/<pid>/stat: comm (NUL-terminated, cut to cap) and start time in ns since the
 * epoch (boot_ns: the boot time from yw_procfs_boot_ns). 0 or YW_ENOENT / YW_EIO. */
int yw_procfs_stat(pid_t pid, int64_t boot_ns, char *comm, size_t cap, int64_t *start_ns);

/* Boot time in ns since the epoch (CLOCK_REALTIME - CLOCK_BOOTTIME), or 0 when unknown. */
int64_t yw_procfs_boot_ns(void);

/* uid -> user name, cached (the lookup may go through NSS); entries expire after a minute so
 * renamed accounts show up. */
struct yw_uid_cache {
	struct {
		uint32_t uid;
		bool used, found;
		int64_t at_ms;
		char name[64];
	} e[32];
};

/* The user name of uid, or NULL when it has none. Borrowed until the next call. */
const char *yw_procfs_user(struct yw_uid_cache *c, uint32_t uid);

/* Appends ,"key":value pieces to a JSON object being built in out. */
int yw_procfs_kstr(struct yw_strbuf *out, const char *key, const char *s, size_t n);
int yw_procfs_kint(struct yw_strbuf *out, const char *key, long long v);
int yw_procfs_ktime(struct yw_strbuf *out, const char *key, int64_t ns);

/* From a cmdline buffer (NUL-separated arguments, n bytes; its NULs become spaces): appends
 * "<pfx>.args" (a list,
 * when args_too) and "<pfx>.command_line" (arguments joined by spaces). Empty buffer: nothing. */
int yw_procfs_put_cmdline(struct yw_strbuf *out, const char *pfx, char *raw, size_t n,
                          bool args_too);

/* Appends the owner fields of pid (process.pid, executable, name, command_line) under
 * prefix pfx ("process" or "process.parent"). Returns 0 even when the process is gone (then
 * only the pid is written and *gone is set). cmd is a scratch buffer of cmd_cap bytes. */
int yw_procfs_put_process(struct yw_strbuf *out, const char *pfx, pid_t pid, char *cmd,
                          size_t cmd_cap, bool *gone);

#endif
