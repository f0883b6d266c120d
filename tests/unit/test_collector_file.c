/* The log file collector: lines, partial and long lines, rotation by rename, truncation,
 * deletion, glob pick-up, and restarts (in-process and kill -9) without repeat or skip. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/spool.h"

struct h {
	char dir[128];   /* the watched directory */
	char spdir[160]; /* the spool */
	char state[160]; /* the collector's state file */
	char log[200];   /* dir/app.log */
	struct yw_spool *sp;
	void *col;
	uint64_t read_at;
	int full_every, calls;
	char *got; /* lines read back from the spool, each + "\n" */
	size_t got_len;
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
	return yw_spool_append(h->sp, rec, cur, cl);
}

static int cursor_cb(void *ud, const char *src, size_t n, const void **c, size_t *cl, uint64_t *seq)
{
	return yw_spool_cursor(ud, src, n, c, cl, seq);
}

static int start(struct h *h, const char *pattern, const char *startpos, const char *partial_ms)
{
	struct yw_spool_opts o = {.sync_ms = -1};
	if (yw_spool_open(h->spdir, &o, &h->sp) != 0)
		return -100;
	struct yw_collector_opt opts[] = {
	    {"path", pattern}, {"start", startpos}, {"rescan_ms", "0"}, {"partial_ms", partial_ms}};
	struct yw_collector_env env = {
	    .state_path = h->state, .cursor = cursor_cb, .cursor_ud = h->sp};
	return yw_collector_file.init(&env, opts, 4, &h->col);
}

static void stop(struct h *h, bool commit)
{
	if (commit) {
		assert_int_equal(yw_spool_sync(h->sp), 0);
		assert_int_equal(yw_collector_file.commit(h->col), 0);
	}
	yw_collector_file.exit(h->col);
	h->col = NULL;
	yw_spool_close(h->sp);
	h->sp = NULL;
}

static void setup_h(struct h *h, const char *tag)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/yw-colf-%s-%d", tag, (int)getpid());
	snprintf(h->spdir, sizeof(h->spdir), "%s-spool", h->dir);
	snprintf(h->state, sizeof(h->state), "%s-file.state", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/app.log", h->dir);
	rm_rf(h->dir);
	rm_rf(h->spdir);
	unlink(h->state);
	assert_int_equal(mkdir(h->dir, 0700), 0);
}

static void teardown_h(struct h *h)
{
	if (h->col)
		stop(h, false);
	rm_rf(h->dir);
	rm_rf(h->spdir);
	unlink(h->state);
	free(h->got);
}

