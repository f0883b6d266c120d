/* Sigma rule files (YAML) -> rule structures. Uses libyaml's document API so every node keeps
 * its line:col for diagnostics; a pre-pass over the event stream bounds nesting depth before
 * any tree is built. The first problem in a document is reported and the document skipped. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "yiwang/error.h"

#include "detect/sigma_rule.h"
#include "yw_limits.h"

struct lctx {
	struct yw_sigma_load *l;
	yaml_document_t *doc;
	const char *file;
	size_t nvalues; /* scalars visited in this document: aliases may repeat nodes */
};

/* Reports the document's one error at node n (or the document start when n is NULL). */
static int fail_at(struct lctx *c, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct lctx *c, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yw_diags_add(c->l->d, YW_DIAG_ERROR, c->file, (unsigned)m->line + 1,
	             (unsigned)m->column + 1, "%s", msg);
	return YW_EPARSE;
}

#define FAIL(c, n, ...) fail_at((c), &(n)->start_mark, __VA_ARGS__)

static void warn_at(struct lctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn_at(struct lctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yw_diags_add(c->l->d, YW_DIAG_WARNING, c->file, (unsigned)n->start_mark.line + 1,
	             (unsigned)n->start_mark.column + 1, "%s", msg);
}

static yaml_node_t *node(struct lctx *c, int i)
{
	return yaml_document_get_node(c->doc, i);
}

/* Text of a scalar without embedded NUL bytes, else NULL. */
static const char *text_of(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE ||
	    memchr(n->data.scalar.value, 0, n->data.scalar.length))
		return NULL;
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static yaml_node_t *map_get(struct lctx *c, const yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = text_of(node(c, p->key));
		if (k && !strcmp(k, key))
			return node(c, p->value);
	}
	return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static int count_values(struct lctx *c, const yaml_node_t *n, size_t k)
{
	c->nvalues += k;
	if (c->nvalues > YW_MAX_RULE_VALUES)
		return FAIL(c, n, "rule has more than %d values", YW_MAX_RULE_VALUES);
	return 0;
}

/* Copies an optional text attribute; a present non-text value is an error. */
static int opt_text(struct lctx *c, const yaml_node_t *map, const char *key, char **out)
{
	const yaml_node_t *n = map_get(c, map, key);
	if (!n || is_null(n))
		return 0;
	const char *s = text_of(n);
	if (!s)
		return FAIL(c, n, "'%s' must be text", key);
	return (*out = strdup(s)) ? 0 : YW_ENOMEM;
}

/* A list of texts, or one text taken as a list of one. */
static int text_list(struct lctx *c, const yaml_node_t *n, const char *what, char ***out,
                     size_t *nout)
{
	size_t k = n->type == YAML_SEQUENCE_NODE ? seq_len(n) : 1;
	if (n->type == YAML_MAPPING_NODE)
		return FAIL(c, n, "'%s' must be a list of texts", what);
	int rc = count_values(c, n, k);
	if (rc)
		return rc;
	char **v = calloc(k ? k : 1, sizeof(char *));
	if (!v)
		return YW_ENOMEM;
	*out = v;
	for (size_t i = 0; i < k; i++) {
		const yaml_node_t *it =
		    n->type == YAML_SEQUENCE_NODE ? node(c, n->data.sequence.items.start[i]) : n;
		const char *s = text_of(it);
		if (!s)
			return FAIL(c, it, "'%s' must be a list of texts", what);
		if (!(v[i] = strdup(s)))
			return YW_ENOMEM;
		(*nout)++;
	}
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* YAML 1.2 core schema typing of a plain scalar; quoted and block scalars are text. */
static void to_sval(const yaml_node_t *n, struct yw_sval *v)
{
	const char *s = (const char *)n->data.scalar.value;
	*v = (struct yw_sval){.kind = YW_SV_STR, .s = s, .len = n->data.scalar.length};
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || memchr(s, 0, v->len))
		return;
	if (is_null(n)) {
		v->kind = YW_SV_NULL;
		return;
	}
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
	    !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		v->kind = YW_SV_BOOL;
		v->b = s[0] == 't' || s[0] == 'T';
		return;
	}
	const char *p = s;
	int base = 10;
	if (p[0] == '0' && p[1] == 'x') {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o') {
		base = 8;
		p += 2;
	} else if (*p == '-' || *p == '+') {
		p++;
	}
	size_t digits = base == 16 ? strspn(p, "0123456789abcdefABCDEF")
	                           : strspn(p, base == 8 ? "01234567" : "0123456789");
	if (digits && !p[digits]) {
		char *end;
		errno = 0;
		if (base == 10) {
			long long x = strtoll(s, &end, 10);
			if (!errno && !*end) {
				v->kind = YW_SV_INT;
				v->i = (int64_t)x;
				return;
			}
		} else {
			unsigned long long x = strtoull(p, &end, base);
			if (!errno && !*end && x <= (unsigned long long)INT64_MAX) {
				v->kind = YW_SV_INT;
				v->i = (int64_t)x;
				return;
			}
		}
	}
	/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and the .inf / .nan forms */
	p = s + (*s == '-' || *s == '+');
	size_t a = strspn(p, "0123456789"), b = 0;
	if (p[a] == '.')
		b = strspn(p + a + 1, "0123456789");
	const char *q = p + a + (p[a] == '.' ? 1 + b : 0);
	bool num = (a || b) && (p[a] == '.' || q[0] == 'e' || q[0] == 'E');
	if (num && (q[0] == 'e' || q[0] == 'E')) {
		q++;
		q += *q == '-' || *q == '+';
		size_t e = strspn(q, "0123456789");
		num = e > 0;
		q += e;
	}
	bool special = !strcasecmp(p, ".inf") || (p == s && !strcasecmp(p, ".nan"));
	if ((num && !*q) || special) {
		v->kind = YW_SV_FLOAT;
		v->d = special ? (p[1] == 'n' || p[1] == 'N'
		                      ? __builtin_nan("")
		                      : (*s == '-' ? -__builtin_inf() : __builtin_inf()))
		               : strtod(s, NULL);
	}
}

