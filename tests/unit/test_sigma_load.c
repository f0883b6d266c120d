/* Sigma loader: metadata, detection shapes, correlation/filter documents, and diagnostics with
 * exact line:col for every kind of failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/sigma.h"

#include "detect/sigma_rule.h"

static struct yw_ruleset *load(const char *text, struct yw_diags *d)
{
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_non_null(rs);
	assert_int_equal(yw_ruleset_add_text(rs, text, strlen(text), "t.yml", d), 0);
	return rs;
}

static struct yw_ruleset_stats stats(const struct yw_ruleset *rs)
{
	struct yw_ruleset_stats st;
	yw_ruleset_stats(rs, &st);
	return st;
}

/* Loads text expecting exactly one error at line:col whose message contains sub. */
static void expect_error(const char *text, unsigned line, unsigned col, const char *sub)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	yw_diags_print(&d, stderr);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.v[0].level, YW_DIAG_ERROR);
	assert_string_equal(d.v[0].file, "t.yml");
	assert_int_equal(d.v[0].line, line);
	assert_int_equal(d.v[0].col, col);
	assert_non_null(strstr(d.v[0].msg, sub));
	struct yw_ruleset_stats st = stats(rs);
	assert_int_equal(st.invalid, 1);
	assert_int_equal(st.rules, 0);
	assert_int_equal(yw_ruleset_count(rs), 0);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_metadata(void **state)
{
	(void)state;
	const char *text = "title: First\n"
	                   "id: 929a690e-bef0-4204-a928-ef5e620d6fcc\n"
	                   "status: test\n"
	                   "description: Detects things\n"
	                   "level: high\n"
	                   "tags:\n"
	                   "    - attack.execution\n"
	                   "    - attack.t1059\n"
	                   "custom_field: allowed\n"
	                   "logsource:\n"
	                   "    product: linux\n"
	                   "    category: process_creation\n"
	                   "    definition: ignored\n"
	                   "detection:\n"
	                   "    sel:\n"
	                   "        Image: /bin/sh\n"
	                   "    condition: sel\n"
	                   "---\n"
	                   "title: Second\n"
	                   "logsource: {service: sshd}\n"
	                   "detection: {k: [x], condition: k}\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	assert_int_equal(d.n, 0);
	struct yw_ruleset_stats st = stats(rs);
	assert_int_equal(st.documents, 2);
	assert_int_equal(st.rules, 2);
	assert_int_equal(st.invalid, 0);
	assert_int_equal(yw_ruleset_count(rs), 2);
	const struct yw_rule_info *r = yw_ruleset_rule(rs, 0);
	assert_string_equal(r->title, "First");
	assert_string_equal(r->id, "929a690e-bef0-4204-a928-ef5e620d6fcc");
	assert_string_equal(r->status, "test");
	assert_string_equal(r->description, "Detects things");
	assert_string_equal(r->level, "high");
	assert_int_equal(r->ntags, 2);
	assert_string_equal(r->tags[1], "attack.t1059");
	assert_string_equal(r->product, "linux");
	assert_string_equal(r->category, "process_creation");
	assert_null(r->service);
	assert_string_equal(r->file, "t.yml");
	assert_int_equal(r->line, 1);
	r = yw_ruleset_rule(rs, 1);
	assert_string_equal(r->title, "Second");
	assert_null(r->id);
	assert_null(r->level);
	assert_string_equal(r->service, "sshd");
	assert_int_equal(r->line, 19);
	assert_null(yw_ruleset_rule(rs, 2));
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static const struct yw_sigma_detection *det_of(const struct yw_ruleset *rs, size_t i)
{
	const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(rs, i);
	assert_non_null(r);
	assert_int_equal(r->kind, YW_SIGMA_RULE);
	return &r->det;
}

static void test_shapes(void **state)
{
	(void)state;
	const char *text = "title: Shapes\n"
	                   "logsource: {product: linux}\n"
	                   "detection:\n"
	                   "    map:\n"
	                   "        Image|endswith: /sh\n"
	                   "        CommandLine|contains|all: [a, b]\n"
	                   "        Pid: 42\n"
	                   "        Flag: true\n"
	                   "        Gone: null\n"
	                   "        Empty: []\n"
	                   "        Blank: ''\n"
	                   "    maps:\n"
	                   "        - Image: a\n"
	                   "        - Image: b\n"
	                   "          User: root\n"
	                   "    words:\n"
	                   "        - evil\n"
	                   "        - 42\n"
	                   "    word: justone\n"
	                   "    allwords:\n"
	                   "        '|all':\n"
	                   "            - one\n"
	                   "            - two\n"
	                   "    _private: {X: y}\n"
	                   "    condition:\n"
	                   "        - map and not 1 of maps\n"
	                   "        - all of word* or allwords\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	yw_diags_print(&d, stderr);
	assert_int_equal(d.n, 0);
	assert_int_equal(stats(rs).rules, 1);
	const struct yw_sigma_detection *det = det_of(rs, 0);
	assert_int_equal(det->nsels, 6);
	assert_int_equal(det->nconds, 2);
	assert_string_equal(det->names[0], "map");
	assert_string_equal(det->names[5], "_private");
	/* map: one group of 7 items with their field names and line:col */
	assert_int_equal(det->sels[0].ngroups, 1);
	assert_int_equal(det->sels[0].groups[0].nitems, 7);
	assert_string_equal(det->sels[0].groups[0].items[1].field, "CommandLine");
	assert_int_equal(det->sels[0].groups[0].items[1].line, 6);
	assert_int_equal(det->sels[0].groups[0].items[1].col, 9);
	assert_non_null(det->sels[0].groups[0].items[4].m);
	assert_true(det->sels[0].groups[0].items[5].never); /* Empty: [] */
	/* list of maps: OR of two groups, the second an AND of two items */
	assert_int_equal(det->sels[1].ngroups, 2);
	assert_int_equal(det->sels[1].groups[1].nitems, 2);
	/* keyword list and scalar keyword: one keyword item each */
	assert_int_equal(det->sels[2].ngroups, 1);
	assert_null(det->sels[2].groups[0].items[0].field);
	assert_null(det->sels[3].groups[0].items[0].field);
	/* '|all' map: a keyword item with a modifier */
	assert_int_equal(det->sels[4].groups[0].nitems, 1);
	assert_null(det->sels[4].groups[0].items[0].field);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_mixed_and_empty_lists(void **state)
{
	(void)state;
	const char *text = "title: Mixed\n"
	                   "logsource: {product: linux}\n"
	                   "detection:\n"
	                   "    mixed: [kw1, {A: b}, kw2]\n"
	                   "    none: []\n"
	                   "    condition: mixed or none\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	assert_int_equal(d.n, 0);
	const struct yw_sigma_detection *det = det_of(rs, 0);
	assert_int_equal(det->sels[0].ngroups, 3);
	assert_int_equal(det->sels[1].ngroups, 0);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_bad_yaml(void **state)
{
	(void)state;
	/* The unclosed flow map is reported where libyaml finds the problem. */
	expect_error("title: x\n"
	             "logsource: {product: linux\n"
	             "detection:\n",
	             3, 10, "YAML");
	expect_error("title: x\n"
	             "  bad: indent\n",
	             2, 6, "YAML");
}

static void test_bad_yaml_keeps_earlier_documents(void **state)
{
	(void)state;
	const char *text = "title: ok\n"
	                   "logsource: {product: linux}\n"
	                   "detection: {k: [x], condition: k}\n"
	                   "---\n"
	                   "title: [broken\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.v[0].line, 6);
	struct yw_ruleset_stats st = stats(rs);
	assert_int_equal(st.rules, 1);
	assert_int_equal(st.invalid, 1);
	assert_int_equal(st.documents, 2);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_missing_parts(void **state)
{
	(void)state;
	expect_error("id: 1\n"
	             "logsource: {product: linux}\n"
	             "detection: {k: [x], condition: k}\n",
	             1, 1, "no title");
	expect_error("title: t\n"
	             "detection: {k: [x], condition: k}\n",
	             1, 1, "no logsource");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n",
	             1, 1, "no detection");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel:\n"
	             "        a: b\n",
	             4, 5, "no condition");
	expect_error("- just\n- a list\n", 1, 1, "must be a YAML map");
	expect_error("title: t\n"
	             "logsource: linux\n"
	             "detection: {k: [x], condition: k}\n",
	             2, 12, "logsource must be a map");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel:\n"
	             "    condition: sel\n",
	             4, 5, "empty");
}

static void test_item_errors(void **state)
{
	(void)state;
	/* unknown modifier: at the key */
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel:\n"
	             "        Image: a\n"
	             "        CommandLine|nosuchmod: x\n"
	             "    condition: sel\n",
	             6, 9, "nosuchmod");
	/* invalid regex: at the value that fails */
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel:\n"
	             "        CommandLine|re:\n"
	             "            - 'ok.*'\n"
	             "            - 'bad(['\n"
	             "    condition: sel\n",
	             7, 15, "CommandLine");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {CommandLine|re: '(unclosed'}\n"
	             "    condition: sel\n",
	             4, 27, "CommandLine");
	/* empty modifier and a map as a value */
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A||contains: x}\n"
	             "    condition: sel\n",
	             4, 11, "empty modifier");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A: {b: c}}\n"
	             "    condition: sel\n",
	             4, 14, "scalar");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A: x, A: y}\n"
	             "    condition: sel\n",
	             4, 17, "duplicate");
}

