/* Sigma detection items compiled into matchers: modifier checks and per-value strategies
 * (exact, prefix, suffix, substring, glob, regex, CIDR, numeric, time part, exists, null,
 * fieldref). Value transformations live in sigma_modifiers.c, evaluation in
 * sigma_match_eval.c.
 *
 * Case-insensitive matching folds ASCII only, as SigmaHQ's tooling and most backends do:
 * needles are folded once here, fields per evaluation. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "detect/sigma_match_int.h"
#include "yw_limits.h"
#include "yiwang/error.h"

static const struct {
	const char *name;
	uint32_t bit;
} mod_table[] = {
    {"contains", M_CONTAINS},
    {"startswith", M_STARTSWITH},
    {"endswith", M_ENDSWITH},
    {"all", M_ALL},
    {"windash", M_WINDASH},
    {"base64", M_BASE64},
    {"base64offset", M_BASE64OFF},
    {"utf16le", M_UTF16LE},
    {"wide", M_UTF16LE},
    {"utf16be", M_UTF16BE},
    {"utf16", M_UTF16},
    {"re", M_RE},
    {"i", M_RE_I},
    {"ignorecase", M_RE_I},
    {"m", M_RE_M},
    {"multiline", M_RE_M},
    {"s", M_RE_S},
    {"dotall", M_RE_S},
    {"cidr", M_CIDR},
    {"exists", M_EXISTS},
    {"cased", M_CASED},
    {"neq", M_NEQ},
    {"lt", M_LT},
    {"lte", M_LTE},
    {"gt", M_GT},
    {"gte", M_GTE},
    {"fieldref", M_FIELDREF},
    {"expand", M_EXPAND},
    {"minute", M_MINUTE},
    {"hour", M_HOUR},
    {"day", M_DAY},
    {"week", M_WEEK},
    {"month", M_MONTH},
    {"year", M_YEAR},
};

/* Modifiers that give a value a type other than string, with the companions each allows. */
static const struct {
	uint32_t bit;
	uint32_t allowed;
} type_rules[] = {
    {M_RE, M_RE | M_REFLAGS | M_MATCHTYPE | M_ALL | M_NEQ | M_EXPAND},
    {M_CIDR, M_CIDR | M_ALL | M_NEQ | M_EXPAND},
    {M_EXISTS, M_EXISTS},
    {M_NUM, M_NUM | M_ALL | M_NEQ},
    {M_TIME, M_TIME | M_ALL | M_NEQ},
    {M_FIELDREF, M_FIELDREF | M_MATCHTYPE | M_ALL | M_NEQ | M_CASED},
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *mod_name(uint32_t bit)
{
	for (size_t i = 0; i < sizeof(mod_table) / sizeof(mod_table[0]); i++)
		if (mod_table[i].bit == bit)
			return mod_table[i].name;
	return "?";
}

static int popcount(uint32_t v)
{
	return __builtin_popcount(v);
}

const uint8_t yw_sm_fold_tab[256] = {
#define R(b)                                                                                       \
	b + 0, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10, b + 11,      \
	    b + 12, b + 13, b + 14, b + 15
    R(0x00), R(0x10), R(0x20), R(0x30), 0x40,    'a',     'b',     'c',     'd',     'e',
    'f',     'g',     'h',     'i',     'j',     'k',     'l',     'm',     'n',     'o',
    'p',     'q',     'r',     's',     't',     'u',     'v',     'w',     'x',     'y',
    'z',     0x5b,    0x5c,    0x5d,    0x5e,    0x5f,    R(0x60), R(0x70), R(0x80), R(0x90),
    R(0xa0), R(0xb0), R(0xc0), R(0xd0), R(0xe0), R(0xf0),
#undef R
};

/* ---- compile ---- */

static void group_free(struct group *g)
{
	for (size_t a = 0; a < g->nalts; a++) {
		for (size_t s = 0; s < g->alts[a].nsegs; s++) {
			free(g->alts[a].segs[s].b);
			free(g->alts[a].segs[s].k);
		}
		free(g->alts[a].segs);
	}
	free(g->alts);
	for (size_t i = 0; i < g->nre; i++)
		pcre2_code_free(g->re[i]);
	free(g->re);
	free(g->nets);
	free(g->ref);
}

void yw_matcher_free(struct yw_matcher *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ng; i++)
		group_free(&m->g[i]);
	free(m->g);
	pcre2_match_context_free(m->mctx);
	free(m);
}

