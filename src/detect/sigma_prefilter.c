/* Literal prefilter of the Sigma engine: literal sets per rule, log source routes and
 * Vectorscan scanning. See sigma_prefilter.h and docs/sigma.md ("Prefilter"). */
#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/error.h"

#include "detect/sigma_prefilter.h"
#include "yw_limits.h"

static int reserve(void *pv, size_t *cap, size_t need, size_t size)
{
	void **p = pv;
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 8;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, nc * size);
	if (!q)
		return YW_ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

/* ---- literal sets ---- */

void yw_sigma_litset_free(struct yw_sigma_litset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].s);
	free(s->v);
	*s = (struct yw_sigma_litset){0};
}

static int lit_push(struct yw_sigma_litset *s, const struct yw_sigma_item *it, const char *b,
                    size_t len, bool cased)
{
	if (reserve(&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
		return YW_ENOMEM;
	char *c = malloc(len);
	if (!c)
		return YW_ENOMEM;
	memcpy(c, b, len);
	s->v[s->n++] = (struct yw_sigma_lit){it, c, len, cased};
	return 0;
}

static void set_always(struct yw_sigma_litset *s)
{
	yw_sigma_litset_free(s);
	s->always = true;
}

/* a |= b; b is emptied either way. */
static int set_union(struct yw_sigma_litset *a, struct yw_sigma_litset *b)
{
	if (a->always || b->always) {
		set_always(a);
		yw_sigma_litset_free(b);
		return 0;
	}
	if (reserve(&a->v, &a->cap, a->n + b->n, sizeof(*a->v))) {
		yw_sigma_litset_free(b);
		return YW_ENOMEM;
	}
	if (b->n)
		memcpy(a->v + a->n, b->v, b->n * sizeof(*b->v));
	a->n += b->n;
	free(b->v);
	*b = (struct yw_sigma_litset){0};
	return 0;
}

/* Shortest literal: the longer it is, the fewer false hits. An empty set never matches. */
static size_t set_score(const struct yw_sigma_litset *s)
{
	size_t m = SIZE_MAX;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].len < m)
			m = s->v[i].len;
	return m;
}

static bool set_better(const struct yw_sigma_litset *a, const struct yw_sigma_litset *b)
{
	if (a->always)
		return false;
	if (b->always)
		return true;
	size_t sa = set_score(a), sb = set_score(b);
	return sa > sb || (sa == sb && a->n < b->n);
}

/* Keeps the better of *best and *cand in *best; frees the other. */
static void set_keep_best(struct yw_sigma_litset *best, struct yw_sigma_litset *cand)
{
	if (set_better(cand, best)) {
		struct yw_sigma_litset t = *best;
		*best = *cand;
		*cand = t;
	}
	yw_sigma_litset_free(cand);
}

struct rawlit {
	size_t group;
	char *s;
	size_t len;
	unsigned flags;
};

struct rawlits {
	struct rawlit *v;
	size_t n, cap;
};

static int collect_cb(void *ud, size_t group, const char *lit, size_t len, unsigned flags)
{
	struct rawlits *c = ud;
	if (reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v)))
		return YW_ENOMEM;
	char *s = malloc(len ? len : 1);
	if (!s)
		return YW_ENOMEM;
	memcpy(s, lit, len);
	c->v[c->n++] = (struct rawlit){group, s, len, flags};
	return 0;
}

static bool usable(const struct rawlit *l)
{
	return l->len && !(l->flags & YW_LIT_OPTIONAL);
}

/* Literals of r[0..n) into out. */
static int push_run(struct yw_sigma_litset *out, const struct yw_sigma_item *it,
                    const struct rawlit *r, size_t n)
{
	out->always = false;
	for (size_t i = 0; i < n; i++)
		if (lit_push(out, it, r[i].s, r[i].len, r[i].flags & YW_LIT_CASED))
			return YW_ENOMEM;
	return 0;
}

/* One item: any value (every value with `all`) must match, so the item's set is the union of
 * every value's alternatives, or with `all` the best single value's alternatives. */
static int item_literals(const struct yw_sigma_item *it, struct yw_sigma_litset *out)
{
	*out = (struct yw_sigma_litset){.always = true};
	if (it->never || !it->m || (it->field && !it->ncands))
		return 0;
	struct rawlits c = {0};
	int rc = yw_matcher_literals(it->m, collect_cb, &c);
	if (rc || !c.n)
		goto out;
	if (!yw_matcher_is_all(it->m)) {
		size_t i = 0;
		while (i < c.n && usable(&c.v[i]))
			i++;
		if (i == c.n)
			rc = push_run(out, it, c.v, c.n);
		goto out;
	}
	size_t best = 0, bestn = 0, bestscore = 0;
	for (size_t i = 0; i < c.n;) {
		size_t j = i, score = SIZE_MAX;
		bool ok = true;
		for (; j < c.n && c.v[j].group == c.v[i].group; j++) {
			ok = ok && usable(&c.v[j]);
			if (c.v[j].len < score)
				score = c.v[j].len;
		}
		if (ok && (!bestn || score > bestscore || (score == bestscore && j - i < bestn))) {
			best = i;
			bestn = j - i;
			bestscore = score;
		}
		i = j;
	}
	if (bestn)
		rc = push_run(out, it, c.v + best, bestn);
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].s);
	free(c.v);
	if (rc) {
		set_always(out);
		return YW_ENOMEM;
	}
	return 0;
}

