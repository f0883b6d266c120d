/* The SQLite store: tokens, agents, exactly-once ingest with alert de-duplication, alert
 * queries, retention, schema migration, file modes, threads, kill -9 crash safety, and alert
 * triage: repeats, suppressions, the lifecycle with its audit trail, incidents and risk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
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

/* Group commit: batches of several agents in one transaction; a revoked agent's batch fails
 * alone, the others are stored; a replayed group changes nothing. */
static void test_ingest_many(void **state)
{
	struct fixture *f = *state;
	struct batch *b1 = malloc(sizeof(*b1)), *b2 = malloc(sizeof(*b2)), *b3 = malloc(sizeof(*b3));
	add_agent(f->st, "a1", "host1");
	add_agent(f->st, "a2", "host2");
	add_agent(f->st, "a3", "host3");
	assert_int_equal(yw_store_agent_revoke(f->st, "a3", HOUR), 0);
	range_batch(b1, 1, 5, HOUR);
	add_alert(b1, 1, "r1", YW_LEVEL_HIGH);
	range_batch(b2, 1, 3, HOUR);
	range_batch(b3, 1, 4, HOUR);
	struct yw_store_ingest_item it[] = {
		{"a1", &b1->b, 0, 0}, {"a3", &b3->b, 0, 0}, {"a2", &b2->b, 0, 0}};
	assert_int_equal(yw_store_ingest_many(f->st, it, 3), 0);
	assert_int_equal(it[0].rc, 0);
	assert_int_equal(it[0].ack, 5);
	assert_int_equal(it[1].rc, YW_STORE_EREVOKED);
	assert_int_equal(it[2].rc, 0);
	assert_int_equal(it[2].ack, 3);
	assert_int_equal(events_of(f->dir), 8);
	assert_int_equal(count_alerts(f->st), 1);
	/* The same group again: exactly once. */
	assert_int_equal(yw_store_ingest_many(f->st, it, 3), 0);
	assert_int_equal(events_of(f->dir), 8);
	assert_int_equal(count_alerts(f->st), 1);
	assert_int_equal(get_agent(f->st, "a1").events_received, 5);
	assert_int_equal(yw_store_ingest_many(f->st, NULL, 0), 0);
	free(b1);
	free(b2);
	free(b3);
}

/* The current inventory of a terminal follows its inventory events: a full snapshot, then
 * changes; a later snapshot drops what it no longer lists; changes have a history. */
static int inv_cb(void *ctx, const struct yw_store_inventory_row *r)
{
	strcat(ctx, r->dataset);
	strcat(ctx, ":");
	strcat(ctx, r->key);
	strcat(ctx, " ");
	return 0;
}

static int inv_hist_cb(void *ctx, const struct yw_store_inventory_change *c)
{
	strcat(ctx, c->action);
	strcat(ctx, ":");
	strcat(ctx, c->key);
	strcat(ctx, " ");
	return 0;
}

#define INV(action, ds, snap, fields)                                                              \
	"{\"event.action\":\"" action "\",\"event.module\":\"inventory\","                       \
	"\"event.dataset\":\"inventory." ds "\",\"yiwang.inventory.snapshot_id\":" snap fields "}"

