/* The process collector on this machine: real execs arrive as process_creation events with the
 * executable, arguments, command line, parent and user; a short-lived process and a non-UTF-8
 * argument still give valid JSON. Skipped when the process connector cannot be opened. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/collector.h"
#include "yiwang/error.h"

#define MAX_SEEN 64

struct seen {
	pid_t want[4];
	size_t nwant;
	json_t *ev[MAX_SEEN]; /* events of the wanted pids */
	size_t nev;
	int invalid; /* records that were not valid JSON */
	int full_every, calls;
};

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct seen *s = ud;
	(void)cur;
	(void)cl;
	if (s->full_every && ++s->calls % s->full_every == 0)
		return YW_SINK_FULL;
	json_error_t err;
	json_t *j = json_loadb(rec->data, rec->len, 0, &err);
	if (!j) {
		s->invalid++;
		return 0;
	}
	json_int_t pid = json_integer_value(json_object_get(j, "process.pid"));
	for (size_t i = 0; i < s->nwant; i++) {
		if (pid == s->want[i] && s->nev < MAX_SEEN && rec->kind == YW_REC_EVENT) {
			s->ev[s->nev++] = j;
			return 0;
		}
	}
	json_decref(j);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls until n events of the wanted pids arrived, or 5 s. */
static void collect(void *col, struct seen *s, size_t n)
{
	int64_t end = now_ms() + 5000;
	int fd = yw_collector_process.fd(col);
	while (s->nev < n && now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		poll(&p, 1, 100);
		assert_true(yw_collector_process.poll(col, sink, s) >= 0);
	}
}

static const json_t *find_exec(const struct seen *s, pid_t pid, const char *exe)
{
	for (size_t i = 0; i < s->nev; i++) {
		const char *e = json_string_value(json_object_get(s->ev[i], "process.executable"));
		if (json_integer_value(json_object_get(s->ev[i], "process.pid")) == pid && e &&
		    strcmp(e, exe) == 0)
			return s->ev[i];
	}
	return NULL;
}

static void free_seen(struct seen *s)
{
	for (size_t i = 0; i < s->nev; i++)
		json_decref(s->ev[i]);
}

