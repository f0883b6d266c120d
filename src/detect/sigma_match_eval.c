/* Evaluation of compiled Sigma matchers: allocation-free and thread-safe on a read-only
 * matcher. Fields are case-folded into a stack buffer (short fields) or chunk by chunk (long
 * ones); regex match data comes from a stack arena. */
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_match_int.h"
#include "yw_limits.h"

/* ---- evaluation ---- */

#define FOLD_BUF  1024
#define CHUNK_BUF 4096
#define NONE      SIZE_MAX

/* One text being matched; its folded copy is made at most once and only when needed. */
struct subj {
	const char *s;
	size_t len;
	bool folded;
	uint8_t buf[FOLD_BUF];
};

/* Folds ASCII A-Z eight bytes at a time (SWAR): the fold of every field byte is on the hot
 * path of case-insensitive contains. */
static void fold_copy(uint8_t *restrict dst, const char *restrict src, size_t n)
{
	const uint64_t hi = 0x8080808080808080ULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, src + i, 8);
		uint64_t h7 = x & ~hi;
		uint64_t ge_a = h7 + 0x3f3f3f3f3f3f3f3fULL; /* high bit: byte >= 'A' */
		uint64_t gt_z = h7 + 0x2525252525252525ULL; /* high bit: byte > 'Z' */
		uint64_t upper = (ge_a ^ gt_z) & ~x & hi;
		x |= upper >> 2;
		memcpy(dst + i, &x, 8);
	}
	for (; i < n; i++)
		dst[i] = sm_fold((uint8_t)src[i]);
}

/* Leftmost needle in a short text (at most FOLD_BUF bytes, which bounds the worst case):
 * compares 16 positions at once against the needle's first and last bytes, then verifies. It
 * beats memmem, whose per-call set-up dominates on short fields. */
static const uint8_t *find_short(const uint8_t *h, size_t hn, const uint8_t *nd, size_t nn)
{
	if (nn > hn)
		return NULL;
	if (nn == 1)
		return memchr(h, nd[0], hn);
	size_t last = hn - nn, i = 0;
#ifdef __SSE2__
	const __m128i f = _mm_set1_epi8((char)nd[0]), l = _mm_set1_epi8((char)nd[nn - 1]);
	for (; i + 15 <= last; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(h + i));
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(h + i + nn - 1));
		unsigned mask = (unsigned)_mm_movemask_epi8(
		    _mm_and_si128(_mm_cmpeq_epi8(x, f), _mm_cmpeq_epi8(y, l)));
		while (mask) {
			unsigned bit = (unsigned)__builtin_ctz(mask);
			if (memcmp(h + i + bit + 1, nd + 1, nn - 2) == 0)
				return h + i + bit;
			mask &= mask - 1;
		}
	}
#endif
	for (; i <= last; i++)
		if (h[i] == nd[0] && h[i + nn - 1] == nd[nn - 1] &&
		    memcmp(h + i + 1, nd + 1, nn - 2) == 0)
			return h + i;
	return NULL;
}

static void subj_set(struct subj *sj, const char *s, size_t len)
{
	sj->s = s;
	sj->len = len;
	sj->folded = false;
}

static bool eq_fold(const char *s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sm_fold((uint8_t)s[i]) != b[i])
			return false;
	return true;
}

static bool eq(const char *s, const uint8_t *b, size_t n, bool cased)
{
	return cased ? memcmp(s, b, n) == 0 : eq_fold(s, b, n);
}

static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t k = c < 0xc2 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 1;
	if (k > n)
		return 1;
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return k;
}

/* Matches segment sg at p; returns the end offset or NONE. */
static size_t seg_at(const char *s, size_t len, size_t p, const struct seg *sg, bool cased)
{
	for (size_t i = 0; i < sg->n; i++) {
		if (p >= len)
			return NONE;
		int k = sg->k ? sg->k[i] : K_LIT;
		if (k == K_CHAR) {
			p += utf8_len((const uint8_t *)s + p, len - p);
		} else if (k == K_BYTE) {
			p++;
		} else {
			uint8_t c = cased ? (uint8_t)s[p] : sm_fold((uint8_t)s[p]);
			if (c != sg->b[i])
				return NONE;
			p++;
		}
	}
	return p;
}

/* Case-insensitive search of a folded needle in a long text: folds 4 KiB windows that overlap
 * by nlen - 1, so each byte is folded at most twice. */
static size_t find_chunked(const char *s, size_t len, const uint8_t *nd, size_t nlen)
{
	uint8_t buf[CHUNK_BUF];
	if (nlen > CHUNK_BUF / 2) {
		for (size_t p = 0; p + nlen <= len; p++)
			if (eq_fold(s + p, nd, nlen))
				return p;
		return NONE;
	}
	size_t off = 0;
	while (off + nlen <= len) {
		size_t rest = len - off;
		size_t n = rest < CHUNK_BUF ? rest : CHUNK_BUF;
		fold_copy(buf, s + off, n);
		const uint8_t *r = memmem(buf, n, nd, nlen);
		if (r)
			return off + (size_t)(r - buf);
		if (off + n == len)
			break;
		off += n - (nlen - 1);
	}
	return NONE;
}

