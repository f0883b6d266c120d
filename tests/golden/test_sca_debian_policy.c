/* The shipped Debian policy: loads clean, has >= 60 complete checks with compliance mappings,
 * applies to Debian derivatives (Kylin, UOS) and not to others, and runs on this machine in
 * bounded time with a pass rate. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/collector.h"
#include "yiwang/sca.h"

#define POLICY YW_SOURCE_DIR "/rules/sca/debian.yml"

static struct yw_sca_policy *load(void)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_sca_policy *p = NULL;
	int rc = yw_sca_policy_load(POLICY, &p, &d);
	yw_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	yw_diags_free(&d);
	return p;
}

static void test_complete(void **state)
{
	struct yw_sca_policy *p = load();
	assert_int_equal(p->nbad, 0);
	assert_true(p->nchecks >= 60);
	assert_non_null(p->benchmark);
	for (size_t i = 0; i < p->nchecks; i++) {
		const struct yw_sca_check *c = &p->checks[i];
		if (!c->title || !c->title_zh || !c->rationale || !c->remediation ||
		    !(c->ncis || c->ngbt))
			fail_msg("check %s is incomplete", c->id);
		/* a Chinese title: at least one multi-byte UTF-8 sequence */
		bool cjk = false;
		for (const unsigned char *s = (const unsigned char *)c->title_zh; *s; s++)
			cjk |= *s >= 0xE0;
		if (!cjk)
			fail_msg("check %s: title_zh has no Chinese", c->id);
		/* GB/T 22239-2019 level-3 computing-environment items are 8.1.4.1 .. 8.1.4.11 */
		for (size_t k = 0; k < c->ngbt; k++)
			if (strncmp(c->gbt[k], "8.1.4.", 6) != 0)
				fail_msg("check %s: unexpected GB/T 22239 item '%s'", c->id,
				         c->gbt[k]);
	}
	yw_sca_policy_free(p);
}

static void put(const char *root, const char *rel, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_applies(void **state)
{
	struct yw_sca_policy *p = load();
	char root[] = "/tmp/yw_scad_XXXXXX", etc[64];
	assert_non_null(mkdtemp(root));
	snprintf(etc, sizeof(etc), "%s/etc", root);
	mkdir(etc, 0755);
	static const struct {
		const char *osr;
		bool applies;
	} cases[] = {
	    {"ID=debian\n", true},
	    {"ID=ubuntu\nID_LIKE=debian\n", true},
	    {"ID=kylin\nID_LIKE=debian\n", true},
	    {"ID=uos\nID_LIKE=\"debian\"\n", true},
	    {"ID=\"rhel\"\nID_LIKE=\"fedora\"\n", false},
	    {"ID=alpine\n", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(root, "/etc/os-release", cases[i].osr);
		struct yw_sca_opts o = {.root = root};
		struct yw_sca_ctx *c;
		assert_int_equal(yw_sca_ctx_new(&o, &c), 0);
		assert_int_equal(yw_sca_applies(c, p), cases[i].applies);
		yw_sca_ctx_free(c);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
	yw_sca_policy_free(p);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_this_machine(void **state)
{
	struct yw_sca_policy *p = load();
	struct yw_sca_opts o = {.allow_commands = true};
	struct yw_sca_ctx *c;
	assert_int_equal(yw_sca_ctx_new(&o, &c), 0);
	size_t n[3] = {0, 0, 0};
	double t0 = now_s();
	for (size_t i = 0; i < p->nchecks; i++) {
		char reason[512];
		int r = yw_sca_eval(c, &p->checks[i], reason, sizeof(reason));
		assert_true(r >= YW_SCA_PASSED && r <= YW_SCA_NA);
		assert_true(reason[0] != 0);
		n[r]++;
		/* real /proc/sys values are read (a single huge read() of them fails) */
		if (!strcmp(p->checks[i].id, "kernel.randomize_va_space") &&
		    access("/proc/sys/kernel/randomize_va_space", R_OK) == 0)
			assert_non_null(strstr(reason, "randomize_va_space = "));
		if (!strcmp(p->checks[i].id, "kernel.randomize_va_space") && r != YW_SCA_NA) {
			const char *eq = strstr(reason, "= ");
			assert_true(eq && eq[2] >= '0' && eq[2] <= '9');
		}
		if (getenv("YW_TEST_VERBOSE"))
			printf("%-28s %-15s %s\n", p->checks[i].id, yw_sca_result_name(r), reason);
	}
	double el = now_s() - t0;
	assert_true(el < 30.0);
	assert_int_equal(n[0] + n[1] + n[2], p->nchecks);
	assert_true(n[0] + n[1] > 0);
	printf("debian policy on this machine: %zu checks, %zu passed, %zu failed, %zu not "
	       "applicable, pass rate %zu%%, %.3f s\n",
	       p->nchecks, n[0], n[1], n[2], (n[0] * 100 + (n[0] + n[1]) / 2) / (n[0] + n[1]), el);
	yw_sca_ctx_free(c);
	yw_sca_policy_free(p);
}

struct cnt {
	size_t checks, summaries;
	char summary[4096];
};

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct cnt *k = ud;
	if (memmem(rec->data, rec->len, "\"sca_summary\"", 13)) {
		k->summaries++;
		snprintf(k->summary, sizeof(k->summary), "%.*s", (int)rec->len, rec->data);
	} else if (memmem(rec->data, rec->len, "\"sca_check\"", 11)) {
		k->checks++;
	}
	return 0;
}

static void test_collector_score(void **state)
{
	struct yw_collector_opt opts[] = {{"policy", POLICY}};
	void *col;
	assert_int_equal(yw_collector_sca.init(NULL, opts, 1, &col), 0);
	struct cnt k = {0};
	double t0 = now_s();
	while (!k.summaries && now_s() - t0 < 60)
		assert_true(yw_collector_sca.poll(col, sink, &k) >= 0);
	yw_collector_sca.exit(col);
	assert_int_equal(k.summaries, 1);
	assert_true(k.checks >= 60);
	assert_non_null(strstr(k.summary, "\"yiwang.sca.applies\":true"));
	assert_non_null(strstr(k.summary, "\"yiwang.sca.score\":"));
	printf("%s\n", k.summary);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_complete),
	    cmocka_unit_test(test_applies),
	    cmocka_unit_test(test_this_machine),
	    cmocka_unit_test(test_collector_score),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
