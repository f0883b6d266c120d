/* Private to sigma_match.c and sigma_modifiers.c: Sigma values as token strings and the
 * value-transforming modifiers (escaping, expand, windash, utf16, base64). */
#ifndef YIWANG_SIGMA_MATCH_INT_H
#define YIWANG_SIGMA_MATCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/sigma_match.h"

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

/* ---- compiled matchers, shared by sigma_match.c (compile) and sigma_match_eval.c ---- */

enum {
	M_CONTAINS = 1u << 0,
	M_STARTSWITH = 1u << 1,
	M_ENDSWITH = 1u << 2,
	M_ALL = 1u << 3,
	M_WINDASH = 1u << 4,
	M_BASE64 = 1u << 5,
	M_BASE64OFF = 1u << 6,
	M_UTF16LE = 1u << 7,
	M_UTF16BE = 1u << 8,
	M_UTF16 = 1u << 9,
	M_RE = 1u << 10,
	M_RE_I = 1u << 11,
	M_RE_M = 1u << 12,
	M_RE_S = 1u << 13,
	M_CIDR = 1u << 14,
	M_EXISTS = 1u << 15,
	M_CASED = 1u << 16,
	M_NEQ = 1u << 17,
	M_LT = 1u << 18,
	M_LTE = 1u << 19,
	M_GT = 1u << 20,
	M_GTE = 1u << 21,
	M_FIELDREF = 1u << 22,
	M_EXPAND = 1u << 23,
	M_MINUTE = 1u << 24,
	M_HOUR = 1u << 25,
	M_DAY = 1u << 26,
	M_WEEK = 1u << 27,
	M_MONTH = 1u << 28,
	M_YEAR = 1u << 29,
};

#define M_MATCHTYPE (M_CONTAINS | M_STARTSWITH | M_ENDSWITH)
#define M_UTF16ANY  (M_UTF16LE | M_UTF16BE | M_UTF16)
#define M_TRANSFORM (M_WINDASH | M_BASE64 | M_BASE64OFF | M_UTF16ANY)
#define M_REFLAGS   (M_RE_I | M_RE_M | M_RE_S)
#define M_NUM       (M_LT | M_LTE | M_GT | M_GTE)
#define M_TIME      (M_MINUTE | M_HOUR | M_DAY | M_WEEK | M_MONTH | M_YEAR)

enum { G_STR, G_NULL, G_RE, G_CIDR, G_NUM, G_TIME, G_EXISTS, G_FIELDREF };
enum { A_ANY, A_EXACT, A_PREFIX, A_SUFFIX, A_SUBSTR, A_GLOB };
enum { K_LIT, K_CHAR, K_BYTE };

/* A run of tokens between `*`s. */
struct seg {
	uint8_t *b; /* bytes; ASCII-lowercased unless cased */
	uint8_t *k; /* NULL when all literal, else K_* per position */
	size_t n;
	size_t maxlen; /* most bytes it can span (a `?` spans up to 4) */
};

struct alt {
	int kind; /* A_* */
	bool anc_start, anc_end;
	struct seg *segs;
	size_t nsegs;
};

struct net {
	uint8_t fam, prefix;
	uint8_t a[16];
};

/* One rule value (group of alternatives it expanded into). */
struct group {
	int kind; /* G_* */
	struct alt *alts;
	size_t nalts;
	bool has_int; /* YAML integer written non-canonically: also compare numerically */
	int64_t iv;
	pcre2_code **re;
	size_t nre;
	struct net *nets;
	size_t nnets;
	uint32_t op; /* M_LT.. or a time part bit; 0 for equality */
	bool is_float;
	int64_t i;
	double d;
	bool exists;
	char *ref;
	uint32_t refmode; /* M_MATCHTYPE bits */
};

struct yw_matcher {
	struct group *g;
	size_t ng;
	bool all, neg, cased, wants_absent;
	pcre2_match_context *mctx;
};

extern const uint8_t yw_sm_fold_tab[256];

/* ASCII case folding, the only folding Sigma matching does. */
static inline uint8_t sm_fold(uint8_t c)
{
	return yw_sm_fold_tab[c];
}

/* Strict decimal number: an integer when it fits, else a finite double. */
bool yw_sm_parse_num(const char *s, size_t len, int64_t *iv, double *dv, bool *isf);
/* IPv4 or IPv6 text (v4-mapped v6 becomes v4); a[] in network order. */
bool yw_sm_parse_ip(const char *s, size_t len, uint8_t *fam, uint8_t a[16]);

/* A token is a byte (0..255) or one of these wildcards. */
enum {
	YW_TK_STAR = 0x100, /* `*`: any run of bytes */
	YW_TK_CHAR = 0x101, /* `?`: one UTF-8 character */
	YW_TK_BYTE = 0x102, /* `?` after a utf16 encoding: one byte (two per character) */
};

struct yw_tstr {
	uint16_t *t; /* owned */
	size_t n;
};

/* Alternatives one rule value expands into (windash, base64offset, expand). */
struct yw_tlist {
	struct yw_tstr *v; /* owned */
	size_t n, cap;
};

void yw_tlist_free(struct yw_tlist *l);
/* Appends a copy of t[0..n); YW_ELIMIT past YW_MAX_SIGMA_ALTS alternatives. */
int yw_tlist_push(struct yw_tlist *l, const uint16_t *t, size_t n);
bool yw_tstr_has_wild(const struct yw_tstr *s);

/* Parses a Sigma string with wildcards and backslash escapes into tokens (spec "Escaping"). */
int yw_sm_parse(const char *s, size_t len, struct yw_tlist *out);
/* Appends the bytes of s without wildcard interpretation (numbers, booleans). */
int yw_sm_literal(const char *s, size_t len, struct yw_tlist *out);

/* Replaces %name% placeholders in s with each of their values (cartesian product for several
 * placeholders); `\%` stands for a literal percent. Each result is a NUL-terminated malloc'd
 * string appended to (*outs)[*nouts]; caller frees each and the array. */
int yw_sm_expand(const char *s, size_t len, const struct yw_placeholders *ph, char ***outs,
                 size_t *nouts, size_t *cap, char *err, size_t errlen);

/* In-place transformations of every alternative in l. */
int yw_sm_windash(struct yw_tlist *l);
enum { YW_UTF16LE, YW_UTF16BE, YW_UTF16BOM };
int yw_sm_utf16(struct yw_tlist *l, int mode, char *err, size_t errlen);
int yw_sm_base64(struct yw_tlist *l, bool offset, char *err, size_t errlen);

#endif