/* A selection: OR of groups, each an AND of items (the best item stands for the group). */
static int sel_literals(const struct yw_sigma_sel *s, struct yw_sigma_litset *out)
{
	*out = (struct yw_sigma_litset){0};
	for (size_t g = 0; g < s->ngroups && !out->always; g++) {
		struct yw_sigma_litset best = {.always = true}, cand;
		for (size_t i = 0; i < s->groups[g].nitems; i++) {
			if (item_literals(&s->groups[g].items[i], &cand)) {
				yw_sigma_litset_free(&best);
				return YW_ENOMEM;
			}
			set_keep_best(&best, &cand);
		}
		if (set_union(out, &best))
			return YW_ENOMEM;
	}
	return 0;
}

static int cond_literals(const struct yw_sigma_rule *r, const struct yw_cond *c,
                         struct yw_sigma_litset *out);

/* AND (and `all of`): the best kid's set. OR (and `N of` below all): the union. */
static int combine(const struct yw_sigma_rule *r, const struct yw_cond *c, bool and,
                   struct yw_sigma_litset *out)
{
	size_t n = c->op == YW_COND_OF ? c->nids : c->nkids;
	*out = (struct yw_sigma_litset){.always = and};
	for (size_t i = 0; i < n; i++) {
		struct yw_sigma_litset k;
		int rc = c->op == YW_COND_OF ? sel_literals(&r->det.sels[c->ids[i]], &k)
		                             : cond_literals(r, c->kids[i], &k);
		if (rc)
			return rc;
		if (and)
			set_keep_best(out, &k);
		else if (set_union(out, &k))
			return YW_ENOMEM;
	}
	return 0;
}

static int cond_literals(const struct yw_sigma_rule *r, const struct yw_cond *c,
                         struct yw_sigma_litset *out)
{
	switch (c->op) {
	case YW_COND_ID:
		return sel_literals(&r->det.sels[c->id], out);
	case YW_COND_AND:
		return combine(r, c, true, out);
	case YW_COND_OR:
		return combine(r, c, false, out);
	case YW_COND_OF:
		if (c->count == 0) /* "0 of" always holds */
			break;
		return combine(r, c, c->count == c->nids, out);
	default: /* NOT: the rule may match without any literal */
		break;
	}
	*out = (struct yw_sigma_litset){.always = true};
	return 0;
}

int yw_sigma_rule_literals(const struct yw_sigma_rule *r, struct yw_sigma_litset *out)
{
	*out = (struct yw_sigma_litset){.always = r->det.nconds == 0};
	for (size_t i = 0; i < r->det.nconds && !out->always; i++) {
		struct yw_sigma_litset k;
		int rc = cond_literals(r, r->det.conds[i], &k);
		if (!rc)
			rc = set_union(out, &k);
		if (rc) {
			yw_sigma_litset_free(out);
			return rc;
		}
	}
	return 0;
}

/* ---- interned strings (log source parts folded, field names exact) ---- */

static uint32_t hash_fold(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * 16777619u;
	}
	return h;
}

static bool eq_fold(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

struct sent {
	char *s;
	uint32_t len, hash;
};

/* Ids are 1..n; 0 means "not interned". */
struct stab {
	bool fold;
	struct sent *v;
	size_t n, cap;
	uint32_t *slot; /* id or 0; power-of-two size */
	size_t nslot;
};

static uint32_t stab_hash(const struct stab *t, const char *s, size_t len)
{
	return t->fold ? hash_fold(s, len) : yw_hash(s, len);
}

static uint32_t stab_find_h(const struct stab *t, const char *s, size_t len, uint32_t h)
{
	if (!t->nslot)
		return 0;
	for (size_t j = h & (t->nslot - 1);; j = (j + 1) & (t->nslot - 1)) {
		uint32_t id = t->slot[j];
		if (!id)
			return 0;
		const struct sent *e = &t->v[id - 1];
		if (e->hash == h && e->len == len &&
		    (t->fold ? eq_fold(e->s, s, len) : !memcmp(e->s, s, len)))
			return id;
	}
}

static int stab_rehash(struct stab *t, size_t nslot)
{
	uint32_t *sl = calloc(nslot, sizeof(*sl));
	if (!sl)
		return YW_ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = t->v[i].hash & (nslot - 1);
		while (sl[j])
			j = (j + 1) & (nslot - 1);
		sl[j] = (uint32_t)(i + 1);
	}
	free(t->slot);
	t->slot = sl;
	t->nslot = nslot;
	return 0;
}

