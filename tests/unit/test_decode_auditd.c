/* auditd records: tokenizer, hex decoding, grouping by serial, ECS mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/auditd.h"
#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/event.h"

struct fx {
	struct yw_audit *a;
	struct yw_event *ev;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(yw_audit_new(&f->a), 0);
	f->ev = yw_event_new();
	assert_non_null(f->ev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	yw_audit_free(f->a);
	yw_event_free(f->ev);
	free(f);
	return 0;
}

static struct yw_event *dec(struct fx *f, const char *text)
{
	yw_event_clear(f->ev);
	assert_int_equal(yw_audit_decode(f->a, f->ev, text, strlen(text)), 0);
	return f->ev;
}

static void assert_field(struct yw_event *ev, const char *name, const char *want)
{
	const char *got = yw_event_str(ev, name);
	if (!got)
		fail_msg("field %s missing (want \"%s\")", name, want);
	assert_string_equal(got, want);
}

static void assert_list(struct yw_event *ev, const char *name, const char *const *want, size_t n)
{
	const struct yw_field *fl = yw_event_get(ev, name);
	if (!fl)
		fail_msg("field %s missing", name);
	assert_int_equal(fl->type, YW_T_LIST);
	assert_int_equal(fl->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(fl->items[i].s, want[i]);
}

static void test_quoted_and_bare(void **state)
{
	struct yw_event *ev =
	    dec(*state, "type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e "
	                "syscall=2 success=no exit=-13 comm=\"my cat\" "
	                "exe=\"/usr/bin/c a t\" key=(null) tty=(none) x=?");
	assert_field(ev, "auditd.comm", "my cat");
	assert_field(ev, "auditd.exe", "/usr/bin/c a t");
	assert_field(ev, "auditd.key", "(null)");
	assert_field(ev, "auditd.x", "?");
	assert_field(ev, "auditd.exit", "-13");
	assert_field(ev, "auditd.SYSCALL", "open");
	assert_field(ev, "auditd.ARCH", "x86_64");
	assert_field(ev, "event.outcome", "failure");
	assert_field(ev, "@timestamp", "2013-03-28T14:36:03.243Z");
	const struct yw_field *seq = yw_event_get(ev, "auditd.sequence");
	assert_non_null(seq);
	assert_int_equal(seq->type, YW_T_INT);
	assert_int_equal(seq->num, 24287);
	assert_field(ev, "process.executable", "/usr/bin/c a t");
	assert_int_equal(yw_event_nanomalies(ev), 0);
}

static void test_hex_values(void **state)
{
	struct yw_event *ev =
	    dec(*state, "type=SYSCALL msg=audit(1490995752.404:20614537): arch=c000003e "
	                "syscall=44 success=yes exit=464 comm=\"charon\" "
	                "exe=2F7573722F6C6962657865632F636861726F6E202864656C6574656429 "
	                "key=65786563013634626974\"\n"
	                "type=PROCTITLE msg=audit(1490995752.404:20614537): "
	                "proctitle=737368643A206275726E005B707269765D");
	assert_field(ev, "auditd.exe", "/usr/libexec/charon (deleted)");
	const char *keys[] = {"exec", "64bit"};
	assert_list(ev, "auditd.key", keys, 2);
	/* NUL separators of a proctitle become spaces. */
	assert_field(ev, "auditd.proctitle", "sshd: burn [priv]");
	assert_field(ev, "process.command_line", "sshd: burn [priv]");
	/* A hex-looking value that auditd would never encode stays as written. */
	ev = dec(*state, "type=SYSCALL msg=audit(1.0:1): a1=ABCD1234 cwd=\"ABCD\"");
	assert_field(ev, "auditd.a1", "ABCD1234");
	assert_field(ev, "auditd.cwd", "ABCD");
}

