/* The decoder stream: per-line detection, the bounded line reader, raw text, flushing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yw_limits.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"
#include "yiwang/event.h"

#define MAXEV 16

struct seen {
	size_t n;
	char kind[MAXEV][16]; /* logsource service, or "json"/"none" */
	size_t raw_len[MAXEV];
	char raw_head[MAXEV][64];
	size_t nanom[MAXEV];
	char msg[MAXEV][64];
	int stop_at; /* return 7 from this event on, when > 0 */
};

static int on_event(void *ud, struct yw_event *ev)
{
	struct seen *s = ud;
	if (s->n < MAXEV) {
		const struct yw_logsource *ls = yw_event_logsource(ev);
		snprintf(s->kind[s->n], 16, "%s", ls->service ? ls->service : "none");
		size_t len;
		const char *raw = yw_event_raw(ev, &len);
		s->raw_len[s->n] = len;
		snprintf(s->raw_head[s->n], 64, "%.*s", (int)(len < 63 ? len : 63), raw ? raw : "");
		s->nanom[s->n] = yw_event_nanomalies(ev);
		const char *m = yw_event_str(ev, "a");
		snprintf(s->msg[s->n], 64, "%s", m ? m : "");
	}
	s->n++;
	return s->stop_at > 0 && (int)s->n >= s->stop_at ? 7 : 0;
}

static struct yw_decoder *mk(const char *fmt, struct seen *s)
{
	struct yw_decoder *d = NULL;
	assert_int_equal(yw_decoder_new(fmt, NULL, on_event, s, &d), 0);
	return d;
}

static void run_file(const char *fmt, const char *data, size_t len, struct seen *s, int want_rc)
{
	FILE *f = fmemopen((void *)data, len ? len : 1, "rb");
	assert_non_null(f);
	if (len == 0)
		fgetc(f); /* fmemopen refuses size 0: read the one byte away */
	struct yw_decoder *d = mk(fmt, s);
	assert_int_equal(yw_decoder_file(d, f), want_rc);
	fclose(f);
	yw_decoder_free(d);
}

static void test_formats_api(void **state)
{
	(void)state;
	const char *const *f = yw_decoder_formats();
	assert_string_equal(f[0], "auto");
	assert_string_equal(f[3], "json");
	assert_null(f[4]);
	struct yw_decoder *d = NULL;
	assert_int_equal(yw_decoder_new("xml", NULL, on_event, NULL, &d), YW_ENOENT);
	yw_decoder_free(NULL);
}

static void test_auto_detection(void **state)
{
	(void)state;
	struct seen s = {0};
	struct yw_decoder *d = mk("auto", &s);
	const char *lines[] = {
	    "  {\"a\":\"j\"}",
	    "type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=59 exe=\"/bin/x\"",
	    "Mar  1 10:00:00 host sshd[12]: Accepted password for root from 1.2.3.4 port 22 ssh2",
	    "type=PROCTITLE msg=audit(1.0:1): proctitle=\"x\"",
	    "Mar  1 10:00:00 host audispd: node=h type=USER_AUTH msg=audit(2.0:2): "
	    "msg='op=x res=failed'",
	    "",
	    "   ",
	    "Mar  1 10:00:00 host kernel: audit: type=1400 audit(3.0:3): apparmor=\"DENIED\"",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(yw_decoder_line(d, lines[i], strlen(lines[i])), 0);
	assert_int_equal(yw_decoder_flush(d), 0);
	/* json, syslog, audit 1 (done when serial 2 came), audit 2, audit 3 (flush). */
	assert_int_equal(s.n, 5);
	assert_string_equal(s.kind[0], "none");
	assert_string_equal(s.msg[0], "j");
	assert_string_equal(s.kind[1], "sshd");
	assert_string_equal(s.kind[2], "auditd");
	assert_int_equal(s.raw_len[2], strlen(lines[1]) + 1 + strlen(lines[3]));
	assert_string_equal(s.kind[3], "auditd");
	/* A syslog-wrapped record is fed from "node=" on. */
	assert_string_equal(s.raw_head[3],
	                    "node=h type=USER_AUTH msg=audit(2.0:2): msg='op=x res=failed'");
	assert_string_equal(s.kind[4], "auditd");
	assert_int_equal(yw_decoder_lines(d), 8);
	assert_int_equal(yw_decoder_events(d), 5);
	yw_decoder_free(d);
}

static void test_forced_formats(void **state)
{
	(void)state;
	struct seen s = {0};
	struct yw_decoder *d = mk("json", &s);
	assert_int_equal(yw_decoder_line(d, "type=X", 6), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.nanom[0], 1); /* not JSON */
	yw_decoder_free(d);
	memset(&s, 0, sizeof(s));
	d = mk("auditd", &s);
	assert_int_equal(yw_decoder_line(d, "{\"a\":1}", 7), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.kind[0], "auditd");
	assert_true(s.nanom[0] >= 1);
	yw_decoder_free(d);
}

static void test_file_endings(void **state)
{
	(void)state;
	/* CRLF, NUL inside a line, no trailing newline. */
	const char data[] =
	    "{\"a\":\"x\"}\r\n\r\n{\"a\":\"y\\u0000z\"}\n{\"a\":\"w\0v\"}\n{\"a\":\"last\"}";
	struct seen s = {0};
	run_file("auto", data, sizeof(data) - 1, &s, 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.msg[0], "x");
	assert_int_equal(s.raw_len[0], 9);  /* "\r" stripped */
	assert_int_equal(s.raw_len[2], 11); /* the NUL byte kept */
	assert_int_equal(s.nanom[2], 1);    /* raw NUL is not valid JSON */
	assert_string_equal(s.msg[3], "last");
	/* Empty file. */
	struct seen e = {0};
	run_file("auto", "", 0, &e, 0);
	assert_int_equal(e.n, 0);
}

static void test_long_line(void **state)
{
	(void)state;
	/* 2 MiB line between two short ones: cut at YW_MAX_LINE, rest skipped, next line intact. */
	size_t big = 2 * 1024 * 1024;
	size_t len = big + 64;
	char *data = malloc(len);
	assert_non_null(data);
	size_t n = (size_t)snprintf(data, len, "{\"a\":\"1\"}\n");
	memset(data + n, 'A', big);
	n += big;
	n += (size_t)snprintf(data + n, len - n, "\n{\"a\":\"2\"}\n");
	struct seen s = {0};
	run_file("json", data, n, &s, 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.raw_len[1], YW_MAX_LINE);
	assert_int_equal(s.nanom[1], 2); /* invalid JSON + truncated */
	assert_int_equal(s.raw_len[2], 9);
	assert_int_equal(s.nanom[2], 0);
	/* Through yw_decoder_line too. */
	struct seen t = {0};
	struct yw_decoder *d = mk("json", &t);
	assert_int_equal(yw_decoder_line(d, data + 10, big), 0);
	assert_int_equal(t.raw_len[0], YW_MAX_LINE);
	assert_int_equal(t.nanom[0], 2); /* invalid JSON + truncated */
	yw_decoder_free(d);
	free(data);
}

static void test_callback_stops(void **state)
{
	(void)state;
	const char data[] = "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n";
	struct seen s = {.stop_at = 2};
	run_file("auto", data, sizeof(data) - 1, &s, 7);
	assert_int_equal(s.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats_api),    cmocka_unit_test(test_auto_detection),
	    cmocka_unit_test(test_forced_formats), cmocka_unit_test(test_file_endings),
	    cmocka_unit_test(test_long_line),      cmocka_unit_test(test_callback_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