static void write_file(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int take(void *ud, const struct yw_record *rec)
{
	struct h *h = ud;
	h->got = realloc(h->got, h->got_len + rec->len + 2);
	memcpy(h->got + h->got_len, rec->data, rec->len);
	h->got_len += rec->len;
	h->got[h->got_len++] = '\n';
	h->got[h->got_len] = 0;
	h->read_at = rec->seq + 1;
	return 0;
}

/* Polls the collector and returns everything new in the spool as "line\n..." text. */
static const char *poll_lines(struct h *h)
{
	assert_true(yw_collector_file.poll(h->col, sink, h) >= 0);
	h->got_len = 0;
	free(h->got);
	h->got = calloc(1, 1);
	while (yw_spool_read(h->sp, h->read_at ? h->read_at : 1, 1000, 1 << 22, take, h) > 0)
		;
	return h->got;
}

static void test_lines_and_partial(void **state)
{
	struct h h;
	setup_h(&h, "part");
	write_file(h.log, "w", "one\ntwo\r\n\nthr");
	assert_int_equal(start(&h, h.log, "beginning", "100000"), 0);
	assert_string_equal(poll_lines(&h), "one\ntwo\n");
	write_file(h.log, "a", "ee\nfour");
	assert_string_equal(poll_lines(&h), "three\n");
	assert_string_equal(poll_lines(&h), "");
	stop(&h, true);
	/* an unterminated last line is held until idle (partial_ms) */
	assert_int_equal(start(&h, h.log, "beginning", "30"), 0);
	assert_string_equal(poll_lines(&h), "");
	usleep(60 * 1000);
	assert_string_equal(poll_lines(&h), "four\n");
	write_file(h.log, "a", " more\n");
	assert_string_equal(poll_lines(&h), " more\n");
	teardown_h(&h);
}

static void test_start_end_and_glob(void **state)
{
	struct h h;
	setup_h(&h, "glob");
	write_file(h.log, "w", "old 1\nold 2\n");
	char pat[256], other[256];
	snprintf(pat, sizeof(pat), "%s/*.log", h.dir);
	snprintf(other, sizeof(other), "%s/new.log", h.dir);
	assert_int_equal(start(&h, pat, "end", "100000"), 0);
	assert_string_equal(poll_lines(&h), "");
	write_file(h.log, "a", "new 3\n");
	assert_string_equal(poll_lines(&h), "new 3\n");
	/* a file that appears later is read from its beginning */
	write_file(other, "w", "born 1\nborn 2\n");
	assert_string_equal(poll_lines(&h), "born 1\nborn 2\n");
	char ignored[256];
	snprintf(ignored, sizeof(ignored), "%s/x.txt", h.dir);
	write_file(ignored, "w", "not matched\n");
	assert_string_equal(poll_lines(&h), "");
	teardown_h(&h);
}

static void test_long_line(void **state)
{
	struct h h;
	setup_h(&h, "long");
	size_t n = YW_MAX_LINE + 5000;
	char *big = malloc(n + 1);
	memset(big, 'L', n);
	big[n] = 0;
	FILE *f = fopen(h.log, "w");
	fputs(big, f);
	fputs("\nafter\n", f);
	fclose(f);
	assert_int_equal(start(&h, h.log, "beginning", "100000"), 0);
	/* a poll reads at most YW_FILE_POLL_BYTES of one file */
	assert_int_equal(yw_collector_file.poll(h.col, sink, &h), 0);
	const char *got = poll_lines(&h);
	char note[64];
	snprintf(note, sizeof(note), " [yiwang: line cut, %zu bytes]\nafter\n", n);
	size_t gl = strlen(got);
	assert_int_equal(gl, YW_MAX_LINE + strlen("\nafter\n"));
	assert_string_equal(got + gl - strlen(note), note);
	assert_int_equal(got[0], 'L');
	free(big);
	teardown_h(&h);
}

static void test_rotate_rename(void **state)
{
	struct h h;
	setup_h(&h, "rot");
	char old[256];
	snprintf(old, sizeof(old), "%s.1", h.log);
	write_file(h.log, "w", "a1\na2\n");
	assert_int_equal(start(&h, h.log, "beginning", "100000"), 0);
	assert_string_equal(poll_lines(&h), "a1\na2\n");
	write_file(h.log, "a", "a3\na4"); /* written before the rotation, not yet read */
	assert_int_equal(rename(h.log, old), 0);
	write_file(h.log, "w", "b1\n");
	/* the old file is finished (its unterminated tail included), then the new one */
	assert_string_equal(poll_lines(&h), "a3\na4\nb1\n");
	write_file(h.log, "a", "b2\n");
	write_file(old, "a", "late\n"); /* the old file is no longer followed */
	assert_string_equal(poll_lines(&h), "b2\n");
	teardown_h(&h);
}

static void test_truncate(void **state)
{
	struct h h;
	setup_h(&h, "trunc");
	write_file(h.log, "w", "first line\nsecond line\n");
	assert_int_equal(start(&h, h.log, "beginning", "100000"), 0);
	assert_string_equal(poll_lines(&h), "first line\nsecond line\n");
	/* copytruncate: same inode, cut to 0, written again (shorter) */
	assert_int_equal(truncate(h.log, 0), 0);
	write_file(h.log, "a", "x\n");
	assert_string_equal(poll_lines(&h), "x\n");
	/* cut and rewritten past our offset before we looked: the head hash tells */
	assert_int_equal(truncate(h.log, 0), 0);
	write_file(h.log, "a", "rewritten, and longer than before\n");
	assert_string_equal(poll_lines(&h), "rewritten, and longer than before\n");
	teardown_h(&h);
}

static void test_deleted(void **state)
{
	struct h h;
	setup_h(&h, "del");
	write_file(h.log, "w", "d1\n");
	assert_int_equal(start(&h, h.log, "beginning", "100000"), 0);
	assert_string_equal(poll_lines(&h), "d1\n");
	write_file(h.log, "a", "d2\n");
	assert_int_equal(unlink(h.log), 0);
	assert_string_equal(poll_lines(&h), "d2\n"); /* read through the open descriptor */
	assert_string_equal(poll_lines(&h), "");
	write_file(h.log, "w", "again\n"); /* a new file under the same name: read whole */
	assert_string_equal(poll_lines(&h), "again\n");
	teardown_h(&h);
}

static void test_restart_in_process(void **state)
{
	struct h h;
	setup_h(&h, "restart");
	write_file(h.log, "w", "r1\nr2\n");
	assert_int_equal(start(&h, h.log, "end", "100000"), 0);
	assert_string_equal(poll_lines(&h), "");
	write_file(h.log, "a", "r3\n");
	assert_string_equal(poll_lines(&h), "r3\n");
	stop(&h, true);
	/* written while the agent was down: neither repeated nor skipped */
	write_file(h.log, "a", "r4\n");
	assert_int_equal(start(&h, h.log, "end", "100000"), 0);
	assert_string_equal(poll_lines(&h), "r4\n");
	/* stopped without commit: the spool's cursor still knows r4 was taken */
	stop(&h, false);
	write_file(h.log, "a", "r5\n");
	assert_int_equal(start(&h, h.log, "end", "100000"), 0);
	assert_string_equal(poll_lines(&h), "r5\n");
	/* a sink that keeps saying "full" loses and doubles nothing */
	h.full_every = 3;
	write_file(h.log, "a", "s1\ns2\ns3\ns4\ns5\ns6\ns7\n");
	char all[256] = "";
	for (int i = 0; i < 10; i++)
		strcat(all, poll_lines(&h));
	assert_string_equal(all, "s1\ns2\ns3\ns4\ns5\ns6\ns7\n");
	stop(&h, false);
	/* rotated while the agent was down: the new file is read whole */
	char old[256];
	snprintf(old, sizeof(old), "%s.1", h.log);
	assert_int_equal(rename(h.log, old), 0);
	write_file(h.log, "w", "n1\n");
	h.full_every = 0;
	assert_int_equal(start(&h, h.log, "end", "100000"), 0);
	assert_string_equal(poll_lines(&h), "n1\n");
	teardown_h(&h);
}

/* A child collects a growing file into the spool (with a sink that is often full, and commits
 * now and then) and is killed at random moments; after the last restart the spool must hold
 * every line exactly once, in order. */
static void test_restart_kill9(void **state)
{
	struct h h;
	setup_h(&h, "kill");
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	int written = 0;
	char line[64];
	for (int round = 0; round < 20; round++) {
		FILE *f = fopen(h.log, "a");
		for (int k = 0; k < 3000; k++) {
			snprintf(line, sizeof(line), "line %d\n", ++written);
			fputs(line, f);
		}
		fclose(f);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (start(&h, h.log, "beginning", "100000") != 0)
				_exit(2);
			h.full_every = 7;
			for (int k = 0;; k++) {
				if (yw_collector_file.poll(h.col, sink, &h) < 0)
					_exit(3);
				if (k % 5 == 4) {
					yw_spool_sync(h.sp);
					yw_collector_file.commit(h.col);
				}
				usleep(200);
			}
		}
		struct timespec ts = {0, (long)(rand() % 50) * 1000000L + 500000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
	}
	/* the last run drains the file */
	assert_int_equal(start(&h, h.log, "beginning", "100000"), 0);
	for (int i = 0; i < 200; i++)
		assert_true(yw_collector_file.poll(h.col, sink, &h) >= 0);
	h.read_at = 1;
	h.got_len = 0;
	h.got = calloc(1, 1);
	while (yw_spool_read(h.sp, h.read_at, 1000, 1 << 22, take, &h) > 0)
		;
	char *p = h.got;
	for (int i = 1; i <= written; i++) {
		snprintf(line, sizeof(line), "line %d\n", i);
		size_t l = strlen(line);
		if (strncmp(p, line, l) != 0)
			print_message("expected \"line %d\" at byte %zu\n", i, (size_t)(p - h.got));
		assert_memory_equal(p, line, l);
		p += l;
	}
	assert_int_equal(*p, 0);
	teardown_h(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_and_partial),  cmocka_unit_test(test_start_end_and_glob),
	    cmocka_unit_test(test_long_line),          cmocka_unit_test(test_rotate_rename),
	    cmocka_unit_test(test_truncate),           cmocka_unit_test(test_deleted),
	    cmocka_unit_test(test_restart_in_process), cmocka_unit_test(test_restart_kill9),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
