/* The situation screen's aggregation (yw_store_situation, yw_store_rule_hits): every hourly
 * and daily bucket against a brute-force model for many time zones (whole, half and odd
 * minutes, both ends of the range), the local-midnight boundary, top rules, ATT&CK tactics
 * with Sigma's spellings, repeats, terminals and groups, the risk trend and riskiest terminals,
 * and migration 5 backfilling the rollups of a version-4 database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/store.h"

#define SEC  1000000000LL
#define MIN  (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY  (24 * HOUR)
/* 2024-10-04 00:00 UTC, then 12:30. */
#define BASE (20000 * DAY)
#define NOW  (BASE + 12 * HOUR + 30 * MIN)

static char dir[64];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/yw_sit_XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct yw_store *open_store(int64_t dedup_window)
{
	struct yw_store_opts o = {.dedup_window_ns = dedup_window};
	struct yw_store *st;
	assert_int_equal(yw_store_open_sqlite(dir, &o, &st), 0);
	return st;
}

static void add_agent(struct yw_store *st, const char *id, const char *group, const char *os)
{
	struct yw_store_agent a = {.id = id,
	                           .name = id,
	                           .group = group,
	                           .os = os,
	                           .version = "1",
	                           .cert_serial = "01",
	                           .addresses = "[]",
	                           .enrolled_at = SEC};
	assert_int_equal(yw_store_agent_add(st, &a), 0);
}

static void exec_sql(const char *sql)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/yiwang.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	assert_int_equal(rc, SQLITE_OK);
}

/* One record with one alert from agent at t; returns the outcome. */
static int alert_at(struct yw_store *st, const char *agent, uint64_t seq, int64_t t,
                    const char *rule, int level, const char *tags, const char *key)
{
	char title[64];
	snprintf(title, sizeof(title), "title of %s", rule);
	struct yw_record rec = {.seq = seq,
	                        .ts_ns = t,
	                        .kind = YW_REC_LOG,
	                        .source = "s",
	                        .source_len = 1,
	                        .data = "x",
	                        .len = 1};
	struct yw_store_alert al = {
	    .rule_id = rule, .title = title, .level = level, .tags = tags, .dedup_key = key};
	unsigned char outcome = 99;
	struct yw_store_batch b = {
	    .records = &rec, .n = 1, .alerts = &al, .n_alerts = 1, .now = t, .outcomes = &outcome};
	uint64_t ack;
	assert_int_equal(yw_store_ingest(st, agent, &b, &ack), 0);
	return outcome;
}

/* ---- the model: what the buckets must hold, computed from the alerts themselves ---- */

#define NRULES 12
static const char *const tag_sets[] = {
    "[]",
    "[\"attack.credential_access\",\"attack.t1110\"]",
    "[\"attack.privilege-escalation\",\"attack.Defense_Evasion\",\"cve.2021-1\"]",
    "[\"attack.command-and-control\",\"attack.g0001\",\"attack.s0002\"]",
    "[\"attack.lateral_movement\",\"attack.lateral-movement\"]", /* one tactic, once */
    "not json",
    "[\"attack.execution\",42,{\"a\":1}]",
};
#define NTAGS (sizeof(tag_sets) / sizeof(tag_sets[0]))

struct m_alert {
	int64_t t;
	int level, rule, tags;
};

static int64_t fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* The rule of index i: its level never changes. */
static void rule_name(int i, char *out, size_t n)
{
	snprintf(out, n, "rule-%02d", i);
}

static int rule_level(int i)
{
	return i % YW_LEVEL_COUNT;
}

static int rule_tags(int i)
{
	return i % (int)NTAGS;
}

static void check_buckets(struct yw_store *st, const struct m_alert *m, size_t n, int tz_min)
{
	struct yw_store_situation o;
	assert_int_equal(yw_store_situation(st, NOW, tz_min, &o), 0);
	int64_t tz = (int64_t)tz_min * MIN;
	int64_t today = fdiv(NOW + tz, DAY);
	int64_t hnow = fdiv(NOW, HOUR);
	uint64_t hours[24][YW_LEVEL_COUNT] = {{0}}, days[7][YW_LEVEL_COUNT] = {{0}};
	for (size_t i = 0; i < n; i++) {
		int64_t h = fdiv(m[i].t, HOUR) - (hnow - 23);
		int64_t d = fdiv(m[i].t + tz, DAY) - (today - 6);
		if (h >= 0 && h < 24)
			hours[h][m[i].level]++;
		if (d >= 0 && d < 7)
			days[d][m[i].level]++;
	}
	for (int i = 0; i < 24; i++) {
		assert_int_equal(o.hours[i].t, (hnow - 23 + i) * HOUR);
		for (int l = 0; l < YW_LEVEL_COUNT; l++)
			assert_int_equal(o.hours[i].n[l], hours[i][l]);
	}
	for (int i = 0; i < 7; i++) {
		assert_int_equal(o.days[i].t, (today - 6 + i) * DAY - tz);
		for (int l = 0; l < YW_LEVEL_COUNT; l++)
			if (o.days[i].n[l] != days[i][l])
				fail_msg("tz %d day %d level %d: %llu, want %llu", tz_min, i, l,
				         (unsigned long long)o.days[i].n[l],
				         (unsigned long long)days[i][l]);
	}
	assert_memory_equal(o.today, days[6], sizeof(o.today));
	yw_store_situation_free(&o);
}

