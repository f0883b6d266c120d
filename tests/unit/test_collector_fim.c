/* The FIM collector: silent baseline, every kind of change with before/after values (by rescan
 * and by inotify), restarts, hostile trees (symlink loops, FIFOs, non-UTF-8 names, vanishing
 * files, deep and huge directories), the I/O and CPU budgets, SM3, and sink back-pressure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <jansson.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "agent/fim.h"
#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"

#define MAX_EV 4096

struct h {
	char dir[64];  /* the watched tree */
	char sdir[64]; /* holds the state file */
	char state[96];
	void *col;
	json_t *ev[MAX_EV];
	size_t nev;
	int full_every, calls; /* sink answers "full" every full_every-th call */
	bool count_only;       /* file events are counted, not kept */
	size_t counted;
	/* fake clocks (used when set with yw_fim_set_clock) */
	int64_t mono, cpu, cpu_step;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Removes name under dfd recursively, fd-relative so paths longer than PATH_MAX go too. */
static void rm_at(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0)
		return;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_at(dirfd(d), de->d_name);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void rm_rf(const char *dir)
{
	rm_at(AT_FDCWD, dir);
}

static const char *sget(json_t *j, const char *k)
{
	json_t *v = json_object_get(j, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	(void)cur;
	(void)cl;
	struct h *h = ud;
	if (h->full_every && ++h->calls % h->full_every == 0)
		return YW_SINK_FULL;
	assert_int_equal(rec->kind, YW_REC_EVENT);
	json_error_t err;
	json_t *j = json_loadb(rec->data, rec->len, 0, &err);
	if (!j)
		fail_msg("invalid JSON: %.*s", (int)rec->len, rec->data);
	if (h->count_only && strncmp(sget(j, "event.action"), "file_", 5) == 0) {
		h->counted++;
		json_decref(j);
		return 0;
	}
	assert_true(h->nev < MAX_EV);
	h->ev[h->nev++] = j;
	return 0;
}

static void clear_events(struct h *h)
{
	for (size_t i = 0; i < h->nev; i++)
		json_decref(h->ev[i]);
	h->nev = 0;
	h->counted = 0;
}

static size_t count_file_events(struct h *h)
{
	size_t n = h->counted;
	for (size_t i = 0; i < h->nev; i++)
		n += strncmp(sget(h->ev[i], "event.action"), "file_", 5) == 0;
	return n;
}

/* The one event with this action and path (fails when there are several). */
static json_t *find(struct h *h, const char *action, const char *path)
{
	json_t *found = NULL;
	for (size_t i = 0; i < h->nev; i++) {
		const char *a = sget(h->ev[i], "event.action"), *p = sget(h->ev[i], "file.path");
		if (a && p && strcmp(a, action) == 0 && strcmp(p, path) == 0) {
			if (found)
				fail_msg("two %s events for %s", action, path);
			found = h->ev[i];
		}
	}
	if (!found) {
		for (size_t i = 0; i < h->nev; i++) {
			char *s = json_dumps(h->ev[i], JSON_COMPACT);
			print_message("have: %s\n", s);
			free(s);
		}
		fail_msg("no %s event for %s", action, path);
	}
	return found;
}

static void path_of(struct h *h, const char *name, char *out)
{
	snprintf(out, 256, "%s/%s", h->dir, name);
}

static void write_file(struct h *h, const char *name, const char *content, mode_t mode)
{
	char p[256];
	path_of(h, name, p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	chmod(p, mode);
}

static void setup_dirs(struct h *h)
{
	memset(h, 0, sizeof(*h));
	strcpy(h->dir, "/tmp/yw-fim-XXXXXX");
	strcpy(h->sdir, "/tmp/yw-fims-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	assert_non_null(mkdtemp(h->sdir));
	snprintf(h->state, sizeof(h->state), "%s/fim.state", h->sdir);
}

static void teardown_dirs(struct h *h)
{
	if (h->col)
		yw_collector_fim.exit(h->col);
	h->col = NULL;
	clear_events(h);
	rm_rf(h->dir);
	rm_rf(h->sdir);
}

/* extra: NULL-terminated key, value pairs added to the defaults for tests. */
static int start(struct h *h, const char *realtime, const char *const *extra)
{
	struct yw_collector_opt opts[32];
	size_t n = 0;
	opts[n++] = (struct yw_collector_opt){"path", h->dir};
	opts[n++] = (struct yw_collector_opt){"realtime", realtime};
	opts[n++] = (struct yw_collector_opt){"debounce_ms", "100"};
	opts[n++] = (struct yw_collector_opt){"scan_interval_ms", "1"};
	opts[n++] = (struct yw_collector_opt){"io_rate", "0"};
	opts[n++] = (struct yw_collector_opt){"cpu_percent", "0"};
	for (size_t i = 0; extra && extra[i]; i += 2)
		opts[n++] = (struct yw_collector_opt){extra[i], extra[i + 1]};
	struct yw_collector_env env = {.state_path = h->state};
	return yw_collector_fim.init(&env, opts, n, &h->col);
}

static struct yw_fim_stats stats(struct h *h)
{
	struct yw_fim_stats s;
	yw_fim_get_stats(h->col, &s);
	return s;
}

/* Polls until one more full scan has completed. */
static void run_scan(struct h *h)
{
	uint64_t want = stats(h).scans + 1;
	for (int i = 0; i < 100000 && stats(h).scans < want; i++)
		assert_true(yw_collector_fim.poll(h->col, sink, h) >= 0);
	assert_int_equal(stats(h).scans, want);
}

/* Polls (realtime) until n file events arrived (at most 3 s), then 300 ms more for extras. */
static void wait_events(struct h *h, size_t n)
{
	int64_t end = now_ms() + 3000;
	while (count_file_events(h) < n && now_ms() < end) {
		assert_true(yw_collector_fim.poll(h->col, sink, h) >= 0);
		usleep(10000);
	}
	end = now_ms() + 300;
	while (now_ms() < end) {
		assert_true(yw_collector_fim.poll(h->col, sink, h) >= 0);
		usleep(10000);
	}
}

static void make_tree(struct h *h)
{
	char p[256];
	write_file(h, "a", "alpha\n", 0644);
	write_file(h, "b", "bravo\n", 0644);
	write_file(h, "c", "charlie\n", 0644);
	write_file(h, "d", "delta\n", 0644);
	write_file(h, "e", "echo\n", 0644);
	write_file(h, "g", "golf\n", 0644);
	write_file(h, "n", "november\n", 0644);
	path_of(h, "sub", p);
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(h, "sub/inner", "inner\n", 0644);
	path_of(h, "link", p);
	assert_int_equal(symlink("a", p), 0);
}

/* The same changes for the rescan and the realtime test; returns how many events they make. */
static size_t change_tree(struct h *h)
{
	char p[256], q[256];
	write_file(h, "a", "alpha, changed\n", 0644);
	path_of(h, "b", p);
	assert_int_equal(chmod(p, 0600), 0);
	path_of(h, "c", p);
	assert_int_equal(chown(p, 1234, 1235), 0);
	path_of(h, "d", p);
	assert_int_equal(unlink(p), 0);
	path_of(h, "e", p);
	path_of(h, "e2", q);
	assert_int_equal(rename(p, q), 0);
	write_file(h, "f", "foxtrot\n", 0644);
	path_of(h, "g", p);
	assert_int_equal(setxattr(p, "user.yw", "1", 1, 0), 0);
	path_of(h, "n", p);
	int fd = open(p, O_RDONLY);
	int flags = 0;
	assert_int_equal(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
	flags |= FS_NODUMP_FL;
	assert_int_equal(ioctl(fd, FS_IOC_SETFLAGS, &flags), 0);
	close(fd);
	path_of(h, "link", p);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("b", p), 0);
	path_of(h, "newdir", p);
	assert_int_equal(mkdir(p, 0700), 0);
	write_file(h, "newdir/x", "x\n", 0644);
	return 12;
}

static void check_changes(struct h *h, const char *trigger, bool chattr)
{
	char p[256];
	json_t *j;
	path_of(h, "a", p);
	j = find(h, "file_modified", p);
	assert_string_equal(sget(j, "event.type"), "change");
	assert_string_equal(sget(j, "event.category"), "file");
	assert_string_equal(sget(j, "logsource.category"), "file_event");
	assert_string_equal(sget(j, "logsource.product"), "linux");
	assert_string_equal(sget(j, "yiwang.fim.trigger"), trigger);
	/* SHA-256("alpha, changed\n") and ("alpha\n") */
	assert_int_equal(json_integer_value(json_object_get(j, "file.size")), 15);
	assert_int_equal(json_integer_value(json_object_get(j, "yiwang.fim.before.size")), 6);
	assert_string_not_equal(sget(j, "file.hash.sha256"),
	                        sget(j, "yiwang.fim.before.hash.sha256"));
	assert_string_equal(sget(j, "yiwang.fim.before.hash.sha256"),
	                    "b6a98d9ce9a2d9149288fa3df42d377c3e42737afdcdaf714e33c0a100b51060");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(j, "yiwang.fim.changed"), 0)),
	    "content");

	path_of(h, "b", p);
	j = find(h, "file_permissions_changed", p);
	assert_string_equal(sget(j, "file.mode"), "0600");
	assert_string_equal(sget(j, "yiwang.fim.before.mode"), "0644");

	path_of(h, "c", p);
	j = find(h, "file_owner_changed", p);
	assert_string_equal(sget(j, "file.uid"), "1234");
	assert_string_equal(sget(j, "file.gid"), "1235");
	assert_string_equal(sget(j, "yiwang.fim.before.uid"), "0");
	assert_string_equal(sget(j, "yiwang.fim.before.owner"), "root");
	assert_null(sget(j, "file.owner")); /* uid 1234 has no name */

	path_of(h, "d", p);
	j = find(h, "file_deleted", p);
	assert_string_equal(sget(j, "event.type"), "deletion");
	assert_int_equal(json_integer_value(json_object_get(j, "file.size")), 6);
	assert_non_null(sget(j, "file.hash.sha256"));

	path_of(h, "e", p);
	find(h, "file_deleted", p);
	path_of(h, "e2", p);
	j = find(h, "file_added", p);
	assert_string_equal(sget(j, "event.type"), "creation");
	assert_string_equal(sget(j, "file.name"), "e2");
	assert_string_equal(sget(j, "file.directory"), h->dir);
	path_of(h, "f", p);
	j = find(h, "file_added", p);
	/* SHA-256("foxtrot\n") */
	assert_string_equal(sget(j, "file.hash.sha256"),
	                    "d0a232acf78887260029a71df61128b32a766038987b852d1e8c7db3841805df");

	path_of(h, "g", p);
	j = find(h, "file_attributes_changed", p);
	assert_non_null(sget(j, "file.xattr_crc"));
	assert_null(sget(j, "yiwang.fim.before.xattr_crc"));

	path_of(h, "n", p);
	if (!chattr)
		goto link;
	j = find(h, "file_attributes_changed", p);
	json_t *attrs = json_object_get(j, "file.attributes");
	assert_int_equal(json_array_size(attrs), 1);
	assert_string_equal(json_string_value(json_array_get(attrs, 0)), "nodump");
	assert_null(json_object_get(j, "yiwang.fim.before.attributes"));

link:
	path_of(h, "link", p);
	j = find(h, "file_modified", p);
	assert_string_equal(sget(j, "file.type"), "symlink");
	assert_string_equal(sget(j, "file.target_path"), "b");
	assert_string_equal(sget(j, "yiwang.fim.before.target_path"), "a");

	path_of(h, "newdir", p);
	j = find(h, "file_added", p);
	assert_string_equal(sget(j, "file.type"), "dir");
	assert_string_equal(sget(j, "file.mode"), "0700");
	path_of(h, "newdir/x", p);
	find(h, "file_added", p);
}