static int check_mods(uint32_t set, int keyword, char *err, size_t errlen)
{
	if (popcount(set & M_MATCHTYPE) > 1) {
		seterr(err, errlen, "contains, startswith and endswith exclude each other");
		return YW_EINVAL;
	}
	if (popcount(set & M_UTF16ANY) > 1 || popcount(set & (M_BASE64 | M_BASE64OFF)) > 1 ||
	    popcount(set & M_NUM) > 1 || popcount(set & M_TIME) > 1) {
		seterr(err, errlen, "conflicting modifiers");
		return YW_EINVAL;
	}
	if ((set & M_REFLAGS) && !(set & M_RE)) {
		seterr(err, errlen, "modifier '%s' needs 're'",
		       mod_name(set & M_REFLAGS & -(set & M_REFLAGS)));
		return YW_EINVAL;
	}
	for (size_t i = 0; i < sizeof(type_rules) / sizeof(type_rules[0]); i++) {
		if (!(set & type_rules[i].bit))
			continue;
		uint32_t bad = set & ~type_rules[i].allowed;
		if (bad) {
			seterr(err, errlen, "modifier '%s' cannot be combined with '%s'",
			       mod_name(set & type_rules[i].bit & -(set & type_rules[i].bit)),
			       mod_name(bad & -bad));
			return YW_EINVAL;
		}
	}
	if ((set & M_BASE64OFF) && !(set & M_CONTAINS) && !keyword) {
		seterr(err, errlen,
		       "base64offset needs contains (its fragments never match whole)");
		return YW_EINVAL;
	}
	if (keyword && (set & (M_EXISTS | M_FIELDREF))) {
		seterr(err, errlen, "modifier '%s' needs a field",
		       mod_name(set & (M_EXISTS | M_FIELDREF) & -(set & (M_EXISTS | M_FIELDREF))));
		return YW_EINVAL;
	}
	return 0;
}

bool yw_sm_parse_num(const char *s, size_t len, int64_t *iv, double *dv, bool *isf)
{
	char buf[64];
	if (len == 0 || len >= sizeof(buf))
		return false;
	bool intlike = true;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if ((c >= '0' && c <= '9') || ((c == '-' || c == '+') && i == 0))
			continue;
		if (c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+') {
			intlike = false;
			continue;
		}
		return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	if (intlike) {
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0' && end != buf) {
			*iv = v;
			*isf = false;
			return true;
		}
	}
	double d = strtod(buf, &end);
	if (*end != '\0' || end == buf || !isfinite(d))
		return false;
	*dv = d;
	*isf = true;
	return true;
}

static int value_number(struct group *g, const struct yw_sval *v, const char *mname, char *err,
                        size_t errlen)
{
	if (v->kind == YW_SV_INT) {
		g->i = v->i;
		g->is_float = false;
		return 0;
	}
	if (v->kind == YW_SV_FLOAT) {
		g->d = v->d;
		g->is_float = true;
		return 0;
	}
	if (v->kind == YW_SV_STR && v->s &&
	    yw_sm_parse_num(v->s, v->len, &g->i, &g->d, &g->is_float))
		return 0;
	seterr(err, errlen, "modifier '%s' needs a number", mname);
	return YW_EINVAL;
}

static int compile_alt(struct alt *a, const struct yw_tstr *s, bool cased)
{
	size_t nseg = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i] != YW_TK_STAR && (i == 0 || s->t[i - 1] == YW_TK_STAR))
			nseg++;
	a->anc_start = s->n == 0 || s->t[0] != YW_TK_STAR;
	a->anc_end = s->n == 0 || s->t[s->n - 1] != YW_TK_STAR;
	a->segs = calloc(nseg ? nseg : 1, sizeof(*a->segs));
	if (!a->segs)
		return YW_ENOMEM;
	bool anyq = false;
	for (size_t i = 0; i < s->n;) {
		if (s->t[i] == YW_TK_STAR) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < s->n && s->t[j] != YW_TK_STAR)
			j++;
		struct seg *sg = &a->segs[a->nsegs++];
		sg->b = malloc(j - i);
		if (!sg->b)
			return YW_ENOMEM;
		sg->n = j - i;
		for (size_t p = i; p < j; p++) {
			uint16_t t = s->t[p];
			if (t > 0xff && !sg->k) {
				sg->k = calloc(j - i, 1);
				if (!sg->k)
					return YW_ENOMEM;
			}
			if (t == YW_TK_CHAR || t == YW_TK_BYTE) {
				sg->k[p - i] = t == YW_TK_CHAR ? K_CHAR : K_BYTE;
				sg->b[p - i] = 0;
				sg->maxlen += t == YW_TK_CHAR ? 4 : 1;
				anyq = true;
			} else {
				sg->b[p - i] = cased ? (uint8_t)t : sm_fold((uint8_t)t);
				sg->maxlen++;
			}
		}
		i = j;
	}
	if (a->nsegs == 0)
		a->kind = a->anc_start ? A_EXACT : A_ANY; /* '' or '*' */
	else if (a->nsegs > 1 || anyq)
		a->kind = A_GLOB;
	else if (a->anc_start && a->anc_end)
		a->kind = A_EXACT;
	else if (a->anc_start)
		a->kind = A_PREFIX;
	else if (a->anc_end)
		a->kind = A_SUFFIX;
	else
		a->kind = A_SUBSTR;
	return 0;
}

