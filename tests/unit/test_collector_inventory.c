/* Inventory collector: a full snapshot of this machine, then exactly the changes made to a
 * fixture root (packages, users, groups, ports, services), across restarts and a full sink. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"

struct got {
	char **ev;
	size_t n, cap;
	int full_at; /* return YW_SINK_FULL on this call (1-based), 0 = never */
	int calls;
};

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct got *g = ud;
	if (g->full_at && ++g->calls == g->full_at)
		return YW_SINK_FULL;
	assert_int_equal(rec->kind, YW_REC_EVENT);
	assert_true(rec->len < YW_MAX_RECORD_DATA);
	assert_int_equal(rec->source_len, 9);
	assert_memory_equal(rec->source, "inventory", 9);
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 256;
		g->ev = realloc(g->ev, g->cap * sizeof(char *));
		assert_non_null(g->ev);
	}
	g->ev[g->n++] = strndup(rec->data, rec->len);
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->ev[i]);
	free(g->ev);
	memset(g, 0, sizeof(*g));
}

static size_t count(const struct got *g, const char *a, const char *b)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		if (strstr(g->ev[i], a) && (!b || strstr(g->ev[i], b)))
			n++;
	return n;
}

static void test_full_this_machine(void **state)
{
	struct yw_collector_opt opts[] = {{"rpm", "auto"}};
	void *col;
	assert_int_equal(yw_collector_inventory.init(NULL, opts, 1, &col), 0);
	struct got g = {0};
	int n = yw_collector_inventory.poll(col, sink, &g);
	assert_true(n > 0);
	assert_int_equal((size_t)n, g.n);
	/* every record is one JSON object with the log source and a dataset */
	for (size_t i = 0; i < g.n; i++) {
		json_error_t err;
		json_t *j = json_loads(g.ev[i], 0, &err);
		if (!j)
			fail_msg("bad JSON: %s: %s", err.text, g.ev[i]);
		assert_string_equal(json_string_value(json_object_get(j, "logsource.service")),
		                    "inventory");
		assert_non_null(json_object_get(j, "event.dataset"));
		json_decref(j);
	}
	assert_int_equal(count(&g, "\"inventory.os\"", "\"host.os.kernel\""), 1);
	assert_int_equal(count(&g, "\"inventory.hostname\"", "\"host.hostname\""), 1);
	assert_true(count(&g, "\"inventory.interfaces\"", "\"interface.name\":\"lo\"") == 1);
	assert_true(count(&g, "\"inventory.packages\"", "\"package.name\":\"libc6\"") >= 1);
	assert_true(count(&g, "\"inventory.packages\"", NULL) > 50);
	assert_int_equal(count(&g, "\"inventory.users\"", "\"user.name\":\"root\""), 1);
	assert_int_equal(count(&g, "\"inventory.groups\"", "\"group.name\":\"root\""), 1);
	assert_int_equal(count(&g, "\"inventory.hardware\"", NULL), 1);
	/* the summary closes the snapshot, last */
	assert_non_null(strstr(g.ev[g.n - 1], "\"inventory_snapshot_end\""));
	assert_int_equal(count(&g, "inventory_snapshot_end", NULL), 1);
	if (getenv("YW_TEST_VERBOSE"))
		for (size_t i = 0; i < g.n; i++)
			if (!strstr(g.ev[i], "inventory.packages"))
				printf("%s\n", g.ev[i]);
	/* nothing until the interval passes */
	got_free(&g);
	assert_int_equal(yw_collector_inventory.poll(col, sink, &g), 0);
	yw_collector_inventory.exit(col);

	struct yw_collector_opt bad[] = {{"interval_ms", "5"}};
	assert_int_equal(yw_collector_inventory.init(NULL, bad, 1, &col), YW_EINVAL);
	struct yw_collector_opt bad2[] = {{"colour", "red"}};
	assert_int_equal(yw_collector_inventory.init(NULL, bad2, 1, &col), YW_EINVAL);
}

/* ---- fixture root ---- */

static char g_root[64];

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s%s", g_root, rel);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	}
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *pkg(const char *name, const char *ver)
{
	static char b[8][256];
	static int i;
	i = (i + 1) % 8;
	snprintf(b[i], sizeof(b[i]),
	         "Package: %s\nStatus: install ok installed\nPriority: optional\nVersion: %s\n"
	         "Architecture: amd64\nDescription: test\n multi-line\n\n",
	         name, ver);
	return b[i];
}

static void status(const char *a, const char *b, const char *c)
{
	char s[2048];
	snprintf(s, sizeof(s), "%s%s%s", a, b, c);
	put("/var/lib/dpkg/status", s);
}

static int setup(void **state)
{
	snprintf(g_root, sizeof(g_root), "/tmp/yw_inv_XXXXXX");
	assert_non_null(mkdtemp(g_root));
	put("/etc/os-release", "ID=kylin\nID_LIKE=debian\nNAME=\"Kylin\"\nVERSION_ID=\"V10\"\n");
	put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:"
	                   "/bin/bash\n");
	put("/etc/group", "root:x:0:\nsudo:x:27:alice\n");
	status(pkg("bash", "5.2-1"), pkg("openssl", "3.0.1-1"), pkg("telnet", "0.17-1"));
	/* 127.0.0.1:53 LISTEN, an ESTABLISHED one, ::1:22 LISTEN, udp 0.0.0.0:68 unconnected */
	put("/proc/net/tcp",
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	    "timeout inode\n"
	    "   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101 "
	    "       0 11111 1 0000000000000000 100 0 0 10 0\n"
	    "   1: 0100007F:0035 0200007F:C350 01 00000000:00000000 00:00000000 00000000   101 "
	    "       0 22222 1 0000000000000000 100 0 0 10 0\n");
	put("/proc/net/tcp6",
	    "  sl  local_address                         remote_address                        st "
	    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	    "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A "
	    "00000000:00000000 00:00000000 00000000     0        0 33333 1 0000000000000000 100 0 "
	    "0 10 0\n");
	put("/proc/net/udp",
	    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	    "timeout inode ref pointer drops\n"
	    "  1: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0     "
	    "   0 44444 2 0000000000000000 0\n");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/etc/systemd/system/multi-user.target.wants", g_root);
	put("/etc/systemd/system/multi-user.target.wants/.keep", "");
	strcat(p, "/ssh.service");
	assert_int_equal(symlink("/lib/systemd/system/ssh.service", p), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_root);
	return system(cmd) == 0 ? 0 : -1;
}