static void test_baseline_silent(void **st)
{
	(void)st;
	struct h h;
	setup_dirs(&h);
	make_tree(&h);
	assert_int_equal(start(&h, "off", NULL), 0);
	run_scan(&h);
	assert_int_equal(h.nev, 1);
	assert_string_equal(sget(h.ev[0], "event.action"), "fim_baseline_created");
	/* root, 7 files, sub, sub/inner, link */
	assert_int_equal(json_integer_value(json_object_get(h.ev[0], "yiwang.fim.files")), 11);
	assert_int_equal(stats(&h).baseline, 11);
	/* an unchanged tree rescans without file events */
	clear_events(&h);
	run_scan(&h);
	assert_int_equal(h.nev, 1);
	assert_string_equal(sget(h.ev[0], "event.action"), "fim_scan_completed");
	teardown_dirs(&h);
}

static void test_rescan_changes(void **st)
{
	(void)st;
	struct h h;
	setup_dirs(&h);
	make_tree(&h);
	assert_int_equal(start(&h, "off", NULL), 0);
	run_scan(&h);
	clear_events(&h);
	size_t want = change_tree(&h);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), want);
	check_changes(&h, "scan", true);
	clear_events(&h);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), 0);
	teardown_dirs(&h);
}

/* The sink refusing every other record: each event still arrives exactly once. */
static void test_sink_full(void **st)
{
	(void)st;
	struct h h;
	setup_dirs(&h);
	make_tree(&h);
	assert_int_equal(start(&h, "off", NULL), 0);
	run_scan(&h);
	clear_events(&h);
	size_t want = change_tree(&h);
	h.full_every = 2;
	run_scan(&h);
	assert_int_equal(count_file_events(&h), want);
	check_changes(&h, "scan", true);
	teardown_dirs(&h);
}

