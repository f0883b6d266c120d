/* Syslog header decoding: RFC 3164 variants, ISO timestamps, RFC 5424, odd and broken lines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode/decode_int.h"
#include "yiwang/strbuf.h"

static struct yw_event *ev;
static struct yw_decode_opts opts = {.default_year = 2024, .default_host = NULL};

static int setup(void **state)
{
	ev = yw_event_new();
	return ev ? 0 : -1;
}

static int teardown(void **state)
{
	yw_event_free(ev);
	return 0;
}

static void dec_n(const char *line, size_t len)
{
	yw_event_clear(ev);
	assert_int_equal(yw_decode_syslog_line(ev, line, len, &opts), 0);
}

static void dec(const char *line)
{
	dec_n(line, strlen(line));
}

/* want NULL: the field must be absent. */
static void eq(const char *name, const char *want)
{
	const char *got = yw_event_str(ev, name);
	if (!want) {
		if (got)
			fail_msg("%s: expected absent, got \"%s\"", name, got);
		return;
	}
	if (!got)
		fail_msg("%s: expected \"%s\", absent", name, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s: expected \"%s\", got \"%s\"", name, want, got);
}

static void num(const char *name, int64_t want)
{
	const struct yw_field *f = yw_event_get(ev, name);
	if (!f)
		fail_msg("%s: absent", name);
	assert_int_equal(f->type, YW_T_INT);
	assert_int_equal(f->num, want);
}

static int64_t ts_ns(void)
{
	const struct yw_field *f = yw_event_get(ev, "@timestamp");
	assert_non_null(f);
	assert_int_equal(f->type, YW_T_TIME);
	return f->num;
}

static void service(const char *want)
{
	const struct yw_logsource *ls = yw_event_logsource(ev);
	assert_string_equal(ls->product, "linux");
	assert_string_equal(ls->service, want);
}

static void test_3164_host_pid(void **state)
{
	dec("Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.");
	eq("@timestamp", "2024-03-27T13:06:56.000Z");
	assert_int_equal(ts_ns(), 1711544816LL * 1000000000);
	eq("host.name", "ip-10-77-20-248");
	eq("process.name", "sshd");
	num("process.pid", 1291);
	eq("message", "Server listening on 0.0.0.0 port 22.");
	eq("log.syslog.priority", NULL);
	assert_int_equal(yw_event_nanomalies(ev), 0);
	service("sshd");
}

static void test_3164_no_host_padded_day(void **state)
{
	opts.default_host = "fallback";
	dec("Nov  2 13:24:34 CRON[12]: (root) CMD (run-parts /etc/cron.hourly)");
	opts.default_host = NULL;
	eq("@timestamp", "2024-11-02T13:24:34.000Z");
	eq("host.name", "fallback");
	eq("process.name", "CRON");
	num("process.pid", 12);
	eq("message", "(root) CMD (run-parts /etc/cron.hourly)");
	service("cron");
}

static void test_3164_single_space_day_and_years(void **state)
{
	dec("Aug 1 15:44:10 enigma sshd[13752]: x");
	eq("@timestamp", "2024-08-01T15:44:10.000Z");
	eq("host.name", "enigma");
	dec("Aug  1 2019 15:44:10 enigma sshd[13752]: x");
	eq("@timestamp", "2019-08-01T15:44:10.000Z");
	eq("host.name", "enigma");
	dec("Aug 12 15:44:10 2021 enigma sshd: x");
	eq("@timestamp", "2021-08-12T15:44:10.000Z");
	eq("host.name", "enigma");
	eq("process.name", "sshd");
	eq("process.pid", NULL);
	eq("message", "x");
	/* fractional seconds on a BSD timestamp */
	dec("Aug 12 15:44:10.250 h p: x");
	assert_int_equal(ts_ns() % 1000000000, 250000000);
}

static void test_default_year_current(void **state)
{
	opts.default_year = 0;
	dec("Jan 15 00:00:00 h p: x");
	opts.default_year = 2024;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char want[32];
	snprintf(want, sizeof(want), "%04d-01-15T00:00:00.000Z", tm.tm_year + 1900);
	eq("@timestamp", want);
}

static void test_iso_rsyslog(void **state)
{
	dec("2024-01-02T03:04:05.123456+01:00 web1 nginx[77]: hello world");
	assert_int_equal(ts_ns(), (1704164645LL - 3600) * 1000000000 + 123456000);
	eq("@timestamp", "2024-01-02T02:04:05.123Z");
	eq("host.name", "web1");
	eq("process.name", "nginx");
	num("process.pid", 77);
	eq("message", "hello world");
	service("syslog");
}