static void *start(const char *statef, const char *interval)
{
	struct yw_collector_opt opts[] = {
	    {"root", g_root}, {"rpm", "off"}, {"interval_ms", interval}};
	struct yw_collector_env env = {.state_path = statef};
	void *col;
	assert_int_equal(yw_collector_inventory.init(&env, opts, 3, &col), 0);
	return col;
}

static void test_changes(void **state)
{
	char statef[PATH_MAX];
	snprintf(statef, sizeof(statef), "%s/inventory.state", g_root);
	void *col = start(statef, "3600000");
	struct got g = {0};
	assert_true(yw_collector_inventory.poll(col, sink, &g) > 0);
	assert_int_equal(count(&g, "\"inventory.packages\"", NULL), 3);
	assert_int_equal(count(&g, "\"inventory.users\"", NULL), 2);
	assert_int_equal(count(&g, "\"inventory.os\"", "\"host.os.platform\":\"kylin\""), 1);
	assert_int_equal(count(&g, "\"inventory.ports\"", NULL), 3);
	assert_int_equal(count(&g, "\"server.ip\":\"127.0.0.1\"", "\"server.port\":53"), 1);
	assert_int_equal(count(&g, "\"server.ip\":\"::1\"", "\"server.port\":22"), 1);
	assert_int_equal(count(&g, "\"network.transport\":\"udp\"", "\"server.port\":68"), 1);
	assert_int_equal(count(&g, "\"inventory.services\"", "\"service.name\":\"ssh.service\""),
	                 1);
	assert_int_equal(count(&g, "\"yiwang.group.members\":[\"alice\"]", NULL), 1);
	assert_int_equal(count(&g, "\"yiwang.inventory.count.packages\":3", NULL), 1);
	got_free(&g);
	assert_int_equal(yw_collector_inventory.commit(col), 0);
	yw_collector_inventory.exit(col);

	/* while the agent is down: telnet removed, openssl upgraded, curl installed, a user */
	status(pkg("bash", "5.2-1"), pkg("openssl", "3.0.2-1"), pkg("curl", "7.88-1"));
	put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:"
	                   "/bin/bash\nmallory:x:0:0::/root:/bin/sh\n");
	col = start(statef, "100");
	g.full_at = 2; /* the sink is full once: the rest follows next poll, nothing twice */
	assert_int_equal(yw_collector_inventory.poll(col, sink, &g), 1);
	assert_int_equal(yw_collector_inventory.poll(col, sink, &g), 3);
	assert_int_equal(g.n, 4);
	assert_int_equal(count(&g, "\"package_removed\"", "\"package.name\":\"telnet\""), 1);
	assert_int_equal(count(&g, "\"package_installed\"", "\"package.name\":\"curl\""), 1);
	assert_int_equal(count(&g, "\"package_upgraded\"", "\"package.version\":\"3.0.2-1\""), 1);
	assert_int_equal(count(&g, "\"package_upgraded\"",
	                       "\"yiwang.inventory.previous\":{\"package.name\":\"openssl\","
	                       "\"package.version\":\"3.0.1-1\""),
	                 1);
	assert_int_equal(count(&g, "\"user_added\"", "\"user.name\":\"mallory\",\"user.id\":0"), 1);
	assert_int_equal(count(&g, "\"event.kind\":\"event\"", NULL), 4);
	got_free(&g);

	/* in process, after the interval: a group change and a service disabled */
	put("/etc/group", "root:x:0:\nsudo:x:27:alice,mallory\n");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/etc/systemd/system/multi-user.target.wants/ssh.service", g_root);
	assert_int_equal(unlink(p), 0);
	usleep(150 * 1000);
	assert_int_equal(yw_collector_inventory.poll(col, sink, &g), 2);
	assert_int_equal(count(&g, "\"group_changed\"", "[\"alice\",\"mallory\"]"), 1);
	assert_int_equal(count(&g, "\"service_disabled\"", "\"ssh.service\""), 1);
	got_free(&g);
	/* unchanged: nothing */
	usleep(150 * 1000);
	assert_int_equal(yw_collector_inventory.poll(col, sink, &g), 0);
	assert_int_equal(yw_collector_inventory.commit(col), 0);
	yw_collector_inventory.exit(col);

	/* a damaged state file means a full snapshot again, never a crash */
	put("/inventory.state", "yiwang-inventory 1\n3\tbroken");
	col = start(statef, "3600000");
	assert_true(yw_collector_inventory.poll(col, sink, &g) > 5);
	assert_int_equal(count(&g, "inventory_snapshot_end", NULL), 1);
	got_free(&g);
	yw_collector_inventory.exit(col);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_this_machine),
	    cmocka_unit_test(test_changes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
