/* Declarative configuration: defaults, YAML loading, unknown keys and bad values with
 * file:line:col, and the parsers for durations and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yiwang/config.h"
#include "yiwang/error.h"

struct cfg {
	char *listen;
	int64_t workers;
	bool tls;
	int64_t heartbeat_ms;
	int64_t spool_max;
	char *policy;
	struct yw_strlist files;
};

static const char *const policies[] = {"block", "drop_oldest", NULL};

static const struct yw_opt opts[] = {
	{"server.listen", YW_OPT_STR, offsetof(struct cfg, listen), "0.0.0.0:1514", "address", 0, 0, NULL},
	{"server.workers", YW_OPT_INT, offsetof(struct cfg, workers), "2", "threads", 1, 64, NULL},
	{"server.tls", YW_OPT_BOOL, offsetof(struct cfg, tls), "true", "tls", 0, 0, NULL},
	{"heartbeat", YW_OPT_DURATION, offsetof(struct cfg, heartbeat_ms), "30s", "hb", 0, 0, NULL},
	{"spool.max_size", YW_OPT_SIZE, offsetof(struct cfg, spool_max), "256MiB", "max", 0, 0, NULL},
	{"spool.policy", YW_OPT_ENUM, offsetof(struct cfg, policy), "block", "when full", 0, 0, policies},
	{"files", YW_OPT_LIST, offsetof(struct cfg, files), "/var/log/auth.log,/var/log/syslog", "logs", 0, 0, NULL},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/yw-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults_and_load(void **state)
{
	struct cfg c = {0};
	assert_int_equal(yw_config_defaults(opts, NOPTS, &c), 0);
	assert_string_equal(c.listen, "0.0.0.0:1514");
	assert_int_equal(c.workers, 2);
	assert_true(c.tls);
	assert_int_equal(c.heartbeat_ms, 30000);
	assert_int_equal(c.spool_max, 256 * 1024 * 1024);
	assert_int_equal(c.files.n, 2);
	assert_string_equal(c.files.v[1], "/var/log/syslog");

	char *p = write_tmp("server:\n  listen: 127.0.0.1:9000\n  workers: 4\n"
			    "heartbeat: 500ms\nspool:\n  max_size: 1GiB\n  policy: drop_oldest\n"
			    "files:\n  - /tmp/a.log\n");
	struct yw_diags d = YW_DIAGS_INIT;
	assert_int_equal(yw_config_load(opts, NOPTS, &c, p, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.heartbeat_ms, 500);
	assert_int_equal(c.spool_max, 1024LL * 1024 * 1024);
	assert_string_equal(c.policy, "drop_oldest");
	assert_int_equal(c.files.n, 1);
	assert_string_equal(c.files.v[0], "/tmp/a.log");
	unlink(p);
	free(p);
	yw_diags_free(&d);
	yw_config_free(opts, NOPTS, &c);
	assert_null(c.listen);
}

static void test_errors_have_positions(void **state)
{
	struct cfg c = {0};
	assert_int_equal(yw_config_defaults(opts, NOPTS, &c), 0);
	char *p = write_tmp("server:\n  listen: x\n  wrokers: 4\n  workers: 99\n"
			    "heartbeat: soon\nspool:\n  policy: never\ntls: yes\nfiles: one\n");
	struct yw_diags d = YW_DIAGS_INIT;
	assert_int_equal(yw_config_load(opts, NOPTS, &c, p, &d), YW_EINVAL);
	assert_int_equal(d.nerrors, 6);
	assert_int_equal(d.v[0].line, 3);
	assert_int_equal(d.v[0].col, 3);
	assert_non_null(strstr(d.v[0].msg, "unknown option 'server.wrokers'"));
	assert_int_equal(d.v[1].line, 4);
	assert_non_null(strstr(d.v[1].msg, "out of range"));
	assert_int_equal(d.v[2].line, 5);
	assert_non_null(strstr(d.v[2].msg, "duration"));
	assert_int_equal(d.v[3].line, 7);
	assert_non_null(strstr(d.v[3].msg, "allowed values"));
	assert_int_equal(d.v[4].line, 8);
	assert_non_null(strstr(d.v[4].msg, "unknown option 'tls'"));
	assert_int_equal(d.v[5].line, 9);
	assert_non_null(strstr(d.v[5].msg, "must be a list"));
	/* Valid keys before an error still applied; bad values left the previous value. */
	assert_string_equal(c.listen, "x");
	assert_int_equal(c.workers, 2);
	unlink(p);
	free(p);
	yw_diags_free(&d);

	p = write_tmp("server: [unclosed\n");
	assert_int_equal(yw_config_load(opts, NOPTS, &c, p, &d), YW_EINVAL);
	assert_int_equal(d.nerrors, 1);
	assert_non_null(strstr(d.v[0].msg, "YAML"));
	unlink(p);
	free(p);
	yw_diags_free(&d);
	assert_int_equal(yw_config_load(opts, NOPTS, &c, "/nonexistent/x.yml", &d), YW_ENOENT);
	yw_diags_free(&d);
	yw_config_free(opts, NOPTS, &c);
}

static void test_parsers_and_set(void **state)
{
	int64_t v;
	assert_int_equal(yw_parse_duration_ms("2h", &v), 0);
	assert_int_equal(v, 7200000);
	assert_int_equal(yw_parse_duration_ms("15", &v), 0);
	assert_int_equal(v, 15000);
	assert_int_equal(yw_parse_duration_ms("1y", &v), YW_EINVAL);
	assert_int_equal(yw_parse_duration_ms("-1s", &v), YW_EINVAL);
	assert_int_equal(yw_parse_duration_ms("99999999999999999999d", &v), YW_EINVAL);
	assert_int_equal(yw_parse_size("64KiB", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(yw_parse_size("10 MiB", &v), YW_EINVAL);
	struct cfg c = {0};
	char err[128];
	assert_int_equal(yw_config_defaults(opts, NOPTS, &c), 0);
	assert_int_equal(yw_config_set(opts, NOPTS, &c, "server.workers", "8", err, sizeof(err)), 0);
	assert_int_equal(c.workers, 8);
	assert_int_equal(yw_config_set(opts, NOPTS, &c, "nope", "8", err, sizeof(err)), YW_ENOENT);
	assert_int_equal(yw_config_set(opts, NOPTS, &c, "server.tls", "maybe", err, sizeof(err)),
			 YW_EINVAL);
	yw_config_free(opts, NOPTS, &c);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	yw_config_doc(opts, NOPTS, f);
	fclose(f);
	assert_non_null(strstr(buf, "| `spool.policy` | choice | `block` | when full (`block`, `drop_oldest`) |"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_load),
		cmocka_unit_test(test_errors_have_positions),
		cmocka_unit_test(test_parsers_and_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
