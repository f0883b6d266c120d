/* The SQLite backend's situation screen and rule hit counts (docs/api.md, "Situation";
 * docs/storage.md, schema 5). Ingest keeps rollups in its own transaction (alert_rollup: alerts
 * and occurrences per hour, rule and level; tactic_rollup; rule_hits), triggers count the open
 * alerts (alert_open), the risk snapshot keeps each agent's latest score (agent_risk), so an
 * answer reads a few thousand rollup rows instead of scanning a million alerts. */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

#define DAY_NS     (24 * SIT_HOUR_NS)
#define WEEK_HOURS (YW_SITUATION_DAYS * 24)
/* Hours from the start of the first local day to now: under 7 days, plus the partial hour. */
#define SPAN_MAX (WEEK_HOURS + 2)

enum swstmt { SW_ROLLUP, SW_TACTIC, SW_RULE, SW_RISK, SW_COUNT };

enum srstmt {
	SR_BEGIN,
	SR_COMMIT,
	SR_AGENTS,
	SR_GROUPS,
	SR_OS,
	SR_HOURS,
	SR_EDGE,
	SR_RULES,
	SR_TACTICS,
	SR_OPEN,
	SR_TREND,
	SR_FLEET,
	SR_RISKIEST,
	SR_HITS,
	SR_COUNT
};

/* A rule (id, title, tags) as ingest met it, with the tactics its tags name: the tags are
 * scanned once per rule, not once per alert. */
struct sit_rule {
	char *rule_id, *title, *tags;
	uint32_t hash;    /* of rule_id */
	uint32_t rid;     /* rule_id's number: rules differing only in title or tags share it */
	uint16_t tactics; /* bit i: tactic_ids[i] */
};

/* One occurrence of an alert in the open write transaction. */
struct sit_occ {
	int64_t hour, now;
	uint32_t rule; /* in rules[] */
	uint8_t level, is_new;
};

/* The sum of one rollup key at flush: (hour, rid, level) or (hour, tactic, SUM_TACTIC). */
struct sit_sum {
	int64_t hour;
	uint32_t a, b;
	uint32_t rule; /* one with rid a: its rule_id */
	int used;
	uint64_t slot; /* the key's hash */
	uint64_t alerts, n;
};

/* rule_hits of one rule_id at flush. */
struct sit_hit {
	uint64_t total;
	int64_t last_seen;
	uint32_t rule; /* of the last occurrence: its title */
	int level;
};

/* Ingest records each occurrence in occ[] (cheap, in memory) and the commit writes one upsert
 * per distinct rollup key: a transaction's alerts mostly share a few rules and hours. Under
 * wlock. The rule cache outlives transactions; occ[] holds only the open one's. */
struct yw_sqlite_situation {
	sqlite3_stmt *w[SW_COUNT];
	sqlite3_stmt *r[SR_COUNT];
	struct sit_rule *rules;
	size_t nrules, cap_rules;
	uint32_t *rule_slot; /* open addressing over rules[]: index + 1, 0 = empty */
	size_t rule_slots;
	uint32_t nrids;
	struct sit_occ *occ;
	size_t nocc, cap_occ;
	size_t mark; /* nocc at the current savepoint */
	struct sit_sum *sums;
	size_t nsums, sum_slots;
};

static const char *const swsql[SW_COUNT] = {
    [SW_ROLLUP] = "INSERT INTO alert_rollup (hour, rule_id, level, alerts, n)"
                  " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hour, rule_id, level)"
                  " DO UPDATE SET alerts = alerts + excluded.alerts, n = n + excluded.n",
    [SW_TACTIC] = "INSERT INTO tactic_rollup (hour, tactic, n) VALUES (?1, ?2, ?3)"
                  " ON CONFLICT (hour, tactic) DO UPDATE SET n = n + excluded.n",
    [SW_RULE] = "INSERT INTO rule_hits (rule_id, title, level, total, last_seen)"
                " VALUES (?1, ?2, ?3, ?5, ?4) ON CONFLICT (rule_id) DO UPDATE SET"
                " title = excluded.title, level = excluded.level, total = total + excluded.total,"
                " last_seen = max(last_seen, excluded.last_seen)",
    [SW_RISK] = "INSERT INTO agent_risk (agent, score, ts) VALUES (?1, ?2, ?3)"
                " ON CONFLICT (agent) DO UPDATE SET score = excluded.score, ts = excluded.ts",
};

