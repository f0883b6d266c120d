/* Sigma condition expressions: every form, precedence, `them` and patterns, errors with their
 * offsets, exhaustive truth tables against C reference expressions, lazy evaluation, and every
 * condition in SigmaHQ's rule set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "detect/sigma_cond.h"
#include "yw_limits.h"
#include "yiwang/error.h"

/* Identifiers shared by most tests; indexes are used by the reference expressions below. */
static const char *const N[] = {
    "a",     "b",        "c",        "d",       "e",        "sel_1", "sel_2",
    "sel_3", "filter_1", "filter_2", "_hidden", "sel-dash", "1",     "selection_parent",
};
enum { A, B, C, D, E, S1, S2, S3, F1, F2, HID, DASH, ONE, SP, NN };

struct oracle {
	uint64_t bits;   /* outcome of selection i is bit i */
	uint64_t called; /* which selections were asked for */
	unsigned calls;
};

static bool sel(void *ud, size_t idx)
{
	struct oracle *o = ud;
	assert_true(idx < 64);
	o->called |= UINT64_C(1) << idx;
	o->calls++;
	return (o->bits >> idx) & 1;
}

static struct yw_cond *parse_n(const char *text, const char *const *names, size_t n)
{
	struct yw_cond *c = NULL;
	char err[256];
	size_t pos = 0;
	int rc = yw_cond_parse(text, strlen(text), names, n, &c, err, sizeof(err), &pos);
	if (rc)
		fail_msg("parse of \"%s\" failed at %zu: %s", text, pos, err);
	assert_non_null(c);
	return c;
}

static struct yw_cond *parse(const char *text)
{
	return parse_n(text, N, NN);
}

static char *format(const struct yw_cond *c, const char *const *names)
{
	struct yw_strbuf b;
	yw_strbuf_init(&b, 0);
	assert_int_equal(yw_cond_format(c, names, &b), 0);
	return b.data;
}

static void expect_fmt(const char *text, const char *want)
{
	struct yw_cond *c = parse(text);
	char *got = format(c, N);
	if (strcmp(got, want))
		fail_msg("\"%s\" formats as \"%s\", want \"%s\"", text, got, want);
	free(got);
	yw_cond_free(c);
}

static void expect_err_n(const char *text, size_t len, const char *const *names, size_t n,
                         size_t want_pos, const char *want_msg)
{
	struct yw_cond *c = (struct yw_cond *)1;
	char err[256];
	size_t pos = 12345;
	int rc = yw_cond_parse(text, len, names, n, &c, err, sizeof(err), &pos);
	if (rc != YW_EPARSE)
		fail_msg("\"%.60s\": rc %d, want YW_EPARSE", text, rc);
	assert_null(c);
	if (pos != want_pos || !strstr(err, want_msg))
		fail_msg("\"%.60s\": error at %zu \"%s\", want at %zu containing \"%s\"", text, pos,
		         err, want_pos, want_msg);
}

static void expect_err(const char *text, size_t want_pos, const char *want_msg)
{
	expect_err_n(text, strlen(text), N, NN, want_pos, want_msg);
}

static void test_forms(void **state)
{
	expect_fmt("a", "a");
	expect_fmt("a and b", "(a and b)");
	expect_fmt("a or b", "(a or b)");
	expect_fmt("not a", "(not a)");
	expect_fmt("(a)", "a");
	expect_fmt("((((a))))", "a");
	expect_fmt("sel-dash or 1", "(sel-dash or 1)");
	expect_fmt("_hidden", "_hidden"); /* by name, a `_` identifier is fine */
	expect_fmt("1 of sel_*", "(sel_1 or sel_2 or sel_3)");
	expect_fmt("any of sel_*", "(sel_1 or sel_2 or sel_3)");
	expect_fmt("all of sel_*", "(sel_1 and sel_2 and sel_3)");
	expect_fmt("2 of sel_*", "(2 of (sel_1, sel_2, sel_3))");
	expect_fmt("3 of sel_*", "(sel_1 and sel_2 and sel_3)");
	expect_fmt("1 of *_2", "(sel_2 or filter_2)");
	expect_fmt("1 of s*l*_*", "(sel_1 or sel_2 or sel_3 or selection_parent)");
	expect_fmt("1 of a", "a"); /* single identifier: simplified to ID */
	expect_fmt("all of sel-*", "sel-dash");
	expect_fmt("1 of 1", "1"); /* `1` both as a quantifier and an identifier */
	expect_fmt("not 1 of filter_*", "(not (filter_1 or filter_2))");
	expect_fmt("all of sel_* and not 1 of filter_*",
	           "((sel_1 and sel_2 and sel_3) and (not (filter_1 or filter_2)))");
	expect_fmt("selection_parent and not 1 of filter_* and not a",
	           "(selection_parent and (not (filter_1 or filter_2)) and (not a))");
	expect_fmt("not not a", "a");
	expect_fmt("not not not a", "(not a)");
	expect_fmt("a and(b)or(c)", "((a and b) or c)");
}