static void test_realtime(void **st)
{
	(void)st;
	struct h h;
	setup_dirs(&h);
	make_tree(&h);
	const char *extra[] = {"scan_interval_ms", "0", NULL};
	assert_int_equal(start(&h, "on", extra), 0);
	run_scan(&h);
	assert_true(stats(&h).watches >= 2); /* the root, sub (and the root's parent) */
	clear_events(&h);
	char p[256];
	size_t want = change_tree(&h);
	/* inotify does not report chattr flags (FS_IOC_SETFLAGS): the next scan does */
	wait_events(&h, want - 1);
	check_changes(&h, "realtime", false);
	assert_int_equal(count_file_events(&h), want - 1);
	assert_int_equal(stats(&h).scans, 1); /* all of it from inotify, no rescan */
	clear_events(&h);
	assert_int_equal(yw_collector_fim.commit(h.col), 0);
	yw_collector_fim.exit(h.col);
	assert_int_equal(start(&h, "on", extra), 0); /* scans at start */
	run_scan(&h);
	assert_int_equal(count_file_events(&h), 1);
	path_of(&h, "n", p);
	assert_string_equal(sget(find(&h, "file_attributes_changed", p), "yiwang.fim.trigger"),
	                    "scan");

	/* rapid writes to one file coalesce into one event */
	clear_events(&h);
	for (int i = 0; i < 20; i++) {
		char c[32];
		snprintf(c, sizeof(c), "write %d\n", i);
		write_file(&h, "a", c, 0644);
	}
	wait_events(&h, 1);
	assert_int_equal(count_file_events(&h), 1);
	path_of(&h, "a", p);
	find(&h, "file_modified", p);

	/* removing a directory reports everything below it */
	clear_events(&h);
	path_of(&h, "newdir/x", p);
	char q[256];
	path_of(&h, "moved", q);
	path_of(&h, "newdir", p);
	assert_int_equal(rename(p, q), 0);
	wait_events(&h, 4);
	assert_int_equal(count_file_events(&h), 4);
	find(&h, "file_deleted", p);
	strcat(p, "/x");
	find(&h, "file_deleted", p);
	find(&h, "file_added", q);
	strcat(q, "/x");
	find(&h, "file_added", q);
	teardown_dirs(&h);
}

