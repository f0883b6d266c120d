/* Sigma literal prefilter: derivation of each rule's required literal set from its condition,
 * and the candidate rules reported for hand-built events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/error.h"
#include "yiwang/sigma.h"

#include "detect/sigma_prefilter.h"
#include "detect/sigma_rule.h"

static struct yw_ruleset *compiled(const char *text)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_non_null(rs);
	assert_int_equal(yw_ruleset_add_text(rs, text, strlen(text), "t.yml", &d), 0);
	yw_diags_print(&d, stderr);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	yw_diags_free(&d);
	return rs;
}

/* The literal set of the only rule in text, rendered as "lit,lit" sorted ("ALWAYS" when the rule
 * has no set), with a "!" before cased literals and "kw:" before keyword literals. */
static char *lits(const char *detection)
{
	char text[2048];
	snprintf(text, sizeof(text), "title: t\nlogsource: {product: linux}\ndetection:\n%s",
	         detection);
	struct yw_ruleset *rs = compiled(text);
	struct yw_sigma_litset set;
	assert_int_equal(yw_sigma_rule_literals(yw_sigma_ruleset_doc(rs, 0), &set), 0);
	char **v = calloc(set.n + 1, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < set.n; i++) {
		const struct yw_sigma_lit *l = &set.v[i];
		v[i] = malloc(l->len + 8);
		assert_non_null(v[i]);
		snprintf(v[i], l->len + 8, "%s%s%.*s",
		         l->item->field ? "" : "kw:", l->cased ? "!" : "", (int)l->len, l->s);
	}
	for (size_t i = 0; i < set.n; i++) /* insertion sort: the sets are small */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	static char out[4096];
	out[0] = 0;
	if (set.always)
		snprintf(out, sizeof(out), "ALWAYS");
	for (size_t i = 0; i < set.n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, sizeof(out) - l, "%s%s", i ? "," : "", v[i]);
		free(v[i]);
	}
	free(v);
	yw_sigma_litset_free(&set);
	yw_ruleset_free(rs);
	return out;
}

static void test_simple_and_casing(void **state)
{
	(void)state;
	assert_string_equal(lits("  sel: {Image|endswith: '/BaSh'}\n  condition: sel\n"), "/bash");
	assert_string_equal(lits("  sel: {Image|cased: '/BaSh'}\n  condition: sel\n"), "!/BaSh");
	/* The longest run of literal bytes between wildcards stands for the value. */
	assert_string_equal(lits("  sel: {Image: '*/ab*cdef?g'}\n  condition: sel\n"), "cdef");
	/* Numbers and booleans compare as text. */
	assert_string_equal(lits("  sel: {pid: 4242}\n  condition: sel\n"), "4242");
}

static void test_and_picks_best_item(void **state)
{
	(void)state;
	/* The item whose shortest literal is longest. */
	assert_string_equal(lits("  sel:\n    a: ab\n    b|contains: [longer, alsolong]\n"
	                         "  condition: sel\n"),
	                    "alsolong,longer");
	/* An optional item is skipped, another item carries the selection. */
	assert_string_equal(lits("  sel:\n    a: null\n    b|re: 'x.*y'\n    c: needle\n"
	                         "  condition: sel\n"),
	                    "needle");
	/* `and` of selections: the best selection. */
	assert_string_equal(lits("  s1: {a: xy}\n  s2: {b: longest}\n  condition: s1 and s2\n"),
	                    "longest");
}

static void test_optional_values(void **state)
{
	(void)state;
	assert_string_equal(lits("  sel: {a: null}\n  condition: sel\n"), "ALWAYS");
	assert_string_equal(lits("  sel: {a|exists: true}\n  condition: sel\n"), "ALWAYS");
	assert_string_equal(lits("  sel: {a: [abc, '*']}\n  condition: sel\n"), "ALWAYS");
	assert_string_equal(lits("  sel: {a|re: 'abc'}\n  condition: sel\n"), "ALWAYS");
	assert_string_equal(lits("  sel: {a|cidr: 10.0.0.0/8}\n  condition: sel\n"), "ALWAYS");
	assert_string_equal(lits("  sel: {a|gt: 5}\n  condition: sel\n"), "ALWAYS");
	assert_string_equal(lits("  sel: {a|neq: abc}\n  condition: sel\n"), "ALWAYS");
	/* One optional value makes the whole (OR) item unusable. */
	assert_string_equal(lits("  sel: {a: [abc, '?']}\n  condition: sel\n"), "ALWAYS");
}