/* Alerts over 9 days (some in the future of NOW's hour excluded), with rollups at ingest,
 * checked against the model for many time zones. */
static void test_buckets_match_model(void **state)
{
	struct yw_store *st = open_store(-1); /* every alert a new one */
	add_agent(st, "a1", "g", "linux");
	/* Random times over 9 days, and times around the local midnights of the zones below, to
	 * the second. */
	static const int64_t edges[] = {
	    BASE - 1,
	    BASE,
	    BASE - 330 * MIN - 1,
	    BASE - 330 * MIN,
	    BASE - 330 * MIN + 1 - DAY,
	    BASE + 12 * HOUR - 1,
	    BASE + 12 * HOUR,
	    BASE + 7 * MIN,
	    BASE - 6 * DAY - 345 * MIN,
	    BASE - 6 * DAY - 345 * MIN - 1,
	    NOW,
	};
	enum { R = 600, E = sizeof(edges) / sizeof(edges[0]), N = R + E };
	struct m_alert *m = calloc(N, sizeof(*m));
	assert_non_null(m);
	uint64_t seed = 42;
	for (size_t i = 0; i < N; i++) {
		int rule = (int)(rnd(&seed) % NRULES);
		int64_t ago = (int64_t)(rnd(&seed) % (uint32_t)(9 * 24 * 60)) * MIN +
		              (int64_t)(rnd(&seed) % 60) * SEC;
		int64_t t = i < R ? NOW - ago : edges[i - R];
		m[i] = (struct m_alert){t, rule_level(rule), rule, rule_tags(rule)};
	}
	for (size_t i = 0; i < N; i++) {
		char rule[32];
		rule_name(m[i].rule, rule, sizeof(rule));
		assert_int_equal(
		    alert_at(st, "a1", i + 1, m[i].t, rule, m[i].level, tag_sets[m[i].tags], NULL),
		    YW_STORE_ALERT_NEW);
	}
	static const int zones[] = {0, 60, -60, 330, -330, 345, 7, -13, 840, -720, 525, -210};
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
		check_buckets(st, m, N, zones[z]);
	free(m);
	yw_store_close(st);
}