static const char *const srsql[SR_COUNT] = {
    [SR_BEGIN] = "BEGIN",
    [SR_COMMIT] = "COMMIT",
    [SR_AGENTS] = "SELECT coalesce(sum(revoked_at = 0), 0),"
                  " coalesce(sum(revoked_at = 0 AND online != 0), 0),"
                  " coalesce(sum(revoked_at != 0), 0) FROM agents",
    [SR_GROUPS] = "SELECT grp, count(*) AS c, sum(online != 0) FROM agents WHERE revoked_at = 0"
                  " GROUP BY grp ORDER BY c DESC, grp",
    [SR_OS] = "SELECT os, count(*) AS c, 0 FROM agents WHERE revoked_at = 0"
              " GROUP BY os ORDER BY c DESC, os",
    [SR_HOURS] = "SELECT hour, level, sum(alerts) FROM alert_rollup WHERE hour >= ?1"
                 " AND hour <= ?2 GROUP BY hour, level",
    /* The part of an hour that a local midnight splits (time zones with :30 or :45). */
    [SR_EDGE] = "SELECT level, count(*) FROM alerts WHERE created_at >= ?1 AND created_at < ?2"
                " GROUP BY level",
    [SR_RULES] = "SELECT w.rule_id, coalesce(h.title, ''), coalesce(h.level, w.level), w.c FROM"
                 " (SELECT rule_id, max(level) AS level, sum(n) AS c FROM alert_rollup"
                 " WHERE hour >= ?1 AND hour <= ?2 GROUP BY rule_id"
                 " ORDER BY c DESC, rule_id LIMIT ?3) w"
                 " LEFT JOIN rule_hits h ON h.rule_id = w.rule_id ORDER BY w.c DESC, w.rule_id",
    [SR_TACTICS] = "SELECT tactic, sum(n) AS c FROM tactic_rollup WHERE hour >= ?1"
                   " AND hour <= ?2 GROUP BY tactic ORDER BY c DESC, tactic",
    [SR_OPEN] = "SELECT n FROM alert_open WHERE k = 0",
    [SR_TREND] = "SELECT ts, score FROM risk_history WHERE scope = 'fleet' AND ts >= ?1"
                 " AND ts <= ?2 ORDER BY ts",
    [SR_FLEET] = "SELECT score FROM risk_history WHERE scope = 'fleet' AND ts <= ?1"
                 " ORDER BY ts DESC LIMIT 1",
    /* Walks agent_risk_score backwards (score, then agent) and stops after the first rows. */
    [SR_RISKIEST] = "SELECT a.id, a.name, a.grp, r.score, a.online FROM agent_risk r"
                    " JOIN agents a ON a.num = r.agent WHERE a.revoked_at = 0"
                    " ORDER BY r.score DESC, r.agent DESC LIMIT ?1",
    [SR_HITS] = "SELECT h.rule_id, coalesce(w.c, 0), h.total, h.last_seen FROM rule_hits h"
                " LEFT JOIN (SELECT rule_id, sum(n) AS c FROM alert_rollup WHERE hour >= ?1"
                " AND hour <= ?2 GROUP BY rule_id) w ON w.rule_id = h.rule_id"
                " ORDER BY h.rule_id",
};

int yw_sqlite_situation_prepare(struct sqlite_store *s)
{
	s->sit = calloc(1, sizeof(*s->sit));
	if (!s->sit)
		return YW_ENOMEM;
	int err = 0;
	for (int i = 0; i < SW_COUNT && err == 0; i++)
		err = prepare(s->w, swsql[i], &s->sit->w[i]);
	for (int i = 0; i < SR_COUNT && err == 0; i++)
		err = prepare(s->r, srsql[i], &s->sit->r[i]);
	return err;
}

static void rules_clear(struct yw_sqlite_situation *t);

