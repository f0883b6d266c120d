/* Unit tests of the correlation engine: every type, windows, late events, caps, chaining,
 * aliases, missing group fields and `generate`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yiwang/correlate.h"
#include "yiwang/error.h"
#include "yiwang/sigma.h"

#define SEC 1000000000LL

static const char base_rules[] = "title: fail\n"
                                 "id: 11111111-1111-4111-8111-000000000001\n"
                                 "name: fail\n"
                                 "logsource: {product: test}\n"
                                 "detection: {sel: {event.action: fail}, condition: sel}\n"
                                 "---\n"
                                 "title: ok\n"
                                 "id: 11111111-1111-4111-8111-000000000002\n"
                                 "name: ok\n"
                                 "logsource: {product: test}\n"
                                 "detection: {sel: {event.action: ok}, condition: sel}\n"
                                 "---\n"
                                 "title: conn\n"
                                 "name: conn\n"
                                 "logsource: {product: test}\n"
                                 "detection: {sel: {event.action: conn}, condition: sel}\n"
                                 "---\n"
                                 "title: xfer\n"
                                 "name: xfer\n"
                                 "logsource: {product: test}\n"
                                 "detection: {sel: {event.action: xfer}, condition: sel}\n";

struct run {
	struct yw_ruleset *rs;
	struct yw_corr *c;
	int alerts;
	char title[64], group[128];
	double value;
	int64_t first, last;
	size_t nbase;
	int reported_base; /* base matches hunt would print */
};

static int on_alert(void *ud, const struct yw_corr_alert *a)
{
	struct run *r = ud;
	r->alerts++;
	snprintf(r->title, sizeof(r->title), "%s", a->rule->title);
	r->group[0] = '\0';
	for (size_t i = 0; i < a->ngroup; i++) {
		size_t l = strlen(r->group);
		snprintf(r->group + l, sizeof(r->group) - l, "%s%s", i ? "," : "",
		         a->group_values[i]);
	}
	r->value = a->value;
	r->first = a->first_ns;
	r->last = a->last_ns;
	r->nbase = a->nbase;
	return 0;
}

static int on_match(void *ud, const struct yw_rule_info *rule, const struct yw_event *ev)
{
	struct run *r = ud;
	if (yw_corr_rule_reported(r->c, rule))
		r->reported_base++;
	return yw_corr_feed(r->c, rule, ev, on_alert, r);
}

static void setup_run(struct run *r, const char *corr, const struct yw_corr_opts *o,
                      size_t want_corrs)
{
	memset(r, 0, sizeof(*r));
	struct yw_diags d = YW_DIAGS_INIT;
	char *text = malloc(strlen(base_rules) + strlen(corr) + 8);
	assert_non_null(text);
	sprintf(text, "%s---\n%s", base_rules, corr);
	/* Through a file: the engine re-reads a correlation's file for its aliases. */
	char path[] = "/tmp/yw_test_correlate_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_non_null(r->rs = yw_ruleset_new());
	assert_int_equal(yw_ruleset_add_path(r->rs, path, &d), 0);
	assert_int_equal(yw_ruleset_compile(r->rs, &d), 0);
	assert_int_equal(yw_corr_new(r->rs, o, &d, &r->c), 0);
	remove(path);
	if (yw_corr_count(r->c) != want_corrs)
		yw_diags_print(&d, stderr);
	assert_int_equal(yw_corr_count(r->c), want_corrs);
	yw_diags_free(&d);
	free(text);
}

static void teardown_run(struct run *r)
{
	yw_corr_free(r->c);
	yw_ruleset_free(r->rs);
}

/* One event at second sec; NULL fields are left out. */
static void ev(struct run *r, int64_t sec, const char *action, const char *ip, const char *user,
               const char *dst, long long bytes)
{
	struct yw_event *e = yw_event_new();
	assert_non_null(e);
	yw_event_set_logsource(e, "test", NULL, NULL);
	assert_int_equal(yw_event_set_time(e, "@timestamp", sec * SEC), 0);
	yw_event_set_strz(e, "event.action", action);
	if (ip)
		yw_event_set_ip(e, "source.ip", ip, strlen(ip));
	if (user)
		yw_event_set_strz(e, "user.name", user);
	if (dst)
		yw_event_set_ip(e, "destination.ip", dst, strlen(dst));
	if (bytes >= 0)
		yw_event_set_int(e, "bytes", bytes);
	assert_int_equal(yw_ruleset_match(r->rs, e, on_match, r), 0);
	yw_event_free(e);
}

