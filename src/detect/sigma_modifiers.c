/* Value transformations for Sigma modifiers: wildcard escaping, placeholders (`expand`),
 * `windash`, the UTF-16 encodings and `base64` / `base64offset`. Semantics follow the
 * modifiers appendix (v2.1) and, where it is silent, pySigma, which SigmaHQ tests rules with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_match_int.h"
#include "yw_limits.h"
#include "yiwang/error.h"

struct ph_ent {
	char *name;
	char **vals;
	size_t nvals, cap;
};

struct yw_placeholders {
	struct ph_ent *v;
	size_t n, cap;
};

struct yw_placeholders *yw_placeholders_new(void)
{
	return calloc(1, sizeof(struct yw_placeholders));
}

void yw_placeholders_free(struct yw_placeholders *ph)
{
	if (!ph)
		return;
	for (size_t i = 0; i < ph->n; i++) {
		for (size_t j = 0; j < ph->v[i].nvals; j++)
			free(ph->v[i].vals[j]);
		free(ph->v[i].vals);
		free(ph->v[i].name);
	}
	free(ph->v);
	free(ph);
}

static struct ph_ent *ph_find(const struct yw_placeholders *ph, const char *name, size_t len)
{
	if (!ph)
		return NULL;
	for (size_t i = 0; i < ph->n; i++)
		if (strlen(ph->v[i].name) == len && memcmp(ph->v[i].name, name, len) == 0)
			return &ph->v[i];
	return NULL;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return YW_ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

int yw_placeholders_add(struct yw_placeholders *ph, const char *name, const char *value)
{
	if (!ph || !name || !value || !*name)
		return YW_EINVAL;
	struct ph_ent *e = ph_find(ph, name, strlen(name));
	if (!e) {
		if (grow((void **)&ph->v, &ph->cap, ph->n + 1, sizeof(*ph->v)))
			return YW_ENOMEM;
		e = &ph->v[ph->n];
		memset(e, 0, sizeof(*e));
		e->name = strdup(name);
		if (!e->name)
			return YW_ENOMEM;
		ph->n++;
	}
	if (e->nvals >= YW_MAX_PLACEHOLDER_VALUES)
		return YW_ELIMIT;
	if (grow((void **)&e->vals, &e->cap, e->nvals + 1, sizeof(*e->vals)))
		return YW_ENOMEM;
	e->vals[e->nvals] = strdup(value);
	if (!e->vals[e->nvals])
		return YW_ENOMEM;
	e->nvals++;
	return 0;
}

void yw_tlist_free(struct yw_tlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].t);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int yw_tlist_push(struct yw_tlist *l, const uint16_t *t, size_t n)
{
	if (l->n >= YW_MAX_SIGMA_ALTS)
		return YW_ELIMIT;
	if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return YW_ENOMEM;
	uint16_t *c = malloc((n ? n : 1) * sizeof(*c));
	if (!c)
		return YW_ENOMEM;
	if (n)
		memcpy(c, t, n * sizeof(*c));
	l->v[l->n].t = c;
	l->v[l->n].n = n;
	l->n++;
	return 0;
}

bool yw_tstr_has_wild(const struct yw_tstr *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i] > 0xff)
			return true;
	return false;
}

/* Spec "Escaping": `\` escapes `*`, `?` and itself; before any other character, and at the
 * end of the value, it is a plain backslash. So `\\*` is a backslash then a wildcard, `\\\*`
 * a backslash then a star, and `C:\Windows\` keeps both backslashes. */
int yw_sm_parse(const char *s, size_t len, struct yw_tlist *out)
{
	uint16_t *t = malloc((len + 1) * sizeof(*t));
	if (!t)
		return YW_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (i + 1 < len &&
			    (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
				t[n++] = (unsigned char)s[++i];
				continue;
			}
			t[n++] = '\\';
		} else if (c == '*') {
			if (n == 0 || t[n - 1] != YW_TK_STAR)
				t[n++] = YW_TK_STAR;
		} else if (c == '?') {
			t[n++] = YW_TK_CHAR;
		} else {
			t[n++] = c;
		}
	}
	int rc = yw_tlist_push(out, t, n);
	free(t);
	return rc;
}

int yw_sm_literal(const char *s, size_t len, struct yw_tlist *out)
{
	uint16_t *t = malloc((len + 1) * sizeof(*t));
	if (!t)
		return YW_ENOMEM;
	for (size_t i = 0; i < len; i++)
		t[i] = (unsigned char)s[i];
	int rc = yw_tlist_push(out, t, len);
	free(t);
	return rc;
}