static int add_stars(struct yw_tlist *l, uint32_t mt)
{
	for (size_t a = 0; a < l->n; a++) {
		struct yw_tstr *s = &l->v[a];
		bool pre = (mt & (M_CONTAINS | M_ENDSWITH)) && (s->n == 0 || s->t[0] != YW_TK_STAR);
		bool post = (mt & (M_CONTAINS | M_STARTSWITH)) &&
		            (s->n == 0 || s->t[s->n - 1] != YW_TK_STAR);
		if (!pre && !post)
			continue;
		uint16_t *t = malloc((s->n + 2) * sizeof(*t));
		if (!t)
			return YW_ENOMEM;
		size_t n = 0;
		if (pre)
			t[n++] = YW_TK_STAR;
		if (s->n)
			memcpy(t + n, s->t, s->n * sizeof(*t));
		n += s->n;
		if (post && (n == 0 || t[n - 1] != YW_TK_STAR))
			t[n++] = YW_TK_STAR;
		free(s->t);
		s->t = t;
		s->n = n;
	}
	return 0;
}

static int compile_regex(struct yw_matcher *m, struct group *g, const char *pat, size_t len,
                         uint32_t set, char *err, size_t errlen)
{
	if (len > YW_MAX_REGEX) {
		seterr(err, errlen, "regex longer than %d bytes", YW_MAX_REGEX);
		return YW_ELIMIT;
	}
	/* The match is a search; startswith/endswith anchor it, contains changes nothing. */
	const char *pre = (set & M_STARTSWITH) ? "\\A(?:" : ((set & M_ENDSWITH) ? "(?:" : "");
	const char *post = (set & M_STARTSWITH) ? ")" : ((set & M_ENDSWITH) ? ")\\z" : "");
	size_t plen = strlen(pre), qlen = strlen(post);
	char *buf = malloc(plen + len + qlen + 1);
	if (!buf)
		return YW_ENOMEM;
	memcpy(buf, pre, plen);
	memcpy(buf + plen, pat, len);
	memcpy(buf + plen + len, post, qlen + 1);
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	if (set & M_RE_I)
		opts |= PCRE2_CASELESS;
	if (set & M_RE_M)
		opts |= PCRE2_MULTILINE;
	if (set & M_RE_S)
		opts |= PCRE2_DOTALL;
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)buf, plen + len + qlen, opts, &ec, &eo, NULL);
	free(buf);
	if (!code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		size_t off = eo > plen ? eo - plen : 0;
		seterr(err, errlen, "invalid regex at offset %zu: %s", off > len ? len : off,
		       (const char *)msg);
		return YW_EINVAL;
	}
	/* Without JIT the interpreter is used: slower but correct. */
	pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	pcre2_code **nr = realloc(g->re, (g->nre + 1) * sizeof(*nr));
	if (!nr) {
		pcre2_code_free(code);
		return YW_ENOMEM;
	}
	g->re = nr;
	g->re[g->nre++] = code;
	if (!m->mctx) {
		m->mctx = pcre2_match_context_create(NULL);
		if (!m->mctx)
			return YW_ENOMEM;
		pcre2_set_match_limit(m->mctx, YW_SIGMA_REGEX_MATCH_LIMIT);
	}
	return 0;
}