/* Returns the id of s (interning a copy), 0 on allocation failure. */
static uint32_t stab_intern(struct stab *t, const char *s, size_t len)
{
	uint32_t h = stab_hash(t, s, len);
	uint32_t id = stab_find_h(t, s, len, h);
	if (id)
		return id;
	if ((t->n + 1) * 2 > t->nslot && stab_rehash(t, t->nslot ? t->nslot * 2 : 16))
		return 0;
	char *c = malloc(len + 1);
	if (!c || reserve(&t->v, &t->cap, t->n + 1, sizeof(*t->v))) {
		free(c);
		return 0;
	}
	memcpy(c, s, len);
	c[len] = 0;
	t->v[t->n++] = (struct sent){c, (uint32_t)len, h};
	size_t j = h & (t->nslot - 1);
	while (t->slot[j])
		j = (j + 1) & (t->nslot - 1);
	t->slot[j] = (uint32_t)t->n;
	return (uint32_t)t->n;
}

static void stab_free(struct stab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].s);
	free(t->v);
	free(t->slot);
}

/* ---- the compiled prefilter ---- */

#define KEY_ALL    UINT32_MAX /* an event without any log source: every rule */
#define ROUTE_SLOT (2 * YW_MAX_SIGMA_ROUTES)
/* Field id of keyword literals, found in `message` or the raw text. Literals of the `message`
 * field share its database, so that an event whose message is the tail of its raw text (every
 * syslog line) needs one scan; a hit in the raw text outside the message only adds a
 * candidate. Interned field names start at 1. */
#define TEXT_FIELD 0u

struct plit {
	uint32_t field; /* TEXT_FIELD or a field id */
	bool cased;
	uint32_t len;
	uint32_t hash;
	char *s;
};

struct prule {
	uint32_t ls[3]; /* product, service, category ids; 0 = unset */
	bool always;
	uint32_t *lits; /* literal ids */
	size_t nlits;
};

struct rdb {
	uint32_t field;
	hs_database_t *db;
};

/* What a set of applicable rules compiles to; shared by every route with the same rules. */
struct rcore {
	uint32_t *rules; /* global indexes, ascending */
	size_t n, nwords;
	uint64_t *always; /* positions evaluated whatever the scan finds */
	struct rdb *dbs;
	size_t ndbs;
	uint32_t *fslot; /* by field hash: dbs index + 1; power-of-two size */
	size_t nfslot;
	int textdb; /* dbs index of the TEXT_FIELD database, or -1 */
	uint32_t *pat_off,
	    *pat_pos; /* pattern p hits positions pat_pos[pat_off[p]..pat_off[p+1]) */
	struct rcore *next;
};

struct route {
	uint32_t key[3];
	const struct rcore *core;
};

struct scratch {
	hs_scratch_t *hs;
	uint64_t *bits;
	unsigned gen;
	struct scratch *next; /* in pool */
	struct scratch *all;  /* every scratch of the prefilter, for freeing */
};

struct yw_sigma_pf {
	size_t nrules, nwords;
	struct prule *r;
	struct stab ls[3];
	struct stab fields;
	struct plit *lits;
	size_t nlits, caplits;
	uint32_t *litslot; /* literal ids + 1 by (field, bytes, casing) hash */
	size_t nlitslot;
	size_t with_set;
	uint32_t message; /* field id of `message` */
	/* Mutable part, guarded by mu (the route slots and hot are read without it). */
	pthread_mutex_t mu;
	_Atomic(struct route *) routes[ROUTE_SLOT];
	size_t nroutes;
	struct rcore *cores;
	hs_scratch_t *proto; /* fits every database built so far */
	atomic_uint gen;     /* bumped whenever proto grows */
	_Atomic(struct scratch *) hot;
	struct scratch *pool;
	struct scratch *all; /* every scratch ever made, wherever it is now (guarded by mu) */
	uint64_t id;         /* unique for the process's lifetime: keys the per-thread cache */
};

/* Each thread keeps the last scratch it used, keyed by the prefilter's id (not its address,
 * which a later prefilter may reuse): two threads matching at once then share no cache line on
 * the hot path. A kept scratch stays on the prefilter's `all` list, which frees it. */
static _Atomic uint64_t pf_next_id = 1;
static __thread uint64_t tls_pf_id;
static __thread struct scratch *tls_scratch;

static uint32_t lit_hash(uint32_t field, bool cased, const char *s, size_t len)
{
	return yw_hash(s, len) ^ (field * 0x9e3779b1u) ^ (cased ? 0x5bd1e995u : 0);
}