static void test_condition_errors(void **state)
{
	(void)state;
	/* unknown identifier: the column of the identifier inside the condition */
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A: b}\n"
	             "    condition: sel and nosuch\n",
	             5, 24, "condition");
	/* quoted: one more column for the quote */
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A: b}\n"
	             "    condition: 'sel or nosuch'\n",
	             5, 24, "condition");
	/* in a list of conditions */
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A: b}\n"
	             "    condition:\n"
	             "        - sel\n"
	             "        - sel and (\n",
	             7, 20, "condition");
	expect_error("title: t\n"
	             "logsource: {product: linux}\n"
	             "detection:\n"
	             "    sel: {A: b}\n"
	             "    condition: {x: y}\n",
	             5, 16, "condition must be");
}

static void test_timeframe_warns(void **state)
{
	(void)state;
	const char *text = "title: t\n"
	                   "logsource: {product: linux}\n"
	                   "detection:\n"
	                   "    sel: {A: b}\n"
	                   "    timeframe: 5m\n"
	                   "    condition: sel\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(d.nwarnings, 1);
	assert_int_equal(d.v[0].line, 5);
	assert_int_equal(d.v[0].col, 5);
	assert_non_null(strstr(d.v[0].msg, "timeframe"));
	assert_int_equal(stats(rs).rules, 1);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_correlation_and_filter(void **state)
{
	(void)state;
	const char *text = "title: Many failed logins\n"
	                   "name: many_failed\n"
	                   "correlation:\n"
	                   "    type: value_count\n"
	                   "    rules:\n"
	                   "        - failed_login\n"
	                   "    group-by:\n"
	                   "        - ComputerName\n"
	                   "    timespan: 1h\n"
	                   "    condition:\n"
	                   "        field: User\n"
	                   "        gte: 100\n"
	                   "---\n"
	                   "title: Filter admins\n"
	                   "logsource: {product: windows, category: process_creation}\n"
	                   "filter:\n"
	                   "    rules: [6f3e2987-db24-4c78-a860-b4f4095a7095]\n"
	                   "    selection:\n"
	                   "        User|startswith: adm_\n"
	                   "    condition: selection\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	yw_diags_print(&d, stderr);
	assert_int_equal(d.n, 0);
	struct yw_ruleset_stats st = stats(rs);
	assert_int_equal(st.documents, 2);
	assert_int_equal(st.correlations, 1);
	assert_int_equal(st.filters, 1);
	assert_int_equal(st.rules, 0);
	assert_int_equal(yw_ruleset_count(rs), 0);
	assert_int_equal(yw_sigma_ruleset_ndocs(rs), 2);
	const struct yw_sigma_rule *c = yw_sigma_ruleset_doc(rs, 0);
	assert_int_equal(c->kind, YW_SIGMA_CORRELATION);
	assert_string_equal(c->name, "many_failed");
	assert_string_equal(c->corr->type, "value_count");
	assert_int_equal(c->corr->nrules, 1);
	assert_string_equal(c->corr->rules[0], "failed_login");
	assert_int_equal(c->corr->ngroup_by, 1);
	assert_int_equal(c->corr->timespan_ms, 3600000);
	assert_int_equal(c->corr->nconds, 1);
	assert_string_equal(c->corr->conds[0].op, "gte");
	assert_int_equal(c->corr->conds[0].value, 100);
	assert_string_equal(c->corr->cond_field, "User");
	const struct yw_sigma_rule *f = yw_sigma_ruleset_doc(rs, 1);
	assert_int_equal(f->kind, YW_SIGMA_FILTER);
	assert_int_equal(f->filter->nrules, 1);
	assert_int_equal(f->filter->det.nsels, 1);
	assert_int_equal(f->filter->det.nconds, 1);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_correlation_errors(void **state)
{
	(void)state;
	expect_error("title: c\n"
	             "correlation:\n"
	             "    type: event_sum\n"
	             "    rules: [a]\n"
	             "    timespan: 1h\n",
	             3, 11, "unknown correlation type");
	expect_error("title: c\n"
	             "correlation:\n"
	             "    type: event_count\n"
	             "    rules: [a]\n"
	             "    timespan: 1h\n",
	             3, 5, "needs a condition");
	expect_error("title: c\n"
	             "correlation:\n"
	             "    type: temporal\n"
	             "    rules: [a, b]\n"
	             "    timespan: soon\n",
	             5, 15, "timespan");
	expect_error("title: c\n"
	             "correlation:\n"
	             "    type: temporal\n"
	             "    timespan: 1h\n",
	             3, 5, "no rules");
	expect_error("title: f\n"
	             "logsource: {product: linux}\n"
	             "filter:\n"
	             "    rules: [a]\n"
	             "    sel: {A: b}\n",
	             4, 5, "no condition");
}

static void test_legacy_action(void **state)
{
	(void)state;
	expect_error("action: global\n"
	             "title: t\n",
	             1, 9, "legacy");
}

static void test_limits(void **state)
{
	(void)state;
	/* nesting deeper than YW_MAX_RULE_DEPTH */
	char deep[400] = "title: ";
	size_t n = strlen(deep);
	for (int i = 0; i < 70; i++)
		deep[n++] = '[';
	deep[n] = 0;
	/* the root map is level 1, so the 64th '[' (column 8 + 63) is level 65 */
	expect_error(deep, 1, 8 + 63, "nesting");
	/* a rule text over YW_MAX_RULE_FILE */
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	size_t big = 4 * 1024 * 1024 + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, '#', big);
	assert_int_equal(yw_ruleset_add_text(rs, text, big, "big.yml", &d), 0);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(stats(rs).invalid, 1);
	free(text);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_unknown_placeholder_warns(void **state)
{
	(void)state;
	const char *text = "title: t\n"
	                   "logsource: {product: windows}\n"
	                   "detection:\n"
	                   "    sel:\n"
	                   "        User|expand: '%Admins%'\n"
	                   "    condition: sel\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = load(text, &d);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(d.nwarnings, 1);
	assert_int_equal(d.v[0].line, 5);
	assert_int_equal(d.v[0].col, 22);
	assert_non_null(strstr(d.v[0].msg, "%Admins%"));
	assert_int_equal(stats(rs).rules, 1);
	assert_true(det_of(rs, 0)->sels[0].groups[0].items[0].never);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_add_path(void **state)
{
	(void)state;
	char dir[] = "/tmp/yw_sigma_load_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p[256];
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	char text[256];
	const char *files[] = {"b.yml", "a.yaml", "sub/c.yml", "notes.txt", ".hidden.yml"};
	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		snprintf(text, sizeof(text),
		         "title: %s\nlogsource: {product: linux}\n"
		         "detection: {k: [x], condition: k}\n",
		         files[i]);
		write_file(p, text);
	}
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_int_equal(yw_ruleset_add_path(rs, dir, &d), 0);
	assert_int_equal(d.n, 0);
	struct yw_ruleset_stats st = stats(rs);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.rules, 3);
	/* sorted: a.yaml, b.yml, sub/ */
	assert_string_equal(yw_ruleset_rule(rs, 0)->title, "a.yaml");
	assert_string_equal(yw_ruleset_rule(rs, 1)->title, "b.yml");
	assert_string_equal(yw_ruleset_rule(rs, 2)->title, "sub/c.yml");
	snprintf(p, sizeof(p), "%s/sub/c.yml", dir);
	assert_string_equal(yw_ruleset_rule(rs, 2)->file, p);
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(yw_ruleset_add_path(rs, p, &d), YW_ENOENT);
	assert_int_equal(d.nerrors, 1);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
	const char *rm[] = {"b.yml", "a.yaml", "sub/c.yml", "notes.txt", ".hidden.yml", "sub", ""};
	for (size_t i = 0; i < 7; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, rm[i]);
		remove(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_metadata),
	    cmocka_unit_test(test_shapes),
	    cmocka_unit_test(test_mixed_and_empty_lists),
	    cmocka_unit_test(test_bad_yaml),
	    cmocka_unit_test(test_bad_yaml_keeps_earlier_documents),
	    cmocka_unit_test(test_missing_parts),
	    cmocka_unit_test(test_item_errors),
	    cmocka_unit_test(test_condition_errors),
	    cmocka_unit_test(test_timeframe_warns),
	    cmocka_unit_test(test_correlation_and_filter),
	    cmocka_unit_test(test_correlation_errors),
	    cmocka_unit_test(test_legacy_action),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_unknown_placeholder_warns),
	    cmocka_unit_test(test_add_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