/* True when every %name% of an `expand` value is defined; *bad names the first that is not. */
static bool placeholders_known(struct lctx *c, const char *s, size_t len, char *bad, size_t badlen)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] != '%')
			continue;
		const char *e = memchr(s + i + 1, '%', len - i - 1);
		if (!e)
			return true;
		size_t nl = (size_t)(e - (s + i + 1));
		bool found = false;
		for (size_t k = 0; k < c->l->nphnames && !found; k++)
			found = strlen(c->l->phnames[k]) == nl &&
			        !memcmp(c->l->phnames[k], s + i + 1, nl);
		if (!found) {
			snprintf(bad, badlen, "%.*s", (int)(nl < 200 ? nl : 200), s + i + 1);
			return false;
		}
		i = (size_t)(e - s);
	}
	return true;
}

/* Chooses where a matcher error points: the key for modifier problems, else the value that
 * fails on its own (found by compiling values one at a time, on the error path only). */
static const yaml_node_t *blame(struct lctx *c, const yaml_node_t *key, const char *err,
                                const char *const *mods, size_t nmods, const struct yw_sval *vals,
                                const yaml_node_t **vnodes, size_t nvals, int keyword)
{
	if (strstr(err, "modifier") || nvals == 0)
		return key;
	if (nvals == 1)
		return vnodes[0];
	for (size_t i = 0; i < nvals; i++) {
		struct yw_matcher *m = NULL;
		char e2[256];
		int rc = yw_matcher_compile(mods, nmods, &vals[i], 1, keyword, c->l->ph, &m, e2,
		                            sizeof(e2));
		yw_matcher_free(m);
		if (rc == YW_ENOMEM)
			return key;
		if (rc)
			return vnodes[i];
	}
	return key;
}