static void test_inventory(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	uint64_t ack;
	char got[512] = "";
	add_agent(f->st, "a1", "host1");
	range_batch(bt, 1, 5, HOUR);
	for (size_t i = 0; i < 5; i++)
		bt->rec[i].kind = YW_REC_EVENT;
	bt->ev[0] = INV("inventory_snapshot", "packages", "10",
	                ",\"package.type\":\"deb\",\"package.name\":\"bash\",\"package.architecture\":\"amd64\"");
	bt->ev[1] = INV("inventory_snapshot", "packages", "10",
	                ",\"package.type\":\"deb\",\"package.name\":\"curl\",\"package.architecture\":\"amd64\"");
	bt->ev[2] = INV("inventory_snapshot", "users", "10", ",\"user.name\":\"root\"");
	bt->ev[3] = INV("inventory_snapshot", "os", "10", ",\"host.os.name\":\"Debian\"");
	bt->ev[4] = INV("inventory_snapshot_end", "summary", "10", "");
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(yw_store_inventory(f->st, "a1", NULL, inv_cb, got), 0);
	assert_string_equal(got, "os:os packages:deb/bash/amd64 packages:deb/curl/amd64 users:root ");

	range_batch(bt, 6, 7, 2 * HOUR);
	bt->rec[0].kind = bt->rec[1].kind = YW_REC_EVENT;
	bt->ev[0] = INV("package_removed", "packages", "20",
	                ",\"package.type\":\"deb\",\"package.name\":\"curl\",\"package.architecture\":\"amd64\"");
	bt->ev[1] = INV("user_added", "users", "20", ",\"user.name\":\"mallory\"");
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	got[0] = '\0';
	assert_int_equal(yw_store_inventory(f->st, "a1", "users", inv_cb, got), 0);
	assert_string_equal(got, "users:mallory users:root ");
	got[0] = '\0';
	assert_int_equal(yw_store_inventory(f->st, "a1", "packages", inv_cb, got), 0);
	assert_string_equal(got, "packages:deb/bash/amd64 ");
	got[0] = '\0';
	assert_int_equal(yw_store_inventory_history(f->st, "a1", 0, 0, inv_hist_cb, got), 0);
	assert_string_equal(got, "package_removed:deb/curl/amd64 user_added:mallory ");

	/* A new full snapshot without mallory: the item goes; replaying it changes nothing. */
	range_batch(bt, 8, 10, 3 * HOUR);
	for (size_t i = 0; i < 3; i++)
		bt->rec[i].kind = YW_REC_EVENT;
	bt->ev[0] = INV("inventory_snapshot", "users", "30", ",\"user.name\":\"root\"");
	bt->ev[1] = INV("inventory_snapshot", "os", "30", ",\"host.os.name\":\"Debian\"");
	bt->ev[2] = INV("inventory_snapshot_end", "summary", "30", "");
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	assert_int_equal(yw_store_ingest(f->st, "a1", &bt->b, &ack), 0);
	got[0] = '\0';
	assert_int_equal(yw_store_inventory(f->st, "a1", NULL, inv_cb, got), 0);
	assert_string_equal(got, "os:os users:root ");
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
	/* The same rule, agent and (empty) key every time: one alert counted 100 times. */
	assert_int_equal(count_alerts(f->st), 1);
	assert_int_equal(sql1(f->dir, "SELECT sum(count) FROM alerts"), 100);
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
		/* "first" and "last" repeat in every batch: two alerts whose counts are the
		 * batches stored, no more (a replay after the kill counts nothing twice). */
		int batches = (int)(a.last_seq / CRASH_BATCH);
		assert_int_equal(count_alerts(f->st), batches ? 2 : 0);
		assert_int_equal(sql1(f->dir, "SELECT coalesce(sum(count), 0) FROM alerts"),
		                 batches * 2);
		struct yw_store_stats s;
		assert_int_equal(yw_store_stats(f->st, &s), 0);
		assert_int_equal(s.alerts, batches ? 2 : 0);
		yw_store_close(f->st);
		f->st = NULL;
	}
	assert_true(acked > 0);
	print_message("crash rounds: %llu records acknowledged\n", (unsigned long long)acked);
}

/* ---- triage: de-duplication, suppressions, lifecycle, incidents, risk ---- */

/* Copies of the fields of one alert row, for assertions after the callback. */
struct alert_copy {
	int n;
	int64_t id;
	char status[32], key[300], ack_by[32], ack_comment[64], closed_by[32], closed_comment[64];
	uint64_t count;
	int64_t first_seen, last_seen, ack_at, closed_at;
};

static int copy_alert_cb(void *ctx, const struct yw_store_alert_row *a)
{
	struct alert_copy *c = ctx;
	c->n++;
	c->id = a->id;
	snprintf(c->status, sizeof(c->status), "%s", a->status);
	snprintf(c->key, sizeof(c->key), "%s", a->dedup_key);
	snprintf(c->ack_by, sizeof(c->ack_by), "%s", a->ack_by);
	snprintf(c->ack_comment, sizeof(c->ack_comment), "%s", a->ack_comment);
	snprintf(c->closed_by, sizeof(c->closed_by), "%s", a->closed_by);
	snprintf(c->closed_comment, sizeof(c->closed_comment), "%s", a->closed_comment);
	c->count = a->count;
	c->first_seen = a->first_seen;
	c->last_seen = a->last_seen;
	c->ack_at = a->ack_at;
	c->closed_at = a->closed_at;
	return 0;
}

/* The newest alert (after after_id) as copied fields; n says how many matched. */
static struct alert_copy last_alert(struct yw_store *st, int64_t after_id)
{
	struct alert_copy c = {0};
	struct yw_store_alert_query q = {.after_id = after_id, .limit = 1000};
	assert_int_equal(yw_store_alerts(st, &q, copy_alert_cb, &c), 0);
	return c;
}

static struct alert_copy alert_by_id(struct yw_store *st, int64_t id)
{
	struct alert_copy c = {0};
	struct yw_store_alert_query q = {.after_id = id - 1, .limit = 1};
	assert_int_equal(yw_store_alerts(st, &q, copy_alert_cb, &c), 0);
	assert_int_equal(c.id, id);
	return c;
}

static int ingest_ok(struct yw_store *st, const char *agent, struct batch *bt)
{
	uint64_t ack;
	return yw_store_ingest(st, agent, &bt->b, &ack);
}

