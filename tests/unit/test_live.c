/* The live hub (server/live.h): order, park and wake, a slow subscriber overtaken by the ring,
 * a resume's replay and skip, the subscriber cap, close; and the Prometheus exposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/live.h"
#include "yiwang/error.h"

struct cbs {
	int parks, wakes;
};

static void on_park(void *ud)
{
	((struct cbs *)ud)->parks++;
}

static void on_wake(void *ud)
{
	((struct cbs *)ud)->wakes++;
}

static struct yw_live *hub(size_t ring, size_t max_subs)
{
	struct yw_live_opts o = {.ring = ring, .max_subs = max_subs, .ping_ns = 1000000000LL};
	struct yw_live *l = NULL;
	assert_int_equal(yw_live_new(&o, &l), 0);
	return l;
}

/* Everything readable now, in chunks of chunk bytes, into out (NUL-terminated). Returns the
 * last read's result (0 parked, 1 ended). */
static int drain(struct yw_live_sub *s, char *out, size_t outsz, size_t chunk, int64_t now)
{
	size_t len = 0;
	for (int i = 0; i < 10000; i++) {
		size_t n = 0;
		assert_true(len + chunk < outsz);
		int rc = yw_live_read(s, out + len, chunk, now, &n);
		len += n;
		out[len] = 0;
		if (rc || n == 0)
			return rc;
	}
	fail_msg("drain did not end");
	return -1;
}

static void test_order_and_wake(void **state)
{
	struct yw_live *l = hub(16, 4);
	struct cbs c = {0};
	struct yw_live_sub_cb cb = {on_park, on_wake, &c};
	struct yw_live_sub *s;
	assert_int_equal(yw_live_subscribe(l, &cb, &s), 0);
	char buf[4096];
	int64_t now = yw_live_now_ns();
	/* Nothing yet: parked, not woken. */
	assert_int_equal(drain(s, buf, sizeof(buf), 64, now), 0);
	assert_string_equal(buf, "");
	assert_int_equal(c.parks, 1);
	assert_int_equal(c.wakes, 0);
	assert_int_equal(yw_live_publish(l, "alert", 7, "{\"id\":7}", 8), 0);
	assert_int_equal(c.wakes, 1);
	assert_int_equal(yw_live_publish(l, "agent", 0, "{\"a\":1}", 7), 0);
	assert_int_equal(c.wakes, 1); /* woken once until it reads again */
	assert_int_equal(yw_live_publish(l, "counters", 0, "{\"b\":\n2}", 8), 0);
	/* Small chunks: the text comes whole and in order. */
	assert_int_equal(drain(s, buf, sizeof(buf), 5, now), 0);
	assert_string_equal(buf, "event: alert\nid: 7\ndata: {\"id\":7}\n\n"
	                         "event: agent\ndata: {\"a\":1}\n\n"
	                         "event: counters\ndata: {\"b\": 2}\n\n");
	assert_int_equal(c.parks, 2);
	assert_int_equal(yw_live_subscribers(l), 1);
	yw_live_unsubscribe(s);
	assert_int_equal(yw_live_subscribers(l), 0);
	yw_live_free(l);
}

static void test_slow_subscriber_reset(void **state)
{
	struct yw_live *l = hub(4, 4);
	struct cbs c = {0}, d = {0};
	struct yw_live_sub_cb cb = {on_park, on_wake, &c}, cb2 = {on_park, on_wake, &d};
	struct yw_live_sub *slow, *fast;
	assert_int_equal(yw_live_subscribe(l, &cb, &slow), 0);
	assert_int_equal(yw_live_subscribe(l, &cb2, &fast), 0);
	char buf[8192], data[32];
	int64_t now = yw_live_now_ns();
	/* The publisher never waits for the slow one: ten events into a ring of four; the fast
	 * one reads as they come and misses none. */
	char all[8192] = "";
	for (int i = 1; i <= 10; i++) {
		int n = snprintf(data, sizeof(data), "{\"n\":%d}", i);
		assert_int_equal(yw_live_publish(l, "alert", i, data, (size_t)n), 0);
		assert_int_equal(drain(fast, buf, sizeof(buf), 4096, now), 0);
		assert_true(strlen(all) + strlen(buf) < sizeof(all));
		strcat(all, buf);
	}
	for (int i = 1; i <= 10; i++) {
		snprintf(data, sizeof(data), "id: %d\n", i);
		assert_non_null(strstr(all, data));
	}
	assert_null(strstr(all, "reset"));
	/* The slow one was overtaken: reset, then the stream ends. */
	assert_int_equal(drain(slow, buf, sizeof(buf), 4096, now), 1);
	assert_string_equal(buf, "event: reset\ndata: {}\n\n");
	size_t n = 0;
	assert_int_equal(yw_live_read(slow, buf, sizeof(buf), now, &n), 1);
	assert_int_equal(n, 0);
	yw_live_unsubscribe(slow);
	yw_live_unsubscribe(fast);
	yw_live_free(l);
}