bool yw_sm_parse_ip(const char *s, size_t len, uint8_t *fam, uint8_t a[16])
{
	char buf[64];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a, 0, 16);
	if (memchr(buf, ':', len)) {
		if (inet_pton(AF_INET6, buf, a) != 1)
			return false;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			memset(a + 4, 0, 12);
			*fam = 4;
		} else {
			*fam = 6;
		}
		return true;
	}
	if (inet_pton(AF_INET, buf, a) != 1)
		return false;
	*fam = 4;
	return true;
}

static int compile_cidr(struct group *g, const char *s, size_t len, char *err, size_t errlen)
{
	struct net n = {0};
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	bool ok = yw_sm_parse_ip(s, alen, &n.fam, n.a);
	bool v6text = memchr(s, ':', alen) != NULL;
	unsigned max = v6text ? 128 : 32, pfx = max;
	if (ok && slash) {
		size_t dl = len - alen - 1;
		pfx = 0;
		ok = dl > 0 && dl <= 3;
		for (size_t i = 0; ok && i < dl; i++) {
			char c = slash[1 + i];
			ok = c >= '0' && c <= '9';
			pfx = pfx * 10 + (unsigned)(c - '0');
		}
		ok = ok && pfx <= max;
	}
	/* A v4-mapped v6 network keeps its v4 meaning. */
	if (ok && n.fam == 4 && v6text) {
		ok = pfx >= 96;
		pfx -= 96;
	}
	if (!ok) {
		seterr(err, errlen, "cidr: invalid network '%.*s'", (int)(len > 64 ? 64 : len), s);
		return YW_EINVAL;
	}
	n.prefix = (uint8_t)pfx;
	struct net *nn = realloc(g->nets, (g->nnets + 1) * sizeof(*nn));
	if (!nn)
		return YW_ENOMEM;
	g->nets = nn;
	g->nets[g->nnets++] = n;
	return 0;
}

/* Text of a non-null scalar as matched by string comparison. */
static const char *value_text(const struct yw_sval *v, char *buf, size_t cap, size_t *len)
{
	if (v->kind == YW_SV_BOOL) {
		*len = v->b ? 4 : 5;
		return v->b ? "true" : "false";
	}
	if (v->s) {
		*len = v->len;
		return v->s;
	}
	int n = v->kind == YW_SV_INT ? snprintf(buf, cap, "%lld", (long long)v->i)
	                             : snprintf(buf, cap, "%.17g", v->d);
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

static int compile_strings(struct yw_matcher *m, struct group *g, const struct yw_sval *v,
                           const char *const *texts, const size_t *lens, size_t ntexts,
                           uint32_t set, const uint32_t *order, size_t norder, int keyword,
                           char *err, size_t errlen)
{
	struct yw_tlist l = {0};
	int rc = 0;
	for (size_t i = 0; i < ntexts && rc == 0; i++)
		rc = v->kind == YW_SV_STR ? yw_sm_parse(texts[i], lens[i], &l)
		                          : yw_sm_literal(texts[i], lens[i], &l);
	for (size_t i = 0; i < norder && rc == 0; i++) {
		switch (order[i]) {
		case M_WINDASH:
			rc = yw_sm_windash(&l);
			if (rc == YW_ELIMIT)
				seterr(err, errlen, "windash expands to more than %d values",
				       YW_MAX_SIGMA_ALTS);
			break;
		case M_UTF16LE:
			rc = yw_sm_utf16(&l, YW_UTF16LE, err, errlen);
			break;
		case M_UTF16BE:
			rc = yw_sm_utf16(&l, YW_UTF16BE, err, errlen);
			break;
		case M_UTF16:
			rc = yw_sm_utf16(&l, YW_UTF16BOM, err, errlen);
			break;
		default:
			rc = yw_sm_base64(&l, order[i] == M_BASE64OFF, err, errlen);
			break;
		}
	}
	uint32_t mt = set & M_MATCHTYPE;
	if (keyword && !mt)
		mt = M_CONTAINS;
	if (rc == 0)
		rc = add_stars(&l, mt);
	if (rc == 0) {
		g->alts = calloc(l.n ? l.n : 1, sizeof(*g->alts));
		if (!g->alts)
			rc = YW_ENOMEM;
	}
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		rc = compile_alt(&g->alts[i], &l.v[i], m->cased);
		g->nalts++;
	}
	if (rc == 0 && v->kind == YW_SV_INT && !mt && !(set & M_TRANSFORM) && l.n == 1) {
		char canon[32];
		int n = snprintf(canon, sizeof(canon), "%lld", (long long)v->i);
		if ((size_t)n != lens[0] || memcmp(canon, texts[0], lens[0]) != 0) {
			g->has_int = true;
			g->iv = v->i;
		}
	}
	if (rc == YW_ELIMIT && err && !err[0])
		seterr(err, errlen, "value expands to more than %d alternatives",
		       YW_MAX_SIGMA_ALTS);
	yw_tlist_free(&l);
	return rc;
}

