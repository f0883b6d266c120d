/* File integrity monitoring: the baseline store (fim_baseline.c) and the collector's
 * inspection hooks (collectors/fim.c). Private to the agent and its tests. */
#ifndef YIWANG_AGENT_FIM_H
#define YIWANG_AGENT_FIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YW_FIM_HASH_LEN 32 /* SHA-256 and SM3 */

enum yw_fim_algo {
	YW_FIM_SHA256 = 1,
	YW_FIM_SM3 = 2,
};

/* Hash state of an entry: regular files and symlinks (hash of the target) are hashed. */
enum yw_fim_hstate {
	YW_FIM_H_NONE = 0,       /* not a regular file or symlink */
	YW_FIM_H_OK = 1,         /* hash holds the digest */
	YW_FIM_H_TOO_LARGE = 2,  /* over max_file_size: metadata only */
	YW_FIM_H_UNREADABLE = 3, /* open or read failed */
};

/* What a scan knows about one path. */
struct yw_fim_meta {
	uint64_t size, ino;
	int64_t mtime_ns, ctime_ns;
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t uid, gid;
	uint32_t attrs; /* FS_IOC_GETFLAGS bits we track (immutable, append-only, ...) */
	uint32_t xattr; /* CRC-32C of the extended attributes' names and values; 0 = none */
	uint8_t hstate;
	uint8_t hash[YW_FIM_HASH_LEN];
};

/* One baseline entry; owned by the baseline, valid until the next put/del/load on it. */
struct yw_fim_ent {
	struct yw_fim_meta m;
	uint64_t hv;       /* hash of the path, for the table */
	uint32_t seen_gen; /* the last full scan that saw it */
	uint16_t path_len; /* data: path NUL target NUL */
	uint16_t target_len;
	char data[];
};

struct yw_fimdb;

/* A baseline kept in memory and persisted at state_path (may be NULL: memory only) as a base
 * file plus an append-only journal (docs/agent.md). Caller frees with yw_fimdb_free. */
int yw_fimdb_new(const char *state_path, uint8_t algo, struct yw_fimdb **out);
void yw_fimdb_free(struct yw_fimdb *db);

/* Loads the state files. 0 = a baseline was loaded; YW_ENOENT = none (missing, damaged, or
 * made with another hash algorithm); YW_ENOMEM. */
int yw_fimdb_load(struct yw_fimdb *db);

size_t yw_fimdb_count(const struct yw_fimdb *db);
struct yw_fim_ent *yw_fimdb_get(struct yw_fimdb *db, const char *path, size_t len);
/* Inserts or replaces path's entry (target: a symlink's target, may be NULL). YW_ELIMIT past
 * YW_FIM_MAX_FILES. The change is journaled when journaling is on. */
int yw_fimdb_put(struct yw_fimdb *db, const char *path, size_t len, const struct yw_fim_meta *m,
                 const char *target, size_t tlen, uint32_t gen);
/* Removes an entry returned by get or slot (journaled when journaling is on). */
void yw_fimdb_del(struct yw_fimdb *db, struct yw_fim_ent *e);
/* Iteration: slot i of the table (NULL when empty), i < yw_fimdb_slots(). Deleting slot i's
 * entry may move another entry into slot i: look at i again before moving on. */
size_t yw_fimdb_slots(const struct yw_fimdb *db);
struct yw_fim_ent *yw_fimdb_slot(struct yw_fimdb *db, size_t i);

/* Journaling off (while the first baseline is built) keeps changes in memory only; turning it
 * on makes the next commit write the whole baseline. */
void yw_fimdb_journal(struct yw_fimdb *db, bool on);
/* Persists the changes since the last commit: appends them to the journal, or rewrites the
 * base file when the journal has grown past it. No-op when journaling is off. */
int yw_fimdb_commit(struct yw_fimdb *db);

/* ---- the collector's hooks for tests and diagnostics ---- */

struct yw_fim_stats {
	uint64_t scans; /* full scans completed */
	uint64_t files; /* paths examined (scans and realtime) */
	uint64_t bytes_hashed;
	uint64_t events;     /* records the sink took */
	uint64_t vanished;   /* gone between listing and examining, or mid-hash */
	uint64_t unreadable; /* open/read failed: metadata only */
	uint64_t too_large;  /* over max_file_size: metadata only */
	uint64_t path_too_long;
	uint64_t too_deep;
	uint64_t other_fs;    /* mount points skipped (one_filesystem) */
	uint64_t dir_errors;  /* directories that could not be listed */
	uint64_t stat_errors; /* lstat failed other than ENOENT (EACCES, ELOOP, ...) */
	uint64_t watch_limit; /* directories without an inotify watch */
	uint64_t overflows;   /* inotify queue or pending-queue overflows (each causes a rescan) */
	uint64_t baseline_full;
	size_t watches;
	size_t baseline; /* entries */
	bool scanning;   /* a full scan is in progress */
	bool have_baseline;
};

/* Clocks the budgets use (ns; monotonic wall time and the thread's CPU time). NULL fields keep
 * the real clocks. Tests drive the I/O and CPU accounting with it. */
struct yw_fim_clock {
	int64_t (*mono_ns)(void *ud);
	int64_t (*cpu_ns)(void *ud);
	void *ud;
};

/* state is a yw_collector_fim state. */
void yw_fim_set_clock(void *state, const struct yw_fim_clock *clk);
void yw_fim_get_stats(void *state, struct yw_fim_stats *out);

#endif
