/* The public Sigma ruleset: loading paths, compiling (field mapping, log source index) and
 * matching events. After compile the ruleset is only read, so matching is thread-safe. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "yiwang/error.h"
#include "yiwang/sigma.h"

#include "detect/sigma_mapping.h"
#include "detect/sigma_prefilter.h"
#include "detect/sigma_rule.h"
#include "yw_limits.h"

/* Detection rules with one product, as indexes into rules[] in ascending order. */
struct bucket {
	const char *product; /* borrowed from the first rule with it */
	size_t *idx;
	size_t n, cap;
};

struct yw_ruleset {
	struct yw_sigma_mapping *map;
	struct yw_placeholders *ph;
	char **phnames;
	size_t nphnames;
	struct yw_sigma_rule **docs; /* everything accepted, in load order */
	size_t ndocs, capdocs;
	struct yw_sigma_rule **rules; /* detection rules only: yw_ruleset_rule() order */
	size_t nrules, caprules;
	struct yw_ruleset_stats st;
	bool compiled;
	struct bucket *buckets;
	size_t nbuckets;
	struct bucket anyprod; /* rules without a product */
	uint32_t message_hash;
	struct yw_sigma_pf *pf; /* literal prefilter and log source routes */
};

struct yw_ruleset *yw_ruleset_new(void)
{
	struct yw_ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	struct yw_diags d = YW_DIAGS_INIT;
	int rc = yw_sigma_mapping_builtin(&rs->map, &d);
	yw_diags_free(&d);
	rs->ph = yw_placeholders_new();
	if (rc || !rs->ph) {
		yw_ruleset_free(rs);
		return NULL;
	}
	rs->message_hash = yw_hash("message", 7);
	return rs;
}

static void index_free(struct yw_ruleset *rs)
{
	for (size_t i = 0; i < rs->nbuckets; i++)
		free(rs->buckets[i].idx);
	free(rs->buckets);
	free(rs->anyprod.idx);
	yw_sigma_pf_free(rs->pf);
	rs->pf = NULL;
	rs->buckets = NULL;
	rs->nbuckets = 0;
	rs->anyprod = (struct bucket){0};
	rs->compiled = false;
}

void yw_ruleset_free(struct yw_ruleset *rs)
{
	if (!rs)
		return;
	index_free(rs);
	for (size_t i = 0; i < rs->ndocs; i++)
		yw_sigma_rule_free(rs->docs[i]);
	free(rs->docs);
	free(rs->rules);
	for (size_t i = 0; i < rs->nphnames; i++)
		free(rs->phnames[i]);
	free(rs->phnames);
	yw_placeholders_free(rs->ph);
	yw_sigma_mapping_free(rs->map);
	free(rs);
}

static int grow(void *pv, size_t *cap, size_t n, size_t size)
{
	void **p = pv;
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, nc * size);
	if (!q)
		return YW_ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

static int emit(void *ud, struct yw_sigma_rule *r)
{
	struct yw_ruleset *rs = ud;
	if (grow(&rs->docs, &rs->capdocs, rs->ndocs, sizeof(*rs->docs)) ||
	    (r->kind == YW_SIGMA_RULE &&
	     grow(&rs->rules, &rs->caprules, rs->nrules, sizeof(*rs->rules)))) {
		yw_sigma_rule_free(r);
		return YW_ENOMEM;
	}
	rs->docs[rs->ndocs++] = r;
	if (r->kind == YW_SIGMA_RULE) {
		rs->rules[rs->nrules++] = r;
		rs->st.rules++;
	} else if (r->kind == YW_SIGMA_CORRELATION) {
		rs->st.correlations++;
	} else {
		rs->st.filters++;
	}
	rs->compiled = false;
	return 0;
}

int yw_ruleset_add_text(struct yw_ruleset *rs, const char *text, size_t len, const char *name,
                        struct yw_diags *d)
{
	struct yw_sigma_load l = {
	    .ph = rs->ph,
	    .phnames = rs->phnames,
	    .nphnames = rs->nphnames,
	    .d = d,
	    .emit = emit,
	    .ud = rs,
	};
	int rc = yw_sigma_load_text(&l, text, len, name ? name : "-");
	rs->st.documents += l.documents;
	rs->st.invalid += l.invalid;
	return rc;
}

static int add_file(struct yw_ruleset *rs, const char *path, struct yw_diags *d)
{
	char *text;
	size_t len;
	int rc = yw_sigma_read_file(path, YW_MAX_RULE_FILE, &text, &len);
	if (rc == YW_ENOMEM)
		return rc;
	if (rc) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot read rule file: %s",
		             rc == YW_ELIMIT ? "larger than the rule file limit" : yw_strerror(rc));
		rs->st.invalid++;
		return rc;
	}
	rs->st.files++;
	rc = yw_ruleset_add_text(rs, text, len, path, d);
	free(text);
	return rc;
}