/* Known alerts, checked by hand: repeats, top rules, tactics, counts, terminals, tz boundary. */
static void test_known_alerts(void **state)
{
	struct yw_store *st = open_store(0); /* the default window: 1 h */
	add_agent(st, "a1", "web", "Debian 12");
	add_agent(st, "a2", "db", "Ubuntu 24.04");
	add_agent(st, "a3", "web", "Debian 12");
	add_agent(st, "a4", "web", "Debian 12");
	assert_int_equal(yw_store_agent_revoke(st, "a3", BASE), 0);
	assert_int_equal(yw_store_agent_seen(st, "a4", NULL, NULL, BASE), 0);
	const char *cred = tag_sets[1], *priv = tag_sets[2];
	/* R1 high at 12:20, repeated at 12:25 and 12:28: one alert, three occurrences. */
	assert_int_equal(alert_at(st, "a1", 1, NOW - 10 * MIN, "R1", 3, cred, "k"),
	                 YW_STORE_ALERT_NEW);
	assert_int_equal(alert_at(st, "a1", 2, NOW - 5 * MIN, "R1", 3, cred, "k"),
	                 YW_STORE_ALERT_REPEAT);
	assert_int_equal(alert_at(st, "a1", 3, NOW - 2 * MIN, "R1", 3, cred, "k"),
	                 YW_STORE_ALERT_REPEAT);
	/* R2 critical at 10:30; R5 informational at 12:00 sharp. */
	alert_at(st, "a2", 1, NOW - 2 * HOUR, "R2", 4, priv, "k");
	alert_at(st, "a2", 2, NOW - 30 * MIN, "R5", 0, NULL, "k");
	/* In India (UTC+5:30) today began at 18:30 UTC yesterday: one a minute before, one
	 * a minute after. In UTC both are yesterday. */
	alert_at(st, "a2", 3, BASE - 330 * MIN - MIN, "R3", 2, "[]", "k1");
	alert_at(st, "a2", 4, BASE - 330 * MIN + MIN, "R3", 2, "[]", "k2");
	/* R4 low three days ago; R1 eight days ago (outside every 7-day figure). */
	alert_at(st, "a1", 4, NOW - 3 * DAY, "R4", 1, "[\"attack.impact\"]", "k");
	alert_at(st, "a1", 5, NOW - 8 * DAY, "R1", 3, cred, "old");

	struct yw_store_situation o;
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	assert_int_equal(o.generated_at, NOW);
	/* Terminals: revoked ones apart. */
	assert_int_equal(o.total, 3);
	assert_int_equal(o.online, 1);
	assert_int_equal(o.offline, 2);
	assert_int_equal(o.revoked, 1);
	assert_int_equal(o.n_groups, 2);
	assert_string_equal(o.groups[0].name, "web");
	assert_int_equal(o.groups[0].n, 2);
	assert_int_equal(o.groups[0].online, 1);
	assert_string_equal(o.groups[1].name, "db");
	assert_int_equal(o.groups[1].n, 1);
	assert_int_equal(o.n_os, 2);
	assert_string_equal(o.os[0].name, "Debian 12");
	assert_int_equal(o.os[0].n, 2);
	/* Today (UTC): R1, R2, R5; yesterday the two R3s; R4 3 days ago. */
	uint64_t today[YW_LEVEL_COUNT] = {1, 0, 0, 1, 1};
	assert_memory_equal(o.today, today, sizeof(today));
	assert_int_equal(o.days[5].n[2], 2);
	assert_int_equal(o.days[3].n[1], 1);
	assert_int_equal(o.days[6].t, BASE);
	assert_int_equal(o.days[0].t, BASE - 6 * DAY);
	/* Hours: 12:00 has R1 (once: the repeats are not new alerts) and R5; 10:00 has R2. */
	assert_int_equal(o.hours[23].t, BASE + 12 * HOUR);
	assert_int_equal(o.hours[23].n[3], 1);
	assert_int_equal(o.hours[23].n[0], 1);
	assert_int_equal(o.hours[21].n[4], 1);
	assert_int_equal(o.open_alerts, 7);
	/* Top rules over 168 h count occurrences: R1 3, then R3 2, then R2, R4, R5. */
	assert_int_equal(o.n_rules, 5);
	assert_string_equal(o.rules[0].rule_id, "R1");
	assert_string_equal(o.rules[0].title, "title of R1");
	assert_int_equal(o.rules[0].level, 3);
	assert_int_equal(o.rules[0].count, 3);
	assert_string_equal(o.rules[1].rule_id, "R3");
	assert_int_equal(o.rules[1].count, 2);
	assert_string_equal(o.rules[2].rule_id, "R2");
	assert_string_equal(o.rules[4].rule_id, "R5");
	/* Tactics over 168 h, occurrences, Sigma's spellings normalised. */
	assert_int_equal(o.n_tactics, 4);
	assert_string_equal(o.tactics[0].name, "credential_access");
	assert_int_equal(o.tactics[0].n, 3);
	assert_string_equal(o.tactics[1].name, "defense_evasion");
	assert_string_equal(o.tactics[2].name, "impact");
	assert_string_equal(o.tactics[3].name, "privilege_escalation");
	assert_int_equal(o.tactics[3].n, 1);
	/* No risk snapshot yet. */
	assert_int_equal(o.n_trend, 0);
	assert_int_equal(o.n_riskiest, 0);
	assert_true(o.fleet_score == 0);
	yw_store_situation_free(&o);

	/* India: the 18:29 R3 is yesterday, the 18:31 one today. */
	assert_int_equal(yw_store_situation(st, NOW, 330, &o), 0);
	assert_int_equal(o.days[6].t, BASE - 330 * MIN);
	assert_int_equal(o.days[6].n[2], 1);
	assert_int_equal(o.days[5].n[2], 1);
	assert_int_equal(o.today[2], 1);
	yw_store_situation_free(&o);

	/* Risk: two snapshots; the trend has both, the score is the latest, a1 is the riskiest
	 * and the revoked a3 is not listed. */
	assert_int_equal(yw_store_risk_snapshot(st, NOW - 25 * HOUR), 0);
	assert_int_equal(yw_store_risk_snapshot(st, NOW - HOUR), 0);
	assert_int_equal(yw_store_risk_snapshot(st, NOW - MIN), 0);
	double fleet = -1;
	assert_int_equal(yw_store_risk(st, NOW - MIN, NULL, NULL, NULL, &fleet), 0);
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	assert_int_equal(o.n_trend, 2);
	assert_int_equal(o.trend[0].ts, NOW - HOUR);
	assert_int_equal(o.trend[1].ts, NOW - MIN);
	assert_true(o.fleet_score == fleet && fleet > 0);
	/* a2's fresh critical alert outweighs a1's repeated high one; a4 has none. */
	assert_int_equal(o.n_riskiest, 3);
	assert_string_equal(o.riskiest[0].id, "a2");
	assert_string_equal(o.riskiest[0].group, "db");
	assert_true(o.riskiest[0].score > o.riskiest[1].score);
	assert_true(o.riskiest[1].score > o.riskiest[2].score);
	assert_string_equal(o.riskiest[1].id, "a1");
	assert_string_equal(o.riskiest[2].id, "a4");
	assert_int_equal(o.riskiest[2].online, 1);
	assert_int_equal(o.riskiest[0].online, 0);
	yw_store_situation_free(&o);
	/* A terminal revoked since the snapshot is not listed. */
	assert_int_equal(yw_store_agent_revoke(st, "a4", NOW), 0);
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	assert_int_equal(o.n_riskiest, 2);
	assert_int_equal(o.revoked, 2);
	yw_store_situation_free(&o);

	/* Resolving an alert closes it: one open alert fewer. */
	struct yw_store_alert_change ch = {.id = 1, .action = YW_ALERT_RESOLVE, .by = "t"};
	assert_int_equal(yw_store_alert_change(st, &ch), 0);
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	assert_int_equal(o.open_alerts, 6);
	yw_store_situation_free(&o);
	/* Acknowledging keeps it open; reopening a closed one counts it again. */
	ch = (struct yw_store_alert_change){.id = 2, .action = YW_ALERT_ACK, .by = "t"};
	assert_int_equal(yw_store_alert_change(st, &ch), 0);
	ch = (struct yw_store_alert_change){.id = 3, .action = YW_ALERT_FALSE_POSITIVE, .by = "t"};
	assert_int_equal(yw_store_alert_change(st, &ch), 0);
	ch = (struct yw_store_alert_change){.id = 1, .action = YW_ALERT_REOPEN, .by = "t"};
	assert_int_equal(yw_store_alert_change(st, &ch), 0);
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	assert_int_equal(o.open_alerts, 6);
	yw_store_situation_free(&o);

	assert_int_equal(yw_store_situation(st, NOW, 841, &o), YW_EINVAL);
	assert_int_equal(yw_store_situation(st, NOW, -721, &o), YW_EINVAL);
	yw_store_close(st);
}

