/* The notification outbox: nothing lost when the process is killed mid-dispatch, retries
 * with exponential backoff on a test clock, rate limits, filters, dedup, channel config. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/notify.h"
#include "yiwang/store.h"

struct fake {
	int64_t now;
	int fail_left;   /* sends that fail before one succeeds */
	int always_fail; /* for channel "dead" */
	int sends;       /* attempts seen */
	int delivered;
	const char *log;  /* file that gets "dedup\n" per delivery, or NULL */
	useconds_t delay; /* per send */
};

static int64_t fake_clock(void *ud)
{
	return ((struct fake *)ud)->now;
}

static int fake_send(void *ud, const struct yw_notify_channel *ch, const char *dedup,
                     const char *body, size_t len)
{
	struct fake *f = ud;
	f->sends++;
	assert_true(len > 0 && body[len] == '\0');
	if (f->delay)
		usleep(f->delay);
	if (!strcmp(ch->name, "dead") && f->always_fail)
		return YW_EIO;
	if (f->fail_left > 0) {
		f->fail_left--;
		return YW_EIO;
	}
	if (f->log) {
		int fd = open(f->log, O_WRONLY | O_APPEND | O_CREAT, 0600);
		assert_true(fd >= 0);
		char line[128];
		int n = snprintf(line, sizeof(line), "%s\n", dedup);
		assert_int_equal(write(fd, line, (size_t)n), n);
		close(fd);
	}
	f->delivered++;
	return 0;
}

