/* Detail queries of the HTTP API on the read connection: one incident and its alerts, and a
 * terminal's events newest first. Each statement is prepared for the call and finalized after
 * it: these are analyst reads, rare next to ingest. */
#include <stdint.h>
#include <string.h>

#include "sqlite_int.h"

static const char incident_sql[] =
    "SELECT i.id, i.kind, i.key, i.opened_at, i.updated_at, i.closed_at, i.alert_count,"
    " i.max_level, (SELECT count(DISTINCT a.agent) FROM incident_alerts ia"
    " JOIN alerts a ON a.id = ia.alert WHERE ia.incident = i.id)"
    " FROM incidents i WHERE i.id = ?1";

/* The columns and order of sqlite.c's alert queries, so rows read the same. */
static const char incident_alerts_sql[] =
    "SELECT a.id, g.id, g.name, a.seq, a.rule_id, a.title, a.level, a.tags, a.event_ts,"
    " a.created_at, a.event, a.status, a.dedup_key, a.count, a.first_seen, a.last_seen,"
    " a.ack_by, a.ack_at, a.ack_comment, a.closed_by, a.closed_at, a.closed_comment"
    " FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert JOIN agents g ON g.num = a.agent"
    " WHERE ia.incident = ?1 ORDER BY a.id LIMIT ?2";

static const char agent_num_sql[] = "SELECT num FROM agents WHERE id = ?1";
static const char event_seq_sql[] = "SELECT seq FROM events WHERE id = ?1 AND agent = ?2";
/* Walks the UNIQUE (agent, seq) index downwards: no sort, no scan of other agents' rows. */
static const char events_sql[] = "SELECT id, seq, ts, kind, source, data, event FROM events"
                                 " WHERE agent = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";

static int prep(struct sqlite_store *s, const char *sql, sqlite3_stmt **q)
{
	return map_rc(sqlite3_prepare_v2(s->r, sql, -1, q, NULL));
}

static int incident_get_locked(struct sqlite_store *s, int64_t id, yw_store_incident_cb cb,
                               void *ctx)
{
	sqlite3_stmt *q;
	int err = prep(s, incident_sql, &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		struct yw_store_incident i;
		yw_sqlite_incident_row(q, &i);
		err = cb ? cb(ctx, &i) : 0;
	} else {
		err = rc == SQLITE_DONE ? YW_ENOENT : map_rc(rc);
	}
	sqlite3_finalize(q);
	return err;
}

int yw_sqlite_incident_get(struct yw_store *st, int64_t id, yw_store_incident_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	int err = incident_get_locked(s, id, cb, ctx);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

int yw_sqlite_incident_alerts(struct yw_store *st, int64_t id, size_t limit, yw_store_alert_cb cb,
                              void *ctx)
{
	struct sqlite_store *s = S(st);
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE;
	pthread_mutex_lock(&s->rlock);
	/* One read transaction: the incident seen to exist is the one whose alerts are read. */
	int err = run(s->us[U_BEGIN]);
	err = err ? err : incident_get_locked(s, id, NULL, NULL);
	err = err ? err : prep(s, incident_alerts_sql, &q);
	if (err)
		goto out;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_alert_row a;
		yw_sqlite_alert_row(q, &a);
		err = cb(ctx, &a);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
out:
	sqlite3_finalize(q);
	if (!sqlite3_get_autocommit(s->r))
		run(s->us[U_COMMIT]);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

/* One integer from a statement with bound parameters: YW_ENOENT when no row. */
static int one_int(sqlite3_stmt *q, int64_t *v)
{
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? YW_ENOENT : map_rc(rc);
}

static int source_matches(const struct yw_store_event_query *f, const char *src)
{
	if (!f->source)
		return 1;
	if (f->source_prefix)
		return !strncmp(src, f->source, strlen(f->source));
	return !strcmp(src, f->source);
}

int yw_sqlite_agent_events(struct yw_store *st, const struct yw_store_event_query *f,
                           yw_store_event_cb cb, void *ctx, int64_t *last_id)
{
	struct sqlite_store *s = S(st);
	sqlite3_stmt *q = NULL;
	int64_t num = 0, below = INT64_MAX;
	size_t scan = f->max_scan ? f->max_scan : YW_STORE_DEFAULT_LIMIT;
	int rc = SQLITE_DONE;
	*last_id = 0;
	pthread_mutex_lock(&s->rlock);
	int err = run(s->us[U_BEGIN]);
	err = err ? err : prep(s, agent_num_sql, &q);
	if (err == 0) {
		bind_text(q, 1, f->agent_id);
		err = one_int(q, &num);
		sqlite3_finalize(q);
		q = NULL;
	}
	if (err == 0 && f->before_id > 0 && (err = prep(s, event_seq_sql, &q)) == 0) {
		sqlite3_bind_int64(q, 1, f->before_id);
		sqlite3_bind_int64(q, 2, num);
		err = one_int(q, &below);
		if (err == YW_ENOENT)
			err = YW_EINVAL;
		sqlite3_finalize(q);
		q = NULL;
	}
	err = err ? err : prep(s, events_sql, &q);
	if (err)
		goto out;
	sqlite3_bind_int64(q, 1, num);
	sqlite3_bind_int64(q, 2, below);
	sqlite3_bind_int64(q, 3, scan > INT64_MAX ? INT64_MAX : (int64_t)scan);
	size_t rows = 0;
	int64_t last = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		rows++;
		last = sqlite3_column_int64(q, 0);
		const char *src = col_text(q, 4);
		/* Other sources' rows are passed over before their large columns are read. */
		if (!source_matches(f, src))
			continue;
		struct yw_store_event_row e = {
		    .id = sqlite3_column_int64(q, 0),
		    .seq = (uint64_t)sqlite3_column_int64(q, 1),
		    .ts = sqlite3_column_int64(q, 2),
		    .kind = sqlite3_column_int(q, 3),
		    .source = src,
		    .data = sqlite3_column_blob(q, 5),
		    .data_len = (size_t)sqlite3_column_bytes(q, 5),
		    .event = (const char *)sqlite3_column_text(q, 6),
		};
		if (!e.data)
			e.data = "";
		err = cb(ctx, &e);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	if (err == 0 && rows == scan)
		*last_id = last;
out:
	sqlite3_finalize(q);
	if (!sqlite3_get_autocommit(s->r))
		run(s->us[U_COMMIT]);
	pthread_mutex_unlock(&s->rlock);
	return err;
}