static void test_dedup(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	unsigned char out[256];
	add_agent(f->st, "a1", "host1");

	/* Three identical attacks from one address and one from another, in one batch. */
	range_batch(bt, 1, 4, 10 * HOUR);
	bt->b.outcomes = out;
	for (int i = 0; i < 4; i++) {
		bt->ev[i] = i < 3 ? "{\"source.ip\":\"203.0.113.7\",\"user.name\":\"root\"}"
		                  : "{\"source.ip\":\"198.51.100.1\"}";
		add_alert(bt, (size_t)i, "ssh-brute", YW_LEVEL_HIGH);
	}
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(out[0], YW_STORE_ALERT_NEW);
	assert_int_equal(out[1], YW_STORE_ALERT_REPEAT);
	assert_int_equal(out[2], YW_STORE_ALERT_REPEAT);
	assert_int_equal(out[3], YW_STORE_ALERT_NEW);
	assert_int_equal(count_alerts(f->st), 2);
	struct alert_copy first = alert_by_id(f->st, 1);
	assert_int_equal(first.count, 3);
	assert_string_equal(first.key, "203.0.113.7");
	assert_int_equal(first.first_seen, 10 * HOUR);
	assert_int_equal(first.last_seen, 10 * HOUR);
	assert_string_equal(alert_by_id(f->st, 2).key, "198.51.100.1");

	/* A replay of the batch counts nothing (exactly once holds for repeats too). */
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(out[0], YW_STORE_ALERT_REPLAY);
	assert_int_equal(out[3], YW_STORE_ALERT_REPLAY);
	assert_int_equal(alert_by_id(f->st, 1).count, 3);
	assert_int_equal(count_alerts(f->st), 2);

	/* Within the window, a later batch still counts on the open alert; last_seen moves. */
	range_batch(bt, 5, 5, 10 * HOUR + 30 * 60 * SEC);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "ssh-brute", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	first = alert_by_id(f->st, 1);
	assert_int_equal(first.count, 4);
	assert_int_equal(first.last_seen, 10 * HOUR + 30 * 60 * SEC);
	assert_int_equal(first.first_seen, 10 * HOUR);

	/* Past the window (an hour after the last occurrence): a new alert. */
	range_batch(bt, 6, 6, 11 * HOUR + 31 * 60 * SEC);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "ssh-brute", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(count_alerts(f->st), 3);
	assert_int_equal(last_alert(f->st, 2).count, 1);

	/* A resolved alert absorbs nothing: the next occurrence is a new alert. */
	struct yw_store_alert_change ch = {.id = 3, .action = YW_ALERT_RESOLVE, .by = "ops"};
	assert_int_equal(yw_store_alert_change(f->st, &ch), 0);
	range_batch(bt, 7, 7, 11 * HOUR + 32 * 60 * SEC);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "ssh-brute", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(count_alerts(f->st), 4);
	/* ...but an acknowledged one does. */
	ch = (struct yw_store_alert_change){.id = 4, .action = YW_ALERT_ACK, .by = "ops"};
	assert_int_equal(yw_store_alert_change(f->st, &ch), 0);
	range_batch(bt, 8, 8, 11 * HOUR + 33 * 60 * SEC);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "ssh-brute", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(count_alerts(f->st), 4);
	assert_int_equal(alert_by_id(f->st, 4).count, 2);

	/* Keys: the caller's wins; then the correlation group; then user.name; else "". Other
	 * agents and other rules never merge. */
	range_batch(bt, 9, 14, 12 * HOUR);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "ssh-brute", YW_LEVEL_HIGH);
	bt->al[0].dedup_key = "custom";
	bt->ev[1] = "{\"yiwang.correlation.group\":{\"user.name\":\"bob\",\"host.name\":\"h\"},"
	            "\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 1, "corr", YW_LEVEL_MEDIUM);
	bt->ev[2] = "{\"user.name\":\"alice\"}";
	add_alert(bt, 2, "user-rule", YW_LEVEL_LOW);
	add_alert(bt, 3, "plain", YW_LEVEL_LOW);
	bt->ev[4] = "not json";
	add_alert(bt, 4, "plain", YW_LEVEL_LOW);
	add_alert(bt, 5, "other-rule", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(count_alerts(f->st), 9);
	assert_string_equal(alert_by_id(f->st, 5).key, "custom");
	assert_string_equal(alert_by_id(f->st, 6).key,
	                    "{\"host.name\":\"h\",\"user.name\":\"bob\"}");
	assert_string_equal(alert_by_id(f->st, 7).key, "alice");
	assert_string_equal(alert_by_id(f->st, 8).key, "");
	assert_int_equal(alert_by_id(f->st, 8).count, 2);
	add_agent(f->st, "a2", "host2");
	range_batch(bt, 1, 1, 12 * HOUR);
	add_alert(bt, 0, "plain", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a2", bt), 0);
	assert_int_equal(count_alerts(f->st), 10);

	/* A key over the limit is cut, not refused. */
	char big[YW_STORE_MAX_DEDUP_KEY + 50];
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	range_batch(bt, 15, 15, 12 * HOUR);
	add_alert(bt, 0, "big", YW_LEVEL_LOW);
	bt->al[0].dedup_key = big;
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(strlen(last_alert(f->st, 10).key), YW_STORE_MAX_DEDUP_KEY);

	/* Statistics count alerts (rows), not occurrences. */
	struct yw_store_stats s;
	assert_int_equal(yw_store_stats(f->st, &s), 0);
	assert_int_equal(s.alerts, 11);
	free(bt);
}

static void test_dedup_off(void **state)
{
	struct fixture *f = *state;
	char dir[80];
	snprintf(dir, sizeof(dir), "%s3", f->dir);
	struct yw_store *st;
	struct yw_store_opts o = {.dedup_window_ns = -1};
	assert_int_equal(yw_store_open_sqlite(dir, &o, &st), 0);
	add_agent(st, "a1", "host1");
	struct batch *bt = malloc(sizeof(*bt));
	range_batch(bt, 1, 3, HOUR);
	for (int i = 0; i < 3; i++)
		add_alert(bt, (size_t)i, "r", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(st, "a1", bt), 0);
	assert_int_equal(count_alerts(st), 3);
	yw_store_close(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(bt);
}

struct supp_seen {
	int n;
	int64_t ids[8];
	uint64_t hits[8];
	char why[8][32];
};

static int supp_cb(void *ctx, const struct yw_store_suppression *p)
{
	struct supp_seen *s = ctx;
	s->ids[s->n] = p->id;
	s->hits[s->n] = p->hits;
	snprintf(s->why[s->n++], sizeof(s->why[0]), "%s", p->why);
	assert_string_equal(p->by, "ops");
	return 0;
}

static void test_suppressions(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	unsigned char out[256];
	add_agent(f->st, "a1", "host1");
	add_agent(f->st, "a2", "host2");
	int64_t id1, id2, id3;
	/* The rule everywhere until 2h; any rule on a2; one address forever. */
	struct yw_store_suppression sp = {.rule_id = "noisy",
	                                  .expires_at = 2 * HOUR,
	                                  .by = "ops",
	                                  .why = "maintenance",
	                                  .created_at = HOUR};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, &id1), 0);
	sp = (struct yw_store_suppression){.agent_id = "a2", .by = "ops", .why = "lab box"};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, &id2), 0);
	sp = (struct yw_store_suppression){
	    .field = "source.ip", .value = "192.0.2.9", .by = "ops", .why = "scanner"};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, &id3), 0);
	assert_true(id1 < id2 && id2 < id3);

	range_batch(bt, 1, 4, HOUR + 1);
	bt->b.outcomes = out;
	add_alert(bt, 0, "noisy", YW_LEVEL_HIGH);
	add_alert(bt, 1, "noisy", YW_LEVEL_HIGH);
	add_alert(bt, 2, "real", YW_LEVEL_HIGH);
	bt->ev[3] = "{\"source.ip\":\"192.0.2.9\"}";
	add_alert(bt, 3, "real", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(out[0], YW_STORE_ALERT_SUPPRESSED);
	assert_int_equal(out[1], YW_STORE_ALERT_SUPPRESSED);
	assert_int_equal(out[2], YW_STORE_ALERT_NEW);
	assert_int_equal(out[3], YW_STORE_ALERT_SUPPRESSED);
	assert_int_equal(count_alerts(f->st), 1);
	/* A replay counts no hit again. */
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	range_batch(bt, 1, 2, HOUR + 2);
	add_alert(bt, 0, "anything", YW_LEVEL_CRITICAL);
	add_alert(bt, 1, "noisy", YW_LEVEL_CRITICAL);
	assert_int_equal(ingest_ok(f->st, "a2", bt), 0);
	assert_int_equal(count_alerts(f->st), 1);

	struct supp_seen ss = {0};
	assert_int_equal(yw_store_suppress_list(f->st, supp_cb, &ss), 0);
	assert_int_equal(ss.n, 3);
	/* The first matching suppression (by id) takes the hit. */
	assert_int_equal(ss.hits[0], 3);
	assert_int_equal(ss.hits[1], 1);
	assert_int_equal(ss.hits[2], 1);
	assert_string_equal(ss.why[0], "maintenance");

	/* After its expiry the rule's alerts are stored again. */
	range_batch(bt, 5, 5, 2 * HOUR);
	bt->b.outcomes = out;
	add_alert(bt, 0, "noisy", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(out[0], YW_STORE_ALERT_NEW);
	assert_int_equal(count_alerts(f->st), 2);

	/* Deleting one lets its matches through at once. */
	assert_int_equal(yw_store_suppress_delete(f->st, id2), 0);
	assert_int_equal(yw_store_suppress_delete(f->st, id2), YW_ENOENT);
	range_batch(bt, 3, 3, 2 * HOUR);
	add_alert(bt, 0, "anything", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a2", bt), 0);
	assert_int_equal(count_alerts(f->st), 3);

	/* Bad suppressions. */
	sp = (struct yw_store_suppression){.by = "ops", .why = "nothing"};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, NULL), YW_EINVAL);
	sp = (struct yw_store_suppression){.field = "source.ip", .by = "ops"};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, NULL), YW_EINVAL);
	sp = (struct yw_store_suppression){.rule_id = "r"};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, NULL), YW_EINVAL);
	char big[YW_MAX_STORE_TEXT + 2];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sp = (struct yw_store_suppression){.rule_id = "r", .by = "ops", .why = big};
	assert_int_equal(yw_store_suppress_add(f->st, &sp, NULL), YW_ELIMIT);
	free(bt);
}