static const char ec_rule[] = "title: bf\n"
                              "id: 22222222-2222-4222-8222-000000000001\n"
                              "name: bf\n"
                              "correlation:\n"
                              "  type: event_count\n"
                              "  rules: [fail]\n"
                              "  group-by: [source.ip]\n"
                              "  timespan: 10s\n"
                              "  condition: {gte: 3}\n";

static void test_event_count(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r, ec_rule, NULL, 1);
	ev(&r, 0, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 1, "fail", "10.0.0.2", NULL, NULL, -1);
	ev(&r, 1, "fail", "10.0.0.1", NULL, NULL, -1);
	assert_int_equal(r.alerts, 0);
	ev(&r, 2, "fail", "10.0.0.1", NULL, NULL, -1);
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.group, "10.0.0.1");
	assert_true(r.value == 3.0);
	assert_int_equal(r.first, 0);
	assert_int_equal(r.last, 2 * SEC);
	assert_int_equal(r.nbase, 1);
	/* The window restarts after an alert: two more are not enough, a third is. */
	ev(&r, 3, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 4, "fail", "10.0.0.1", NULL, NULL, -1);
	assert_int_equal(r.alerts, 1);
	ev(&r, 5, "fail", "10.0.0.1", NULL, NULL, -1);
	assert_int_equal(r.alerts, 2);
	/* Spread wider than the timespan: the oldest leaves the window. */
	ev(&r, 20, "fail", "10.0.0.3", NULL, NULL, -1);
	ev(&r, 25, "fail", "10.0.0.3", NULL, NULL, -1);
	ev(&r, 31, "fail", "10.0.0.3", NULL, NULL, -1);
	assert_int_equal(r.alerts, 2);
	ev(&r, 32, "fail", "10.0.0.3", NULL, NULL, -1);
	assert_int_equal(r.alerts, 3);
	assert_int_equal(r.first, 25 * SEC);
	/* Matches of other rules do not count; `generate` defaults to false. */
	ev(&r, 33, "ok", "10.0.0.3", NULL, NULL, -1);
	assert_int_equal(r.alerts, 3);
	assert_int_equal(r.reported_base, 1); /* only the "ok" match is reported */
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.alerts, 3);
	assert_int_equal(st.inputs, 11);
	assert_int_equal(st.expired, 0); /* kept for the timespan plus the late tolerance */
	ev(&r, 200, "fail", "10.0.0.4", NULL, NULL, -1);
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.expired, 3);
	assert_int_equal(st.groups, 1);
	teardown_run(&r);
}

static void test_late_events(void **state)
{
	(void)state;
	struct run r;
	struct yw_corr_opts o = {.late_tolerance_ms = 5000};
	setup_run(&r, ec_rule, &o, 1);
	ev(&r, 100, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 97, "fail", "10.0.0.1", NULL, NULL, -1); /* 3 s late: accepted */
	ev(&r, 90, "fail", "10.0.0.1", NULL, NULL, -1); /* 10 s late: dropped */
	assert_int_equal(r.alerts, 0);
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.dropped_late, 1);
	ev(&r, 101, "fail", "10.0.0.1", NULL, NULL, -1);
	assert_int_equal(r.alerts, 1);
	assert_int_equal(r.first, 97 * SEC);
	teardown_run(&r);
}