static bool is_rule_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir in sorted order so the rule order does not depend on the file system. Hidden
 * entries and symbolic links to directories are skipped (no loops). */
static int add_dir(struct yw_ruleset *rs, const char *dir, int depth, struct yw_diags *d)
{
	if (depth > YW_MAX_RULE_DEPTH) {
		yw_diags_add(d, YW_DIAG_ERROR, dir, 0, 0, "directory nesting too deep, skipped");
		return 0;
	}
	DIR *dh = opendir(dir);
	if (!dh)
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		if (grow(&names, &cap, n, sizeof(*names)) || !(names[n] = strdup(de->d_name))) {
			rc = YW_ENOMEM;
			break;
		}
		n++;
	}
	closedir(dh);
	if (!rc)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc != YW_ENOMEM; i++) {
		char *p;
		if (asprintf(&p, "%s/%s", dir, names[i]) < 0) {
			rc = YW_ENOMEM;
			break;
		}
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			int r = add_dir(rs, p, depth + 1, d);
			if (r == YW_ENOMEM)
				rc = r;
			else if (r)
				yw_diags_add(d, YW_DIAG_ERROR, p, 0, 0, "cannot read directory: %s",
				             yw_strerror(r));
		} else if (is_rule_name(names[i]) && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			int r = add_file(rs, p, d);
			if (r == YW_ENOMEM)
				rc = r;
		}
		free(p);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int yw_ruleset_add_path(struct yw_ruleset *rs, const char *path, struct yw_diags *d)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		int rc = errno == ENOENT ? YW_ENOENT : YW_EIO;
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "%s", yw_strerror(rc));
		return rc;
	}
	if (S_ISDIR(st.st_mode))
		return add_dir(rs, path, 0, d);
	int rc = add_file(rs, path, d);
	return rc == YW_ENOMEM || rc == YW_ENOENT || rc == YW_EIO ? rc : 0;
}

int yw_ruleset_load_mapping(struct yw_ruleset *rs, const char *path, struct yw_diags *d)
{
	char *text;
	size_t len;
	int rc = yw_sigma_read_file(path, YW_MAX_RULE_FILE, &text, &len);
	if (rc) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot read mapping: %s",
		             yw_strerror(rc));
		return rc;
	}
	struct yw_sigma_mapping *m;
	rc = yw_sigma_mapping_parse(text, len, path, &m, d);
	free(text);
	if (rc)
		return rc;
	/* Rules point into the old mapping: they are re-resolved by the next compile. */
	index_free(rs);
	for (size_t i = 0; i < rs->ndocs; i++)
		rs->docs[i]->map = NULL;
	yw_sigma_mapping_free(rs->map);
	rs->map = m;
	return 0;
}

int yw_ruleset_load_placeholders(struct yw_ruleset *rs, const char *path, struct yw_diags *d)
{
	char *text;
	size_t len;
	int rc = yw_sigma_read_file(path, YW_MAX_RULE_FILE, &text, &len);
	if (rc) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot read placeholders: %s",
		             yw_strerror(rc));
		return rc;
	}
	rc = yw_sigma_load_placeholders(text, len, path, rs->ph, &rs->phnames, &rs->nphnames, d);
	free(text);
	return rc;
}

/* Resolves one item's field into pre-hashed candidate event field names. */
static int resolve_item(struct yw_sigma_item *it, const struct yw_sigma_mapent *e)
{
	free(it->cands);
	free(it->cbuf);
	it->cands = NULL;
	it->cbuf = NULL;
	it->ncands = 0;
	if (!it->field)
		return 0;
	const char *names[YW_SIGMA_MAX_CANDS];
	size_t lens[YW_SIGMA_MAX_CANDS], total = 0;
	char scratch[2 * YW_MAX_FIELD_NAME];
	size_t n = yw_sigma_mapping_candidates(e, it->field, names, lens, scratch, sizeof(scratch));
	for (size_t i = 0; i < n; i++)
		total += lens[i] + 1;
	it->cands = calloc(n, sizeof(*it->cands));
	it->cbuf = malloc(total);
	if (!it->cands || !it->cbuf)
		return YW_ENOMEM;
	char *p = it->cbuf;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, names[i], lens[i]);
		p[lens[i]] = 0;
		it->cands[i] = (struct yw_sigma_cand){p, (uint32_t)lens[i], yw_hash(p, lens[i])};
		p += lens[i] + 1;
	}
	it->ncands = n;
	return 0;
}