void yw_sqlite_situation_close(struct sqlite_store *s)
{
	if (!s->sit)
		return;
	for (int i = 0; i < SW_COUNT; i++)
		sqlite3_finalize(s->sit->w[i]);
	for (int i = 0; i < SR_COUNT; i++)
		sqlite3_finalize(s->sit->r[i]);
	rules_clear(s->sit);
	free(s->sit->occ);
	free(s->sit->sums);
	free(s->sit);
	s->sit = NULL;
}

/* Floor division, so times before the epoch would still fall in the right hour or day. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- ingest ---- */

/* The ATT&CK Enterprise tactics, as SIT_TACTICS lists them for SQL. */
static const char *const tactic_ids[YW_SITUATION_TACTICS] = {
    "reconnaissance",  "resource_development",
    "initial_access",  "execution",
    "persistence",     "privilege_escalation",
    "defense_evasion", "credential_access",
    "discovery",       "lateral_movement",
    "collection",      "command_and_control",
    "exfiltration",    "impact",
};

/* Marks in seen[] the tactics of the "attack.<tactic>" strings of a tags array. A scan, not a
 * JSON parse: ingest pays for this on every alert. Escaped or overlong names match nothing. */
static void tag_tactics(const char *tags, unsigned char seen[YW_SITUATION_TACTICS])
{
	for (const char *p = tags; (p = strstr(p, "\"attack.")) != NULL;) {
		char t[24];
		size_t k = 0;
		p += 8;
		for (; p[k] && p[k] != '"' && p[k] != '\\' && k < sizeof(t) - 1; k++)
			t[k] = p[k] == '-' ? '_'
			                   : (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] + 32 : p[k]);
		if (p[k] != '"')
			continue;
		t[k] = '\0';
		for (int i = 0; i < YW_SITUATION_TACTICS; i++)
			if (!strcmp(t, tactic_ids[i]))
				seen[i] = 1;
	}
}

/* FNV-1a: spreads the rule ids over the cache's slots. */
static uint32_t str_hash(const char *v)
{
	uint32_t h = 2166136261u;
	for (; *v; v++)
		h = (h ^ (unsigned char)*v) * 16777619u;
	return h;
}

static int rules_grow(struct yw_sqlite_situation *t)
{
	size_t ns = t->rule_slots ? t->rule_slots * 2 : 64;
	uint32_t *slot = calloc(ns, sizeof(*slot));
	if (!slot)
		return YW_ENOMEM;
	for (size_t i = 0; i < t->nrules; i++) {
		size_t j = t->rules[i].hash & (ns - 1);
		while (slot[j])
			j = (j + 1) & (ns - 1);
		slot[j] = (uint32_t)i + 1;
	}
	free(t->rule_slot);
	t->rule_slot = slot;
	t->rule_slots = ns;
	return 0;
}

/* The cache's number for the alert's (rule_id, title, tags), added with its tactics if new. */
static int rule_find(struct yw_sqlite_situation *t, const struct yw_store_alert *a, uint32_t *out)
{
	const char *tags = a->tags ? a->tags : "";
	uint32_t h = str_hash(a->rule_id), rid = UINT32_MAX;
	if ((t->nrules + 1) * 2 > t->rule_slots && rules_grow(t))
		return YW_ENOMEM;
	size_t j = h & (t->rule_slots - 1);
	/* Linear probing without deletion: every entry of this rule_id lies before the gap. */
	for (; t->rule_slot[j]; j = (j + 1) & (t->rule_slots - 1)) {
		struct sit_rule *r = &t->rules[t->rule_slot[j] - 1];
		if (r->hash != h || strcmp(r->rule_id, a->rule_id))
			continue;
		if (!strcmp(r->title, a->title) && !strcmp(r->tags, tags)) {
			*out = t->rule_slot[j] - 1;
			return 0;
		}
		rid = r->rid;
	}
	if (t->nrules == t->cap_rules) {
		size_t nc = t->cap_rules ? t->cap_rules * 2 : 32;
		struct sit_rule *p = realloc(t->rules, nc * sizeof(*p));
		if (!p)
			return YW_ENOMEM;
		t->rules = p;
		t->cap_rules = nc;
	}
	struct sit_rule r = {.rule_id = strdup(a->rule_id),
	                     .title = strdup(a->title),
	                     .tags = strdup(tags),
	                     .hash = h,
	                     .rid = rid != UINT32_MAX ? rid : t->nrids};
	if (!r.rule_id || !r.title || !r.tags) {
		free(r.rule_id);
		free(r.title);
		free(r.tags);
		return YW_ENOMEM;
	}
	unsigned char seen[YW_SITUATION_TACTICS] = {0};
	tag_tactics(tags, seen);
	for (int i = 0; i < YW_SITUATION_TACTICS; i++)
		if (seen[i])
			r.tactics |= (uint16_t)(1u << i);
	if (rid == UINT32_MAX)
		t->nrids++;
	t->rules[t->nrules] = r;
	t->rule_slot[j] = (uint32_t)++t->nrules;
	*out = (uint32_t)(t->nrules - 1);
	return 0;
}