static int compile_value(struct yw_matcher *m, struct group *g, const struct yw_sval *v,
                         uint32_t set, const uint32_t *order, size_t norder, int keyword,
                         const struct yw_placeholders *ph, char *err, size_t errlen)
{
	if (set & M_EXISTS) {
		g->kind = G_EXISTS;
		if (v->kind == YW_SV_BOOL) {
			g->exists = v->b;
			return 0;
		}
		if (v->kind == YW_SV_STR && v->s && (v->len == 4 || v->len == 5) &&
		    (strncasecmp(v->s, "true", v->len) == 0 ||
		     strncasecmp(v->s, "false", v->len) == 0)) {
			g->exists = v->len == 4;
			return 0;
		}
		seterr(err, errlen, "exists needs true or false");
		return YW_EINVAL;
	}
	if (set & (M_NUM | M_TIME)) {
		uint32_t bit = set & (M_NUM | M_TIME);
		g->kind = (set & M_NUM) ? G_NUM : G_TIME;
		g->op = bit;
		int rc = value_number(g, v, mod_name(bit), err, errlen);
		if (rc == 0 && g->kind == G_TIME && g->is_float) {
			seterr(err, errlen, "modifier '%s' needs an integer", mod_name(bit));
			rc = YW_EINVAL;
		}
		return rc;
	}
	if (v->kind == YW_SV_NULL) {
		uint32_t bad = set & ~(M_NEQ | M_ALL | M_CASED);
		if (bad) {
			seterr(err, errlen, "null cannot be used with '%s'", mod_name(bad & -bad));
			return YW_EINVAL;
		}
		g->kind = G_NULL;
		return 0;
	}
	char nbuf[40];
	size_t tl;
	const char *text = value_text(v, nbuf, sizeof(nbuf), &tl);
	if (set & M_FIELDREF) {
		struct yw_tlist l = {0};
		int rc = yw_sm_parse(text, tl, &l);
		if (rc == 0 && yw_tstr_has_wild(&l.v[0])) {
			seterr(err, errlen, "fieldref names must not contain wildcards");
			rc = YW_EINVAL;
		}
		if (rc == 0 && (g->ref = malloc(l.v[0].n + 1)) == NULL)
			rc = YW_ENOMEM;
		if (rc == 0) {
			for (size_t i = 0; i < l.v[0].n; i++)
				g->ref[i] = (char)l.v[0].t[i];
			g->ref[l.v[0].n] = '\0';
			g->kind = G_FIELDREF;
			g->refmode = set & M_MATCHTYPE;
		}
		yw_tlist_free(&l);
		return rc;
	}
	char **texts = NULL;
	size_t ntexts = 0, cap = 0;
	int rc = 0;
	if ((set & M_EXPAND) && v->kind == YW_SV_STR) {
		rc = yw_sm_expand(text, tl, ph, &texts, &ntexts, &cap, err, errlen);
	} else {
		texts = malloc(sizeof(*texts));
		if (!texts || !(texts[0] = malloc(tl + 1))) {
			rc = YW_ENOMEM;
		} else {
			memcpy(texts[0], text, tl);
			texts[0][tl] = '\0';
			ntexts = 1;
		}
	}
	size_t *lens = rc == 0 ? malloc((ntexts ? ntexts : 1) * sizeof(*lens)) : NULL;
	if (rc == 0 && !lens)
		rc = YW_ENOMEM;
	for (size_t i = 0; rc == 0 && i < ntexts; i++)
		lens[i] = strlen(texts[i]);
	if (rc == 0 && (set & M_RE)) {
		g->kind = G_RE;
		for (size_t i = 0; i < ntexts && rc == 0; i++)
			rc = compile_regex(m, g, texts[i], lens[i], set, err, errlen);
	} else if (rc == 0 && (set & M_CIDR)) {
		g->kind = G_CIDR;
		for (size_t i = 0; i < ntexts && rc == 0; i++)
			rc = compile_cidr(g, texts[i], lens[i], err, errlen);
	} else if (rc == 0) {
		g->kind = G_STR;
		rc = compile_strings(m, g, v, (const char *const *)texts, lens, ntexts, set, order,
		                     norder, keyword, err, errlen);
	}
	for (size_t i = 0; i < ntexts; i++)
		free(texts[i]);
	free(texts);
	free(lens);
	return rc;
}