struct hist_seen {
	int n;
	char rows[8][160];
};

static int hist_cb(void *ctx, const struct yw_store_alert_event *e)
{
	struct hist_seen *h = ctx;
	snprintf(h->rows[h->n++], sizeof(h->rows[0]), "%lld %s %s>%s %s [%s]",
	         (long long)(e->ts / SEC), e->action, e->from, e->to, e->by, e->comment);
	return 0;
}

static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	add_agent(f->st, "a1", "host1");
	range_batch(bt, 1, 2, HOUR);
	add_alert(bt, 0, "r1", YW_LEVEL_HIGH);
	add_alert(bt, 1, "r2", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);

	struct yw_store_alert_change c = {
	    .id = 1, .action = YW_ALERT_ACK, .by = "alice", .comment = "looking", .now = 100 * SEC};
	assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	struct alert_copy a = alert_by_id(f->st, 1);
	assert_string_equal(a.status, "acknowledged");
	assert_string_equal(a.ack_by, "alice");
	assert_string_equal(a.ack_comment, "looking");
	assert_int_equal(a.ack_at, 100 * SEC);
	/* Not twice, and the open filter still sees it. */
	assert_int_equal(yw_store_alert_change(f->st, &c), YW_STORE_ESTATE);
	int n = 0;
	struct yw_store_alert_query open = {.open = 1};
	assert_int_equal(yw_store_alerts(f->st, &open, count_cb, &n), 0);
	assert_int_equal(n, 2);

	c = (struct yw_store_alert_change){.id = 1,
	                                   .action = YW_ALERT_RESOLVE,
	                                   .by = "bob",
	                                   .comment = "password reset",
	                                   .now = 200 * SEC};
	assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	a = alert_by_id(f->st, 1);
	assert_string_equal(a.status, "resolved");
	assert_string_equal(a.closed_by, "bob");
	assert_string_equal(a.closed_comment, "password reset");
	assert_int_equal(a.closed_at, 200 * SEC);
	assert_string_equal(a.ack_by, "alice");
	n = 0;
	assert_int_equal(yw_store_alerts(f->st, &open, count_cb, &n), 0);
	assert_int_equal(n, 1);

	/* A closed alert changes only by reopen. */
	int bad[] = {YW_ALERT_ACK, YW_ALERT_RESOLVE, YW_ALERT_FALSE_POSITIVE};
	for (int i = 0; i < 3; i++) {
		c = (struct yw_store_alert_change){.id = 1, .action = bad[i], .by = "x"};
		assert_int_equal(yw_store_alert_change(f->st, &c), YW_STORE_ESTATE);
	}
	c = (struct yw_store_alert_change){
	    .id = 1, .action = YW_ALERT_REOPEN, .by = "carol", .now = 300 * SEC};
	assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	a = alert_by_id(f->st, 1);
	assert_string_equal(a.status, "new");
	assert_string_equal(a.ack_by, "");
	assert_string_equal(a.closed_by, "");
	/* Reopening a new alert is refused; new -> false positive directly is fine. */
	assert_int_equal(yw_store_alert_change(f->st, &c), YW_STORE_ESTATE);
	c = (struct yw_store_alert_change){.id = 1,
	                                   .action = YW_ALERT_FALSE_POSITIVE,
	                                   .by = "dave",
	                                   .comment = "backup job",
	                                   .now = 400 * SEC};
	assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	assert_string_equal(alert_by_id(f->st, 1).status, "false_positive");
	/* Failed changes wrote no history. */
	struct hist_seen h = {0};
	assert_int_equal(yw_store_alert_history(f->st, 1, hist_cb, &h), 0);
	assert_int_equal(h.n, 4);
	assert_string_equal(h.rows[0], "100 ack new>acknowledged alice [looking]");
	assert_string_equal(h.rows[1], "200 resolve acknowledged>resolved bob [password reset]");
	assert_string_equal(h.rows[2], "300 reopen resolved>new carol []");
	assert_string_equal(h.rows[3], "400 false_positive new>false_positive dave [backup job]");
	h.n = 0;
	assert_int_equal(yw_store_alert_history(f->st, 2, hist_cb, &h), 0);
	assert_int_equal(h.n, 0);

	/* Unknown alert, no author, bad action, long comment. */
	c = (struct yw_store_alert_change){.id = 99, .action = YW_ALERT_ACK, .by = "x"};
	assert_int_equal(yw_store_alert_change(f->st, &c), YW_ENOENT);
	c = (struct yw_store_alert_change){.id = 2, .action = YW_ALERT_ACK};
	assert_int_equal(yw_store_alert_change(f->st, &c), YW_EINVAL);
	c = (struct yw_store_alert_change){.id = 2, .action = 7, .by = "x"};
	assert_int_equal(yw_store_alert_change(f->st, &c), YW_EINVAL);
	char big[YW_MAX_STORE_TEXT + 2];
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c = (struct yw_store_alert_change){
	    .id = 2, .action = YW_ALERT_ACK, .by = "x", .comment = big};
	assert_int_equal(yw_store_alert_change(f->st, &c), YW_ELIMIT);
	assert_string_equal(alert_by_id(f->st, 2).status, "new");

	assert_int_equal(yw_alert_action_parse("ack"), YW_ALERT_ACK);
	assert_int_equal(yw_alert_action_parse("false-positive"), YW_ALERT_FALSE_POSITIVE);
	assert_int_equal(yw_alert_action_parse("false_positive"), YW_ALERT_FALSE_POSITIVE);
	assert_int_equal(yw_alert_action_parse("reopen"), YW_ALERT_REOPEN);
	assert_int_equal(yw_alert_action_parse("delete"), YW_EINVAL);
	free(bt);
}