/* Compiles one item from its modifiers and value nodes (a scalar or a list of scalars). */
static int parse_item(struct lctx *c, struct yw_sigma_item *it, const yaml_node_t *key,
                      const char *field, char **mods, size_t nmods, const yaml_node_t *val)
{
	it->line = (unsigned)key->start_mark.line + 1;
	it->col = (unsigned)key->start_mark.column + 1;
	if (val->type == YAML_MAPPING_NODE)
		return FAIL(c, val, "the value of '%s' must be a scalar or a list of scalars",
		            field ? field : "keywords");
	size_t n = val->type == YAML_SEQUENCE_NODE ? seq_len(val) : 1;
	int rc = count_values(c, val, n);
	if (rc)
		return rc;
	struct yw_sval *vals = calloc(n ? n : 1, sizeof(*vals));
	const yaml_node_t **vnodes = calloc(n ? n : 1, sizeof(*vnodes));
	if (!vals || !vnodes) {
		rc = YW_ENOMEM;
		goto out;
	}
	bool expand = false;
	for (size_t i = 0; i < nmods; i++)
		expand |= !strcmp(mods[i], "expand");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *v = val->type == YAML_SEQUENCE_NODE
		                           ? node(c, val->data.sequence.items.start[i])
		                           : val;
		if (v->type != YAML_SCALAR_NODE) {
			rc = FAIL(c, v, "values of '%s' must be scalars",
			          field ? field : "keywords");
			goto out;
		}
		char bad[256];
		if (expand && !placeholders_known(c, (const char *)v->data.scalar.value,
		                                  v->data.scalar.length, bad, sizeof(bad))) {
			warn_at(c, v,
			        "unknown placeholder %%%s%% (no placeholders file defines it): "
			        "this value matches nothing",
			        bad);
			continue;
		}
		vnodes[k] = v;
		to_sval(v, &vals[k++]);
	}
	/* An empty list is an OR of nothing; values that were all unknown placeholders too. */
	if (k == 0) {
		it->never = true;
		goto out;
	}
	char err[256] = "";
	rc = yw_matcher_compile((const char *const *)mods, nmods, vals, k, field == NULL, c->l->ph,
	                        &it->m, err, sizeof(err));
	if (rc == YW_ENOMEM)
		goto out;
	if (rc) {
		const yaml_node_t *at = blame(c, key, err, (const char *const *)mods, nmods, vals,
		                              vnodes, k, field == NULL);
		rc = FAIL(c, at, "%s%s%s", field ? field : "", field ? ": " : "",
		          *err ? err : yw_strerror(rc));
		goto out;
	}
	it->wants_absent = yw_matcher_wants_absent(it->m);
out:
	free(vals);
	free(vnodes);
	return rc;
}

/* An item from a map key `Field|mod1|mod2` (an empty field name makes a keyword item). */
static int parse_keyed_item(struct lctx *c, struct yw_sigma_item *it, const yaml_node_t *key,
                            const yaml_node_t *val)
{
	const char *k = text_of(key);
	if (!k)
		return FAIL(c, key, "a field name must be text");
	char *buf = strdup(k);
	char *mods[YW_MAX_SIGMA_MODIFIERS];
	size_t nmods = 0;
	if (!buf)
		return YW_ENOMEM;
	int rc = 0;
	for (char *p = strchr(buf, '|'); p; p = strchr(p, '|')) {
		*p++ = 0;
		if (nmods == sizeof(mods) / sizeof(mods[0])) {
			rc = FAIL(c, key, "too many modifiers");
			goto out;
		}
		mods[nmods++] = p;
	}
	for (size_t i = 0; i < nmods; i++) {
		if (!*mods[i] || strchr(mods[i], '|')) {
			rc = FAIL(c, key, "empty modifier in '%s'", k);
			goto out;
		}
	}
	if (strlen(buf) >= YW_MAX_FIELD_NAME) {
		rc = FAIL(c, key, "field name longer than %d bytes", YW_MAX_FIELD_NAME - 1);
		goto out;
	}
	if (*buf && !(it->field = strdup(buf))) {
		rc = YW_ENOMEM;
		goto out;
	}
	rc = parse_item(c, it, key, it->field, mods, nmods, val);
out:
	free(buf);
	return rc;
}

static int parse_map_group(struct lctx *c, struct yw_sigma_group *g, const yaml_node_t *map)
{
	size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	if (n == 0)
		return FAIL(c, map, "empty map in a search identifier");
	if (!(g->items = calloc(n, sizeof(*g->items))))
		return YW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
		const yaml_node_t *key = node(c, p->key);
		for (size_t j = 0; j < i; j++) {
			const yaml_node_t *o = node(c, map->data.mapping.pairs.start[j].key);
			if (o->type == YAML_SCALAR_NODE && key->type == YAML_SCALAR_NODE &&
			    o->data.scalar.length == key->data.scalar.length &&
			    !memcmp(o->data.scalar.value, key->data.scalar.value,
			            o->data.scalar.length))
				return FAIL(c, key, "duplicate key '%s'", text_of(key));
		}
		g->nitems++;
		int rc = parse_keyed_item(c, &g->items[i], key, node(c, p->value));
		if (rc)
			return rc;
	}
	return 0;
}

static int add_group(struct yw_sigma_sel *s)
{
	struct yw_sigma_group *g = realloc(s->groups, (s->ngroups + 1) * sizeof(*g));
	if (!g)
		return YW_ENOMEM;
	s->groups = g;
	memset(&g[s->ngroups++], 0, sizeof(*g));
	return 0;
}

