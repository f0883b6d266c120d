/* Internals shared by the SQLite backend's files: sqlite.c (opening, tokens, agents, ingest,
 * queries, retention) and sqlite_triage.c (what ingest does with alerts, the alert lifecycle,
 * incidents, suppressions, risk). */
#ifndef YIWANG_SQLITE_INT_H
#define YIWANG_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store_int.h"
#include "yw_limits.h"
#include "yiwang/error.h"

/* Write statements of sqlite_triage.c (prepared with the others when the store opens). */
enum tstmt {
	T_BEGIN,
	T_COMMIT,
	T_ROLLBACK,
	T_DEDUP_FIND,
	T_DEDUP_BUMP,
	T_INC_TOUCH,
	T_ALERT_ADD,
	T_INC_FIND,
	T_INC_CLOSE,
	T_INC_OPEN,
	T_INC_LINK,
	T_INC_ADD,
	T_SCA_SET,
	T_PORT_ADD,
	T_PORT_DEL,
	T_PORT_SNAP_END,
	T_INV_PUT,
	T_INV_DEL,
	T_INV_SNAP_END,
	T_INV_HIST,
	T_SUPP_HIT,
	T_SUPP_ADD,
	T_SUPP_DEL,
	T_SUPP_LOAD,
	T_ALERT_STATUS,
	T_ALERT_ACK,
	T_ALERT_CLOSE,
	T_ALERT_REOPEN,
	T_HIST_ADD,
	T_INC_CLOSE_DONE,
	T_RISK_AGENTS,
	T_RISK_ALERTS,
	T_RISK_ADD,
	T_RISK_TRIM,
	T_COUNT
};

/* Read statements of sqlite_triage.c. */
enum ustmt {
	U_BEGIN,
	U_COMMIT,
	U_HISTORY,
	U_INCIDENTS,
	U_SUPP_LIST,
	U_RISK_AGENTS,
	U_RISK_ALERTS,
	U_RISK_HISTORY,
	U_INV_ALL,
	U_INV_DATASET,
	U_INV_HISTORY,
	U_COUNT
};

/* A suppression as ingest checks it: loaded from the table when it changed. */
struct supp {
	int64_t id;
	char *rule_id, *agent_id, *field, *value; /* NULL = any */
	int64_t expires_at;
	uint64_t hits; /* in the current batch */
};

struct sqlite_store {
	struct yw_store base;
	pthread_mutex_t wlock;
	pthread_mutex_t rlock;
	sqlite3 *w;
	sqlite3 *r;
	sqlite3_stmt **ws; /* sqlite.c's own, indexed by its enum */
	sqlite3_stmt **rs;
	sqlite3_stmt *ts[T_COUNT];
	sqlite3_stmt *us[U_COUNT];
	sqlite3_stmt **alert_q; /* prepared on first use, under rlock */
	unsigned char *fresh;   /* ingest: was record i newly stored; under wlock */
	size_t fresh_cap;
	int64_t dedup_window; /* < 0: off */
	int64_t incident_window;
	/* Under wlock. */
	struct supp *supps;
	size_t nsupps;
	int supps_stale;                 /* reload before the next ingest */
	struct yw_sqlite_situation *sit; /* sqlite_situation.c's statements */
};

static inline struct sqlite_store *S(struct yw_store *st)
{
	return (struct sqlite_store *)st;
}

static inline int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return YW_ENOMEM;
	case SQLITE_CONSTRAINT:
		return YW_EEXIST;
	case SQLITE_TOOBIG:
		return YW_ELIMIT;
	default:
		return YW_EIO;
	}
}

/* Runs a statement that returns no rows, then resets it. */
static inline int run(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static inline int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (!v)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static inline const char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);
	return v ? (const char *)v : "";
}

/* A row of the alert queries' column list (id, agent id, agent name, seq, rule_id, title,
 * level, tags, event_ts, created_at, event, status, dedup_key, count, first_seen, last_seen,
 * ack_by, ack_at, ack_comment, closed_by, closed_at, closed_comment); strings borrowed from q. */
void yw_sqlite_alert_row(sqlite3_stmt *q, struct yw_store_alert_row *a);
/* A row of the incident queries' column list (id, kind, key, opened_at, updated_at,
 * closed_at, alert_count, max_level, agents). */
void yw_sqlite_incident_row(sqlite3_stmt *q, struct yw_store_incident *i);

static inline int text_ok(const char *v)
{
	return !v || strlen(v) <= YW_MAX_STORE_TEXT;
}

static inline int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s)
{
	return map_rc(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL));
}

/* sqlite_triage.c */
int yw_sqlite_triage_prepare(struct sqlite_store *s);
void yw_sqlite_triage_close(struct sqlite_store *s);
/* Inside ingest's transaction, after the records: the alerts of new records (suppression,
 * de-duplication, incidents; by_level counts the new alert rows) and the risk inputs carried
 * by new events. */