static void test_msg_payload(void **state)
{
	struct yw_event *ev = dec(
	    *state, "node=web1 type=USER_AUTH msg=audit(1481077043.057:413): pid=1298 uid=0 "
	            "auid=4294967295 ses=4294967295 msg='op=PAM:authentication "
	            "grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 addr=1.2.3.4 "
	            "terminal=ssh res=failed'");
	assert_field(ev, "auditd.op", "PAM:authentication");
	assert_field(ev, "auditd.acct", "root");
	assert_field(ev, "auditd.res", "failed");
	assert_null(yw_event_get(ev, "auditd.msg"));
	assert_field(ev, "user.name", "root");
	assert_field(ev, "source.ip", "1.2.3.4");
	assert_field(ev, "host.name", "web1");
	assert_field(ev, "event.category", "authentication");
	assert_field(ev, "event.outcome", "failure");
	assert_field(ev, "event.action", "user_auth");
	assert_field(ev, "process.pid", "1298");
	const struct yw_logsource *ls = yw_event_logsource(ev);
	assert_string_equal(ls->product, "linux");
	assert_string_equal(ls->service, "auditd");
	assert_null(ls->category);
	/* Old PAM form with parenthesis, and a hex-encoded account name. */
	ev = dec(*state, "type=USER_END msg=audit(1170021601.366:299): user pid=13015 uid=0 auid=0 "
	                 "msg='PAM: session close acct=root : exe=\"/usr/sbin/crond\" (hostname=?, "
	                 "addr=?, terminal=cron res=success)'");
	assert_field(ev, "auditd.hostname", "?");
	assert_field(ev, "auditd.res", "success");
	assert_field(ev, "auditd.terminal", "cron");
	assert_null(yw_event_get(ev, "source.ip"));
	ev = dec(*state, "type=USER_LOGIN msg=audit(1492896301.818:19955): pid=12635 uid=0 "
	                 "msg='op=login acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" "
	                 "hostname=? addr=179.38.151.221 terminal=sshd res=failed'");
	assert_field(ev, "user.name", "(invalid user)");
	assert_field(ev, "source.ip", "179.38.151.221");
}

static void test_truncated_and_malformed(void **state)
{
	struct yw_event *ev =
	    dec(*state, "type=SYSCALL msg=audit(1.5:7): comm=\"unterminated exe=/bin/x");
	assert_field(ev, "auditd.comm", "unterminated exe=/bin/x");
	assert_true(yw_event_nanomalies(ev) >= 1);
	ev = dec(*state, "type=PATH msg=audit(1.5:7): item=0 name=");
	assert_field(ev, "auditd.name", "");
	ev = dec(*state, "this is not audit = at all ==");
	assert_non_null(yw_event_get(ev, "message"));
	assert_true(yw_event_nanomalies(ev) >= 1);
	ev = dec(*state, "type=SYSCALL msg=audit(12:");
	assert_true(yw_event_nanomalies(ev) >= 1);
	ev = dec(*state, "type= msg=audit(1.2:3): ='x' =y \"=\" a='unterminated");
	assert_field(ev, "auditd.sequence", "3");
	/* avc: prefix. */
	ev = dec(*state, "type=AVC msg=audit(1170021493.977:293): avc:  denied  { read write } for "
	                 " pid=13010 comm=\"pickup\" tclass=dir");
	assert_field(ev, "auditd.seresult", "denied");
	assert_field(ev, "auditd.seperms", "read,write");
	assert_field(ev, "auditd.tclass", "dir");
	/* Kernel syslog form: numeric type, no msg=. */
	ev = dec(*state, "type=1400 audit(1524662933.080:61207): apparmor=\"DENIED\" pid=5");
	const char *t[] = {"AVC"};
	assert_list(ev, "auditd.type", t, 1);
	assert_field(ev, "auditd.apparmor", "DENIED");
}

static void test_huge_record(void **state)
{
	/* An EXECVE with 5000 arguments: args capped at YW_MAX_LIST_ITEMS, fields at the limit. */
	size_t n = 5000, cap = 64 + n * 24;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t len = (size_t)snprintf(s, cap, "type=EXECVE msg=audit(1.0:9): argc=%zu", n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, " a%zu=\"x%zu\"", i, i);
	struct yw_event *ev = dec(*state, s);
	const struct yw_field *args = yw_event_get(ev, "process.args");
	assert_non_null(args);
	assert_int_equal(args->n, YW_MAX_LIST_ITEMS);
	assert_string_equal(args->items[4095].s, "x4095");
	assert_true(yw_event_nfields(ev) <= YW_MAX_FIELDS);
	assert_true(yw_event_nanomalies(ev) >= 2);
	assert_non_null(yw_event_get(ev, "@timestamp"));
	free(s);
}

static void test_split_execve_args(void **state)
{
	struct yw_event *ev =
	    dec(*state, "type=EXECVE msg=audit(1.0:9): argc=3 a0=\"sh\" a1_len=10 "
	                "a1[0]=6162636465 a1[1]=\"fghij\" a2=2D63");
	const char *args[] = {"sh", "abcdefghij", "-c"};
	assert_list(ev, "process.args", args, 3);
	assert_field(ev, "process.command_line", "sh abcdefghij -c");
	assert_field(ev, "auditd.a2", "-c");
	assert_null(yw_event_get(ev, "auditd.a1[0]"));
	const struct yw_logsource *ls = yw_event_logsource(ev);
	assert_string_equal(ls->category, "process_creation");
}