struct inc_seen {
	int n;
	struct {
		int64_t id, closed_at;
		char kind[16], key[64];
		uint64_t alerts, agents;
		int max_level;
	} i[16];
};

static int inc_cb(void *ctx, const struct yw_store_incident *in)
{
	struct inc_seen *s = ctx;
	s->i[s->n].id = in->id;
	s->i[s->n].closed_at = in->closed_at;
	snprintf(s->i[s->n].kind, sizeof(s->i[0].kind), "%s", in->kind);
	snprintf(s->i[s->n].key, sizeof(s->i[0].key), "%s", in->key);
	s->i[s->n].alerts = in->alert_count;
	s->i[s->n].agents = in->agents;
	s->i[s->n].max_level = in->max_level;
	s->n++;
	return 0;
}

static struct inc_seen incidents(struct yw_store *st, int open_only)
{
	struct inc_seen s = {0};
	assert_int_equal(yw_store_incidents(st, open_only, inc_cb, &s), 0);
	return s;
}

static void test_incidents(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	add_agent(f->st, "a1", "host1");
	add_agent(f->st, "a2", "host2");
	/* a1: two rules from 203.0.113.7 and one without an address; a2: one from the same
	 * address. */
	range_batch(bt, 1, 3, HOUR);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "brute", YW_LEVEL_MEDIUM);
	bt->ev[1] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 1, "login-after-brute", YW_LEVEL_CRITICAL);
	add_alert(bt, 2, "local", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	range_batch(bt, 1, 2, HOUR + SEC);
	bt->ev[0] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 0, "brute", YW_LEVEL_MEDIUM);
	/* A repeat joins no incident twice. */
	bt->ev[1] = "{\"source.ip\":\"203.0.113.7\"}";
	add_alert(bt, 1, "brute", YW_LEVEL_MEDIUM);
	assert_int_equal(ingest_ok(f->st, "a2", bt), 0);

	struct inc_seen s = incidents(f->st, 1);
	assert_int_equal(s.n, 3); /* newest first: a2's, the source, a1's */
	assert_string_equal(s.i[0].kind, "agent");
	assert_string_equal(s.i[0].key, "a2");
	assert_int_equal(s.i[0].alerts, 1);
	assert_string_equal(s.i[1].kind, "source");
	assert_string_equal(s.i[1].key, "203.0.113.7");
	assert_int_equal(s.i[1].alerts, 3);
	assert_int_equal(s.i[1].agents, 2);
	assert_int_equal(s.i[1].max_level, YW_LEVEL_CRITICAL);
	assert_string_equal(s.i[2].key, "a1");
	assert_int_equal(s.i[2].alerts, 3);
	assert_int_equal(s.i[2].agents, 1);
	assert_int_equal(s.i[2].max_level, YW_LEVEL_CRITICAL);

	/* Closing a2's only alert closes a2's incident, not the source's. */
	struct yw_store_alert_change c = {
	    .id = 4, .action = YW_ALERT_FALSE_POSITIVE, .by = "ops", .now = 2 * HOUR};
	assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	s = incidents(f->st, 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.i[0].kind, "source");
	s = incidents(f->st, 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.i[0].closed_at, 2 * HOUR);
	/* Resolving the rest closes them all. */
	for (int id = 1; id <= 3; id++) {
		c = (struct yw_store_alert_change){
		    .id = id, .action = YW_ALERT_RESOLVE, .by = "ops", .now = 3 * HOUR};
		assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	}
	assert_int_equal(incidents(f->st, 1).n, 0);

	/* The next alert opens a new incident; one idle past the window is replaced. */
	range_batch(bt, 4, 4, 4 * HOUR);
	add_alert(bt, 0, "local", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	s = incidents(f->st, 1);
	assert_int_equal(s.n, 1);
	int64_t first = s.i[0].id;
	range_batch(bt, 5, 5, 4 * HOUR + YW_STORE_INCIDENT_WINDOW_NS + SEC);
	add_alert(bt, 0, "other", YW_LEVEL_LOW);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	s = incidents(f->st, 1);
	assert_int_equal(s.n, 1);
	assert_true(s.i[0].id > first);
	assert_int_equal(s.i[0].alerts, 1);
	free(bt);
}