static void test_restart(void **st)
{
	(void)st;
	struct h h;
	setup_dirs(&h);
	make_tree(&h);
	assert_int_equal(start(&h, "off", NULL), 0);
	run_scan(&h);
	assert_int_equal(yw_collector_fim.commit(h.col), 0);
	yw_collector_fim.exit(h.col);
	clear_events(&h);

	assert_int_equal(start(&h, "off", NULL), 0);
	assert_true(stats(&h).have_baseline);
	assert_int_equal(stats(&h).baseline, 11);
	run_scan(&h);
	assert_int_equal(h.nev, 1);
	assert_string_equal(sget(h.ev[0], "event.action"), "fim_scan_completed");

	/* changes go to the journal; a restart replays it and repeats nothing */
	clear_events(&h);
	size_t want = change_tree(&h);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), want);
	assert_int_equal(yw_collector_fim.commit(h.col), 0);
	char j[128];
	snprintf(j, sizeof(j), "%s.journal", h.state);
	struct stat jst;
	assert_int_equal(stat(j, &jst), 0);
	assert_true(jst.st_size > 24);
	yw_collector_fim.exit(h.col);
	clear_events(&h);
	assert_int_equal(start(&h, "off", NULL), 0);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), 0);

	/* changes found while the agent was down are reported at start */
	yw_collector_fim.exit(h.col);
	h.col = NULL;
	clear_events(&h);
	write_file(&h, "b", "bravo, offline\n", 0600);
	assert_int_equal(start(&h, "off", NULL), 0);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), 1);
	char p[256];
	path_of(&h, "b", p);
	find(&h, "file_modified", p);

	/* a damaged state file is a fresh, silent baseline */
	yw_collector_fim.exit(h.col);
	h.col = NULL;
	clear_events(&h);
	FILE *f = fopen(h.state, "r+");
	fseek(f, 40, SEEK_SET);
	fputc('X', f);
	fclose(f);
	assert_int_equal(start(&h, "off", NULL), 0);
	assert_false(stats(&h).have_baseline);
	run_scan(&h);
	assert_int_equal(h.nev, 1);
	assert_string_equal(sget(h.ev[0], "event.action"), "fim_baseline_created");
	teardown_dirs(&h);
}