static void tmpdir(char *dir, size_t sz)
{
	snprintf(dir, sz, "/tmp/yw-notify-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rmdir_all(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static struct yw_notify_channels load(const char *yaml)
{
	struct yw_notify_channels ch;
	struct yw_diags d = YW_DIAGS_INIT;
	int rc = yw_notify_load_channels(yaml, &ch, &d);
	if (rc)
		yw_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	yw_diags_free(&d);
	return ch;
}

static struct yw_notify *open_fake(const char *dir, const char *yaml, struct fake *f, bool thread)
{
	struct yw_notify_channels ch = load(yaml);
	struct yw_notify_opts o = {
	    .clock = thread ? NULL : fake_clock,
	    .send = fake_send,
	    .ud = f,
	    .no_thread = !thread,
	    .base_backoff_ms = 1000,
	    .max_backoff_ms = 8000,
	};
	struct yw_notify *n;
	assert_int_equal(yw_notify_new_opts(dir, &ch, &o, &n), 0);
	assert_int_equal(ch.n, 0); /* moved into n */
	return n;
}

static void enqueue(struct yw_notify *n, int i, int level, const char *group, const char *rule)
{
	char key[32], ev[128];
	snprintf(key, sizeof(key), "k%d", i);
	snprintf(ev, sizeof(ev), "{\"message\":\"event %d\",\"source.ip\":\"10.0.0.%d\"}", i,
	         i % 250);
	struct yw_notify_alert a = {
	    .rule_id = rule,
	    .title = "Test alert",
	    .level = level,
	    .agent_id = "agent-1",
	    .agent_name = "web1",
	    .group = group,
	    .ts_ns = 1700000000000000000LL + i,
	    .event_json = ev,
	    .dedup_key = key,
	};
	assert_int_equal(yw_notify_alert(n, &a), 0);
}

static size_t count_lines(const char *path, bool seen[], size_t nseen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[128];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		int k;
		if (seen && sscanf(line, "k%d", &k) == 1 && k >= 0 && (size_t)k < nseen)
			seen[k] = true;
	}
	fclose(f);
	return n;
}

#define NCRASH 40
static const char hook_yaml[] = "channels:\n"
                                "  - name: hook\n"
                                "    type: webhook\n"
                                "    url: http://127.0.0.1:9/\n";

/* A child enqueues, starts delivering, and is killed with SIGKILL mid-dispatch; a new
 * instance on the same directory delivers everything that was not confirmed. */
static void test_crash_at_least_once(void **state)
{
	(void)state;
	char dir[64], log[128];
	tmpdir(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/delivered", dir);
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fake f = {.log = log, .delay = 20000};
		struct yw_notify *n = open_fake(dir, hook_yaml, &f, true);
		for (int i = 0; i < NCRASH; i++)
			enqueue(n, i, YW_LEVEL_HIGH, NULL, "r1");
		if (write(ready[1], "x", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	/* Wait (bounded) until some, not all, were delivered, then kill. */
	size_t before = 0;
	for (int i = 0; i < 1000 && (before = count_lines(log, NULL, 0)) < 5; i++)
		usleep(10000);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	before = count_lines(log, NULL, 0);
	assert_true(before >= 5);
	assert_true(before < NCRASH);

	struct fake f = {.log = log, .now = (int64_t)time(NULL) * 1000 + 60000};
	struct yw_notify *n = open_fake(dir, hook_yaml, &f, false);
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_true(s.pending > 0);
	assert_true(s.pending <= NCRASH - before + 1); /* at most one in flight was lost */
	for (int i = 0; i < 10; i++)
		assert_true(yw_notify_dispatch(n, f.now) >= 0);
	yw_notify_stats(n, &s);
	assert_int_equal(s.pending, 0);
	bool seen[NCRASH] = {0};
	size_t total = count_lines(log, seen, NCRASH);
	for (int i = 0; i < NCRASH; i++)
		assert_true(seen[i]);
	assert_true(total >= NCRASH);
	assert_true(total <= NCRASH + 1);
	/* Sent rows are kept (for dedup), so another start sends nothing again. */
	yw_notify_free(n);
	n = open_fake(dir, hook_yaml, &f, false);
	assert_int_equal(yw_notify_dispatch(n, f.now), 0);
	yw_notify_free(n);

	struct stat sb;
	char db[128];
	snprintf(db, sizeof(db), "%s/notify.db", dir);
	assert_int_equal(stat(db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	rmdir_all(dir);
}

/* Failures are retried after 1, 2, 4 s (each with jitter in [d/2, d]); a channel that keeps
 * failing gives up after max_attempts and is not tried again. */
static void test_backoff(void **state)
{
	(void)state;
	char dir[64];
	tmpdir(dir, sizeof(dir));
	struct fake f = {.now = 100000, .fail_left = 3};
	struct yw_notify *n = open_fake(dir, hook_yaml, &f, false);
	enqueue(n, 1, YW_LEVEL_HIGH, NULL, "r1");
	int64_t t0 = f.now;
	assert_int_equal(yw_notify_dispatch(n, t0), 0);
	assert_int_equal(f.sends, 1);
	/* Retry 1 is due between 500 and 1000 ms later. */
	assert_int_equal(yw_notify_dispatch(n, t0 + 499), 0);
	assert_int_equal(f.sends, 1);
	assert_int_equal(yw_notify_dispatch(n, t0 + 1000), 0);
	assert_int_equal(f.sends, 2);
	int64_t t1 = t0 + 1000;
	assert_int_equal(yw_notify_dispatch(n, t1 + 999), 0);
	assert_int_equal(f.sends, 2);
	assert_int_equal(yw_notify_dispatch(n, t1 + 2000), 0);
	assert_int_equal(f.sends, 3);
	int64_t t2 = t1 + 2000;
	assert_int_equal(yw_notify_dispatch(n, t2 + 1999), 0);
	assert_int_equal(f.sends, 3);
	assert_int_equal(yw_notify_dispatch(n, t2 + 4000), 1);
	assert_int_equal(f.sends, 4);
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_int_equal(s.retries, 3);
	assert_int_equal(s.sent, 1);
	assert_int_equal(s.pending, 0);
	yw_notify_free(n);

	/* max_attempts: 2, then the row stays failed. */
	static const char dead_yaml[] =
	    "channels:\n"
	    "  - {name: dead, type: webhook, url: 'http://127.0.0.1:9/',"
	    " max_attempts: 2}\n";
	struct fake g = {.now = 100000, .always_fail = 1};
	n = open_fake(dir, dead_yaml, &g, false);
	enqueue(n, 2, YW_LEVEL_HIGH, NULL, "r1");
	for (int64_t t = 0; t <= 60000; t += 500)
		assert_int_equal(yw_notify_dispatch(n, g.now + t), 0);
	assert_int_equal(g.sends, 2);
	yw_notify_stats(n, &s);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.pending, 0);
	yw_notify_free(n);
	rmdir_all(dir);
}

/* A 6-per-minute channel sends a burst of 6, then one per 10 s. */
static void test_rate_limit(void **state)
{
	(void)state;
	char dir[64];
	tmpdir(dir, sizeof(dir));
	struct fake f = {.now = 1000000};
	struct yw_notify *n = open_fake(dir,
	                                "channels:\n"
	                                "  - {name: chat, type: wecom, rate_per_minute: 6,"
	                                " url: 'http://127.0.0.1:9/'}\n",
	                                &f, false);
	for (int i = 0; i < 20; i++)
		enqueue(n, i, YW_LEVEL_HIGH, NULL, "r1");
	int64_t t = f.now;
	assert_int_equal(yw_notify_dispatch(n, t), 6);
	assert_int_equal(yw_notify_dispatch(n, t), 0);
	assert_int_equal(yw_notify_dispatch(n, t + 9000), 0);
	assert_int_equal(yw_notify_dispatch(n, t + 10000), 1);
	assert_int_equal(yw_notify_dispatch(n, t + 60000), 5);
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_int_equal(s.sent, 12);
	assert_int_equal(s.pending, 8);
	assert_true(s.rate_limited >= 2);
	/* A long pause refills only up to the burst. */
	assert_int_equal(yw_notify_dispatch(n, t + 3600000), 6);
	yw_notify_free(n);
	rmdir_all(dir);
}

static void test_filters_dedup(void **state)
{
	(void)state;
	char dir[64];
	tmpdir(dir, sizeof(dir));
	struct fake f = {.now = 5000};
	struct yw_notify *n =
	    open_fake(dir,
	              "channels:\n"
	              "  - {name: high, type: webhook, url: 'http://h/',"
	              " min_level: high}\n"
	              "  - {name: planta, type: webhook, url: 'http://h/',"
	              " groups: [plant-a]}\n"
	              "  - {name: r2, type: webhook, url: 'http://h/', rules: r2}\n",
	              &f, false);
	enqueue(n, 1, YW_LEVEL_MEDIUM, "plant-a", "r1"); /* planta only */
	enqueue(n, 2, YW_LEVEL_HIGH, "plant-b", "r2");   /* high, r2 */
	enqueue(n, 3, YW_LEVEL_LOW, NULL, "r1");         /* none */
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_int_equal(s.enqueued, 3);
	assert_int_equal(s.filtered, 6);
	assert_int_equal(s.pending, 3);
	/* The same alert again (same dedup key) is not queued twice, before or after sending. */
	enqueue(n, 2, YW_LEVEL_HIGH, "plant-b", "r2");
	assert_int_equal(yw_notify_dispatch(n, f.now), 3);
	enqueue(n, 2, YW_LEVEL_HIGH, "plant-b", "r2");
	yw_notify_stats(n, &s);
	assert_int_equal(s.duplicates, 4);
	assert_int_equal(s.pending, 0);

	/* Without a dedup key, one is derived: the same alert twice is one row. */
	struct yw_notify_alert a = {.rule_id = "r2",
	                            .title = "t",
	                            .level = YW_LEVEL_HIGH,
	                            .agent_id = "a",
	                            .ts_ns = 42,
	                            .event_json = "{}"};
	assert_int_equal(yw_notify_alert(n, &a), 0);
	assert_int_equal(yw_notify_alert(n, &a), 0);
	a.ts_ns = 43;
	assert_int_equal(yw_notify_alert(n, &a), 0);
	yw_notify_stats(n, &s);
	assert_int_equal(s.pending, 4); /* 2 alerts x 2 channels */
	yw_notify_free(n);
	rmdir_all(dir);
}

static void test_channels_config(void **state)
{
	(void)state;
	char dir[64], path[128], yaml[512];
	tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\n", 7), 7);
	close(fd);
	chmod(path, 0644);
	snprintf(yaml, sizeof(yaml),
	         "channels:\n"
	         "  - name: soc-wecom\n"
	         "    type: wecom\n"
	         "    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x\n"
	         "    min_level: high\n"
	         "    groups: [plant-a]\n"
	         "  - name: hook\n"
	         "    type: webhook\n"
	         "    url: https://example.org/hook\n"
	         "    secret_file: %s\n",
	         path);
	struct yw_notify_channels ch;
	struct yw_diags d = YW_DIAGS_INIT;
	/* Group- or world-readable secret files are refused. */
	assert_int_equal(yw_notify_load_channels(yaml, &ch, &d), YW_EINVAL);
	assert_int_equal(d.nerrors, 1);
	assert_non_null(strstr(d.v[0].msg, "0600"));
	assert_int_equal(d.v[0].line, 10);
	yw_diags_free(&d);
	chmod(path, 0600);
	assert_int_equal(yw_notify_load_channels(yaml, &ch, &d), 0);
	assert_int_equal(ch.n, 2);
	assert_int_equal(ch.v[0].type, YW_NOTIFY_WECOM);
	assert_int_equal(ch.v[0].min_level, YW_LEVEL_HIGH);
	assert_int_equal(ch.v[0].rate_per_minute, 20); /* the robot's own limit */
	assert_int_equal(ch.v[0].groups.n, 1);
	assert_string_equal(ch.v[1].secret, "s3cret"); /* without the newline */
	assert_int_equal(ch.v[1].rate_per_minute, 0);
	yw_notify_channels_free(&ch);
	yw_diags_free(&d);

	static const char *const bad[] = {
	    "channels:\n  - {name: a, type: pager, url: 'http://x/'}\n",
	    "channels:\n  - {name: a, type: webhook}\n",
	    "channels:\n  - {name: a, type: syslog, url: 'udp://x:514'}\n",
	    "channels:\n  - {name: a, type: email, url: 'smtp://x:25'}\n",
	    "channels:\n  - {name: a, type: webhook, url: 'http://x/', colour: red}\n",
	    ("channels:\n  - {name: a, type: webhook, url: 'http://x/'}\n"
	     "  - {name: a, type: webhook, url: 'http://y/'}\n"),
	    "channels:\n  - {name: a, type: webhook, url: 'http://x/', min_level: huge}\n",
	    "channels:\n  - {name: a, type: webhook, url: [x\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(yw_notify_load_channels(bad[i], &ch, &d), YW_EINVAL);
		assert_true(d.nerrors >= 1);
		assert_true(d.v[0].line >= 1);
		assert_int_equal(ch.n, 0);
		yw_diags_free(&d);
	}
	assert_int_equal(yw_notify_load_channels("/nonexistent/channels.yml", &ch, &d), YW_ENOENT);
	yw_diags_free(&d);
	rmdir_all(dir);
}

/* The dispatcher thread sends what is enqueued without being driven, and stops on free. */
static void test_thread(void **state)
{
	(void)state;
	char dir[64];
	tmpdir(dir, sizeof(dir));
	struct fake f = {0};
	struct yw_notify *n = open_fake(dir, hook_yaml, &f, true);
	for (int i = 0; i < 5; i++)
		enqueue(n, i, YW_LEVEL_HIGH, NULL, "r1");
	struct yw_notify_stats s = {0};
	for (int i = 0; i < 500 && s.sent < 5; i++) {
		usleep(10000);
		yw_notify_stats(n, &s);
	}
	assert_int_equal(s.sent, 5);
	assert_int_equal(s.pending, 0);
	yw_notify_free(n);
	rmdir_all(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crash_at_least_once), cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_rate_limit),          cmocka_unit_test(test_filters_dedup),
	    cmocka_unit_test(test_channels_config),     cmocka_unit_test(test_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