struct risk_seen {
	int n;
	double score[4], alerts[4], sca[4], exposure[4];
	int sca_score[4];
	uint64_t ports[4], open[4], high[4];
	char id[4][16];
};

static int risk_cb(void *ctx, const struct yw_store_risk_row *r)
{
	struct risk_seen *s = ctx;
	int i = s->n++;
	s->score[i] = r->score;
	s->alerts[i] = r->alert_points;
	s->sca[i] = r->sca_points;
	s->exposure[i] = r->exposure_points;
	s->sca_score[i] = r->sca_score;
	s->ports[i] = r->ports;
	s->open[i] = r->open_alerts;
	s->high[i] = r->open_by_level[YW_LEVEL_HIGH];
	snprintf(s->id[i], sizeof(s->id[0]), "%s", r->agent_id);
	return 0;
}

static struct risk_seen risk(struct yw_store *st, int64_t now, const char *agent, double *fleet)
{
	struct risk_seen s = {0};
	assert_int_equal(yw_store_risk(st, now, agent, risk_cb, &s, fleet), 0);
	return s;
}

struct points {
	int n;
	int64_t ts[8];
	double score[8];
};

static int point_cb(void *ctx, const struct yw_store_risk_point *p)
{
	struct points *s = ctx;
	s->ts[s->n] = p->ts;
	s->score[s->n++] = p->score;
	return 0;
}

