/* The journald collector against journal files written by systemd-journal-remote: entries as
 * syslog lines the decoders understand, resume from the spool's cursor or the state file
 * without repeat or skip (appended entries, a second file), a full sink, match filters,
 * binary and over-long messages, and option checks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#ifdef YW_HAVE_SYSTEMD

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"
#include "yiwang/spool.h"

#define REMOTE "/lib/systemd/systemd-journal-remote"
#define BOOT   "0123456789abcdef0123456789abcdef"

struct h {
	char dir[128];   /* journal directory */
	char spdir[160]; /* spool */
	char state[160]; /* collector state file */
	struct yw_spool *sp;
	void *col;
	int full_every, calls;
	char *got; /* lines taken, each + "\n" */
	size_t got_len;
	int nrec;
	bool last_had_cursor;
};

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char p[512];
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct h *h = ud;
	if (h->full_every && ++h->calls % h->full_every == 0)
		return YW_SINK_FULL;
	assert_int_equal(rec->kind, YW_REC_LOG);
	assert_int_equal(rec->source_len, 8);
	assert_memory_equal(rec->source, "journald", 8);
	int rc = yw_spool_append(h->sp, rec, cur, cl);
	if (rc)
		return rc;
	char *g = realloc(h->got, h->got_len + rec->len + 2);
	assert_non_null(g);
	h->got = g;
	memcpy(g + h->got_len, rec->data, rec->len);
	h->got_len += rec->len;
	g[h->got_len++] = '\n';
	g[h->got_len] = 0;
	h->nrec++;
	h->last_had_cursor = cur && cl > 0;
	return 0;
}

static int cursor_cb(void *ud, const char *src, size_t n, const void **c, size_t *cl, uint64_t *seq)
{
	return yw_spool_cursor(ud, src, n, c, cl, seq);
}

static int start_opts(struct h *h, const struct yw_collector_opt *opts, size_t n)
{
	struct yw_spool_opts o = {.sync_ms = -1};
	if (yw_spool_open(h->spdir, &o, &h->sp) != 0)
		return -100;
	struct yw_collector_env env = {
	    .state_path = h->state, .cursor = cursor_cb, .cursor_ud = h->sp};
	int rc = yw_collector_journald.init(&env, opts, n, &h->col);
	if (rc) {
		yw_spool_close(h->sp);
		h->sp = NULL;
	}
	return rc;
}

static int start(struct h *h, const char *startpos)
{
	struct yw_collector_opt opts[] = {{"directory", h->dir}, {"start", startpos}};
	return start_opts(h, opts, 2);
}

/* commit: a clean stop; otherwise like kill -9 after the spool's records became durable */
static void stop(struct h *h, bool commit)
{
	if (commit) {
		assert_int_equal(yw_spool_sync(h->sp), 0);
		assert_int_equal(yw_collector_journald.commit(h->col), 0);
	}
	yw_collector_journald.exit(h->col);
	h->col = NULL;
	yw_spool_close(h->sp);
	h->sp = NULL;
}

/* Polls until a poll takes nothing; returns the records taken. */
static int drain(struct h *h)
{
	int total = 0;
	for (int i = 0; i < 1000; i++) {
		int n = yw_collector_journald.poll(h->col, sink, h);
		assert_true(n >= 0);
		if (n == 0 && !(h->full_every && h->calls % h->full_every == 0))
			break;
		total += n;
	}
	return total;
}

static void clear_got(struct h *h)
{
	free(h->got);
	h->got = NULL;
	h->got_len = 0;
	h->nrec = 0;
}