static void test_caps_evict(void **state)
{
	(void)state;
	struct run r;
	struct yw_corr_opts o = {.max_groups = 2, .late_tolerance_ms = -1};
	setup_run(&r, ec_rule, &o, 1);
	ev(&r, 0, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 0, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 1, "fail", "10.0.0.2", NULL, NULL, -1);
	ev(&r, 2, "fail", "10.0.0.3", NULL, NULL, -1); /* evicts 10.0.0.1, least recent */
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.groups, 2);
	assert_true(st.memory_bytes > 0);
	ev(&r, 3, "fail", "10.0.0.1", NULL, NULL, -1); /* starts over: 1 event, evicts .2 */
	assert_int_equal(r.alerts, 0);
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.evicted, 2);
	ev(&r, 3, "fail", "10.0.0.3", NULL, NULL, -1);
	ev(&r, 4, "fail", "10.0.0.3", NULL, NULL, -1);
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.group, "10.0.0.3");
	teardown_run(&r);
}

static void test_value_count_missing_group(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: spray\n"
	          "correlation:\n"
	          "  type: value_count\n"
	          "  rules: [fail]\n"
	          "  group-by: [source.ip]\n"
	          "  timespan: 1m\n"
	          "  condition: {field: user.name, gte: 3}\n",
	          NULL, 1);
	ev(&r, 0, "fail", "10.0.0.1", "alice", NULL, -1);
	ev(&r, 1, "fail", "10.0.0.1", "alice", NULL, -1);
	ev(&r, 2, "fail", "10.0.0.1", "bob", NULL, -1);
	ev(&r, 3, "fail", NULL, "carol", NULL, -1);    /* no source.ip: not counted */
	ev(&r, 4, "fail", "10.0.0.1", NULL, NULL, -1); /* no user.name: not counted */
	assert_int_equal(r.alerts, 0);
	ev(&r, 5, "fail", "10.0.0.1", "carol", NULL, -1);
	assert_int_equal(r.alerts, 1);
	assert_true(r.value == 3.0);
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.no_group, 1);
	assert_int_equal(st.no_value, 1);
	/* Values expire: alice at 70 s, bob/carol seen long ago, dave: only 2 in the window. */
	ev(&r, 100, "fail", "10.0.0.1", "alice", NULL, -1);
	ev(&r, 101, "fail", "10.0.0.1", "dave", NULL, -1);
	assert_int_equal(r.alerts, 1);
	teardown_run(&r);
}

static void test_temporal(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: both\n"
	          "correlation:\n"
	          "  type: temporal\n"
	          "  rules: [fail, ok]\n"
	          "  group-by: [user.name]\n"
	          "  timespan: 10s\n"
	          "---\n"
	          "title: ordered\n"
	          "correlation:\n"
	          "  type: temporal_ordered\n"
	          "  rules: [fail, ok]\n"
	          "  group-by: [user.name]\n"
	          "  timespan: 10s\n"
	          "  generate: true\n",
	          NULL, 2);
	ev(&r, 0, "ok", "10.0.0.1", "alice", NULL, -1);
	ev(&r, 1, "fail", "10.0.0.1", "alice", NULL, -1);
	assert_int_equal(r.alerts, 1); /* temporal only: wrong order for the ordered one */
	assert_string_equal(r.title, "both");
	assert_int_equal(r.reported_base, 2); /* generate: true on one referrer */
	ev(&r, 2, "ok", "10.0.0.1", "alice", NULL, -1);
	assert_int_equal(r.alerts, 2);
	assert_string_equal(r.title, "ordered");
	assert_int_equal(r.first, 1 * SEC);
	assert_int_equal(r.nbase, 2);
	ev(&r, 3, "fail", "10.0.0.1", "bob", NULL, -1);
	ev(&r, 20, "ok", "10.0.0.1", "bob", NULL, -1); /* too late for both */
	assert_int_equal(r.alerts, 2);
	teardown_run(&r);
}

static const char chain_rules[] = "title: bf\n"
                                  "name: bf\n"
                                  "correlation:\n"
                                  "  type: event_count\n"
                                  "  rules: [fail]\n"
                                  "  group-by: [source.ip]\n"
                                  "  timespan: 1m\n"
                                  "  condition: {gte: 2}\n"
                                  "---\n"
                                  "title: bf then ok\n"
                                  "correlation:\n"
                                  "  type: temporal_ordered\n"
                                  "  rules: [bf, 11111111-1111-4111-8111-000000000002]\n"
                                  "  group-by: [source.ip]\n"
                                  "  timespan: 5m\n";