struct hits {
	char id[8][16];
	struct yw_store_rule_hit h[8];
	size_t n;
};

static int hit_cb(void *ctx, const struct yw_store_rule_hit *h)
{
	struct hits *x = ctx;
	assert_true(x->n < 8);
	snprintf(x->id[x->n], sizeof(x->id[0]), "%s", h->rule_id);
	x->h[x->n] = *h;
	x->h[x->n].rule_id = x->id[x->n];
	x->n++;
	return 0;
}

static void test_rule_hits(void **state)
{
	struct yw_store *st = open_store(0);
	add_agent(st, "a1", "g", "linux");
	alert_at(st, "a1", 1, NOW - 8 * DAY, "R1", 3, NULL, "k");
	alert_at(st, "a1", 2, NOW - 10 * MIN, "R1", 3, NULL, "k");
	alert_at(st, "a1", 3, NOW - 5 * MIN, "R1", 3, NULL, "k"); /* a repeat */
	alert_at(st, "a1", 4, NOW - 167 * HOUR, "R2", 1, NULL, "k");
	alert_at(st, "a1", 5, NOW - 168 * HOUR, "R3", 1, NULL, "k");
	struct hits x = {0};
	assert_int_equal(yw_store_rule_hits(st, NOW, hit_cb, &x), 0);
	assert_int_equal(x.n, 3);
	assert_string_equal(x.h[0].rule_id, "R1");
	assert_int_equal(x.h[0].count_7d, 2);
	assert_int_equal(x.h[0].count_total, 3);
	assert_int_equal(x.h[0].last_seen, NOW - 5 * MIN);
	/* 167 hours ago is the first hour of the window, 168 the hour before it. */
	assert_string_equal(x.h[1].rule_id, "R2");
	assert_int_equal(x.h[1].count_7d, 1);
	assert_string_equal(x.h[2].rule_id, "R3");
	assert_int_equal(x.h[2].count_7d, 0);
	assert_int_equal(x.h[2].count_total, 1);
	yw_store_close(st);
}

/* More groups than the screen names sum into "(other)"; a long risk history is thinned. */
static void test_limits(void **state)
{
	struct yw_store *st = open_store(0);
	for (int i = 0; i < YW_SITUATION_GROUPS + 5; i++) {
		char id[16], grp[16];
		snprintf(id, sizeof(id), "a%02d", i);
		snprintf(grp, sizeof(grp), "g%02d", i);
		add_agent(st, id, grp, "linux");
		if (i < 3) { /* g00..g02 get a second member and come first */
			snprintf(id, sizeof(id), "b%02d", i);
			add_agent(st, id, grp, "linux");
		}
	}
	for (int i = 0; i < YW_SITUATION_TREND + 40; i++)
		assert_int_equal(yw_store_risk_snapshot(st, NOW - DAY + MIN + i * 4 * MIN), 0);
	struct yw_store_situation o;
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	assert_int_equal(o.total, YW_SITUATION_GROUPS + 8);
	assert_int_equal(o.n_groups, YW_SITUATION_GROUPS + 1);
	assert_string_equal(o.groups[0].name, "g00");
	assert_int_equal(o.groups[0].n, 2);
	assert_string_equal(o.groups[3].name, "g03");
	assert_string_equal(o.groups[YW_SITUATION_GROUPS].name, "(other)");
	assert_int_equal(o.groups[YW_SITUATION_GROUPS].n, 5);
	assert_int_equal(o.n_os, 1);
	assert_int_equal(o.n_trend, YW_SITUATION_TREND);
	assert_int_equal(o.trend[0].ts, NOW - DAY + MIN);
	assert_int_equal(o.trend[YW_SITUATION_TREND - 1].ts,
	                 NOW - DAY + MIN + (YW_SITUATION_TREND + 39) * 4 * MIN);
	for (int i = 1; i < YW_SITUATION_TREND; i++)
		assert_true(o.trend[i].ts > o.trend[i - 1].ts);
	assert_int_equal(o.n_riskiest, YW_SITUATION_TOP);
	yw_store_situation_free(&o);
	yw_store_close(st);
}