/* An event record (kind EVENT) with its decoded JSON. */
static void event_rec(struct batch *bt, size_t i, const char *json)
{
	bt->rec[i].kind = YW_REC_EVENT;
	bt->ev[i] = json;
}

static void test_risk(void **state)
{
	struct fixture *f = *state;
	struct batch *bt = malloc(sizeof(*bt));
	add_agent(f->st, "a1", "host1");
	add_agent(f->st, "a2", "host2");
	double fleet = -1;
	struct risk_seen r = risk(f->st, HOUR, NULL, &fleet);
	assert_int_equal(r.n, 2);
	assert_true(r.score[0] == 0 && r.score[1] == 0 && fleet == 0);
	assert_int_equal(r.sca_score[0], -1);

	/* Baseline at 60%, two exposed ports and a loopback one; a closed port goes away. */
	range_batch(bt, 1, 6, HOUR);
	event_rec(bt, 0,
	          "{\"event.action\":\"sca_summary\",\"yiwang.sca.applies\":true,"
	          "\"yiwang.sca.score\":60}");
	event_rec(bt, 1,
	          "{\"event.action\":\"port_opened\",\"network.transport\":\"tcp\","
	          "\"server.ip\":\"0.0.0.0\",\"server.port\":22,"
	          "\"yiwang.inventory.snapshot_id\":10}");
	event_rec(bt, 2,
	          "{\"event.action\":\"port_opened\",\"network.transport\":\"tcp\","
	          "\"server.ip\":\"::\",\"server.port\":80,\"yiwang.inventory.snapshot_id\":10}");
	event_rec(bt, 3,
	          "{\"event.action\":\"port_opened\",\"network.transport\":\"tcp\","
	          "\"server.ip\":\"127.0.0.1\",\"server.port\":5432,"
	          "\"yiwang.inventory.snapshot_id\":10}");
	event_rec(bt, 4,
	          "{\"event.action\":\"port_opened\",\"network.transport\":\"udp\","
	          "\"server.ip\":\"0.0.0.0\",\"server.port\":161,"
	          "\"yiwang.inventory.snapshot_id\":10}");
	event_rec(bt, 5,
	          "{\"event.action\":\"port_closed\",\"network.transport\":\"udp\","
	          "\"server.ip\":\"0.0.0.0\",\"server.port\":161,"
	          "\"yiwang.inventory.snapshot_id\":11}");
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	r = risk(f->st, HOUR, "a1", NULL);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.sca_score[0], 60);
	assert_int_equal(r.ports[0], 2);
	assert_true(fabs(r.sca[0] - 10.0) < 1e-9);     /* 25 * 40% */
	assert_true(fabs(r.exposure[0] - 4.0) < 1e-9); /* 2 * 2 */
	/* 100 * (1 - e^(-14/50)) */
	assert_true(fabs(r.score[0] - 100 * (1 - exp(-14.0 / 50))) < 1e-9);
	double base = r.score[0];

	/* A full snapshot that lists only port 22 drops port 80 once it ends. */
	range_batch(bt, 7, 8, HOUR);
	event_rec(bt, 0,
	          "{\"event.action\":\"inventory_snapshot\",\"event.dataset\":\"inventory.ports\","
	          "\"network.transport\":\"tcp\",\"server.ip\":\"0.0.0.0\",\"server.port\":22,"
	          "\"yiwang.inventory.snapshot_id\":20}");
	event_rec(bt, 1,
	          "{\"event.action\":\"inventory_snapshot_end\",\"event.dataset\":"
	          "\"inventory.summary\",\"yiwang.inventory.snapshot_id\":20}");
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	r = risk(f->st, HOUR, "a1", NULL);
	assert_int_equal(r.ports[0], 1);
	/* A policy that does not apply changes nothing; replays change nothing. */
	range_batch(bt, 9, 9, HOUR);
	event_rec(bt, 0, "{\"event.action\":\"sca_summary\",\"yiwang.sca.applies\":false}");
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	assert_int_equal(risk(f->st, HOUR, "a1", NULL).sca_score[0], 60);
	base = risk(f->st, HOUR, "a1", NULL).score[0];

	/* Two high alerts on a1 (one repeated 9 more times): a1 rises, a2 stays at 0. */
	range_batch(bt, 10, 20, HOUR);
	for (size_t i = 0; i < 10; i++)
		add_alert(bt, i, "brute", YW_LEVEL_HIGH);
	add_alert(bt, 10, "other", YW_LEVEL_HIGH);
	assert_int_equal(ingest_ok(f->st, "a1", bt), 0);
	r = risk(f->st, HOUR, NULL, &fleet);
	assert_string_equal(r.id[0], "a1");
	assert_int_equal(r.open[0], 2);
	assert_int_equal(r.high[0], 2);
	assert_true(fabs(r.alerts[0] - (20 * 2 + 20)) < 1e-9); /* 20 * (1 + log10 10) + 20 */
	assert_true(r.score[0] > base);
	assert_true(r.score[1] == 0);
	double high = r.score[0];
	/* Fleet: half the mean, half the worst decile (a1). */
	assert_true(fabs(fleet - (0.5 * high / 2 + 0.5 * high)) < 1e-9);

	/* A day later the alerts weigh half. */
	r = risk(f->st, HOUR + 24 * HOUR, "a1", NULL);
	assert_true(fabs(r.alerts[0] - 30) < 1e-9);
	assert_true(r.score[0] < high);

	/* Resolving one lowers the score; the history records what it was. */
	assert_int_equal(yw_store_risk_snapshot(f->st, 2 * HOUR), 0);
	struct yw_store_alert_change c = {.id = 1, .action = YW_ALERT_RESOLVE, .by = "ops"};
	assert_int_equal(yw_store_alert_change(f->st, &c), 0);
	r = risk(f->st, HOUR, "a1", NULL);
	assert_int_equal(r.open[0], 1);
	assert_true(r.score[0] < high && r.score[0] > base);
	assert_int_equal(yw_store_risk_snapshot(f->st, 3 * HOUR), 0);
	struct points p = {0};
	assert_int_equal(yw_store_risk_history(f->st, "a1", 0, point_cb, &p), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.ts[0], 2 * HOUR);
	assert_true(p.score[1] < p.score[0]);
	p.n = 0;
	assert_int_equal(yw_store_risk_history(f->st, "fleet", 3 * HOUR, point_cb, &p), 0);
	assert_int_equal(p.n, 1);
	p.n = 0;
	assert_int_equal(yw_store_risk_history(f->st, "a2", 0, point_cb, &p), 0);
	assert_int_equal(p.n, 2);
	assert_true(p.score[0] == 0);

	/* History is trimmed at each snapshot: a terminal's points older than 7 days go, the
	 * fleet's stay for 400 days. */
	int64_t later = 3 * HOUR + YW_STORE_RISK_KEEP_AGENT_NS;
	assert_int_equal(yw_store_risk_snapshot(f->st, later), 0);
	p.n = 0;
	assert_int_equal(yw_store_risk_history(f->st, "a2", 0, point_cb, &p), 0);
	assert_int_equal(p.n, 2); /* 3 h (exactly 7 days old) and now; 2 h is gone */
	assert_int_equal(p.ts[0], 3 * HOUR);
	p.n = 0;
	assert_int_equal(yw_store_risk_history(f->st, "fleet", 0, point_cb, &p), 0);
	assert_int_equal(p.n, 3);

	/* A revoked agent leaves the fleet. */
	assert_int_equal(yw_store_agent_revoke(f->st, "a1", 4 * HOUR), 0);
	r = risk(f->st, HOUR, NULL, &fleet);
	assert_int_equal(r.n, 1);
	assert_true(fleet == 0);
	struct risk_seen none = {0};
	assert_int_equal(yw_store_risk(f->st, HOUR, "a1", risk_cb, &none, NULL), YW_ENOENT);
	free(bt);
}

