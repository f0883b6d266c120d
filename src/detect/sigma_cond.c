/* Sigma condition expressions: a tokenizer, a recursive-descent parser whose recursion
 * (parentheses) and result height (operator levels) are both bounded by YW_MAX_RULE_DEPTH, a
 * short-circuit evaluator and a canonical formatter.
 *
 * Decisions (Sigma rules specification, section "Condition"; pySigma's grammar where the
 * specification is silent):
 * - Keywords (`and`, `or`, `not`, `of`, `them`, `all`, `any`) are lowercase only. The
 *   specification writes them in lowercase everywhere and pySigma's grammar matches them
 *   case-sensitively; `AND` is reported as an unknown identifier with a hint.
 * - Identifiers are ASCII letters, digits, `_` and `-` (pySigma: alphanums + "_-"), matched
 *   case-sensitively against the detection's keys. Patterns may add `*`, which matches any
 *   run of characters at any position; the whole name must match (pySigma's regex only anchors
 *   the start, so its `sel` also picks `sel_x`: we follow the specification's wording). `?` is
 *   not a wildcard here.
 * - Quantifiers: `1`, `any` (pySigma's synonym of `1`), `all`, and any positive integer N.
 * - `them` is every identifier not starting with `_`; a pattern selects from that same set
 *   ("Same as 1/all of them, but restricted to matching search identifiers").
 * - The v1 aggregation pipe (`| count() by x > 5`, `| near ...`) is rejected: v2 replaced it
 *   by correlation rules. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "yw_limits.h"
#include "sigma_cond.h"
#include "yiwang/error.h"

enum tok_kind { T_END, T_LPAREN, T_RPAREN, T_AND, T_OR, T_NOT, T_OF, T_WORD };

struct tok {
	int kind; /* enum tok_kind */
	size_t pos;
	size_t len;
};

struct parser {
	const char *s;
	size_t len;
	const char *const *names;
	size_t n;
	struct tok cur;
	size_t depth; /* open parentheses: the parser's recursion depth */
	int rc;       /* first error, 0 while none */
	char *err;
	size_t errlen;
	size_t errpos;
};

/* Records the first error only: later ones are consequences of it. */
__attribute__((format(printf, 4, 5))) static void perr(struct parser *p, int rc, size_t pos,
                                                       const char *fmt, ...)
{
	if (p->rc)
		return;
	p->rc = rc;
	p->errpos = pos;
	if (p->err && p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
}

static void oom(struct parser *p)
{
	perr(p, YW_ENOMEM, p->cur.pos, "out of memory");
}

/* Quotes a token for a message, cut to a readable length. */
static const char *tok_desc(const struct parser *p, const struct tok *t, char *buf, size_t sz)
{
	if (t->kind == T_END)
		return "end of condition";
	int n = t->len > 40 ? 40 : (int)t->len;
	snprintf(buf, sz, "'%.*s%s'", n, p->s + t->pos, t->len > 40 ? "..." : "");
	return buf;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '*';
}

static bool tok_is(const struct parser *p, const struct tok *t, const char *kw)
{
	size_t n = strlen(kw);
	return t->len == n && memcmp(p->s + t->pos, kw, n) == 0;
}

static void agg_error(struct parser *p, size_t pos)
{
	size_t w = pos + 1;
	while (w < p->len && is_space((unsigned char)p->s[w]))
		w++;
	size_t e = w;
	while (e < p->len && e - w < 16 && p->s[e] >= 'a' && p->s[e] <= 'z')
		e++;
	if (e > w)
		perr(p, YW_EPARSE, pos,
		     "aggregation '| %.*s' is deprecated Sigma v1 syntax: use a correlation rule",
		     (int)(e - w), p->s + w);
	else
		perr(p, YW_EPARSE, pos,
		     "'|' starts a deprecated Sigma v1 aggregation: use a correlation rule");
}

/* Reads the token at or after pos into *t. Pure: the parser may look ahead with it. */
static int lex(struct parser *p, size_t pos, struct tok *t)
{
	while (pos < p->len && is_space((unsigned char)p->s[pos]))
		pos++;
	t->pos = pos;
	t->len = 1;
	if (pos == p->len) {
		t->kind = T_END;
		t->len = 0;
		return 0;
	}
	unsigned char c = (unsigned char)p->s[pos];
	if (c == '(' || c == ')') {
		t->kind = c == '(' ? T_LPAREN : T_RPAREN;
		return 0;
	}
	if (is_word(c)) {
		size_t e = pos;
		while (e < p->len && is_word((unsigned char)p->s[e]))
			e++;
		t->len = e - pos;
		t->kind = tok_is(p, t, "and")   ? T_AND
		          : tok_is(p, t, "or")  ? T_OR
		          : tok_is(p, t, "not") ? T_NOT
		          : tok_is(p, t, "of")  ? T_OF
		                                : T_WORD;
		return 0;
	}
	if (c == '|')
		agg_error(p, pos);
	else if (c == '\0')
		perr(p, YW_EPARSE, pos, "NUL byte in condition");
	else if (c == '?')
		perr(p, YW_EPARSE, pos,
		     "'?' is not a wildcard in conditions: patterns use only '*'");
	else if (c > 0x20 && c < 0x7f)
		perr(p, YW_EPARSE, pos, "unexpected character '%c'", c);
	else
		perr(p, YW_EPARSE, pos, "unexpected byte 0x%02x", c);
	return p->rc;
}

static int advance(struct parser *p)
{
	return lex(p, p->cur.pos + p->cur.len, &p->cur);
}

static struct yw_cond *node_new(int op)
{
	struct yw_cond *c = calloc(1, sizeof(*c));
	if (c)
		c->op = op;
	return c;
}

void yw_cond_free(struct yw_cond *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nkids; i++)
		yw_cond_free(c->kids[i]);
	free(c->kids);
	free(c->ids);
	free(c);
}