static void test_ecs_process_creation(void **state)
{
	struct yw_event *ev = dec(
	    *state,
	    "type=SYSCALL msg=audit(1604996384.965:93777): arch=c000003e syscall=59 success=yes "
	    "exit=0 a0=558e25052c70 a1=558e251641a0 items=2 ppid=29002 pid=2168 auid=1000 "
	    "uid=1001 euid=0 gid=1000 tty=pts0 ses=104 comm=\"dd\" exe=\"/bin/dd\" key=(null)\n"
	    "type=EXECVE msg=audit(1604996384.965:93777): argc=2 a0=\"dd\" a1=\"if=/dev/zero\"\n"
	    "type=CWD msg=audit(1604996384.965:93777): cwd=\"/home/wardog\"\n"
	    "type=PATH msg=audit(1604996384.965:93777): item=0 name=\"/bin/dd\" nametype=NORMAL\n"
	    "type=PATH msg=audit(1604996384.965:93777): item=1 name=\"/lib64/ld.so\" "
	    "nametype=NORMAL\n"
	    "type=PROCTITLE msg=audit(1604996384.965:93777): "
	    "proctitle=64640069663D2F6465762F7A65726F");
	const char *types[] = {"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"};
	assert_list(ev, "auditd.type", types, 5);
	const char *a0[] = {"558e25052c70", "dd"};
	assert_list(ev, "auditd.a0", a0, 2);
	const char *names[] = {"/bin/dd", "/lib64/ld.so"};
	assert_list(ev, "auditd.name", names, 2);
	assert_list(ev, "file.path", names, 2);
	const char *args[] = {"dd", "if=/dev/zero"};
	assert_list(ev, "process.args", args, 2);
	assert_field(ev, "process.command_line", "dd if=/dev/zero");
	assert_field(ev, "process.executable", "/bin/dd");
	assert_field(ev, "process.name", "dd");
	assert_field(ev, "process.working_directory", "/home/wardog");
	const struct yw_field *pp = yw_event_get(ev, "process.parent.pid");
	assert_non_null(pp);
	assert_int_equal(pp->type, YW_T_INT);
	assert_int_equal(pp->num, 29002);
	assert_field(ev, "process.pid", "2168");
	assert_field(ev, "user.id", "1001");
	assert_field(ev, "user.audit.id", "1000");
	assert_field(ev, "user.effective.id", "0");
	assert_field(ev, "auditd.SYSCALL", "execve");
	assert_field(ev, "auditd.ses", "104");
	assert_field(ev, "event.category", "process");
	assert_field(ev, "event.action", "execve");
	assert_field(ev, "event.outcome", "success");
	assert_field(ev, "auditd.proctitle", "dd if=/dev/zero");
	const struct yw_logsource *ls = yw_event_logsource(ev);
	assert_string_equal(ls->category, "process_creation");
}

/* ---- grouping ---- */

struct got {
	char text[16][512];
	const char *note[16];
	size_t n;
};

static int collect(void *ud, const struct yw_audit_group *g)
{
	struct got *got = ud;
	if (got->n < 16) {
		snprintf(got->text[got->n], sizeof(got->text[0]), "%.*s", (int)g->len, g->text);
		got->note[got->n] = g->note;
	}
	got->n++;
	return 0;
}

static void feed(struct yw_audit *a, struct got *got, const char *rec)
{
	assert_int_equal(yw_audit_feed(a, rec, strlen(rec), false, collect, got), 0);
}

