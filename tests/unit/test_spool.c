/* The spool: ordering, acks, size policies, recovery from torn tails, torn state and kill -9. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
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

_Static_assert(YW_SPOOL_FULL == YW_SINK_FULL, "a sink may return yw_spool_append's result");

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

static void tmpdir(char *buf, size_t n, const char *tag)
{
	snprintf(buf, n, "/tmp/yw-spool-%s-%d", tag, (int)getpid());
	rm_rf(buf);
}

/* Record i carries data "record <i> ..." padded to a length that varies with i. */
static uint64_t append_n(struct yw_spool *sp, uint64_t n, bool with_cursor)
{
	char data[512];
	uint64_t last = 0;
	struct yw_spool_stats st;
	for (uint64_t k = 0; k < n; k++) {
		yw_spool_stats(sp, &st);
		int len =
		    snprintf(data, sizeof(data), "record %" PRIu64 " %.*s", st.next_seq,
		             (int)(st.next_seq % 200),
		             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		             "xxxxxxxxxxxxxxxxxxxxxxx");
		struct yw_record r = {.ts_ns = 42,
		                      .kind = YW_REC_LOG,
		                      .source = "file:/x",
		                      .source_len = 7,
		                      .data = data,
		                      .len = (uint32_t)len};
		uint64_t cur = st.next_seq * 10;
		assert_int_equal(yw_spool_append(sp, &r, with_cursor ? &cur : NULL,
		                                 with_cursor ? sizeof(cur) : 0),
		                 0);
		assert_int_equal(r.seq, st.next_seq);
		last = r.seq;
	}
	return last;
}

struct got {
	uint64_t expect; /* next seq wanted */
	uint64_t n, last;
	uint64_t gap_at; /* first seq that broke the run, 0 = none */
	int bad;
};

static int collect(void *ud, const struct yw_record *rec)
{
	struct got *g = ud;
	char want[64];
	int len = snprintf(want, sizeof(want), "record %" PRIu64 " ", rec->seq);
	if (rec->len < (uint32_t)len || memcmp(rec->data, want, (size_t)len) != 0 ||
	    rec->len != (uint32_t)len + rec->seq % 200 || rec->source_len != 7 ||
	    memcmp(rec->source, "file:/x", 7) != 0 || rec->ts_ns != 42 || rec->kind != YW_REC_LOG)
		g->bad++;
	if (rec->seq != g->expect && !g->gap_at)
		g->gap_at = rec->seq;
	g->expect = rec->seq + 1;
	g->last = rec->seq;
	g->n++;
	return 0;
}

static int collect_count(void *ud, const struct yw_record *rec)
{
	return 0;
}

/* Reads everything from seq `at` on and checks it is exactly from..to, each once, in order. */
static void expect_range(struct yw_spool *sp, uint64_t at, uint64_t from, uint64_t to)
{
	struct got g = {.expect = from};
	for (;;) {
		uint64_t before = g.n;
		int n = yw_spool_read(sp, at, 1000, 1 << 20, collect, &g);
		assert_true(n >= 0);
		if (n == 0)
			break;
		at = g.last + 1;
		assert_int_equal(g.n - before, (uint64_t)n);
	}
	if (g.gap_at)
		print_message("run %" PRIu64 "..%" PRIu64 " broken at seq %" PRIu64 "\n", from, to,
		              g.gap_at);
	assert_int_equal(g.gap_at, 0);
	assert_int_equal(g.bad, 0);
	assert_int_equal(g.n, to >= from ? to - from + 1 : 0);
}