/* Kid arrays are sized in powers of two, so a long chain costs amortised O(1) per operand. */
static int kids_reserve(struct yw_cond *c, size_t extra)
{
	size_t cap = 0;
	if (c->nkids) {
		cap = 1;
		while (cap < c->nkids)
			cap *= 2;
	}
	if (c->nkids + extra <= cap)
		return 0;
	size_t ncap = cap ? cap : 1;
	while (ncap < c->nkids + extra)
		ncap *= 2;
	struct yw_cond **k = realloc(c->kids, ncap * sizeof(*k));
	if (!k)
		return YW_ENOMEM;
	c->kids = k;
	return 0;
}

/* Appends k (height kh) to the AND/OR node c, splicing in k's kids when k has the same
 * operator: a and (b and c) is AND(a, b, c). Takes ownership of k. Updates *height to the
 * largest kid height. */
static int add_operand(struct yw_cond *c, struct yw_cond *k, size_t kh, size_t *height)
{
	size_t m = k->op == c->op ? k->nkids : 1;
	if (kids_reserve(c, m)) {
		yw_cond_free(k);
		return YW_ENOMEM;
	}
	if (k->op == c->op) {
		if (k->nkids)
			memcpy(c->kids + c->nkids, k->kids, k->nkids * sizeof(*k->kids));
		c->nkids += k->nkids;
		free(k->kids);
		free(k);
		kh--;
	} else {
		c->kids[c->nkids++] = k;
	}
	if (kh > *height)
		*height = kh;
	return 0;
}

