/* The pure parts of the HTTP API's detail endpoints: file-integrity items (detail.c), the
 * baseline rebuilt from SCA events read newest first (detail.c), the per-address token bucket
 * (ratelimit.c), and store queries of sqlite_query.c on a real store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/detail.h"
#include "server/http/ratelimit.h"
#include "yiwang/error.h"
#include "yiwang/store.h"
#include "yw_limits.h"

#define SEC 1000000000LL

static json_t *parse_buf(const struct yw_strbuf *b)
{
	json_t *j = json_loadb(b->data, b->len, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_fim_modified(void **state)
{
	const char *ev =
	    "{\"event.module\":\"fim\",\"event.action\":\"file_modified\","
	    "\"file.path\":\"/etc/passwd\",\"file.size\":56,\"file.hash.sha256\":\"bb\","
	    "\"yiwang.fim.changed\":[\"content\"],\"yiwang.fim.before.size\":28,"
	    "\"yiwang.fim.before.hash.sha256\":\"aa\",\"yiwang.fim.trigger\":\"scan\"}";
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_http_fim_item(&b, 7, 123, ev), 1);
	json_t *j = parse_buf(&b);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "ts")), 123);
	assert_string_equal(json_string_value(json_object_get(j, "path")), "/etc/passwd");
	assert_string_equal(json_string_value(json_object_get(j, "action")), "file_modified");
	json_t *before = json_object_get(j, "before"), *after = json_object_get(j, "after");
	assert_int_equal(json_integer_value(json_object_get(before, "size")), 28);
	assert_string_equal(json_string_value(json_object_get(before, "hash.sha256")), "aa");
	assert_int_equal(json_integer_value(json_object_get(after, "size")), 56);
	assert_string_equal(json_string_value(json_object_get(after, "path")), "/etc/passwd");
	/* before's fields are not mixed into after */
	assert_null(json_object_get(after, "yiwang.fim.before.size"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "changed"), 0)),
	                    "content");
	json_decref(j);
	yw_strbuf_free(&b);
}

static void test_fim_added_deleted_other(void **state)
{
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(
	    yw_http_fim_item(&b, 1, 1,
	                     "{\"event.module\":\"fim\",\"event.action\":\"file_added\","
	                     "\"file.path\":\"/x\",\"file.size\":1}"),
	    1);
	json_t *j = parse_buf(&b);
	assert_true(json_is_null(json_object_get(j, "before")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "after"), "size")),
	                 1);
	json_decref(j);
	yw_strbuf_reset(&b);
	/* A deletion's file.* are the last known values: the "before". */
	assert_int_equal(
	    yw_http_fim_item(&b, 2, 1,
	                     "{\"event.module\":\"fim\",\"event.action\":\"file_deleted\","
	                     "\"file.path\":\"/x\",\"file.size\":9}"),
	    1);
	j = parse_buf(&b);
	assert_true(json_is_null(json_object_get(j, "after")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "before"), "size")),
	                 9);
	json_decref(j);
	yw_strbuf_reset(&b);
	/* Scan summaries, other modules, non-JSON: not items, nothing written. */
	assert_int_equal(yw_http_fim_item(&b, 3, 1,
	                                  "{\"event.module\":\"fim\","
	                                  "\"event.action\":\"fim_scan_completed\"}"),
	                 0);
	assert_int_equal(
	    yw_http_fim_item(&b, 3, 1,
	                     "{\"event.module\":\"sca\",\"event.action\":\"file_added\"}"),
	    0);
	assert_int_equal(yw_http_fim_item(&b, 3, 1, "not json"), 0);
	assert_int_equal(yw_http_fim_item(&b, 3, 1, NULL), 0);
	assert_int_equal(b.len, 0);
	yw_strbuf_free(&b);
}

static char *sca_check(const char *policy, const char *id, const char *result)
{
	char *s = NULL;
	assert_true(
	    asprintf(&s,
	             "{\"event.action\":\"sca_check\",\"yiwang.sca.policy\":\"%s\","
	             "\"yiwang.sca.check.id\":\"%s\",\"yiwang.sca.check.title\":\"T %s\","
	             "\"yiwang.sca.check.result\":\"%s\",\"yiwang.sca.check.rationale\":\"r\","
	             "\"yiwang.sca.check.remediation\":\"fix\","
	             "\"yiwang.sca.compliance.gbt22239\":[\"8.1.4.1\"]}",
	             policy, id, id, result) > 0);
	return s;
}

static char *sca_summary(const char *policy, int passed, int failed, int na)
{
	char *s = NULL;
	assert_true(asprintf(&s,
	                     "{\"event.action\":\"sca_summary\",\"yiwang.sca.policy\":\"%s\","
	                     "\"yiwang.sca.applies\":true,\"yiwang.sca.passed\":%d,"
	                     "\"yiwang.sca.failed\":%d,\"yiwang.sca.not_applicable\":%d,"
	                     "\"yiwang.sca.score\":%d}",
	                     policy, passed, failed, na,
	                     passed + failed ? 100 * passed / (passed + failed) : 0) > 0);
	return s;
}