static void test_prime_and_skip(void **state)
{
	struct yw_live *l = hub(16, 4);
	struct cbs c = {0};
	struct yw_live_sub_cb cb = {on_park, on_wake, &c};
	struct yw_live_sub *s;
	assert_int_equal(yw_live_subscribe(l, &cb, &s), 0);
	/* A replay up to alert 5; the ring then brings 4 and 5 again, and 6. */
	const char *replay = "event: alert\nid: 4\ndata: {}\n\nevent: alert\nid: 5\ndata: {}\n\n";
	assert_int_equal(yw_live_prime(s, replay, strlen(replay), 5), 0);
	for (int id = 4; id <= 6; id++)
		assert_int_equal(yw_live_publish(l, "alert", id, "{}", 2), 0);
	assert_int_equal(yw_live_publish(l, "agent", 0, "{}", 2), 0);
	char buf[4096];
	assert_int_equal(drain(s, buf, sizeof(buf), 7, yw_live_now_ns()), 0);
	char want[512];
	snprintf(want, sizeof(want),
	         "%sevent: alert\nid: 6\ndata: {}\n\nevent: agent\ndata: {}\n\n", replay);
	assert_string_equal(buf, want);
	yw_live_unsubscribe(s);
	yw_live_free(l);
}

static void test_cap_close_ping_limits(void **state)
{
	struct yw_live *l = hub(8, 2);
	struct cbs c = {0};
	struct yw_live_sub_cb cb = {on_park, on_wake, &c};
	struct yw_live_sub *a, *b, *x;
	assert_int_equal(yw_live_subscribe(l, &cb, &a), 0);
	assert_int_equal(yw_live_subscribe(l, &cb, &b), 0);
	assert_int_equal(yw_live_subscribe(l, &cb, &x), YW_ELIMIT);
	char big[YW_LIVE_MAX_EVENT + 2];
	memset(big, 'x', sizeof(big));
	assert_int_equal(yw_live_publish(l, "alert", 1, big, sizeof(big)), YW_ELIMIT);
	char buf[256];
	int64_t now = yw_live_now_ns();
	/* A ping once the ping interval (1 s here) has passed without one. */
	assert_int_equal(drain(a, buf, sizeof(buf), 64, now), 0);
	assert_string_equal(buf, "");
	assert_int_equal(drain(a, buf, sizeof(buf), 64, now + 2000000000LL), 0);
	assert_string_equal(buf, ": ping\n\n");
	/* Close wakes the parked one (a), whose read then ends; b never read and is not waited
	 * for. New subscribers are refused. */
	int wakes = c.wakes;
	yw_live_close(l, 1000);
	assert_int_equal(c.wakes, wakes + 1);
	size_t n = 9;
	assert_int_equal(yw_live_read(a, buf, sizeof(buf), now, &n), 1);
	assert_int_equal(n, 0);
	yw_live_unsubscribe(a);
	assert_int_equal(yw_live_subscribe(l, &cb, &x), YW_EINVAL);
	yw_live_unsubscribe(b);
	yw_live_free(l);
}

static void test_agent_event(void **state)
{
	struct yw_live *l = hub(8, 2);
	struct cbs c = {0};
	struct yw_live_sub_cb cb = {on_park, on_wake, &c};
	struct yw_live_sub *s;
	assert_int_equal(yw_live_subscribe(l, &cb, &s), 0);
	assert_int_equal(yw_live_agent(l, "ag1", "web\"1", NULL, 1, 42), 0);
	assert_int_equal(yw_live_agent(l, "ag1", "web\"1", "dmz", 0, 43), 0);
	char buf[1024];
	drain(s, buf, sizeof(buf), 100, yw_live_now_ns());
	assert_string_equal(
	    buf, "event: agent\ndata: {\"id\":\"ag1\",\"name\":\"web\\\"1\",\"group\":\"\","
	         "\"online\":1,\"at\":42}\n\n"
	         "event: agent\ndata: {\"id\":\"ag1\",\"name\":\"web\\\"1\",\"group\":"
	         "\"dmz\",\"online\":0,\"at\":43}\n\n");
	assert_int_equal(atomic_load(&yw_live_counters(l)->agents_connected), 0);
	yw_live_unsubscribe(s);
	yw_live_free(l);
}