static int setup(void **state)
{
	*state = NULL;
	if (access(REMOTE, X_OK) != 0) {
		fprintf(stderr, "skipped: %s missing (Debian package systemd-journal-remote)\n",
		        REMOTE);
		return 0; /* each test skips */
	}
	static int n;
	struct h *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	snprintf(h->dir, sizeof(h->dir), "/tmp/yw-coljd-%d-%d", (int)getpid(), n++);
	snprintf(h->spdir, sizeof(h->spdir), "%s-spool", h->dir);
	snprintf(h->state, sizeof(h->state), "%s-jd.state", h->dir);
	rm_rf(h->dir);
	rm_rf(h->spdir);
	unlink(h->state);
	assert_int_equal(mkdir(h->dir, 0700), 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct h *h = *state;
	if (!h)
		return 0;
	if (h->col)
		stop(h, false);
	rm_rf(h->dir);
	rm_rf(h->spdir);
	unlink(h->state);
	char tmp[200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->state);
	unlink(tmp);
	free(h->got);
	free(h);
	return 0;
}

/* The test's harness; skips the test when setup found no systemd-journal-remote. */
static struct h *harness(void **state)
{
	if (!*state)
		skip();
	return *state;
}

/* ---- writing journal files ---- */

struct ent {
	uint64_t usec; /* __REALTIME_TIMESTAMP; monotonic follows it */
	const char *host, *ident, *comm, *pid, *prio, *fac, *unit;
	const char *msg;
	size_t msg_len; /* 0: strlen(msg); a binary message is written length-prefixed */
	const char *source_usec;
};

static void put_field(FILE *f, const char *name, const char *v)
{
	if (v)
		fprintf(f, "%s=%s\n", name, v);
}

/* Appends entries to file (created when missing) in the journal export format. */
static void jwrite(const char *file, const struct ent *e, size_t n)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), REMOTE " --output=%s - 2>/dev/null", file);
	FILE *f = popen(cmd, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "__REALTIME_TIMESTAMP=%llu\n", (unsigned long long)e[i].usec);
		fprintf(f, "__MONOTONIC_TIMESTAMP=%llu\n",
		        (unsigned long long)(e[i].usec - 1690000000000000ULL));
		fprintf(f, "_BOOT_ID=" BOOT "\n");
		put_field(f, "_HOSTNAME", e[i].host);
		put_field(f, "SYSLOG_IDENTIFIER", e[i].ident);
		put_field(f, "_COMM", e[i].comm);
		put_field(f, "_PID", e[i].pid);
		put_field(f, "PRIORITY", e[i].prio);
		put_field(f, "SYSLOG_FACILITY", e[i].fac);
		put_field(f, "_SYSTEMD_UNIT", e[i].unit);
		put_field(f, "_SOURCE_REALTIME_TIMESTAMP", e[i].source_usec);
		if (e[i].msg && e[i].msg_len) {
			uint8_t len[8];
			for (int k = 0; k < 8; k++)
				len[k] = (uint8_t)((uint64_t)e[i].msg_len >> (8 * k));
			fputs("MESSAGE\n", f);
			fwrite(len, 1, 8, f);
			fwrite(e[i].msg, 1, e[i].msg_len, f);
			fputc('\n', f);
		} else {
			put_field(f, "MESSAGE", e[i].msg);
		}
		fputc('\n', f);
	}
	assert_int_equal(pclose(f), 0);
}

/* n plain entries "msg <first>".."msg <first+n-1>", one second apart */
static void jwrite_seq(const char *file, int first, int n)
{
	struct ent e[64];
	char msgs[64][32];
	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		snprintf(msgs[i], sizeof(msgs[i]), "msg %d", first + i);
		e[i] = (struct ent){.usec = 1700000000000000ULL + (uint64_t)(first + i) * 1000000,
		                    .host = "h1",
		                    .ident = "app",
		                    .pid = "7",
		                    .msg = msgs[i]};
	}
	jwrite(file, e, (size_t)n);
}

/* the lines jwrite_seq makes for first..last, each + "\n" */
static char *expect_seq(int first, int last)
{
	char *s = calloc((size_t)(last - first + 1) * 128 + 1, 1);
	assert_non_null(s);
	size_t o = 0;
	for (int k = first; k <= last; k++) {
		long long t = 1700000000LL + k;
		time_t tt = (time_t)t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		o += (size_t)sprintf(
		    s + o, "%04d-%02d-%02dT%02d:%02d:%02d.000000+00:00 h1 app[7]: msg %d\n",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    k);
	}
	return s;
}

static void assert_got_seq(struct h *h, int first, int last)
{
	char *want = expect_seq(first, last);
	assert_string_equal(h->got ? h->got : "", want);
	free(want);
}

/* ---- tests ---- */

struct decoded {
	char host[64], prog[64], msg[256], user[64];
	int64_t pid;
	int n;
};

static int on_event(void *ud, struct yw_event *ev)
{
	struct decoded *d = ud;
	const char *s;
	d->n++;
	if ((s = yw_event_str(ev, "host.name")))
		snprintf(d->host, sizeof(d->host), "%s", s);
	if ((s = yw_event_str(ev, "process.name")))
		snprintf(d->prog, sizeof(d->prog), "%s", s);
	if ((s = yw_event_str(ev, "message")))
		snprintf(d->msg, sizeof(d->msg), "%s", s);
	if ((s = yw_event_str(ev, "user.name")))
		snprintf(d->user, sizeof(d->user), "%s", s);
	const struct yw_field *f = yw_event_get(ev, "process.pid");
	d->pid = f ? f->num : -1;
	assert_int_equal(yw_event_nanomalies(ev), 0);
	return 0;
}