static void test_chained_generate(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r, chain_rules, NULL, 2);
	ev(&r, 0, "fail", "10.0.0.9", NULL, NULL, -1);
	ev(&r, 1, "fail", "10.0.0.9", NULL, NULL, -1);
	/* bf fired, but it only feeds "bf then ok" (generate false): not reported. */
	assert_int_equal(r.alerts, 0);
	ev(&r, 60, "ok", "10.0.0.8", NULL, NULL, -1); /* other source */
	assert_int_equal(r.alerts, 0);
	ev(&r, 61, "ok", "10.0.0.9", NULL, NULL, -1);
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.title, "bf then ok");
	assert_string_equal(r.group, "10.0.0.9");
	assert_int_equal(r.nbase, 2);
	assert_int_equal(r.first, 1 * SEC); /* a chained alert counts at its last event */
	assert_int_equal(r.reported_base, 0);
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.alerts, 2); /* bf (not passed on) and the top correlation */
	teardown_run(&r);
}

static void test_broken_references(void **state)
{
	(void)state;
	struct run r;
	/* Unknown rule, a cycle, and one above the cycle: none evaluated, all reported. */
	setup_run(&r,
	          "title: unknown\n"
	          "correlation: {type: temporal, rules: [nope], group-by: [a], timespan: 1m}\n"
	          "---\n"
	          "title: c1\n"
	          "name: c1\n"
	          "correlation: {type: temporal, rules: [c2, fail], group-by: [a], timespan: 1m}\n"
	          "---\n"
	          "title: c2\n"
	          "name: c2\n"
	          "correlation: {type: temporal, rules: [c1, ok], group-by: [a], timespan: 1m}\n"
	          "---\n"
	          "title: good\n"
	          "correlation: {type: event_count, rules: [conn], timespan: 1m, condition: {gt: "
	          "1}}\n",
	          NULL, 1);
	assert_string_equal(yw_corr_rule(r.c, 0)->title, "good");
	/* No group-by: one group for everything. */
	ev(&r, 0, "conn", NULL, NULL, NULL, -1);
	ev(&r, 1, "conn", NULL, NULL, NULL, -1);
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.group, "");
	teardown_run(&r);
}

static void test_aliases(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: fail then connect back\n"
	          "correlation:\n"
	          "  type: temporal_ordered\n"
	          "  rules: [fail, conn]\n"
	          "  group-by: [peer]\n"
	          "  timespan: 1m\n"
	          "  aliases:\n"
	          "    peer:\n"
	          "      fail: source.ip\n"
	          "      conn: destination.ip\n",
	          NULL, 1);
	ev(&r, 0, "fail", "10.0.0.5", NULL, NULL, -1);
	ev(&r, 1, "conn", "10.0.0.5", NULL, "10.0.0.6", -1); /* destination differs */
	assert_int_equal(r.alerts, 0);
	ev(&r, 2, "conn", "192.168.1.1", NULL, "10.0.0.5", -1);
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.group, "10.0.0.5");
	teardown_run(&r);
}

static void test_value_sum_avg(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: sum\n"
	          "correlation:\n"
	          "  type: value_sum\n"
	          "  rules: [xfer]\n"
	          "  group-by: [source.ip, user.name]\n"
	          "  timespan: 10s\n"
	          "  condition: {field: bytes, gt: 1000}\n"
	          "---\n"
	          "title: avg\n"
	          "correlation:\n"
	          "  type: value_avg\n"
	          "  rules: [xfer]\n"
	          "  group-by: [source.ip]\n"
	          "  timespan: 10s\n"
	          "  condition: {field: bytes, gte: 900}\n",
	          NULL, 2);
	ev(&r, 0, "xfer", "10.0.0.1", "u", NULL, 600);
	assert_int_equal(r.alerts, 0);
	ev(&r, 20, "xfer", "10.0.0.1", "u", NULL, 500); /* the 600 expired */
	assert_int_equal(r.alerts, 0);
	ev(&r, 21, "xfer", "10.0.0.1", "u", NULL, 501);
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.title, "sum");
	assert_string_equal(r.group, "10.0.0.1,u");
	assert_true(r.value == 1001.0);
	ev(&r, 22, "xfer", "10.0.0.2", "u", NULL, 2000); /* avg 2000, sum 2000 */
	assert_int_equal(r.alerts, 3);
	ev(&r, 23, "xfer", "10.0.0.2", "u", NULL, 10);
	assert_int_equal(r.alerts, 3); /* both windows restarted */
	teardown_run(&r);
}