/* A keyword group: one keyword item over values (a list's scalars, or one scalar). */
static int keyword_group(struct lctx *c, struct yw_sigma_sel *s, const yaml_node_t *key,
                         const yaml_node_t *val)
{
	int rc = add_group(s);
	if (rc)
		return rc;
	struct yw_sigma_group *g = &s->groups[s->ngroups - 1];
	if (!(g->items = calloc(1, sizeof(*g->items))))
		return YW_ENOMEM;
	g->nitems = 1;
	return parse_item(c, &g->items[0], key, NULL, NULL, 0, val);
}

static int parse_selection(struct lctx *c, struct yw_sigma_sel *s, const yaml_node_t *key,
                           const yaml_node_t *v)
{
	s->line = (unsigned)key->start_mark.line + 1;
	s->col = (unsigned)key->start_mark.column + 1;
	if (v->type == YAML_MAPPING_NODE) {
		int rc = add_group(s);
		return rc ? rc : parse_map_group(c, &s->groups[0], v);
	}
	if (v->type == YAML_SCALAR_NODE) {
		if (is_null(v))
			return FAIL(c, key, "search identifier '%s' is empty", s->name);
		return keyword_group(c, s, key, v);
	}
	/* A list: maps are OR'ed groups; plain values are keywords, OR'ed as one item. */
	size_t n = seq_len(v), nscalars = 0;
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *it = node(c, v->data.sequence.items.start[i]);
		if (it->type == YAML_SCALAR_NODE) {
			nscalars++;
		} else if (it->type == YAML_SEQUENCE_NODE) {
			return FAIL(c, it, "a list inside a search identifier's list");
		} else {
			int rc = add_group(s);
			if (!rc)
				rc = count_values(c, it, 1);
			if (!rc)
				rc = parse_map_group(c, &s->groups[s->ngroups - 1], it);
			if (rc)
				return rc;
		}
	}
	if (nscalars == n)
		return n ? keyword_group(c, s, key, v) : 0;
	/* A mixed list (rare): each plain value is a keyword group of its own. */
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *it = node(c, v->data.sequence.items.start[i]);
		int rc = it->type == YAML_SCALAR_NODE ? keyword_group(c, s, key, it) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* Column of byte pos of a condition, when the scalar sits on one line. */
static yaml_mark_t cond_mark(const yaml_node_t *n, size_t pos)
{
	yaml_mark_t m = n->start_mark;
	if (n->start_mark.line == n->end_mark.line &&
	    n->data.scalar.style != YAML_LITERAL_SCALAR_STYLE &&
	    n->data.scalar.style != YAML_FOLDED_SCALAR_STYLE)
		m.column += pos + (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE);
	return m;
}

static int parse_condition(struct lctx *c, struct yw_sigma_detection *det, const yaml_node_t *cn)
{
	size_t n = cn->type == YAML_SEQUENCE_NODE ? seq_len(cn) : 1;
	if (cn->type == YAML_MAPPING_NODE || n == 0)
		return FAIL(c, cn, "condition must be a text or a list of texts");
	if (!(det->conds = calloc(n, sizeof(*det->conds))))
		return YW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *t =
		    cn->type == YAML_SEQUENCE_NODE ? node(c, cn->data.sequence.items.start[i]) : cn;
		const char *s = text_of(t);
		if (!s || is_null(t))
			return FAIL(c, t, "condition must be a text or a list of texts");
		if (t->data.scalar.length > YW_MAX_CONDITION)
			return FAIL(c, t, "condition longer than %d bytes", YW_MAX_CONDITION);
		char err[256] = "";
		size_t pos = 0;
		int rc = yw_cond_parse(s, t->data.scalar.length, det->names, det->nsels,
		                       &det->conds[i], err, sizeof(err), &pos);
		if (rc == YW_ENOMEM)
			return rc;
		if (rc) {
			yaml_mark_t m = cond_mark(t, pos);
			return fail_at(c, &m, "condition: %s", *err ? err : yw_strerror(rc));
		}
		det->nconds++;
	}
	return 0;
}