static void test_precedence(void **state)
{
	expect_fmt("a or b and c", "(a or (b and c))");
	expect_fmt("a and b or c", "((a and b) or c)");
	expect_fmt("not a and b", "((not a) and b)");
	expect_fmt("not (a or b)", "(not (a or b))");
	expect_fmt("not a or not b and c", "((not a) or ((not b) and c))");
	expect_fmt("(a or b) and c", "((a or b) and c)");
	expect_fmt("a and not 1 of sel_* or b", "((a and (not (sel_1 or sel_2 or sel_3))) or b)");
}

static void test_flatten(void **state)
{
	struct yw_cond *c = parse("a and (b and c)");
	assert_int_equal(c->op, YW_COND_AND);
	assert_int_equal(c->nkids, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(c->kids[i]->op, YW_COND_ID);
		assert_int_equal(c->kids[i]->id, i);
	}
	yw_cond_free(c);
	expect_fmt("(a or b) or (c or (d or e))", "(a or b or c or d or e)");
	expect_fmt("a and (b or c) and (d and e)", "(a and (b or c) and d and e)");

	c = parse("1 of sel_1");
	assert_int_equal(c->op, YW_COND_ID);
	assert_int_equal(c->id, S1);
	yw_cond_free(c);

	c = parse("2 of sel_*");
	assert_int_equal(c->op, YW_COND_OF);
	assert_int_equal(c->count, 2);
	assert_int_equal(c->nids, 3);
	yw_cond_free(c);
}

/* Specification, section "Condition": "Logical OR (`1 of them`) or AND (`all of them`) across
 * all defined search identifiers not starting with an underscore `_`." and, for patterns,
 * "Same as *1/all of them*, but restricted to matching search identifiers." */
static void test_them(void **state)
{
	static const char *const names[] = {"selection", "_helper", "filter", "_x_sel"};
	struct yw_cond *c = parse_n("1 of them", names, 4);
	assert_int_equal(c->op, YW_COND_OF);
	assert_int_equal(c->count, 1);
	assert_int_equal(c->nids, 2);
	assert_int_equal(c->ids[0], 0);
	assert_int_equal(c->ids[1], 2);
	struct oracle o = {.bits = 0x2}; /* only _helper matches: 1 of them is false */
	assert_false(yw_cond_eval(c, sel, &o));
	assert_int_equal(o.called, 0x5); /* _helper was never asked for */
	yw_cond_free(c);

	c = parse_n("all of them", names, 4);
	assert_int_equal(c->op, YW_COND_OF);
	assert_int_equal(c->count, 2);
	o = (struct oracle){.bits = 0x5}; /* selection and filter; _helper false */
	assert_true(yw_cond_eval(c, sel, &o));
	yw_cond_free(c);

	/* Patterns leave out `_` identifiers too, even when the pattern would match them. */
	c = parse_n("1 of *sel*", names, 4);
	assert_int_equal(c->op, YW_COND_ID);
	assert_int_equal(c->id, 0);
	yw_cond_free(c);
	expect_err_n("1 of _*", 7, names, 4, 5, "left out");

	static const char *const hidden[] = {"_a", "_b"};
	expect_err_n("1 of them", 9, hidden, 2, 5, "'them' matches no identifier");
	/* but they can be named */
	c = parse_n("_a and not _b", hidden, 2);
	yw_cond_free(c);
}

