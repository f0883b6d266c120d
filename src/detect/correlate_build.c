/* Correlation rules -> evaluable correlations: resolves `rules` by id or name, refuses cycles
 * and unknown references, reads `aliases`, and resolves group-by and condition fields through
 * each base rule's field mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "detect/correlate_int.h"
#include "yiwang/error.h"

#include "yw_limits.h"

struct alias {
	char *alias, *rule, *field; /* owned */
};

struct aliases {
	struct alias *v;
	size_t n;
};

static void aliases_free(struct aliases *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].alias);
		free(a->v[i].rule);
		free(a->v[i].field);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

int yw_corr_sublist_add(struct yw_corr_sublist *l, uint32_t corr, uint32_t pos)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 4;
		struct yw_corr_sub *v = realloc(l->v, nc * sizeof(*v));
		if (!v)
			return YW_ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	l->v[l->n++] = (struct yw_corr_sub){corr, pos};
	return 0;
}

static const yaml_node_t *ymap_get(yaml_document_t *doc, const yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static int alias_add(struct aliases *a, const char *alias, const char *rule, const char *field)
{
	struct alias *v = realloc(a->v, (a->n + 1) * sizeof(*v));
	if (!v)
		return YW_ENOMEM;
	a->v = v;
	struct alias *e = &v[a->n];
	e->alias = strdup(alias);
	e->rule = strdup(rule);
	e->field = strdup(field);
	a->n++;
	return e->alias && e->rule && e->field ? 0 : YW_ENOMEM;
}

/* The loader keeps no `aliases`, so they are read again from the rule's file: the document
 * starting at the rule's line. Only files that mention "aliases" are parsed. */
static int read_aliases(const struct yw_sigma_rule *r, struct aliases *out, struct yw_diags *d)
{
	char *text = NULL;
	size_t len = 0;
	int rc = yw_sigma_read_file(r->file, YW_MAX_RULE_FILE, &text, &len);
	if (rc == YW_ENOMEM)
		return rc;
	if (rc) {
		/* Rules added from memory have no file: they get no aliases. */
		yw_diags_add(d, YW_DIAG_WARNING, r->file, r->info.line, 0,
		             "cannot re-read correlation for its aliases (%s); none applied",
		             yw_strerror(rc));
		return 0;
	}
	if (!strstr(text, "aliases")) {
		free(text);
		return 0;
	}
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		free(text);
		return YW_ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (rc = 0; !rc;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&p, &doc)) {
			rc = p.error == YAML_MEMORY_ERROR ? YW_ENOMEM : YW_EPARSE;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		if ((unsigned)root->start_mark.line + 1 != r->info.line) {
			yaml_document_delete(&doc);
			continue;
		}
		const yaml_node_t *al =
		    ymap_get(&doc, ymap_get(&doc, root, "correlation"), "aliases");
		if (al && al->type != YAML_MAPPING_NODE)
			rc = YW_EPARSE;
		for (yaml_node_pair_t *ap = al && !rc ? al->data.mapping.pairs.start : NULL;
		     ap && ap < al->data.mapping.pairs.top && !rc; ap++) {
			const yaml_node_t *an = yaml_document_get_node(&doc, ap->key);
			const yaml_node_t *m = yaml_document_get_node(&doc, ap->value);
			if (!an || an->type != YAML_SCALAR_NODE || !m ||
			    m->type != YAML_MAPPING_NODE) {
				rc = YW_EPARSE;
				break;
			}
			for (yaml_node_pair_t *q = m->data.mapping.pairs.start;
			     q < m->data.mapping.pairs.top && !rc; q++) {
				const yaml_node_t *rn = yaml_document_get_node(&doc, q->key);
				const yaml_node_t *fn = yaml_document_get_node(&doc, q->value);
				if (!rn || rn->type != YAML_SCALAR_NODE || !fn ||
				    fn->type != YAML_SCALAR_NODE) {
					rc = YW_EPARSE;
					break;
				}
				rc = alias_add(out, (const char *)an->data.scalar.value,
				               (const char *)rn->data.scalar.value,
				               (const char *)fn->data.scalar.value);
			}
		}
		yaml_document_delete(&doc);
		break;
	}
	yaml_parser_delete(&p);
	free(text);
	if (rc == YW_EPARSE)
		yw_diags_add(d, YW_DIAG_ERROR, r->file, r->info.line, 0,
		             "correlation aliases must be {alias: {rule name: field}}");
	return rc;
}

/* The field a group-by (or condition) name stands for in the events of source s. */
static const char *alias_field(const struct aliases *a, const char *name, const char *ref,
                               const struct yw_sigma_rule *doc)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].alias, name))
			continue;
		const char *rn = a->v[i].rule;
		if (!strcmp(rn, ref) || (doc->name && !strcmp(rn, doc->name)) ||
		    (doc->id && !strcmp(rn, doc->id)))
			return a->v[i].field;
	}
	return name;
}

