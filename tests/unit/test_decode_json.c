/* JSON lines: flattening, types, lists, log source, limits, invalid input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_int.h"
#include "yw_limits.h"
#include "yiwang/event.h"

static struct yw_event *dec(const char *s, size_t n)
{
	struct yw_event *ev = yw_event_new();
	assert_non_null(ev);
	assert_int_equal(yw_decode_json_line(ev, s, n), 0);
	return ev;
}

static const struct yw_field *must(struct yw_event *ev, const char *name, int type)
{
	const struct yw_field *f = yw_event_get(ev, name);
	if (!f)
		fail_msg("field %s missing", name);
	assert_int_equal(f->type, type);
	return f;
}

static void test_flatten_and_types(void **state)
{
	(void)state;
	const char *s = "{\"source\":{\"ip\":\"1.2.3.4\",\"port\":22},\"n\":1.5,\"big\":1e300,"
	                "\"i\":-7,\"r\":3.0,\"t\":true,\"f\":false,\"z\":null,"
	                "\"tags\":[\"a\",2,true,null,{\"k\":\"v\"},[1]],\"empty\":[],"
	                "\"deep\":{\"a\":{\"b\":{\"c\":\"d\"}}}}";
	struct yw_event *ev = dec(s, strlen(s));
	assert_string_equal(must(ev, "source.ip", YW_T_STR)->text, "1.2.3.4");
	assert_int_equal(must(ev, "source.port", YW_T_INT)->num, 22);
	assert_string_equal(must(ev, "n", YW_T_STR)->text, "1.5");
	assert_string_equal(must(ev, "big", YW_T_STR)->text, "1.0000000000000001e+300");
	assert_int_equal(must(ev, "i", YW_T_INT)->num, -7);
	assert_int_equal(must(ev, "r", YW_T_INT)->num, 3);
	assert_int_equal(must(ev, "t", YW_T_BOOL)->num, 1);
	assert_int_equal(must(ev, "f", YW_T_BOOL)->num, 0);
	must(ev, "z", YW_T_NULL);
	const struct yw_field *tags = must(ev, "tags", YW_T_LIST);
	assert_int_equal(tags->n, 6);
	const char *want[] = {"a", "2", "true", "null", "{\"k\":\"v\"}", "[1]"};
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(tags->items[i].s, want[i]);
	assert_int_equal(must(ev, "empty", YW_T_LIST)->n, 0);
	assert_string_equal(must(ev, "deep.a.b.c", YW_T_STR)->text, "d");
	assert_int_equal(yw_event_nanomalies(ev), 0);
	yw_event_free(ev);
	/* Beyond int64: read as a real, kept as its text; other integers stay ints. */
	s = "{\"huge\":123456789012345678901234567890,\"p\":22}";
	ev = dec(s, strlen(s));
	assert_string_equal(must(ev, "huge", YW_T_STR)->text, "1.2345678901234568e+29");
	assert_int_equal(must(ev, "p", YW_T_INT)->num, 22);
	yw_event_free(ev);
}

static void test_logsource_and_time(void **state)
{
	(void)state;
	const char *s = "{\"logsource\":{\"product\":\"linux\",\"service\":\"sshd\"},"
	                "\"logsource.category\":\"process_creation\","
	                "\"@timestamp\":\"2024-02-03T04:05:06.789+01:00\",\"msg\":\"x\"}";
	struct yw_event *ev = dec(s, strlen(s));
	const struct yw_logsource *ls = yw_event_logsource(ev);
	assert_string_equal(ls->product, "linux");
	assert_string_equal(ls->service, "sshd");
	assert_string_equal(ls->category, "process_creation");
	assert_null(yw_event_get(ev, "logsource.product"));
	assert_null(yw_event_get(ev, "logsource.category"));
	const struct yw_field *ts = must(ev, "@timestamp", YW_T_TIME);
	assert_string_equal(ts->text, "2024-02-03T03:05:06.789Z");
	yw_event_free(ev);
	s = "{\"@timestamp\":\"yesterday\"}";
	ev = dec(s, strlen(s));
	assert_string_equal(must(ev, "@timestamp", YW_T_STR)->text, "yesterday");
	yw_event_free(ev);
}

static void test_invalid_and_nul(void **state)
{
	(void)state;
	const char *bad[] = {"{\"a\":", "[1,2]", "{\"a\":1} x", "\"str\"", "{'a':1}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct yw_event *ev = dec(bad[i], strlen(bad[i]));
		assert_string_equal(must(ev, "message", YW_T_STR)->text, bad[i]);
		assert_int_equal(yw_event_nanomalies(ev), 1);
		yw_event_free(ev);
	}
	/* An escaped NUL inside a value is kept, length explicit. */
	const char s[] = "{\"a\":\"x\\u0000y\"}";
	struct yw_event *ev = dec(s, sizeof(s) - 1);
	const struct yw_field *f = must(ev, "a", YW_T_STR);
	assert_int_equal(f->len, 3);
	assert_memory_equal(f->text, "x\0y", 3);
	yw_event_free(ev);
	/* A raw NUL byte in the line is invalid JSON, not a crash. */
	const char raw[] = "{\"a\":\"x\0y\"}";
	ev = dec(raw, sizeof(raw) - 1);
	assert_non_null(yw_event_get(ev, "message"));
	yw_event_free(ev);
}

static void test_limits(void **state)
{
	(void)state;
	/* Nesting beyond YW_MAX_JSON_DEPTH. */
	char deep[4096];
	size_t n = 0;
	for (int i = 0; i < YW_MAX_JSON_DEPTH + 10; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"k\":");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "1");
	for (int i = 0; i < YW_MAX_JSON_DEPTH + 10; i++)
		deep[n++] = '}';
	struct yw_event *ev = dec(deep, n);
	assert_int_equal(yw_event_nfields(ev), 0);
	assert_int_equal(yw_event_nanomalies(ev), 1);
	yw_event_free(ev);
	/* More keys than YW_MAX_FIELDS. */
	size_t cap = 32 * (YW_MAX_FIELDS + 100);
	char *s = malloc(cap);
	assert_non_null(s);
	n = 0;
	s[n++] = '{';
	for (int i = 0; i < YW_MAX_FIELDS + 100; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s\"k%d\":%d", i ? "," : "", i, i);
	s[n++] = '}';
	ev = dec(s, n);
	assert_int_equal(yw_event_nfields(ev), YW_MAX_FIELDS);
	assert_int_equal(yw_event_nanomalies(ev), 1);
	yw_event_free(ev);
	free(s);
	/* A key too long for a field name. */
	char lk[600];
	n = (size_t)snprintf(lk, sizeof(lk), "{\"%0400d\":1,\"ok\":2}", 0);
	ev = dec(lk, n);
	assert_int_equal(yw_event_nfields(ev), 1);
	assert_int_equal(yw_event_nanomalies(ev), 1);
	yw_event_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flatten_and_types),
	    cmocka_unit_test(test_logsource_and_time),
	    cmocka_unit_test(test_invalid_and_nul),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