static void test_not_and_or(void **state)
{
	(void)state;
	assert_string_equal(lits("  sel: {a: abc}\n  condition: not sel\n"), "ALWAYS");
	/* `and not`: the positive part carries the rule. */
	assert_string_equal(lits("  sel: {a: abc}\n  f: {b: def}\n  condition: sel and not f\n"),
	                    "abc");
	/* OR: union; one kid without a set makes the rule always evaluated. */
	assert_string_equal(lits("  s1: {a: abc}\n  s2: {b: def}\n  condition: s1 or s2\n"),
	                    "abc,def");
	assert_string_equal(lits("  s1: {a: abc}\n  s2: {b|re: def}\n  condition: s1 or s2\n"),
	                    "ALWAYS");
	assert_string_equal(lits("  s1: {a: abc}\n  s2: {b: def}\n  condition: s1 or not s2\n"),
	                    "ALWAYS");
	/* A list of conditions is an OR. */
	assert_string_equal(lits("  s1: {a: abc}\n  s2: {b: def}\n  condition: [s1, s2]\n"),
	                    "abc,def");
}

static void test_of(void **state)
{
	(void)state;
	assert_string_equal(lits("  sel1: {a: abc}\n  sel2: {b: defgh}\n  condition: 1 of sel*\n"),
	                    "abc,defgh");
	assert_string_equal(
	    lits("  sel1: {a: abc}\n  sel2: {b: defgh}\n  condition: all of sel*\n"), "defgh");
	assert_string_equal(lits("  sel1: {a: abc}\n  sel2: {b|re: x}\n  condition: all of sel*\n"),
	                    "abc");
	assert_string_equal(lits("  sel1: {a: abc}\n  sel2: {b|re: x}\n  condition: 1 of sel*\n"),
	                    "ALWAYS");
}

static void test_maps_and_keywords(void **state)
{
	(void)state;
	/* A list of maps is an OR of the maps. */
	assert_string_equal(lits("  sel:\n    - {a: abc}\n    - {b: def}\n  condition: sel\n"),
	                    "abc,def");
	assert_string_equal(lits("  sel:\n    - {a: abc}\n    - {b|re: def}\n  condition: sel\n"),
	                    "ALWAYS");
	assert_string_equal(lits("  kw: ['Failed password', 'invalid USER']\n  condition: kw\n"),
	                    "kw:failed password,kw:invalid user");
	assert_string_equal(lits("  kw: {'|all': [short, longer one]}\n  condition: kw\n"),
	                    "kw:longer one");
	assert_string_equal(lits("  sel: {a|contains|all: [ab, abcdef]}\n  condition: sel\n"),
	                    "abcdef");
}

static void test_windash(void **state)
{
	(void)state;
	/* Every alternative of a windash value is a literal of the set (-, /, en dash, em dash,
	 * horizontal bar). */
	const char *s = lits("  sel: {a|windash|contains: ' -exec'}\n  condition: sel\n");
	assert_non_null(strstr(s, " -exec"));
	assert_non_null(strstr(s, " /exec"));
	assert_non_null(strstr(s, " \xe2\x80\x93"
	                          "exec"));
	assert_non_null(strstr(s, " \xe2\x80\x94"
	                          "exec"));
	assert_non_null(strstr(s, " \xe2\x80\x95"
	                          "exec"));
}

/* ---- candidates at match time ---- */

struct cands {
	char buf[256];
};

static int on_cand(void *ud, size_t rule)
{
	struct cands *c = ud;
	size_t l = strlen(c->buf);
	snprintf(c->buf + l, sizeof(c->buf) - l, "%s%zu", l ? "," : "", rule);
	return 0;
}

static const char *cands(const struct yw_ruleset *rs, const struct yw_event *ev, struct cands *c)
{
	memset(c, 0, sizeof(*c));
	bool unavailable;
	assert_int_equal(yw_sigma_pf_run(yw_sigma_ruleset_pf(rs), ev, on_cand, c, &unavailable), 0);
	assert_false(unavailable);
	return c->buf;
}