static void test_lines(void **state)
{
	struct h *h = harness(state);
	char file[200];
	snprintf(file, sizeof(file), "%s/system.journal", h->dir);
	struct ent e[] = {
	    {.usec = 1700000000123456ULL,
	     .host = "web1",
	     .ident = "sshd",
	     .pid = "4242",
	     .prio = "5",
	     .fac = "10",
	     .msg = "Failed password for root from 10.0.0.9 port 52113 ssh2"},
	    /* no identifier: _COMM; no priority; source time preferred over receive time */
	    {.usec = 1700000001000000ULL,
	     .host = "web1",
	     .comm = "cron",
	     .pid = "99",
	     .source_usec = "1700000000999999",
	     .msg = "job done"},
	    /* no host: the local name; header-breaking bytes in the identifier; no pid */
	    {.usec = 1700000002000000ULL, .ident = "my app:x[1]", .prio = "3", .msg = "oops"},
	    /* no MESSAGE: nothing to send */
	    {.usec = 1700000003000000ULL, .host = "web1", .ident = "meta"},
	};
	jwrite(file, e, 4);
	assert_int_equal(start(h, "beginning"), 0);
	assert_true(yw_collector_journald.fd(h->col) >= 0);
	assert_int_equal(drain(h), 3);
	assert_true(h->last_had_cursor);

	char local[256] = {0};
	gethostname(local, sizeof(local) - 1);
	char want[1024];
	snprintf(want, sizeof(want),
	         "<85>2023-11-14T22:13:20.123456+00:00 web1 sshd[4242]: Failed password for root "
	         "from 10.0.0.9 port 52113 ssh2\n"
	         "2023-11-14T22:13:20.999999+00:00 web1 cron[99]: job done\n"
	         "<11>2023-11-14T22:13:22.000000+00:00 %s my_app_x_1_: oops\n",
	         local);
	assert_string_equal(h->got, want);

	/* the lines decode as the syslog decoder's own input would: header fields, sshd */
	struct decoded d = {0};
	struct yw_decoder *dec;
	assert_int_equal(yw_decoder_new("auto", NULL, on_event, &d, &dec), 0);
	char *nl = strchr(h->got, '\n');
	assert_int_equal(yw_decoder_line(dec, h->got, (size_t)(nl - h->got)), 0);
	assert_int_equal(yw_decoder_flush(dec), 0);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.host, "web1");
	assert_string_equal(d.prog, "sshd");
	assert_int_equal(d.pid, 4242);
	assert_string_equal(d.user, "root");
	assert_string_equal(d.msg, "Failed password for root from 10.0.0.9 port 52113 ssh2");
	yw_decoder_free(dec);

	/* nothing more, and a poll after the end stays quiet */
	assert_int_equal(yw_collector_journald.poll(h->col, sink, h), 0);
	stop(h, true);
}

/* kill -9 after the spool took the records: the spool's cursor resumes, including across
 * entries appended while the agent was down and entries in a second journal file. */
static void test_resume_cursor(void **state)
{
	struct h *h = harness(state);
	char a[200], b[200];
	snprintf(a, sizeof(a), "%s/a.journal", h->dir);
	snprintf(b, sizeof(b), "%s/b.journal", h->dir);
	jwrite_seq(a, 1, 5);
	assert_int_equal(start(h, "beginning"), 0);
	assert_int_equal(drain(h), 5);
	assert_got_seq(h, 1, 5);
	stop(h, false); /* no commit: only the spool knows */

	jwrite_seq(a, 6, 3);
	clear_got(h);
	assert_int_equal(start(h, "beginning"), 0);
	assert_int_equal(drain(h), 3);
	assert_got_seq(h, 6, 8);

	/* live: appended to the open file, then a new file in the directory */
	jwrite_seq(a, 9, 2);
	assert_int_equal(drain(h), 2);
	jwrite_seq(b, 11, 3);
	assert_int_equal(drain(h), 3);
	assert_got_seq(h, 6, 13);
	stop(h, false);

	/* the newest cursor is in the second file (another seqnum id) */
	jwrite_seq(b, 14, 1);
	clear_got(h);
	assert_int_equal(start(h, "end"), 0);
	assert_int_equal(drain(h), 1);
	assert_got_seq(h, 14, 14);
	stop(h, false);

	/* nothing new: nothing repeated */
	clear_got(h);
	assert_int_equal(start(h, "beginning"), 0);
	assert_int_equal(drain(h), 0);
	stop(h, false);
}