/* Named selections and condition of a detection (or of a filter, which also has `rules`). */
static int parse_detection(struct lctx *c, struct yw_sigma_detection *det, const yaml_node_t *dn,
                           bool filter)
{
	if (dn->type != YAML_MAPPING_NODE)
		return FAIL(c, dn, "%s must be a map", filter ? "filter" : "detection");
	size_t n = (size_t)(dn->data.mapping.pairs.top - dn->data.mapping.pairs.start);
	const yaml_node_t *cond = NULL;
	if (!(det->sels = calloc(n ? n : 1, sizeof(*det->sels))) ||
	    !(det->names = calloc(n ? n : 1, sizeof(*det->names))))
		return YW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &dn->data.mapping.pairs.start[i];
		const yaml_node_t *key = node(c, p->key), *val = node(c, p->value);
		const char *k = text_of(key);
		if (!k || !*k)
			return FAIL(c, key, "a search identifier must be a non-empty text");
		if (!strcmp(k, "condition")) {
			cond = val;
			continue;
		}
		if (!strcmp(k, "timeframe")) {
			warn_at(c, key,
			        "'timeframe' in detection is deprecated and ignored: use a "
			        "correlation rule");
			continue;
		}
		if (filter && !strcmp(k, "rules"))
			continue;
		if (det->nsels == YW_MAX_SELECTIONS)
			return FAIL(c, key, "more than %d search identifiers", YW_MAX_SELECTIONS);
		for (size_t j = 0; j < det->nsels; j++)
			if (!strcmp(det->sels[j].name, k))
				return FAIL(c, key, "duplicate search identifier '%s'", k);
		struct yw_sigma_sel *s = &det->sels[det->nsels++];
		if (!(s->name = strdup(k)))
			return YW_ENOMEM;
		det->names[det->nsels - 1] = s->name;
		int rc = parse_selection(c, s, key, val);
		if (rc)
			return rc;
	}
	if (!cond)
		return FAIL(c, dn, "%s has no condition", filter ? "filter" : "detection");
	return parse_condition(c, det, cond);
}

static int parse_logsource(struct lctx *c, struct yw_sigma_rule *r, const yaml_node_t *root,
                           bool required)
{
	const yaml_node_t *ls = map_get(c, root, "logsource");
	if (!ls) {
		if (required)
			return FAIL(c, root, "rule has no logsource");
		return 0;
	}
	if (ls->type != YAML_MAPPING_NODE)
		return FAIL(c, ls, "logsource must be a map");
	int rc = opt_text(c, ls, "product", &r->product);
	if (!rc)
		rc = opt_text(c, ls, "service", &r->service);
	if (!rc)
		rc = opt_text(c, ls, "category", &r->category);
	return rc;
}

/* "5m" -> 300000; units s, m, h, d, w. */
static int parse_timespan(const char *s, int64_t *ms)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	static const struct {
		char u;
		int64_t ms;
	} units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 604800000}};
	if (errno || end == s || v <= 0 || *s == '+' || !end[0] || end[1])
		return YW_EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (units[i].u == *end) {
			if (v > INT64_MAX / units[i].ms)
				return YW_EINVAL;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return YW_EINVAL;
}

static int parse_corr_condition(struct lctx *c, struct yw_sigma_corr *k, const yaml_node_t *cn)
{
	if (cn->type != YAML_MAPPING_NODE)
		return FAIL(c, cn, "correlation condition must be a map such as {gte: 10}");
	for (yaml_node_pair_t *p = cn->data.mapping.pairs.start; p < cn->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *key = node(c, p->key), *val = node(c, p->value);
		const char *ks = text_of(key);
		if (ks && !strcmp(ks, "field")) {
			const char *vs = text_of(val);
			if (!vs || k->cond_field)
				return FAIL(c, val, "condition field must be one field name");
			if (!(k->cond_field = strdup(vs)))
				return YW_ENOMEM;
			continue;
		}
		static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq"};
		size_t o = 0;
		while (ks && o < 6 && strcmp(ks, ops[o]))
			o++;
		if (!ks || o == 6)
			return FAIL(c, key, "unknown correlation condition '%s'", ks ? ks : "?");
		struct yw_sval sv;
		if (val->type != YAML_SCALAR_NODE || (to_sval(val, &sv), sv.kind != YW_SV_INT))
			return FAIL(c, val, "'%s' needs an integer", ks);
		if (k->nconds == 6)
			return FAIL(c, key, "too many condition terms");
		snprintf(k->conds[k->nconds].op, sizeof(k->conds[0].op), "%s", ops[o]);
		k->conds[k->nconds++].value = sv.i;
	}
	if (k->nconds == 0)
		return FAIL(c, cn, "correlation condition has no comparison");
	if (!strncmp(k->type, "value_", 6) && !k->cond_field)
		return FAIL(c, cn, "a %s correlation needs a condition field", k->type);
	return 0;
}

