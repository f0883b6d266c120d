/* Sigma correlation windows: one hash table of groups per correlation, fixed-stride group
 * records in a pool (no allocation per input once the pool has grown), LRU expiry and
 * eviction, and alerts chained upward. Semantics: docs/sigma.md, "Correlation". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/correlate_int.h"
#include "yiwang/error.h"

#include "yw_limits.h"

/* A base-rule match or a chained alert, as one correlation sees it. */
struct input {
	const struct yw_event *ev;
	const struct yw_corr_alert *al;
	int64_t ts;
};

struct ring_ent {
	int64_t ts;
	double sum;
	uint64_t n;
};

struct vent {
	uint64_t h;
	int64_t ts;
};

static int feed_one(struct yw_corr *c, uint32_t ci, uint32_t pos, const struct input *in,
                    yw_corr_alert_fn cb, void *ud);

static uint64_t hash64(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		s += 8;
		len -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0x94d049bb133111ebULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

static struct yw_corr_grp *grp_at(const struct yw_corr_one *k, uint32_t i)
{
	return (struct yw_corr_grp *)(k->pool + (size_t)i * k->stride);
}

static void *grp_state(struct yw_corr_grp *g)
{
	return g + 1;
}

static const char *grp_key(const struct yw_corr_grp *g)
{
	return g->keyext ? g->keyext : g->key;
}

static int64_t imax(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t imin(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static bool cond_ok(const struct yw_sigma_corr *k, double v)
{
	for (size_t i = 0; i < k->nconds; i++) {
		double t = (double)k->conds[i].value;
		const char *op = k->conds[i].op;
		bool ok = !strcmp(op, "gt")    ? v > t
		          : !strcmp(op, "gte") ? v >= t
		          : !strcmp(op, "lt")  ? v < t
		          : !strcmp(op, "lte") ? v <= t
		          : !strcmp(op, "eq")  ? v == t
		                               : v != t;
		if (!ok)
			return false;
	}
	return true;
}

/* ---- group table ---- */

static void lru_unlink(struct yw_corr_one *k, uint32_t i)
{
	struct yw_corr_grp *g = grp_at(k, i);
	if (g->prev != YW_CORR_NIL)
		grp_at(k, g->prev)->next = g->next;
	else
		k->lru_head = g->next;
	if (g->next != YW_CORR_NIL)
		grp_at(k, g->next)->prev = g->prev;
	else
		k->lru_tail = g->prev;
}

static void lru_append(struct yw_corr_one *k, uint32_t i)
{
	struct yw_corr_grp *g = grp_at(k, i);
	g->prev = k->lru_tail;
	g->next = YW_CORR_NIL;
	if (k->lru_tail != YW_CORR_NIL)
		grp_at(k, k->lru_tail)->next = i;
	else
		k->lru_head = i;
	k->lru_tail = i;
}

static void reset_state(struct yw_corr_one *k, struct yw_corr_grp *g)
{
	g->first = INT64_MAX;
	g->last = INT64_MIN;
	g->cnt = 0;
	g->sum = 0;
	g->mask = 0;
	g->n = g->head = 0;
	if (k->type == YW_CT_TEMPORAL || k->type == YW_CT_TEMPORAL_ORDERED) {
		int64_t *t = grp_state(g);
		for (size_t i = 0; i < k->nsrcs; i++)
			t[i] = INT64_MIN;
	}
}

/* Removes group i from the table (backward-shift deletion keeps probes short). */
static void grp_remove(struct yw_corr *c, struct yw_corr_one *k, uint32_t i)
{
	struct yw_corr_grp *g = grp_at(k, i);
	uint32_t m = k->nslots - 1, s = (uint32_t)g->hash & m;
	while (k->slots[s] != i)
		s = (s + 1) & m;
	for (uint32_t j = (s + 1) & m; k->slots[j] != YW_CORR_NIL; j = (j + 1) & m) {
		uint32_t home = (uint32_t)grp_at(k, k->slots[j])->hash & m;
		/* Move slots[j] into the hole at s when its home is not in (s, j]. */
		if (((j - home) & m) >= ((j - s) & m)) {
			k->slots[s] = k->slots[j];
			s = j;
		}
	}
	k->slots[s] = YW_CORR_NIL;
	lru_unlink(k, i);
	if (g->keyext) {
		k->keybytes -= g->keylen;
		free(g->keyext);
		g->keyext = NULL;
	}
	g->next = k->freel;
	k->freel = i;
	k->live--;
	c->st.groups--;
}

static int grow(struct yw_corr_one *k)
{
	uint32_t nc = k->cappool ? k->cappool * 2 : 64;
	if (nc > k->maxgroups)
		nc = k->maxgroups;
	unsigned char *p = realloc(k->pool, (size_t)nc * k->stride);
	if (!p)
		return YW_ENOMEM;
	k->pool = p;
	k->cappool = nc;
	uint32_t ns = 16;
	while (ns < 2 * nc)
		ns *= 2;
	if (ns == k->nslots)
		return 0;
	uint32_t *sl = malloc(ns * sizeof(*sl));
	if (!sl)
		return YW_ENOMEM;
	memset(sl, 0xff, ns * sizeof(*sl));
	for (uint32_t s = 0; s < k->nslots; s++) {
		uint32_t i = k->slots[s];
		if (i == YW_CORR_NIL)
			continue;
		uint32_t j = (uint32_t)grp_at(k, i)->hash & (ns - 1);
		while (sl[j] != YW_CORR_NIL)
			j = (j + 1) & (ns - 1);
		sl[j] = i;
	}
	free(k->slots);
	k->slots = sl;
	k->nslots = ns;
	return 0;
}

/* ---- alerts ---- */

static int emit(struct yw_corr *c, struct yw_corr_one *k, struct yw_corr_grp *g, double v,
                int64_t first, yw_corr_alert_fn cb, void *ud)
{
	const char *p = grp_key(g);
	for (size_t i = 0; i < k->k->ngroup_by; i++) {
		k->vals[i] = p;
		p += strlen(p) + 1;
	}
	size_t nb = 0;
	for (size_t i = 0; i < k->nsrcs; i++) {
		if (!(g->mask >> i & 1))
			continue;
		for (size_t j = 0; j < k->srcs[i].nbase; j++) {
			const struct yw_rule_info *r = k->srcs[i].base[j];
			size_t x = 0;
			while (x < nb && k->base[x] != r)
				x++;
			if (x == nb)
				k->base[nb++] = r;
		}
	}
	struct yw_corr_alert a = {
	    .rule = &k->doc->info,
	    .type = k->k->type,
	    .group_by = (const char *const *)k->k->group_by,
	    .group_values = k->vals,
	    .ngroup = k->k->ngroup_by,
	    .field = k->k->cond_field,
	    .value = v,
	    .first_ns = first == INT64_MAX ? g->last : first,
	    .last_ns = g->last,
	    .base = k->base,
	    .nbase = nb,
	};
	c->st.alerts++;
	int rc = k->output && cb ? cb(ud, &a) : 0;
	struct input up = {.al = &a, .ts = a.last_ns};
	for (size_t i = 0; i < k->parents.n && !rc; i++)
		rc = feed_one(c, k->parents.v[i].corr, k->parents.v[i].pos, &up, cb, ud);
	return rc;
}

/* Rules seen in the window, for temporal types: any order, or the longest ordered prefix. */
static size_t temporal_count(const struct yw_corr_one *k, struct yw_corr_grp *g, int64_t lo,
                             int64_t *first)
{
	const int64_t *t = grp_state(g);
	size_t n = 0;
	*first = INT64_MAX;
	for (size_t i = 0; i < k->nsrcs; i++) {
		bool in = t[i] != INT64_MIN && t[i] >= lo;
		if (k->type == YW_CT_TEMPORAL_ORDERED && !in)
			break;
		if (in) {
			n++;
			*first = imin(*first, t[i]);
		}
	}
	return n;
}

/* The value of an at_close group's window, or NAN when the type has none. */
static double closed_value(const struct yw_corr_one *k, struct yw_corr_grp *g, int64_t *first)
{
	*first = g->first;
	switch (k->type) {
	case YW_CT_EVENT_COUNT:
		return (double)g->cnt;
	case YW_CT_VALUE_COUNT:
		return (double)g->n;
	case YW_CT_TEMPORAL:
	case YW_CT_TEMPORAL_ORDERED: {
		int64_t f;
		double v = (double)temporal_count(k, g, INT64_MIN + 1, &f);
		return v;
	}
	case YW_CT_VALUE_SUM:
		return g->sum;
	case YW_CT_VALUE_AVG:
		return g->cnt ? g->sum / (double)g->cnt : NAN;
	default:
		return NAN;
	}
}

/* Decides an at_close group's finished window. */
static int close_window(struct yw_corr *c, struct yw_corr_one *k, struct yw_corr_grp *g,
                        yw_corr_alert_fn cb, void *ud)
{
	int64_t first;
	double v = closed_value(k, g, &first);
	if (g->mask && !isnan(v) && cond_ok(k->k, v))
		return emit(c, k, g, v, first, cb, ud);
	return 0;
}

/* Drops groups whose newest input is older than the window plus the late tolerance. */
static int expire(struct yw_corr *c, struct yw_corr_one *k, yw_corr_alert_fn cb, void *ud)
{
	int64_t lo = k->newest - k->span - c->late_ns;
	int rc = 0;
	while (k->lru_head != YW_CORR_NIL && !rc) {
		uint32_t i = k->lru_head;
		struct yw_corr_grp *g = grp_at(k, i);
		if (g->touched >= lo)
			break;
		if (k->at_close)
			rc = close_window(c, k, g, cb, ud);
		grp_remove(c, k, i);
		c->st.expired++;
	}
	return rc;
}

/* ---- inputs ---- */

static const struct yw_field *in_field(const struct input *in, const struct yw_corr_fref *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct yw_field *x = yw_event_get_n(in->ev, f->names[i], f->lens[i]);
		if (x && x->type != YW_T_NULL)
			return x;
	}
	return NULL;
}

/* The text of field f in the input, or NULL. */
static const char *in_text(const struct input *in, const struct yw_corr_fref *f, size_t *len)
{
	if (in->al) {
		for (size_t i = 0; f->n && i < in->al->ngroup; i++)
			if (!strcmp(in->al->group_by[i], f->names[0])) {
				*len = strlen(in->al->group_values[i]);
				return in->al->group_values[i];
			}
		return NULL;
	}
	const struct yw_field *x = in_field(in, f);
	if (!x)
		return NULL;
	*len = x->len;
	return x->text;
}

static bool in_number(const struct input *in, const struct yw_corr_fref *f, double *v)
{
	if (in->al) {
		if (f->n && in->al->field && !strcmp(in->al->field, f->names[0])) {
			*v = in->al->value;
			return true;
		}
		return false;
	}
	const struct yw_field *x = in_field(in, f);
	if (!x)
		return false;
	if (x->type == YW_T_INT) {
		*v = (double)x->num;
		return true;
	}
	char *end;
	*v = strtod(x->text, &end);
	return x->len && end == x->text + x->len && isfinite(*v);
}

/* Builds the group key (values NUL-terminated, each cut at YW_CORR_MAX_GROUP_VALUE). Returns
 * its length, or 0 when a group-by field is missing. */
static size_t make_key(const struct yw_corr_one *k, const struct yw_corr_src *s,
                       const struct input *in, char *buf)
{
	size_t n = 0;
	for (size_t i = 0; i < k->k->ngroup_by; i++) {
		size_t len = 0;
		const char *v = in_text(in, &s->gb[i], &len);
		if (!v)
			return 0;
		if (len > YW_CORR_MAX_GROUP_VALUE)
			len = YW_CORR_MAX_GROUP_VALUE;
		memcpy(buf + n, v, len);
		n += len;
		buf[n++] = '\0';
	}
	if (n == 0)
		buf[n++] = '\0'; /* no group-by: one group */
	return n;
}

/* Finds or creates the group for key; may evict the least recently updated group. */
static int group_get(struct yw_corr *c, struct yw_corr_one *k, const char *key, size_t len,
                     yw_corr_alert_fn cb, void *ud, uint32_t *out)
{
	uint64_t h = hash64(key, len);
	if (k->nslots) {
		uint32_t m = k->nslots - 1;
		for (uint32_t s = (uint32_t)h & m; k->slots[s] != YW_CORR_NIL; s = (s + 1) & m) {
			struct yw_corr_grp *g = grp_at(k, k->slots[s]);
			if (g->hash == h && g->keylen == len && !memcmp(grp_key(g), key, len)) {
				*out = k->slots[s];
				return 0;
			}
		}
	}
	int rc = 0;
	if (k->freel == YW_CORR_NIL && k->npool == k->cappool) {
		if (k->cappool < k->maxgroups) {
			size_t before =
			    (size_t)k->cappool * k->stride + k->nslots * sizeof(uint32_t);
			if ((rc = grow(k)))
				return rc;
			c->st.memory_bytes +=
			    (size_t)k->cappool * k->stride + k->nslots * sizeof(uint32_t) - before;
		} else {
			uint32_t v = k->lru_head;
			if (k->at_close)
				rc = close_window(c, k, grp_at(k, v), cb, ud);
			grp_remove(c, k, v);
			c->st.evicted++;
			if (rc)
				return rc;
		}
	}
	uint32_t i;
	if (k->freel != YW_CORR_NIL) {
		i = k->freel;
		k->freel = grp_at(k, i)->next;
	} else {
		i = k->npool++;
	}
	struct yw_corr_grp *g = grp_at(k, i);
	g->keyext = NULL;
	if (len > YW_CORR_KEY_INLINE) {
		if (!(g->keyext = malloc(len))) {
			g->next = k->freel;
			k->freel = i;
			return YW_ENOMEM;
		}
		memcpy(g->keyext, key, len);
		k->keybytes += len;
	} else {
		memcpy(g->key, key, len);
	}
	g->hash = h;
	g->keylen = (uint32_t)len;
	g->touched = INT64_MIN;
	g->start = 0;
	reset_state(k, g);
	uint32_t m = k->nslots - 1, s = (uint32_t)h & m;
	while (k->slots[s] != YW_CORR_NIL)
		s = (s + 1) & m;
	k->slots[s] = i;
	lru_append(k, i);
	k->live++;
	c->st.groups++;
	*out = i;
	return 0;
}

/* Inserts t into a ring of timestamps sorted oldest first; a full ring drops its oldest. */
static void ring_ts_add(int64_t *r, uint32_t cap, struct yw_corr_grp *g, int64_t t)
{
	if (g->n == cap) {
		if (t < r[g->head])
			return; /* older than everything kept: saturated anyway */
		g->head = (g->head + 1) % cap;
		g->n--;
	}
	uint32_t j = g->n;
	while (j > 0 && r[(g->head + j - 1) % cap] > t) {
		r[(g->head + j) % cap] = r[(g->head + j - 1) % cap];
		j--;
	}
	r[(g->head + j) % cap] = t;
	g->n++;
}

/* Adds a value to the sum ring; a full ring merges its two oldest entries. */
static void ring_val_add(struct ring_ent *r, struct yw_corr_grp *g, int64_t t, double v)
{
	const uint32_t cap = YW_CORR_VALUE_RING;
	if (g->n == cap) {
		struct ring_ent *a = &r[g->head], *b = &r[(g->head + 1) % cap];
		b->sum += a->sum;
		b->n += a->n;
		g->head = (g->head + 1) % cap;
		g->n--;
	}
	uint32_t j = g->n;
	while (j > 0 && r[(g->head + j - 1) % cap].ts > t) {
		r[(g->head + j) % cap] = r[(g->head + j - 1) % cap];
		j--;
	}
	r[(g->head + j) % cap] = (struct ring_ent){t, v, 1};
	g->n++;
}

/* Adds the input to the group's window; returns the current value for immediate types. */
static double update(struct yw_corr_one *k, struct yw_corr_grp *g, const struct input *in,
                     uint32_t pos, double num, uint64_t vh, int64_t *first)
{
	int64_t t = in->ts, lo = k->newest - k->span;
	g->first = imin(g->first, t);
	g->last = imax(g->last, t);
	g->mask |= 1ULL << pos;
	g->cnt++;
	g->sum += num;
	*first = imax(g->first, lo);
	switch (k->type) {
	case YW_CT_EVENT_COUNT: {
		if (k->at_close)
			return (double)g->cnt;
		int64_t *r = grp_state(g);
		while (g->n && r[g->head] < lo) {
			g->head = (g->head + 1) % k->cap;
			g->n--;
		}
		if (t >= lo)
			ring_ts_add(r, k->cap, g, t);
		*first = g->n ? r[g->head] : t;
		return (double)g->n;
	}
	case YW_CT_VALUE_COUNT: {
		struct vent *s = grp_state(g);
		uint32_t hit = YW_CORR_NIL, old = 0;
		for (uint32_t i = 0; i < g->n;) {
			if (!k->at_close && s[i].ts < lo) {
				s[i] = s[--g->n];
				continue;
			}
			if (s[i].h == vh)
				hit = i;
			if (s[i].ts < s[old].ts)
				old = i;
			i++;
		}
		if (hit != YW_CORR_NIL)
			s[hit].ts = imax(s[hit].ts, t);
		else if (g->n < k->cap)
			s[g->n++] = (struct vent){vh, t};
		else if (t > s[old].ts)
			s[old] = (struct vent){vh, t};
		return (double)g->n;
	}
	case YW_CT_TEMPORAL:
	case YW_CT_TEMPORAL_ORDERED: {
		int64_t *st = grp_state(g);
		if (k->type == YW_CT_TEMPORAL || pos == 0)
			st[pos] = imax(st[pos], t);
		else if (st[pos - 1] != INT64_MIN && (k->at_close || st[pos - 1] >= lo))
			st[pos] = imax(st[pos], st[pos - 1]); /* the chain's start time */
		return (double)temporal_count(k, g, k->at_close ? INT64_MIN + 1 : lo, first);
	}
	case YW_CT_VALUE_SUM:
	case YW_CT_VALUE_AVG: {
		if (k->at_close)
			return k->type == YW_CT_VALUE_SUM ? g->sum : g->sum / (double)g->cnt;
		struct ring_ent *r = grp_state(g);
		while (g->n && r[g->head].ts < lo) {
			g->head = (g->head + 1) % YW_CORR_VALUE_RING;
			g->n--;
		}
		if (t >= lo)
			ring_val_add(r, g, t, num);
		double sum = 0;
		uint64_t n = 0;
		for (uint32_t i = 0; i < g->n; i++) {
			sum += r[(g->head + i) % YW_CORR_VALUE_RING].sum;
			n += r[(g->head + i) % YW_CORR_VALUE_RING].n;
		}
		*first = g->n ? r[g->head].ts : t;
		return k->type == YW_CT_VALUE_SUM ? sum : n ? sum / (double)n : NAN;
	}
	default: {
		/* value_percentile: the share (in %) of the window's sampled events that carry
		 * this event's value. */
		const uint32_t cap = YW_CORR_PERCENTILE_SAMPLE;
		struct vent *r = grp_state(g);
		while (g->n && r[g->head].ts < lo) {
			g->head = (g->head + 1) % cap;
			g->n--;
		}
		if (g->n == cap) {
			g->head = (g->head + 1) % cap;
			g->n--;
		}
		r[(g->head + g->n) % cap] = (struct vent){vh, t};
		g->n++;
		uint32_t same = 0;
		for (uint32_t i = 0; i < g->n; i++)
			same += r[(g->head + i) % cap].h == vh;
		*first = r[g->head].ts;
		return 100.0 * same / g->n;
	}
	}
}

static int feed_one(struct yw_corr *c, uint32_t ci, uint32_t pos, const struct input *in,
                    yw_corr_alert_fn cb, void *ud)
{
	struct yw_corr_one *k = &c->cors[ci];
	const struct yw_corr_src *s = &k->srcs[pos];
	c->st.inputs++;
	if (!k->seen || in->ts > k->newest) {
		k->newest = in->ts;
		k->seen = true;
	} else if (in->ts < k->newest - c->late_ns) {
		c->st.dropped_late++;
		return 0;
	}
	int rc = expire(c, k, cb, ud);
	if (rc)
		return rc;
	char key[4 * (YW_CORR_MAX_GROUP_VALUE + 1)];
	char *kb = key;
	size_t need = k->k->ngroup_by * (YW_CORR_MAX_GROUP_VALUE + 1);
	if (need > sizeof(key) && !(kb = malloc(need)))
		return YW_ENOMEM;
	size_t klen = make_key(k, s, in, kb);
	double num = 0;
	uint64_t vh = 0;
	if (!klen) {
		c->st.no_group++;
		goto out;
	}
	if (k->type == YW_CT_VALUE_SUM || k->type == YW_CT_VALUE_AVG) {
		if (!in_number(in, &s->val, &num)) {
			c->st.no_value++;
			goto out;
		}
	} else if (k->type == YW_CT_VALUE_COUNT || k->type == YW_CT_VALUE_PERCENTILE) {
		size_t vl = 0;
		const char *v = in_text(in, &s->val, &vl);
		if (!v) {
			c->st.no_value++;
			goto out;
		}
		vh = hash64(v, vl);
	}
	uint32_t gi;
	if ((rc = group_get(c, k, kb, klen, cb, ud, &gi)))
		goto out;
	struct yw_corr_grp *g = grp_at(k, gi);
	g->touched = imax(g->touched, in->ts);
	if (k->lru_tail != gi) {
		lru_unlink(k, gi);
		lru_append(k, gi);
	}
	if (k->at_close && g->mask && in->ts > g->start + k->span) {
		if ((rc = close_window(c, k, g, cb, ud)))
			goto out;
		reset_state(k, g);
	}
	if (!g->mask)
		g->start = in->ts;
	int64_t first;
	double v = update(k, g, in, pos, num, vh, &first);
	if (k->at_close || isnan(v))
		goto out;
	bool fire = k->k->nconds ? cond_ok(k->k, v) : v >= (double)k->nsrcs;
	if (fire) {
		rc = emit(c, k, g, v, first, cb, ud);
		/* Pattern-level types start a new window once they fired; a value's share is a
		 * property of the window, so value_percentile keeps its sample. */
		if (k->type != YW_CT_VALUE_PERCENTILE)
			reset_state(k, g);
	}
out:
	if (kb != key)
		free(kb);
	return rc;
}

/* ---- public API ---- */

int yw_corr_new(const struct yw_ruleset *rs, const struct yw_corr_opts *o, struct yw_diags *d,
                struct yw_corr **out)
{
	*out = NULL;
	struct yw_corr *c = calloc(1, sizeof(*c));
	if (!c)
		return YW_ENOMEM;
	c->rs = rs;
	c->max_groups = o && o->max_groups ? o->max_groups : YW_CORR_DEFAULT_MAX_GROUPS;
	if (c->max_groups > UINT32_MAX / 4)
		c->max_groups = UINT32_MAX / 4;
	c->max_bytes = o && o->max_bytes ? o->max_bytes : YW_CORR_DEFAULT_MAX_BYTES;
	c->late_ns =
	    (o && o->late_tolerance_ms >= 0 ? o->late_tolerance_ms : YW_CORR_DEFAULT_LATE_MS) *
	    1000000;
	int rc = yw_corr_build(c, d);
	if (rc) {
		yw_corr_free(c);
		return rc;
	}
	c->st.correlations = c->nok;
	*out = c;
	return 0;
}

static void drop_groups(struct yw_corr *c, struct yw_corr_one *k)
{
	while (k->lru_head != YW_CORR_NIL)
		grp_remove(c, k, k->lru_head);
	free(k->pool);
	free(k->slots);
	c->st.memory_bytes -= (size_t)k->cappool * k->stride + k->nslots * sizeof(uint32_t);
	k->pool = NULL;
	k->slots = NULL;
	k->cappool = k->npool = k->nslots = 0;
	k->freel = YW_CORR_NIL;
}

void yw_corr_free(struct yw_corr *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncors; i++) {
		drop_groups(c, &c->cors[i]);
		yw_corr_one_free(&c->cors[i]);
	}
	for (size_t i = 0; c->byrule && i < c->nrules; i++)
		free(c->byrule[i].v);
	free(c->byrule);
	free(c->reported);
	free(c->cors);
	free(c);
}

size_t yw_corr_count(const struct yw_corr *c)
{
	return c->nok;
}

const struct yw_rule_info *yw_corr_rule(const struct yw_corr *c, size_t i)
{
	for (size_t j = 0; j < c->ncors; j++)
		if (c->cors[j].ok && i-- == 0)
			return &c->cors[j].doc->info;
	return NULL;
}

bool yw_corr_rule_reported(const struct yw_corr *c, const struct yw_rule_info *rule)
{
	return !c || rule->index >= c->nrules || c->reported[rule->index];
}

static int64_t event_time(struct yw_corr *c, const struct yw_event *ev)
{
	const struct yw_field *f = yw_event_get_n(ev, "@timestamp", 10);
	if (f && f->type == YW_T_TIME) {
		c->newest = imax(c->newest, f->num);
		return f->num;
	}
	return c->newest; /* no time: it happened "now" in log order */
}

int yw_corr_feed(struct yw_corr *c, const struct yw_rule_info *rule, const struct yw_event *ev,
                 yw_corr_alert_fn cb, void *ud)
{
	if (!c || rule->index >= c->nrules || c->byrule[rule->index].n == 0)
		return 0;
	const struct yw_corr_sublist *l = &c->byrule[rule->index];
	struct input in = {.ev = ev, .ts = event_time(c, ev)};
	int rc = 0;
	for (size_t i = 0; i < l->n && !rc; i++)
		rc = feed_one(c, l->v[i].corr, l->v[i].pos, &in, cb, ud);
	return rc;
}

int yw_corr_flush(struct yw_corr *c, yw_corr_alert_fn cb, void *ud)
{
	int rc = 0;
	/* Children first, so their last alerts still reach the correlations above them. */
	for (size_t depth = 0; depth <= YW_CORR_MAX_CHAIN && c; depth++)
		for (size_t i = 0; i < c->ncors; i++) {
			struct yw_corr_one *k = &c->cors[i];
			if (!k->ok || (size_t)k->level != depth + 1)
				continue;
			while (k->lru_head != YW_CORR_NIL && !rc) {
				uint32_t gi = k->lru_head;
				if (k->at_close)
					rc = close_window(c, k, grp_at(k, gi), cb, ud);
				grp_remove(c, k, gi);
			}
			if (rc)
				return rc;
			drop_groups(c, k);
		}
	return rc;
}

void yw_corr_stats(const struct yw_corr *c, struct yw_corr_stats *out)
{
	*out = c->st;
	out->memory_bytes = c->st.memory_bytes;
	for (size_t i = 0; i < c->ncors; i++)
		out->memory_bytes += c->cors[i].keybytes;
}