static void test_patterns(void **state)
{
	struct oracle o;
	struct yw_cond *one = parse("1 of sel_*");
	struct yw_cond *all = parse("all of sel_*");
	for (uint64_t m = 0; m < 8; m++) {
		o = (struct oracle){.bits = m << S1};
		assert_int_equal(yw_cond_eval(one, sel, &o), m != 0);
		o = (struct oracle){.bits = m << S1};
		assert_int_equal(yw_cond_eval(all, sel, &o), m == 7);
	}
	yw_cond_free(one);
	yw_cond_free(all);
}

static void test_whitespace(void **state)
{
	/* a YAML block scalar keeps newlines and indentation */
	expect_fmt("selection_parent and\n(\n    1 of sel_*\n    or a\n)\n",
	           "(selection_parent and ((sel_1 or sel_2 or sel_3) or a))");
	expect_fmt("\t a \r\n and \v b \f", "(a and b)");
}

static void test_errors(void **state)
{
	expect_err("", 0, "empty condition");
	expect_err("  \n\t", 0, "empty condition");
	expect_err("(a and b", 8, "missing ')' for the '(' at offset 0");
	expect_err("a and (b or (c)", 15, "missing ')' for the '(' at offset 6");
	expect_err("a and b)", 7, "unbalanced ')'");
	expect_err("a and", 5, "found end of condition");
	expect_err("a or or b", 5, "found 'or'");
	expect_err("not", 3, "found end of condition");
	expect_err("()", 1, "found ')'");
	expect_err("a b", 2, "expected 'and', 'or' or the end, found 'b'");
	expect_err("foo", 0, "unknown identifier 'foo' at offset 0");
	expect_err("a and  zzz", 7, "unknown identifier 'zzz' at offset 7");
	expect_err("a AND b", 2, "keywords are lowercase");
	expect_err("Not a", 0, "keywords are lowercase");
	expect_err("them", 0, "'them' can only follow");
	expect_err("sel_*", 0, "pattern 'sel_*' can only follow");
	expect_err("1 of nomatch_*", 5, "pattern 'nomatch_*' matches no identifier");
	expect_err("a or all of x*", 12, "matches no identifier");
	expect_err("4 of sel_*", 0, "more identifiers than the 3");
	expect_err("99999999999999999999999 of sel_*", 0, "more identifiers than the 3");
	expect_err("0 of sel_*", 0, "'0 of' selects nothing");
	expect_err("1 of", 4, "expected 'them' or an identifier pattern after 'of'");
	expect_err("1 of (a)", 5, "after 'of'");
	expect_err("a ? b", 2, "'?' is not a wildcard");
	expect_err("a = 1", 2, "unexpected character '='");
	expect_err("a \xc3\xa9", 2, "unexpected byte 0xc3");
	expect_err_n("a\0b", 3, N, NN, 1, "NUL byte");
	expect_err("a | count() by b > 5", 2, "aggregation '| count'");
	expect_err("a | near b", 2, "aggregation '| near'");
	expect_err("a and b |", 8, "deprecated Sigma v1 aggregation");
}

static char *repeat(const char *pre, int n, const char *mid, const char *post, int m)
{
	size_t len = strlen(pre) * (size_t)n + strlen(mid) + strlen(post) * (size_t)m + 1;
	char *s = malloc(len);
	assert_non_null(s);
	s[0] = '\0';
	for (int i = 0; i < n; i++)
		strcat(s, pre);
	strcat(s, mid);
	for (int i = 0; i < m; i++)
		strcat(s, post);
	return s;
}

