/* The embedded store: SQLite in WAL mode, one write connection and one read connection, each
 * behind its own mutex, every statement prepared once from constant SQL text. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_int.h"

#define DB_NAME         "yiwang.db"
#define HOUR_NS         (3600LL * 1000000000LL)
#define BUSY_TIMEOUT_MS 5000

/* Migration i takes the schema from version i to i + 1. Never edit one that has shipped:
 * append a new one and raise YW_STORE_SCHEMA_VERSION. */
static const char *const migrations[YW_STORE_SCHEMA_VERSION] = {
    /* 1: enrolment */
    "CREATE TABLE tokens ("
    " id TEXT PRIMARY KEY,"
    " hash BLOB NOT NULL UNIQUE,"
    " grp TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " uses_left INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE agents ("
    " num INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " grp TEXT NOT NULL,"
    " os TEXT NOT NULL,"
    " version TEXT NOT NULL,"
    " cert_serial TEXT NOT NULL,"
    " addresses TEXT NOT NULL,"
    " enrolled_at INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL DEFAULT 0,"
    " online INTEGER NOT NULL DEFAULT 0,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);",
    /* 2: events and alerts */
    "ALTER TABLE agents ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE agents ADD COLUMN events_received INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE agents ADD COLUMN events_lost INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " agent INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " ts INTEGER NOT NULL,"
    " kind INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " data BLOB NOT NULL,"
    " event TEXT,"
    " UNIQUE (agent, seq));"
    "CREATE TABLE event_marks (hour INTEGER PRIMARY KEY, last_id INTEGER NOT NULL);"
    "CREATE TABLE alerts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " agent INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " rule_id TEXT NOT NULL,"
    " title TEXT NOT NULL,"
    " level INTEGER NOT NULL,"
    " tags TEXT NOT NULL,"
    " event_ts INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " event TEXT,"
    " status TEXT NOT NULL DEFAULT 'new');"
    "CREATE INDEX alerts_agent ON alerts (agent, id);"
    "CREATE INDEX alerts_created ON alerts (created_at);"
    "CREATE TABLE alert_counts (level INTEGER PRIMARY KEY, n INTEGER NOT NULL);",
    /* 3: de-duplication, lifecycle, incidents, suppressions, risk */
    "ALTER TABLE alerts ADD COLUMN dedup_key TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE alerts ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN ack_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE alerts ADD COLUMN ack_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN ack_comment TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE alerts ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE alerts ADD COLUMN closed_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE alerts ADD COLUMN closed_comment TEXT NOT NULL DEFAULT '';"
    "UPDATE alerts SET first_seen = created_at, last_seen = created_at;"
    "CREATE INDEX alerts_dedup ON alerts (agent, rule_id, dedup_key, last_seen)"
    " WHERE status IN ('new', 'acknowledged');"
    "CREATE INDEX alerts_open ON alerts (agent) WHERE status IN ('new', 'acknowledged');"
    "ALTER TABLE agents ADD COLUMN sca_score INTEGER NOT NULL DEFAULT -1;"
    "CREATE TABLE agent_ports ("
    " agent INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " exposed INTEGER NOT NULL,"
    " snapshot INTEGER NOT NULL,"
    " PRIMARY KEY (agent, key)) WITHOUT ROWID;"
    "CREATE TABLE alert_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " alert INTEGER NOT NULL,"
    " ts INTEGER NOT NULL,"
    " action TEXT NOT NULL,"
    " from_status TEXT NOT NULL,"
    " to_status TEXT NOT NULL,"
    " who TEXT NOT NULL,"
    " comment TEXT NOT NULL);"
    "CREATE INDEX alert_events_alert ON alert_events (alert, id);"
    "CREATE TABLE incidents ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " opened_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " closed_at INTEGER NOT NULL DEFAULT 0,"
    " alert_count INTEGER NOT NULL DEFAULT 0,"
    " max_level INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX incidents_open ON incidents (kind, key) WHERE closed_at = 0;"
    "CREATE TABLE incident_alerts ("
    " incident INTEGER NOT NULL,"
    " alert INTEGER NOT NULL,"
    " PRIMARY KEY (incident, alert)) WITHOUT ROWID;"
    "CREATE INDEX incident_alerts_alert ON incident_alerts (alert);"
    "CREATE TABLE suppressions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " rule_id TEXT,"
    " agent_id TEXT,"
    " field TEXT,"
    " value TEXT,"
    " expires_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " who TEXT NOT NULL,"
    " why TEXT NOT NULL,"
    " hits INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE risk_history (ts INTEGER NOT NULL, scope TEXT NOT NULL, score REAL NOT NULL);"
    "CREATE INDEX risk_history_scope ON risk_history (scope, ts);",
    /* 4: the current inventory of each terminal and the history of its changes */
    "CREATE TABLE inventory ("
    " agent INTEGER NOT NULL,"
    " dataset TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " snapshot INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (agent, dataset, key)) WITHOUT ROWID;"
    "CREATE TABLE inventory_history ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " agent INTEGER NOT NULL,"
    " ts INTEGER NOT NULL,"
    " dataset TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " data TEXT NOT NULL);"
    "CREATE INDEX inventory_history_agent ON inventory_history (agent, id);",
    /* 5: rollups for the situation screen and rule hit counts (sqlite_situation.c), backfilled:
     * an alert counts in the hour it was created, its repeats in the hour of its last one. */
    "CREATE TABLE alert_rollup ("
    " hour INTEGER NOT NULL,"
    " rule_id TEXT NOT NULL,"
    " level INTEGER NOT NULL,"
    " alerts INTEGER NOT NULL,"
    " n INTEGER NOT NULL,"
    " PRIMARY KEY (hour, rule_id, level)) WITHOUT ROWID;"
    "CREATE TABLE tactic_rollup ("
    " hour INTEGER NOT NULL,"
    " tactic TEXT NOT NULL,"
    " n INTEGER NOT NULL,"
    " PRIMARY KEY (hour, tactic)) WITHOUT ROWID;"
    "CREATE TABLE rule_hits ("
    " rule_id TEXT PRIMARY KEY,"
    " title TEXT NOT NULL,"
    " level INTEGER NOT NULL,"
    " total INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE agent_risk (agent INTEGER PRIMARY KEY, score REAL NOT NULL, ts INTEGER NOT NULL);"
    "CREATE INDEX agent_risk_score ON agent_risk (score);"
    "CREATE INDEX agents_name ON agents (name, id);"
    "INSERT INTO alert_rollup (hour, rule_id, level, alerts, n)"
    " SELECT created_at / 3600000000000, rule_id, level, count(*), count(*) FROM alerts"
    " WHERE true GROUP BY 1, 2, 3;"
    "INSERT INTO alert_rollup (hour, rule_id, level, alerts, n)"
    " SELECT last_seen / 3600000000000, rule_id, level, 0, sum(count - 1) FROM alerts"
    " WHERE count > 1 GROUP BY 1, 2, 3"
    " ON CONFLICT (hour, rule_id, level) DO UPDATE SET n = n + excluded.n;"
    "INSERT INTO rule_hits (rule_id, title, level, total, last_seen)"
    " SELECT rule_id, title, level, sum(count), max(last_seen) FROM alerts"
    " WHERE true GROUP BY rule_id;"
    "INSERT INTO tactic_rollup (hour, tactic, n)"
    " SELECT hour, tactic, sum(n) FROM (SELECT DISTINCT o.id, o.part, o.hour, o.n,"
    " " SIT_TAG_TACTIC(
        "j.value") " AS tactic FROM"
                   " (SELECT id, 0 AS part, created_at / 3600000000000 AS hour, 1 AS n, tags FROM "
                   "alerts"
                   " UNION ALL SELECT id, 1, last_seen / 3600000000000, count - 1, tags FROM alerts"
                   " WHERE count > 1) o,"
                   " json_each(CASE WHEN json_valid(o.tags) THEN o.tags ELSE '[]' END) j"
                   " WHERE j.type = 'text' AND j.value LIKE 'attack.%')"
                   " WHERE tactic IN " SIT_TACTICS " GROUP BY hour, tactic;"
                   /* The open alerts, counted by triggers so that every writer keeps the count. */
                   "CREATE TABLE alert_open (k INTEGER PRIMARY KEY CHECK (k = 0), n INTEGER NOT "
                   "NULL);"
                   "INSERT INTO alert_open (k, n) SELECT 0, count(*) FROM alerts"
                   " WHERE status IN ('new', 'acknowledged');"
                   "CREATE TRIGGER alert_open_insert AFTER INSERT ON alerts"
                   " WHEN new.status IN ('new', 'acknowledged')"
                   " BEGIN UPDATE alert_open SET n = n + 1 WHERE k = 0; END;"
                   "CREATE TRIGGER alert_open_delete AFTER DELETE ON alerts"
                   " WHEN old.status IN ('new', 'acknowledged')"
                   " BEGIN UPDATE alert_open SET n = n - 1 WHERE k = 0; END;"
                   "CREATE TRIGGER alert_open_update AFTER UPDATE OF status ON alerts"
                   " WHEN (old.status IN ('new', 'acknowledged')) != (new.status IN ('new', "
                   "'acknowledged'))"
                   " BEGIN UPDATE alert_open SET n = n + CASE WHEN new.status IN ('new', "
                   "'acknowledged')"
                   " THEN 1 ELSE -1 END WHERE k = 0; END;",
};

