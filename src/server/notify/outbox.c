/* The notification outbox: notify.db in the data directory, separate from the event store so
 * notification traffic never contends with event writes. WAL mode: a committed enqueue
 * survives a crash of the process (with sync_full, also a power loss). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify_int.h"
#include "yiwang/error.h"
#include "yiwang/log.h"

struct yw_outbox {
	sqlite3 *db;
	pthread_mutex_t mu;
	sqlite3_stmt *put, *due, *mark, *next;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS outbox("
    " id INTEGER PRIMARY KEY,"
    " channel TEXT NOT NULL,"
    " dedup TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " done_at INTEGER,"
    " last_error TEXT,"
    " UNIQUE(channel, dedup));"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(channel, state, next_at);";

static int db_err(struct yw_outbox *ob, const char *what)
{
	yw_logf(YW_LOG_ERROR, "notify outbox: %s: %s", what, sqlite3_errmsg(ob->db));
	return YW_EIO;
}

int yw_outbox_open(const char *path, bool sync_full, struct yw_outbox **out)
{
	*out = NULL;
	/* Create it 0600 ourselves: SQLite would use the umask, and alerts are sensitive.
	 * Its -wal and -shm files take the database file's mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	fchmod(fd, 0600);
	close(fd);
	struct yw_outbox *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return YW_ENOMEM;
	pthread_mutex_init(&ob->mu, NULL);
	int rc = YW_EIO;
	if (sqlite3_open_v2(path, &ob->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(ob->db, 5000);
	const char *pragmas = sync_full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                                : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
	if (sqlite3_exec(ob->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(ob->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(ob, "schema");
		goto fail;
	}
	if (sqlite3_prepare_v2(ob->db,
	                       "INSERT OR IGNORE INTO outbox(channel, dedup, payload, created_at, "
	                       "next_at) VALUES(?1, ?2, ?3, ?4, ?4)",
	                       -1, &ob->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ob->db,
	                       "SELECT id, attempts, dedup, payload FROM outbox WHERE channel = ?1 "
	                       "AND state = 0 AND next_at <= ?2 ORDER BY next_at, id LIMIT ?3",
	                       -1, &ob->due, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ob->db,
	                       "UPDATE outbox SET state = ?2, attempts = ?3, next_at = ?4, "
	                       "last_error = ?5, done_at = ?6 WHERE id = ?1",
	                       -1, &ob->mark, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ob->db,
	                       "SELECT min(next_at) FROM outbox WHERE channel = ?1 AND state = 0",
	                       -1, &ob->next, NULL) != SQLITE_OK) {
		rc = db_err(ob, "prepare");
		goto fail;
	}
	*out = ob;
	return 0;
fail:
	yw_outbox_close(ob);
	return rc;
}

void yw_outbox_close(struct yw_outbox *ob)
{
	if (!ob)
		return;
	sqlite3_finalize(ob->put);
	sqlite3_finalize(ob->due);
	sqlite3_finalize(ob->mark);
	sqlite3_finalize(ob->next);
	sqlite3_close(ob->db);
	pthread_mutex_destroy(&ob->mu);
	free(ob);
}

int yw_outbox_put(struct yw_outbox *ob, const char *const *channels, size_t n, const char *dedup,
                  const char *payload, int64_t now_ms, size_t *added)
{
	*added = 0;
	pthread_mutex_lock(&ob->mu);
	int rc = 0;
	if (sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(ob, "begin");
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		sqlite3_bind_text(ob->put, 1, channels[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(ob->put, 2, dedup, -1, SQLITE_STATIC);
		sqlite3_bind_text(ob->put, 3, payload, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ob->put, 4, now_ms);
		if (sqlite3_step(ob->put) != SQLITE_DONE)
			rc = db_err(ob, "insert");
		else
			*added += (size_t)sqlite3_changes(ob->db);
		sqlite3_reset(ob->put);
		sqlite3_clear_bindings(ob->put);
	}
	if (!rc && sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_err(ob, "commit");
	if (rc) {
		sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
		*added = 0;
	}
out:
	pthread_mutex_unlock(&ob->mu);
	return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return strdup(s ? (const char *)s : "");
}

void yw_outbox_rows_free(struct yw_outbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].dedup);
		free(rows[i].payload);
		rows[i].dedup = rows[i].payload = NULL;
	}
}

int yw_outbox_due(struct yw_outbox *ob, const char *channel, int64_t now_ms, size_t max,
                  struct yw_outbox_row *rows, size_t *n)
{
	*n = 0;
	pthread_mutex_lock(&ob->mu);
	int rc = 0, s;
	sqlite3_bind_text(ob->due, 1, channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ob->due, 2, now_ms);
	sqlite3_bind_int64(ob->due, 3, (sqlite3_int64)max);
	while (*n < max && (s = sqlite3_step(ob->due)) == SQLITE_ROW) {
		struct yw_outbox_row *r = &rows[*n];
		r->id = sqlite3_column_int64(ob->due, 0);
		r->attempts = sqlite3_column_int64(ob->due, 1);
		r->dedup = col_dup(ob->due, 2);
		r->payload = col_dup(ob->due, 3);
		(*n)++;
		if (!r->dedup || !r->payload) {
			rc = YW_ENOMEM;
			break;
		}
	}
	if (!rc && *n < max && s != SQLITE_DONE)
		rc = db_err(ob, "select due");
	sqlite3_reset(ob->due);
	sqlite3_clear_bindings(ob->due);
	pthread_mutex_unlock(&ob->mu);
	if (rc) {
		yw_outbox_rows_free(rows, *n);
		*n = 0;
	}
	return rc;
}

int yw_outbox_mark(struct yw_outbox *ob, int64_t id, int state, int64_t attempts, int64_t next_at,
                   const char *err, int64_t now_ms)
{
	pthread_mutex_lock(&ob->mu);
	sqlite3_bind_int64(ob->mark, 1, id);
	sqlite3_bind_int(ob->mark, 2, state);
	sqlite3_bind_int64(ob->mark, 3, attempts);
	sqlite3_bind_int64(ob->mark, 4, next_at);
	if (err)
		sqlite3_bind_text(ob->mark, 5, err, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(ob->mark, 5);
	if (state == YW_OUTBOX_PENDING)
		sqlite3_bind_null(ob->mark, 6);
	else
		sqlite3_bind_int64(ob->mark, 6, now_ms);
	int rc = sqlite3_step(ob->mark) == SQLITE_DONE ? 0 : db_err(ob, "update");
	sqlite3_reset(ob->mark);
	sqlite3_clear_bindings(ob->mark);
	pthread_mutex_unlock(&ob->mu);
	return rc;
}

int yw_outbox_next(struct yw_outbox *ob, const char *channel, int64_t *next_at)
{
	*next_at = INT64_MAX;
	pthread_mutex_lock(&ob->mu);
	sqlite3_bind_text(ob->next, 1, channel, -1, SQLITE_STATIC);
	int rc = 0;
	if (sqlite3_step(ob->next) == SQLITE_ROW) {
		if (sqlite3_column_type(ob->next, 0) != SQLITE_NULL)
			*next_at = sqlite3_column_int64(ob->next, 0);
	} else {
		rc = db_err(ob, "select next");
	}
	sqlite3_reset(ob->next);
	sqlite3_clear_bindings(ob->next);
	pthread_mutex_unlock(&ob->mu);
	return rc;
}

static int exec_int(struct yw_outbox *ob, const char *sql, int64_t arg, uint64_t *out)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&ob->mu);
	int rc = 0;
	if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(ob, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, arg);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW && out)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else if (s != SQLITE_DONE && s != SQLITE_ROW)
		rc = db_err(ob, "query");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&ob->mu);
	return rc;
}

int yw_outbox_count(struct yw_outbox *ob, int state, uint64_t *n)
{
	*n = 0;
	return exec_int(ob, "SELECT count(*) FROM outbox WHERE state = ?1", state, n);
}

int yw_outbox_prune(struct yw_outbox *ob, int64_t before_ms)
{
	return exec_int(ob, "DELETE FROM outbox WHERE state = 1 AND done_at < ?1", before_ms, NULL);
}
