/* The FIM who-data cache: audit record assembly, path normalisation, matching, expiry, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/whodata.h"
#include "yw_limits.h"

#define T0 1700000000000000000LL /* the records' base time (ns) */
#define MS 1000000LL

static void feed(struct yw_whodata *wd, const char *line, int64_t now)
{
	assert_int_equal(yw_whodata_feed(wd, line, strlen(line), now), 0);
}

/* One syscall event: SYSCALL, CWD, PATH records (name, nametype pairs), PROCTITLE, EOE. */
static void event(struct yw_whodata *wd, int64_t ms, unsigned serial, int pid, const char *cwd,
                  const char *const *paths, size_t npaths, const char *key)
{
	char l[1024], ts[64];
	snprintf(ts, sizeof(ts), "%lld.%03lld:%u", (long long)((T0 / MS + ms) / 1000),
	         (long long)((T0 / MS + ms) % 1000), serial);
	int64_t now = T0 + ms * MS;
	snprintf(l, sizeof(l),
	         "type=SYSCALL msg=audit(%s): arch=c000003e syscall=257 success=yes exit=3 "
	         "a0=ffffff9c a1=55d0 a2=241 a3=1b6 items=%zu ppid=4242 pid=%d auid=1000 uid=0 "
	         "gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"vi\" "
	         "exe=\"/usr/bin/vim.basic\" subj=unconfined key=\"%s\"",
	         ts, npaths + 1, pid, key);
	feed(wd, l, now);
	snprintf(l, sizeof(l), "type=CWD msg=audit(%s): cwd=\"%s\"", ts, cwd);
	feed(wd, l, now);
	snprintf(l, sizeof(l),
	         "type=PATH msg=audit(%s): item=0 name=\"%s\" inode=2 dev=08:01 mode=040755 "
	         "ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
	         ts, cwd);
	feed(wd, l, now);
	for (size_t i = 0; i < npaths; i++) {
		snprintf(
		    l, sizeof(l),
		    "type=PATH msg=audit(%s): item=%zu name=%s inode=9 dev=08:01 mode=0100644 "
		    "ouid=0 ogid=0 rdev=00:00 nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
		    ts, i + 1, paths[2 * i], paths[2 * i + 1]);
		feed(wd, l, now);
	}
	/* "vi" NUL "passwd", hex as auditd writes a proctitle with a NUL */
	snprintf(l, sizeof(l), "type=PROCTITLE msg=audit(%s): proctitle=766900706173737764", ts);
	feed(wd, l, now);
	snprintf(l, sizeof(l), "type=EOE msg=audit(%s): ", ts);
	feed(wd, l, now);
}

static const struct yw_whodata_rec *find(struct yw_whodata *wd, const char *path, int64_t ref_ms,
                                         int64_t now_ms)
{
	return yw_whodata_find(wd, path, strlen(path), T0 + ref_ms * MS, T0 + now_ms * MS);
}

static void test_basic_fields_and_json(void **st)
{
	(void)st;
	struct yw_whodata *wd;
	assert_int_equal(yw_whodata_new(&wd), 0);
	assert_false(yw_whodata_live(wd, T0));
	const char *p[] = {"\"/etc/passwd\"", "NORMAL"};
	event(wd, 0, 100, 777, "/root", p, 1, "yw_fim");
	assert_true(yw_whodata_live(wd, T0 + 1000 * MS));
	const struct yw_whodata_rec *r = find(wd, "/etc/passwd", 10, 20);
	assert_non_null(r);
	assert_int_equal(r->pid, 777);
	assert_int_equal(r->ppid, 4242);
	assert_int_equal(r->uid, 0);
	assert_int_equal(r->auid, 1000);
	assert_int_equal(r->serial, 100);
	assert_int_equal(r->nametype, YW_WHODATA_NORMAL);
	assert_string_equal(r->exe, "/usr/bin/vim.basic");
	assert_string_equal(r->cmdline, "vi passwd");
	/* the parent directory (PARENT) is not an entry */
	assert_null(find(wd, "/root", 0, 20));
	struct yw_strbuf b = YW_STRBUF_INIT;
	yw_strbuf_init(&b, 0);
	assert_int_equal(yw_whodata_json(wd, r, &b), 0);
	assert_non_null(strstr(b.data, ",\"user.id\":\"0\",\"user.name\":\"root\""));
	assert_non_null(strstr(b.data, "\"user.audit.id\":\"1000\""));
	assert_non_null(strstr(b.data, "\"process.pid\":777,\"process.ppid\":4242"));
	assert_non_null(strstr(b.data, "\"process.executable\":\"/usr/bin/vim.basic\""));
	assert_non_null(strstr(b.data, "\"process.name\":\"vim.basic\""));
	assert_non_null(strstr(b.data, "\"process.command_line\":\"vi passwd\""));
	assert_non_null(strstr(b.data, "\"yiwang.fim.whodata\":true"));
	yw_strbuf_free(&b);
	/* outside the window of the inotify event: no match */
	assert_null(find(wd, "/etc/passwd", YW_WHODATA_WINDOW_MS + 100, 20));
	assert_null(find(wd, "/etc/passwd", -YW_WHODATA_WINDOW_MS - 100, 20));
	yw_whodata_free(wd);
}

