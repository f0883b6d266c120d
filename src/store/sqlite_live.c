/* What the live stream's counters read from the store (store.h, "live stream counters"). */
#include "sqlite_int.h"

int yw_store_alert_count(struct yw_store *st, int64_t since, uint64_t *n)
{
	if (!st || !n)
		return YW_EINVAL;
	return st->ops->alert_count(st, since, n);
}

int yw_sqlite_alert_count(struct yw_store *st, int64_t since, uint64_t *n)
{
	struct sqlite_store *s = S(st);
	sqlite3_stmt *q = NULL;
	pthread_mutex_lock(&s->rlock);
	/* Prepared per call: it runs every few seconds, and keeps sqlite.c's tables untouched. */
	int err = map_rc(sqlite3_prepare_v2(
	    s->r, "SELECT count(*) FROM alerts WHERE created_at >= ?1", -1, &q, NULL));
	if (err == 0) {
		sqlite3_bind_int64(q, 1, since);
		int rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			*n = (uint64_t)sqlite3_column_int64(q, 0);
		else
			err = rc == SQLITE_DONE ? YW_EIO : map_rc(rc);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}