static void test_depth(void **state)
{
	char *s = repeat("(", YW_MAX_RULE_DEPTH, "a", ")", YW_MAX_RULE_DEPTH);
	yw_cond_free(parse(s));
	free(s);
	s = repeat("(", YW_MAX_RULE_DEPTH + 1, "a", ")", YW_MAX_RULE_DEPTH + 1);
	expect_err(s, YW_MAX_RULE_DEPTH, "nested deeper than 64");
	free(s);
	/* `not`s do not nest the parser: a long run reduces by parity. */
	s = repeat("not ", 10001, "a", "", 0);
	expect_fmt(s, "(not a)");
	free(s);
	s = repeat("not (", 64, "a", ")", 64);
	expect_fmt(s, "a");
	free(s);
	/* not-and alternation: the formatted form nests one parenthesis per operator, so it
	 * parses again whenever the tree is within the limit. */
	s = repeat("not (a and ", 32, "b", ")", 32);
	struct yw_cond *c = parse(s);
	char *f = format(c, N);
	yw_cond_free(c);
	yw_cond_free(parse(f));
	free(f);
	free(s);
	s = repeat("not (a and ", 33, "b", ")", 33);
	expect_err(s, 7, "nested deeper than 64"); /* the outermost `and` */
	free(s);
	/* Alternating operators grow the tree one level per parenthesis: with 64 parentheses
	 * this is 64 operator levels deep, and 65 with `a and b` innermost, over the limit
	 * though the parentheses are not. The outermost `and` (offset 2) is reported. */
	s = repeat("a and (b or (", 32, "a", "))", 32);
	yw_cond_free(parse(s));
	free(s);
	s = repeat("a and (b or (", 32, "a and b", "))", 32);
	expect_err(s, 2, "nested deeper than 64");
	free(s);
	/* Very long flat chains are fine and parse in linear time. */
	s = repeat("a or ", 10000, "b", "", 0);
	c = parse(s);
	assert_int_equal(c->nkids, 10001);
	yw_cond_free(c);
	free(s);
}

static void test_limits(void **state)
{
	/* No read past len: the text is not NUL-terminated and ASan watches the edge. */
	char *t = malloc(7);
	assert_non_null(t);
	memcpy(t, "a and b", 7);
	struct yw_cond *c = NULL;
	size_t pos;
	assert_int_equal(yw_cond_parse(t, 7, N, NN, &c, NULL, 0, &pos), 0);
	yw_cond_free(c);
	assert_int_equal(yw_cond_parse(t, 1, N, NN, &c, NULL, 0, &pos), 0);
	assert_int_equal(c->op, YW_COND_ID);
	yw_cond_free(c);
	expect_err_n(t, 5, N, NN, 5, "found end of condition");
	free(t);

	size_t big = YW_MAX_CONDITION + 1;
	char *s = malloc(big);
	assert_non_null(s);
	memset(s, ' ', big);
	s[0] = 'a';
	expect_err_n(s, big, N, NN, YW_MAX_CONDITION, "longer than");
	assert_int_equal(yw_cond_parse(s, YW_MAX_CONDITION, N, NN, &c, NULL, 0, &pos), 0);
	assert_int_equal(c->op, YW_COND_ID);
	yw_cond_free(c);
	free(s);
}

/* --- exhaustive truth tables against C reference expressions --- */

#define BIT(m, i) (((m) >> (i)) & 1)

static int popc(uint64_t m)
{
	return __builtin_popcountll(m);
}

struct truth {
	const char *text;
	bool (*ref)(uint64_t m);
};

static bool r0(uint64_t m)
{
	return BIT(m, A) || (BIT(m, B) && BIT(m, C));
}
static bool r1(uint64_t m)
{
	return !BIT(m, A) && BIT(m, B);
}
static bool r2(uint64_t m)
{
	return !(BIT(m, A) || BIT(m, B));
}
static bool r3(uint64_t m)
{
	return (BIT(m, A) && (BIT(m, B) || !BIT(m, C))) || !(BIT(m, D) && BIT(m, E));
}
static bool r4(uint64_t m)
{
	return popc(m & (7u << S1)) >= 2;
}
static bool r5(uint64_t m)
{
	return popc(m & (7u << S1)) == 3 && !(BIT(m, F1) || BIT(m, F2));
}
static bool r6(uint64_t m)
{
	return BIT(m, A) || (BIT(m, B) && BIT(m, C) && (BIT(m, D) || BIT(m, E)));
}
static bool r7(uint64_t m)
{
	return (BIT(m, A) || BIT(m, B)) && (BIT(m, C) || BIT(m, D)) && !BIT(m, E);
}
static bool r8(uint64_t m)
{
	return ((BIT(m, S1) || BIT(m, S2) || BIT(m, S3)) && !BIT(m, F1) && !BIT(m, F2)) ||
	       (BIT(m, A) && !(BIT(m, B) || BIT(m, C)));
}
static bool r9(uint64_t m)
{
	return !(popc(m & (7u << S1)) >= 2) || (BIT(m, F1) && BIT(m, F2));
}