static void *start(const struct yw_collector_opt *opts, size_t n)
{
	void *col = NULL;
	int rc = yw_collector_process.init(NULL, opts, n, &col);
	if (rc == YW_EIO) {
		print_message("process connector not available (needs root / CAP_NET_ADMIN in the "
		              "initial network namespace): skipped\n");
		return NULL;
	}
	assert_int_equal(rc, 0);
	return col;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Runs argv traced: the child stops after each exec until resumed, so /proc shows the new
 * image while the collector reads it (a process like true is otherwise gone at once). Returns
 * with the child stopped after its first exec. */
static pid_t spawn_stopped(char *const argv[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSTOPPED(status));
	return pid;
}

/* Lets the child run to its next exec stop (true) or to its end (false). */
static bool resume(pid_t pid)
{
	int status;
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSTOPPED(status);
}

static void finish(pid_t pid)
{
	while (resume(pid))
		;
}

static void test_exec_events(void **st)
{
	(void)st;
	void *col = start(NULL, 0);
	if (!col)
		skip();
	struct seen s = {0};
	char *argv[] = {"/bin/sh", "-c", "exec /bin/true arg1 \"arg two\"", NULL};
	pid_t pid = spawn_stopped(argv);
	s.want[s.nwant++] = pid;
	collect(col, &s, 1); /* sh */
	assert_true(resume(pid));
	collect(col, &s, 2); /* then true, in the same process */
	finish(pid);

	const json_t *t = find_exec(&s, pid, "/usr/bin/true");
	if (!t)
		fail_msg("no exec event of /usr/bin/true for pid %d (%zu events)", (int)pid, s.nev);
	assert_null(json_object_get(t, "yiwang.anomaly"));
	assert_string_equal(json_string_value(json_object_get(t, "logsource.category")),
	                    "process_creation");
	assert_string_equal(json_string_value(json_object_get(t, "logsource.product")), "linux");
	assert_string_equal(json_string_value(json_object_get(t, "process.name")), "true");
	assert_string_equal(json_string_value(json_object_get(t, "process.command_line")),
	                    "/bin/true arg1 arg two");
	const json_t *args = json_object_get(t, "process.args");
	assert_int_equal(json_array_size(args), 3);
	assert_string_equal(json_string_value(json_array_get(args, 2)), "arg two");
	assert_int_equal(json_integer_value(json_object_get(t, "process.parent.pid")), getpid());
	assert_string_equal(json_string_value(json_object_get(t, "user.id")), "0");
	assert_string_equal(json_string_value(json_object_get(t, "user.name")), "root");
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_string_equal(json_string_value(json_object_get(t, "process.working_directory")),
	                    cwd);
	assert_non_null(json_string_value(json_object_get(t, "process.start")));
	assert_non_null(json_string_value(json_object_get(t, "@timestamp")));
	/* the parent is this test program */
	const char *pexe = json_string_value(json_object_get(t, "process.parent.executable"));
	assert_non_null(pexe);
	assert_non_null(strstr(pexe, "test_collector_process"));

	const json_t *sh = find_exec(&s, pid, "/usr/bin/dash");
	if (!sh)
		sh = find_exec(&s, pid, "/usr/bin/bash");
	assert_non_null(sh);
	assert_string_equal(json_string_value(json_object_get(sh, "process.command_line")),
	                    "/bin/sh -c exec /bin/true arg1 \"arg two\"");
	assert_int_equal(s.invalid, 0);
	free_seen(&s);
	yw_collector_process.exit(col);
}

/* A process that is gone at once is still reported: its pid, and whatever could be read. */
static void test_short_lived(void **st)
{
	(void)st;
	void *col = start(NULL, 0);
	if (!col)
		skip();
	struct seen s = {0};
	char *argv[] = {"/bin/true", NULL};
	pid_t pid = spawn(argv);
	s.want[s.nwant++] = pid;
	int status;
	waitpid(pid, &status, 0); /* reaped before the first poll: /proc/<pid> is gone */
	collect(col, &s, 1);
	assert_int_equal(s.nev, 1);
	const json_t *ev = s.ev[0];
	assert_string_equal(json_string_value(json_object_get(ev, "logsource.category")),
	                    "process_creation");
	const json_t *an = json_object_get(ev, "yiwang.anomaly");
	assert_true(json_array_size(an) >= 1);
	assert_non_null(strstr(json_string_value(json_array_get(an, 0)), "exited"));
	/* the fork event gave the parent */
	assert_int_equal(json_integer_value(json_object_get(ev, "process.parent.pid")), getpid());
	free_seen(&s);
	yw_collector_process.exit(col);
}

static void test_non_utf8_and_cut(void **st)
{
	(void)st;
	struct yw_collector_opt o[] = {{"max_cmdline", "64"}};
	void *col = start(o, 1);
	if (!col)
		skip();
	struct seen s = {0};
	char bad[] = "caf\xe9\xff\"q\"\\";
	char longarg[200];
	memset(longarg, 'x', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = 0;
	char *argv[] = {"/bin/true", "0.5", bad, longarg, NULL};
	pid_t pid = spawn_stopped(argv);
	s.want[s.nwant++] = pid;
	collect(col, &s, 1);
	finish(pid);
	assert_int_equal(s.invalid, 0);
	assert_int_equal(s.nev, 1);
	const json_t *args = json_object_get(s.ev[0], "process.args");
	assert_true(json_array_size(args) >= 3);
	assert_string_equal(json_string_value(json_array_get(args, 2)),
	                    "caf\xef\xbf\xbd\xef\xbf\xbd\"q\"\\");
	const char *cl = json_string_value(json_object_get(s.ev[0], "process.command_line"));
	assert_true(strlen(cl) <= 64 + 16); /* 64 bytes read, invalid bytes became 3 each */
	const json_t *an = json_object_get(s.ev[0], "yiwang.anomaly");
	assert_non_null(strstr(json_string_value(json_array_get(an, 0)), "cut"));
	free_seen(&s);
	yw_collector_process.exit(col);
}

static void test_ignore_and_full(void **st)
{
	(void)st;
	struct yw_collector_opt o[] = {{"ignore_exe", "/usr/bin/tr*"}};
	void *col = start(o, 1);
	if (!col)
		skip();
	struct seen s = {.full_every = 2}; /* every other offer refused: re-offered next poll */
	char *a1[] = {"/bin/sleep", "0.3", NULL};
	char *a2[] = {"/usr/bin/true", NULL}; /* ignored */
	char *a3[] = {"/bin/sleep", "0.4", NULL};
	pid_t p1 = spawn_stopped(a1), p2 = spawn_stopped(a2), p3 = spawn_stopped(a3);
	s.want[s.nwant++] = p1;
	s.want[s.nwant++] = p2;
	s.want[s.nwant++] = p3;
	collect(col, &s, 2);
	for (int i = 0; i < 5; i++) { /* a third (ignored) event would come now */
		usleep(20000);
		assert_true(yw_collector_process.poll(col, sink, &s) >= 0);
	}
	finish(p1);
	finish(p2);
	finish(p3);
	assert_int_equal(s.nev, 2);
	assert_non_null(find_exec(&s, p1, "/usr/bin/sleep"));
	assert_non_null(find_exec(&s, p3, "/usr/bin/sleep"));
	free_seen(&s);
	yw_collector_process.exit(col);
}

static void test_bad_options(void **st)
{
	(void)st;
	void *col = NULL;
	struct yw_collector_opt o1[] = {{"max_cmdline", "10"}};
	struct yw_collector_opt o2[] = {{"max_cmdline", "99999999"}};
	struct yw_collector_opt o3[] = {{"colour", "blue"}};
	struct yw_collector_opt o4[] = {{"ignore_self", "maybe"}};
	assert_int_equal(yw_collector_process.init(NULL, o1, 1, &col), YW_EINVAL);
	assert_int_equal(yw_collector_process.init(NULL, o2, 1, &col), YW_EINVAL);
	assert_int_equal(yw_collector_process.init(NULL, o3, 1, &col), YW_EINVAL);
	assert_int_equal(yw_collector_process.init(NULL, o4, 1, &col), YW_EINVAL);
	assert_null(col);
	yw_collector_process.exit(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec_events),      cmocka_unit_test(test_short_lived),
	    cmocka_unit_test(test_non_utf8_and_cut), cmocka_unit_test(test_ignore_and_full),
	    cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