static void test_value_percentile(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: rare user\n"
	          "correlation:\n"
	          "  type: value_percentile\n"
	          "  rules: [ok]\n"
	          "  group-by: [source.ip]\n"
	          "  timespan: 1h\n"
	          "  condition: {field: user.name, lte: 5}\n",
	          NULL, 1);
	for (int i = 0; i < 30; i++)
		ev(&r, i, "ok", "10.0.0.1", "common", NULL, -1);
	assert_int_equal(r.alerts, 0);
	ev(&r, 40, "ok", "10.0.0.1", "rare", NULL, -1); /* 1 of 31 = 3.2 % */
	assert_int_equal(r.alerts, 1);
	assert_true(r.value > 3.2 && r.value < 3.3);
	teardown_run(&r);
}

static void test_at_close(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: exactly two\n"
	          "correlation:\n"
	          "  type: event_count\n"
	          "  rules: [fail]\n"
	          "  group-by: [source.ip]\n"
	          "  timespan: 10s\n"
	          "  condition: {eq: 2}\n",
	          NULL, 1);
	ev(&r, 0, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 1, "fail", "10.0.0.1", NULL, NULL, -1);
	ev(&r, 2, "fail", "10.0.0.2", NULL, NULL, -1);
	ev(&r, 3, "fail", "10.0.0.2", NULL, NULL, -1);
	ev(&r, 4, "fail", "10.0.0.2", NULL, NULL, -1);
	assert_int_equal(r.alerts, 0);                  /* decided when the windows close */
	ev(&r, 12, "fail", "10.0.0.1", NULL, NULL, -1); /* closes .1's window [0, 10] */
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.group, "10.0.0.1");
	assert_int_equal(yw_corr_flush(r.c, on_alert, &r), 0);
	assert_int_equal(r.alerts, 1); /* .2 had 3, the new .1 window 1 */
	teardown_run(&r);
}

static void test_flush_chain(void **state)
{
	(void)state;
	struct run r;
	setup_run(&r,
	          "title: few\n"
	          "name: few\n"
	          "correlation: {type: event_count, rules: [fail], group-by: [source.ip],"
	          " timespan: 1m, condition: {lte: 2}}\n"
	          "---\n"
	          "title: few then ok\n"
	          "correlation: {type: temporal, rules: [few, ok], group-by: [source.ip],"
	          " timespan: 10m, condition: {gte: 1}}\n",
	          NULL, 2);
	ev(&r, 0, "fail", "10.0.0.1", NULL, NULL, -1);
	assert_int_equal(r.alerts, 0);
	assert_int_equal(yw_corr_flush(r.c, on_alert, &r), 0);
	/* "few" closes at the flush and feeds "few then ok", which fires (gte 1 rule). */
	assert_int_equal(r.alerts, 1);
	assert_string_equal(r.title, "few then ok");
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.groups, 0);
	teardown_run(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_count),
	    cmocka_unit_test(test_late_events),
	    cmocka_unit_test(test_caps_evict),
	    cmocka_unit_test(test_value_count_missing_group),
	    cmocka_unit_test(test_temporal),
	    cmocka_unit_test(test_chained_generate),
	    cmocka_unit_test(test_broken_references),
	    cmocka_unit_test(test_aliases),
	    cmocka_unit_test(test_value_sum_avg),
	    cmocka_unit_test(test_value_percentile),
	    cmocka_unit_test(test_at_close),
	    cmocka_unit_test(test_flush_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
