/* Collectors: one table of callbacks per kind of source (log files, journald, ...). The agent's
 * loop owns the collectors; each poll hands records to a sink (normally yw_spool_append).
 *
 * Exactly-once contract: every record a collector produces may carry a cursor (opaque bytes,
 * <= YW_SPOOL_MAX_CURSOR: where the collector stands after this record). The spool writes it
 * in the same checked frame as the record, so after a crash the collector resumes from the
 * newest cursor that survived (env->cursor), merged with its own state file by record seq.
 * See docs/agent.md. */
#ifndef YIWANG_COLLECTOR_H
#define YIWANG_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "yiwang/record.h"

struct yw_whodata;

/* A sink's "no room now" answer (equal to YW_SPOOL_FULL): the record was not taken. The
 * collector stops this poll and offers the same data again next poll: no loss, no duplicate. */
#define YW_SINK_FULL 1

/* Takes rec (borrowed for the call; the sink sets rec->seq) with its cursor (may be NULL).
 * Returns 0, YW_SINK_FULL or a negative error (the collector stops and returns it). */
typedef int (*yw_record_sink)(void *ud, struct yw_record *rec, const void *cursor,
                              size_t cursor_len);

/* One configuration option; a key may repeat (e.g. several "path" patterns). Borrowed. */
struct yw_collector_opt {
	const char *key;
	const char *value;
};

/* What a collector gets from the agent at init. The struct and state_path are borrowed for the
 * call; cursor/cursor_ud must stay valid until exit (files found later look up their cursor). */
struct yw_collector_env {
	/* Its own state file (offsets and the like); NULL = keep no state file. */
	const char *state_path;
	/* The newest cursor the spool holds for a source (yw_spool_cursor's signature and
	 * result); NULL when there is no spool. */
	int (*cursor)(void *ud, const char *source, size_t source_len, const void **cursor,
	              size_t *cursor_len, uint64_t *seq);
	void *cursor_ud;
	/* FIM who-data cache (src/agent/whodata.h) shared by the file collector (feeds it audit
	 * log lines) and the FIM collector (reads it); NULL = none. Borrowed until exit. */
	struct yw_whodata *whodata;
};

struct yw_collector_ops {
	const char *name; /* as written in the agent's configuration, e.g. "file" */
	/* Validates the options and prepares *state. 0, YW_EINVAL (bad option), YW_ENOMEM... */
	int (*init)(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
	            size_t nopts, void **state);
	/* A descriptor the loop can poll(2) for readability, or -1: then poll is called every
	 * loop tick (a few times a second). */
	int (*fd)(void *state);
	/* Produces what is available into sink. Returns the number of records taken (>= 0) or a
	 * negative error. Bounded work per call, so one busy source cannot stall the loop. */
	int (*poll)(void *state, yw_record_sink sink, void *ud);
	/* Persists the collector's position. The agent calls it only after the records produced
	 * so far are durable in the spool (yw_spool_sync). */
	int (*commit)(void *state);
	/* Frees state (does not commit). Accepts NULL. */
	void (*exit)(void *state);
};

/* Log files: options "path" (glob(3) pattern; repeatable), "start" ("end" default, or
 * "beginning": where a file found at the first scan without saved position starts),
 * "rescan_ms" (glob re-expansion period), "partial_ms" (how long a last line without newline
 * is held). Files found by later scans are read from their beginning. */
extern const struct yw_collector_ops yw_collector_file;

/* Host inventory (docs/inventory.md): "interval_ms" (default 3600000), "root" (path prefix for
 * tests), "full_on_start" (false: a saved state makes the first poll send changes only), "rpm"
 * ("auto" default: when an rpm binary exists; "off"). */
extern const struct yw_collector_ops yw_collector_inventory;

/* SCA baseline checks (docs/sca.md): "policy" (path or glob; repeatable, required),
 * "interval_ms" (default 3600000), "root" (path prefix for tests), "allow_commands" (true),
 * "command_user" (account command rules run as when the agent is root; "nobody"; "root"). */
extern const struct yw_collector_ops yw_collector_sca;

/* Process executions (netlink process connector): options "ignore_exe" (fnmatch(3) glob on
 * the executable; repeatable), "max_cmdline" (bytes, default 8192), "ignore_self" (on). */
extern const struct yw_collector_ops yw_collector_process;

/* Sockets from /proc/net: options "interval_ms" (default 2000), "listening", "outbound" (on),
 * "inbound" (off), "ignore_self" (on). */
extern const struct yw_collector_ops yw_collector_network;

#ifdef YW_HAVE_SYSTEMD
/* The systemd journal (docs/agent.md), built only with libsystemd: options "start" ("end"
 * default, or "beginning": where the first start without a saved position begins), "match"
 * ("FIELD=value", repeatable: the same field ORed, different fields ANDed), "directory" (a
 * journal directory) or "file" (a journal file; repeatable) instead of the local journal.
 * Records: source "journald", kind YW_REC_LOG, "<PRI>ISO-time host ident[pid]: message". */
extern const struct yw_collector_ops yw_collector_journald;
#endif

/* File integrity monitoring (docs/agent.md, "File integrity"): options "path" (absolute file or
 * directory, recursive; repeatable), "ignore" (fnmatch glob on the full path if it holds a '/',
 * else on the name; repeatable), "realtime" (on/off, inotify), "scan_interval_ms" (full scan
 * period, default 12h; 0 = at start only), "debounce_ms", "hash" (sha256 | sm3),
 * "max_file_size", "io_rate" (bytes/s hashed; 0 = unlimited), "cpu_percent" (0 = unlimited),
 * "files_per_poll", "max_watches", "one_filesystem" (on/off). */
extern const struct yw_collector_ops yw_collector_fim;

#endif