static const struct truth truths[] = {
    {"a or b and c", r0},
    {"not a and b", r1},
    {"not (a or b)", r2},
    {"a and (b or not c) or not (d and e)", r3},
    {"2 of sel_*", r4},
    {"all of sel_* and not 1 of filter_*", r5},
    {"not not a or (b and (c and (d or e)))", r6},
    {"(a or b) and (c or d) and not e", r7},
    {"1 of sel_* and not 1 of filter_* or a and not (b or c)", r8},
    {"not 2 of sel_* or all of filter_*", r9},
};

/* Every mask over bits 0..F2 (10 selections): 1024 outcomes per expression. Each expression is
 * also formatted and parsed again, and the result must agree too. */
static void test_truth_tables(void **state)
{
	for (size_t t = 0; t < sizeof(truths) / sizeof(truths[0]); t++) {
		struct yw_cond *c = parse(truths[t].text);
		char *f = format(c, N);
		struct yw_cond *c2 = strstr(f, " of (") ? NULL : parse(f);
		for (uint64_t m = 0; m < (1u << (F2 + 1)); m++) {
			struct oracle o = {.bits = m};
			bool got = yw_cond_eval(c, sel, &o);
			if (got != truths[t].ref(m))
				fail_msg("\"%s\" with mask 0x%llx: got %d", truths[t].text,
				         (unsigned long long)m, got);
			if (c2) {
				o = (struct oracle){.bits = m};
				assert_int_equal(yw_cond_eval(c2, sel, &o), got);
			}
		}
		free(f);
		yw_cond_free(c);
		yw_cond_free(c2);
	}
}

static void expect_calls(const char *text, uint64_t bits, bool want, uint64_t want_called)
{
	struct yw_cond *c = parse(text);
	struct oracle o = {.bits = bits};
	assert_int_equal(yw_cond_eval(c, sel, &o), want);
	if (o.called != want_called)
		fail_msg("\"%s\" with 0x%llx asked for 0x%llx, want 0x%llx", text,
		         (unsigned long long)bits, (unsigned long long)o.called,
		         (unsigned long long)want_called);
	assert_int_equal(o.calls, popc(want_called));
	yw_cond_free(c);
}

#define M(i) (UINT64_C(1) << (i))

static void test_lazy(void **state)
{
	expect_calls("a or b", M(A), true, M(A));
	expect_calls("a and b", 0, false, M(A));
	expect_calls("a and b or c", M(C), true, M(A) | M(C));
	expect_calls("not a and b", M(A), false, M(A));
	expect_calls("1 of sel_*", M(S1), true, M(S1));
	expect_calls("all of sel_*", M(S1), false, M(S1) | M(S2));
	/* 2 of 3: after two misses one hit cannot reach 2 */
	expect_calls("2 of sel_*", 0, false, M(S1) | M(S2));
	expect_calls("2 of sel_*", M(S1) | M(S2), true, M(S1) | M(S2));
	expect_calls("2 of sel_*", M(S3), false, M(S1) | M(S2));
	expect_calls("2 of sel_*", M(S2) | M(S3), true, M(S1) | M(S2) | M(S3));
}

static void test_or_list(void **state)
{
	struct yw_cond *parts[3] = {parse("a or b"), parse("c and d"), parse("e")};
	struct yw_cond *c;
	assert_int_equal(yw_cond_or_list(parts, 3, &c), 0);
	char *f = format(c, N);
	assert_string_equal(f, "(a or b or (c and d) or e)");
	free(f);
	yw_cond_free(c);
	struct yw_cond *one = parse("a");
	assert_int_equal(yw_cond_or_list(&one, 1, &c), 0);
	assert_ptr_equal(c, one);
	yw_cond_free(c);
	assert_int_equal(yw_cond_or_list(NULL, 0, &c), YW_EINVAL);
}

/* --- every condition in SigmaHQ's rules --- */