/* A version-2 database with alerts upgrades: each becomes a first occurrence. */
static void test_schema_v3(void **state)
{
	struct fixture *f = *state;
	char dir[80];
	snprintf(dir, sizeof(dir), "%s4", f->dir);
	struct yw_store *st;
	struct yw_store_opts v2 = {.schema_target = 2};
	assert_int_equal(yw_store_open_sqlite(dir, &v2, &st), 0);
	yw_store_close(st);
	assert_int_equal(sql1(dir, "INSERT INTO agents (id, name, grp, os, version, cert_serial,"
	                           " addresses, enrolled_at) VALUES"
	                           " ('old', 'oldhost', 'g', 'linux', '0.0.1', '01', '[]', 1)"
	                           " RETURNING num"),
	                 1);
	assert_int_equal(sql1(dir, "INSERT INTO alerts (agent, seq, rule_id, title, level, tags,"
	                           " event_ts, created_at) VALUES (1, 1, 'r', 'r', 3, '[]', 5, 7)"
	                           " RETURNING id"),
	                 1);
	assert_int_equal(yw_store_open_sqlite(dir, NULL, &st), 0);
	assert_int_equal(sql1(dir, "SELECT value FROM meta WHERE key = 'schema_version'"),
	                 YW_STORE_SCHEMA_VERSION);
	struct alert_copy a = alert_by_id(st, 1);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.first_seen, 7);
	assert_int_equal(a.last_seen, 7);
	assert_string_equal(a.status, "new");
	assert_string_equal(a.key, "");
	struct yw_store_alert_change c = {.id = 1, .action = YW_ALERT_ACK, .by = "ops"};
	assert_int_equal(yw_store_alert_change(st, &c), 0);
	yw_store_close(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ingest_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ingest_exactly_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_queries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suppressions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incidents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_risk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_v3, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