static int fref_set(struct yw_corr_fref *f, const char *field, const struct yw_corr_src *s)
{
	const char *names[YW_SIGMA_MAX_CANDS];
	size_t lens[YW_SIGMA_MAX_CANDS];
	char scratch[2 * YW_MAX_FIELD_NAME];
	size_t n = 1;
	if (s->is_corr) {
		names[0] = field;
		lens[0] = strlen(field);
	} else {
		n = yw_sigma_mapping_candidates(s->doc->map, field, names, lens, scratch,
		                                sizeof(scratch));
	}
	for (size_t i = 0; i < n; i++) {
		if (!(f->names[i] = strndup(names[i], lens[i])))
			return YW_ENOMEM;
		f->lens[i] = (uint32_t)lens[i];
		f->n = i + 1;
	}
	return 0;
}

static void fref_free(struct yw_corr_fref *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->names[i]);
	f->n = 0;
}

void yw_corr_one_free(struct yw_corr_one *k)
{
	for (size_t i = 0; k->srcs && i < k->nsrcs; i++) {
		struct yw_corr_src *s = &k->srcs[i];
		for (size_t j = 0; s->gb && j < k->k->ngroup_by; j++)
			fref_free(&s->gb[j]);
		free(s->gb);
		fref_free(&s->val);
		free(s->base);
	}
	free(k->srcs);
	free(k->parents.v);
	free(k->vals);
	free(k->base);
}

static int corr_type(const char *t)
{
	static const char *const types[] = {"event_count",      "value_count", "temporal",
	                                    "temporal_ordered", "value_sum",   "value_avg",
	                                    "value_percentile"};
	for (int i = 0; i < 7; i++)
		if (!strcmp(t, types[i]))
			return i;
	return -1;
}

/* Finds the document a reference names: an id first, then a name. */
static const struct yw_sigma_rule *find_ref(const struct yw_ruleset *rs, const char *ref)
{
	size_t n = yw_sigma_ruleset_ndocs(rs);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(rs, i);
			if (r->kind == YW_SIGMA_FILTER)
				continue;
			const char *s = pass ? r->name : r->id;
			if (s && !strcmp(s, ref))
				return r;
		}
	return NULL;
}

static size_t corr_index(const struct yw_corr *c, const struct yw_sigma_rule *r)
{
	for (size_t i = 0; i < c->ncors; i++)
		if (c->cors[i].doc == r)
			return i;
	return c->ncors;
}

static void bad(struct yw_diags *d, struct yw_corr_one *k, const char *what, const char *ref)
{
	yw_diags_add(d, YW_DIAG_ERROR, k->doc->file, k->doc->info.line, 0,
	             "correlation '%s': %s%s%s; not evaluated", k->doc->title, what, ref ? " " : "",
	             ref ? ref : "");
	k->ok = false;
}

/* Depth-first walk over chained correlations: marks cycles and chains deeper than the limit. */
static int chain_depth(struct yw_corr *c, size_t i, struct yw_diags *d)
{
	struct yw_corr_one *k = &c->cors[i];
	if (k->mark == 1) {
		bad(d, k, "correlation chain forms a cycle", NULL);
		return YW_CORR_MAX_CHAIN + 1;
	}
	if (k->mark == 2)
		return k->ok ? k->level : YW_CORR_MAX_CHAIN + 1;
	k->mark = 1;
	int depth = 1;
	for (size_t j = 0; j < k->nsrcs; j++) {
		if (!k->srcs[j].is_corr)
			continue;
		int sub = chain_depth(c, k->srcs[j].target, d);
		if (sub + 1 > depth)
			depth = sub + 1;
	}
	k->mark = 2;
	k->level = depth;
	if (depth > YW_CORR_MAX_CHAIN && k->ok)
		bad(d, k, "correlation chain too deep or broken below", NULL);
	return depth;
}

/* Count saturation: a count at or above cap compares like cap against every term. */
static uint32_t count_cap(const struct yw_sigma_corr *k)
{
	int64_t s = 1;
	for (size_t i = 0; i < k->nconds; i++) {
		const char *op = k->conds[i].op;
		int64_t v = k->conds[i].value + (!strcmp(op, "gte") || !strcmp(op, "lt") ? 0 : 1);
		if (v > s)
			s = v;
	}
	return s > YW_CORR_MAX_THRESHOLD ? YW_CORR_MAX_THRESHOLD + 1 : (uint32_t)s;
}