static void test_relative_and_nametypes(void **st)
{
	(void)st;
	struct yw_whodata *wd;
	assert_int_equal(yw_whodata_new(&wd), 0);
	/* a rename: old name DELETE, new name CREATE, both relative to the cwd; one hex-encoded */
	const char *p[] = {"\"./sub/../a.tmp\"",       "DELETE", "\"b.conf\"", "CREATE",
	                   "2F746D702F7820792E747874", "NORMAL", "\"gone\"",   "UNKNOWN"};
	event(wd, 0, 200, 55, "/srv/app//conf", p, 4, "(null)");
	const struct yw_whodata_rec *r = find(wd, "/srv/app/conf/a.tmp", 0, 0);
	assert_non_null(r);
	assert_int_equal(r->nametype, YW_WHODATA_DELETE);
	r = find(wd, "/srv/app/conf/b.conf", 0, 0);
	assert_non_null(r);
	assert_int_equal(r->nametype, YW_WHODATA_CREATE);
	r = find(wd, "/tmp/x y.txt", 0, 0);
	assert_non_null(r);
	assert_int_equal(r->nametype, YW_WHODATA_NORMAL);
	assert_null(find(wd, "/srv/app/conf/gone", 0, 0));
	assert_int_equal(yw_whodata_count(wd, T0, NULL), 3);
	/* key=(null): not the FIM watch rules, so the FIM side does not wait */
	assert_false(yw_whodata_live(wd, T0));
	yw_whodata_free(wd);
}

static void test_newest_wins_and_failed(void **st)
{
	(void)st;
	struct yw_whodata *wd;
	assert_int_equal(yw_whodata_new(&wd), 0);
	const char *p[] = {"\"/etc/hosts\"", "NORMAL"};
	event(wd, 0, 300, 1001, "/", p, 1, "yw_fim");
	event(wd, 400, 301, 1002, "/", p, 1, "yw_fim");
	event(wd, 200, 299, 1003, "/", p, 1, "yw_fim"); /* arrived late, older */
	const struct yw_whodata_rec *r = find(wd, "/etc/hosts", 300, 500);
	assert_non_null(r);
	assert_int_equal(r->pid, 1002);
	/* a failed syscall changed nothing: not an entry */
	feed(wd,
	     "type=SYSCALL msg=audit(1700000001.000:400): arch=c000003e syscall=2 success=no "
	     "exit=-13 items=1 ppid=1 pid=9 auid=4294967295 uid=33 comm=\"x\" exe=\"/bin/x\" "
	     "key=\"yw_fim\"",
	     T0 + 1000 * MS);
	feed(wd,
	     "type=PATH msg=audit(1700000001.000:400): item=0 name=\"/etc/shadow\" nametype=NORMAL",
	     T0 + 1000 * MS);
	feed(wd, "type=PROCTITLE msg=audit(1700000001.000:400): proctitle=\"x\"", T0 + 1000 * MS);
	assert_null(find(wd, "/etc/shadow", 1000, 1000));
	/* garbage and other record types are ignored */
	feed(wd, "type=PATH msg=audit(17x): name=\"/etc/a\" nametype=NORMAL", T0);
	feed(wd, "not an audit line", T0);
	feed(wd, "type=USER_LOGIN msg=audit(1700000001.000:401): pid=1 uid=0 res=success", T0);
	assert_int_equal(yw_whodata_count(wd, T0 + 1000 * MS, NULL), 3);
	yw_whodata_free(wd);
}

