/* Every SigmaHQ rule (YW_SHARED_DIR/sigma) loads and compiles: 3,780 rule files plus the
 * specification's 12 schema examples, with no invalid document. Prints every diagnostic so a
 * failure shows why, and the load time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "yiwang/error.h"
#include "yiwang/sigma.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_load_all(void **state)
{
	(void)state;
	static const char *const dirs[] = {
	    "rules",
	    "rules-emerging-threats",
	    "rules-threat-hunting",
	    "rules-compliance",
	    "rules-placeholder",
	    "specification/tests",
	};
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_non_null(rs);
	double t0 = now();
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/sigma/%s", YW_SHARED_DIR, dirs[i]);
		assert_int_equal(yw_ruleset_add_path(rs, path, &d), 0);
	}
	double t1 = now();
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	double t2 = now();
	yw_diags_print(&d, stdout);

	struct yw_ruleset_stats st;
	yw_ruleset_stats(rs, &st);
	printf("files %zu, documents %zu: rules %zu, correlations %zu, filters %zu, invalid %zu; "
	       "%zu errors, %zu warnings\n",
	       st.files, st.documents, st.rules, st.correlations, st.filters, st.invalid, d.nerrors,
	       d.nwarnings);
	printf("load %.3f s, compile %.3f s\n", t1 - t0, t2 - t1);

	assert_int_equal(st.invalid, 0);
	assert_int_equal(d.nerrors, 0);
	/* 3,780 SigmaHQ rules + the specification's 2 rules, 8 correlations and 2 filters */
	assert_int_equal(st.files, 3780 + 12);
	assert_int_equal(st.documents, 3780 + 12);
	assert_int_equal(st.rules, 3780 + 2);
	assert_int_equal(st.correlations, 8);
	assert_int_equal(st.filters, 2);
	assert_int_equal(st.rules + st.correlations + st.filters + st.invalid, st.documents);
	assert_int_equal(yw_ruleset_count(rs), st.rules);
	/* the only warnings are the rules-placeholder values without a placeholders file */
	for (size_t i = 0; i < d.n; i++)
		assert_non_null(strstr(d.v[i].msg, "placeholder"));

	/* every rule's metadata is there */
	size_t linux_rules = 0;
	for (size_t i = 0; i < yw_ruleset_count(rs); i++) {
		const struct yw_rule_info *r = yw_ruleset_rule(rs, i);
		assert_non_null(r->title);
		assert_non_null(r->file);
		assert_true(r->line >= 1);
		if (r->product && !strcmp(r->product, "linux") && strstr(r->file, "/sigma/rules"))
			linux_rules++;
	}
	printf("linux rules: %zu\n", linux_rules);
	assert_int_equal(linux_rules, 248);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