static int resolve_det(struct yw_sigma_detection *det, const struct yw_sigma_mapent *e)
{
	for (size_t i = 0; i < det->nsels; i++)
		for (size_t g = 0; g < det->sels[i].ngroups; g++)
			for (size_t j = 0; j < det->sels[i].groups[g].nitems; j++) {
				int rc = resolve_item(&det->sels[i].groups[g].items[j], e);
				if (rc)
					return rc;
			}
	return 0;
}

static int bucket_add(struct bucket *b, size_t i)
{
	if (grow(&b->idx, &b->cap, b->n, sizeof(*b->idx)))
		return YW_ENOMEM;
	b->idx[b->n++] = i;
	return 0;
}

static int index_rule(struct yw_ruleset *rs, size_t i)
{
	const char *p = rs->rules[i]->product;
	if (!p)
		return bucket_add(&rs->anyprod, i);
	for (size_t b = 0; b < rs->nbuckets; b++)
		if (!strcasecmp(rs->buckets[b].product, p))
			return bucket_add(&rs->buckets[b], i);
	struct bucket *nb = realloc(rs->buckets, (rs->nbuckets + 1) * sizeof(*nb));
	if (!nb)
		return YW_ENOMEM;
	rs->buckets = nb;
	nb[rs->nbuckets] = (struct bucket){.product = p};
	return bucket_add(&nb[rs->nbuckets++], i);
}

int yw_ruleset_compile(struct yw_ruleset *rs, struct yw_diags *d)
{
	index_free(rs);
	for (size_t i = 0; i < rs->ndocs; i++) {
		struct yw_sigma_rule *r = rs->docs[i];
		r->map = yw_sigma_mapping_pick(rs->map, r->product, r->service, r->category);
		int rc = resolve_det(&r->det, r->map);
		if (!rc && r->filter)
			rc = resolve_det(&r->filter->det, r->map);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		rs->rules[i]->info.index = i;
		int rc = index_rule(rs, i);
		if (rc) {
			index_free(rs);
			return rc;
		}
	}
	int rc = yw_sigma_pf_new(rs->rules, rs->nrules, &rs->pf);
	if (rc) {
		index_free(rs);
		return rc;
	}
	rs->compiled = true;
	return 0;
}

void yw_ruleset_stats(const struct yw_ruleset *rs, struct yw_ruleset_stats *out)
{
	*out = rs->st;
}

size_t yw_ruleset_count(const struct yw_ruleset *rs)
{
	return rs->nrules;
}

const struct yw_rule_info *yw_ruleset_rule(const struct yw_ruleset *rs, size_t i)
{
	return i < rs->nrules ? &rs->rules[i]->info : NULL;
}

size_t yw_sigma_ruleset_ndocs(const struct yw_ruleset *rs)
{
	return rs->ndocs;
}

const struct yw_sigma_rule *yw_sigma_ruleset_doc(const struct yw_ruleset *rs, size_t i)
{
	return i < rs->ndocs ? rs->docs[i] : NULL;
}

/* ---- matching ---- */

struct mctx {
	const struct yw_ruleset *rs;
	const struct yw_sigma_rule *r;
	const struct yw_event *ev;
};

static const struct yw_field *find_hashed(const struct yw_event *ev, const char *name, uint32_t len,
                                          uint32_t hash)
{
	size_t n = yw_event_nfields(ev);
	for (size_t i = 0; i < n; i++) {
		const struct yw_field *f = yw_event_field(ev, i);
		if (f->hash == hash && f->name_len == len && !memcmp(f->name, name, len))
			return f;
	}
	return NULL;
}

/* fieldref: resolves the referenced Sigma name with the rule's mapping entry. */
static const struct yw_field *lookup(void *ud, const char *sigma_name)
{
	const struct mctx *m = ud;
	const char *names[YW_SIGMA_MAX_CANDS];
	size_t lens[YW_SIGMA_MAX_CANDS];
	char scratch[2 * YW_MAX_FIELD_NAME];
	size_t n = yw_sigma_mapping_candidates(m->r->map, sigma_name, names, lens, scratch,
	                                       sizeof(scratch));
	for (size_t i = 0; i < n; i++) {
		const struct yw_field *f = yw_event_get_n(m->ev, names[i], lens[i]);
		if (f)
			return f;
	}
	return NULL;
}