static int parse_correlation(struct lctx *c, struct yw_sigma_rule *r, const yaml_node_t *cn)
{
	if (cn->type != YAML_MAPPING_NODE)
		return FAIL(c, cn, "correlation must be a map");
	struct yw_sigma_corr *k = calloc(1, sizeof(*k));
	if (!(r->corr = k))
		return YW_ENOMEM;
	static const char *const types[] = {"event_count",      "value_count", "temporal",
	                                    "temporal_ordered", "value_sum",   "value_avg",
	                                    "value_percentile"};
	const yaml_node_t *n = map_get(c, cn, "type");
	const char *t = n ? text_of(n) : NULL;
	size_t i = 0;
	while (t && i < 7 && strcmp(t, types[i]))
		i++;
	if (!n)
		return FAIL(c, cn, "correlation has no type");
	if (!t || i == 7)
		return FAIL(c, n, "unknown correlation type '%s'", t ? t : "?");
	if (!(k->type = strdup(t)))
		return YW_ENOMEM;
	int rc;
	if (!(n = map_get(c, cn, "rules")))
		return FAIL(c, cn, "correlation has no rules");
	if ((rc = text_list(c, n, "rules", &k->rules, &k->nrules)))
		return rc;
	if (k->nrules == 0)
		return FAIL(c, n, "correlation rules list is empty");
	if ((n = map_get(c, cn, "group-by")) && !is_null(n) &&
	    (rc = text_list(c, n, "group-by", &k->group_by, &k->ngroup_by)))
		return rc;
	if (!(n = map_get(c, cn, "timespan")))
		return FAIL(c, cn, "correlation has no timespan");
	if (!text_of(n) || parse_timespan(text_of(n), &k->timespan_ms))
		return FAIL(c, n, "timespan must be a number and a unit (s, m, h, d, w), e.g. 5m");
	if (!(k->timespan = strdup(text_of(n))))
		return YW_ENOMEM;
	if ((n = map_get(c, cn, "generate"))) {
		struct yw_sval sv = {0};
		if (n->type == YAML_SCALAR_NODE)
			to_sval(n, &sv);
		if (sv.kind != YW_SV_BOOL)
			return FAIL(c, n, "generate must be true or false");
		k->generate = sv.b;
	}
	bool temporal = !strncmp(t, "temporal", 8);
	if ((n = map_get(c, cn, "condition")))
		return parse_corr_condition(c, k, n);
	if (!temporal)
		return FAIL(c, cn, "a %s correlation needs a condition", t);
	return 0;
}

static int parse_filter(struct lctx *c, struct yw_sigma_rule *r, const yaml_node_t *fn)
{
	if (fn->type != YAML_MAPPING_NODE)
		return FAIL(c, fn, "filter must be a map");
	struct yw_sigma_filter *f = calloc(1, sizeof(*f));
	if (!(r->filter = f))
		return YW_ENOMEM;
	const yaml_node_t *n = map_get(c, fn, "rules");
	if (!n)
		return FAIL(c, fn, "filter has no rules");
	int rc = text_list(c, n, "rules", &f->rules, &f->nrules);
	return rc ? rc : parse_detection(c, &f->det, fn, true);
}

static int parse_rule(struct lctx *c, const yaml_node_t *root, struct yw_sigma_rule *r)
{
	if (root->type != YAML_MAPPING_NODE)
		return FAIL(c, root, "a rule must be a YAML map");
	const yaml_node_t *n;
	if ((n = map_get(c, root, "action")))
		return FAIL(c, n, "legacy multi-document rules ('action') are not supported");
	if (!(r->file = strdup(c->file)))
		return YW_ENOMEM;
	n = map_get(c, root, "title");
	if (!n || is_null(n))
		return FAIL(c, root, "rule has no title");
	int rc = opt_text(c, root, "title", &r->title);
	if (!rc)
		rc = opt_text(c, root, "id", &r->id);
	if (!rc)
		rc = opt_text(c, root, "name", &r->name);
	if (!rc)
		rc = opt_text(c, root, "level", &r->level);
	if (!rc)
		rc = opt_text(c, root, "status", &r->status);
	if (!rc)
		rc = opt_text(c, root, "description", &r->description);
	if (rc)
		return rc;
	if ((n = map_get(c, root, "tags")) && !is_null(n) &&
	    (rc = text_list(c, n, "tags", &r->tags, &r->ntags)))
		return rc;
	if (r->level) {
		static const char *const levels[] = {"informational", "low", "medium", "high",
		                                     "critical"};
		size_t i = 0;
		while (i < 5 && strcmp(r->level, levels[i]))
			i++;
		if (i == 5)
			warn_at(c, map_get(c, root, "level"), "unknown level '%s'", r->level);
	}
	const yaml_node_t *corr = map_get(c, root, "correlation");
	const yaml_node_t *filt = map_get(c, root, "filter");
	if (corr) {
		r->kind = YW_SIGMA_CORRELATION;
		rc = parse_logsource(c, r, root, false);
		return rc ? rc : parse_correlation(c, r, corr);
	}
	if (filt) {
		r->kind = YW_SIGMA_FILTER;
		rc = parse_logsource(c, r, root, true);
		return rc ? rc : parse_filter(c, r, filt);
	}
	r->kind = YW_SIGMA_RULE;
	if ((rc = parse_logsource(c, r, root, true)))
		return rc;
	if (!(n = map_get(c, root, "detection")))
		return FAIL(c, root, "rule has no detection");
	return parse_detection(c, &r->det, n, false);
}