#define AGENT_COLS                                                                                 \
	"id, name, grp, os, version, cert_serial, addresses, enrolled_at, last_seen, revoked_at, " \
	"online, last_seq, events_received, events_lost"

enum wstmt {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_TOKEN_ADD,
	W_TOKEN_FIND,
	W_TOKEN_DEC,
	W_TOKEN_DEL,
	W_AGENT_ADD,
	W_AGENT_SEEN,
	W_AGENT_OFF,
	W_AGENT_OFF_ALL,
	W_AGENT_REVOKE,
	W_AGENT_STATE,
	W_AGENT_UPDATE,
	W_EVENT_ADD,
	W_NEXT_SEQS,
	W_COUNT_RANGE,
	W_ALERT_COUNT,
	W_MARK,
	W_PRUNE_MAX,
	W_PRUNE_CHUNK,
	W_PRUNE_MARKS,
	W_COUNT
};

static const char *const wsql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_TOKEN_ADD] = "INSERT INTO tokens (id, hash, grp, expires_at, uses_left, created_at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [W_TOKEN_FIND] = "SELECT grp, expires_at, uses_left FROM tokens WHERE hash = ?1",
    [W_TOKEN_DEC] = "UPDATE tokens SET uses_left = uses_left - 1"
                    " WHERE hash = ?1 AND uses_left > 0",
    [W_TOKEN_DEL] = "DELETE FROM tokens WHERE id = ?1",
    [W_AGENT_ADD] = "INSERT INTO agents (id, name, grp, os, version, cert_serial, addresses,"
                    " enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [W_AGENT_SEEN] = "UPDATE agents SET online = 1, last_seen = ?2,"
                     " addresses = coalesce(?3, addresses), version = coalesce(?4, version)"
                     " WHERE id = ?1",
    [W_AGENT_OFF] = "UPDATE agents SET online = 0, last_seen = ?2 WHERE id = ?1",
    [W_AGENT_OFF_ALL] = "UPDATE agents SET online = 0 WHERE online = 1",
    [W_AGENT_REVOKE] = "UPDATE agents SET online = 0,"
                       " revoked_at = CASE revoked_at WHEN 0 THEN ?2 ELSE revoked_at END"
                       " WHERE id = ?1",
    [W_AGENT_STATE] = "SELECT num, last_seq, revoked_at FROM agents WHERE id = ?1",
    [W_AGENT_UPDATE] = "UPDATE agents SET last_seq = ?2, events_received = events_received + ?3,"
                       " events_lost = events_lost + ?4 WHERE num = ?1",
    [W_EVENT_ADD] = "INSERT INTO events (agent, seq, ts, kind, source, data, event)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (agent, seq) DO NOTHING",
    [W_NEXT_SEQS] = "SELECT seq FROM events WHERE agent = ?1 AND seq > ?2 ORDER BY seq",
    [W_COUNT_RANGE] = "SELECT count(*) FROM events WHERE agent = ?1 AND seq > ?2 AND seq <= ?3",
    [W_ALERT_COUNT] = "INSERT INTO alert_counts (level, n) VALUES (?1, ?2)"
                      " ON CONFLICT (level) DO UPDATE SET n = n + excluded.n",
    [W_MARK] = "INSERT INTO event_marks (hour, last_id) VALUES (?1, ?2)"
               " ON CONFLICT (hour) DO UPDATE SET last_id = max(last_id, excluded.last_id)",
    [W_PRUNE_MAX] = "SELECT max(last_id) FROM event_marks WHERE hour < ?1",
    /* Events above their agent's last_seq stay: they are what deduplicates a replay across a
     * gap (below last_seq, ingest ignores a record without looking). */
    [W_PRUNE_CHUNK] = "DELETE FROM events WHERE id IN (SELECT e.id FROM events e"
                      " JOIN agents a ON a.num = e.agent WHERE e.id <= ?1 AND e.seq <= a.last_seq"
                      " LIMIT ?2)",
    [W_PRUNE_MARKS] = "DELETE FROM event_marks WHERE hour < ?1",
};

