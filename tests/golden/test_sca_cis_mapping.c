/* CIS numbers of the shipped Debian policy: they load clean, are well formed and unique per
 * check, name a benchmark version, match recommendations verified against the benchmark's
 * numbering (Wazuh's cis_debian12 policy: CIS Debian Family Linux Benchmark v1.0.0), and reach
 * the events as the JSON array yiwang.sca.compliance.cis. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/collector.h"
#include "yiwang/sca.h"

#define POLICY YW_SOURCE_DIR "/rules/sca/debian.yml"

/* Checked one by one against the recommendation titles; NULL-terminated, empty = none. */
static const struct {
	const char *id;
	const char *cis[6];
} spots[] = {
    {"ssh.permit_root_login", {"5.2.9"}},       /* Ensure SSH root login is disabled */
    {"ssh.max_auth_tries", {"5.2.6"}},          /* Ensure SSH MaxAuthTries is set to 4 or less */
    {"ssh.client_alive_count_max", {"5.2.15"}}, /* SSH Idle Timeout Interval */
    {"pwd.pass_max_days", {"5.4.1.1"}},         /* password expiration is 365 days or less */
    {"mod.cramfs", {"1.1.1.1"}},                /* mounting of cramfs filesystems is disabled */
    {"mod.jffs2", {"1.1.1.3"}},                 /* this version puts jffs2 third */
    {"fs.dev_shm_noexec", {"1.1.17"}},          /* noexec on /dev/shm (Wazuh's list says 1.1.16) */
    {"net.ip_forward", {"3.2.2"}},              /* Ensure IP forwarding is disabled */
    {"audit.identity_rules", {"4.1.4"}},        /* events that modify user/group information */
    {"perm.shadow", {"6.1.6"}},                 /* permissions on /etc/shadow */
    {"svc.rpcbind", {"2.2.6"}},                 /* Ensure RPC is not installed (Wazuh: 2.2.5) */
    {"pkg.nis", {"2.1.17", "2.2.1"}},           /* NIS server and NIS client: both package nis */
    {"perm.cron_dirs", {"5.1.3", "5.1.4", "5.1.5", "5.1.6", "5.1.7"}},
    {"ssh.protocol", {NULL}}, /* no such recommendation in this version */
    {"fw.installed", {NULL}}, /* one per firewall there; ours takes any */
};

static struct yw_sca_policy *load(void)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_sca_policy *p = NULL;
	int rc = yw_sca_policy_load(POLICY, &p, &d);
	yw_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	yw_diags_free(&d);
	assert_non_null(p);
	assert_int_equal(p->nbad, 0);
	return p;
}

static const struct yw_sca_check *find(const struct yw_sca_policy *p, const char *id)
{
	for (size_t i = 0; i < p->nchecks; i++)
		if (!strcmp(p->checks[i].id, id))
			return &p->checks[i];
	fail_msg("no check %s", id);
	return NULL;
}

static void test_numbers(void **state)
{
	struct yw_sca_policy *p = load();
	assert_true(p->nchecks >= 60);
	/* the numbers mean something only with the benchmark version they come from */
	assert_non_null(p->benchmark);
	assert_non_null(strstr(p->benchmark, "CIS "));
	assert_non_null(strstr(p->benchmark, "Benchmark v1.0.0"));
	regex_t re;
	assert_int_equal(regcomp(&re, "^[0-9]+(\\.[0-9]+)+$", REG_EXTENDED | REG_NOSUB), 0);
	size_t mapped = 0;
	for (size_t i = 0; i < p->nchecks; i++) {
		const struct yw_sca_check *c = &p->checks[i];
		mapped += c->ncis > 0;
		for (size_t k = 0; k < c->ncis; k++) {
			if (regexec(&re, c->cis[k], 0, NULL, 0) != 0)
				fail_msg("check %s: malformed CIS number '%s'", c->id, c->cis[k]);
			for (size_t j = 0; j < k; j++)
				if (!strcmp(c->cis[j], c->cis[k]))
					fail_msg("check %s: CIS %s twice", c->id, c->cis[k]);
		}
	}
	regfree(&re);
	printf("%zu of %zu checks carry a CIS number\n", mapped, p->nchecks);
	assert_true(mapped >= 100);
	yw_sca_policy_free(p);
}