static size_t state_bytes(const struct yw_corr_one *k)
{
	switch (k->type) {
	case YW_CT_EVENT_COUNT:
		return k->at_close ? 0 : (size_t)k->cap * sizeof(int64_t);
	case YW_CT_VALUE_COUNT:
		return (size_t)k->cap * 2 * sizeof(int64_t);
	case YW_CT_TEMPORAL:
	case YW_CT_TEMPORAL_ORDERED:
		return k->nsrcs * sizeof(int64_t);
	case YW_CT_VALUE_SUM:
	case YW_CT_VALUE_AVG:
		return k->at_close ? 0 : YW_CORR_VALUE_RING * 3 * sizeof(int64_t);
	default:
		return YW_CORR_PERCENTILE_SAMPLE * 2 * sizeof(int64_t);
	}
}

/* Collects the detection rules below source s of correlation k (deduplicated). */
static int src_base(struct yw_corr *c, struct yw_corr_src *s)
{
	if (!s->is_corr) {
		if (!(s->base = malloc(sizeof(*s->base))))
			return YW_ENOMEM;
		s->base[0] = &s->doc->info;
		s->nbase = 1;
		return 0;
	}
	const struct yw_corr_one *child = &c->cors[s->target];
	size_t max = 0;
	for (size_t i = 0; i < child->nsrcs; i++)
		max += child->srcs[i].nbase;
	if (!(s->base = malloc((max ? max : 1) * sizeof(*s->base))))
		return YW_ENOMEM;
	for (size_t i = 0; i < child->nsrcs; i++)
		for (size_t j = 0; j < child->srcs[i].nbase; j++) {
			const struct yw_rule_info *r = child->srcs[i].base[j];
			size_t x = 0;
			while (x < s->nbase && s->base[x] != r)
				x++;
			if (x == s->nbase)
				s->base[s->nbase++] = r;
		}
	return 0;
}

static int build_one(struct yw_corr *c, size_t ci, struct yw_diags *d)
{
	struct yw_corr_one *k = &c->cors[ci];
	struct aliases al = {0};
	int rc = read_aliases(k->doc, &al, d);
	if (rc == YW_ENOMEM)
		return rc;
	if (rc) {
		k->ok = false;
		return 0;
	}
	k->nbase_max = 0;
	for (size_t i = 0; i < k->nsrcs && !rc; i++) {
		struct yw_corr_src *s = &k->srcs[i];
		if (!(s->gb = calloc(k->k->ngroup_by ? k->k->ngroup_by : 1, sizeof(*s->gb))))
			rc = YW_ENOMEM;
		for (size_t j = 0; !rc && j < k->k->ngroup_by; j++)
			rc = fref_set(&s->gb[j],
			              alias_field(&al, k->k->group_by[j], k->k->rules[i], s->doc),
			              s);
		if (!rc && k->k->cond_field)
			rc = fref_set(
			    &s->val, alias_field(&al, k->k->cond_field, k->k->rules[i], s->doc), s);
		if (!rc)
			rc = src_base(c, s);
		k->nbase_max += s->nbase;
	}
	aliases_free(&al);
	if (rc)
		return rc;
	if (!(k->vals = calloc(k->k->ngroup_by ? k->k->ngroup_by : 1, sizeof(*k->vals))) ||
	    !(k->base = calloc(k->nbase_max ? k->nbase_max : 1, sizeof(*k->base))))
		return YW_ENOMEM;
	k->at_close = false;
	for (size_t i = 0; i < k->k->nconds; i++)
		if (strcmp(k->k->conds[i].op, "gt") && strcmp(k->k->conds[i].op, "gte"))
			k->at_close = k->type != YW_CT_VALUE_PERCENTILE;
	k->cap = count_cap(k->k);
	if (k->cap > YW_CORR_MAX_THRESHOLD &&
	    (k->type == YW_CT_VALUE_COUNT || (k->type == YW_CT_EVENT_COUNT && !k->at_close))) {
		bad(d, k, "count threshold above the limit", NULL);
		return 0;
	}
	k->span = k->k->timespan_ms * 1000000;
	k->stride = sizeof(struct yw_corr_grp) + state_bytes(k);
	size_t fit = c->max_bytes / (k->stride + 2 * sizeof(uint32_t));
	k->maxgroups = (uint32_t)(c->max_groups < fit ? c->max_groups : fit);
	if (k->maxgroups == 0)
		k->maxgroups = 1;
	k->lru_head = k->lru_tail = k->freel = YW_CORR_NIL;
	return 0;
}