/* Leftmost occurrence of sg at or after from; *end gets its end. */
static size_t seg_find(struct subj *sj, size_t from, const struct seg *sg, bool cased, size_t *end)
{
	if (from > sj->len)
		return NONE;
	if (sg->k) {
		for (size_t p = from; p < sj->len; p++) {
			size_t e = seg_at(sj->s, sj->len, p, sg, cased);
			if (e != NONE) {
				*end = e;
				return p;
			}
		}
		return NONE;
	}
	size_t r = NONE;
	if (cased && sj->len <= FOLD_BUF) {
		const uint8_t *h = (const uint8_t *)sj->s;
		const uint8_t *q = find_short(h + from, sj->len - from, sg->b, sg->n);
		r = q ? (size_t)(q - h) : NONE;
	} else if (cased) {
		const char *q = memmem(sj->s + from, sj->len - from, sg->b, sg->n);
		r = q ? (size_t)(q - sj->s) : NONE;
	} else if (sj->len <= FOLD_BUF) {
		if (!sj->folded) {
			fold_copy(sj->buf, sj->s, sj->len);
			sj->folded = true;
		}
		const uint8_t *q = find_short(sj->buf + from, sj->len - from, sg->b, sg->n);
		r = q ? (size_t)(q - sj->buf) : NONE;
	} else {
		r = find_chunked(sj->s + from, sj->len - from, sg->b, sg->n);
		if (r != NONE)
			r += from;
	}
	if (r != NONE)
		*end = r + sg->n;
	return r;
}

static bool glob_match(const struct alt *a, struct subj *sj, bool cased)
{
	size_t pos = 0, i = 0, end;
	const char *s = sj->s;
	size_t len = sj->len;
	if (a->anc_start) {
		pos = seg_at(s, len, 0, &a->segs[0], cased);
		if (pos == NONE)
			return false;
		i = 1;
		if (a->nsegs == 1)
			return !a->anc_end || pos == len;
	}
	size_t stop = a->anc_end ? a->nsegs - 1 : a->nsegs;
	for (; i < stop; i++) {
		if (seg_find(sj, pos, &a->segs[i], cased, &end) == NONE)
			return false;
		pos = end;
	}
	if (!a->anc_end)
		return true;
	const struct seg *last = &a->segs[a->nsegs - 1];
	if (!last->k)
		return len - pos >= last->n && eq(s + len - last->n, last->b, last->n, cased);
	/* Variable width (`?` spans 1-4 bytes): try the few starts that could end at len. */
	size_t lo = len >= last->maxlen ? len - last->maxlen : 0;
	if (lo < pos)
		lo = pos;
	for (size_t p = lo; p + last->n <= len; p++)
		if (seg_at(s, len, p, last, cased) == len)
			return true;
	return false;
}

static bool alt_match(const struct alt *a, struct subj *sj, bool cased)
{
	const struct seg *g = a->segs;
	size_t end;
	switch (a->kind) {
	case A_ANY:
		return true;
	case A_EXACT:
		return sj->len == (a->nsegs ? g->n : 0) &&
		       (!a->nsegs || eq(sj->s, g->b, g->n, cased));
	case A_PREFIX:
		return sj->len >= g->n && eq(sj->s, g->b, g->n, cased);
	case A_SUFFIX:
		return sj->len >= g->n && eq(sj->s + sj->len - g->n, g->b, g->n, cased);
	case A_SUBSTR:
		return seg_find(sj, 0, g, cased, &end) != NONE;
	default:
		return glob_match(a, sj, cased);
	}
}

/* PCRE2 match data comes from a stack arena so that JIT matching never touches the heap;
 * only the interpreter's larger backtracking frames can spill to malloc. */
struct re_arena {
	size_t used;
	_Alignas(16) unsigned char buf[1024];
};

static void *arena_malloc(PCRE2_SIZE size, void *ud)
{
	struct re_arena *a = ud;
	size = (size + 15) & ~(PCRE2_SIZE)15;
	if (size <= sizeof(a->buf) - a->used) {
		void *p = a->buf + a->used;
		a->used += size;
		return p;
	}
	return malloc(size);
}

static void arena_free(void *p, void *ud)
{
	struct re_arena *a = ud;
	unsigned char *c = p;
	if (c && (c < a->buf || c >= a->buf + sizeof(a->buf)))
		free(p);
}

struct evctx {
	const struct yw_matcher *m;
	struct re_arena arena;
	pcre2_general_context *gc;
	pcre2_match_data *md;
	struct subj sj;
};