static int feed(struct yw_http_sca *v, int64_t id, char *ev)
{
	int rc = yw_http_sca_feed(v, id, id * 10, ev);
	free(ev);
	return rc;
}

/* Newest first: a check of a run still going (ignored), the newest summary, the changed
 * check, an older summary, then the first full run; stops once all three are known. */
static void test_sca_latest_results(void **state)
{
	struct yw_http_sca v;
	assert_int_equal(yw_http_sca_init(&v, NULL), 0);
	assert_int_equal(feed(&v, 9, sca_check("p", "a", "passed")), 0); /* no summary yet */
	assert_int_equal(feed(&v, 8, sca_summary("p", 1, 1, 1)), 0);
	assert_int_equal(feed(&v, 7, sca_check("other", "z", "failed")), 0);
	assert_int_equal(feed(&v, 6, sca_check("p", "a", "failed")), 0);
	assert_int_equal(feed(&v, 5, sca_summary("p", 2, 0, 1)), 0);
	assert_int_equal(feed(&v, 4, sca_check("p", "a", "passed")), 0); /* older: ignored */
	assert_int_equal(feed(&v, 3, sca_check("p", "b", "passed")), 0);
	assert_int_equal(feed(&v, 2, sca_check("p", "c", "not_applicable")), 1);
	assert_int_equal(feed(&v, 1, sca_check("p", "d", "passed")), 1); /* after completion */
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_http_sca_json(&v, &b), 0);
	json_t *j = parse_buf(&b);
	assert_string_equal(json_string_value(json_object_get(j, "policy")), "p");
	assert_int_equal(json_integer_value(json_object_get(j, "scanned_at")), 80);
	assert_int_equal(json_integer_value(json_object_get(j, "passed")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "score")), 50);
	assert_true(json_is_true(json_object_get(j, "complete")));
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 3);
	json_t *a = json_array_get(items, 0); /* by id */
	assert_string_equal(json_string_value(json_object_get(a, "id")), "a");
	assert_string_equal(json_string_value(json_object_get(a, "result")), "failed");
	assert_int_equal(json_integer_value(json_object_get(a, "event_id")), 6);
	assert_string_equal(json_string_value(json_object_get(a, "remediation")), "fix");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(a, "compliance"), "gbt22239"), 0)),
	                    "8.1.4.1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 2), "result")),
	                    "not_applicable");
	json_decref(j);
	yw_strbuf_free(&b);
	yw_http_sca_free(&v);
}

static void test_sca_policy_and_missing(void **state)
{
	struct yw_http_sca v;
	assert_int_equal(yw_http_sca_init(&v, "q"), 0);
	assert_int_equal(feed(&v, 3, sca_summary("p", 1, 0, 0)), 0); /* another policy */
	assert_int_equal(feed(&v, 2, sca_check("p", "a", "passed")), 0);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_http_sca_json(&v, &b), YW_ENOENT);
	assert_int_equal(feed(&v, 1, sca_summary("q", 1, 1, 0)), 0);
	assert_int_equal(yw_http_sca_json(&v, &b), 0);
	json_t *j = parse_buf(&b);
	assert_true(json_is_false(json_object_get(j, "complete"))); /* no check of q seen */
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);
	yw_strbuf_free(&b);
	yw_http_sca_free(&v);
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(yw_http_sca_init(&v, longp), YW_EINVAL);
	yw_http_sca_free(&v);
}

static void test_ratelimit_bucket(void **state)
{
	struct yw_ratelimit *rl;
	assert_int_equal(yw_ratelimit_new(0, 5, &rl), YW_EINVAL);
	assert_int_equal(yw_ratelimit_new(2, 5, &rl), 0);
	int64_t t = 1000 * SEC;
	for (int i = 0; i < 5; i++)
		assert_int_equal(yw_ratelimit_take(rl, "10.0.0.1", t), 0);
	/* The burst is spent: at 2/s a token is back within 1 s. */
	assert_int_equal(yw_ratelimit_take(rl, "10.0.0.1", t), 1);
	/* Another address has its own bucket. */
	assert_int_equal(yw_ratelimit_take(rl, "10.0.0.2", t), 0);
	/* Half a second refills one token, and only one. */
	assert_int_equal(yw_ratelimit_take(rl, "10.0.0.1", t + SEC / 2), 0);
	assert_int_equal(yw_ratelimit_take(rl, "10.0.0.1", t + SEC / 2), 1);
	/* A long pause refills to the burst, not beyond. */
	t += 100 * SEC;
	for (int i = 0; i < 5; i++)
		assert_int_equal(yw_ratelimit_take(rl, "10.0.0.1", t), 0);
	assert_int_not_equal(yw_ratelimit_take(rl, "10.0.0.1", t), 0);
	yw_ratelimit_free(rl);
}