static void test_candidates(void **state)
{
	(void)state;
	struct yw_ruleset *rs =
	    compiled("title: r0\nlogsource: {product: linux, service: sshd}\n"
	             "detection: {sel: {message|contains: 'Accepted'}, condition: sel}\n"
	             "---\n"
	             "title: r1\nlogsource: {product: linux}\n"
	             "detection: {kw: ['segfault'], condition: kw}\n"
	             "---\n"
	             "title: r2\nlogsource: {product: linux}\n"
	             "detection: {sel: {x: 1}, condition: not sel}\n"
	             "---\n"
	             "title: r3\nlogsource: {product: windows}\n"
	             "detection: {sel: {message: 'Accepted'}, condition: sel}\n"
	             "---\n"
	             "title: r4\nlogsource: {product: linux, service: sshd}\n"
	             "detection: {sel: {user.name|cased: Root}, condition: sel}\n");
	struct yw_event *ev = yw_event_new();
	assert_non_null(ev);
	struct cands c;
	assert_int_equal(yw_event_set_logsource(ev, "Linux", "SSHD", NULL), 0);
	assert_int_equal(yw_event_set_strz(ev, "message", "nothing here"), 0);
	assert_string_equal(cands(rs, ev, &c), "2");
	assert_int_equal(yw_event_set_strz(ev, "message", "ACCEPTED password"), 0);
	assert_string_equal(cands(rs, ev, &c), "0,2");
	/* Keywords hit in the raw text as well as in message. */
	assert_int_equal(yw_event_set_raw(ev, "kernel: SEGFAULT at 0", 22), 0);
	assert_string_equal(cands(rs, ev, &c), "0,1,2");
	/* Cased literals need the exact bytes; a list field is scanned item by item. */
	assert_int_equal(yw_event_set_strz(ev, "user.name", "root"), 0);
	assert_string_equal(cands(rs, ev, &c), "0,1,2");
	struct yw_str items[2] = {{"x", 1}, {"Root", 4}};
	assert_int_equal(yw_event_set_list(ev, "user.name", items, 2), 0);
	assert_string_equal(cands(rs, ev, &c), "0,1,2,4");
	/* Another product: only its rules. */
	assert_int_equal(yw_event_set_logsource(ev, "windows", NULL, NULL), 0);
	assert_string_equal(cands(rs, ev, &c), "3");
	/* No log source at all: every rule is a candidate if its literals are there. */
	assert_int_equal(yw_event_set_logsource(ev, NULL, NULL, NULL), 0);
	assert_string_equal(cands(rs, ev, &c), "0,1,2,3,4");
	/* An unknown product fits only rules without a product. */
	assert_int_equal(yw_event_set_logsource(ev, "macos", NULL, NULL), 0);
	assert_string_equal(cands(rs, ev, &c), "");

	struct yw_sigma_pf_stats st;
	yw_sigma_pf_stats(yw_sigma_ruleset_pf(rs), &st);
	assert_int_equal(st.rules_with_set, 4);
	assert_true(st.routes >= 4);
	yw_event_free(ev);
	yw_ruleset_free(rs);
}

/* ---- several threads: routes and scratch space are built lazily, shared safely ---- */

struct worker {
	const struct yw_ruleset *rs;
	size_t matches, mismatches;
};

static int count_hit(void *ud, const struct yw_rule_info *r, const struct yw_event *ev)
{
	(void)ev;
	size_t *h = ud;
	h[h[0]++ + 1] = r->index;
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	static const char *const ls[][3] = {{"linux", "sshd", NULL},
	                                    {"linux", NULL, "process_creation"},
	                                    {"windows", NULL, NULL},
	                                    {NULL, NULL, NULL},
	                                    {"LINUX", "auditd", NULL}};
	static const char *const msgs[] = {"Accepted password", "segfault at 0", "Root", "none"};
	struct yw_event *ev = yw_event_new();
	if (!ev)
		return NULL;
	for (size_t i = 0; i < 2000; i++) {
		yw_event_clear(ev);
		const char *const *l = ls[i % 5];
		yw_event_set_logsource(ev, l[0], l[1], l[2]);
		yw_event_set_strz(ev, "message", msgs[i % 4]);
		yw_event_set_strz(ev, "user.name", msgs[(i / 4) % 4]);
		size_t a[8] = {0}, b[8] = {0};
		yw_ruleset_match(w->rs, ev, count_hit, a);
		yw_ruleset_match_slow(w->rs, ev, count_hit, b);
		w->matches += a[0];
		w->mismatches += memcmp(a, b, sizeof(a)) != 0;
	}
	yw_event_free(ev);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct yw_ruleset *rs =
	    compiled("title: r0\nlogsource: {product: linux, service: sshd}\n"
	             "detection: {sel: {message|contains: 'Accepted'}, condition: sel}\n"
	             "---\n"
	             "title: r1\nlogsource: {product: linux}\n"
	             "detection: {kw: ['segfault'], condition: kw}\n"
	             "---\n"
	             "title: r2\nlogsource: {category: process_creation}\n"
	             "detection: {sel: {user.name: root}, condition: sel}\n"
	             "---\n"
	             "title: r3\nlogsource: {product: windows}\n"
	             "detection: {sel: {message: 'none'}, condition: sel}\n");
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.rs = rs};
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].mismatches, 0);
		assert_int_equal(w[i].matches, w[0].matches);
		assert_true(w[i].matches > 0);
	}
	yw_ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_and_casing),
	    cmocka_unit_test(test_and_picks_best_item),
	    cmocka_unit_test(test_optional_values),
	    cmocka_unit_test(test_not_and_or),
	    cmocka_unit_test(test_of),
	    cmocka_unit_test(test_maps_and_keywords),
	    cmocka_unit_test(test_windash),
	    cmocka_unit_test(test_candidates),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