static void test_hostile_tree(void **st)
{
	(void)st;
	struct h h;
	char p[4200], q[256];
	setup_dirs(&h);
	assert_int_equal(start(&h, "on", NULL), 0);
	run_scan(&h);
	clear_events(&h);
	/* symlink loops: to itself, to each other, to the parent directory */
	path_of(&h, "self", p);
	assert_int_equal(symlink("self", p), 0);
	path_of(&h, "l1", p);
	assert_int_equal(symlink("l2", p), 0);
	path_of(&h, "l2", p);
	assert_int_equal(symlink("l1", p), 0);
	path_of(&h, "up", p);
	assert_int_equal(symlink("..", p), 0);
	path_of(&h, "fifo", p);
	assert_int_equal(mkfifo(p, 0600), 0);
	write_file(&h, "locked", "secret\n", 0000);
	static const char bad[] = "bad-\xff\xfe-name";
	path_of(&h, bad, p);
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), 7);
	path_of(&h, "up", p);
	assert_string_equal(sget(find(&h, "file_added", p), "file.target_path"), "..");
	path_of(&h, "fifo", p);
	assert_string_equal(sget(find(&h, "file_added", p), "file.type"), "fifo");
	path_of(&h, "locked", p);
	assert_string_equal(sget(find(&h, "file_added", p), "file.mode"), "0000");
	path_of(&h, "bad-\xef\xbf\xbd\xef\xbf\xbd-name", p); /* U+FFFD for each bad byte */
	find(&h, "file_added", p);

	/* too deep and too long: counted and skipped */
	strcpy(p, h.dir);
	for (int i = 0; i < YW_FIM_MAX_DEPTH + 3; i++) {
		strcat(p, "/d");
		assert_int_equal(mkdir(p, 0755), 0);
	}
	char name[256];
	memset(name, 'x', 250);
	name[250] = 0;
	fd = open(h.dir, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 18; i++) {
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = nfd;
	}
	close(fd);
	run_scan(&h);
	assert_true(stats(&h).too_deep > 0);
	assert_true(stats(&h).path_too_long > 0);

	/* files vanishing while scans run: a child creates and deletes them in a loop */
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0;; i++) {
			snprintf(q, sizeof(q), "%s/race%d", h.dir, i % 50);
			int f = open(q, O_WRONLY | O_CREAT, 0644);
			if (f >= 0) {
				(void)!write(f, q, strlen(q));
				close(f);
			}
			unlink(q);
		}
	}
	assert_true(pid > 0);
	for (int i = 0; i < 20; i++)
		run_scan(&h);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_true(stats(&h).have_baseline);
	teardown_dirs(&h);
}