int yw_sqlite_triage_ingest(struct sqlite_store *s, int64_t num, const char *agent_id,
                            const struct yw_store_batch *b, const unsigned char *fresh,
                            uint64_t by_level[YW_LEVEL_COUNT]);
int yw_sqlite_alert_change(struct yw_store *st, const struct yw_store_alert_change *c);
int yw_sqlite_alert_history(struct yw_store *st, int64_t alert_id, yw_store_alert_event_cb cb,
                            void *ctx);
int yw_sqlite_incidents(struct yw_store *st, int open_only, yw_store_incident_cb cb, void *ctx);
int yw_sqlite_suppress_add(struct yw_store *st, const struct yw_store_suppression *sp, int64_t *id);
int yw_sqlite_suppress_list(struct yw_store *st, yw_store_suppression_cb cb, void *ctx);
int yw_sqlite_suppress_delete(struct yw_store *st, int64_t id);
int yw_sqlite_risk(struct yw_store *st, int64_t now, const char *agent_id, yw_store_risk_cb cb,
                   void *ctx, double *fleet);
int yw_sqlite_risk_snapshot(struct yw_store *st, int64_t now);
int yw_sqlite_risk_history(struct yw_store *st, const char *scope, int64_t since,
                           yw_store_risk_point_cb cb, void *ctx);

int yw_sqlite_inventory(struct yw_store *st, const char *agent_id, const char *dataset,
                        yw_store_inventory_cb cb, void *ctx);
int yw_sqlite_inventory_history(struct yw_store *st, const char *agent_id, int64_t after_id,
                                size_t limit, yw_store_inventory_change_cb cb, void *ctx);

/* sqlite_query.c: detail queries of the HTTP API (statements prepared per call: they are
 * rare next to ingest, and so need no slot in struct sqlite_store). */
int yw_sqlite_incident_get(struct yw_store *st, int64_t id, yw_store_incident_cb cb, void *ctx);
int yw_sqlite_incident_alerts(struct yw_store *st, int64_t id, size_t limit, yw_store_alert_cb cb,
                              void *ctx);
int yw_sqlite_agent_events(struct yw_store *st, const struct yw_store_event_query *q,
                           yw_store_event_cb cb, void *ctx, int64_t *last_id);

/* sqlite_situation.c: rollups for the situation screen and rule hits (schema 5). */
#define SIT_HOUR_NS (3600LL * 1000000000LL)
/* The ATT&CK tactic an alert tag "attack.<tactic>" names, snake_case (Sigma writes - or _),
 * and the 14 Enterprise tactics it must be one of. Used by migration 5 and by ingest. */
#define SIT_TAG_TACTIC(v) "replace(lower(substr(" v ", 8)), '-', '_')"
#define SIT_TACTICS                                                                                \
	"('reconnaissance', 'resource_development', 'initial_access', 'execution',"                \
	" 'persistence', 'privilege_escalation', 'defense_evasion', 'credential_access',"          \
	" 'discovery', 'lateral_movement', 'collection', 'command_and_control', 'exfiltration',"   \
	" 'impact')"
int yw_sqlite_situation_prepare(struct sqlite_store *s);
void yw_sqlite_situation_close(struct sqlite_store *s);
/* Inside ingest's transaction: one occurrence of a (new or repeated) alert at now, kept in
 * memory until yw_sqlite_situation_flush writes the transaction's sums. */
int yw_sqlite_situation_count(struct sqlite_store *s, const struct yw_store_alert *a, int64_t now,
                              int is_new);
/* At a savepoint: remember the occurrences so far; undo drops those counted since (the
 * savepoint was rolled back to). */
void yw_sqlite_situation_mark(struct sqlite_store *s);
void yw_sqlite_situation_undo(struct sqlite_store *s);
/* Just before the write transaction commits: one upsert per distinct rollup key; a failure must
 * roll the transaction back. discard forgets the occurrences (after the commit or a rollback). */
int yw_sqlite_situation_flush(struct sqlite_store *s);
void yw_sqlite_situation_discard(struct sqlite_store *s);
/* Inside risk_snapshot's transaction: the agent's latest score. */
int yw_sqlite_situation_risk(struct sqlite_store *s, int64_t num, double score, int64_t now);
int yw_sqlite_situation(struct yw_store *st, int64_t now, int tz_min,
                        struct yw_store_situation *out);
int yw_sqlite_rule_hits(struct yw_store *st, int64_t now, yw_store_rule_hit_cb cb, void *ctx);

/* sqlite_live.c */
int yw_sqlite_alert_count(struct yw_store *st, int64_t since, uint64_t *n);

#endif
