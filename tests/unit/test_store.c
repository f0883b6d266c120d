/* The SQLite store: tokens, agents, exactly-once ingest with alert de-duplication, alert
 * queries, retention, schema migration, file modes, threads, and kill -9 crash safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/store.h"

#define SEC  1000000000LL
#define HOUR (3600 * SEC)

struct fixture {
	char dir[64];
	struct yw_store *st;
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/yw_store_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* The store's own directory goes one level down, so the test sees it created. */
	strcat(f->dir, "/data");
	assert_int_equal(yw_store_open_sqlite(f->dir, NULL, &f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	yw_store_close(f->st);
	*strrchr(f->dir, '/') = '\0';
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* One integer from SQL run on a separate connection to the database. */
static int64_t sql1(const char *dir, const char *sql)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/yiwang.db", dir);
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	int64_t v = -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void add_agent(struct yw_store *st, const char *id, const char *name)
{
	struct yw_store_agent a = {.id = id,
	                           .name = name,
	                           .group = "default",
	                           .os = "linux",
	                           .version = "0.1.0",
	                           .cert_serial = "01ab",
	                           .addresses = "[\"10.0.0.1\"]",
	                           .enrolled_at = 5 * SEC};
	assert_int_equal(yw_store_agent_add(st, &a), 0);
}

static int copy_agent(void *ctx, const struct yw_store_agent *a)
{
	struct yw_store_agent *out = ctx;
	*out = *a;
	out->id = out->name = out->group = out->os = out->version = NULL;
	out->cert_serial = out->addresses = NULL;
	return 0;
}

static struct yw_store_agent get_agent(struct yw_store *st, const char *id)
{
	struct yw_store_agent a;
	assert_int_equal(yw_store_agent_get(st, id, copy_agent, &a), 0);
	return a;
}

/* Records seq first..last of an agent; their texts live in a static pool. */
struct batch {
	struct yw_record rec[256];
	const char *ev[256];
	struct yw_store_alert al[256];
	char text[256][48];
	struct yw_store_batch b;
};

static void make_batch(struct batch *bt, const uint64_t *seqs, size_t n, int64_t now)
{
	memset(bt, 0, sizeof(*bt));
	for (size_t i = 0; i < n; i++) {
		snprintf(bt->text[i], sizeof(bt->text[i]), "line %llu",
		         (unsigned long long)seqs[i]);
		bt->rec[i] = (struct yw_record){.seq = seqs[i],
		                                .ts_ns = (int64_t)seqs[i] * SEC,
		                                .kind = YW_REC_LOG,
		                                .source = "file:/var/log/auth.log",
		                                .source_len = 22,
		                                .data = bt->text[i],
		                                .len = (uint32_t)strlen(bt->text[i])};
		bt->ev[i] = "{\"message\":\"x\"}";
	}
	bt->b = (struct yw_store_batch){
	    .records = bt->rec, .n = n, .events = bt->ev, .alerts = bt->al, .now = now};
}

static void range_batch(struct batch *bt, uint64_t first, uint64_t last, int64_t now)
{
	uint64_t seqs[256];
	size_t n = 0;
	for (uint64_t s = first; s <= last; s++)
		seqs[n++] = s;
	make_batch(bt, seqs, n, now);
}

static void add_alert(struct batch *bt, size_t record, const char *rule, int level)
{
	bt->al[bt->b.n_alerts++] = (struct yw_store_alert){
	    .record = record, .rule_id = rule, .title = rule, .level = level};
}

static int count_cb(void *ctx, const struct yw_store_alert_row *a)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_alerts(struct yw_store *st)
{
	int n = 0;
	struct yw_store_alert_query q = {.limit = 100000};
	assert_int_equal(yw_store_alerts(st, &q, count_cb, &n), 0);
	return n;
}

/* ---- files ---- */

static void test_file_modes(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	char path[128];
	add_agent(f->st, "a1", "host1");
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	const char *names[] = {"yiwang.db", "yiwang.db-wal", "yiwang.db-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	/* An existing directory open to others is narrowed. */
	yw_store_close(f->st);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(yw_store_open_sqlite(f->dir, NULL, &f->st), 0);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);

	/* A backup is a consistent, private copy; it never overwrites. */
	snprintf(path, sizeof(path), "%s/backup.db", f->dir);
	assert_int_equal(yw_store_backup(f->st, path), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(yw_store_backup(f->st, path), YW_EEXIST);
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM agents", -1, &s, NULL), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "host1");
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_string_equal(yw_store_backend(f->st), "sqlite");
}

/* ---- tokens ---- */

static void make_token(struct yw_store_token *t, const char *id, uint8_t h, int64_t exp,
                       int64_t uses)
{
	memset(t, 0, sizeof(*t));
	t->id = id;
	memset(t->hash, h, sizeof(t->hash));
	t->group = "web";
	t->expires_at = exp;
	t->uses_left = uses;
	t->created_at = (int64_t)h;
}

struct token_seen {
	int n;
	int64_t uses[8];
	char ids[8][16];
};

static int token_cb(void *ctx, const struct yw_store_token *t)
{
	struct token_seen *ts = ctx;
	snprintf(ts->ids[ts->n], sizeof(ts->ids[0]), "%s", t->id);
	assert_int_equal(t->hash[0], t->created_at);
	ts->uses[ts->n++] = t->uses_left;
	return 0;
}

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	struct yw_store_token t;
	char group[64];
	make_token(&t, "t1", 1, 100 * SEC, 2);
	assert_int_equal(yw_store_token_add(f->st, &t), 0);
	assert_int_equal(yw_store_token_add(f->st, &t), YW_EEXIST);
	make_token(&t, "t1-other", 1, 0, 1);
	assert_int_equal(yw_store_token_add(f->st, &t), YW_EEXIST); /* same hash */
	make_token(&t, "t2", 2, 0, -1);
	assert_int_equal(yw_store_token_add(f->st, &t), 0);
	make_token(&t, "t3", 3, 0, 1);
	assert_int_equal(yw_store_token_add(f->st, &t), 0);

	uint8_t h1[YW_STORE_HASH_LEN], h2[YW_STORE_HASH_LEN], h3[YW_STORE_HASH_LEN];
	uint8_t h9[YW_STORE_HASH_LEN];
	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	memset(h3, 3, sizeof(h3));
	memset(h9, 9, sizeof(h9));

	/* A too-small buffer consumes nothing. */
	assert_int_equal(yw_store_token_use(f->st, h1, 10 * SEC, group, 3), YW_ELIMIT);
	assert_int_equal(yw_store_token_use(f->st, h1, 10 * SEC, group, sizeof(group)), 0);
	assert_string_equal(group, "web");
	assert_int_equal(yw_store_token_use(f->st, h1, 10 * SEC, group, sizeof(group)), 0);
	assert_int_equal(yw_store_token_use(f->st, h1, 10 * SEC, group, sizeof(group)),
	                 YW_STORE_EUSEDUP);
	assert_int_equal(yw_store_token_use(f->st, h9, 10 * SEC, group, sizeof(group)), YW_ENOENT);
	/* Expiry: at expires_at the token is no longer valid. */
	assert_int_equal(yw_store_token_use(f->st, h3, 100 * SEC, group, sizeof(group)), 0);
	make_token(&t, "t4", 4, 100 * SEC, 5);
	assert_int_equal(yw_store_token_add(f->st, &t), 0);
	uint8_t h4[YW_STORE_HASH_LEN];
	memset(h4, 4, sizeof(h4));
	assert_int_equal(yw_store_token_use(f->st, h4, 99 * SEC, group, sizeof(group)), 0);
	assert_int_equal(yw_store_token_use(f->st, h4, 100 * SEC, group, sizeof(group)),
	                 YW_STORE_EEXPIRED);
	/* Unlimited. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(yw_store_token_use(f->st, h2, 1000 * SEC, group, sizeof(group)),
		                 0);

	struct token_seen ts = {0};
	assert_int_equal(yw_store_token_list(f->st, token_cb, &ts), 0);
	assert_int_equal(ts.n, 4);
	assert_string_equal(ts.ids[0], "t1");
	assert_int_equal(ts.uses[0], 0);
	assert_string_equal(ts.ids[1], "t2");
	assert_int_equal(ts.uses[1], -1);
	assert_int_equal(ts.uses[2], 0);
	assert_int_equal(ts.uses[3], 4);

	assert_int_equal(yw_store_token_delete(f->st, "t2"), 0);
	assert_int_equal(yw_store_token_delete(f->st, "t2"), YW_ENOENT);
	assert_int_equal(yw_store_token_use(f->st, h2, 1000 * SEC, group, sizeof(group)),
	                 YW_ENOENT);

	char big[YW_MAX_STORE_TEXT + 2];
	memset(big, 'g', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	make_token(&t, "t5", 5, 0, 1);
	t.group = big;
	assert_int_equal(yw_store_token_add(f->st, &t), YW_ELIMIT);
	assert_string_equal(yw_store_strerror(YW_STORE_EUSEDUP), "enrolment token used up");
}

/* ---- agents ---- */

struct agent_names {
	int n;
	char names[8][16];
};

static int names_cb(void *ctx, const struct yw_store_agent *a)
{
	struct agent_names *an = ctx;
	snprintf(an->names[an->n++], sizeof(an->names[0]), "%s", a->name);
	return 0;
}

static int full_agent_cb(void *ctx, const struct yw_store_agent *a)
{
	assert_string_equal(a->id, "a1");
	assert_string_equal(a->name, "zeta");
	assert_string_equal(a->group, "default");
	assert_string_equal(a->os, "linux");
	assert_string_equal(a->version, "0.2.0");
	assert_string_equal(a->cert_serial, "01ab");
	assert_string_equal(a->addresses, "[\"10.0.0.9\"]");
	assert_int_equal(a->enrolled_at, 5 * SEC);
	(*(int *)ctx)++;
	return 7;
}

static void test_agents(void **state)
{
	struct fixture *f = *state;
	add_agent(f->st, "a1", "zeta");
	add_agent(f->st, "a2", "alpha");
	struct yw_store_agent dup = {.id = "a1", .name = "x", .group = "g"};
	assert_int_equal(yw_store_agent_add(f->st, &dup), YW_EEXIST);

	struct yw_store_agent a = get_agent(f->st, "a1");
	assert_int_equal(a.online, 0);
	assert_int_equal(a.last_seen, 0);
	assert_int_equal(a.revoked_at, 0);
	assert_int_equal(yw_store_agent_get(f->st, "nope", copy_agent, &a), YW_ENOENT);

	assert_int_equal(yw_store_agent_seen(f->st, "a1", "[\"10.0.0.9\"]", "0.2.0", 50 * SEC), 0);
	assert_int_equal(yw_store_agent_seen(f->st, "a2", NULL, NULL, 51 * SEC), 0);
	assert_int_equal(yw_store_agent_seen(f->st, "nope", NULL, NULL, 51 * SEC), YW_ENOENT);
	a = get_agent(f->st, "a1");
	assert_int_equal(a.online, 1);
	assert_int_equal(a.last_seen, 50 * SEC);
	int calls = 0;
	/* The callback's return value stops the walk and comes back. */
	assert_int_equal(yw_store_agent_get(f->st, "a1", full_agent_cb, &calls), 7);
	assert_int_equal(calls, 1);

	struct yw_store_stats stats;
	assert_int_equal(yw_store_stats(f->st, &stats), 0);
	assert_int_equal(stats.agents, 2);
	assert_int_equal(stats.agents_online, 2);

	assert_int_equal(yw_store_agent_offline(f->st, "a1", 60 * SEC), 0);
	a = get_agent(f->st, "a1");
	assert_int_equal(a.online, 0);
	assert_int_equal(a.last_seen, 60 * SEC);
	assert_int_equal(yw_store_agent_offline(f->st, NULL, 70 * SEC), 0);
	assert_int_equal(get_agent(f->st, "a2").online, 0);

	struct agent_names an = {0};
	assert_int_equal(yw_store_agent_list(f->st, names_cb, &an), 0);
	assert_int_equal(an.n, 2);
	assert_string_equal(an.names[0], "alpha");
	assert_string_equal(an.names[1], "zeta");

	/* Revocation, and certificates that are not the current one. */
	assert_int_equal(yw_store_agent_is_revoked(f->st, "a1", "01ab"), 0);
	assert_int_equal(yw_store_agent_is_revoked(f->st, "a1", "ffff"), 1);
	assert_int_equal(yw_store_agent_is_revoked(f->st, "nope", "01ab"), YW_ENOENT);
	assert_int_equal(yw_store_agent_seen(f->st, "a1", NULL, NULL, 80 * SEC), 0);
	assert_int_equal(yw_store_agent_revoke(f->st, "a1", 90 * SEC), 0);
	assert_int_equal(yw_store_agent_revoke(f->st, "a1", 95 * SEC), 0);
	assert_int_equal(yw_store_agent_revoke(f->st, "nope", 95 * SEC), YW_ENOENT);
	a = get_agent(f->st, "a1");
	assert_int_equal(a.revoked_at, 90 * SEC);
	assert_int_equal(a.online, 0);
	assert_int_equal(yw_store_agent_is_revoked(f->st, "a1", "01ab"), 1);
	assert_int_equal(yw_store_agent_is_revoked(f->st, "a2", "01ab"), 0);

	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack = 99;
	range_batch(bt, 1, 3, SEC);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), YW_STORE_EREVOKED);
	assert_int_equal(yw_store_ingest(f->st, "nope", &bt->b, &ack), YW_ENOENT);
	assert_int_equal(ack, 99);
	assert_int_equal(sql1(f->dir, "SELECT count(*) FROM events"), 0);
	free(bt);

	char big[YW_MAX_STORE_TEXT + 2];
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct yw_store_agent huge = {.id = "a3", .name = big, .group = "g"};
	assert_int_equal(yw_store_agent_add(f->st, &huge), YW_ELIMIT);
}

/* ---- exactly once ---- */

static int64_t events_of(const char *dir)
{
	return sql1(dir, "SELECT count(*) FROM events");
}

static void test_ingest_exactly_once(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack;
	add_agent(f->st, "a1", "host1");

	/* 1..10 with alerts on seq 3 and 7. */
	range_batch(bt, 1, 10, HOUR);
	add_alert(bt, 2, "r3", YW_LEVEL_HIGH);
	add_alert(bt, 6, "r7", YW_LEVEL_LOW);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 10);
	assert_int_equal(events_of(f->dir), 10);
	assert_int_equal(count_alerts(f->st), 2);

	/* The same batch again (the ACK was lost): nothing changes. */
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 10);
	assert_int_equal(events_of(f->dir), 10);
	assert_int_equal(count_alerts(f->st), 2);

	/* Overlap 5..15: only 11..15 are new; the alert on 7 is a replay, the one on 12 is not. */
	range_batch(bt, 5, 15, HOUR);
	add_alert(bt, 2, "r7", YW_LEVEL_LOW);
	add_alert(bt, 7, "r12", YW_LEVEL_CRITICAL);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 15);
	assert_int_equal(events_of(f->dir), 15);
	assert_int_equal(count_alerts(f->st), 3);

	/* Out of order: 21..30 before 16..20. The ACK waits for the gap to close. */
	range_batch(bt, 21, 30, HOUR);
	add_alert(bt, 0, "r21", YW_LEVEL_MEDIUM);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 15);
	assert_int_equal(get_agent(f->st, "a1").last_seq, 15);
	/* ...and 21..30 replayed before the gap closes is still stored once. */
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 15);
	assert_int_equal(count_alerts(f->st), 4);
	range_batch(bt, 16, 20, HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 30);
	assert_int_equal(events_of(f->dir), 30);

	/* Duplicates inside one batch, in reverse order: the first copy wins, alerts of the second
	 * copy are dropped. */
	uint64_t seqs[] = {33, 31, 32, 31, 33};
	make_batch(bt, seqs, 5, HOUR);
	add_alert(bt, 1, "first31", YW_LEVEL_HIGH);
	add_alert(bt, 3, "second31", YW_LEVEL_HIGH);
	add_alert(bt, 4, "second33", YW_LEVEL_HIGH);
	add_alert(bt, 0, "first33", YW_LEVEL_HIGH);
	add_alert(bt, 0, "first33b", YW_LEVEL_HIGH);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 33);
	assert_int_equal(events_of(f->dir), 33);
	assert_int_equal(count_alerts(f->st), 7);
	assert_int_equal(sql1(f->dir, "SELECT count(*) FROM alerts WHERE rule_id LIKE 'second%'"),
	                 0);

	/* Every seq exactly once, and the counters agree. */
	assert_int_equal(sql1(f->dir, "SELECT count(DISTINCT seq) FROM events"), 33);
	assert_int_equal(sql1(f->dir, "SELECT min(seq) FROM events"), 1);
	assert_int_equal(sql1(f->dir, "SELECT max(seq) FROM events"), 33);
	struct yw_store_agent a = get_agent(f->st, "a1");
	assert_int_equal(a.events_received, 33);
	assert_int_equal(a.last_seq, 33);

	/* An empty batch only asks for the ACK. */
	bt->b.n = 0;
	bt->b.n_alerts = 0;
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 33);

	/* Bad batches store nothing at all. */
	range_batch(bt, 34, 36, HOUR);
	bt->rec[2].seq = 0;
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), YW_EINVAL);
	range_batch(bt, 34, 36, HOUR);
	add_alert(bt, 3, "out of range", YW_LEVEL_LOW);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), YW_EINVAL);
	range_batch(bt, 34, 36, HOUR);
	add_alert(bt, 0, "bad level", 9);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), YW_EINVAL);
	assert_int_equal(events_of(f->dir), 33);

	/* The same seqs from another agent are other records. */
	add_agent(f->st, "a2", "host2");
	range_batch(bt, 1, 10, HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a2", &bt->b, &ack), 0);
	assert_int_equal(ack, 10);
	assert_int_equal(events_of(f->dir), 43);

	/* Stored content. */
	assert_int_equal(sql1(f->dir,
	                      "SELECT count(*) FROM events WHERE seq = 7 AND"
	                      " CAST(data AS TEXT) = 'line 7' AND ts = 7000000000 AND kind = 1"
	                      " AND source = 'file:/var/log/auth.log'"
	                      " AND event = '{\"message\":\"x\"}'"),
	                 2);
	free(bt);
}