static void situation_copy(struct yw_store *st, int tz, struct yw_store_situation *o)
{
	assert_int_equal(yw_store_situation(st, NOW, tz, o), 0);
}

static void same_situation(const struct yw_store_situation *a, const struct yw_store_situation *b)
{
	assert_memory_equal(a->hours, b->hours, sizeof(a->hours));
	assert_memory_equal(a->days, b->days, sizeof(a->days));
	assert_int_equal(a->n_rules, b->n_rules);
	for (size_t i = 0; i < a->n_rules; i++) {
		assert_string_equal(a->rules[i].rule_id, b->rules[i].rule_id);
		assert_string_equal(a->rules[i].title, b->rules[i].title);
		assert_int_equal(a->rules[i].count, b->rules[i].count);
		assert_int_equal(a->rules[i].level, b->rules[i].level);
	}
	assert_int_equal(a->n_tactics, b->n_tactics);
	for (size_t i = 0; i < a->n_tactics; i++) {
		assert_string_equal(a->tactics[i].name, b->tactics[i].name);
		assert_int_equal(a->tactics[i].n, b->tactics[i].n);
	}
	assert_int_equal(a->open_alerts, b->open_alerts);
}

/* A database whose rollups are dropped and whose version is set back to 4 is migrated again:
 * the backfill gives what ingest kept. */
static void test_backfill_equals_ingest(void **state)
{
	struct yw_store *st = open_store(0);
	add_agent(st, "a1", "g", "linux");
	uint64_t seed = 7;
	for (uint64_t i = 1; i <= 300; i++) {
		int rule = (int)(rnd(&seed) % NRULES);
		char name[32];
		rule_name(rule, name, sizeof(name));
		/* Repeats stay in their alert's hour (the key names it), where the backfill puts
		 * them: the hour of the alert's last occurrence. */
		int64_t k = (int64_t)(rnd(&seed) % (8 * 24));
		char key[32];
		if (i % 5)
			snprintf(key, sizeof(key), "h%lld", (long long)k);
		else
			snprintf(key, sizeof(key), "u%llu", (unsigned long long)i);
		alert_at(st, "a1", i, NOW - k * HOUR - (int64_t)(i % 3) * SEC, name,
		         rule_level(rule), tag_sets[rule_tags(rule)], key);
	}
	struct yw_store_situation before, after;
	situation_copy(st, 330, &before);
	yw_store_close(st);
	exec_sql("DROP TABLE alert_rollup; DROP TABLE tactic_rollup; DROP TABLE rule_hits;"
	         " DROP TABLE agent_risk; DROP INDEX agents_name; DROP TABLE alert_open;"
	         " DROP TRIGGER alert_open_insert; DROP TRIGGER alert_open_delete;"
	         " DROP TRIGGER alert_open_update;"
	         " UPDATE meta SET value = 4 WHERE key = 'schema_version'");
	st = open_store(0);
	situation_copy(st, 330, &after);
	same_situation(&before, &after);
	assert_true(before.n_rules > 0 && before.n_tactics > 0);
	yw_store_situation_free(&before);
	yw_store_situation_free(&after);
	yw_store_close(st);
}

/* A version-4 database written row by row (as an old server left it): repeats counted in the
 * hour of the last one, malformed tags skipped, titles and totals from the alerts. */