static bool glob_match(const char *pat, size_t plen, const char *name)
{
	size_t pi = 0, ni = 0, star = SIZE_MAX, mark = 0;
	size_t nlen = strlen(name);
	while (ni < nlen) {
		if (pi < plen && pat[pi] == '*') {
			star = pi++;
			mark = ni;
		} else if (pi < plen && pat[pi] == name[ni]) {
			pi++;
			ni++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			ni = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

/* A hint for `AND`, `Or`, `NOT`, `OF`: keywords are lowercase only (see the top). */
static const char *kw_hint(const struct parser *p, const struct tok *t)
{
	static const char *const kws[] = {"and", "or", "not", "of"};
	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (t->kind == T_WORD && t->len == strlen(kws[i]) &&
		    !strncasecmp(p->s + t->pos, kws[i], t->len))
			return " (condition keywords are lowercase)";
	return "";
}

static bool is_quantifier(const struct parser *p, const struct tok *t)
{
	if (tok_is(p, t, "all") || tok_is(p, t, "any"))
		return true;
	for (size_t i = 0; i < t->len; i++)
		if (p->s[t->pos + i] < '0' || p->s[t->pos + i] > '9')
			return false;
	return true;
}

/* `Q of X`; p->cur is the quantifier q and ofpos the offset of `of`. */
static struct yw_cond *parse_of(struct parser *p, size_t ofpos, size_t *h)
{
	struct tok q = p->cur;
	char b1[64];
	p->cur.pos = ofpos;
	p->cur.len = 2;
	if (advance(p))
		return NULL;
	struct tok t = p->cur;
	if (t.kind != T_WORD) {
		perr(p, YW_EPARSE, t.pos,
		     "expected 'them' or an identifier pattern after 'of', found %s",
		     tok_desc(p, &t, b1, sizeof(b1)));
		return NULL;
	}
	bool them = tok_is(p, &t, "them");
	size_t *ids = malloc((p->n ? p->n : 1) * sizeof(*ids));
	if (!ids) {
		oom(p);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++) {
		const char *name = p->names[i];
		if (!name || name[0] == '_')
			continue;
		if (them || glob_match(p->s + t.pos, t.len, name))
			ids[k++] = i;
	}
	size_t count = 1;
	if (tok_is(p, &q, "all")) {
		count = k;
	} else if (!tok_is(p, &q, "any")) {
		count = 0;
		for (size_t i = 0; i < q.len && count <= YW_MAX_SELECTIONS; i++)
			count = count * 10 + (size_t)(p->s[q.pos + i] - '0');
		if (count == 0) {
			perr(p, YW_EPARSE, q.pos,
			     "'0 of' selects nothing: the count must be 1 or more");
			goto fail;
		}
	}
	if (k == 0) {
		perr(p, YW_EPARSE, t.pos, "%s%s matches no identifier%s", them ? "" : "pattern ",
		     tok_desc(p, &t, b1, sizeof(b1)),
		     them || p->s[t.pos] == '_' ? " (identifiers starting with '_' are left out)"
		                                : "");
		goto fail;
	}
	if (count > k) {
		perr(p, YW_EPARSE, q.pos,
		     "%.*s of %s needs more identifiers than the %zu it matches",
		     q.len > 20 ? 20 : (int)q.len, p->s + q.pos, tok_desc(p, &t, b1, sizeof(b1)),
		     k);
		goto fail;
	}
	if (advance(p))
		goto fail;
	struct yw_cond *c = node_new(k == 1 ? YW_COND_ID : YW_COND_OF);
	if (!c) {
		oom(p);
		goto fail;
	}
	if (k == 1) {
		c->id = ids[0];
		free(ids);
		*h = 0;
	} else {
		c->ids = ids;
		c->nids = k;
		c->count = count;
		*h = 1;
	}
	return c;
fail:
	free(ids);
	return NULL;
}

static struct yw_cond *parse_word(struct parser *p, size_t *h)
{
	struct tok w = p->cur;
	char buf[64];
	if (is_quantifier(p, &w)) {
		struct tok nx;
		if (lex(p, w.pos + w.len, &nx))
			return NULL;
		if (nx.kind == T_OF)
			return parse_of(p, nx.pos, h);
	}
	const char *text = p->s + w.pos;
	if (memchr(text, '*', w.len)) {
		perr(p, YW_EPARSE, w.pos, "pattern %s can only follow '1 of', 'all of' or 'N of'",
		     tok_desc(p, &w, buf, sizeof(buf)));
		return NULL;
	}
	size_t idx = SIZE_MAX;
	for (size_t i = 0; i < p->n && idx == SIZE_MAX; i++)
		if (p->names[i] && strlen(p->names[i]) == w.len &&
		    !memcmp(p->names[i], text, w.len))
			idx = i;
	if (idx == SIZE_MAX) {
		const char *hint = kw_hint(p, &w);
		if (tok_is(p, &w, "them"))
			hint = " ('them' can only follow '1 of' or 'all of')";
		perr(p, YW_EPARSE, w.pos, "unknown identifier %s at offset %zu%s",
		     tok_desc(p, &w, buf, sizeof(buf)), w.pos, hint);
		return NULL;
	}
	if (advance(p))
		return NULL;
	struct yw_cond *c = node_new(YW_COND_ID);
	if (!c) {
		oom(p);
		return NULL;
	}
	c->id = idx;
	*h = 0;
	return c;
}

static struct yw_cond *parse_or(struct parser *p, size_t *h);

static struct yw_cond *parse_primary(struct parser *p, size_t *h)
{
	char buf[64];
	struct tok t = p->cur;
	if (t.kind == T_WORD)
		return parse_word(p, h);
	if (t.kind != T_LPAREN) {
		perr(p, YW_EPARSE, t.pos,
		     "expected an identifier, '(', 'not' or '1 of'/'all of', found %s",
		     tok_desc(p, &t, buf, sizeof(buf)));
		return NULL;
	}
	if (++p->depth > YW_MAX_RULE_DEPTH) {
		perr(p, YW_EPARSE, t.pos, "condition nested deeper than %d levels",
		     YW_MAX_RULE_DEPTH);
		return NULL;
	}
	if (advance(p))
		return NULL;
	struct yw_cond *c = parse_or(p, h);
	p->depth--;
	if (!c)
		return NULL;
	if (p->cur.kind != T_RPAREN) {
		perr(p, YW_EPARSE, p->cur.pos, "missing ')' for the '(' at offset %zu, found %s",
		     t.pos, tok_desc(p, &p->cur, buf, sizeof(buf)));
		yw_cond_free(c);
		return NULL;
	}
	if (advance(p)) {
		yw_cond_free(c);
		return NULL;
	}
	return c;
}

/* A run of `not`s is read in a loop and reduced by parity (not not x is x), so it costs no
 * recursion and only parentheses count towards the syntax depth. */
static struct yw_cond *parse_not(struct parser *p, size_t *h)
{
	size_t nots = 0, pos = p->cur.pos;
	while (p->cur.kind == T_NOT) {
		nots++;
		if (advance(p))
			return NULL;
	}
	struct yw_cond *k = parse_primary(p, h);
	if (!k || nots % 2 == 0)
		return k;
	if (k->op == YW_COND_NOT) { /* not (not x) */
		struct yw_cond *x = k->kids[0];
		k->nkids = 0;
		yw_cond_free(k);
		*h -= 1;
		return x;
	}
	struct yw_cond *c = node_new(YW_COND_NOT);
	if (!c || kids_reserve(c, 1)) {
		free(c);
		yw_cond_free(k);
		oom(p);
		return NULL;
	}
	c->kids[c->nkids++] = k;
	if (++*h > YW_MAX_RULE_DEPTH) {
		perr(p, YW_EPARSE, pos, "condition nested deeper than %d levels",
		     YW_MAX_RULE_DEPTH);
		yw_cond_free(c);
		return NULL;
	}
	return c;
}

/* A chain of operands joined by op (AND over `not`-terms, OR over AND-chains). */
static struct yw_cond *parse_chain(struct parser *p, int op, size_t *h)
{
	int tk = op == YW_COND_OR ? T_OR : T_AND;
	size_t kh;
	struct yw_cond *k = op == YW_COND_OR ? parse_chain(p, YW_COND_AND, &kh) : parse_not(p, &kh);
	if (!k)
		return NULL;
	if (p->cur.kind != tk) {
		*h = kh;
		return k;
	}
	struct yw_cond *c = node_new(op);
	size_t height = 0;
	if (!c) {
		yw_cond_free(k);
		oom(p);
		return NULL;
	}
	if (add_operand(c, k, kh, &height)) {
		oom(p);
		goto fail;
	}
	while (p->cur.kind == tk) {
		size_t oppos = p->cur.pos;
		if (advance(p))
			goto fail;
		k = op == YW_COND_OR ? parse_chain(p, YW_COND_AND, &kh) : parse_not(p, &kh);
		if (!k)
			goto fail;
		if (add_operand(c, k, kh, &height)) {
			oom(p);
			goto fail;
		}
		if (height + 1 > YW_MAX_RULE_DEPTH) {
			perr(p, YW_EPARSE, oppos, "condition nested deeper than %d levels",
			     YW_MAX_RULE_DEPTH);
			goto fail;
		}
	}
	*h = height + 1;
	return c;
fail:
	yw_cond_free(c);
	return NULL;
}

static struct yw_cond *parse_or(struct parser *p, size_t *h)
{
	return parse_chain(p, YW_COND_OR, h);
}

int yw_cond_parse(const char *text, size_t len, const char *const *names, size_t n,
                  struct yw_cond **out, char *err, size_t errlen, size_t *errpos)
{
	struct parser p = {
	    .s = text, .len = len, .names = names, .n = n, .err = err, .errlen = errlen};
	struct yw_cond *c = NULL;
	size_t h;
	char buf[64];

	if (err && errlen)
		err[0] = '\0';
	if (!out || (!text && len) || (!names && n))
		return YW_EINVAL;
	*out = NULL;
	if (len > YW_MAX_CONDITION) {
		perr(&p, YW_EPARSE, YW_MAX_CONDITION, "condition longer than %d bytes",
		     YW_MAX_CONDITION);
		goto out;
	}
	if (n > YW_MAX_SELECTIONS) {
		perr(&p, YW_EPARSE, 0, "more than %d identifiers", YW_MAX_SELECTIONS);
		goto out;
	}
	if (lex(&p, 0, &p.cur))
		goto out;
	if (p.cur.kind == T_END) {
		perr(&p, YW_EPARSE, 0, "empty condition");
		goto out;
	}
	c = parse_or(&p, &h);
	if (c && p.cur.kind != T_END) {
		if (p.cur.kind == T_RPAREN)
			perr(&p, YW_EPARSE, p.cur.pos, "unbalanced ')'");
		else
			perr(&p, YW_EPARSE, p.cur.pos,
			     "expected 'and', 'or' or the end, found %s%s",
			     tok_desc(&p, &p.cur, buf, sizeof(buf)), kw_hint(&p, &p.cur));
	}
out:
	if (p.rc) {
		yw_cond_free(c);
		if (errpos)
			*errpos = p.errpos;
		return p.rc;
	}
	*out = c;
	return 0;
}

int yw_cond_or_list(struct yw_cond **parts, size_t n, struct yw_cond **out)
{
	size_t i = 0, height = 0;
	struct yw_cond *c = NULL;

	*out = NULL;
	if (n == 0)
		return YW_EINVAL;
	if (n == 1) {
		*out = parts[0];
		return 0;
	}
	c = node_new(YW_COND_OR);
	if (!c)
		goto fail;
	/* Heights only matter to the parser; 1 keeps add_operand's bookkeeping in range. */
	while (i < n)
		if (add_operand(c, parts[i++], 1, &height))
			goto fail;
	*out = c;
	return 0;
fail:
	while (i < n)
		yw_cond_free(parts[i++]);
	yw_cond_free(c);
	return YW_ENOMEM;
}

bool yw_cond_eval(const struct yw_cond *c, yw_cond_sel_fn sel, void *ud)
{
	switch (c->op) {
	case YW_COND_ID:
		return sel(ud, c->id);
	case YW_COND_AND:
		for (size_t i = 0; i < c->nkids; i++)
			if (!yw_cond_eval(c->kids[i], sel, ud))
				return false;
		return true;
	case YW_COND_OR:
		for (size_t i = 0; i < c->nkids; i++)
			if (yw_cond_eval(c->kids[i], sel, ud))
				return true;
		return false;
	case YW_COND_NOT:
		return !yw_cond_eval(c->kids[0], sel, ud);
	case YW_COND_OF: {
		size_t hits = 0;
		if (c->count == 0)
			return true;
		for (size_t i = 0; i < c->nids; i++) {
			if (c->count - hits > c->nids - i)
				return false; /* too few left to reach count */
			if (sel(ud, c->ids[i]) && ++hits == c->count)
				return true;
		}
		return false;
	}
	}
	return false;
}

static int fmt_ids(const struct yw_cond *c, const char *const *names, const char *sep,
                   struct yw_strbuf *out)
{
	int rc = 0;
	for (size_t i = 0; i < c->nids && !rc; i++) {
		if (i)
			rc = yw_strbuf_puts(out, sep);
		if (!rc)
			rc = yw_strbuf_puts(out, names[c->ids[i]]);
	}
	return rc;
}

int yw_cond_format(const struct yw_cond *c, const char *const *names, struct yw_strbuf *out)
{
	int rc;
	switch (c->op) {
	case YW_COND_ID:
		return yw_strbuf_puts(out, names[c->id]);
	case YW_COND_NOT:
		if ((rc = yw_strbuf_puts(out, "(not ")) ||
		    (rc = yw_cond_format(c->kids[0], names, out)))
			return rc;
		return yw_strbuf_putc(out, ')');
	case YW_COND_AND:
	case YW_COND_OR:
		rc = yw_strbuf_putc(out, '(');
		for (size_t i = 0; i < c->nkids && !rc; i++) {
			if (i)
				rc = yw_strbuf_puts(out, c->op == YW_COND_AND ? " and " : " or ");
			if (!rc)
				rc = yw_cond_format(c->kids[i], names, out);
		}
		return rc ? rc : yw_strbuf_putc(out, ')');
	case YW_COND_OF: {
		/* 1 of / all of print as the or / and they mean, so the output parses again. */
		bool any = c->count == 1, all = c->count == c->nids;
		if (any || all)
			rc = yw_strbuf_putc(out, '(');
		else
			rc = yw_strbuf_printf(out, "(%zu of (", c->count);
		if (!rc)
			rc = fmt_ids(c, names, any ? " or " : all ? " and " : ", ", out);
		if (!rc && !any && !all)
			rc = yw_strbuf_putc(out, ')');
		return rc ? rc : yw_strbuf_putc(out, ')');
	}
	}
	return YW_EINVAL;
}