static void rules_clear(struct yw_sqlite_situation *t)
{
	for (size_t i = 0; i < t->nrules; i++) {
		free(t->rules[i].rule_id);
		free(t->rules[i].title);
		free(t->rules[i].tags);
	}
	free(t->rules);
	free(t->rule_slot);
	t->rules = NULL;
	t->rule_slot = NULL;
	t->nrules = t->cap_rules = t->rule_slots = 0;
	t->nrids = 0;
}

int yw_sqlite_situation_count(struct sqlite_store *s, const struct yw_store_alert *a, int64_t now,
                              int is_new)
{
	struct yw_sqlite_situation *t = s->sit;
	uint32_t rule;
	int err = rule_find(t, a, &rule);
	if (err)
		return err;
	if (t->nocc == t->cap_occ) {
		size_t nc = t->cap_occ ? t->cap_occ * 2 : 256;
		struct sit_occ *p = realloc(t->occ, nc * sizeof(*p));
		if (!p)
			return YW_ENOMEM;
		t->occ = p;
		t->cap_occ = nc;
	}
	t->occ[t->nocc++] = (struct sit_occ){.hour = floor_div(now, SIT_HOUR_NS),
	                                     .now = now,
	                                     .rule = rule,
	                                     .level = (uint8_t)a->level,
	                                     .is_new = is_new != 0};
	return 0;
}

void yw_sqlite_situation_mark(struct sqlite_store *s)
{
	s->sit->mark = s->sit->nocc;
}

void yw_sqlite_situation_undo(struct sqlite_store *s)
{
	s->sit->nocc = s->sit->mark;
}

void yw_sqlite_situation_discard(struct sqlite_store *s)
{
	struct yw_sqlite_situation *t = s->sit;
	if (!t)
		return;
	t->nocc = t->mark = 0;
	/* No occurrence refers to the cache now: a server whose rules keep changing (titles made
	 * per alert) starts it afresh rather than growing it without end. */
	if (t->nrules > YW_STORE_SIT_RULE_CACHE)
		rules_clear(t);
}

static int sums_grow(struct yw_sqlite_situation *t)
{
	size_t ns = t->sum_slots ? t->sum_slots * 2 : 256;
	struct sit_sum *sum = calloc(ns, sizeof(*sum));
	if (!sum)
		return YW_ENOMEM;
	for (size_t i = 0; i < t->sum_slots; i++) {
		if (!t->sums[i].used)
			continue;
		size_t j = t->sums[i].slot & (ns - 1);
		while (sum[j].used)
			j = (j + 1) & (ns - 1);
		sum[j] = t->sums[i];
	}
	free(t->sums);
	t->sums = sum;
	t->sum_slots = ns;
	return 0;
}

/* Adds an occurrence to the sum of key (hour, a, b): b is a level, or SUM_TACTIC with a the
 * tactic's index. */