/* The state file covers what made no record: a start at the end of the journal. */
static void test_resume_state(void **state)
{
	struct h *h = harness(state);
	char a[200];
	snprintf(a, sizeof(a), "%s/a.journal", h->dir);
	jwrite_seq(a, 1, 4);
	assert_int_equal(start(h, "end"), 0);
	assert_int_equal(drain(h), 0);
	stop(h, true);

	jwrite_seq(a, 5, 2);
	assert_int_equal(start(h, "end"), 0);
	assert_int_equal(drain(h), 2);
	assert_got_seq(h, 5, 6);
	stop(h, true);

	/* a damaged state file is ignored: the spool's cursor still holds */
	FILE *f = fopen(h->state, "r+b");
	assert_non_null(f);
	fseek(f, 20, SEEK_SET);
	fputc(0x5a, f);
	fclose(f);
	jwrite_seq(a, 7, 1);
	clear_got(h);
	assert_int_equal(start(h, "end"), 0);
	assert_int_equal(drain(h), 1);
	assert_got_seq(h, 7, 7);
	stop(h, true);

	/* an empty journal at the first start: what arrives later is all new */
	char dir2[200];
	snprintf(dir2, sizeof(dir2), "%s/empty", h->dir);
	assert_int_equal(mkdir(dir2, 0700), 0);
	unlink(h->state);
	rm_rf(h->spdir);
	clear_got(h);
	struct yw_collector_opt opts[] = {{"directory", dir2}, {"start", "end"}};
	assert_int_equal(start_opts(h, opts, 2), 0);
	assert_int_equal(drain(h), 0);
	stop(h, true);
	char c[220];
	snprintf(c, sizeof(c), "%s/c.journal", dir2);
	jwrite_seq(c, 1, 2);
	assert_int_equal(start_opts(h, opts, 2), 0);
	assert_int_equal(drain(h), 2);
	assert_got_seq(h, 1, 2);
	stop(h, true);
	unlink(c);
	rmdir(dir2);
}

/* A full sink: the refused entry is offered again, nothing is lost or doubled. */
static void test_sink_full(void **state)
{
	struct h *h = harness(state);
	char a[200];
	snprintf(a, sizeof(a), "%s/a.journal", h->dir);
	jwrite_seq(a, 1, 10);
	assert_int_equal(start(h, "beginning"), 0);
	h->full_every = 3;
	drain(h);
	assert_got_seq(h, 1, 10);
	stop(h, false);
}

static void test_match(void **state)
{
	struct h *h = harness(state);
	char a[200];
	snprintf(a, sizeof(a), "%s/a.journal", h->dir);
	struct ent e[] = {
	    {.usec = 1700000000000000ULL,
	     .host = "h",
	     .ident = "sshd",
	     .unit = "ssh.service",
	     .msg = "one"},
	    {.usec = 1700000001000000ULL,
	     .host = "h",
	     .ident = "CRON",
	     .unit = "cron.service",
	     .msg = "two"},
	    {.usec = 1700000002000000ULL,
	     .host = "h",
	     .ident = "sshd",
	     .unit = "ssh.service",
	     .msg = "three"},
	    {.usec = 1700000003000000ULL, .host = "h", .ident = "kernel", .msg = "four"},
	};
	jwrite(a, e, 4);
	struct yw_collector_opt o1[] = {
	    {"file", a}, {"start", "beginning"}, {"match", "_SYSTEMD_UNIT=ssh.service"}};
	assert_int_equal(start_opts(h, o1, 3), 0);
	assert_int_equal(drain(h), 2);
	assert_non_null(strstr(h->got, "sshd: one\n"));
	assert_non_null(strstr(h->got, "sshd: three\n"));
	assert_null(strstr(h->got, "two"));
	stop(h, false);

	/* the same field twice: either value */
	rm_rf(h->spdir);
	clear_got(h);
	struct yw_collector_opt o2[] = {{"file", a},
	                                {"start", "beginning"},
	                                {"match", "_SYSTEMD_UNIT=ssh.service"},
	                                {"match", "_SYSTEMD_UNIT=cron.service"}};
	assert_int_equal(start_opts(h, o2, 4), 0);
	assert_int_equal(drain(h), 3);
	assert_null(strstr(h->got, "four"));
	stop(h, false);

	/* different fields: both */
	rm_rf(h->spdir);
	clear_got(h);
	struct yw_collector_opt o3[] = {{"file", a},
	                                {"start", "beginning"},
	                                {"match", "_SYSTEMD_UNIT=ssh.service"},
	                                {"match", "MESSAGE=three"}};
	assert_int_equal(start_opts(h, o3, 4), 0);
	assert_int_equal(drain(h), 1);
	assert_non_null(strstr(h->got, "sshd: three\n"));
	stop(h, false);
}

