/* Correlation throughput: base-rule matches per second through an event_count rule grouped by
 * source.ip with 100,000 distinct groups, and the memory the windows hold.
 * usage: bench_correlate [MATCHES] [GROUPS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "yiwang/correlate.h"
#include "yiwang/error.h"
#include "yiwang/sigma.h"

static const char rules[] = "title: fail\n"
                            "id: 11111111-1111-4111-8111-000000000001\n"
                            "logsource: {product: linux, service: sshd}\n"
                            "detection: {sel: {system.auth.ssh.event: Failed}, condition: sel}\n"
                            "---\n"
                            "title: brute force\n"
                            "correlation:\n"
                            "  type: event_count\n"
                            "  rules: [11111111-1111-4111-8111-000000000001]\n"
                            "  group-by: [source.ip]\n"
                            "  timespan: 5m\n"
                            "  condition: {gte: 10}\n"
                            "  generate: true\n";

static int on_alert(void *ud, const struct yw_corr_alert *a)
{
	(void)a;
	(*(unsigned long long *)ud)++;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long long n = argc > 1 ? atoll(argv[1]) : 5000000;
	long ngroups = argc > 2 ? atol(argv[2]) : 100000;
	if (n <= 0 || ngroups <= 0) {
		fprintf(stderr, "usage: bench_correlate [MATCHES] [GROUPS]\n");
		return 2;
	}
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	struct yw_corr *c = NULL;
	int rc = rs ? yw_ruleset_add_text(rs, rules, sizeof(rules) - 1, "bench", &d) : YW_ENOMEM;
	if (!rc)
		rc = yw_ruleset_compile(rs, &d);
	if (!rc)
		rc = yw_corr_new(rs, NULL, &d, &c);
	if (rc || !c || yw_corr_count(c) != 1) {
		yw_diags_print(&d, stderr);
		fprintf(stderr, "bench_correlate: setup failed: %s\n", yw_strerror(rc));
		return 1;
	}
	const struct yw_rule_info *base = yw_ruleset_rule(rs, 0);
	/* One prepared event per group, so the loop measures the correlation alone. */
	struct yw_event **evs = calloc((size_t)ngroups, sizeof(*evs));
	if (!evs)
		return 1;
	for (long i = 0; i < ngroups; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.%ld.%ld.%ld", (i >> 16) & 255, (i >> 8) & 255,
		         i & 255);
		if (!(evs[i] = yw_event_new()) ||
		    yw_event_set_strz(evs[i], "system.auth.ssh.event", "Failed") ||
		    yw_event_set_ip(evs[i], "source.ip", ip, strlen(ip)) ||
		    yw_event_set_time(evs[i], "@timestamp", 0))
			return 1;
	}
	/* Baseline: the same loop without the correlation (setting @timestamp formats it). */
	double b0 = now();
	for (long long i = 0; i < n; i++)
		yw_event_set_time(evs[i % ngroups], "@timestamp", 1700000000000000000LL + i);
	double base_dt = now() - b0;
	unsigned long long alerts = 0;
	/* A match every 100 us of log time: each group sees one every ngroups/10 ms. */
	const int64_t step = 100000;
	double t0 = now();
	for (long long i = 0; i < n && !rc; i++) {
		struct yw_event *e = evs[i % ngroups];
		yw_event_set_time(e, "@timestamp", 1700000000000000000LL + i * step);
		rc = yw_corr_feed(c, base, e, on_alert, &alerts);
	}
	double dt = now() - t0;
	struct yw_corr_stats st;
	yw_corr_stats(c, &st);
	printf("correlation event_count group-by source.ip, %ld groups, gte 10 in 5m\n", ngroups);
	printf("  %lld matches in %.3f s: %.0f matches/s (loop incl. setting @timestamp)\n", n, dt,
	       n / dt);
	printf("  correlation alone: %.0f matches/s (baseline loop %.3f s subtracted)\n",
	       dt > base_dt ? n / (dt - base_dt) : 0.0, base_dt);
	printf("  alerts %llu, groups held %llu, evicted %llu, expired %llu\n", alerts,
	       (unsigned long long)st.groups, (unsigned long long)st.evicted,
	       (unsigned long long)st.expired);
	printf("  window state: %.1f MiB (%.0f bytes per group)\n", st.memory_bytes / 1048576.0,
	       st.groups ? (double)st.memory_bytes / (double)st.groups : 0.0);
	for (long i = 0; i < ngroups; i++)
		yw_event_free(evs[i]);
	free(evs);
	yw_corr_free(c);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
	return rc ? 1 : 0;
}