static int sum_add(struct yw_sqlite_situation *t, int64_t hour, uint32_t a, uint32_t b,
                   uint32_t rule, int is_new)
{
	if ((t->nsums + 1) * 2 > t->sum_slots && sums_grow(t))
		return YW_ENOMEM;
	uint64_t k =
	    (uint64_t)hour * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)a << 8 | b) * 0xC2B2AE3D27D4EB4FULL;
	k ^= k >> 29;
	size_t j = k & (t->sum_slots - 1);
	for (; t->sums[j].used; j = (j + 1) & (t->sum_slots - 1)) {
		struct sit_sum *u = &t->sums[j];
		if (u->hour == hour && u->a == a && u->b == b)
			break;
	}
	struct sit_sum *u = &t->sums[j];
	if (!u->used) {
		*u = (struct sit_sum){
		    .hour = hour, .a = a, .b = b, .rule = rule, .slot = k, .used = 1};
		t->nsums++;
	}
	u->alerts += is_new != 0;
	u->n++;
	return 0;
}

#define SUM_TACTIC 0xff

static int write_sums(struct yw_sqlite_situation *t)
{
	int err = 0;
	for (size_t i = 0; i < t->sum_slots && err == 0; i++) {
		const struct sit_sum *u = &t->sums[i];
		if (!u->used)
			continue;
		sqlite3_stmt *q;
		if (u->b == SUM_TACTIC) {
			q = t->w[SW_TACTIC];
			sqlite3_bind_int64(q, 1, u->hour);
			bind_text(q, 2, tactic_ids[u->a]);
			sqlite3_bind_int64(q, 3, (int64_t)u->n);
		} else {
			q = t->w[SW_ROLLUP];
			sqlite3_bind_int64(q, 1, u->hour);
			bind_text(q, 2, t->rules[u->rule].rule_id);
			sqlite3_bind_int(q, 3, (int)u->b);
			sqlite3_bind_int64(q, 4, (int64_t)u->alerts);
			sqlite3_bind_int64(q, 5, (int64_t)u->n);
		}
		err = run(q);
	}
	return err;
}

/* rule_hits: per rule_id the occurrences, the latest time, and the title and level of the
 * last occurrence (what one upsert per alert left). */
static int write_hits(struct yw_sqlite_situation *t)
{
	struct sit_hit *hit = calloc(t->nrids, sizeof(*hit));
	if (!hit)
		return YW_ENOMEM;
	for (size_t i = 0; i < t->nocc; i++) {
		const struct sit_occ *o = &t->occ[i];
		struct sit_hit *h = &hit[t->rules[o->rule].rid];
		if (!h->total || o->now > h->last_seen)
			h->last_seen = o->now;
		h->total++;
		h->rule = o->rule;
		h->level = o->level;
	}
	int err = 0;
	for (uint32_t i = 0; i < t->nrids && err == 0; i++) {
		if (!hit[i].total)
			continue;
		const struct sit_rule *r = &t->rules[hit[i].rule];
		sqlite3_stmt *q = t->w[SW_RULE];
		bind_text(q, 1, r->rule_id);
		bind_text(q, 2, r->title);
		sqlite3_bind_int(q, 3, hit[i].level);
		sqlite3_bind_int64(q, 4, hit[i].last_seen);
		sqlite3_bind_int64(q, 5, (int64_t)hit[i].total);
		err = run(q);
	}
	free(hit);
	return err;
}

int yw_sqlite_situation_flush(struct sqlite_store *s)
{
	struct yw_sqlite_situation *t = s->sit;
	if (!t || t->nocc == 0)
		return 0;
	int err = 0;
	t->nsums = 0;
	if (t->sums)
		memset(t->sums, 0, t->sum_slots * sizeof(*t->sums));
	for (size_t i = 0; i < t->nocc && err == 0; i++) {
		const struct sit_occ *o = &t->occ[i];
		const struct sit_rule *r = &t->rules[o->rule];
		err = sum_add(t, o->hour, r->rid, o->level, o->rule, o->is_new);
		for (int k = 0; k < YW_SITUATION_TACTICS && err == 0; k++)
			if (r->tactics & (1u << k))
				err = sum_add(t, o->hour, (uint32_t)k, SUM_TACTIC, o->rule, 1);
	}
	if (err == 0)
		err = write_sums(t);
	if (err == 0)
		err = write_hits(t);
	return err;
}

