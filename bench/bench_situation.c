/* The big screen at scale: builds a store with 10,000 terminals and 1,000,000 alerts spread
 * over 7 days (Sigma-like rules, levels and ATT&CK tags, repeats folded by de-duplication)
 * through the store API, then times every query the dashboard makes and prints the median of
 * several runs. docs/performance.md, "Situation at 10,000 terminals / 1,000,000 alerts".
 * Run: bench_situation [--agents N] [--alerts N] [--runs N] [--dir D] [--keep]
 *      bench_situation --reuse D [--runs N]   (times the queries on a kept store) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/store.h"

#define SEC  1000000000LL
#define HOUR (3600 * SEC)
#define DAY  (24 * HOUR)

/* Records (each with one alert) per agent batch, and batches per transaction. */
#define PER_BATCH 4
#define PER_TX    1000

static const struct {
	const char *id, *title, *tags;
	int level;
} rules[] = {
    {"b2b2c3d4-0001", "SSH brute force", "[\"attack.credential_access\",\"attack.t1110\"]", 3},
    {"b2b2c3d4-0002", "Failed login", "[\"attack.credential-access\",\"attack.t1110.001\"]", 1},
    {"b2b2c3d4-0003", "Sudo to root", "[\"attack.privilege_escalation\",\"attack.t1548.003\"]", 2},
    {"b2b2c3d4-0004", "Firewall drop", "[]", 0},
    {"b2b2c3d4-0005", "Login accepted", "[\"attack.initial_access\",\"attack.t1078\"]", 0},
    {"b2b2c3d4-0006", "New user created", "[\"attack.persistence\",\"attack.t1136.001\"]", 2},
    {"b2b2c3d4-0007", "Cron job modified", "[\"attack.persistence\",\"attack.execution\"]", 2},
    {"b2b2c3d4-0008", "Reverse shell", "[\"attack.execution\",\"attack.command-and-control\"]", 4},
    {"b2b2c3d4-0009", "Suspicious curl to pastebin",
     "[\"attack.command_and_control\",\"attack.t1105\"]", 3},
    {"b2b2c3d4-0010", "Audit log cleared", "[\"attack.defense_evasion\",\"attack.t1070.002\"]", 3},
    {"b2b2c3d4-0011", "Shadow file read", "[\"attack.credential_access\",\"attack.t1003.008\"]", 3},
    {"b2b2c3d4-0012", "Network scan", "[\"attack.discovery\",\"attack.t1046\"]", 1},
    {"b2b2c3d4-0013", "SSH lateral login", "[\"attack.lateral_movement\",\"attack.t1021.004\"]", 2},
    {"b2b2c3d4-0014", "Archive of home dirs", "[\"attack.collection\",\"attack.t1560\"]", 1},
    {"b2b2c3d4-0015", "Large upload", "[\"attack.exfiltration\",\"attack.t1048\"]", 3},
    {"b2b2c3d4-0016", "Crypto miner", "[\"attack.impact\",\"attack.t1496\"]", 4},
    {"b2b2c3d4-0017", "Kernel module loaded", "[\"attack.persistence\",\"attack.t1547.006\"]", 2},
    {"b2b2c3d4-0018", "Package installed", "[]", 0},
    {"b2b2c3d4-0019", "Service stopped", "[\"attack.impact\",\"attack.t1489\"]", 1},
    {"b2b2c3d4-0020", "Recon commands", "[\"attack.discovery\",\"attack.t1082\"]", 1},
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const char *const oses[] = {"Debian 12",     "Ubuntu 22.04", "Ubuntu 24.04",
                                   "Rocky Linux 9", "Debian 11",    "Kylin V10"};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- the queries ---- */

struct ctx {
	struct yw_store *st;
	int64_t now;
	size_t rows;
};

static int count_agent(void *c, const struct yw_store_agent *a)
{
	((struct ctx *)c)->rows++;
	return 0;
}
static int count_alert(void *c, const struct yw_store_alert_row *a)
{
	((struct ctx *)c)->rows++;
	return 0;
}
static int count_point(void *c, const struct yw_store_risk_point *p)
{
	((struct ctx *)c)->rows++;
	return 0;
}
#if YW_STORE_SCHEMA_VERSION >= 5
static int count_hit(void *c, const struct yw_store_rule_hit *h)
{
	((struct ctx *)c)->rows++;
	return 0;
}

#endif

#if YW_STORE_SCHEMA_VERSION >= 5 /* builds against an older store.h to time its ingest */
static int q_situation(struct ctx *c, int tz)
{
	struct yw_store_situation *o = malloc(sizeof(*o));
	if (!o)
		return YW_ENOMEM;
	int err = yw_store_situation(c->st, c->now, tz, o);
	if (err == 0)
		c->rows = o->n_rules + o->n_groups + o->n_riskiest + o->n_tactics;
	yw_store_situation_free(o);
	free(o);
	return err;
}
static int q_situation_utc(struct ctx *c)
{
	return q_situation(c, 0);
}
static int q_situation_india(struct ctx *c)
{
	return q_situation(c, 330);
}
#endif

static int q_agents(struct ctx *c)
{
	return yw_store_agent_list(c->st, count_agent, c);
}
static int q_newest(struct ctx *c)
{
	struct yw_store_alert_query q = {.limit = 50, .newest = 1};
	return yw_store_alerts(c->st, &q, count_alert, c);
}
/* /alerts?status=new&limit=100 reads the first 100 alerts and filters them (docs/api.md). */
static int q_first100(struct ctx *c)
{
	struct yw_store_alert_query q = {.limit = 100};
	return yw_store_alerts(c->st, &q, count_alert, c);
}
static int q_open_newest(struct ctx *c)
{
	struct yw_store_alert_query q = {.limit = 100, .open = 1, .newest = 1};
	return yw_store_alerts(c->st, &q, count_alert, c);
}
static int q_stats(struct ctx *c)
{
	struct yw_store_stats s;
	return yw_store_stats(c->st, &s);
}
static int q_history(struct ctx *c)
{
	return yw_store_risk_history(c->st, "fleet", c->now - DAY, count_point, c);
}
#if YW_STORE_SCHEMA_VERSION >= 5
static int q_hits(struct ctx *c)
{
	return yw_store_rule_hits(c->st, c->now, count_hit, c);
}
#endif
static int q_risk(struct ctx *c)
{
	double fleet;
	return yw_store_risk(c->st, c->now, NULL, NULL, NULL, &fleet);
}

static const struct {
	const char *name;
	int (*fn)(struct ctx *c);
} queries[] = {
#if YW_STORE_SCHEMA_VERSION >= 5
    {"situation (tz=0)", q_situation_utc},
    {"situation (tz=330)", q_situation_india},
#endif
    {"agents (list)", q_agents},
    {"alerts newest=1 limit=50", q_newest},
    {"alerts limit=100 (status=new page)", q_first100},
    {"alerts open newest limit=100", q_open_newest},
    {"stats", q_stats},
    {"risk/history fleet 24 h", q_history},
#if YW_STORE_SCHEMA_VERSION >= 5
    {"rules/hits", q_hits},
#endif
    {"risk (live, every agent)", q_risk},
};
#define NQUERIES (sizeof(queries) / sizeof(queries[0]))

/* ---- the data ---- */

struct gen {
	struct yw_store_ingest_item items[PER_TX];
	struct yw_store_batch batches[PER_TX];
	struct yw_record recs[PER_TX][PER_BATCH];
	struct yw_store_alert alerts[PER_TX][PER_BATCH];
	const char *events[PER_TX][PER_BATCH];
	char lines[PER_TX][PER_BATCH][128];
	char jsons[PER_TX][PER_BATCH][256];
	char keys[PER_TX][PER_BATCH][24];
	unsigned char outcomes[PER_TX][PER_BATCH];
};

/* Weight 1/(i+1): a few noisy rules, a long tail. cum: the cumulative weights. */
static void rule_weights(double cum[NRULES])
{
	double sum = 0;
	for (size_t i = 0; i < NRULES; i++)
		cum[i] = (sum += 1.0 / (double)(i + 1));
	for (size_t i = 0; i < NRULES; i++)
		cum[i] /= sum;
}

static size_t pick_rule(const double cum[NRULES], uint64_t *seed)
{
	double x = (double)rnd(seed) / 2147483648.0;
	for (size_t i = 0; i < NRULES; i++)
		if (x < cum[i])
			return i;
	return NRULES - 1;
}

static int generate(struct yw_store *st, long agents, long total, int64_t now, char (*ids)[16],
                    uint64_t *next, unsigned long long *repeats)
{
	struct gen *g = calloc(1, sizeof(*g));
	if (!g)
		return YW_ENOMEM;
	uint64_t seed = 1;
	double cum[NRULES];
	rule_weights(cum);
	int64_t start = now - 7 * DAY + HOUR;
	long done = 0;
	int err = 0;
	while (done < total && err == 0) {
		size_t n = 0;
		for (; n < PER_TX && done < total; n++) {
			/* 30 % of the alerts on 10 busy hosts attacked from a few addresses:
			 * repeats happen there. */
			int hot = rnd(&seed) % 10 < 3;
			long a =
			    hot ? (long)(rnd(&seed) % 10) : (long)(rnd(&seed) % (uint32_t)agents);
			size_t k = 0;
			int64_t t = start + (int64_t)((double)done / (double)total *
			                              (double)(7 * DAY - HOUR));
			for (; k < PER_BATCH && done < total; k++, done++) {
				size_t r = pick_rule(cum, &seed);
				unsigned ip = rnd(&seed) % (hot ? 5 : 200);
				snprintf(g->keys[n][k], sizeof(g->keys[n][k]), "203.0.113.%u", ip);
				int len =
				    snprintf(g->lines[n][k], sizeof(g->lines[n][k]),
				             "Mar 10 12:00:00 %s sshd[%ld]: %s from 203.0.113.%u "
				             "port 22 ssh2",
				             ids[a], done % 65536, rules[r].title, ip);
				snprintf(g->jsons[n][k], sizeof(g->jsons[n][k]),
				         "{\"host.name\":\"%s\",\"process.name\":\"sshd\","
				         "\"event.outcome\":\"failure\",\"user.name\":\"admin\","
				         "\"source.ip\":\"203.0.113.%u\"}",
				         ids[a], ip);
				g->recs[n][k] =
				    (struct yw_record){.seq = ++next[a],
				                       .ts_ns = t,
				                       .kind = YW_REC_LOG,
				                       .source = "file:/var/log/auth.log",
				                       .source_len = 22,
				                       .data = g->lines[n][k],
				                       .len = (uint32_t)len};
				g->events[n][k] = g->jsons[n][k];
				g->alerts[n][k] =
				    (struct yw_store_alert){.record = k,
				                            .rule_id = rules[r].id,
				                            .title = rules[r].title,
				                            .level = rules[r].level,
				                            .tags = rules[r].tags,
				                            .dedup_key = g->keys[n][k]};
			}
			g->batches[n] = (struct yw_store_batch){.records = g->recs[n],
			                                        .n = k,
			                                        .events = g->events[n],
			                                        .alerts = g->alerts[n],
			                                        .n_alerts = k,
			                                        .now = t,
			                                        .outcomes = g->outcomes[n]};
			g->items[n] = (struct yw_store_ingest_item){.agent_id = ids[a],
			                                            .batch = &g->batches[n]};
		}
		err = yw_store_ingest_many(st, g->items, n);
		for (size_t i = 0; i < n && err == 0; i++) {
			err = g->items[i].rc;
			for (size_t k = 0; k < g->batches[i].n_alerts; k++)
				*repeats += g->outcomes[i][k] == YW_STORE_ALERT_REPEAT;
		}
	}
	free(g);
	return err;
}

int main(int argc, char **argv)
{
	long agents = 10000, total = 1000000, runs = 7;
	int keep = 0, reuse = 0;
	char tmp[] = "/tmp/yw_bench_situation_XXXXXX";
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--agents") && i + 1 < argc)
			agents = atol(argv[++i]);
		else if (!strcmp(argv[i], "--alerts") && i + 1 < argc)
			total = atol(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atol(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			keep = 1;
		else if (!strcmp(argv[i], "--reuse") && i + 1 < argc)
			dir = argv[++i], reuse = keep = 1;
		else {
			fprintf(stderr,
			        "usage: bench_situation [--agents N] [--alerts N] [--runs N]"
			        " [--dir D] [--keep]\n");
			return 2;
		}
	}
	if (agents < 100 || agents > 1000000 || total < 1 || runs < 1 || runs > 101) {
		fprintf(stderr, "bench_situation: agents 100..1000000, alerts >= 1, runs 1..101\n");
		return 2;
	}
	if (!dir) {
		if (!mkdtemp(tmp)) {
			perror("mkdtemp");
			return 1;
		}
		dir = tmp;
	}
	struct yw_store *st;
	int err = yw_store_open_sqlite(dir, NULL, &st);
	if (err) {
		fprintf(stderr, "bench_situation: open %s: %s\n", dir, yw_store_strerror(err));
		return 1;
	}
	char(*ids)[16] = calloc((size_t)agents, sizeof(*ids));
	uint64_t *next = calloc((size_t)agents, sizeof(*next));
	if (!ids || !next)
		return 1;
	int64_t now = wall_ns();
	double t0 = now_s();
	for (long a = 0; a < agents && err == 0 && !reuse; a++) {
		char name[32], grp[16];
		snprintf(ids[a], sizeof(ids[a]), "ag-%06ld", a);
		snprintf(name, sizeof(name), "host-%06ld", a);
		/* 30 departments of uneven size. */
		snprintf(grp, sizeof(grp), "dept-%02ld", (a * a) % 997 % 30);
		struct yw_store_agent ag = {.id = ids[a],
		                            .name = name,
		                            .group = grp,
		                            .os = oses[a % 6],
		                            .version = "1.0.0",
		                            .cert_serial = "01",
		                            .addresses = "[\"10.0.0.1\"]",
		                            .enrolled_at = now - 30 * DAY};
		err = yw_store_agent_add(st, &ag);
		if (err == 0 && a % 10 < 7)
			err = yw_store_agent_seen(st, ids[a], NULL, NULL, now);
	}
	double t_agents = now_s() - t0;
	unsigned long long repeats = 0;
	t0 = now_s();
	if (err == 0 && !reuse)
		err = generate(st, agents, total, now, ids, next, &repeats);
	double t_gen = now_s() - t0;
	for (long a = agents - 20; a < agents && err == 0 && !reuse; a++)
		err = yw_store_agent_revoke(st, ids[a], now);
	double t_snap = 0;
	for (int i = 2; i >= 0 && err == 0 && !reuse; i--) {
		t0 = now_s();
		err = yw_store_risk_snapshot(st, now - i * 5 * 60 * SEC);
		t_snap = now_s() - t0;
	}
	if (err) {
		fprintf(stderr, "bench_situation: building the data: %s\n", yw_store_strerror(err));
		return 1;
	}
	if (!reuse)
		printf("data: %ld agents in %.1f s (added and 70%% seen); %ld alerts (%llu "
		       "repeats) in "
		       "%.1f s = %.0f alerts/s; risk snapshot %.2f s\n",
		       agents, t_agents, total, repeats, t_gen, (double)total / t_gen, t_snap);

	struct ctx c = {.st = st, .now = now};
	double *ms = calloc((size_t)runs, sizeof(*ms));
	if (!ms)
		return 1;
	printf("%-36s %10s %10s %10s %8s\n", "query", "median ms", "min ms", "max ms", "rows");
	for (size_t q = 0; q < NQUERIES; q++) {
		for (long r = 0; r < runs; r++) {
			c.rows = 0;
			t0 = now_s();
			err = queries[q].fn(&c);
			ms[r] = (now_s() - t0) * 1000;
			if (err) {
				fprintf(stderr, "bench_situation: %s: %s\n", queries[q].name,
				        yw_store_strerror(err));
				return 1;
			}
		}
		qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
		printf("%-36s %10.2f %10.2f %10.2f %8zu\n", queries[q].name, ms[runs / 2], ms[0],
		       ms[runs - 1], c.rows);
	}
	free(ms);
	free(ids);
	free(next);
	yw_store_close(st);
	if (!keep && dir == tmp)
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	else
		printf("kept %s\n", dir);
	return 0;
}