static void test_append_read_ack_reopen(void **state)
{
	char dir[128];
	tmpdir(dir, sizeof(dir), "basic");
	struct yw_spool *sp;
	struct yw_spool_opts o = {.segment_bytes = 64 * 1024};
	assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
	assert_int_equal(append_n(sp, 3000, true), 3000);
	expect_range(sp, 1, 1, 3000);
	expect_range(sp, 1234, 1234, 3000); /* a resend from the middle */
	assert_int_equal(yw_spool_ack(sp, 1500), 0);
	expect_range(sp, 1, 1501, 3000);
	yw_spool_close(sp);

	assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
	struct yw_spool_stats st;
	yw_spool_stats(sp, &st);
	assert_int_equal(st.next_seq, 3001);
	assert_int_equal(st.acked, 1500);
	assert_int_equal(st.pending, 1500);
	expect_range(sp, 1, 1501, 3000);
	const void *cur;
	size_t cl;
	uint64_t cseq, cv;
	assert_int_equal(yw_spool_cursor(sp, "file:/x", 7, &cur, &cl, &cseq), 0);
	assert_int_equal(cl, 8);
	memcpy(&cv, cur, 8);
	assert_int_equal(cseq, 3000);
	assert_int_equal(cv, 30000);
	assert_int_equal(yw_spool_cursor(sp, "file:/y", 7, &cur, &cl, &cseq), YW_ENOENT);

	/* acking everything leaves one (active) segment */
	assert_int_equal(append_n(sp, 10, false), 3010);
	assert_int_equal(yw_spool_ack(sp, 3010), 0);
	yw_spool_stats(sp, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.pending, 0);
	assert_int_equal(yw_spool_read(sp, 1, 10, 1000, collect, NULL), 0);
	yw_spool_close(sp);

	/* cursors survive the deletion of the segments that held them (checkpoint) */
	assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
	assert_int_equal(yw_spool_cursor(sp, "file:/x", 7, &cur, &cl, &cseq), 0);
	assert_int_equal(cseq, 3000);
	yw_spool_stats(sp, &st);
	assert_int_equal(st.next_seq, 3011);
	yw_spool_close(sp);
	rm_rf(dir);
}

static void test_block_policy(void **state)
{
	char dir[128];
	tmpdir(dir, sizeof(dir), "block");
	struct yw_spool *sp;
	struct yw_spool_opts o = {.max_bytes = 256 * 1024, .segment_bytes = 64 * 1024};
	assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
	char data[300];
	memset(data, 'b', sizeof(data));
	struct yw_record r = {
	    .kind = YW_REC_LOG, .source = "s", .source_len = 1, .data = data, .len = sizeof(data)};
	uint64_t ok = 0;
	int rc;
	while ((rc = yw_spool_append(sp, &r, NULL, 0)) == 0)
		ok++;
	assert_int_equal(rc, YW_SPOOL_FULL);
	assert_true(ok > 500);
	struct yw_spool_stats st;
	yw_spool_stats(sp, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.pending, ok);
	assert_true(st.bytes <= 256 * 1024);
	r.seq = 0;
	assert_int_equal(yw_spool_append(sp, &r, NULL, 0), YW_SPOOL_FULL);
	assert_int_equal(r.seq, 0);
	/* nothing is lost under back-pressure */
	struct yw_spool_loss loss;
	yw_spool_take_loss(sp, &loss);
	assert_int_equal(loss.records, 0);
	/* an ack frees whole segments and appends resume */
	assert_int_equal(yw_spool_ack(sp, ok / 2), 0);
	assert_int_equal(yw_spool_append(sp, &r, NULL, 0), 0);
	assert_int_equal(r.seq, ok + 1);
	/* a record that could never fit is an error, not "full" forever */
	struct yw_record huge = r;
	huge.len = 300 * 1024;
	char *hd = calloc(1, huge.len);
	huge.data = hd;
	assert_int_equal(yw_spool_append(sp, &huge, NULL, 0), YW_ELIMIT);
	free(hd);
	yw_spool_close(sp);
	rm_rf(dir);
}

static void test_drop_oldest(void **state)
{
	char dir[128];
	tmpdir(dir, sizeof(dir), "drop");
	struct yw_spool *sp;
	struct yw_spool_opts o = {
	    .max_bytes = 256 * 1024, .segment_bytes = 64 * 1024, .policy = YW_SPOOL_DROP_OLDEST};
	assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
	uint64_t last = append_n(sp, 20000, false);
	assert_int_equal(yw_spool_ack(sp, 10), 0);
	struct yw_spool_stats st;
	yw_spool_stats(sp, &st);
	assert_true(st.bytes <= 256 * 1024);
	struct yw_spool_loss loss;
	yw_spool_take_loss(sp, &loss);
	assert_true(loss.records > 10000);
	/* every record is either still pending or counted lost, once */
	assert_int_equal(loss.records + st.pending, last);
	assert_int_equal(loss.first_seq, 1);
	assert_int_equal(loss.last_seq, st.acked);
	assert_int_equal(st.dropped, loss.records);
	expect_range(sp, 1, loss.last_seq + 1, last);
	yw_spool_take_loss(sp, &loss);
	assert_int_equal(loss.records, 0);
	yw_spool_close(sp);
	rm_rf(dir);
}