static void test_iso_journald_short_iso(void **state)
{
	/* journalctl -o short-iso writes the offset without a colon */
	dec("2024-01-02T03:04:05-0230 host1 systemd[1]: Started Daily apt upgrade.");
	assert_int_equal(ts_ns(), (1704164645LL + 9000) * 1000000000);
	eq("host.name", "host1");
	eq("process.name", "systemd");
	num("process.pid", 1);
	eq("event.action", "unit_started");
	dec("2024-01-02T03:04:05Z h k: m");
	assert_int_equal(ts_ns(), 1704164645LL * 1000000000);
}

static void test_pri_3164(void **state)
{
	dec("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
	num("log.syslog.priority", 34);
	num("log.syslog.facility.code", 4);
	num("log.syslog.severity.code", 2);
	eq("host.name", "mymachine");
	eq("process.name", "su");
	eq("message", "'su root' failed for lonvick on /dev/pts/8");
	eq("log.syslog.version", NULL);
	service("auth");
	/* not a PRI: too large */
	dec("<999>Oct 11 22:14:15 h p: x");
	eq("log.syslog.priority", NULL);
	eq("message", "<999>Oct 11 22:14:15 h p: x");
	assert_int_equal(yw_event_nanomalies(ev), 1);
}

static void test_rfc5424(void **state)
{
	dec("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed "
	    "for lonvick on /dev/pts/8");
	num("log.syslog.priority", 34);
	num("log.syslog.facility.code", 4);
	num("log.syslog.severity.code", 2);
	num("log.syslog.version", 1);
	eq("@timestamp", "2003-10-11T22:14:15.003Z");
	eq("host.name", "mymachine.example.com");
	eq("process.name", "su");
	eq("process.pid", NULL);
	eq("log.syslog.msgid", "ID47");
	eq("log.syslog.structured_data", NULL);
	eq("message", "'su root' failed for lonvick on /dev/pts/8");
	assert_int_equal(yw_event_nanomalies(ev), 0);

	dec("<165>1 2003-10-11T22:14:15.003-07:00 h.example.com evntslog 8710 ID47 "
	    "[exampleSDID@32473 iut=\"3\" eventSource=\"App]\\\"x\"][examplePriority@32473 "
	    "class=\"high\"] \xEF\xBB\xBF"
	    "An application event");
	assert_int_equal(ts_ns(), (1065910455LL + 7 * 3600) * 1000000000 + 3000000);
	num("log.syslog.facility.code", 20);
	num("log.syslog.severity.code", 5);
	eq("process.name", "evntslog");
	num("process.pid", 8710);
	eq("log.syslog.structured_data", "[exampleSDID@32473 iut=\"3\" eventSource=\"App]\\\"x\"]"
	                                 "[examplePriority@32473 class=\"high\"]");
	eq("message", "An application event");
	assert_int_equal(yw_event_nanomalies(ev), 0);

	/* all nil, no message */
	dec("<0>1 - - - - - -");
	num("log.syslog.priority", 0);
	eq("host.name", NULL);
	eq("process.name", NULL);
	eq("@timestamp", NULL);
	eq("message", "");
	assert_int_equal(yw_event_nanomalies(ev), 0);

	/* unterminated structured data: noted, the rest kept as message */
	dec("<14>1 2020-01-01T00:00:00Z h app 1 - [id a=\"b\"");
	eq("process.name", "app");
	eq("message", "[id a=\"b\"");
	assert_int_equal(yw_event_nanomalies(ev), 1);
}

static void test_repeated_and_untagged(void **state)
{
	dec("Mar 27 13:06:56 host1 last message repeated 3 times");
	eq("host.name", "host1");
	eq("process.name", NULL);
	eq("message", "last message repeated 3 times");
	num("yiwang.syslog.repeated", 3);
	eq("event.action", "syslog_repeated");
	assert_int_equal(yw_event_nanomalies(ev), 0);

	dec("Mar 27 13:06:56 host1 just some words here");
	eq("host.name", "host1");
	eq("process.name", NULL);
	eq("message", "just some words here");
	service("syslog");

	/* rsyslog's reduction: the repeated message is decoded too */
	dec("Mar 27 13:06:56 h sshd[5]: message repeated 5 times: [ Failed password for root "
	    "from 1.2.3.4 port 2222 ssh2]");
	eq("message", "message repeated 5 times: [ Failed password for root from 1.2.3.4 port "
	              "2222 ssh2]");
	num("yiwang.syslog.repeated", 5);
	eq("event.action", "ssh_login");
	eq("event.outcome", "failure");
	eq("user.name", "root");
	eq("source.ip", "1.2.3.4");
	num("source.port", 2222);
}

static void test_unrecognised(void **state)
{
	opts.default_host = "melancia";
	dec("MySQL log: 060516 22:38:46 mysqld ended");
	opts.default_host = NULL;
	eq("host.name", "melancia");
	eq("process.name", NULL);
	eq("@timestamp", NULL);
	eq("message", "MySQL log: 060516 22:38:46 mysqld ended");
	assert_int_equal(yw_event_nanomalies(ev), 1);
	service("syslog");

	dec("");
	eq("message", "");
	assert_int_equal(yw_event_nanomalies(ev), 1);

	/* a PRI then a bare tag */
	dec("<13>sshd[9]: Connection closed by 1.2.3.4 port 5");
	eq("process.name", "sshd");
	num("process.pid", 9);
	eq("event.action", "ssh_connection_closed");
	assert_int_equal(yw_event_nanomalies(ev), 1);
}

static void test_solaris_and_apache(void **state)
{
	dec("Apr 17 22:20:29 hostj named[312]: [ID 295310 daemon.notice] security: notice: x");
	eq("message", "security: notice: x");
	eq("log.syslog.msgid", "295310");
	eq("log.syslog.facility.name", "daemon");
	eq("log.syslog.severity.name", "notice");

	dec("[Tue Sep 12 10:38:15 2006] [error] [client 127.0.0.1] request failed");
	eq("@timestamp", "2006-09-12T10:38:15.000Z");
	eq("host.name", NULL);
	eq("process.name", NULL);
	eq("message", "[error] [client 127.0.0.1] request failed");
	assert_int_equal(yw_event_nanomalies(ev), 0);
}

static void test_nul_and_binary(void **state)
{
	static const char line[] = "Mar 27 13:06:56 h\xff\xfe sshd[1]: Failed password for "
	                           "r\0ot from 1.2.3.4 port 22 ssh2\xc3";
	dec_n(line, sizeof(line) - 1);
	eq("host.name", "h\xff\xfe");
	const struct yw_field *m = yw_event_get(ev, "message");
	assert_non_null(m);
	assert_int_equal(m->len, 51);
	assert_memory_equal(m->text, "Failed password for r\0ot from 1.2.3.4 port 22 ssh2\xc3", 51);
	const struct yw_field *u = yw_event_get(ev, "user.name");
	assert_int_equal(u->len, 4);
	assert_memory_equal(u->text, "r\0ot", 4);
	/* a NUL inside the program tag (found by fuzzing) */
	static const char tag[] =
	    "Jul 5 12:13:15 lili su\0\0Z[2614]: Authentication failed for root";
	dec_n(tag, sizeof(tag) - 1);
	assert_int_equal(yw_event_get(ev, "process.name")->len, 5);
	eq("event.action", NULL);
	dec_n(line, sizeof(line) - 1);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_event_to_json(ev, &b), 0);
	assert_non_null(strstr(b.data, "\"source.ip\":\"1.2.3.4\""));
	yw_strbuf_free(&b);
}

