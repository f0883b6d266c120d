/* The event model: typed setters, replacement, lists, limits, JSON output and escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/event.h"

static char *json(const struct yw_event *ev, struct yw_strbuf *b)
{
	yw_strbuf_reset(b);
	assert_int_equal(yw_event_to_json(ev, b), 0);
	return b->data;
}

static void test_types(void **state)
{
	struct yw_event *ev = yw_event_new();
	assert_non_null(ev);
	assert_int_equal(yw_event_set_strz(ev, "user.name", "root"), 0);
	assert_int_equal(yw_event_set_int(ev, "source.port", 22), 0);
	assert_int_equal(yw_event_set_ip(ev, "source.ip", "10.0.0.1", 8), 0);
	assert_int_equal(yw_event_set_time(ev, "@timestamp", 1700000000123456789LL), 0);
	assert_int_equal(yw_event_set_bool(ev, "x.ok", true), 0);
	assert_int_equal(yw_event_set_null(ev, "x.none"), 0);

	const struct yw_field *f = yw_event_get(ev, "source.port");
	assert_non_null(f);
	assert_int_equal(f->type, YW_T_INT);
	assert_int_equal(f->num, 22);
	assert_string_equal(f->text, "22");
	f = yw_event_get(ev, "source.ip");
	assert_int_equal(f->type, YW_T_IP);
	assert_int_equal(f->ip_family, 4);
	assert_int_equal(f->ip[0], 10);
	assert_int_equal(f->ip[3], 1);
	assert_string_equal(yw_event_str(ev, "@timestamp"), "2023-11-14T22:13:20.123Z");
	assert_null(yw_event_get(ev, "missing"));
	assert_int_equal(yw_event_nfields(ev), 6);

	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_string_equal(json(ev, &b),
			    "{\"@timestamp\":\"2023-11-14T22:13:20.123Z\",\"user.name\":\"root\","
			    "\"source.port\":22,\"source.ip\":\"10.0.0.1\",\"x.ok\":true,"
			    "\"x.none\":null}");
	yw_strbuf_free(&b);
	yw_event_free(ev);
}

static void test_ip_canonical_and_invalid(void **state)
{
	struct yw_event *ev = yw_event_new();
	assert_int_equal(yw_event_set_ip(ev, "a", "2001:DB8:0:0::1", 15), 0);
	assert_string_equal(yw_event_str(ev, "a"), "2001:db8::1");
	assert_int_equal(yw_event_get(ev, "a")->ip_family, 6);
	assert_int_equal(yw_event_set_ip(ev, "b", "host.example", 12), YW_EINVAL);
	assert_int_equal(yw_event_set_ip(ev, "b", "1.2.3.4\0x", 9), YW_EINVAL);
	assert_int_equal(yw_event_set_ip(ev, "b", "", 0), YW_EINVAL);
	assert_int_equal(yw_event_set_ip(ev, "b", "fe80::1%eth0", 12), YW_EINVAL);
	assert_null(yw_event_get(ev, "b"));
	yw_event_free(ev);
}

static void test_replace_and_remove(void **state)
{
	struct yw_event *ev = yw_event_new();
	assert_int_equal(yw_event_set_strz(ev, "a", "one"), 0);
	assert_int_equal(yw_event_set_strz(ev, "b", "two"), 0);
	assert_int_equal(yw_event_set_int(ev, "a", 5), 0);
	assert_int_equal(yw_event_nfields(ev), 2);
	assert_int_equal(yw_event_get(ev, "a")->type, YW_T_INT);
	assert_int_equal(yw_event_remove(ev, "a"), 0);
	assert_int_equal(yw_event_remove(ev, "a"), YW_ENOENT);
	assert_int_equal(yw_event_nfields(ev), 1);
	assert_string_equal(yw_event_field(ev, 0)->name, "b");
	assert_string_equal(yw_event_str(ev, "b"), "two");
	assert_null(yw_event_get(ev, "a"));
	assert_int_equal(yw_event_set_strz(ev, "", "x"), YW_EINVAL);
	yw_event_free(ev);
}

static void test_lists(void **state)
{
	struct yw_event *ev = yw_event_new();
	struct yw_str items[] = {{"dd", 2}, {"if=/dev/zero", 12}};
	assert_int_equal(yw_event_set_list(ev, "process.args", items, 2), 0);
	assert_int_equal(yw_event_append(ev, "process.args", "bs=1", 4), 0);
	const struct yw_field *f = yw_event_get(ev, "process.args");
	assert_int_equal(f->type, YW_T_LIST);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->items[2].s, "bs=1");
	assert_string_equal(f->text, "dd");
	/* Appending to a scalar turns it into a list holding both. */
	assert_int_equal(yw_event_set_strz(ev, "t", "SYSCALL"), 0);
	assert_int_equal(yw_event_append(ev, "t", "EXECVE", 6), 0);
	f = yw_event_get(ev, "t");
	assert_int_equal(f->n, 2);
	assert_string_equal(f->items[0].s, "SYSCALL");
	assert_string_equal(f->items[1].s, "EXECVE");
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_string_equal(json(ev, &b), "{\"process.args\":[\"dd\",\"if=/dev/zero\",\"bs=1\"],"
					  "\"t\":[\"SYSCALL\",\"EXECVE\"]}");
	yw_strbuf_free(&b);
	yw_event_free(ev);
}