static void test_binary(void **state)
{
	struct h *h = harness(state);
	char a[200];
	snprintf(a, sizeof(a), "%s/a.journal", h->dir);
	static const char bin[] = "a\0b\xff\nc\t\xc3\xa9\xed\xa0\x80\x7f\\z";
	/* over-long: 300,000 control bytes escape to 1.2 MB, past the line limit */
	size_t big_n = 300000;
	char *big = malloc(big_n);
	assert_non_null(big);
	memset(big, 1, big_n);
	big[0] = 'S';
	struct ent e[] = {
	    {.usec = 1700000000000000ULL,
	     .host = "h",
	     .ident = "x",
	     .msg = bin,
	     .msg_len = sizeof(bin) - 1},
	    {.usec = 1700000001000000ULL, .host = "h", .ident = "y", .msg = big, .msg_len = big_n},
	};
	jwrite(a, e, 2);
	free(big);
	assert_int_equal(start(h, "beginning"), 0);
	assert_int_equal(drain(h), 2);
	const char *want1 = "2023-11-14T22:13:20.000000+00:00 h x: "
	                    "a\\x00b\\xff\\x0ac\t\xc3\xa9\\xed\\xa0\\x80\\x7f\\z\n";
	assert_memory_equal(h->got, want1, strlen(want1));
	const char *l2 = h->got + strlen(want1);
	size_t l2n = h->got_len - strlen(want1) - 1;
	assert_true(l2n <= YW_MAX_LINE);
	assert_true(l2n > YW_MAX_LINE - 8);
	const char *note = " [yiwang: message cut, 300000 bytes]";
	assert_memory_equal(l2 + l2n - strlen(note), note, strlen(note));
	assert_memory_equal(strstr(l2, "y: "), "y: S\\x01\\x01", 11);
	/* the cut falls between escapes */
	const char *before = l2 + l2n - strlen(note) - 4;
	assert_memory_equal(before, "\\x01", 4);
	stop(h, false);
}

static void test_options(void **state)
{
	struct h *h = harness(state);
	char a[200];
	snprintf(a, sizeof(a), "%s/a.journal", h->dir);
	jwrite_seq(a, 1, 1);
	void *col = NULL;
	struct yw_collector_opt bad[][2] = {
	    {{"start", "middle"}, {"file", a}},   {{"match", "lower=x"}, {"file", a}},
	    {{"match", "NOEQUALS"}, {"file", a}}, {{"match", "=x"}, {"file", a}},
	    {{"directory", h->dir}, {"file", a}}, {{"colour", "blue"}, {"file", a}},
	    {{"file", ""}, {"file", a}},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(yw_collector_journald.init(NULL, bad[i], 2, &col), YW_EINVAL);
		assert_null(col);
	}
	/* no env: no state file, no spool cursor */
	struct yw_collector_opt ok[] = {{"file", a}, {"start", "beginning"}};
	assert_int_equal(yw_collector_journald.init(NULL, ok, 2, &col), 0);
	h->sp = NULL;
	struct yw_spool_opts o = {.sync_ms = -1};
	assert_int_equal(yw_spool_open(h->spdir, &o, &h->sp), 0);
	assert_int_equal(yw_collector_journald.poll(col, sink, h), 1);
	assert_int_equal(yw_collector_journald.commit(col), 0);
	yw_collector_journald.exit(col);
	yw_collector_journald.exit(NULL);
	yw_spool_close(h->sp);
	h->sp = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_cursor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sink_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_match, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_options, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void)
{
	printf("skipped: built without libsystemd (YW_HAVE_SYSTEMD), no journald collector\n");
	return 0;
}

#endif