/* ---- exposition ---- */

static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	fail_msg("no sample %s", series);
	return -1;
}

static void test_expose(void **state)
{
	struct yw_live_counters *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	atomic_store(&c->events_received, 10);
	atomic_store(&c->events_stored, 9);
	atomic_store(&c->alerts[YW_LEVEL_HIGH], 3);
	atomic_store(&c->agents_connected, 2);
	yw_live_http_count(c, 200);
	yw_live_http_count(c, 200);
	yw_live_http_count(c, 401);
	yw_live_http_count(c, 418);
	/* 3 ms, 3 ms, 40 ms, 3 s, 60 s */
	int64_t obs[] = {3000000, 3000000, 40000000, 3000000000LL, 60000000000LL};
	for (size_t i = 0; i < 5; i++)
		yw_live_hist_observe(&c->detect, obs[i]);
	size_t depth[2] = {4, 0};
	struct yw_live_gauges g = {.agents_enrolled = 5,
	                           .queue_depth = depth,
	                           .workers = 2,
	                           .notify_pending = 1,
	                           .stream_clients = 3};
	assert_int_equal(yw_live_process(&g.rss_bytes, &g.cpu_seconds), 0);
	assert_true(g.rss_bytes > 0);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_live_expose(&b, c, &g), 0);
	/* Every line: a HELP or TYPE comment, or a sample of the text format's grammar. */
	regex_t re;
	assert_int_equal(regcomp(&re,
	                         "^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|"
	                         "[a-zA-Z_:][a-zA-Z0-9_:]*"
	                         "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\""
	                         "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*\\})?"
	                         " (-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|\\+Inf|NaN))$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	char *text = b.data, *save = NULL;
	size_t lines = 0;
	char *copy = strdup(text);
	for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		if (regexec(&re, ln, 0, NULL, 0))
			fail_msg("not exposition grammar: %s", ln);
		lines++;
	}
	free(copy);
	regfree(&re);
	assert_true(lines > 30);
	assert_true(text[b.len - 1] == '\n');
	assert_int_equal(value_of(text, "yiwang_events_received_total"), 10);
	assert_int_equal(value_of(text, "yiwang_alerts_total{level=\"high\"}"), 3);
	assert_int_equal(value_of(text, "yiwang_alerts_total{level=\"low\"}"), 0);
	assert_int_equal(value_of(text, "yiwang_agents_connected"), 2);
	assert_int_equal(value_of(text, "yiwang_pipeline_queue_depth{worker=\"0\"}"), 4);
	assert_int_equal(value_of(text, "yiwang_notify_outbox_pending"), 1);
	assert_int_equal(value_of(text, "yiwang_http_requests_total{code=\"200\"}"), 2);
	assert_int_equal(value_of(text, "yiwang_http_requests_total{code=\"other\"}"), 1);
	/* Buckets: cumulative, +Inf equal to the count. */
	const char *h = "yiwang_detection_latency_seconds_bucket";
	char k[128];
	snprintf(k, sizeof(k), "%s{le=\"0.005\"}", h);
	assert_int_equal(value_of(text, k), 2);
	snprintf(k, sizeof(k), "%s{le=\"0.05\"}", h);
	assert_int_equal(value_of(text, k), 3);
	snprintf(k, sizeof(k), "%s{le=\"5\"}", h);
	assert_int_equal(value_of(text, k), 4);
	snprintf(k, sizeof(k), "%s{le=\"+Inf\"}", h);
	assert_int_equal(value_of(text, k), 5);
	assert_int_equal(value_of(text, "yiwang_detection_latency_seconds_count"), 5);
	double prev = 0;
	for (size_t i = 0; i < YW_LIVE_HIST_N; i++) {
		snprintf(k, sizeof(k), "%s{le=\"%g\"}", h, yw_live_hist_bounds[i]);
		double v = value_of(text, k);
		assert_true(v >= prev);
		prev = v;
	}
	assert_true(value_of(text, "yiwang_detection_latency_seconds_sum") > 63.0);
	/* Notifications off: no outbox gauge. */
	g.notify_pending = -1;
	yw_strbuf_reset(&b);
	assert_int_equal(yw_live_expose(&b, c, &g), 0);
	assert_null(strstr(b.data, "yiwang_notify_outbox_pending"));
	yw_strbuf_free(&b);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_wake), cmocka_unit_test(test_slow_subscriber_reset),
	    cmocka_unit_test(test_prime_and_skip), cmocka_unit_test(test_cap_close_ping_limits),
	    cmocka_unit_test(test_agent_event),    cmocka_unit_test(test_expose),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