static bool re_match(struct evctx *c, const pcre2_code *re, const char *s, size_t len)
{
	if (!c->md) {
		c->arena.used = 0;
		c->gc = pcre2_general_context_create(arena_malloc, arena_free, &c->arena);
		if (c->gc)
			c->md = pcre2_match_data_create(1, c->gc);
		if (!c->md)
			return false;
	}
	return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, c->m->mctx) >= 0;
}

static bool item_number(const struct yw_field *f, const char *s, size_t len, bool scalar,
                        int64_t *iv, double *dv, bool *isf)
{
	if (scalar && f->type == YW_T_INT) {
		*iv = f->num;
		*isf = false;
		return true;
	}
	return yw_sm_parse_num(s, len, iv, dv, isf);
}

static bool num_cmp(const struct group *g, int64_t fi, double fd, bool ff)
{
	int c;
	if (!ff && !g->is_float) {
		c = fi < g->i ? -1 : fi > g->i;
	} else {
		double a = ff ? fd : (double)fi, b = g->is_float ? g->d : (double)g->i;
		c = a < b ? -1 : a > b;
	}
	switch (g->op) {
	case M_LT:
		return c < 0;
	case M_LTE:
		return c <= 0;
	case M_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t iso_weeks(int64_t y)
{
	/* 53 weeks when 1 January is a Thursday, or a Wednesday in a leap year. */
	int64_t jan1 = days_from_civil(y, 1, 1);
	int wd = (int)(((jan1 % 7) + 7 + 3) % 7); /* 0 = Monday; 1970-01-01 was a Thursday */
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return wd == 3 || (leap && wd == 2) ? 53 : 52;
}

static int64_t iso_week(int64_t y, unsigned m, unsigned d)
{
	int64_t days = days_from_civil(y, m, d);
	int64_t wd = ((days % 7) + 7 + 3) % 7 + 1; /* 1 = Monday */
	int64_t yday = days - days_from_civil(y, 1, 1) + 1;
	int64_t w = (yday - wd + 10) / 7;
	if (w < 1)
		return iso_weeks(y - 1);
	if (w > iso_weeks(y))
		return 1;
	return w;
}

static bool digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* Time parts as written (no zone conversion, per the appendix): a YW_T_TIME field in UTC, or
 * text starting "YYYY-MM-DD" with an optional "[T ]HH:MM". */
static bool time_part(const struct yw_field *f, const char *s, size_t len, bool scalar,
                      uint32_t part, int64_t *out)
{
	int64_t y;
	unsigned mo, d, h = 0, mi = 0, yy;
	bool has_clock;
	if (scalar && f->type == YW_T_TIME) {
		int64_t sec = f->num / 1000000000 - (f->num % 1000000000 < 0);
		int64_t days = sec / 86400 - (sec % 86400 < 0);
		int64_t rem = sec - days * 86400;
		civil_from_days(days, &y, &mo, &d);
		h = (unsigned)(rem / 3600);
		mi = (unsigned)(rem % 3600 / 60);
		has_clock = true;
	} else {
		if (len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &yy) ||
		    !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 ||
		    d > 31)
			return false;
		y = yy;
		has_clock = len >= 16 && (s[10] == 'T' || s[10] == 't' || s[10] == ' ') &&
		            s[13] == ':' && digits(s + 11, 2, &h) && digits(s + 14, 2, &mi) &&
		            h < 24 && mi < 60;
	}
	switch (part) {
	case M_MINUTE:
		*out = mi;
		return has_clock;
	case M_HOUR:
		*out = h;
		return has_clock;
	case M_DAY:
		*out = d;
		return true;
	case M_WEEK:
		*out = iso_week(y, mo, d);
		return true;
	case M_MONTH:
		*out = mo;
		return true;
	default:
		*out = y;
		return true;
	}
}

static bool cidr_match(const struct group *g, const struct yw_field *f, const char *s, size_t len,
                       bool scalar)
{
	uint8_t fam, a[16];
	if (scalar && f->type == YW_T_IP) {
		fam = f->ip_family;
		memcpy(a, f->ip, 16);
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (fam == 6 && memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			fam = 4;
		}
	} else if (!yw_sm_parse_ip(s, len, &fam, a)) {
		return false;
	}
	for (size_t i = 0; i < g->nnets; i++) {
		const struct net *n = &g->nets[i];
		if (n->fam != fam)
			continue;
		size_t full = n->prefix / 8, bits = n->prefix % 8;
		if (memcmp(a, n->a, full) != 0)
			continue;
		uint8_t mask = (uint8_t)(0xff00 >> bits);
		if (bits && ((a[full] ^ n->a[full]) & mask))
			continue;
		return true;
	}
	return false;
}

/* One value against one text item of field f (scalar: f's own value, which has typed forms). */
static bool group_item(struct evctx *c, const struct group *g, const struct yw_field *f,
                       const char *s, size_t len, bool scalar)
{
	int64_t iv = 0;
	double dv = 0;
	bool isf;
	switch (g->kind) {
	case G_STR:
		if (g->has_int && scalar && f->type == YW_T_INT && f->num == g->iv)
			return true;
		if (c->sj.s != s)
			subj_set(&c->sj, s, len);
		for (size_t a = 0; a < g->nalts; a++)
			if (alt_match(&g->alts[a], &c->sj, c->m->cased))
				return true;
		return false;
	case G_RE:
		for (size_t i = 0; i < g->nre; i++)
			if (re_match(c, g->re[i], s, len))
				return true;
		return false;
	case G_CIDR:
		return cidr_match(g, f, s, len, scalar);
	case G_NUM:
		return item_number(f, s, len, scalar, &iv, &dv, &isf) && num_cmp(g, iv, dv, isf);
	case G_TIME:
		return time_part(f, s, len, scalar, g->op, &iv) && iv == g->i;
	default:
		return false;
	}
}

static bool same(const char *a, const char *b, size_t n, bool cased)
{
	if (cased)
		return memcmp(a, b, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (sm_fold((uint8_t)a[i]) != sm_fold((uint8_t)b[i]))
			return false;
	return true;
}

static bool fieldref_pair(const struct group *g, const char *s, size_t len, const char *r,
                          size_t rlen, bool cased)
{
	switch (g->refmode) {
	case M_STARTSWITH:
		return len >= rlen && same(s, r, rlen, cased);
	case M_ENDSWITH:
		return len >= rlen && same(s + len - rlen, r, rlen, cased);
	case M_CONTAINS:
		if (rlen == 0)
			return true;
		if (cased)
			return memmem(s, len, r, rlen) != NULL;
		if (rlen <= 256) {
			uint8_t nd[256];
			for (size_t i = 0; i < rlen; i++)
				nd[i] = sm_fold((uint8_t)r[i]);
			return find_chunked(s, len, nd, rlen) != NONE;
		}
		for (size_t p = 0; p + rlen <= len; p++)
			if (same(s + p, r, rlen, false))
				return true;
		return false;
	default:
		return len == rlen && same(s, r, rlen, cased);
	}
}

static size_t field_items(const struct yw_field *f)
{
	if (f->type == YW_T_NULL)
		return 0;
	return f->type == YW_T_LIST ? f->n : 1;
}

static const char *field_item(const struct yw_field *f, size_t i, size_t *len)
{
	if (f->type == YW_T_LIST) {
		*len = f->items[i].len;
		return f->items[i].s;
	}
	*len = f->len;
	return f->text;
}

static bool fieldref_match(const struct evctx *c, const struct group *g, const struct yw_field *f,
                           yw_field_lookup_fn lookup, void *ud)
{
	const struct yw_field *o = lookup ? lookup(ud, g->ref) : NULL;
	if (!o)
		return false;
	for (size_t i = 0; i < field_items(f); i++) {
		size_t len, rlen;
		const char *s = field_item(f, i, &len);
		for (size_t j = 0; j < field_items(o); j++) {
			const char *r = field_item(o, j, &rlen);
			if (fieldref_pair(g, s, len, r, rlen, c->m->cased))
				return true;
		}
	}
	return false;
}

static bool group_match(struct evctx *c, const struct group *g, const struct yw_field *f,
                        yw_field_lookup_fn lookup, void *ud)
{
	switch (g->kind) {
	case G_EXISTS:
		return (f != NULL) == g->exists;
	case G_NULL:
		return !f || f->type == YW_T_NULL ||
		       (f->type == YW_T_LIST ? f->n == 0 : f->len == 0);
	case G_FIELDREF:
		return f && fieldref_match(c, g, f, lookup, ud);
	default:
		break;
	}
	if (!f)
		return false;
	size_t n = field_items(f);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *s = field_item(f, i, &len);
		if (group_item(c, g, f, s, len, f->type != YW_T_LIST))
			return true;
	}
	return false;
}

bool yw_matcher_eval(const struct yw_matcher *m, const struct yw_field *f,
                     yw_field_lookup_fn lookup, void *ud)
{
	struct evctx c;
	c.m = m;
	c.gc = NULL;
	c.md = NULL;
	c.sj.s = NULL;
	bool r = m->all;
	for (size_t i = 0; i < m->ng; i++) {
		bool gm = group_match(&c, &m->g[i], f, lookup, ud);
		if (gm != m->all) {
			r = gm;
			break;
		}
	}
	if (c.md)
		pcre2_match_data_free(c.md);
	if (c.gc)
		pcre2_general_context_free(c.gc);
	return r != m->neg;
}