static void test_backfill_v4(void **state)
{
	struct yw_store_opts v4 = {.schema_target = 4};
	struct yw_store *st;
	assert_int_equal(yw_store_open_sqlite(dir, &v4, &st), 0);
	yw_store_close(st);
	char sql[2048];
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO agents (id, name, grp, os, version, cert_serial, addresses,"
	    " enrolled_at) VALUES ('a1', 'h1', 'g', 'linux', '1', '01', '[]', 1);"
	    "INSERT INTO alerts (agent, seq, rule_id, title, level, tags, event_ts, created_at,"
	    " status, dedup_key, count, first_seen, last_seen) VALUES"
	    " (1, 1, 'R1', 'current title', 3, '[\"attack.credential-access\"]', 0, %lld, 'new',"
	    " '', 4, %lld, %lld),"
	    " (1, 2, 'R1', 'earlier title', 3, 'not json', 0, %lld, 'resolved', '', 1, %lld, %lld),"
	    " (1, 3, 'R2', 'r2', 0, '[\"attack.impact\",\"attack.impact\"]', 0, %lld, 'new',"
	    " '', 1, %lld, %lld)",
	    (long long)(NOW - 3 * HOUR), (long long)(NOW - 3 * HOUR), (long long)(NOW - MIN),
	    (long long)(NOW - 2 * HOUR), (long long)(NOW - 2 * HOUR), (long long)(NOW - 2 * HOUR),
	    (long long)(NOW - 10 * DAY), (long long)(NOW - 10 * DAY), (long long)(NOW - 10 * DAY));
	exec_sql(sql);
	st = open_store(0);
	struct yw_store_situation o;
	assert_int_equal(yw_store_situation(st, NOW, 0, &o), 0);
	/* Alerts by creation: R1 at 09:00 and 10:00; the repeats are not alerts. */
	assert_int_equal(o.hours[20].n[3], 1);
	assert_int_equal(o.hours[21].n[3], 1);
	assert_int_equal(o.hours[23].n[3], 0);
	assert_int_equal(o.today[3], 2);
	assert_int_equal(o.open_alerts, 2);
	assert_int_equal(o.n_rules, 1);
	assert_string_equal(o.rules[0].rule_id, "R1");
	/* The title of the alert seen last. */
	assert_string_equal(o.rules[0].title, "current title");
	assert_int_equal(o.rules[0].count, 5);
	assert_int_equal(o.n_tactics, 1);
	assert_string_equal(o.tactics[0].name, "credential_access");
	assert_int_equal(o.tactics[0].n, 4);
	yw_store_situation_free(&o);
	struct hits x = {0};
	assert_int_equal(yw_store_rule_hits(st, NOW, hit_cb, &x), 0);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.h[0].count_total, 5);
	assert_int_equal(x.h[0].count_7d, 5);
	assert_int_equal(x.h[0].last_seen, NOW - MIN);
	assert_int_equal(x.h[1].count_total, 1);
	assert_int_equal(x.h[1].count_7d, 0);
	/* The backfilled tactic rollup counted R2's doubled tag once, 10 days ago. */
	yw_store_close(st);
	char path[128];
	snprintf(path, sizeof(path), "%s/yiwang.db", dir);
	sqlite3 *db;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT sum(n) FROM tactic_rollup WHERE tactic = 'impact'", -1,
	                       &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* ---- ingest sums a transaction's occurrences in memory and writes them at its commit ---- */