static void test_group_eoe_and_interleave(void **state)
{
	struct fx *f = *state;
	struct got got = {0};
	feed(f->a, &got, "type=SYSCALL msg=audit(10.000:5): a=1");
	feed(f->a, &got, "type=SYSCALL msg=audit(10.000:6): a=2");
	feed(f->a, &got, "type=CWD msg=audit(10.000:5): cwd=\"/\"");
	assert_int_equal(got.n, 0);
	feed(f->a, &got, "type=EOE msg=audit(10.000:5):");
	assert_int_equal(got.n, 1);
	assert_string_equal(got.text[0], "type=SYSCALL msg=audit(10.000:5): a=1\n"
	                                 "type=CWD msg=audit(10.000:5): cwd=\"/\"\n"
	                                 "type=EOE msg=audit(10.000:5):");
	feed(f->a, &got, "type=PROCTITLE msg=audit(10.000:6): proctitle=\"x\"");
	assert_int_equal(got.n, 1);
	/* A different serial: the group ended by PROCTITLE is done; a user record stands alone. */
	feed(f->a, &got, "type=USER_LOGIN msg=audit(10.000:7): res=success");
	assert_int_equal(got.n, 2);
	assert_string_equal(got.text[1], "type=SYSCALL msg=audit(10.000:6): a=2\n"
	                                 "type=PROCTITLE msg=audit(10.000:6): proctitle=\"x\"");
	feed(f->a, &got, "type=USER_END msg=audit(10.000:8): res=success");
	assert_int_equal(got.n, 3);
	assert_string_equal(got.text[2], "type=USER_LOGIN msg=audit(10.000:7): res=success");
	assert_int_equal(yw_audit_flush(f->a, collect, &got), 0);
	assert_int_equal(got.n, 4);
	assert_null(got.note[3]);
	/* Same serial on another node is another event. */
	feed(f->a, &got, "node=a type=SYSCALL msg=audit(10.000:9): x=1");
	feed(f->a, &got, "node=b type=SYSCALL msg=audit(10.000:9): x=2");
	assert_int_equal(yw_audit_flush(f->a, collect, &got), 0);
	assert_int_equal(got.n, 6);
}

static void test_group_stale_and_evict(void **state)
{
	struct fx *f = *state;
	struct got got = {0};
	/* No EOE, no PROCTITLE: a record 2 s later completes it. */
	feed(f->a, &got, "type=SYSCALL msg=audit(100.000:1): a=1");
	feed(f->a, &got, "type=PATH msg=audit(100.000:1): name=\"x\"");
	feed(f->a, &got, "type=SYSCALL msg=audit(101.000:2): a=1");
	assert_int_equal(got.n, 0);
	feed(f->a, &got, "type=SYSCALL msg=audit(102.500:3): a=1");
	assert_int_equal(got.n, 1);
	assert_int_equal(yw_audit_flush(f->a, collect, &got), 0);
	assert_int_equal(got.n, 3);

	/* More open events than YW_MAX_AUDIT_PENDING: the oldest goes out early, noted. */
	struct got g2 = {0};
	char rec[128];
	for (int i = 0; i < YW_MAX_AUDIT_PENDING + 1; i++) {
		snprintf(rec, sizeof(rec), "type=SYSCALL msg=audit(500.000:%d): a=1", 1000 + i);
		feed(f->a, &g2, rec);
	}
	assert_int_equal(g2.n, 1);
	assert_string_equal(g2.text[0], "type=SYSCALL msg=audit(500.000:1000): a=1");
	assert_non_null(g2.note[0]);
	assert_int_equal(yw_audit_flush(f->a, collect, &g2), 0);
	assert_int_equal(g2.n, YW_MAX_AUDIT_PENDING + 1);
	/* Too many records in one group: emitted at the limit. */
	struct got g3 = {0};
	for (int i = 0; i < YW_MAX_AUDIT_RECORDS + 3; i++)
		feed(f->a, &g3, "type=PATH msg=audit(600.000:1): name=\"y\"");
	assert_int_equal(g3.n, 1);
	assert_non_null(g3.note[0]);
	assert_int_equal(yw_audit_flush(f->a, collect, &g3), 0);
	assert_int_equal(g3.n, 2);
	/* Headerless lines are groups of their own at once. */
	struct got g4 = {0};
	feed(f->a, &g4, "garbage without header");
	assert_int_equal(g4.n, 1);
}

static void test_find(void **state)
{
	(void)state;
	const char *l1 =
	    "Mar  1 10:00:00 host audispd: node=web1 type=SYSCALL msg=audit(1.0:2): a=1";
	const char *p = yw_audit_find(l1, strlen(l1));
	assert_non_null(p);
	assert_string_equal(p, "node=web1 type=SYSCALL msg=audit(1.0:2): a=1");
	const char *l2 = "Mar  1 10:00:00 host kernel: [ 1.0] audit: type=1400 audit(1.0:2): x=1";
	p = yw_audit_find(l2, strlen(l2));
	assert_non_null(p);
	assert_string_equal(p, "type=1400 audit(1.0:2): x=1");
	const char *l3 = "Mar  1 10:00:00 host prog: content-type=text and more";
	assert_null(yw_audit_find(l3, strlen(l3)));
	assert_non_null(yw_audit_find("  type=X", 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_quoted_and_bare, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hex_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msg_payload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_and_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_huge_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_execve_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ecs_process_creation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_eoe_and_interleave, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_stale_and_evict, setup, teardown),
	    cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