static void det_free(struct yw_sigma_detection *det)
{
	for (size_t i = 0; i < det->nsels; i++) {
		struct yw_sigma_sel *s = &det->sels[i];
		for (size_t g = 0; g < s->ngroups; g++) {
			for (size_t j = 0; j < s->groups[g].nitems; j++) {
				struct yw_sigma_item *it = &s->groups[g].items[j];
				free(it->field);
				yw_matcher_free(it->m);
				free(it->cands);
				free(it->cbuf);
			}
			free(s->groups[g].items);
		}
		free(s->groups);
		free(s->name);
	}
	free(det->sels);
	free(det->names);
	for (size_t i = 0; i < det->nconds; i++)
		yw_cond_free(det->conds[i]);
	free(det->conds);
}

void yw_sigma_rule_free(struct yw_sigma_rule *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->name);
	free(r->title);
	free(r->level);
	free(r->status);
	free(r->description);
	free(r->file);
	free(r->product);
	free(r->service);
	free(r->category);
	strv_free(r->tags, r->ntags);
	det_free(&r->det);
	if (r->corr) {
		free(r->corr->type);
		strv_free(r->corr->rules, r->corr->nrules);
		strv_free(r->corr->group_by, r->corr->ngroup_by);
		free(r->corr->timespan);
		free(r->corr->cond_field);
		free(r->corr);
	}
	if (r->filter) {
		strv_free(r->filter->rules, r->filter->nrules);
		det_free(&r->filter->det);
		free(r->filter);
	}
	free(r);
}

static void fill_info(struct yw_sigma_rule *r, unsigned line)
{
	r->info = (struct yw_rule_info){
	    .id = r->id,
	    .name = r->name,
	    .title = r->title,
	    .level = r->level,
	    .status = r->status,
	    .description = r->description,
	    .file = r->file,
	    .line = line,
	    .tags = (const char *const *)r->tags,
	    .ntags = r->ntags,
	    .product = r->product,
	    .service = r->service,
	    .category = r->category,
	};
}

/* Walks the event stream once to refuse nesting deeper than YW_MAX_RULE_DEPTH before the
 * document loader builds a tree of it. Returns 0, or YW_ELIMIT / YW_EPARSE with *at set. */