static bool ph_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* Appends piece[0..plen) to each of the strings in outs[from..*n). */
static int append_all(char **outs, size_t from, size_t n, const char *piece, size_t plen)
{
	for (size_t i = from; i < n; i++) {
		size_t ol = strlen(outs[i]);
		char *ns = realloc(outs[i], ol + plen + 1);
		if (!ns)
			return YW_ENOMEM;
		memcpy(ns + ol, piece, plen);
		ns[ol + plen] = '\0';
		outs[i] = ns;
	}
	return 0;
}

int yw_sm_expand(const char *s, size_t len, const struct yw_placeholders *ph, char ***outs,
                 size_t *nouts, size_t *cap, char *err, size_t errlen)
{
	size_t from = *nouts;
	int rc = grow((void **)outs, cap, from + 1, sizeof(**outs));
	if (rc)
		return rc;
	(*outs)[from] = calloc(1, 1);
	if (!(*outs)[from])
		return YW_ENOMEM;
	*nouts = from + 1;
	size_t i = 0;
	while (i < len) {
		if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '%' || s[i + 1] == '\\')) {
			/* `\%` is a plain percent; `\\` stays escaped for the wildcard parser. */
			rc = s[i + 1] == '%' ? append_all(*outs, from, *nouts, "%", 1)
			                     : append_all(*outs, from, *nouts, s + i, 2);
			if (rc)
				return rc;
			i += 2;
			continue;
		}
		size_t j = i + 1;
		if (s[i] == '%') {
			while (j < len && ph_name_char(s[j]))
				j++;
		}
		if (s[i] != '%' || j >= len || s[j] != '%' || j == i + 1) {
			rc = append_all(*outs, from, *nouts, s + i, 1);
			if (rc)
				return rc;
			i++;
			continue;
		}
		const struct ph_ent *e = ph_find(ph, s + i + 1, j - i - 1);
		if (!e || e->nvals == 0) {
			snprintf(err, errlen, "unknown placeholder '%.*s'", (int)(j - i - 1),
			         s + i + 1);
			return YW_EINVAL;
		}
		size_t base = *nouts - from;
		if (base * e->nvals > YW_MAX_SIGMA_ALTS) {
			snprintf(err, errlen, "placeholders expand to more than %d values",
			         YW_MAX_SIGMA_ALTS);
			return YW_ELIMIT;
		}
		rc = grow((void **)outs, cap, from + base * e->nvals, sizeof(**outs));
		if (rc)
			return rc;
		/* Copies k>0 are made from the prefixes before value 0 is appended in place. */
		for (size_t k = 1; k < e->nvals; k++) {
			for (size_t b = 0; b < base; b++) {
				const char *pre = (*outs)[from + b];
				size_t pl = strlen(pre), vl = strlen(e->vals[k]);
				char *ns = malloc(pl + vl + 1);
				if (!ns)
					return YW_ENOMEM;
				memcpy(ns, pre, pl);
				memcpy(ns + pl, e->vals[k], vl + 1);
				(*outs)[(*nouts)++] = ns;
			}
		}
		rc = append_all(*outs, from, from + base, e->vals[0], strlen(e->vals[0]));
		if (rc)
			return rc;
		i = j + 1;
	}
	return 0;
}

static bool word_tok(uint16_t t)
{
	return t < 0x100 && ((t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') ||
	                     (t >= '0' && t <= '9') || t == '_' || t >= 0x80);
}

/* pySigma expands a `-` or `/` that starts a word (regex \B[-/]\b): in "-param-name" only the
 * first dash. Each becomes one of the five characters the appendix lists. */
int yw_sm_windash(struct yw_tlist *l)
{
	static const char *const dash[5] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94",
	                                    "\xe2\x80\x95"};
	struct yw_tlist out = {0};
	int rc = 0;
	for (size_t a = 0; a < l->n && rc == 0; a++) {
		const struct yw_tstr *s = &l->v[a];
		size_t k = 0, total = 1;
		for (size_t i = 0; i < s->n; i++) {
			if ((s->t[i] == '-' || s->t[i] == '/') &&
			    (i == 0 || !word_tok(s->t[i - 1])) && i + 1 < s->n &&
			    word_tok(s->t[i + 1])) {
				k++;
				total *= 5;
				if (total > YW_MAX_SIGMA_ALTS) {
					rc = YW_ELIMIT;
					break;
				}
			}
		}
		if (rc)
			break;
		uint16_t *buf = malloc((s->n * 3 + 1) * sizeof(*buf));
		if (!buf) {
			rc = YW_ENOMEM;
			break;
		}
		for (size_t combo = 0; combo < total && rc == 0; combo++) {
			size_t n = 0, c = combo;
			for (size_t i = 0; i < s->n; i++) {
				if ((s->t[i] == '-' || s->t[i] == '/') &&
				    (i == 0 || !word_tok(s->t[i - 1])) && i + 1 < s->n &&
				    word_tok(s->t[i + 1])) {
					for (const char *d = dash[c % 5]; *d; d++)
						buf[n++] = (unsigned char)*d;
					c /= 5;
				} else {
					buf[n++] = s->t[i];
				}
			}
			rc = yw_tlist_push(&out, buf, n);
		}
		free(buf);
	}
	if (rc) {
		yw_tlist_free(&out);
		return rc;
	}
	yw_tlist_free(l);
	*l = out;
	return 0;
}