/* Resolves the references of correlation i; unknown ones disable it. */
static int resolve(struct yw_corr *c, size_t i, struct yw_diags *d)
{
	struct yw_corr_one *k = &c->cors[i];
	if (!(k->srcs = calloc(k->k->nrules, sizeof(*k->srcs))))
		return YW_ENOMEM;
	k->nsrcs = k->k->nrules;
	if (k->k->nrules > 64) {
		bad(d, k, "more than 64 rules", NULL);
		return 0;
	}
	for (size_t j = 0; j < k->nsrcs; j++) {
		const struct yw_sigma_rule *r = find_ref(c->rs, k->k->rules[j]);
		if (!r) {
			bad(d, k, "unknown rule", k->k->rules[j]);
			return 0;
		}
		k->srcs[j].doc = r;
		k->srcs[j].is_corr = r->kind == YW_SIGMA_CORRELATION;
		k->srcs[j].target = k->srcs[j].is_corr ? corr_index(c, r) : r->info.index;
		for (size_t x = 0; x < j; x++)
			if (k->srcs[x].doc == r) {
				bad(d, k, "rule listed twice:", k->k->rules[j]);
				return 0;
			}
	}
	return 0;
}

int yw_corr_build(struct yw_corr *c, struct yw_diags *d)
{
	size_t ndocs = yw_sigma_ruleset_ndocs(c->rs);
	size_t n = 0;
	for (size_t i = 0; i < ndocs; i++)
		n += yw_sigma_ruleset_doc(c->rs, i)->kind == YW_SIGMA_CORRELATION;
	c->nrules = yw_ruleset_count(c->rs);
	if (!(c->cors = calloc(n ? n : 1, sizeof(*c->cors))) ||
	    !(c->byrule = calloc(c->nrules ? c->nrules : 1, sizeof(*c->byrule))) ||
	    !(c->reported = calloc(c->nrules ? c->nrules : 1, sizeof(*c->reported))))
		return YW_ENOMEM;
	for (size_t i = 0; i < ndocs; i++) {
		const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(c->rs, i);
		if (r->kind != YW_SIGMA_CORRELATION || !r->corr)
			continue;
		struct yw_corr_one *k = &c->cors[c->ncors++];
		k->doc = r;
		k->k = r->corr;
		k->type = corr_type(r->corr->type);
		k->ok = k->type >= 0;
		k->lru_head = k->lru_tail = k->freel = YW_CORR_NIL;
	}
	int rc = 0;
	for (size_t i = 0; i < c->ncors && !rc; i++)
		if (c->cors[i].ok)
			rc = resolve(c, i, d);
	for (size_t i = 0; i < c->ncors && !rc; i++)
		chain_depth(c, i, d);
	/* A correlation above a broken one is broken too; children come first in a pass. */
	for (bool changed = true; changed && !rc;) {
		changed = false;
		for (size_t i = 0; i < c->ncors; i++) {
			struct yw_corr_one *k = &c->cors[i];
			for (size_t j = 0; k->ok && j < k->nsrcs; j++)
				if (k->srcs[j].is_corr && !c->cors[k->srcs[j].target].ok) {
					bad(d, k,
					    "it refers to a correlation that is not evaluated:",
					    k->k->rules[j]);
					changed = true;
				}
		}
	}
	/* Build children before parents so a parent can copy their base-rule lists. */
	bool *built = calloc(c->ncors ? c->ncors : 1, sizeof(*built));
	if (!built)
		return YW_ENOMEM;
	for (bool progress = true; progress && !rc;) {
		progress = false;
		for (size_t i = 0; i < c->ncors && !rc; i++) {
			struct yw_corr_one *k = &c->cors[i];
			if (built[i] || !k->ok)
				continue;
			bool ready = true;
			for (size_t j = 0; j < k->nsrcs; j++)
				if (k->srcs[j].is_corr && !built[k->srcs[j].target])
					ready = false;
			if (!ready)
				continue;
			rc = build_one(c, i, d);
			built[i] = progress = true;
		}
	}
	free(built);
	for (size_t i = 0; i < c->nrules; i++)
		c->reported[i] = true;
	for (size_t i = 0; i < c->ncors && !rc; i++) {
		struct yw_corr_one *k = &c->cors[i];
		k->output = true;
		if (!k->ok)
			continue;
		c->nok++;
		for (size_t j = 0; j < k->nsrcs && !rc; j++) {
			struct yw_corr_src *s = &k->srcs[j];
			rc = yw_corr_sublist_add(s->is_corr ? &c->cors[s->target].parents
			                                    : &c->byrule[s->target],
			                         (uint32_t)i, (uint32_t)j);
		}
	}
	/* `generate`: a referenced rule reports on its own only if a referrer asks for it. */
	for (size_t i = 0; i < c->nrules; i++)
		for (size_t j = 0; j < c->byrule[i].n; j++)
			c->reported[i] =
			    j ? c->reported[i] || c->cors[c->byrule[i].v[j].corr].k->generate
			      : c->cors[c->byrule[i].v[j].corr].k->generate;
	for (size_t i = 0; i < c->ncors; i++)
		for (size_t j = 0; j < c->cors[i].parents.n; j++) {
			bool g = c->cors[c->cors[i].parents.v[j].corr].k->generate;
			c->cors[i].output = j ? c->cors[i].output || g : g;
		}
	return rc;
}