static int depth_check(const char *text, size_t len, yaml_mark_t *at, const char **problem)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = 0;
	if (!yaml_parser_initialize(&p))
		return YW_ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			*at = p.problem_mark;
			*problem = p.problem;
			rc = p.error == YAML_MEMORY_ERROR ? YW_ENOMEM : YW_EPARSE;
			break;
		}
		int t = ev.type;
		if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
			if (++depth > YW_MAX_RULE_DEPTH) {
				*at = ev.start_mark;
				rc = YW_ELIMIT;
			}
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (rc || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

int yw_sigma_load_text(struct yw_sigma_load *l, const char *text, size_t len, const char *file)
{
	if (len > YW_MAX_RULE_FILE) {
		yw_diags_add(l->d, YW_DIAG_ERROR, file, 0, 0, "rule file larger than %d bytes",
		             YW_MAX_RULE_FILE);
		l->invalid++;
		return 0;
	}
	yaml_mark_t at = {0};
	const char *problem = NULL;
	int rc = depth_check(text, len, &at, &problem);
	if (rc == YW_ENOMEM)
		return rc;
	if (rc == YW_ELIMIT) {
		yw_diags_add(l->d, YW_DIAG_ERROR, file, (unsigned)at.line + 1,
		             (unsigned)at.column + 1, "YAML nesting deeper than %d",
		             YW_MAX_RULE_DEPTH);
		l->documents++;
		l->invalid++;
		return 0;
	}
	/* A YAML error is reported by the loader below, at the same mark, after the documents
	 * that precede it have been loaded. */
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return YW_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	rc = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				rc = YW_ENOMEM;
				break;
			}
			yw_diags_add(
			    l->d, YW_DIAG_ERROR, file, (unsigned)parser.problem_mark.line + 1,
			    (unsigned)parser.problem_mark.column + 1, "YAML: %s%s%s",
			    parser.problem ? parser.problem : "parse error",
			    parser.context ? " " : "", parser.context ? parser.context : "");
			l->documents++;
			l->invalid++;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		l->documents++;
		struct lctx c = {.l = l, .doc = &doc, .file = file};
		struct yw_sigma_rule *r = calloc(1, sizeof(*r));
		int prc = r ? parse_rule(&c, root, r) : YW_ENOMEM;
		unsigned line = (unsigned)root->start_mark.line + 1;
		yaml_document_delete(&doc);
		if (prc == 0) {
			fill_info(r, line);
			prc = l->emit(l->ud, r);
		} else {
			yw_sigma_rule_free(r);
			if (prc != YW_ENOMEM)
				l->invalid++;
		}
		if (prc == YW_ENOMEM) {
			rc = prc;
			break;
		}
	}
	yaml_parser_delete(&parser);
	return rc;
}

int yw_sigma_load_placeholders(const char *text, size_t len, const char *file,
                               struct yw_placeholders *ph, char ***names, size_t *nnames,
                               struct yw_diags *d)
{
	struct yw_sigma_load l = {.d = d};
	if (len > YW_MAX_RULE_FILE) {
		yw_diags_add(d, YW_DIAG_ERROR, file, 0, 0, "file larger than %d bytes",
		             YW_MAX_RULE_FILE);
		return YW_ELIMIT;
	}
	yaml_mark_t at = {0};
	const char *problem = NULL;
	int rc = depth_check(text, len, &at, &problem);
	if (rc) {
		if (rc != YW_ENOMEM)
			yw_diags_add(d, YW_DIAG_ERROR, file, (unsigned)at.line + 1,
			             (unsigned)at.column + 1, "YAML: %s",
			             rc == YW_ELIMIT ? "nesting too deep"
			             : problem       ? problem
			                             : "parse error");
		return rc == YW_ELIMIT ? YW_EPARSE : rc;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return YW_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return YW_ENOMEM; /* the depth pass already parsed this text */
	}
	struct lctx c = {.l = &l, .doc = &doc, .file = file};
	const yaml_node_t *root = yaml_document_get_root_node(&doc), *map = NULL;
	if (!root || root->type != YAML_MAPPING_NODE ||
	    !(map = map_get(&c, root, "placeholders")) || map->type != YAML_MAPPING_NODE) {
		yaml_mark_t m = root ? root->start_mark : (yaml_mark_t){0};
		rc = fail_at(&c, &m, "expected `placeholders: {name: [values...]}`");
		goto out;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !rc; p++) {
		const yaml_node_t *key = node(&c, p->key), *val = node(&c, p->value);
		const char *k = text_of(key);
		if (!k || !*k || strchr(k, '%')) {
			rc = FAIL(&c, key, "a placeholder name must be text without '%%'");
			break;
		}
		char **vals = NULL;
		size_t nv = 0;
		rc = is_null(val) ? 0 : text_list(&c, val, k, &vals, &nv);
		for (size_t i = 0; i < nv && !rc; i++)
			rc = yw_placeholders_add(ph, k, vals[i]);
		strv_free(vals, nv);
		if (rc)
			break;
		char **nn = realloc(*names, (*nnames + 1) * sizeof(char *));
		if (!nn) {
			rc = YW_ENOMEM;
			break;
		}
		*names = nn;
		if (!(nn[*nnames] = strdup(k))) {
			rc = YW_ENOMEM;
			break;
		}
		(*nnames)++;
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int yw_sigma_read_file(const char *path, size_t max, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		rc = YW_EIO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = YW_ELIMIT;
		goto out;
	}
	size_t n = (size_t)st.st_size;
	if (!(buf = malloc(n + 1))) {
		rc = YW_ENOMEM;
		goto out;
	}
	if (fread(buf, 1, n, f) != n || ferror(f)) {
		rc = YW_EIO;
		goto out;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}