int yw_sqlite_situation_risk(struct sqlite_store *s, int64_t num, double score, int64_t now)
{
	sqlite3_stmt *q = s->sit->w[SW_RISK];
	sqlite3_bind_int64(q, 1, num);
	sqlite3_bind_double(q, 2, score);
	sqlite3_bind_int64(q, 3, now);
	return run(q);
}

/* ---- the situation ---- */

static char *dup_text(sqlite3_stmt *q, int i, int *err)
{
	char *v = strdup(col_text(q, i));
	if (!v)
		*err = YW_ENOMEM;
	return v;
}

static int step_done(sqlite3_stmt *q, int rc, int err)
{
	if (err == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = map_rc(rc);
	sqlite3_reset(q);
	return err;
}

static int read_terminals(struct yw_sqlite_situation *t, struct yw_store_situation *o)
{
	sqlite3_stmt *q = t->r[SR_AGENTS];
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		o->total = (uint64_t)sqlite3_column_int64(q, 0);
		o->online = (uint64_t)sqlite3_column_int64(q, 1);
		o->revoked = (uint64_t)sqlite3_column_int64(q, 2);
		o->offline = o->total - o->online;
	}
	return step_done(q, rc, 0);
}

/* Rows of (name, n, online) by n: the first max by name, the rest summed as "(other)". */
static int read_counts(sqlite3_stmt *q, struct yw_situation_count *out, size_t max, size_t *n)
{
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		uint64_t c = (uint64_t)sqlite3_column_int64(q, 1);
		uint64_t on = (uint64_t)sqlite3_column_int64(q, 2);
		if (*n < max) {
			out[*n].name = dup_text(q, 0, &err);
			out[*n].n = c;
			out[(*n)++].online = on;
			continue;
		}
		if (*n == max) {
			out[max] = (struct yw_situation_count){.name = strdup("(other)")};
			(*n)++;
			if (!out[max].name)
				err = YW_ENOMEM;
		}
		out[max].n += c;
		out[max].online += on;
	}
	return step_done(q, rc, err);
}

/* Alerts created in [from, to), per level: added to add, taken from sub (when not NULL). */
static int edge(struct yw_sqlite_situation *t, int64_t from, int64_t to, uint64_t *add,
                uint64_t *sub)
{
	sqlite3_stmt *q = t->r[SR_EDGE];
	sqlite3_bind_int64(q, 1, from);
	sqlite3_bind_int64(q, 2, to);
	int rc = SQLITE_DONE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int l = sqlite3_column_int(q, 0);
		uint64_t c = (uint64_t)sqlite3_column_int64(q, 1);
		if (l < 0 || l >= YW_LEVEL_COUNT)
			continue;
		add[l] += c;
		if (sub)
			sub[l] -= c;
	}
	return step_done(q, rc, 0);
}

/* The hourly and daily buckets: rollup hours, and where a local midnight falls inside an hour
 * the alerts of its two parts counted exactly. */