enum rstmt {
	R_BEGIN,
	R_COMMIT,
	R_TOKEN_LIST,
	R_AGENT_LIST,
	R_AGENT_GET,
	R_AGENT_CERT,
	R_STATS_AGENTS,
	R_STATS_ALERTS,
	R_BACKUP,
	R_COUNT
};

static const char *const rsql[R_COUNT] = {
    [R_BEGIN] = "BEGIN",
    [R_COMMIT] = "COMMIT",
    [R_TOKEN_LIST] = "SELECT id, hash, grp, expires_at, uses_left, created_at FROM tokens"
                     " ORDER BY created_at, id",
    [R_AGENT_LIST] = "SELECT " AGENT_COLS " FROM agents ORDER BY name, id",
    [R_AGENT_GET] = "SELECT " AGENT_COLS " FROM agents WHERE id = ?1",
    [R_AGENT_CERT] = "SELECT cert_serial, revoked_at FROM agents WHERE id = ?1",
    [R_STATS_AGENTS] = "SELECT count(*), coalesce(sum(online), 0),"
                       " coalesce(sum(events_received), 0) FROM agents",
    [R_STATS_ALERTS] = "SELECT level, n FROM alert_counts",
    [R_BACKUP] = "VACUUM INTO ?1",
};

/* Alert queries: one statement per combination of filters present, made from constant parts
 * (values are always bound, never written into the text). */
enum {
	Q_SINCE = 1,
	Q_LEVEL = 2,
	Q_AGENT = 4,
	Q_NEWEST = 8,
	Q_OPEN = 16,
	Q_BEFORE = 32,
	Q_VARIANTS = 64,
};

static int begin(struct sqlite_store *s)
{
	return run(s->ws[W_BEGIN]);
}

/* Commits, or rolls back on err; returns err, or the commit's failure. */
static int finish(struct sqlite_store *s, int err)
{
	/* The situation rollups' sums of this transaction: written in it, or forgotten with it. */
	if (err == 0)
		err = yw_sqlite_situation_flush(s);
	yw_sqlite_situation_discard(s);
	if (err == 0) {
		err = run(s->ws[W_COMMIT]);
		if (err == 0)
			return 0;
	}
	if (!sqlite3_get_autocommit(s->w))
		run(s->ws[W_ROLLBACK]);
	return err;
}

/* ---- opening ---- */

static int exec(sqlite3 *db, const char *sql)
{
	return map_rc(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int schema_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
	                            &s, NULL);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int set_version(sqlite3 *db, int v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db,
	                            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)"
	                            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	                            -1, &s, NULL);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	sqlite3_bind_int(s, 1, v);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

/* Each migration runs in its own transaction with the version bump, so a crash leaves the
 * database at one version or the next. */
static int migrate(sqlite3 *db, int target)
{
	int err = exec(db, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)");
	int v = 0;
	if (err == 0)
		err = schema_version(db, &v);
	if (err)
		return err;
	if (v > YW_STORE_SCHEMA_VERSION)
		return YW_STORE_ESCHEMA;
	while (v < target) {
		err = exec(db, "BEGIN IMMEDIATE");
		if (err)
			return err;
		err = exec(db, migrations[v]);
		if (err == 0)
			err = set_version(db, v + 1);
		if (err == 0)
			err = exec(db, "COMMIT");
		if (err) {
			exec(db, "ROLLBACK");
			return err;
		}
		v++;
	}
	return 0;
}