static bool eval_item(struct mctx *m, const struct yw_sigma_item *it)
{
	if (it->never)
		return false;
	if (!it->field) {
		const struct yw_field *msg = find_hashed(m->ev, "message", 7, m->rs->message_hash);
		if (msg && yw_matcher_eval(it->m, msg, lookup, m))
			return true;
		size_t rl = 0;
		const char *raw = yw_event_raw(m->ev, &rl);
		if (!raw)
			return false;
		struct yw_field rf = {
		    .name = "event.original",
		    .name_len = 14,
		    .type = YW_T_STR,
		    .n = 1,
		    .text = raw,
		    .len = (uint32_t)rl,
		};
		return yw_matcher_eval(it->m, &rf, lookup, m);
	}
	const struct yw_field *f = NULL;
	for (size_t i = 0; i < it->ncands && !f; i++)
		f = find_hashed(m->ev, it->cands[i].name, it->cands[i].len, it->cands[i].hash);
	if (!f && !it->wants_absent)
		return false;
	return yw_matcher_eval(it->m, f, lookup, m);
}

static bool sel_cb(void *ud, size_t idx)
{
	struct mctx *m = ud;
	const struct yw_sigma_sel *s = &m->r->det.sels[idx];
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct yw_sigma_group *gr = &s->groups[g];
		size_t j = 0;
		while (j < gr->nitems && eval_item(m, &gr->items[j]))
			j++;
		if (j == gr->nitems)
			return true;
	}
	return false;
}

static bool part_fits(const char *want, const char *have)
{
	return !want || (have && !strcasecmp(want, have));
}

static int eval_conds(struct mctx *m, const struct yw_sigma_rule *r, yw_match_fn cb, void *ud)
{
	m->r = r;
	for (size_t i = 0; i < r->det.nconds; i++)
		if (yw_cond_eval(r->det.conds[i], sel_cb, m))
			return cb(ud, &r->info, m->ev);
	return 0;
}

static int eval_rule(struct mctx *m, const struct yw_sigma_rule *r, const struct yw_logsource *ls,
                     yw_match_fn cb, void *ud)
{
	if (ls && !(part_fits(r->product, ls->product) && part_fits(r->service, ls->service) &&
	            part_fits(r->category, ls->category)))
		return 0;
	return eval_conds(m, r, cb, ud);
}

int yw_ruleset_match_slow(const struct yw_ruleset *rs, const struct yw_event *ev, yw_match_fn cb,
                          void *ud)
{
	if (!rs->compiled)
		return YW_EINVAL;
	struct mctx m = {.rs = rs, .ev = ev};
	const struct yw_logsource *ls = yw_event_logsource(ev);
	if (!ls || (!ls->product && !ls->service && !ls->category)) {
		for (size_t i = 0; i < rs->nrules; i++) {
			int rc = eval_rule(&m, rs->rules[i], NULL, cb, ud);
			if (rc)
				return rc;
		}
		return 0;
	}
	const struct bucket *b = NULL;
	for (size_t i = 0; ls->product && i < rs->nbuckets && !b; i++)
		if (!strcasecmp(rs->buckets[i].product, ls->product))
			b = &rs->buckets[i];
	/* Merge the product's rules with the product-less ones, keeping load order. */
	size_t i = 0, j = 0, nb = b ? b->n : 0;
	while (i < nb || j < rs->anyprod.n) {
		size_t k;
		if (j == rs->anyprod.n || (i < nb && b->idx[i] < rs->anyprod.idx[j]))
			k = b->idx[i++];
		else
			k = rs->anyprod.idx[j++];
		int rc = eval_rule(&m, rs->rules[k], ls, cb, ud);
		if (rc)
			return rc;
	}
	return 0;
}

struct cand {
	struct mctx m;
	yw_match_fn cb;
	void *ud;
};

static int on_candidate(void *ud, size_t rule)
{
	struct cand *c = ud;
	return eval_conds(&c->m, c->m.rs->rules[rule], c->cb, c->ud);
}

int yw_ruleset_match(const struct yw_ruleset *rs, const struct yw_event *ev, yw_match_fn cb,
                     void *ud)
{
	if (!rs->compiled)
		return YW_EINVAL;
	struct cand c = {.m = {.rs = rs, .ev = ev}, .cb = cb, .ud = ud};
	bool unavailable;
	int rc = yw_sigma_pf_run(rs->pf, ev, on_candidate, &c, &unavailable);
	return unavailable ? yw_ruleset_match_slow(rs, ev, cb, ud) : rc;
}

const struct yw_sigma_pf *yw_sigma_ruleset_pf(const struct yw_ruleset *rs)
{
	return rs->compiled ? rs->pf : NULL;
}