static int lit_rehash(struct yw_sigma_pf *pf, size_t nslot)
{
	uint32_t *sl = calloc(nslot, sizeof(*sl));
	if (!sl)
		return YW_ENOMEM;
	for (size_t i = 0; i < pf->nlits; i++) {
		size_t j = pf->lits[i].hash & (nslot - 1);
		while (sl[j])
			j = (j + 1) & (nslot - 1);
		sl[j] = (uint32_t)(i + 1);
	}
	free(pf->litslot);
	pf->litslot = sl;
	pf->nlitslot = nslot;
	return 0;
}

/* Longest literal given to Vectorscan. A substring of a required literal is required too, so a
 * longer one is cut to its tail (file names and extensions tell most): a few more false hits,
 * but far smaller databases (SigmaHQ keyword lists hold 100-byte literals), which stay in
 * cache between events. */
#define MAX_LIT 12

/* Returns the literal's id + 1, or 0 on allocation failure. */
static uint32_t lit_intern(struct yw_sigma_pf *pf, uint32_t field, const struct yw_sigma_lit *in)
{
	struct yw_sigma_lit cut = *in;
	if (cut.len > MAX_LIT) {
		cut.s += cut.len - MAX_LIT;
		cut.len = MAX_LIT;
	}
	const struct yw_sigma_lit *l = &cut;
	uint32_t h = lit_hash(field, l->cased, l->s, l->len);
	size_t j = pf->nlitslot ? h & (pf->nlitslot - 1) : 0;
	for (; pf->nlitslot && pf->litslot[j]; j = (j + 1) & (pf->nlitslot - 1)) {
		const struct plit *p = &pf->lits[pf->litslot[j] - 1];
		if (p->hash == h && p->field == field && p->cased == l->cased && p->len == l->len &&
		    !memcmp(p->s, l->s, l->len))
			return pf->litslot[j];
	}
	if ((pf->nlits + 1) * 2 > pf->nlitslot) {
		if (lit_rehash(pf, pf->nlitslot ? pf->nlitslot * 2 : 256))
			return 0;
		j = h & (pf->nlitslot - 1);
		while (pf->litslot[j])
			j = (j + 1) & (pf->nlitslot - 1);
	}
	char *c = malloc(l->len);
	if (!c || reserve(&pf->lits, &pf->caplits, pf->nlits + 1, sizeof(*pf->lits))) {
		free(c);
		return 0;
	}
	memcpy(c, l->s, l->len);
	pf->lits[pf->nlits++] = (struct plit){field, l->cased, (uint32_t)l->len, h, c};
	pf->litslot[j] = (uint32_t)pf->nlits;
	return (uint32_t)pf->nlits;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int rule_lits_add(struct prule *p, size_t *cap, uint32_t id)
{
	if (reserve(&p->lits, cap, p->nlits + 1, sizeof(*p->lits)))
		return YW_ENOMEM;
	p->lits[p->nlits++] = id;
	return 0;
}

/* Interns r's literal set into p: one literal id per (literal, field it may be found in). */
static int rule_prepare(struct yw_sigma_pf *pf, const struct yw_sigma_rule *r, struct prule *p)
{
	const char *parts[3] = {r->product, r->service, r->category};
	for (int k = 0; k < 3; k++) {
		p->ls[k] = parts[k] ? stab_intern(&pf->ls[k], parts[k], strlen(parts[k])) : 0;
		if (parts[k] && !p->ls[k])
			return YW_ENOMEM;
	}
	struct yw_sigma_litset set;
	int rc = yw_sigma_rule_literals(r, &set);
	if (rc)
		return rc;
	p->always = set.always;
	size_t cap = 0;
	for (size_t i = 0; i < set.n && !rc; i++) {
		const struct yw_sigma_lit *l = &set.v[i];
		const struct yw_sigma_item *it = l->item;
		if (!it->field) {
			uint32_t id = lit_intern(pf, TEXT_FIELD, l);
			rc = id ? rule_lits_add(p, &cap, id - 1) : YW_ENOMEM;
			continue;
		}
		for (size_t c = 0; c < it->ncands && !rc; c++) {
			uint32_t f = stab_intern(&pf->fields, it->cands[c].name, it->cands[c].len);
			uint32_t id = f ? lit_intern(pf, f, l) : 0;
			rc = id ? rule_lits_add(p, &cap, id - 1) : YW_ENOMEM;
		}
	}
	yw_sigma_litset_free(&set);
	if (rc)
		return rc;
	if (p->nlits)
		qsort(p->lits, p->nlits, sizeof(*p->lits), cmp_u32);
	size_t w = 0;
	for (size_t i = 0; i < p->nlits; i++)
		if (!w || p->lits[w - 1] != p->lits[i])
			p->lits[w++] = p->lits[i];
	p->nlits = w;
	if (!p->always)
		pf->with_set++;
	return 0;
}

static void core_free(struct rcore *c)
{
	for (size_t i = 0; i < c->ndbs; i++)
		hs_free_database(c->dbs[i].db);
	free(c->dbs);
	free(c->rules);
	free(c->always);
	free(c->fslot);
	free(c->pat_off);
	free(c->pat_pos);
	free(c);
}

void yw_sigma_pf_free(struct yw_sigma_pf *pf)
{
	if (!pf)
		return;
	for (size_t i = 0; i < pf->nrules; i++)
		free(pf->r[i].lits);
	free(pf->r);
	for (int k = 0; k < 3; k++)
		stab_free(&pf->ls[k]);
	stab_free(&pf->fields);
	for (size_t i = 0; i < pf->nlits; i++)
		free(pf->lits[i].s);
	free(pf->lits);
	free(pf->litslot);
	for (size_t i = 0; i < ROUTE_SLOT; i++)
		free(atomic_load(&pf->routes[i]));
	while (pf->cores) {
		struct rcore *n = pf->cores->next;
		core_free(pf->cores);
		pf->cores = n;
	}
	struct scratch *s = pf->all;
	while (s) {
		struct scratch *n = s->all;
		hs_free_scratch(s->hs);
		free(s->bits);
		free(s);
		s = n;
	}
	if (tls_pf_id == pf->id) {
		tls_pf_id = 0;
		tls_scratch = NULL;
	}
	hs_free_scratch(pf->proto);
	pthread_mutex_destroy(&pf->mu);
	free(pf);
}

int yw_sigma_pf_new(struct yw_sigma_rule *const *rules, size_t n, struct yw_sigma_pf **out)
{
	*out = NULL;
	struct yw_sigma_pf *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return YW_ENOMEM;
	pf->id = atomic_fetch_add(&pf_next_id, 1);
	if (pthread_mutex_init(&pf->mu, NULL)) {
		free(pf);
		return YW_ENOMEM;
	}
	for (int k = 0; k < 3; k++)
		pf->ls[k].fold = true;
	pf->nrules = n;
	pf->nwords = n / 64 + 1;
	pf->r = calloc(n ? n : 1, sizeof(*pf->r));
	pf->message = stab_intern(&pf->fields, "message", 7);
	int rc = pf->r && pf->message ? 0 : YW_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		rc = rule_prepare(pf, rules[i], &pf->r[i]);
	if (rc) {
		yw_sigma_pf_free(pf);
		return rc;
	}
	*out = pf;
	return 0;
}

void yw_sigma_pf_stats(const struct yw_sigma_pf *pf, struct yw_sigma_pf_stats *out)
{
	struct yw_sigma_pf *m = (struct yw_sigma_pf *)pf;
	pthread_mutex_lock(&m->mu);
	*out = (struct yw_sigma_pf_stats){
	    .rules_with_set = pf->with_set,
	    .literals = pf->nlits,
	    .fields = pf->fields.n + 1,
	    .routes = pf->nroutes,
	};
	pthread_mutex_unlock(&m->mu);
}

/* ---- routes ---- */

static bool fits(const struct prule *p, const uint32_t key[3])
{
	if (key[0] == KEY_ALL)
		return true;
	for (int k = 0; k < 3; k++)
		if (p->ls[k] && p->ls[k] != key[k])
			return false;
	return true;
}

struct pat {
	uint32_t field, lit, pos;
};

static int cmp_pat(const void *a, const void *b)
{
	const struct pat *x = a, *y = b;
	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	if (x->lit != y->lit)
		return x->lit < y->lit ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static uint32_t field_hash(const struct yw_sigma_pf *pf, uint32_t field)
{
	return pf->fields.v[field - 1].hash;
}

/* Compiles the literals pats[0..n) (one field, patterns numbered from id0) into one database.
 * A literal that Vectorscan rejects makes its rules always evaluated (never a missed match). */
static int compile_db(struct yw_sigma_pf *pf, struct rcore *c, const struct pat *pats, size_t n,
                      const uint32_t *pid)
{
	const char **exprs = malloc(n * sizeof(*exprs));
	unsigned *flags = malloc(n * sizeof(*flags)), *ids = malloc(n * sizeof(*ids));
	size_t *lens = malloc(n * sizeof(*lens)), m = 0;
	int rc = exprs && flags && ids && lens ? 0 : YW_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i && pats[i].lit == pats[i - 1].lit)
			continue;
		const struct plit *l = &pf->lits[pats[i].lit];
		exprs[m] = l->s;
		lens[m] = l->len;
		flags[m] = HS_FLAG_SINGLEMATCH | (l->cased ? 0 : HS_FLAG_CASELESS);
		ids[m] = pid[i];
		m++;
	}
	hs_database_t *db = NULL;
	hs_compile_error_t *err = NULL;
	if (!rc && hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)m, HS_MODE_BLOCK, NULL,
	                                &db, &err) != HS_SUCCESS) {
		hs_free_compile_error(err);
		for (size_t i = 0; i < n; i++)
			c->always[pats[i].pos / 64] |= 1ull << (pats[i].pos % 64);
	} else if (!rc) {
		if (hs_alloc_scratch(db, &pf->proto) != HS_SUCCESS) {
			hs_free_database(db);
			rc = YW_ENOMEM;
		} else {
			atomic_fetch_add(&pf->gen, 1);
			c->dbs[c->ndbs++] = (struct rdb){pats[0].field, db};
		}
	}
	free(exprs);
	free(flags);
	free(ids);
	free(lens);
	return rc;
}