static void test_expiry(void **st)
{
	(void)st;
	struct yw_whodata *wd;
	assert_int_equal(yw_whodata_new(&wd), 0);
	const char *p[] = {"\"/etc/a\"", "NORMAL"};
	event(wd, 0, 1, 10, "/", p, 1, "yw_fim");
	assert_int_equal(yw_whodata_count(wd, T0 + (YW_WHODATA_TTL_MS - 1) * MS, NULL), 1);
	assert_null(find(wd, "/etc/a", 0, YW_WHODATA_TTL_MS + 1));
	assert_int_equal(yw_whodata_count(wd, T0 + (YW_WHODATA_TTL_MS + 1) * MS, NULL), 0);
	/* an event that never got its PROCTITLE/EOE is finished once it is too old */
	feed(wd,
	     "type=SYSCALL msg=audit(1700000010.000:2): arch=c000003e syscall=82 success=yes "
	     "exit=0 items=2 ppid=1 pid=11 auid=0 uid=0 comm=\"mv\" exe=\"/bin/mv\" key=\"k\"",
	     T0 + 10000 * MS);
	feed(wd, "type=PATH msg=audit(1700000010.000:2): item=0 name=\"/etc/b\" nametype=CREATE",
	     T0 + 10000 * MS);
	assert_int_equal(yw_whodata_count(wd, T0 + 10000 * MS, NULL), 0);
	feed(wd, "type=EOE msg=audit(1700000010.500:9):", T0 + 10500 * MS);
	assert_int_equal(yw_whodata_count(wd, T0 + 10500 * MS, NULL), 0); /* may still grow */
	feed(wd, "type=EOE msg=audit(1700000011.500:9):", T0 + 11500 * MS);
	assert_int_equal(yw_whodata_count(wd, T0 + 11500 * MS, NULL), 1);
	const struct yw_whodata_rec *r = find(wd, "/etc/b", 10000, 11500);
	assert_non_null(r);
	assert_int_equal(r->nametype, YW_WHODATA_CREATE);
	assert_string_equal(r->cmdline, "");
	yw_whodata_free(wd);
}

static void test_bounds(void **st)
{
	(void)st;
	struct yw_whodata *wd;
	assert_int_equal(yw_whodata_new(&wd), 0);
	char name[64];
	const char *p[] = {name, "CREATE"};
	for (unsigned i = 0; i < YW_WHODATA_MAX_ENTRIES + 100; i++) {
		snprintf(name, sizeof(name), "\"/var/f%u\"", i);
		event(wd, 0, i + 1, (int)i, "/", p, 1, "yw_fim");
	}
	size_t bytes = 0;
	assert_int_equal(yw_whodata_count(wd, T0, &bytes), YW_WHODATA_MAX_ENTRIES);
	assert_true(bytes <= YW_WHODATA_MAX_BYTES);
	assert_null(find(wd, "/var/f0", 0, 0)); /* the oldest went first */
	assert_null(find(wd, "/var/f99", 0, 0));
	assert_non_null(find(wd, "/var/f100", 0, 0));
	const struct yw_whodata_rec *r = find(wd, "/var/f4195", 0, 0);
	assert_non_null(r);
	assert_int_equal(r->pid, 4195);
	/* bytes: long command lines fill the byte budget before the count */
	static char l[8192], t[4 * YW_WHODATA_MAX_CMDLINE + 1];
	for (int i = 0; i < 4 * YW_WHODATA_MAX_CMDLINE; i++)
		t[i] = i % 2 ? '1' : '4'; /* "A" hex-encoded */
	t[4 * YW_WHODATA_MAX_CMDLINE] = 0;
	for (unsigned i = 0; i < YW_WHODATA_MAX_ENTRIES; i++) {
		unsigned s = 100000 + i;
		snprintf(l, sizeof(l),
		         "type=SYSCALL msg=audit(1700000000.000:%u): success=yes pid=1 uid=0 "
		         "exe=\"/bin/sh\"",
		         s);
		feed(wd, l, T0);
		snprintf(l, sizeof(l),
		         "type=PATH msg=audit(1700000000.000:%u): item=0 name=\"/var/g%u\" "
		         "nametype=NORMAL",
		         s, i);
		feed(wd, l, T0);
		snprintf(l, sizeof(l), "type=PROCTITLE msg=audit(1700000000.000:%u): proctitle=%s",
		         s, t);
		feed(wd, l, T0);
	}
	size_t n = yw_whodata_count(wd, T0, &bytes);
	assert_true(bytes <= YW_WHODATA_MAX_BYTES);
	assert_true(n < YW_WHODATA_MAX_ENTRIES);
	r = find(wd, "/var/g4095", 0, 0);
	assert_non_null(r);
	assert_int_equal(strlen(r->cmdline), YW_WHODATA_MAX_CMDLINE); /* capped */
	yw_whodata_free(wd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_fields_and_json),
	    cmocka_unit_test(test_relative_and_nametypes),
	    cmocka_unit_test(test_newest_wins_and_failed),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