static void test_skip(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack;
	add_agent(f->st, "a1", "host1");
	range_batch(bt, 1, 5, HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	range_batch(bt, 10, 12, HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 5);
	/* 6..8 lost; 9 is not stored yet, so the ACK stops at 8. */
	assert_int_equal(yw_store_agent_skip(f->st, "a1", 8, &ack), 0);
	assert_int_equal(ack, 8);
	assert_int_equal(get_agent(f->st, "a1").events_lost, 3);
	range_batch(bt, 9, 9, HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 12);
	/* A skip over partly stored records counts only the missing ones: 13..20, 15 stored. */
	range_batch(bt, 15, 15, HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(yw_store_agent_skip(f->st, "a1", 20, &ack), 0);
	assert_int_equal(ack, 20);
	assert_int_equal(get_agent(f->st, "a1").events_lost, 3 + 7);
	/* A skip backwards changes nothing; a record below the skip point is ignored. */
	assert_int_equal(yw_store_agent_skip(f->st, "a1", 4, &ack), 0);
	assert_int_equal(ack, 20);
	range_batch(bt, 17, 17, HOUR);
	add_alert(bt, 0, "late", YW_LEVEL_HIGH);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(count_alerts(f->st), 0);
	assert_int_equal(get_agent(f->st, "a1").events_received, 10);
	assert_int_equal(yw_store_agent_skip(f->st, "nope", 4, &ack), YW_ENOENT);
	free(bt);
}

/* ---- alert queries ---- */

struct alert_seen {
	int n;
	int64_t ids[64];
	char rules[64][16];
};

static int alert_cb(void *ctx, const struct yw_store_alert_row *a)
{
	struct alert_seen *as = ctx;
	as->ids[as->n] = a->id;
	snprintf(as->rules[as->n++], sizeof(as->rules[0]), "%s", a->rule_id);
	return 0;
}

static struct alert_seen query(struct yw_store *st, struct yw_store_alert_query q)
{
	struct alert_seen as = {0};
	assert_int_equal(yw_store_alerts(st, &q, alert_cb, &as), 0);
	for (int i = 1; i < as.n; i++)
		assert_true(as.ids[i] > as.ids[i - 1]);
	return as;
}

static int evidence_cb(void *ctx, const struct yw_store_alert_row *a)
{
	if (strcmp(a->rule_id, "b-low") == 0) {
		assert_string_equal(a->event, "{\"own\":1}");
		assert_string_equal(a->tags, "[\"attack.t1110\"]");
	} else {
		assert_string_equal(a->event, "{\"message\":\"x\"}");
		assert_string_equal(a->tags, "[]");
	}
	assert_string_equal(a->status, "new");
	assert_string_equal(a->title, a->rule_id);
	assert_int_equal(a->event_ts, (int64_t)a->seq * SEC);
	assert_true(strcmp(a->agent_id, "a1") == 0 || strcmp(a->agent_id, "a2") == 0);
	assert_string_equal(a->agent_name, strcmp(a->agent_id, "a1") == 0 ? "host1" : "host2");
	(*(int *)ctx)++;
	return 0;
}

static void test_alert_queries(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack;
	add_agent(f->st, "a1", "host1");
	add_agent(f->st, "a2", "host2");
	/* t=100s: a1 gets a-info, a-high; a2 gets b-low (own evidence, tags). t=200s: a1 gets
	 * a-crit, a-med; a2 gets b-high. */
	range_batch(bt, 1, 4, 100 * SEC);
	add_alert(bt, 0, "a-info", YW_LEVEL_INFORMATIONAL);
	add_alert(bt, 1, "a-high", YW_LEVEL_HIGH);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	range_batch(bt, 1, 4, 100 * SEC);
	add_alert(bt, 3, "b-low", YW_LEVEL_LOW);
	bt->al[0].event = "{\"own\":1}";
	bt->al[0].tags = "[\"attack.t1110\"]";
	assert_int_equal(yw_store_ingest(f->st, "a2", &bt->b, &ack), 0);
	range_batch(bt, 5, 8, 200 * SEC);
	add_alert(bt, 0, "a-crit", YW_LEVEL_CRITICAL);
	add_alert(bt, 2, "a-med", YW_LEVEL_MEDIUM);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	range_batch(bt, 5, 8, 200 * SEC);
	add_alert(bt, 1, "b-high", YW_LEVEL_HIGH);
	assert_int_equal(yw_store_ingest(f->st, "a2", &bt->b, &ack), 0);

	struct alert_seen as = query(f->st, (struct yw_store_alert_query){0});
	assert_int_equal(as.n, 6);
	assert_string_equal(as.rules[0], "a-info");
	assert_string_equal(as.rules[5], "b-high");
	int n = 0;
	struct yw_store_alert_query all = {0};
	assert_int_equal(yw_store_alerts(f->st, &all, evidence_cb, &n), 0);
	assert_int_equal(n, 6);

	as = query(f->st, (struct yw_store_alert_query){.since = 150 * SEC});
	assert_int_equal(as.n, 3);
	assert_string_equal(as.rules[0], "a-crit");
	as = query(f->st, (struct yw_store_alert_query){.min_level = YW_LEVEL_HIGH});
	assert_int_equal(as.n, 3);
	assert_string_equal(as.rules[0], "a-high");
	assert_string_equal(as.rules[1], "a-crit");
	assert_string_equal(as.rules[2], "b-high");
	as = query(f->st, (struct yw_store_alert_query){.agent_id = "a2"});
	assert_int_equal(as.n, 2);
	assert_string_equal(as.rules[0], "b-low");
	as = query(f->st, (struct yw_store_alert_query){.agent_id = "nope"});
	assert_int_equal(as.n, 0);
	as = query(f->st, (struct yw_store_alert_query){
	                      .agent_id = "a1", .min_level = YW_LEVEL_MEDIUM, .since = 150 * SEC});
	assert_int_equal(as.n, 2);
	assert_string_equal(as.rules[0], "a-crit");
	assert_string_equal(as.rules[1], "a-med");
	as = query(f->st, (struct yw_store_alert_query){.limit = 2, .newest = 1});
	assert_int_equal(as.n, 2);
	assert_string_equal(as.rules[0], "a-med");
	assert_string_equal(as.rules[1], "b-high");
	as = query(
	    f->st,
	    (struct yw_store_alert_query){
	        .limit = 1, .newest = 1, .agent_id = "a2", .min_level = YW_LEVEL_LOW, .since = 1});
	assert_int_equal(as.n, 1);
	assert_string_equal(as.rules[0], "b-high");

	/* Pagination / --follow: pages of 4 then 1 from after_id cover everything once. */
	struct alert_seen full = query(f->st, (struct yw_store_alert_query){0}), page;
	int64_t after = 0;
	int total = 0;
	do {
		page = query(f->st, (struct yw_store_alert_query){.after_id = after, .limit = 4});
		for (int i = 0; i < page.n; i++)
			assert_int_equal(page.ids[i], full.ids[total + i]);
		total += page.n;
		if (page.n)
			after = page.ids[page.n - 1];
	} while (page.n == 4);
	assert_int_equal(total, 6);
	page = query(f->st, (struct yw_store_alert_query){.after_id = after});
	assert_int_equal(page.n, 0);
	/* A new alert shows up on the next poll. */
	range_batch(bt, 9, 9, 0); /* now = 0: the store reads the clock */
	add_alert(bt, 0, "a-new", YW_LEVEL_LOW);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_true(sql1(f->dir, "SELECT created_at FROM alerts WHERE rule_id = 'a-new'") >
	            1700000000 * SEC);
	page = query(f->st, (struct yw_store_alert_query){.after_id = after});
	assert_int_equal(page.n, 1);
	assert_string_equal(page.rules[0], "a-new");

	struct yw_store_stats s;
	assert_int_equal(yw_store_stats(f->st, &s), 0);
	assert_int_equal(s.alerts, 7);
	assert_int_equal(s.alerts_by_level[YW_LEVEL_INFORMATIONAL], 1);
	assert_int_equal(s.alerts_by_level[YW_LEVEL_LOW], 2);
	assert_int_equal(s.alerts_by_level[YW_LEVEL_MEDIUM], 1);
	assert_int_equal(s.alerts_by_level[YW_LEVEL_HIGH], 2);
	assert_int_equal(s.alerts_by_level[YW_LEVEL_CRITICAL], 1);
	assert_int_equal(s.events, 17);
	assert_int_equal(s.agents, 2);

	assert_int_equal(yw_level_parse("critical"), YW_LEVEL_CRITICAL);
	assert_int_equal(yw_level_parse("informational"), YW_LEVEL_INFORMATIONAL);
	assert_int_equal(yw_level_parse("severe"), YW_EINVAL);
	assert_string_equal(yw_level_name(YW_LEVEL_MEDIUM), "medium");
	assert_string_equal(yw_level_name(7), "unknown");
	free(bt);
}

/* ---- retention ---- */

static void test_prune(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack, deleted;
	add_agent(f->st, "a1", "host1");
	range_batch(bt, 1, 10, 10 * HOUR + 5);
	add_alert(bt, 4, "kept", YW_LEVEL_HIGH);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	/* A gap: 21..25 sit above last_seq and must survive the prune. */
	range_batch(bt, 21, 25, 10 * HOUR + 6);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	range_batch(bt, 11, 15, 12 * HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(ack, 15);

	/* Nothing is in an hour ending before 11h... */
	assert_int_equal(yw_store_prune(f->st, 10 * HOUR + HOUR / 2, &deleted), 0);
	assert_int_equal(deleted, 0);
	/* ...then the 10h hour goes, except the records above last_seq. */
	assert_int_equal(yw_store_prune(f->st, 11 * HOUR, &deleted), 0);
	assert_int_equal(deleted, 10);
	assert_int_equal(events_of(f->dir), 10);
	assert_int_equal(sql1(f->dir, "SELECT min(seq) FROM events"), 11);
	assert_int_equal(sql1(f->dir, "SELECT count(*) FROM events WHERE seq > 20"), 5);
	assert_int_equal(count_alerts(f->st), 1);

	/* A replay of a pruned record is still a duplicate, and so are the kept ones. */
	range_batch(bt, 1, 10, 13 * HOUR);
	add_alert(bt, 4, "kept", YW_LEVEL_HIGH);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	range_batch(bt, 21, 25, 13 * HOUR);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(events_of(f->dir), 10);
	assert_int_equal(count_alerts(f->st), 1);
	assert_int_equal(get_agent(f->st, "a1").events_received, 20);

	/* Chunked deletion: more rows than one chunk. */
	add_agent(f->st, "a2", "host2");
	uint64_t next = 1;
	for (int i = 0; i < YW_STORE_PRUNE_CHUNK / 200 + 3; i++) {
		range_batch(bt, next, next + 199, 20 * HOUR);
		next += 200;
		assert_int_equal(yw_store_ingest(f->st, "a2", &bt->b, &ack), 0);
	}
	int64_t before = events_of(f->dir);
	assert_int_equal(yw_store_prune(f->st, 21 * HOUR, &deleted), 0);
	assert_int_equal(deleted, next - 1 + 5);
	assert_int_equal(events_of(f->dir), before - (int64_t)deleted);
	free(bt);
}

/* ---- schema ---- */

static void test_schema(void **state)
{
	struct fixture *f = *state;
	char dir[80];
	snprintf(dir, sizeof(dir), "%s2", f->dir);
	struct yw_store *st;
	struct yw_store_opts v1 = {.schema_target = 1};
	assert_int_equal(yw_store_open_sqlite(dir, &v1, &st), 0);
	yw_store_close(st);
	assert_int_equal(sql1(dir, "SELECT value FROM meta WHERE key = 'schema_version'"), 1);
	assert_int_equal(sql1(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'events'"), 0);
	/* A version-1 row, written as that version would have. */
	assert_int_equal(sql1(dir, "INSERT INTO agents (id, name, grp, os, version, cert_serial,"
	                           " addresses, enrolled_at) VALUES"
	                           " ('old', 'oldhost', 'g', 'linux', '0.0.1', '01', '[]', 1)"
	                           " RETURNING num"),
	                 1);

	assert_int_equal(yw_store_open_sqlite(dir, NULL, &st), 0);
	assert_int_equal(sql1(dir, "SELECT value FROM meta WHERE key = 'schema_version'"),
	                 YW_STORE_SCHEMA_VERSION);
	struct yw_store_agent a = get_agent(st, "old");
	assert_int_equal(a.last_seq, 0);
	assert_int_equal(a.events_received, 0);
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack;
	range_batch(bt, 1, 3, SEC);
	assert_int_equal(yw_store_ingest(st, "old", &bt->b, &ack), 0);
	assert_int_equal(ack, 3);
	yw_store_close(st);
	free(bt);

	/* Reopening runs nothing again and keeps the data. */
	assert_int_equal(yw_store_open_sqlite(dir, NULL, &st), 0);
	assert_int_equal(get_agent(st, "old").last_seq, 3);
	yw_store_close(st);

	/* A database from a newer program is refused, untouched. */
	assert_int_equal(sql1(dir, "UPDATE meta SET value = 99 RETURNING value"), 99);
	assert_int_equal(yw_store_open_sqlite(dir, NULL, &st), YW_STORE_ESCHEMA);
	assert_null(st);
	assert_int_equal(sql1(dir, "SELECT value FROM meta WHERE key = 'schema_version'"), 99);
	struct yw_store_opts bad = {.schema_target = 99};
	assert_int_equal(yw_store_open_sqlite(dir, &bad, &st), YW_EINVAL);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- threads: reads proceed while a writer ingests ---- */

struct reader_arg {
	struct yw_store *st;
	volatile int stop;
	int errors;
	int reads;
};

static void *reader(void *p)
{
	struct reader_arg *ra = p;
	uint64_t prev = 0;
	while (!ra->stop) {
		struct yw_store_stats s;
		int n = 0;
		struct yw_store_alert_query q = {.newest = 1, .limit = 5};
		if (yw_store_stats(ra->st, &s) != 0 || s.events < prev ||
		    yw_store_alerts(ra->st, &q, count_cb, &n) != 0)
			ra->errors++;
		prev = s.events;
		ra->reads++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack;
	add_agent(f->st, "a1", "host1");
	struct reader_arg ra = {.st = f->st};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader, &ra), 0);
	for (uint64_t k = 0; k < 100; k++) {
		range_batch(bt, k * 100 + 1, k * 100 + 100, HOUR);
		add_alert(bt, 0, "r", YW_LEVEL_LOW);
		assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
		assert_int_equal(ack, k * 100 + 100);
	}
	ra.stop = 1;
	pthread_join(th, NULL);
	assert_int_equal(ra.errors, 0);
	assert_true(ra.reads > 0);
	assert_int_equal(count_alerts(f->st), 100);
	free(bt);
}

/* ---- kill -9 ---- */

#define CRASH_BATCH 50

/* The child: ingests batches from where the store stands, reporting each ACK on fd. */
static void crash_child(const char *dir, int fd)
{
	struct yw_store *st;
	struct batch *bt = malloc(sizeof(*bt));
	if (!bt || yw_store_open_sqlite(dir, NULL, &st) != 0)
		_exit(2);
	struct yw_store_agent a;
	if (yw_store_agent_get(st, "a1", copy_agent, &a) != 0)
		_exit(3);
	uint64_t next = a.last_seq + 1;
	for (;;) {
		range_batch(bt, next, next + CRASH_BATCH - 1, HOUR);
		add_alert(bt, 0, "first", YW_LEVEL_LOW);
		add_alert(bt, CRASH_BATCH - 1, "last", YW_LEVEL_HIGH);
		uint64_t ack;
		if (yw_store_ingest(st, "a1", &bt->b, &ack) != 0 || ack != next + CRASH_BATCH - 1)
			_exit(4);
		if (write(fd, &ack, sizeof(ack)) != sizeof(ack))
			_exit(5);
		next += CRASH_BATCH;
	}
}

static void test_crash_safety(void **state)
{
	struct fixture *f = *state;
	add_agent(f->st, "a1", "host1");
	yw_store_close(f->st);
	f->st = NULL;
	srand((unsigned)time(NULL));
	uint64_t acked = 0;
	for (int round = 0; round < 10; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(f->dir, p[1]);
		}
		close(p[1]);
		/* Half the rounds kill only after a first commit, the others may kill it while it
		 * opens the database. */
		uint64_t v;
		if (round % 2 == 0)
			assert_int_equal(read(p[0], &acked, sizeof(acked)), sizeof(acked));
		struct timespec ts = {0, (long)(5 + rand() % 60) * 1000000L};
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status)); /* killed mid-loop, not failed */
		while (read(p[0], &v, sizeof(v)) == sizeof(v))
			acked = v;
		close(p[0]);

		assert_int_equal(yw_store_open_sqlite(f->dir, NULL, &f->st), 0);
		char res[16] = "";
		{
			char path[128];
			sqlite3 *db;
			sqlite3_stmt *s;
			snprintf(path, sizeof(path), "%s/yiwang.db", f->dir);
			assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
			assert_int_equal(
			    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
			    SQLITE_OK);
			assert_int_equal(sqlite3_step(s), SQLITE_ROW);
			snprintf(res, sizeof(res), "%s", sqlite3_column_text(s, 0));
			sqlite3_finalize(s);
			sqlite3_close(db);
		}
		assert_string_equal(res, "ok");
		struct yw_store_agent a = get_agent(f->st, "a1");
		/* Everything acknowledged is there; batches are whole or absent. */
		assert_true(a.last_seq >= acked);
		assert_int_equal(a.last_seq % CRASH_BATCH, 0);
		assert_int_equal(events_of(f->dir), (int64_t)a.last_seq);
		assert_int_equal(a.events_received, a.last_seq);
		assert_int_equal(sql1(f->dir, "SELECT max(seq) FROM events"),
		                 (int64_t)a.last_seq); /* max() of no rows is NULL, read as 0 */
		assert_int_equal(sql1(f->dir,
		                      "SELECT count(*) FROM (SELECT (seq - 1) / 50 AS b,"
		                      " count(*) AS n FROM events GROUP BY b HAVING n != 50)"),
		                 0);
		assert_int_equal(count_alerts(f->st), (int)(a.last_seq / CRASH_BATCH) * 2);
		struct yw_store_stats s;
		assert_int_equal(yw_store_stats(f->st, &s), 0);
		assert_int_equal(s.alerts, a.last_seq / CRASH_BATCH * 2);
		yw_store_close(f->st);
		f->st = NULL;
	}
	assert_true(acked > 0);
	print_message("crash rounds: %llu records acknowledged\n", (unsigned long long)acked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ingest_exactly_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_queries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