static int read_buckets(struct yw_sqlite_situation *t, int64_t now, int tz_min,
                        struct yw_store_situation *o)
{
	int64_t tz = (int64_t)tz_min * 60 * 1000000000LL;
	int64_t today = floor_div(now + tz, DAY_NS) * DAY_NS - tz;
	int64_t start[YW_SITUATION_DAYS + 1];
	for (int i = 0; i <= YW_SITUATION_DAYS; i++)
		start[i] = today - (int64_t)(YW_SITUATION_DAYS - 1 - i) * DAY_NS;
	int64_t hnow = floor_div(now, SIT_HOUR_NS), h0 = floor_div(start[0], SIT_HOUR_NS);
	int64_t span = hnow - h0 + 1;
	if (span < YW_SITUATION_HOURS || span > SPAN_MAX)
		return YW_EINVAL;
	uint64_t(*per)[YW_LEVEL_COUNT] = calloc((size_t)span, sizeof(*per));
	if (!per)
		return YW_ENOMEM;
	sqlite3_stmt *q = t->r[SR_HOURS];
	sqlite3_bind_int64(q, 1, h0);
	sqlite3_bind_int64(q, 2, hnow);
	int rc = SQLITE_DONE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t h = sqlite3_column_int64(q, 0) - h0;
		int l = sqlite3_column_int(q, 1);
		if (h >= 0 && h < span && l >= 0 && l < YW_LEVEL_COUNT)
			per[h][l] += (uint64_t)sqlite3_column_int64(q, 2);
	}
	int err = step_done(q, rc, 0);
	for (int i = 0; i < YW_SITUATION_HOURS; i++) {
		int64_t h = hnow - (YW_SITUATION_HOURS - 1) + i;
		o->hours[i].t = h * SIT_HOUR_NS;
		memcpy(o->hours[i].n, per[h - h0], sizeof(o->hours[i].n));
	}
	/* Each hour goes to the day its start is in; a split hour's later part moves on. */
	int d = -1;
	for (int i = 0; i < YW_SITUATION_DAYS; i++)
		o->days[i].t = start[i];
	for (int64_t h = 0; h < span; h++) {
		int64_t hs = (h0 + h) * SIT_HOUR_NS;
		while (d + 1 < YW_SITUATION_DAYS && hs >= start[d + 1])
			d++;
		for (int l = 0; d >= 0 && l < YW_LEVEL_COUNT; l++)
			o->days[d].n[l] += per[h][l];
	}
	for (int i = 0; i < YW_SITUATION_DAYS && err == 0; i++) {
		int64_t hb = floor_div(start[i], SIT_HOUR_NS);
		if (hb * SIT_HOUR_NS == start[i])
			continue;
		err = edge(t, start[i], (hb + 1) * SIT_HOUR_NS, o->days[i].n,
		           i ? o->days[i - 1].n : NULL);
	}
	memcpy(o->today, o->days[YW_SITUATION_DAYS - 1].n, sizeof(o->today));
	free(per);
	return err;
}

static int read_rules(struct yw_sqlite_situation *t, int64_t hnow, struct yw_store_situation *o)
{
	sqlite3_stmt *q = t->r[SR_RULES];
	sqlite3_bind_int64(q, 1, hnow - (WEEK_HOURS - 1));
	sqlite3_bind_int64(q, 2, hnow);
	sqlite3_bind_int(q, 3, YW_SITUATION_TOP);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && o->n_rules < YW_SITUATION_TOP && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_situation_rule *r = &o->rules[o->n_rules++];
		r->rule_id = dup_text(q, 0, &err);
		r->title = dup_text(q, 1, &err);
		r->level = sqlite3_column_int(q, 2);
		r->count = (uint64_t)sqlite3_column_int64(q, 3);
	}
	return step_done(q, rc, err);
}

static int read_tactics(struct yw_sqlite_situation *t, int64_t hnow, struct yw_store_situation *o)
{
	sqlite3_stmt *q = t->r[SR_TACTICS];
	sqlite3_bind_int64(q, 1, hnow - (WEEK_HOURS - 1));
	sqlite3_bind_int64(q, 2, hnow);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && o->n_tactics < YW_SITUATION_TACTICS &&
	       (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_situation_count *c = &o->tactics[o->n_tactics++];
		c->name = dup_text(q, 0, &err);
		c->n = (uint64_t)sqlite3_column_int64(q, 1);
	}
	return step_done(q, rc, err);
}

static int read_open(struct yw_sqlite_situation *t, struct yw_store_situation *o)
{
	sqlite3_stmt *q = t->r[SR_OPEN];
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		o->open_alerts = (uint64_t)sqlite3_column_int64(q, 0);
	return step_done(q, rc, 0);
}

/* The fleet's points of the last 24 h, evenly thinned to YW_SITUATION_TREND (first and last
 * kept) when the server recorded more (restarts add points). */