static void copy_file(const char *from, const char *to, off_t len)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(in >= 0 && out >= 0);
	char buf[65536];
	ssize_t r;
	while (len > 0 &&
	       (r = read(in, buf, len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf))) > 0) {
		assert_int_equal(write(out, buf, (size_t)r), r);
		len -= r;
	}
	close(in);
	close(out);
}

static char *last_segment(const char *dir)
{
	static char best[512];
	best[0] = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	char name[256] = "";
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "seg-", 4) == 0 && strcmp(de->d_name, name) > 0)
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(d);
	snprintf(best, sizeof(best), "%s/%s", dir, name);
	return best;
}

/* Cuts the last record at every byte offset (and flips a byte in it): recovery keeps exactly
 * the records before it and goes on numbering after them. */
static void test_torn_tail(void **state)
{
	char dir[128], work[160], p[512];
	tmpdir(dir, sizeof(dir), "torn");
	snprintf(work, sizeof(work), "%s-w", dir);
	rm_rf(work);
	struct yw_spool *sp;
	assert_int_equal(yw_spool_open(dir, NULL, &sp), 0);
	append_n(sp, 49, true);
	yw_spool_close(sp);
	/* the state as it was before the last record (a later state implies a synced record) */
	char sf[512];
	snprintf(sf, sizeof(sf), "%s-state", dir);
	snprintf(p, sizeof(p), "%s/state", dir);
	copy_file(p, sf, 1 << 20);
	struct stat before;
	char seg[512];
	snprintf(seg, sizeof(seg), "%s", last_segment(dir));
	assert_int_equal(stat(seg, &before), 0);
	assert_int_equal(yw_spool_open(dir, NULL, &sp), 0);
	append_n(sp, 1, true);
	yw_spool_close(sp);
	struct stat after;
	assert_int_equal(stat(seg, &after), 0);
	const char *base = strrchr(seg, '/') + 1;
	for (off_t cut = before.st_size; cut <= after.st_size; cut++) {
		rm_rf(work);
		mkdir(work, 0700);
		snprintf(p, sizeof(p), "%s/%s", work, base);
		copy_file(seg, p, cut);
		char sw[512];
		snprintf(sw, sizeof(sw), "%s/state", work);
		copy_file(sf, sw, 1 << 20);
		assert_int_equal(yw_spool_open(work, NULL, &sp), 0);
		struct yw_spool_stats st;
		yw_spool_stats(sp, &st);
		uint64_t n = cut == after.st_size ? 50 : 49;
		assert_int_equal(st.next_seq, n + 1);
		expect_range(sp, 1, 1, n);
		const void *c;
		size_t cl;
		uint64_t cseq;
		assert_int_equal(yw_spool_cursor(sp, "file:/x", 7, &c, &cl, &cseq), 0);
		assert_int_equal(cseq, n);
		append_n(sp, 1, false);
		yw_spool_close(sp);
	}
	/* a flipped byte inside the last record: the same as a tear */
	rm_rf(work);
	mkdir(work, 0700);
	snprintf(p, sizeof(p), "%s/%s", work, base);
	copy_file(seg, p, after.st_size);
	snprintf(p, sizeof(p), "%s/state", work);
	copy_file(sf, p, 1 << 20);
	snprintf(p, sizeof(p), "%s/%s", work, base);
	int fd = open(p, O_RDWR);
	char ch;
	assert_int_equal(pread(fd, &ch, 1, before.st_size + 20), 1);
	ch ^= 0x10;
	assert_int_equal(pwrite(fd, &ch, 1, before.st_size + 20), 1);
	close(fd);
	assert_int_equal(yw_spool_open(work, NULL, &sp), 0);
	expect_range(sp, 1, 1, 49);
	yw_spool_close(sp);
	rm_rf(work);
	rm_rf(dir);
	unlink(sf);
}