static int open_conn(const char *path, int sync_full, sqlite3 **db)
{
	/* Our own mutexes serialise each connection, so SQLite's are not needed. */
	int rc = sqlite3_open_v2(
	    path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	sqlite3_extended_result_codes(*db, 1);
	sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
	int err = exec(*db, "PRAGMA journal_mode = WAL");
	if (err == 0)
		err = exec(*db,
		           sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
	if (err == 0)
		err = exec(*db, "PRAGMA temp_store = MEMORY");
	if (err == 0)
		err = exec(*db, "PRAGMA cache_size = -16384");
	return err;
}

/* The directory 0700 and the database file 0600, before SQLite opens it: SQLite gives the
 * -wal and -shm files the database file's mode. */
static int make_files(const char *dir, const char *path)
{
	struct stat sb;
	if (mkdir(dir, 0700) != 0) {
		if (errno != EEXIST)
			return YW_EIO;
		if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
			return YW_EIO;
		if ((sb.st_mode & 077) && chmod(dir, 0700) != 0)
			return YW_EIO;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return YW_EIO;
	int err = fchmod(fd, 0600) == 0 ? 0 : YW_EIO;
	close(fd);
	return err;
}

static void sqlite_close(struct yw_store *st);
static const struct yw_store_ops sqlite_ops;

int yw_store_open_sqlite(const char *dir, const struct yw_store_opts *opts, struct yw_store **out)
{
	static const struct yw_store_opts defaults = {0};
	if (!dir || !out)
		return YW_EINVAL;
	if (!opts)
		opts = &defaults;
	int target = opts->schema_target ? opts->schema_target : YW_STORE_SCHEMA_VERSION;
	if (target < 1 || target > YW_STORE_SCHEMA_VERSION)
		return YW_EINVAL;
	*out = NULL;
	struct sqlite_store *s = calloc(1, sizeof(*s));
	if (!s)
		return YW_ENOMEM;
	s->base.ops = &sqlite_ops;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	s->dedup_window = opts->dedup_window_ns ? opts->dedup_window_ns : YW_STORE_DEDUP_WINDOW_NS;
	s->incident_window =
	    opts->incident_window_ns > 0 ? opts->incident_window_ns : YW_STORE_INCIDENT_WINDOW_NS;
	s->supps_stale = 1;
	size_t n = strlen(dir) + sizeof("/" DB_NAME);
	char *path = malloc(n);
	s->ws = calloc(W_COUNT, sizeof(*s->ws));
	s->rs = calloc(R_COUNT, sizeof(*s->rs));
	s->alert_q = calloc(Q_VARIANTS, sizeof(*s->alert_q));
	int err = YW_ENOMEM;
	if (!path || !s->ws || !s->rs || !s->alert_q)
		goto fail;
	snprintf(path, n, "%s/%s", dir, DB_NAME);
	err = make_files(dir, path);
	if (err == 0)
		err = open_conn(path, opts->sync_full, &s->w);
	if (err == 0)
		err = migrate(s->w, target);
	if (err == 0)
		err = open_conn(path, opts->sync_full, &s->r);
	if (err)
		goto fail;
	/* A later schema's statements would not prepare on an older one; tests that stop early
	 * only reopen. */
	if (target == YW_STORE_SCHEMA_VERSION) {
		for (int i = 0; i < W_COUNT && err == 0; i++)
			err = prepare(s->w, wsql[i], &s->ws[i]);
		for (int i = 0; i < R_COUNT && err == 0; i++)
			err = prepare(s->r, rsql[i], &s->rs[i]);
		if (err == 0)
			err = yw_sqlite_triage_prepare(s);
		if (err == 0)
			err = yw_sqlite_situation_prepare(s);
		if (err)
			goto fail;
	}
	free(path);
	*out = &s->base;
	return 0;
fail:
	free(path);
	sqlite_close(&s->base);
	return err;
}

static void sqlite_close(struct yw_store *st)
{
	struct sqlite_store *s = S(st);
	for (int i = 0; s->ws && i < W_COUNT; i++)
		sqlite3_finalize(s->ws[i]);
	for (int i = 0; s->rs && i < R_COUNT; i++)
		sqlite3_finalize(s->rs[i]);
	for (int i = 0; s->alert_q && i < Q_VARIANTS; i++)
		sqlite3_finalize(s->alert_q[i]);
	yw_sqlite_triage_close(s);
	yw_sqlite_situation_close(s);
	/* The read connection goes first so the writer's close can checkpoint the WAL. */
	sqlite3_close(s->r);
	sqlite3_close(s->w);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->rlock);
	free(s->fresh);
	free(s->ws);
	free(s->rs);
	free(s->alert_q);
	free(s);
}

/* ---- tokens ---- */

static int sqlite_token_add(struct yw_store *st, const struct yw_store_token *t)
{
	struct sqlite_store *s = S(st);
	if (!text_ok(t->id) || !text_ok(t->group))
		return YW_ELIMIT;
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ws[W_TOKEN_ADD];
	bind_text(q, 1, t->id);
	sqlite3_bind_blob(q, 2, t->hash, YW_STORE_HASH_LEN, SQLITE_STATIC);
	bind_text(q, 3, t->group);
	sqlite3_bind_int64(q, 4, t->expires_at);
	sqlite3_bind_int64(q, 5, t->uses_left);
	sqlite3_bind_int64(q, 6, t->created_at);
	int err = run(q);
	pthread_mutex_unlock(&s->wlock);
	return err;
}

static int sqlite_token_use(struct yw_store *st, const uint8_t hash[YW_STORE_HASH_LEN], int64_t now,
                            char *group, size_t group_size)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->wlock);
	int err = begin(s);
	if (err)
		goto out;
	sqlite3_stmt *q = s->ws[W_TOKEN_FIND];
	sqlite3_bind_blob(q, 1, hash, YW_STORE_HASH_LEN, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		err = rc == SQLITE_DONE ? YW_ENOENT : map_rc(rc);
	} else {
		int64_t expires = sqlite3_column_int64(q, 1);
		int64_t uses = sqlite3_column_int64(q, 2);
		size_t len = (size_t)sqlite3_column_bytes(q, 0);
		if (expires != 0 && expires <= now)
			err = YW_STORE_EEXPIRED;
		else if (uses == 0)
			err = YW_STORE_EUSEDUP;
		else if (len >= group_size)
			err = YW_ELIMIT;
		else
			memcpy(group, col_text(q, 0), len + 1);
	}
	sqlite3_reset(q);
	if (err == 0) {
		/* Unlimited tokens (-1) are not matched by "uses_left > 0" and stay as they are. */
		q = s->ws[W_TOKEN_DEC];
		sqlite3_bind_blob(q, 1, hash, YW_STORE_HASH_LEN, SQLITE_STATIC);
		err = run(q);
	}
	err = finish(s, err);
out:
	pthread_mutex_unlock(&s->wlock);
	return err;
}