/* The rollup tables as text, in key order. */
static void dump_rollups(const char *dbdir, char *out, size_t n)
{
	static const char *const sql[] = {
	    "SELECT hour, rule_id, level, alerts, n FROM alert_rollup ORDER BY 1, 2, 3",
	    "SELECT hour, tactic, n, 0, 0 FROM tactic_rollup ORDER BY 1, 2",
	    "SELECT last_seen, rule_id, level, total, title FROM rule_hits ORDER BY 2",
	    "SELECT count(*), '', sum(count), 0, 0 FROM alerts",
	};
	char path[128];
	snprintf(path, sizeof(path), "%s/yiwang.db", dbdir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *q;
		assert_int_equal(sqlite3_prepare_v2(db, sql[i], -1, &q, NULL), SQLITE_OK);
		while (sqlite3_step(q) == SQLITE_ROW) {
			int w = snprintf(out + len, n - len, "%lld %s %lld %lld %s\n",
			                 (long long)sqlite3_column_int64(q, 0),
			                 (const char *)sqlite3_column_text(q, 1),
			                 (long long)sqlite3_column_int64(q, 2),
			                 (long long)sqlite3_column_int64(q, 3),
			                 (const char *)sqlite3_column_text(q, 4));
			assert_true(w > 0 && (size_t)w < n - len);
			len += (size_t)w;
		}
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
}

static void exec_at(const char *dbdir, const char *sql)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/yiwang.db", dbdir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static struct yw_store *open_at(const char *dbdir)
{
	assert_true(mkdir(dbdir, 0700) == 0 || access(dbdir, F_OK) == 0);
	struct yw_store_opts o = {.dedup_window_ns = 0};
	struct yw_store *st;
	assert_int_equal(yw_store_open_sqlite(dbdir, &o, &st), 0);
	return st;
}

/* Ingest fails on an alert of rule BOOM (after the alerts before it in its batch counted) and
 * the commit's flush fails on a rollup row of rule FLUSH. */
#define FAIL_TRIGGERS                                                                              \
	"CREATE TRIGGER boom BEFORE INSERT ON alerts WHEN new.rule_id = 'BOOM'"                    \
	" BEGIN SELECT RAISE(ABORT, 'boom'); END;"                                                 \
	"CREATE TRIGGER flush_fail BEFORE INSERT ON alert_rollup WHEN new.rule_id = 'FLUSH'"       \
	" BEGIN SELECT RAISE(ABORT, 'flush'); END;"

#define BATCH_MAX 64

/* A batch of alerts at one time, built in place. */
struct tbatch {
	struct yw_record rec[BATCH_MAX];
	struct yw_store_alert al[BATCH_MAX];
	char key[BATCH_MAX][24], title[BATCH_MAX][32], rule[BATCH_MAX][16];
	unsigned char outcome[BATCH_MAX];
	struct yw_store_batch b;
};

static void tb_init(struct tbatch *t, int64_t now)
{
	memset(t, 0, sizeof(*t));
	t->b = (struct yw_store_batch){
	    .records = t->rec, .alerts = t->al, .now = now, .outcomes = t->outcome};
}

static void tb_add(struct tbatch *t, uint64_t seq, const char *rule, const char *title, int level,
                   const char *tags, const char *key)
{
	size_t i = t->b.n;
	assert_true(i < BATCH_MAX);
	t->rec[i] = (struct yw_record){.seq = seq,
	                               .ts_ns = t->b.now,
	                               .kind = YW_REC_LOG,
	                               .source = "s",
	                               .source_len = 1,
	                               .data = "x",
	                               .len = 1};
	snprintf(t->key[i], sizeof(t->key[i]), "%s", key);
	snprintf(t->title[i], sizeof(t->title[i]), "%s", title);
	snprintf(t->rule[i], sizeof(t->rule[i]), "%s", rule);
	t->al[i] = (struct yw_store_alert){.record = i,
	                                   .rule_id = t->rule[i],
	                                   .title = t->title[i],
	                                   .level = level,
	                                   .tags = tags,
	                                   .dedup_key = t->key[i]};
	t->b.n++;
	t->b.n_alerts++;
}

/* Many alerts of few rules and hours, in transactions of hundreds (ingest_many, with batches
 * that fail and roll back to their savepoint), leave the same rollups as the same alerts
 * stored one transaction each. Titles and levels change within a rule (rule_hits keeps the
 * last), tags of one rule differ, repeats mix with new alerts. */
static void test_batched_equals_per_alert(void **state)
{
	char da[96], db[96];
	snprintf(da, sizeof(da), "%s/a", dir);
	snprintf(db, sizeof(db), "%s/b", dir);
	struct yw_store *sa = open_at(da), *sb = open_at(db);
	yw_store_close(sb);
	exec_at(db, FAIL_TRIGGERS);
	sb = open_at(db);
	static const char *const agents[] = {"a1", "a2", "a3", "a9"};
	for (int i = 0; i < 4; i++) {
		add_agent(sa, agents[i], "g", "linux");
		add_agent(sb, agents[i], "g", "linux");
	}
	static struct tbatch tb[40];
	struct yw_store_ingest_item items[40];
	uint64_t seq[4] = {0, 0, 0, 0}, seed = 11, failed = 0;
	for (int round = 0; round < 6; round++) {
		size_t n = 0;
		for (; n < 40; n++) {
			/* Three hours, the same for most of a round's batches. */
			int64_t now = NOW - (int64_t)((round + (n % 7 == 0)) % 3) * HOUR -
			              (int64_t)(rnd(&seed) % 3000) * SEC;
			int ag = (int)(n % 3);
			tb_init(&tb[n], now);
			int bad = n == 17 || n == 31; /* rolled back to its savepoint */
			int cnt = 1 + (int)(rnd(&seed) % 12);
			for (int k = 0; k < cnt; k++) {
				int r = (int)(rnd(&seed) % 4);
				char rule[16], title[32], key[24];
				snprintf(rule, sizeof(rule), "R%d", r);
				snprintf(title, sizeof(title), "title %d of R%d",
				         (int)(rnd(&seed) % 2), r);
				snprintf(key, sizeof(key), "k%u", rnd(&seed) % 40);
				const char *tags =
				    tag_sets[(r + (int)(rnd(&seed) % 2)) % (int)NTAGS];
				int level = r == 3 ? (int)(rnd(&seed) % YW_LEVEL_COUNT) : r;
				tb_add(&tb[n], bad ? 1000 + (uint64_t)k : ++seq[ag], rule, title,
				       level, tags, key);
			}
			if (bad)
				tb_add(&tb[n], 1000 + (uint64_t)cnt, "BOOM", "boom", 1, NULL, "b");
			items[n] = (struct yw_store_ingest_item){
			    .agent_id = bad ? "a9" : agents[ag], .batch = &tb[n].b};
		}
		assert_int_equal(yw_store_ingest_many(sb, items, n), 0);
		for (size_t i = 0; i < n; i++) {
			if (items[i].agent_id[1] == '9') {
				assert_int_not_equal(items[i].rc, 0);
				failed++;
				continue;
			}
			assert_int_equal(items[i].rc, 0);
			/* The same alerts, one transaction each. */
			for (size_t k = 0; k < tb[i].b.n; k++) {
				struct yw_store_batch one = tb[i].b;
				one.records = &tb[i].rec[k];
				one.n = 1;
				struct yw_store_alert al = tb[i].al[k];
				al.record = 0;
				one.alerts = &al;
				one.n_alerts = 1;
				unsigned char outcome;
				one.outcomes = &outcome;
				uint64_t ack;
				assert_int_equal(yw_store_ingest(sa, items[i].agent_id, &one, &ack),
				                 0);
				assert_int_equal(outcome, tb[i].outcome[k]);
			}
		}
	}
	assert_int_equal(failed, 12);
	yw_store_close(sa);
	yw_store_close(sb);
	static char ta[1 << 16], tbuf[1 << 16];
	dump_rollups(da, ta, sizeof(ta));
	dump_rollups(db, tbuf, sizeof(tbuf));
	assert_string_equal(ta, tbuf);
	/* The rounds put hundreds of occurrences on a few keys. */
	assert_non_null(strstr(ta, " R0 "));
	assert_null(strstr(ta, "BOOM"));
}

static int64_t one_int(const char *dbdir, const char *sql)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/yiwang.db", dbdir);
	sqlite3 *db;
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

#define R1_N      "SELECT coalesce(sum(n), 0) FROM alert_rollup WHERE rule_id = 'R1'"
#define R1_ALERTS "SELECT coalesce(sum(alerts), 0) FROM alert_rollup WHERE rule_id = 'R1'"
#define R1_TOTAL  "SELECT coalesce(sum(total), 0) FROM rule_hits WHERE rule_id = 'R1'"
#define R1_TACTIC "SELECT coalesce(sum(n), 0) FROM tactic_rollup WHERE tactic = 'credential_access'"

static void check_r1(const char *d, int64_t n, int64_t alerts)
{
	assert_int_equal(one_int(d, R1_N), n);
	assert_int_equal(one_int(d, R1_ALERTS), alerts);
	assert_int_equal(one_int(d, R1_TOTAL), n);
	assert_int_equal(one_int(d, R1_TACTIC), n);
	assert_int_equal(one_int(d, "SELECT count(*) FROM alert_rollup"), 1);
}

/* Many alerts of one rule and hour count once each; a transaction that fails (an alert's
 * insert, or the flush itself) leaves no increment behind, for itself or the next one. */
static void test_rollback_leaves_nothing(void **state)
{
	char d[96];
	snprintf(d, sizeof(d), "%s/r", dir);
	struct yw_store *st = open_at(d);
	add_agent(st, "a1", "g", "linux");
	yw_store_close(st);
	exec_at(d, FAIL_TRIGGERS);
	st = open_at(d);
	const char *tags = tag_sets[1];
	static struct tbatch t;
	uint64_t seq = 0, ack;
	char key[24];
	/* 60 occurrences of R1 in one hour: 40 alerts, 20 repeats. */
	tb_init(&t, NOW);
	for (int i = 0; i < 60; i++) {
		snprintf(key, sizeof(key), "k%d", i % 40);
		tb_add(&t, ++seq, "R1", "r1", 2, tags, key);
	}
	assert_int_equal(yw_store_ingest(st, "a1", &t.b, &ack), 0);
	check_r1(d, 60, 40);
	assert_int_equal(one_int(d, "SELECT last_seen FROM rule_hits"), NOW);
	/* An alert's insert fails after five counted: nothing stays. */
	tb_init(&t, NOW + MIN);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "n%d", i);
		tb_add(&t, seq + 1 + (uint64_t)i, "R1", "r1", 2, tags, key);
	}
	tb_add(&t, seq + 6, "BOOM", "boom", 2, tags, "b");
	assert_int_not_equal(yw_store_ingest(st, "a1", &t.b, &ack), 0);
	check_r1(d, 60, 40);
	/* The flush fails at the commit: the alerts are not stored either. */
	tb_init(&t, NOW + MIN);
	tb_add(&t, seq + 1, "R1", "r1", 2, tags, "f1");
	tb_add(&t, seq + 2, "FLUSH", "flush", 2, tags, "f2");
	assert_int_not_equal(yw_store_ingest(st, "a1", &t.b, &ack), 0);
	check_r1(d, 60, 40);
	assert_int_equal(one_int(d, "SELECT count(*) FROM alerts"), 40);
	assert_int_equal(one_int(d, "SELECT count(*) FROM rule_hits"), 1);
	/* The next transaction counts only its own. */
	tb_init(&t, NOW + 2 * MIN);
	tb_add(&t, ++seq, "R1", "r1 renamed", 3, tags, "z1");
	tb_add(&t, ++seq, "R1", "r1 last", 2, tags, "z2");
	assert_int_equal(yw_store_ingest(st, "a1", &t.b, &ack), 0);
	assert_int_equal(one_int(d, R1_N), 62);
	assert_int_equal(one_int(d, R1_ALERTS), 42);
	assert_int_equal(one_int(d, R1_TOTAL), 62);
	assert_int_equal(one_int(d, R1_TACTIC), 62);
	assert_int_equal(one_int(d, "SELECT count(*) FROM alert_rollup"), 2);
	assert_int_equal(one_int(d, "SELECT level FROM rule_hits"), 2);
	assert_int_equal(one_int(d, "SELECT title = 'r1 last' FROM rule_hits"), 1);
	assert_int_equal(one_int(d, "SELECT last_seen FROM rule_hits"), NOW + 2 * MIN);
	yw_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_buckets_match_model, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_known_alerts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rule_hits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backfill_equals_ingest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backfill_v4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batched_equals_per_alert, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