int yw_matcher_compile(const char *const *mods, size_t nmods, const struct yw_sval *vals,
                       size_t nvals, int keyword, const struct yw_placeholders *ph,
                       struct yw_matcher **out, char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	uint32_t set = 0, order[8];
	size_t norder = 0;
	for (size_t i = 0; i < nmods; i++) {
		uint32_t bit = 0;
		for (size_t j = 0; j < sizeof(mod_table) / sizeof(mod_table[0]); j++)
			if (strcmp(mods[i], mod_table[j].name) == 0)
				bit = mod_table[j].bit;
		if (!bit) {
			seterr(err, errlen, "unknown modifier '%.64s'", mods[i]);
			return YW_EINVAL;
		}
		if (set & bit) {
			seterr(err, errlen, "duplicate modifier '%.64s'", mods[i]);
			return YW_EINVAL;
		}
		set |= bit;
		if (bit & M_TRANSFORM)
			order[norder++] = bit;
	}
	int rc = check_mods(set, keyword, err, errlen);
	if (rc)
		return rc;
	if (nvals == 0) {
		seterr(err, errlen, "no values");
		return YW_EINVAL;
	}
	if (nvals > YW_MAX_RULE_VALUES) {
		seterr(err, errlen, "more than %d values", YW_MAX_RULE_VALUES);
		return YW_ELIMIT;
	}
	if ((set & M_EXISTS) && nvals != 1) {
		seterr(err, errlen, "exists takes one value");
		return YW_EINVAL;
	}
	struct yw_matcher *m = calloc(1, sizeof(*m));
	if (!m)
		return YW_ENOMEM;
	m->all = set & M_ALL;
	m->neg = set & M_NEQ;
	m->cased = set & M_CASED;
	m->g = calloc(nvals, sizeof(*m->g));
	if (!m->g) {
		rc = YW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nvals && rc == 0; i++) {
		rc = compile_value(m, &m->g[i], &vals[i], set, order, norder, keyword, ph, err,
		                   errlen);
		m->ng++;
		if (m->g[i].kind == G_NULL || m->g[i].kind == G_EXISTS)
			m->wants_absent = true;
	}
	if (m->neg)
		m->wants_absent = true;
out:
	if (rc) {
		if (err && errlen && !err[0])
			seterr(err, errlen, "%s", yw_strerror(rc));
		yw_matcher_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

bool yw_matcher_wants_absent(const struct yw_matcher *m)
{
	return m->wants_absent;
}

bool yw_matcher_is_all(const struct yw_matcher *m)
{
	return m->all;
}

/* ---- literals for a prefilter ---- */

static size_t longest_run(const struct alt *a, const uint8_t **lit)
{
	size_t best = 0;
	*lit = NULL;
	for (size_t s = 0; s < a->nsegs; s++) {
		const struct seg *g = &a->segs[s];
		for (size_t i = 0; i < g->n;) {
			if (g->k && g->k[i] != K_LIT) {
				i++;
				continue;
			}
			size_t j = i;
			while (j < g->n && (!g->k || g->k[j] == K_LIT))
				j++;
			if (j - i > best) {
				best = j - i;
				*lit = g->b + i;
			}
			i = j;
		}
	}
	return best;
}

int yw_matcher_literals(const struct yw_matcher *m, yw_literal_fn cb, void *ud)
{
	unsigned base = (m->cased ? YW_LIT_CASED : 0) | (m->neg ? YW_LIT_OPTIONAL : 0);
	for (size_t i = 0; i < m->ng; i++) {
		const struct group *g = &m->g[i];
		int rc;
		if (g->kind != G_STR) {
			rc = cb(ud, i, "", 0, base | YW_LIT_OPTIONAL);
			if (rc)
				return rc;
			continue;
		}
		for (size_t a = 0; a < g->nalts; a++) {
			const uint8_t *lit;
			size_t n = longest_run(&g->alts[a], &lit);
			unsigned fl = base | (n == 0 || g->has_int ? YW_LIT_OPTIONAL : 0);
			rc = cb(ud, i, n ? (const char *)lit : "", n, fl);
			if (rc)
				return rc;
		}
	}
	return 0;
}