static int read_trend(struct yw_sqlite_situation *t, int64_t now, struct yw_store_situation *o)
{
	struct yw_store_risk_point *all = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = t->r[SR_TREND];
	sqlite3_bind_int64(q, 1, now - DAY_NS);
	sqlite3_bind_int64(q, 2, now);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : YW_SITUATION_TREND;
			struct yw_store_risk_point *p = realloc(all, nc * sizeof(*p));
			if (!p) {
				err = YW_ENOMEM;
				break;
			}
			all = p;
			cap = nc;
		}
		all[n++] = (struct yw_store_risk_point){.ts = sqlite3_column_int64(q, 0),
		                                        .score = sqlite3_column_double(q, 1)};
	}
	err = step_done(q, rc, err);
	if (err == 0 && n <= YW_SITUATION_TREND) {
		if (n)
			memcpy(o->trend, all, n * sizeof(*all));
		o->n_trend = n;
	} else if (err == 0) {
		for (size_t i = 0; i < YW_SITUATION_TREND; i++)
			o->trend[i] = all[i * (n - 1) / (YW_SITUATION_TREND - 1)];
		o->n_trend = YW_SITUATION_TREND;
	}
	free(all);
	if (err || o->n_trend) {
		o->fleet_score = o->n_trend ? o->trend[o->n_trend - 1].score : 0;
		return err;
	}
	/* No point in 24 h (the server was down): the last one recorded, if any. */
	q = t->r[SR_FLEET];
	sqlite3_bind_int64(q, 1, now);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		o->fleet_score = sqlite3_column_double(q, 0);
	return step_done(q, rc, 0);
}

static int read_riskiest(struct yw_sqlite_situation *t, struct yw_store_situation *o)
{
	sqlite3_stmt *q = t->r[SR_RISKIEST];
	sqlite3_bind_int(q, 1, YW_SITUATION_TOP);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && o->n_riskiest < YW_SITUATION_TOP &&
	       (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_situation_terminal *a = &o->riskiest[o->n_riskiest++];
		a->id = dup_text(q, 0, &err);
		a->name = dup_text(q, 1, &err);
		a->group = dup_text(q, 2, &err);
		a->score = sqlite3_column_double(q, 3);
		a->online = sqlite3_column_int(q, 4) != 0;
	}
	return step_done(q, rc, err);
}

int yw_sqlite_situation(struct yw_store *st, int64_t now, int tz_min,
                        struct yw_store_situation *out)
{
	struct sqlite_store *s = S(st);
	struct yw_sqlite_situation *t = s->sit;
	memset(out, 0, sizeof(*out));
	out->generated_at = now;
	int64_t hnow = floor_div(now, SIT_HOUR_NS);
	pthread_mutex_lock(&s->rlock);
	/* One read transaction: every part from the same snapshot. */
	int err = run(t->r[SR_BEGIN]);
	if (err)
		goto out;
	err = read_terminals(t, out);
	if (err == 0)
		err =
		    read_counts(t->r[SR_GROUPS], out->groups, YW_SITUATION_GROUPS, &out->n_groups);
	if (err == 0)
		err = read_counts(t->r[SR_OS], out->os, YW_SITUATION_OS, &out->n_os);
	if (err == 0)
		err = read_buckets(t, now, tz_min, out);
	if (err == 0)
		err = read_rules(t, hnow, out);
	if (err == 0)
		err = read_tactics(t, hnow, out);
	if (err == 0)
		err = read_open(t, out);
	if (err == 0)
		err = read_trend(t, now, out);
	if (err == 0)
		err = read_riskiest(t, out);
	run(t->r[SR_COMMIT]);
out:
	pthread_mutex_unlock(&s->rlock);
	if (err)
		yw_store_situation_free(out);
	return err;
}

int yw_sqlite_rule_hits(struct yw_store *st, int64_t now, yw_store_rule_hit_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	int64_t hnow = floor_div(now, SIT_HOUR_NS);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->sit->r[SR_HITS];
	sqlite3_bind_int64(q, 1, hnow - (WEEK_HOURS - 1));
	sqlite3_bind_int64(q, 2, hnow);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_rule_hit h = {
		    .rule_id = col_text(q, 0),
		    .count_7d = (uint64_t)sqlite3_column_int64(q, 1),
		    .count_total = (uint64_t)sqlite3_column_int64(q, 2),
		    .last_seen = sqlite3_column_int64(q, 3),
		};
		err = cb(ctx, &h);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}