static void test_ratelimit_bounded(void **state)
{
	struct yw_ratelimit *rl;
	assert_int_equal(yw_ratelimit_new(1, 1, &rl), 0);
	int64_t t = SEC;
	assert_int_equal(yw_ratelimit_take(rl, "victim", t), 0);
	assert_int_not_equal(yw_ratelimit_take(rl, "victim", t), 0);
	/* Far more addresses than slots: the table stays as it is (fixed), every new address is
	 * served, and a slow retry rate still applies to the busy one eventually. */
	char a[32];
	for (int i = 0; i < 4 * YW_HTTP_RATE_SLOTS; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d/%d", i % 256, i);
		assert_int_equal(yw_ratelimit_take(rl, a, t + i), 0);
	}
	/* Retry-After is at most an hour, at least a second, even for a tiny rate. */
	yw_ratelimit_free(rl);
	assert_int_equal(yw_ratelimit_new(0.0001, 1, &rl), 0);
	assert_int_equal(yw_ratelimit_take(rl, "x", t), 0);
	assert_int_equal(yw_ratelimit_take(rl, "x", t), 3600);
	yw_ratelimit_free(rl);
}

/* ---- sqlite_query.c ---- */

struct seen {
	int64_t ids[64];
	size_t n;
};

static int event_cb(void *ud, const struct yw_store_event_row *e)
{
	struct seen *s = ud;
	s->ids[s->n++] = e->id;
	return s->n >= 64;
}

static void test_store_agent_events(void **state)
{
	char dir[] = "/tmp/yw-test-detail-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct yw_store *st;
	assert_int_equal(yw_store_open_sqlite(dir, NULL, &st), 0);
	struct yw_store_agent ag = {.id = "ag1",
	                            .name = "h",
	                            .group = "g",
	                            .os = "",
	                            .version = "",
	                            .cert_serial = "1",
	                            .addresses = "[]",
	                            .enrolled_at = 1};
	assert_int_equal(yw_store_agent_add(st, &ag), 0);
	/* seq 1..6, sources alternating; stored out of order so ids and seqs differ. */
	static const uint64_t order[] = {1, 2, 4, 3, 5, 6};
	struct yw_record recs[6];
	for (int i = 0; i < 6; i++)
		recs[i] = (struct yw_record){.seq = order[i],
		                             .ts_ns = (int64_t)order[i],
		                             .kind = YW_REC_EVENT,
		                             .source = order[i] % 2 ? "fim" : "sca:p",
		                             .source_len = order[i] % 2 ? 3 : 5,
		                             .data = "{}",
		                             .len = 2};
	struct yw_store_batch b = {.records = recs, .n = 6};
	uint64_t ack;
	assert_int_equal(yw_store_ingest(st, "ag1", &b, &ack), 0);
	struct seen s = {0};
	struct yw_store_event_query q = {.agent_id = "ag1"};
	int64_t more = -1;
	assert_int_equal(yw_store_agent_events(st, &q, event_cb, &s, &more), 0);
	assert_int_equal(s.n, 6);
	assert_int_equal(more, 0);
	/* Newest by seq: seq 6 (id 6), 5 (id 5), 4 (id 3), 3 (id 4), ... */
	assert_int_equal(s.ids[0], 6);
	assert_int_equal(s.ids[2], 3);
	assert_int_equal(s.ids[3], 4);
	/* Below the event id 3 (seq 4), fim only. */
	memset(&s, 0, sizeof(s));
	q = (struct yw_store_event_query){.agent_id = "ag1", .before_id = 3, .source = "fim"};
	assert_int_equal(yw_store_agent_events(st, &q, event_cb, &s, &more), 0);
	assert_int_equal(s.n, 2); /* seq 3 and 1 */
	assert_int_equal(s.ids[0], 4);
	assert_int_equal(s.ids[1], 1);
	/* A prefix, and a scan bound that stops early and says where to go on. */
	memset(&s, 0, sizeof(s));
	q = (struct yw_store_event_query){
	    .agent_id = "ag1", .source = "sca:", .source_prefix = 1, .max_scan = 3};
	assert_int_equal(yw_store_agent_events(st, &q, event_cb, &s, &more), 0);
	assert_int_equal(s.n, 2); /* seq 6, 5, 4 looked at: 6 and 4 are sca */
	assert_int_equal(s.ids[0], 6);
	assert_int_equal(s.ids[1], 3);
	assert_int_equal(more, 3); /* the last looked at: go on below it */
	/* Not an event of this agent: refused, not silently empty. */
	q = (struct yw_store_event_query){.agent_id = "ag1", .before_id = 999};
	assert_int_equal(yw_store_agent_events(st, &q, event_cb, &s, &more), YW_EINVAL);
	q = (struct yw_store_event_query){.agent_id = "nobody"};
	assert_int_equal(yw_store_agent_events(st, &q, event_cb, &s, &more), YW_ENOENT);
	yw_store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fim_modified),
	    cmocka_unit_test(test_fim_added_deleted_other),
	    cmocka_unit_test(test_sca_latest_results),
	    cmocka_unit_test(test_sca_policy_and_missing),
	    cmocka_unit_test(test_ratelimit_bucket),
	    cmocka_unit_test(test_ratelimit_bounded),
	    cmocka_unit_test(test_store_agent_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