/* Every prefix of real lines, each in a heap block of exactly its size, so ASan sees any read
 * past len. */
static void test_every_prefix(void **state)
{
	static const char *const lines[] = {
	    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 [a b=\"]\"] m",
	    "2024-01-02T03:04:05.123456+01:00 host prog[12]: msg",
	    "Nov  2 13:24:34 melancia sshd[12]: Failed password for invalid user x from "
	    "1.2.3.4 port 5 ssh2: RSA SHA256:abc",
	    "Mar 27 13:06:56 h sudo:   bob : 3 incorrect password attempts ; TTY=pts/0 ; "
	    "PWD=/x ; USER=root ; COMMAND=/bin/ls",
	    "Mar 27 13:06:56 h kernel: [ 12.5] [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 "
	    "DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2",
	    "Mar 27 13:06:56 h useradd[1]: new user: name=bob, UID=1001, GID=1001",
	    "[Tue Sep 12 10:38:15 2006] x",
	    "Jul 5 00:30:21 lili su[2190]: + pts/4 dcid-root",
	    "Mar 27 13:06:56 h systemd[1]: a.service: Main process exited, code=exited, "
	    "status=1/FAILURE",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t n = strlen(lines[i]);
		for (size_t k = 0; k <= n; k++) {
			char *buf = malloc(k ? k : 1);
			assert_non_null(buf);
			memcpy(buf, lines[i], k);
			dec_n(buf, k);
			assert_non_null(yw_event_get(ev, "message"));
			free(buf);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_3164_host_pid),
	    cmocka_unit_test(test_3164_no_host_padded_day),
	    cmocka_unit_test(test_3164_single_space_day_and_years),
	    cmocka_unit_test(test_default_year_current),
	    cmocka_unit_test(test_iso_rsyslog),
	    cmocka_unit_test(test_iso_journald_short_iso),
	    cmocka_unit_test(test_pri_3164),
	    cmocka_unit_test(test_rfc5424),
	    cmocka_unit_test(test_repeated_and_untagged),
	    cmocka_unit_test(test_unrecognised),
	    cmocka_unit_test(test_solaris_and_apache),
	    cmocka_unit_test(test_nul_and_binary),
	    cmocka_unit_test(test_every_prefix),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