static int sqlite_token_list(struct yw_store *st, yw_store_token_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->rs[R_TOKEN_LIST];
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_token t = {
		    .id = col_text(q, 0),
		    .group = col_text(q, 2),
		    .expires_at = sqlite3_column_int64(q, 3),
		    .uses_left = sqlite3_column_int64(q, 4),
		    .created_at = sqlite3_column_int64(q, 5),
		};
		const void *h = sqlite3_column_blob(q, 1);
		if (h && sqlite3_column_bytes(q, 1) == YW_STORE_HASH_LEN)
			memcpy(t.hash, h, YW_STORE_HASH_LEN);
		err = cb(ctx, &t);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

static int sqlite_token_delete(struct yw_store *st, const char *id)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ws[W_TOKEN_DEL];
	bind_text(q, 1, id);
	int err = run(q);
	if (err == 0 && sqlite3_changes(s->w) == 0)
		err = YW_ENOENT;
	pthread_mutex_unlock(&s->wlock);
	return err;
}

/* ---- agents ---- */

static int sqlite_agent_add(struct yw_store *st, const struct yw_store_agent *a)
{
	struct sqlite_store *s = S(st);
	const char *texts[] = {a->id,      a->name,        a->group,    a->os,
	                       a->version, a->cert_serial, a->addresses};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!text_ok(texts[i]))
			return YW_ELIMIT;
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ws[W_AGENT_ADD];
	for (int i = 0; i < 7; i++)
		bind_text(q, i + 1, texts[i] ? texts[i] : "");
	sqlite3_bind_int64(q, 8, a->enrolled_at);
	int err = run(q);
	pthread_mutex_unlock(&s->wlock);
	return err;
}

/* Runs an UPDATE of one agent bound with ?1 = id; YW_ENOENT if no row changed. */
static int update_agent(struct sqlite_store *s, sqlite3_stmt *q)
{
	int err = run(q);
	if (err == 0 && sqlite3_changes(s->w) == 0)
		err = YW_ENOENT;
	return err;
}

static int sqlite_agent_seen(struct yw_store *st, const char *id, const char *addresses,
                             const char *version, int64_t now)
{
	struct sqlite_store *s = S(st);
	if (!text_ok(addresses) || !text_ok(version))
		return YW_ELIMIT;
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ws[W_AGENT_SEEN];
	bind_text(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	bind_text(q, 3, addresses);
	bind_text(q, 4, version);
	int err = update_agent(s, q);
	pthread_mutex_unlock(&s->wlock);
	return err;
}

static int sqlite_agent_offline(struct yw_store *st, const char *id, int64_t now)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->wlock);
	int err;
	if (!id) {
		err = run(s->ws[W_AGENT_OFF_ALL]);
	} else {
		sqlite3_stmt *q = s->ws[W_AGENT_OFF];
		bind_text(q, 1, id);
		sqlite3_bind_int64(q, 2, now);
		err = update_agent(s, q);
	}
	pthread_mutex_unlock(&s->wlock);
	return err;
}

static int sqlite_agent_revoke(struct yw_store *st, const char *id, int64_t now)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ws[W_AGENT_REVOKE];
	bind_text(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	int err = update_agent(s, q);
	pthread_mutex_unlock(&s->wlock);
	return err;
}

static int sqlite_agent_is_revoked(struct yw_store *st, const char *id, const char *serial)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->rs[R_AGENT_CERT];
	bind_text(q, 1, id);
	int rc = sqlite3_step(q), ret;
	if (rc == SQLITE_ROW)
		ret = sqlite3_column_int64(q, 1) != 0 || strcmp(col_text(q, 0), serial) != 0;
	else
		ret = rc == SQLITE_DONE ? YW_ENOENT : map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return ret;
}

static void read_agent(sqlite3_stmt *q, struct yw_store_agent *a)
{
	*a = (struct yw_store_agent){
	    .id = col_text(q, 0),
	    .name = col_text(q, 1),
	    .group = col_text(q, 2),
	    .os = col_text(q, 3),
	    .version = col_text(q, 4),
	    .cert_serial = col_text(q, 5),
	    .addresses = col_text(q, 6),
	    .enrolled_at = sqlite3_column_int64(q, 7),
	    .last_seen = sqlite3_column_int64(q, 8),
	    .revoked_at = sqlite3_column_int64(q, 9),
	    .online = sqlite3_column_int(q, 10),
	    .last_seq = (uint64_t)sqlite3_column_int64(q, 11),
	    .events_received = (uint64_t)sqlite3_column_int64(q, 12),
	    .events_lost = (uint64_t)sqlite3_column_int64(q, 13),
	};
}

static int agent_rows(struct sqlite_store *s, sqlite3_stmt *q, yw_store_agent_cb cb, void *ctx,
                      int want_one)
{
	int rc = SQLITE_DONE, err = 0, rows = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_agent a;
		read_agent(q, &a);
		rows++;
		err = cb(ctx, &a);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	if (err == 0 && want_one && rows == 0)
		err = YW_ENOENT;
	sqlite3_reset(q);
	return err;
}