struct corpus {
	size_t files, rules, conditions, failures, skipped, reparsed;
};

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void check_condition(struct corpus *corp, const char *path, const char *text,
                            const char *const *names, size_t n)
{
	struct yw_cond *c = NULL;
	char err[256];
	size_t pos = 0;
	corp->conditions++;
	int rc = yw_cond_parse(text, strlen(text), names, n, &c, err, sizeof(err), &pos);
	if (rc) {
		corp->failures++;
		print_message("%s: \"%s\": offset %zu: %s\n", path, text, pos, err);
		return;
	}
	/* The canonical form must parse again to an equivalent tree, when every name can be
	 * written in a condition (a few rules have keys like `x|endswith` or `a.conf` that only a
	 * pattern reaches). */
	char *f = format(c, names);
	struct yw_cond *c2 = NULL;
	bool writable = true;
	for (size_t i = 0; i < n; i++)
		writable &= strspn(names[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                             "0123456789_-") == strlen(names[i]);
	if (writable && !strstr(f, " of (")) {
		corp->reparsed++;
		rc = yw_cond_parse(f, strlen(f), names, n, &c2, err, sizeof(err), &pos);
		if (rc) {
			corp->failures++;
			print_message("%s: reparse of \"%s\": %s\n", path, f, err);
		}
	}
	uint64_t seed = 0x9e3779b97f4a7c15u ^ strlen(text);
	for (int i = 0; c2 && i < 32; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		struct oracle o1 = {.bits = seed}, o2 = {.bits = seed};
		if (n <= 64 && yw_cond_eval(c, sel, &o1) != yw_cond_eval(c2, sel, &o2)) {
			corp->failures++;
			print_message("%s: \"%s\" and \"%s\" disagree\n", path, text, f);
			break;
		}
	}
	free(f);
	yw_cond_free(c);
	yw_cond_free(c2);
}

static void check_document(struct corpus *corp, const char *path, yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		return;
	yaml_node_t *det = NULL;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, p->key));
		if (k && !strcmp(k, "detection"))
			det = yaml_document_get_node(doc, p->value);
	}
	if (!det || det->type != YAML_MAPPING_NODE) {
		corp->skipped++; /* correlation and filter rules */
		return;
	}
	corp->rules++;
	const char *names[YW_MAX_SELECTIONS];
	size_t n = 0;
	yaml_node_t *cond = NULL;
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, p->key));
		assert_non_null(k);
		if (!strcmp(k, "condition"))
			cond = yaml_document_get_node(doc, p->value);
		else if (strcmp(k, "timeframe") && n < YW_MAX_SELECTIONS)
			names[n++] = k;
	}
	if (!cond) {
		corp->failures++;
		print_message("%s: detection without condition\n", path);
	} else if (cond->type == YAML_SCALAR_NODE) {
		check_condition(corp, path, scalar(doc, cond), names, n);
	} else if (cond->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = cond->data.sequence.items.start;
		     i < cond->data.sequence.items.top; i++) {
			const char *s = scalar(doc, yaml_document_get_node(doc, *i));
			assert_non_null(s);
			check_condition(corp, path, s, names, n);
		}
	}
}

static void check_file(struct corpus *corp, const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	yaml_parser_t parser;
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_file(&parser, f);
	corp->files++;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc))
			fail_msg("%s: YAML error: %s", path, parser.problem);
		if (!yaml_document_get_root_node(&doc)) {
			yaml_document_delete(&doc);
			break;
		}
		check_document(corp, path, &doc);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
}

static void walk(struct corpus *corp, const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		struct stat st;
		assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
		            sizeof(path));
		assert_int_equal(lstat(path, &st), 0);
		size_t len = strlen(path);
		if (S_ISDIR(st.st_mode))
			walk(corp, path);
		else if (S_ISREG(st.st_mode) && len > 4 && !strcmp(path + len - 4, ".yml"))
			check_file(corp, path);
	}
	closedir(d);
}

static void test_sigmahq(void **state)
{
	struct corpus corp = {0};
	walk(&corp, YW_SHARED_DIR "/sigma");
	print_message("SigmaHQ: %zu files, %zu rules with detection, %zu conditions, %zu failures, "
	              "%zu formatted and reparsed, %zu documents without detection\n",
	              corp.files, corp.rules, corp.conditions, corp.failures, corp.reparsed,
	              corp.skipped);
	assert_int_equal(corp.failures, 0);
	assert_true(corp.conditions > 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_flatten),  cmocka_unit_test(test_them),
	    cmocka_unit_test(test_patterns), cmocka_unit_test(test_whitespace),
	    cmocka_unit_test(test_errors),   cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_limits),   cmocka_unit_test(test_truth_tables),
	    cmocka_unit_test(test_lazy),     cmocka_unit_test(test_or_list),
	    cmocka_unit_test(test_sigmahq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