static void test_torn_state(void **state)
{
	char dir[128], p[256];
	tmpdir(dir, sizeof(dir), "state");
	struct yw_spool *sp;
	struct yw_spool_opts o = {.segment_bytes = 64 * 1024};
	assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
	append_n(sp, 2000, true);
	assert_int_equal(yw_spool_ack(sp, 700), 0);
	yw_spool_close(sp);
	snprintf(p, sizeof(p), "%s/state", dir);
	for (int how = 0; how < 3; how++) {
		if (how == 0)
			assert_int_equal(truncate(p, 30), 0); /* torn */
		else if (how == 1)
			assert_int_equal(unlink(p), 0); /* lost */
		else {
			int fd = open(p, O_RDWR); /* flipped bit */
			char ch;
			assert_int_equal(pread(fd, &ch, 1, 9), 1);
			ch ^= 1;
			assert_int_equal(pwrite(fd, &ch, 1, 9), 1);
			close(fd);
		}
		assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
		struct yw_spool_stats st;
		yw_spool_stats(sp, &st);
		assert_int_equal(st.next_seq, 2001);
		/* without the state, what is left is resent: never fewer records */
		assert_true(st.acked <= 700);
		expect_range(sp, 1, st.acked + 1, 2000);
		const void *c;
		size_t cl;
		uint64_t cseq;
		assert_int_equal(yw_spool_cursor(sp, "file:/x", 7, &c, &cl, &cseq), 0);
		assert_int_equal(cseq, 2000);
		yw_spool_close(sp);
		if (how == 0) {
			assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
			yw_spool_stats(sp, &st);
			assert_int_equal(st.next_seq, 2001);
			yw_spool_close(sp);
		}
	}
	rm_rf(dir);
}

/* A child appends (and reads and acks like a sender) until killed at a random moment; each
 * restart must find a contiguous, CRC-valid run from acked + 1 and keep numbering after it. */
static void test_kill9(void **state)
{
	char dir[128];
	tmpdir(dir, sizeof(dir), "kill");
	struct yw_spool_opts o = {.segment_bytes = 64 * 1024, .sync_ms = -1};
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	uint64_t prev_next = 1;
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct yw_spool *sp;
			if (yw_spool_open(dir, &o, &sp) != 0)
				_exit(2);
			for (uint64_t k = 0;; k++) {
				append_n(sp, 1, true);
				if (k % 100 == 99) {
					struct yw_spool_stats st;
					yw_spool_stats(sp, &st);
					if (yw_spool_read(sp, st.acked + 1, 50, 1 << 20,
					                  collect_count, NULL) < 0)
						_exit(3);
					yw_spool_ack(sp, st.acked + 50);
				}
			}
		}
		struct timespec ts = {0, (long)(rand() % 200) * 1000000L + 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		struct yw_spool *sp;
		assert_int_equal(yw_spool_open(dir, &o, &sp), 0);
		struct yw_spool_stats st;
		yw_spool_stats(sp, &st);
		assert_true(st.next_seq >= prev_next);
		expect_range(sp, 1, st.acked + 1, st.next_seq - 1);
		if (st.next_seq > 1) {
			const void *c;
			size_t cl;
			uint64_t cseq, cv;
			assert_int_equal(yw_spool_cursor(sp, "file:/x", 7, &c, &cl, &cseq), 0);
			memcpy(&cv, c, 8);
			assert_int_equal(cseq, st.next_seq - 1);
			assert_int_equal(cv, cseq * 10);
		}
		prev_next = st.next_seq;
		yw_spool_close(sp);
	}
	assert_true(prev_next > 100);
	rm_rf(dir);
}

static size_t rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %zu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* Not a benchmark harness, but a guard: 200k appends of 150-byte records with a sync every
 * 1,000 (a batch) must run far above the agent's needs. */
static void test_throughput(void **state)
{
	char dir[128];
	tmpdir(dir, sizeof(dir), "perf");
	struct yw_spool *sp;
	assert_int_equal(yw_spool_open(dir, NULL, &sp), 0);
	char data[150];
	memset(data, 'p', sizeof(data));
	struct yw_record r = {.kind = YW_REC_LOG,
	                      .source = "file:/var/log/syslog",
	                      .source_len = 20,
	                      .data = data,
	                      .len = sizeof(data)};
	uint8_t cur[30] = {0};
	size_t rss0 = rss_kib();
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	const int n = 200000;
	for (int i = 0; i < n; i++) {
		memcpy(cur, &i, sizeof(i));
		assert_int_equal(yw_spool_append(sp, &r, cur, sizeof(cur)), 0);
		if (i % 1000 == 999)
			assert_int_equal(yw_spool_sync(sp), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	print_message("spool: %d appends (150 B, sync every 1000) in %.3f s = %.0f records/s, "
	              "RSS %zu -> %zu KiB\n",
	              n, s, n / s, rss0, rss_kib());
	assert_true(n / s > 20000);
	yw_spool_close(sp);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_read_ack_reopen),
	    cmocka_unit_test(test_block_policy),
	    cmocka_unit_test(test_drop_oldest),
	    cmocka_unit_test(test_torn_tail),
	    cmocka_unit_test(test_torn_state),
	    cmocka_unit_test(test_kill9),
	    cmocka_unit_test(test_throughput),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