static void test_raw_logsource_anomaly_and_escaping(void **state)
{
	struct yw_event *ev = yw_event_new();
	const char raw[] = "a\"b\\c\n\x01\xff<script>\0z";
	assert_int_equal(yw_event_set_raw(ev, raw, sizeof(raw) - 1), 0);
	assert_int_equal(yw_event_set_logsource(ev, "linux", "sshd", NULL), 0);
	yw_event_anomaly(ev, "line truncated at %d bytes", 7);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_string_equal(json(ev, &b),
			    "{\"logsource.product\":\"linux\",\"logsource.service\":\"sshd\","
			    "\"event.original\":\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd<script>\\u0000z\","
			    "\"yiwang.anomaly\":[\"line truncated at 7 bytes\"]}");
	assert_null(yw_event_logsource(ev)->category);
	/* Valid multi-byte UTF-8 passes through unchanged. */
	yw_event_clear(ev);
	assert_int_equal(yw_event_set_strz(ev, "m", "一网 ok"), 0);
	assert_string_equal(json(ev, &b), "{\"m\":\"一网 ok\"}");
	/* An overlong encoding and a lone surrogate are replaced. */
	yw_event_clear(ev);
	assert_int_equal(yw_event_set_strz(ev, "m", "\xc0\xaf\xed\xa0\x80"), 0);
	assert_string_equal(json(ev, &b), "{\"m\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf"
					  "\xbd\xef\xbf\xbd\"}");
	yw_strbuf_free(&b);
	yw_event_free(ev);
}

static void test_limits_and_clear(void **state)
{
	struct yw_event *ev = yw_event_new();
	char name[32];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < YW_MAX_FIELDS; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			assert_int_equal(yw_event_set_int(ev, name, i), 0);
		}
		assert_int_equal(yw_event_set_int(ev, "one.more", 1), YW_ELIMIT);
		assert_int_equal(yw_event_nfields(ev), YW_MAX_FIELDS);
		assert_int_equal(yw_event_get(ev, "f1000")->num, 1000);
		yw_event_clear(ev);
		assert_int_equal(yw_event_nfields(ev), 0);
		assert_null(yw_event_raw(ev, NULL));
		/* The name index is empty again: no stale entry survives a clear. */
		for (int i = 0; i < YW_MAX_FIELDS; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			assert_null(yw_event_get(ev, name));
		}
	}
	/* One event cannot take more than YW_MAX_EVENT_BYTES. */
	static char big[1024 * 1024];
	memset(big, 'x', sizeof(big));
	int rc = 0, i;
	for (i = 0; i < 64 && rc == 0; i++) {
		snprintf(name, sizeof(name), "big%d", i);
		rc = yw_event_set_str(ev, name, big, sizeof(big));
	}
	assert_int_equal(rc, YW_ENOMEM);
	assert_true(i <= YW_MAX_EVENT_BYTES / (int)sizeof(big) + 1);
	for (i = 0; i < YW_MAX_ANOMALIES + 5; i++)
		yw_event_anomaly(ev, "n%d", i);
	assert_int_equal(yw_event_nanomalies(ev), YW_MAX_ANOMALIES);
	yw_event_free(ev);
	yw_event_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_ip_canonical_and_invalid),
		cmocka_unit_test(test_replace_and_remove),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_raw_logsource_anomaly_and_escaping),
		cmocka_unit_test(test_limits_and_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