static int sqlite_agent_list(struct yw_store *st, yw_store_agent_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	int err = agent_rows(s, s->rs[R_AGENT_LIST], cb, ctx, 0);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

static int sqlite_agent_get(struct yw_store *st, const char *id, yw_store_agent_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	bind_text(s->rs[R_AGENT_GET], 1, id);
	int err = agent_rows(s, s->rs[R_AGENT_GET], cb, ctx, 1);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

/* Inside a write transaction: the agent's row number and state. */
static int agent_state(struct sqlite_store *s, const char *id, int64_t *num, uint64_t *last_seq,
                       int64_t *revoked_at)
{
	sqlite3_stmt *q = s->ws[W_AGENT_STATE];
	bind_text(q, 1, id);
	int rc = sqlite3_step(q), err = 0;
	if (rc == SQLITE_ROW) {
		*num = sqlite3_column_int64(q, 0);
		*last_seq = (uint64_t)sqlite3_column_int64(q, 1);
		*revoked_at = sqlite3_column_int64(q, 2);
	} else {
		err = rc == SQLITE_DONE ? YW_ENOENT : map_rc(rc);
	}
	sqlite3_reset(q);
	return err;
}

/* Moves *seq over the stored events that directly follow it. Each stored event is passed over
 * once in the agent's life, so this stays linear overall. */
static int advance(struct sqlite_store *s, int64_t num, uint64_t *seq)
{
	sqlite3_stmt *q = s->ws[W_NEXT_SEQS];
	sqlite3_bind_int64(q, 1, num);
	sqlite3_bind_int64(q, 2, (int64_t)*seq);
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((uint64_t)sqlite3_column_int64(q, 0) != *seq + 1)
			break;
		(*seq)++;
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int set_agent_counts(struct sqlite_store *s, int64_t num, uint64_t last_seq,
                            uint64_t received, uint64_t lost)
{
	sqlite3_stmt *q = s->ws[W_AGENT_UPDATE];
	sqlite3_bind_int64(q, 1, num);
	sqlite3_bind_int64(q, 2, (int64_t)last_seq);
	sqlite3_bind_int64(q, 3, (int64_t)received);
	sqlite3_bind_int64(q, 4, (int64_t)lost);
	return run(q);
}

static int sqlite_agent_skip(struct yw_store *st, const char *id, uint64_t seq, uint64_t *ack)
{
	struct sqlite_store *s = S(st);
	int64_t num, revoked;
	uint64_t last;
	pthread_mutex_lock(&s->wlock);
	int err = begin(s);
	if (err)
		goto out;
	err = agent_state(s, id, &num, &last, &revoked);
	if (err == 0 && seq > last) {
		sqlite3_stmt *q = s->ws[W_COUNT_RANGE];
		sqlite3_bind_int64(q, 1, num);
		sqlite3_bind_int64(q, 2, (int64_t)last);
		sqlite3_bind_int64(q, 3, (int64_t)seq);
		int rc = sqlite3_step(q);
		uint64_t stored = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
		err = rc == SQLITE_ROW ? 0 : map_rc(rc);
		sqlite3_reset(q);
		uint64_t lost = seq - last - stored;
		last = seq;
		if (err == 0)
			err = advance(s, num, &last);
		if (err == 0)
			err = set_agent_counts(s, num, last, 0, lost);
	}
	err = finish(s, err);
	if (err == 0)
		*ack = last;
out:
	pthread_mutex_unlock(&s->wlock);
	return err;
}

/* ---- ingest ---- */

static int check_batch(const struct yw_store_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->records[i].seq == 0 || b->records[i].seq > INT64_MAX ||
		    b->records[i].len > INT32_MAX || (b->records[i].len && !b->records[i].data) ||
		    (b->records[i].source_len && !b->records[i].source))
			return YW_EINVAL;
	for (size_t i = 0; i < b->n_alerts; i++) {
		const struct yw_store_alert *a = &b->alerts[i];
		if (a->record >= b->n || !a->rule_id || !a->title || a->level < 0 ||
		    a->level >= YW_LEVEL_COUNT)
			return YW_EINVAL;
	}
	return 0;
}

static int insert_event(struct sqlite_store *s, int64_t num, const struct yw_record *r,
                        const char *event, int *fresh)
{
	sqlite3_stmt *q = s->ws[W_EVENT_ADD];
	sqlite3_bind_int64(q, 1, num);
	sqlite3_bind_int64(q, 2, (int64_t)r->seq);
	sqlite3_bind_int64(q, 3, r->ts_ns);
	sqlite3_bind_int(q, 4, r->kind);
	sqlite3_bind_text(q, 5, r->source ? r->source : "", r->source_len, SQLITE_STATIC);
	sqlite3_bind_blob(q, 6, r->data ? r->data : "", (int)r->len, SQLITE_STATIC);
	bind_text(q, 7, event);
	int err = run(q);
	*fresh = err == 0 && sqlite3_changes(s->w) > 0;
	return err;
}

static int ingest_locked(struct sqlite_store *s, const char *agent_id,
                         const struct yw_store_batch *b, uint64_t *ack)
{
	int64_t num, revoked;
	uint64_t last, stored = 0, by_level[YW_LEVEL_COUNT] = {0};
	int64_t max_id = 0;
	if (b->n > s->fresh_cap) {
		unsigned char *f = realloc(s->fresh, b->n);
		if (!f)
			return YW_ENOMEM;
		s->fresh = f;
		s->fresh_cap = b->n;
	}
	int err = agent_state(s, agent_id, &num, &last, &revoked);
	if (err)
		return err;
	if (revoked)
		return YW_STORE_EREVOKED;
	for (size_t i = 0; i < b->n && err == 0; i++) {
		int fresh = 0;
		/* Everything up to last_seq is stored already, even if pruned since. */
		if (b->records[i].seq > last)
			err = insert_event(s, num, &b->records[i], b->events ? b->events[i] : NULL,
			                   &fresh);
		s->fresh[i] = (unsigned char)fresh;
		if (fresh) {
			stored++;
			max_id = sqlite3_last_insert_rowid(s->w);
		}
	}
	if (err == 0)
		err = yw_sqlite_triage_ingest(s, num, agent_id, b, s->fresh, by_level);
	for (int l = 0; l < YW_LEVEL_COUNT && err == 0; l++) {
		if (!by_level[l])
			continue;
		sqlite3_stmt *q = s->ws[W_ALERT_COUNT];
		sqlite3_bind_int(q, 1, l);
		sqlite3_bind_int64(q, 2, (int64_t)by_level[l]);
		err = run(q);
	}
	if (err == 0 && stored) {
		sqlite3_stmt *q = s->ws[W_MARK];
		sqlite3_bind_int64(q, 1, b->now / HOUR_NS);
		sqlite3_bind_int64(q, 2, max_id);
		err = run(q);
	}
	if (err == 0)
		err = advance(s, num, &last);
	if (err == 0)
		err = set_agent_counts(s, num, last, stored, 0);
	*ack = last;
	return err;
}

static int sqlite_ingest(struct yw_store *st, const char *agent_id, const struct yw_store_batch *b,
                         uint64_t *ack)
{
	struct sqlite_store *s = S(st);
	int err = check_batch(b);
	if (err)
		return err;
	uint64_t last = 0;
	struct yw_store_batch nb = *b;
	if (nb.now == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		nb.now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	pthread_mutex_lock(&s->wlock);
	err = begin(s);
	if (err == 0)
		err = finish(s, ingest_locked(s, agent_id, &nb, &last));
	pthread_mutex_unlock(&s->wlock);
	if (err == 0)
		*ack = last;
	return err;
}

static int sqlite_ingest_many(struct yw_store *st, struct yw_store_ingest_item *items, size_t n)
{
	struct sqlite_store *s = S(st);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	for (size_t i = 0; i < n; i++)
		items[i].rc = check_batch(items[i].batch);
	pthread_mutex_lock(&s->wlock);
	int err = begin(s);
	for (size_t i = 0; err == 0 && i < n; i++) {
		struct yw_store_ingest_item *it = &items[i];
		if (it->rc)
			continue;
		struct yw_store_batch nb = *it->batch;
		if (nb.now == 0)
			nb.now = now;
		/* A savepoint per batch: one agent's failure (revoked, unknown) undoes only its
		 * own rows. */
		err = exec(s->w, "SAVEPOINT yw_batch");
		if (err)
			break;
		yw_sqlite_situation_mark(s);
		uint64_t last = 0;
		it->rc = ingest_locked(s, it->agent_id, &nb, &last);
		if (it->rc) {
			yw_sqlite_situation_undo(s);
			err = exec(s->w, "ROLLBACK TO yw_batch");
		} else {
			it->ack = last;
		}
		if (err == 0)
			err = exec(s->w, "RELEASE yw_batch");
	}
	err = finish(s, err);
	pthread_mutex_unlock(&s->wlock);
	if (err)
		for (size_t i = 0; i < n; i++)
			if (items[i].rc == 0)
				items[i].rc = err;
	return err;
}

/* ---- alerts, stats ---- */

static sqlite3_stmt *alert_stmt(struct sqlite_store *s, int mask, int *err)
{
	if (s->alert_q[mask])
		return s->alert_q[mask];
	char sql[2048];
	snprintf(sql, sizeof(sql),
	         "%sSELECT a.id AS id, g.id AS agent_id, g.name AS agent_name, a.seq, a.rule_id,"
	         " a.title, a.level, a.tags, a.event_ts, a.created_at, a.event, a.status,"
	         " a.dedup_key, a.count, a.first_seen, a.last_seen, a.ack_by, a.ack_at,"
	         " a.ack_comment, a.closed_by, a.closed_at, a.closed_comment"
	         " FROM alerts a JOIN agents g ON g.num = a.agent WHERE a.id > ?1%s%s%s%s%s"
	         " ORDER BY a.id %s LIMIT ?5%s",
	         mask & Q_NEWEST ? "SELECT * FROM (" : "",
	         mask & Q_SINCE ? " AND a.created_at >= ?2" : "",
	         mask & Q_LEVEL ? " AND a.level >= ?3" : "", mask & Q_AGENT ? " AND g.id = ?4" : "",
	         mask & Q_OPEN ? " AND a.status IN ('new', 'acknowledged')" : "",
	         mask & Q_BEFORE ? " AND a.id < ?6" : "", mask & Q_NEWEST ? "DESC" : "ASC",
	         mask & Q_NEWEST ? ") ORDER BY id ASC" : "");
	*err = prepare(s->r, sql, &s->alert_q[mask]);
	return *err ? NULL : s->alert_q[mask];
}

void yw_sqlite_alert_row(sqlite3_stmt *q, struct yw_store_alert_row *a)
{
	*a = (struct yw_store_alert_row){
	    .id = sqlite3_column_int64(q, 0),
	    .agent_id = col_text(q, 1),
	    .agent_name = col_text(q, 2),
	    .seq = (uint64_t)sqlite3_column_int64(q, 3),
	    .rule_id = col_text(q, 4),
	    .title = col_text(q, 5),
	    .level = sqlite3_column_int(q, 6),
	    .tags = col_text(q, 7),
	    .event_ts = sqlite3_column_int64(q, 8),
	    .created_at = sqlite3_column_int64(q, 9),
	    .event = (const char *)sqlite3_column_text(q, 10),
	    .status = col_text(q, 11),
	    .dedup_key = col_text(q, 12),
	    .count = (uint64_t)sqlite3_column_int64(q, 13),
	    .first_seen = sqlite3_column_int64(q, 14),
	    .last_seen = sqlite3_column_int64(q, 15),
	    .ack_by = col_text(q, 16),
	    .ack_at = sqlite3_column_int64(q, 17),
	    .ack_comment = col_text(q, 18),
	    .closed_by = col_text(q, 19),
	    .closed_at = sqlite3_column_int64(q, 20),
	    .closed_comment = col_text(q, 21),
	};
}

static int sqlite_alerts(struct yw_store *st, const struct yw_store_alert_query *f,
                         yw_store_alert_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	int mask = (f->since ? Q_SINCE : 0) | (f->min_level > 0 ? Q_LEVEL : 0) |
	           (f->agent_id ? Q_AGENT : 0) | (f->newest ? Q_NEWEST : 0) |
	           (f->open ? Q_OPEN : 0) | (f->before_id > 0 ? Q_BEFORE : 0);
	size_t limit = f->limit ? f->limit : YW_STORE_DEFAULT_LIMIT;
	int rc = SQLITE_DONE, err = 0;
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = alert_stmt(s, mask, &err);
	if (!q)
		goto out;
	sqlite3_bind_int64(q, 1, f->after_id);
	sqlite3_bind_int64(q, 2, f->since);
	sqlite3_bind_int(q, 3, f->min_level);
	bind_text(q, 4, f->agent_id);
	sqlite3_bind_int64(q, 5, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	sqlite3_bind_int64(q, 6, f->before_id);
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_alert_row a;
		yw_sqlite_alert_row(q, &a);
		err = cb(ctx, &a);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
out:
	pthread_mutex_unlock(&s->rlock);
	return err;
}

static int sqlite_stats(struct yw_store *st, struct yw_store_stats *out)
{
	struct sqlite_store *s = S(st);
	struct yw_store_stats z = {0};
	pthread_mutex_lock(&s->rlock);
	/* One read transaction, so the two queries see the same snapshot. */
	int err = run(s->rs[R_BEGIN]), rc = SQLITE_DONE;
	if (err)
		goto out;
	sqlite3_stmt *q = s->rs[R_STATS_AGENTS];
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		z.agents = (uint64_t)sqlite3_column_int64(q, 0);
		z.agents_online = (uint64_t)sqlite3_column_int64(q, 1);
		z.events = (uint64_t)sqlite3_column_int64(q, 2);
	} else {
		err = map_rc(rc);
	}
	sqlite3_reset(q);
	q = s->rs[R_STATS_ALERTS];
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int l = sqlite3_column_int(q, 0);
		uint64_t n = (uint64_t)sqlite3_column_int64(q, 1);
		if (l >= 0 && l < YW_LEVEL_COUNT)
			z.alerts_by_level[l] = n;
		z.alerts += n;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	run(s->rs[R_COMMIT]);
	if (err == 0)
		*out = z;
out:
	pthread_mutex_unlock(&s->rlock);
	return err;
}

/* ---- retention, backup ---- */

static int sqlite_prune(struct yw_store *st, int64_t before, uint64_t *deleted)
{
	struct sqlite_store *s = S(st);
	int64_t hour = before >= 0 ? before / HOUR_NS : 0;
	uint64_t total = 0;
	int err;
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ws[W_PRUNE_MAX];
	sqlite3_bind_int64(q, 1, hour);
	int rc = sqlite3_step(q);
	int64_t max_id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	err = rc == SQLITE_ROW ? 0 : map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->wlock);
	for (int n = YW_STORE_PRUNE_CHUNK; err == 0 && max_id > 0 && n == YW_STORE_PRUNE_CHUNK;) {
		/* Unlocked between chunks so ingest goes on. */
		pthread_mutex_lock(&s->wlock);
		q = s->ws[W_PRUNE_CHUNK];
		sqlite3_bind_int64(q, 1, max_id);
		sqlite3_bind_int(q, 2, YW_STORE_PRUNE_CHUNK);
		err = run(q);
		n = err ? 0 : sqlite3_changes(s->w);
		total += (uint64_t)n;
		pthread_mutex_unlock(&s->wlock);
	}
	if (err == 0) {
		pthread_mutex_lock(&s->wlock);
		q = s->ws[W_PRUNE_MARKS];
		sqlite3_bind_int64(q, 1, hour);
		err = run(q);
		pthread_mutex_unlock(&s->wlock);
	}
	if (deleted)
		*deleted = total;
	return err;
}

static int sqlite_backup(struct yw_store *st, const char *path)
{
	struct sqlite_store *s = S(st);
	/* VACUUM INTO writes into an empty file, so the copy keeps this file's 0600 mode. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == EEXIST ? YW_EEXIST : YW_EIO;
	close(fd);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->rs[R_BACKUP];
	bind_text(q, 1, path);
	int err = run(q);
	pthread_mutex_unlock(&s->rlock);
	if (err)
		unlink(path);
	return err;
}

static const struct yw_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .token_add = sqlite_token_add,
    .token_use = sqlite_token_use,
    .token_list = sqlite_token_list,
    .token_delete = sqlite_token_delete,
    .agent_add = sqlite_agent_add,
    .agent_seen = sqlite_agent_seen,
    .agent_offline = sqlite_agent_offline,
    .agent_revoke = sqlite_agent_revoke,
    .agent_is_revoked = sqlite_agent_is_revoked,
    .agent_list = sqlite_agent_list,
    .agent_get = sqlite_agent_get,
    .agent_skip = sqlite_agent_skip,
    .ingest = sqlite_ingest,
    .ingest_many = sqlite_ingest_many,
    .inventory = yw_sqlite_inventory,
    .inventory_history = yw_sqlite_inventory_history,
    .alerts = sqlite_alerts,
    .stats = sqlite_stats,
    .prune = sqlite_prune,
    .backup = sqlite_backup,
    .alert_change = yw_sqlite_alert_change,
    .alert_history = yw_sqlite_alert_history,
    .incidents = yw_sqlite_incidents,
    .suppress_add = yw_sqlite_suppress_add,
    .suppress_list = yw_sqlite_suppress_list,
    .suppress_delete = yw_sqlite_suppress_delete,
    .risk = yw_sqlite_risk,
    .risk_snapshot = yw_sqlite_risk_snapshot,
    .risk_history = yw_sqlite_risk_history,
    /* situation screen, rule hits (sqlite_situation.c) */
    .situation = yw_sqlite_situation,
    .rule_hits = yw_sqlite_rule_hits,
    /* sqlite_query.c */
    .incident_get = yw_sqlite_incident_get,
    .incident_alerts = yw_sqlite_incident_alerts,
    .agent_events = yw_sqlite_agent_events,
    /* sqlite_live.c */
    .alert_count = yw_sqlite_alert_count,
};