static void test_huge_dir(void **st)
{
	(void)st;
	struct h h;
	char p[256];
	setup_dirs(&h);
	for (int i = 0; i < 20000; i++) {
		snprintf(p, sizeof(p), "%s/f%05d", h.dir, i);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	const char *extra[] = {"files_per_poll", "500", NULL};
	assert_int_equal(start(&h, "off", extra), 0);
	int polls = 0;
	int64_t worst = 0;
	while (stats(&h).scans < 1) {
		int64_t t0 = now_ms();
		assert_true(yw_collector_fim.poll(h.col, sink, &h) >= 0);
		int64_t dt = now_ms() - t0;
		worst = dt > worst ? dt : worst;
		assert_true(++polls < 1000);
	}
	assert_true(polls >= 40); /* 20,001 entries, 500 per poll */
	assert_true(worst < 2000);
	assert_int_equal(stats(&h).baseline, 20001);
	assert_int_equal(json_integer_value(json_object_get(h.ev[0], "yiwang.fim.files")), 20001);
	print_message("20,001 entries: %d polls, slowest %lld ms\n", polls, (long long)worst);
	teardown_dirs(&h);
}

/* More changes than inotify's queue holds: the overflow triggers a rescan and every file is
 * reported once; directories past max_watches are left to the scans. */
static void test_overflow_and_watch_limit(void **st)
{
	(void)st;
	struct h h;
	char p[256];
	setup_dirs(&h);
	path_of(&h, "s1", p);
	assert_int_equal(mkdir(p, 0755), 0);
	path_of(&h, "s2", p);
	assert_int_equal(mkdir(p, 0755), 0);
	const char *extra[] = {"scan_interval_ms", "0", "max_watches", "2", NULL};
	assert_int_equal(start(&h, "on", extra), 0);
	run_scan(&h);
	assert_int_equal(stats(&h).watches, 2);
	assert_true(stats(&h).watch_limit > 0);
	clear_events(&h);
	h.count_only = true;
	for (int i = 0; i < 17000; i++) {
		snprintf(p, sizeof(p), "%s/n%05d", h.dir, i);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	run_scan(&h);
	assert_true(stats(&h).overflows > 0);
	wait_events(&h, 17000);
	assert_int_equal(count_file_events(&h), 17000);
	teardown_dirs(&h);
}

static int64_t fake_mono(void *ud)
{
	return ((struct h *)ud)->mono;
}

static int64_t fake_cpu(void *ud)
{
	struct h *h = ud;
	h->cpu += h->cpu_step;
	return h->cpu;
}

static void test_io_rate(void **st)
{
	(void)st;
	struct h h;
	char p[256];
	setup_dirs(&h);
	path_of(&h, "big", p);
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	char *buf = calloc(1, 1 << 20);
	for (int i = 0; i < 50; i++) {
		buf[0] = (char)i;
		assert_int_equal(write(fd, buf, 1 << 20), 1 << 20);
	}
	close(fd);
	free(buf);
	const char *extra[] = {"io_rate", "10M", NULL};
	assert_int_equal(start(&h, "off", extra), 0);
	h.mono = 1000000000;
	struct yw_fim_clock clk = {.mono_ns = fake_mono, .ud = &h};
	yw_fim_set_clock(h.col, &clk);
	uint64_t prev = 0;
	int polls = 0;
	while (stats(&h).scans < 1) {
		assert_true(yw_collector_fim.poll(h.col, sink, &h) >= 0);
		uint64_t b = stats(&h).bytes_hashed;
		assert_true(b - prev <= 10u << 20); /* never more than one second's budget */
		prev = b;
		h.mono += 1000000000; /* one second between polls */
		assert_true(++polls < 100);
	}
	assert_int_equal(stats(&h).bytes_hashed, 50u << 20);
	assert_true(polls >= 5); /* 50 MiB at 10 MiB/s: at least 4 seconds after the first poll */

	/* half a second between polls: half the budget each */
	clear_events(&h);
	yw_collector_fim.exit(h.col);
	h.col = NULL;
	unlink(h.state);
	assert_int_equal(start(&h, "off", extra), 0);
	yw_fim_set_clock(h.col, &clk);
	prev = 0;
	int64_t t0 = h.mono;
	while (stats(&h).scans < 1) {
		assert_true(yw_collector_fim.poll(h.col, sink, &h) >= 0);
		h.mono += 500000000;
	}
	/* the first poll spends the initial 1 s burst; the rest needs 4 s of refill */
	assert_true(h.mono - t0 >= 4000000000LL);
	teardown_dirs(&h);
}

static void test_cpu_budget(void **st)
{
	(void)st;
	struct h h;
	setup_dirs(&h);
	make_tree(&h);
	const char *extra[] = {"cpu_percent", "10", NULL};
	assert_int_equal(start(&h, "off", extra), 0);
	h.mono = 1000000000;
	struct yw_fim_clock clk = {.mono_ns = fake_mono, .cpu_ns = fake_cpu, .ud = &h};
	yw_fim_set_clock(h.col, &clk);
	/* a poll that "used" a second of CPU: 10% of wall time pays it back in 10 s */
	h.cpu_step = 1000000000;
	assert_true(yw_collector_fim.poll(h.col, sink, &h) >= 0);
	assert_int_equal(stats(&h).files, 0);
	h.cpu_step = 0;
	for (int i = 0; i < 150; i++) {
		h.mono += 100000000;
		assert_true(yw_collector_fim.poll(h.col, sink, &h) >= 0);
	}
	assert_int_equal(stats(&h).files, 0); /* 15 s: still paying back */
	for (int i = 0; i < 200 && stats(&h).scans < 1; i++) {
		h.mono += 100000000;
		assert_true(yw_collector_fim.poll(h.col, sink, &h) >= 0);
	}
	assert_int_equal(stats(&h).scans, 1);
	teardown_dirs(&h);
}

static void test_hashes(void **st)
{
	(void)st;
	static const struct {
		const char *algo, *key, *want;
	} kat[] = {
	    {"sha256", "file.hash.sha256",
	     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"sm3", "file.hash.sm3",
	     "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
	};
	for (size_t i = 0; i < 2; i++) {
		struct h h;
		char p[256];
		setup_dirs(&h);
		const char *extra[] = {"hash", kat[i].algo, NULL};
		int rc = start(&h, "off", extra);
		if (rc == YW_EUNSUP && i == 1) {
			print_message("SM3 not available from OpenSSL: skipped\n");
			teardown_dirs(&h);
			continue;
		}
		assert_int_equal(rc, 0);
		run_scan(&h);
		write_file(&h, "abc", "abc", 0644);
		run_scan(&h);
		path_of(&h, "abc", p);
		assert_string_equal(sget(find(&h, "file_added", p), kat[i].key), kat[i].want);
		/* a baseline made with another algorithm is not compared: fresh baseline */
		assert_int_equal(yw_collector_fim.commit(h.col), 0);
		yw_collector_fim.exit(h.col);
		h.col = NULL;
		clear_events(&h);
		const char *other[] = {"hash", i ? "sha256" : "sm3", NULL};
		if (start(&h, "off", other) == 0) {
			assert_false(stats(&h).have_baseline);
		}
		teardown_dirs(&h);
	}
}

static void test_max_file_size_and_ignore(void **st)
{
	(void)st;
	struct h h;
	char p[256];
	setup_dirs(&h);
	const char *extra[] = {"max_file_size", "4", "ignore", "*.tmp", NULL};
	assert_int_equal(start(&h, "off", extra), 0);
	run_scan(&h);
	write_file(&h, "large", "more than four bytes\n", 0644);
	write_file(&h, "skip.tmp", "ignored\n", 0644);
	run_scan(&h);
	assert_int_equal(count_file_events(&h), 1);
	path_of(&h, "large", p);
	json_t *j = find(&h, "file_added", p);
	assert_string_equal(sget(j, "yiwang.fim.hash_skipped"), "too_large");
	assert_null(sget(j, "file.hash.sha256"));
	teardown_dirs(&h);
}

static void test_bad_options(void **st)
{
	(void)st;
	void *col = NULL;
	const struct yw_collector_opt bad[][2] = {
	    {{"path", "relative/dir"}, {"realtime", "off"}},
	    {{"path", "/tmp"}, {"hash", "md5"}},
	    {{"path", "/tmp"}, {"colour", "blue"}},
	    {{"path", "/tmp"}, {"io_rate", "fast"}},
	    {{"path", "/tmp"}, {"cpu_percent", "150"}},
	    {{"path", "/tmp/"}, {"realtime", "off"}},
	    {{"realtime", "off"}, {"realtime", "on"}},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(yw_collector_fim.init(NULL, bad[i], 2, &col), YW_EINVAL);
		assert_null(col);
	}
	const struct yw_collector_opt ok[] = {{"path", "/nonexistent/yw"},
	                                      {"io_rate", "2MiB"},
	                                      {"scan_interval_ms", "12h"},
	                                      {"realtime", "off"}};
	assert_int_equal(yw_collector_fim.init(NULL, ok, 4, &col), 0);
	yw_collector_fim.exit(col);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_baseline_silent), cmocka_unit_test(test_rescan_changes),
	    cmocka_unit_test(test_sink_full),       cmocka_unit_test(test_realtime),
	    cmocka_unit_test(test_restart),         cmocka_unit_test(test_hostile_tree),
	    cmocka_unit_test(test_huge_dir),        cmocka_unit_test(test_overflow_and_watch_limit),
	    cmocka_unit_test(test_io_rate),         cmocka_unit_test(test_cpu_budget),
	    cmocka_unit_test(test_hashes),          cmocka_unit_test(test_max_file_size_and_ignore),
	    cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