static int core_index_fields(const struct yw_sigma_pf *pf, struct rcore *c)
{
	c->textdb = -1;
	c->nfslot = 4;
	while (c->nfslot < 2 * c->ndbs)
		c->nfslot *= 2;
	c->fslot = calloc(c->nfslot, sizeof(*c->fslot));
	if (!c->fslot)
		return YW_ENOMEM;
	for (size_t i = 0; i < c->ndbs; i++) {
		if (c->dbs[i].field == TEXT_FIELD) {
			c->textdb = (int)i;
			continue;
		}
		size_t j = field_hash(pf, c->dbs[i].field) & (c->nfslot - 1);
		while (c->fslot[j])
			j = (j + 1) & (c->nfslot - 1);
		c->fslot[j] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Builds the compiled form of the rules rules[0..n); takes ownership of rules. */
static int core_build(struct yw_sigma_pf *pf, uint32_t *rules, size_t n, struct rcore **out)
{
	struct rcore *c = calloc(1, sizeof(*c));
	if (!c) {
		free(rules);
		return YW_ENOMEM;
	}
	c->rules = rules;
	c->n = n;
	c->nwords = n / 64 + 1;
	c->always = calloc(c->nwords, sizeof(*c->always));
	size_t np = 0;
	for (size_t i = 0; i < n; i++)
		np += pf->r[rules[i]].always ? 0 : pf->r[rules[i]].nlits;
	struct pat *pats = malloc((np ? np : 1) * sizeof(*pats));
	uint32_t *pid = malloc((np ? np : 1) * sizeof(*pid));
	int rc = c->always && pats && pid ? 0 : YW_ENOMEM;
	np = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct prule *p = &pf->r[rules[i]];
		if (p->always) {
			c->always[i / 64] |= 1ull << (i % 64);
			continue;
		}
		for (size_t k = 0; k < p->nlits; k++) {
			uint32_t f = pf->lits[p->lits[k]].field;
			f = f == pf->message ? TEXT_FIELD : f;
			pats[np++] = (struct pat){f, p->lits[k], (uint32_t)i};
		}
	}
	if (!rc && np)
		qsort(pats, np, sizeof(*pats), cmp_pat);
	/* Pattern ids: one per distinct literal, in sorted order; CSR of positions per id. */
	size_t npid = 0, nfields = 0;
	for (size_t i = 0; i < np && !rc; i++) {
		if (i && pats[i].lit == pats[i - 1].lit) {
			pid[i] = pid[i - 1];
			continue;
		}
		pid[i] = (uint32_t)npid++;
		nfields += !i || pats[i].field != pats[i - 1].field;
	}
	if (!rc) {
		c->pat_off = calloc(npid + 1, sizeof(*c->pat_off));
		c->pat_pos = malloc((np ? np : 1) * sizeof(*c->pat_pos));
		c->dbs = calloc(nfields ? nfields : 1, sizeof(*c->dbs));
		if (!c->pat_off || !c->pat_pos || !c->dbs)
			rc = YW_ENOMEM;
	}
	for (size_t i = 0; i < np && !rc; i++) {
		c->pat_pos[i] = pats[i].pos;
		c->pat_off[pid[i] + 1] = (uint32_t)(i + 1);
	}
	for (size_t i = 0; i < np && !rc;) {
		size_t j = i;
		while (j < np && pats[j].field == pats[i].field)
			j++;
		rc = compile_db(pf, c, pats + i, j - i, pid + i);
		i = j;
	}
	free(pats);
	free(pid);
	if (!rc)
		rc = core_index_fields(pf, c);
	if (rc) {
		core_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static size_t key_slot(const uint32_t key[3])
{
	uint32_t h = key[0] * 0x9e3779b1u ^ key[1] * 0x85ebca77u ^ key[2] * 0xc2b2ae3du;
	return (h ^ (h >> 15)) % ROUTE_SLOT;
}

/* Under pf->mu: the route for key, built unless it exists. */
static int route_build(struct yw_sigma_pf *pf, const uint32_t key[3], size_t slot,
                       const struct route **out)
{
	struct route *r = atomic_load_explicit(&pf->routes[slot], memory_order_relaxed);
	if (r) { /* built by another thread meanwhile */
		*out = r;
		return 0;
	}
	if (pf->nroutes >= YW_MAX_SIGMA_ROUTES)
		return YW_ELIMIT;
	uint32_t *rules = malloc((pf->nrules ? pf->nrules : 1) * sizeof(*rules));
	r = calloc(1, sizeof(*r));
	if (!rules || !r) {
		free(rules);
		free(r);
		return YW_ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < pf->nrules; i++)
		if (fits(&pf->r[i], key))
			rules[n++] = (uint32_t)i;
	const struct rcore *core = NULL;
	for (const struct rcore *c = pf->cores; c && !core; c = c->next)
		if (c->n == n && !memcmp(c->rules, rules, n * sizeof(*rules)))
			core = c;
	if (core) {
		free(rules);
	} else {
		struct rcore *nc;
		int rc = core_build(pf, rules, n, &nc);
		if (rc) {
			free(r);
			return rc;
		}
		nc->next = pf->cores;
		pf->cores = nc;
		core = nc;
	}
	memcpy(r->key, key, sizeof(r->key));
	r->core = core;
	pf->nroutes++;
	atomic_store_explicit(&pf->routes[slot], r, memory_order_release);
	*out = r;
	return 0;
}

static int route_get(struct yw_sigma_pf *pf, const uint32_t key[3], const struct route **out)
{
	size_t slot = key_slot(key);
	for (size_t probe = 0; probe < ROUTE_SLOT; probe++, slot = (slot + 1) % ROUTE_SLOT) {
		const struct route *r =
		    atomic_load_explicit(&pf->routes[slot], memory_order_acquire);
		if (!r) {
			pthread_mutex_lock(&pf->mu);
			int rc = route_build(pf, key, slot, out);
			pthread_mutex_unlock(&pf->mu);
			if (rc || !memcmp((*out)->key, key, sizeof((*out)->key)))
				return rc;
			continue; /* another key took this slot meanwhile */
		}
		if (!memcmp(r->key, key, sizeof(r->key))) {
			*out = r;
			return 0;
		}
	}
	return YW_ELIMIT;
}

/* ---- scratch space ---- */

static struct scratch *scratch_get(struct yw_sigma_pf *pf)
{
	unsigned gen = atomic_load(&pf->gen);
	struct scratch *s = NULL;
	if (tls_pf_id == pf->id && tls_scratch) {
		s = tls_scratch;
		tls_scratch = NULL; /* in use: a nested match on this thread takes another */
		if (s->gen == gen)
			return s;
	} else {
		s = atomic_exchange(&pf->hot, NULL);
		if (s && s->gen == gen)
			return s;
	}
	pthread_mutex_lock(&pf->mu);
	if (!s && pf->pool) {
		s = pf->pool;
		pf->pool = s->next;
	}
	if (!s && (s = calloc(1, sizeof(*s)))) {
		if (!(s->bits = calloc(pf->nwords, sizeof(*s->bits)))) {
			free(s);
			s = NULL;
		} else {
			s->all = pf->all;
			pf->all = s;
		}
	}
	if (s && s->gen != atomic_load(&pf->gen)) {
		hs_free_scratch(s->hs);
		s->hs = NULL;
		if (pf->proto && hs_clone_scratch(pf->proto, &s->hs) != HS_SUCCESS) {
			s->hs = NULL;
			s->gen = 0;
			s->next = pf->pool;
			pf->pool = s;
			s = NULL;
		} else {
			s->gen = atomic_load(&pf->gen);
		}
	}
	pthread_mutex_unlock(&pf->mu);
	return s;
}

static void scratch_put(struct yw_sigma_pf *pf, struct scratch *s)
{
	if (tls_pf_id == pf->id && !tls_scratch) {
		tls_scratch = s;
		return;
	}
	if (!tls_scratch) {
		/* This thread's cache held another prefilter's scratch, or none: adopt this one.
		 * The other stays on its prefilter's `all` list. */
		tls_pf_id = pf->id;
		tls_scratch = s;
		return;
	}
	struct scratch *none = NULL;
	if (atomic_compare_exchange_strong(&pf->hot, &none, s))
		return;
	pthread_mutex_lock(&pf->mu);
	s->next = pf->pool;
	pf->pool = s;
	pthread_mutex_unlock(&pf->mu);
}

/* ---- matching ---- */

struct hit {
	const struct rcore *c;
	uint64_t *bits;
};

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ud)
{
	(void)from;
	(void)to;
	(void)flags;
	struct hit *h = ud;
	for (uint32_t i = h->c->pat_off[id]; i < h->c->pat_off[id + 1]; i++) {
		uint32_t p = h->c->pat_pos[i];
		h->bits[p / 64] |= 1ull << (p % 64);
	}
	return 0;
}

/* Each returns false when Vectorscan failed (the caller then evaluates every rule). */
static bool scan_field(const struct rdb *d, const struct yw_field *f, hs_scratch_t *hs,
                       struct hit *h)
{
	if (f->type == YW_T_NULL)
		return true;
	if (f->type != YW_T_LIST)
		return hs_scan(d->db, f->text, f->len, 0, hs, on_hit, h) == HS_SUCCESS;
	for (uint32_t i = 0; i < f->n; i++)
		if (hs_scan(d->db, f->items[i].s, f->items[i].len, 0, hs, on_hit, h) != HS_SUCCESS)
			return false;
	return true;
}

static bool scan_text(const struct rcore *c, const struct yw_event *ev, hs_scratch_t *hs,
                      struct hit *h)
{
	const struct rdb *d = &c->dbs[c->textdb];
	size_t rl = 0;
	const char *raw = yw_event_raw(ev, &rl);
	if (raw && hs_scan(d->db, raw, (unsigned)rl, 0, hs, on_hit, h) != HS_SUCCESS)
		return false;
	const struct yw_field *m = yw_event_get_n(ev, "message", 7);
	if (!m)
		return true;
	/* A message that ends the raw text was scanned with it. */
	if (raw && m->type == YW_T_STR && m->len <= rl &&
	    !memcmp(raw + rl - m->len, m->text, m->len))
		return true;
	return scan_field(d, m, hs, h);
}

static bool scan_event(const struct yw_sigma_pf *pf, const struct rcore *c,
                       const struct yw_event *ev, hs_scratch_t *hs, struct hit *h)
{
	size_t nf = yw_event_nfields(ev), mask = c->nfslot - 1;
	size_t left = c->ndbs - (c->textdb >= 0);
	if (left * 4 < nf) {
		/* Few fields to scan: look each up in the event's index. */
		for (size_t i = 0; i < c->ndbs; i++) {
			if ((int)i == c->textdb)
				continue;
			const struct sent *e = &pf->fields.v[c->dbs[i].field - 1];
			const struct yw_field *f = yw_event_get_n(ev, e->s, e->len);
			if (f && !scan_field(&c->dbs[i], f, hs, h))
				return false;
		}
		left = 0;
	}
	for (size_t i = 0; i < nf && left; i++) {
		const struct yw_field *f = yw_event_field(ev, i);
		for (size_t j = f->hash & mask; c->fslot[j]; j = (j + 1) & mask) {
			const struct rdb *d = &c->dbs[c->fslot[j] - 1];
			const struct sent *e = &pf->fields.v[d->field - 1];
			if (e->hash == f->hash && e->len == f->name_len &&
			    !memcmp(e->s, f->name, e->len)) {
				if (!scan_field(d, f, hs, h))
					return false;
				left--;
				break;
			}
		}
	}
	return c->textdb < 0 || scan_text(c, ev, hs, h);
}

static void event_key(const struct yw_sigma_pf *pf, const struct yw_event *ev, uint32_t key[3])
{
	const struct yw_logsource *ls = yw_event_logsource(ev);
	if (!ls || (!ls->product && !ls->service && !ls->category)) {
		key[0] = key[1] = key[2] = KEY_ALL;
		return;
	}
	const char *parts[3] = {ls->product, ls->service, ls->category};
	for (int k = 0; k < 3; k++) {
		key[k] = 0;
		if (parts[k]) {
			size_t len = strlen(parts[k]);
			key[k] = stab_find_h(&pf->ls[k], parts[k], len, hash_fold(parts[k], len));
		}
	}
}

int yw_sigma_pf_run(const struct yw_sigma_pf *cpf, const struct yw_event *ev, yw_sigma_pf_fn fn,
                    void *ud, bool *unavailable)
{
	/* The route cache and scratch pool are the only mutable state: see the header. */
	struct yw_sigma_pf *pf = (struct yw_sigma_pf *)cpf;
	*unavailable = false;
	uint32_t key[3];
	event_key(pf, ev, key);
	const struct route *r;
	int rc = route_get(pf, key, &r);
	if (rc) {
		*unavailable = true;
		return rc;
	}
	const struct rcore *c = r->core;
	if (!c->n)
		return 0;
	struct scratch *s = scratch_get(pf);
	if (!s) {
		*unavailable = true;
		return YW_ENOMEM;
	}
	memcpy(s->bits, c->always, c->nwords * sizeof(*s->bits));
	if (c->ndbs) {
		struct hit h = {c, s->bits};
		if (!scan_event(pf, c, ev, s->hs, &h))
			for (size_t i = 0; i < c->n; i++)
				s->bits[i / 64] |= 1ull << (i % 64);
	}
	for (size_t w = 0; w < c->nwords && !rc; w++) {
		uint64_t b = s->bits[w];
		while (b && !rc) {
			size_t pos = w * 64 + (size_t)__builtin_ctzll(b);
			b &= b - 1;
			rc = fn(ud, c->rules[pos]);
		}
	}
	scratch_put(pf, s);
	return rc;
}