/* Decodes one UTF-8 character from byte tokens; returns its length or 0 when invalid. */
static size_t utf8_tok(const uint16_t *t, size_t n, uint32_t *cp)
{
	uint16_t c = t[0];
	size_t len;
	uint32_t v;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (t[i] > 0xff || (t[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (t[i] & 0x3f);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (len == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return len;
}

static void put16(uint16_t *o, size_t *n, uint32_t u, bool be)
{
	o[(*n)++] = be ? (u >> 8) & 0xff : u & 0xff;
	o[(*n)++] = be ? u & 0xff : (u >> 8) & 0xff;
}

int yw_sm_utf16(struct yw_tlist *l, int mode, char *err, size_t errlen)
{
	bool be = mode == YW_UTF16BE;
	for (size_t a = 0; a < l->n; a++) {
		struct yw_tstr *s = &l->v[a];
		uint16_t *o = malloc((s->n * 4 + 2) * sizeof(*o));
		if (!o)
			return YW_ENOMEM;
		size_t n = 0;
		if (mode == YW_UTF16BOM)
			put16(o, &n, 0xfeff, false);
		for (size_t i = 0; i < s->n;) {
			if (s->t[i] == YW_TK_STAR) {
				o[n++] = YW_TK_STAR;
				i++;
				continue;
			}
			if (s->t[i] > 0xff) {
				o[n++] = YW_TK_BYTE;
				o[n++] = YW_TK_BYTE;
				i++;
				continue;
			}
			uint32_t cp;
			size_t k = utf8_tok(s->t + i, s->n - i, &cp);
			if (k == 0) {
				free(o);
				snprintf(err, errlen, "utf16: value is not valid UTF-8");
				return YW_EINVAL;
			}
			i += k;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				put16(o, &n, 0xd800 | (cp >> 10), be);
				put16(o, &n, 0xdc00 | (cp & 0x3ff), be);
			} else {
				put16(o, &n, cp, be);
			}
		}
		free(s->t);
		s->t = o;
		s->n = n;
	}
	return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes in[0..n) as padded base64 into out (4 * ((n + 2) / 3) tokens). */
static size_t b64enc(const uint8_t *in, size_t n, uint16_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = (unsigned char)b64chars[(v >> 18) & 63];
		out[o++] = (unsigned char)b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? (unsigned char)b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? (unsigned char)b64chars[v & 63] : '=';
	}
	return o;
}

/* base64offset: the value preceded by 0, 1 or 2 bytes, encoded, keeping only the characters
 * that do not depend on the neighbouring bytes (pySigma: start cut 0/2/3, end cut by
 * (len + shift) % 3: none/3/2). */
int yw_sm_base64(struct yw_tlist *l, bool offset, char *err, size_t errlen)
{
	static const size_t start_cut[3] = {0, 2, 3};
	static const size_t end_cut[3] = {0, 3, 2};
	struct yw_tlist out = {0};
	int rc = 0;
	for (size_t a = 0; a < l->n && rc == 0; a++) {
		const struct yw_tstr *s = &l->v[a];
		if (yw_tstr_has_wild(s)) {
			snprintf(err, errlen, "base64 encoding of a value with wildcards");
			rc = YW_EINVAL;
			break;
		}
		uint8_t *in = malloc(s->n + 3);
		uint16_t *enc = malloc((4 * ((s->n + 4) / 3) + 4) * sizeof(*enc));
		if (!in || !enc) {
			free(in);
			free(enc);
			rc = YW_ENOMEM;
			break;
		}
		for (size_t shift = 0; shift < (offset ? 3u : 1u) && rc == 0; shift++) {
			memset(in, ' ', shift);
			for (size_t i = 0; i < s->n; i++)
				in[shift + i] = (uint8_t)s->t[i];
			size_t en = b64enc(in, s->n + shift, enc);
			size_t lo = offset ? start_cut[shift] : 0;
			size_t cut = offset ? end_cut[(s->n + shift) % 3] : 0;
			size_t hi = en > cut ? en - cut : 0;
			if (offset && (hi <= lo || s->n == 0)) {
				snprintf(err, errlen, "value too short for base64offset");
				rc = YW_EINVAL;
				break;
			}
			rc = yw_tlist_push(&out, enc + lo, hi - lo);
		}
		free(in);
		free(enc);
	}
	if (rc) {
		yw_tlist_free(&out);
		return rc;
	}
	yw_tlist_free(l);
	*l = out;
	return 0;
}