static void test_spot_checks(void **state)
{
	struct yw_sca_policy *p = load();
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		const struct yw_sca_check *c = find(p, spots[i].id);
		size_t n = 0;
		while (n < 6 && spots[i].cis[n])
			n++;
		if (c->ncis != n)
			fail_msg("check %s: %zu CIS numbers, want %zu", c->id, c->ncis, n);
		for (size_t k = 0; k < n; k++)
			if (strcmp(c->cis[k], spots[i].cis[k]))
				fail_msg("check %s: CIS '%s', want '%s'", c->id, c->cis[k],
				         spots[i].cis[k]);
	}
	yw_sca_policy_free(p);
}

/* ---- the numbers in the events ---- */

struct got {
	json_t *checks; /* check id -> its sca_check event */
	size_t summaries;
};

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct got *g = ud;
	json_error_t err;
	json_t *e = json_loadb(rec->data, rec->len, 0, &err);
	if (!e)
		fail_msg("event is not JSON: %s", err.text);
	const char *action = json_string_value(json_object_get(e, "event.action"));
	const char *id = json_string_value(json_object_get(e, "yiwang.sca.check.id"));
	if (action && !strcmp(action, "sca_summary"))
		g->summaries++;
	if (action && !strcmp(action, "sca_check") && id)
		assert_int_equal(json_object_set(g->checks, id, e), 0);
	json_decref(e);
	return 0;
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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_events(void **state)
{
	/* a minimal Debian root: the policy applies and every check sends its first result */
	char root[] = "/tmp/yw_scacis_XXXXXX", dir[PATH_MAX];
	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/etc", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	put(root, "/etc/os-release", "ID=debian\n");
	struct yw_collector_opt opts[] = {{"policy", POLICY}, {"root", root}};
	void *col;
	assert_int_equal(yw_collector_sca.init(NULL, opts, 2, &col), 0);
	struct got g = {.checks = json_object()};
	assert_non_null(g.checks);
	double t0 = now_s();
	while (!g.summaries && now_s() - t0 < 60)
		assert_true(yw_collector_sca.poll(col, sink, &g) >= 0);
	yw_collector_sca.exit(col);
	assert_int_equal(g.summaries, 1);

	struct yw_sca_policy *p = load();
	assert_int_equal(json_object_size(g.checks), p->nchecks);
	for (size_t i = 0; i < p->nchecks; i++) {
		const struct yw_sca_check *c = &p->checks[i];
		json_t *e = json_object_get(g.checks, c->id);
		assert_non_null(e);
		json_t *cis = json_object_get(e, "yiwang.sca.compliance.cis");
		if (!c->ncis) {
			if (cis)
				fail_msg("check %s: event has CIS numbers, the policy none", c->id);
			continue;
		}
		if (!json_is_array(cis) || json_array_size(cis) != c->ncis)
			fail_msg("check %s: yiwang.sca.compliance.cis is not its %zu numbers",
			         c->id, c->ncis);
		for (size_t k = 0; k < c->ncis; k++)
			assert_string_equal(json_string_value(json_array_get(cis, k)), c->cis[k]);
	}
	/* one seen literally, as a rule author would match it */
	json_t *e = json_object_get(g.checks, "ssh.permit_root_login");
	char *s = json_dumps(json_object_get(e, "yiwang.sca.compliance.cis"), JSON_COMPACT);
	assert_non_null(s);
	assert_string_equal(s, "[\"5.2.9\"]");
	free(s);
	yw_sca_policy_free(p);
	json_decref(g.checks);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_spot_checks),
	    cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
