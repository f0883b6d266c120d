/* SCA policies: strict loading with positions, every rule type against a fixture root,
 * conditions, command timeouts, and the collector (bad check reported, the rest run; only
 * changes after the first run). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/sca.h"

static char g_root[64];

static const char dpkg_status[] =
    "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\n"
    "Architecture: amd64\n\nPackage: telnet\nStatus: deinstall ok config-files\n"
    "Version: 0.17\nArchitecture: amd64\n\nPackage: auditd\nStatus: install ok "
    "installed\nVersion: 1:3.0.9-1\nArchitecture: amd64\n";

static void mkdirs(const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	}
}

static void put(const char *rel, const char *content, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s%s", g_root, rel);
	mkdirs(p);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(p, mode);
}

static void link_to(const char *target, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s%s", g_root, rel);
	mkdirs(p);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
	snprintf(g_root, sizeof(g_root), "/tmp/yw_sca_XXXXXX");
	assert_non_null(mkdtemp(g_root));
	put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/bin/false\n",
	    0644);
	put("/etc/group", "root:x:0:\nshadow:x:42:\n", 0644);
	put("/etc/os-release", "ID=kylin\nID_LIKE=\"debian\"\nNAME=Kylin\n", 0644);
	put("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0640);
	put("/etc/ssh/sshd_config",
	    "# comment\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"
	    "MaxAuthTries 4\nX11Forwarding yes\n",
	    0600);
	put("/etc/ssh/sshd_config.d/10-local.conf", "PasswordAuthentication no\n", 0644);
	put("/etc/login.defs", "PASS_MAX_DAYS\t99999\nPASS_MIN_DAYS 1\n", 0644);
	put("/proc/sys/net/ipv4/ip_forward", "0\n", 0644);
	put("/proc/sys/kernel/randomize_va_space", "2\n", 0644);
	put("/proc/sys/net/ipv4/tcp_rmem", "4096\t131072\t6291456\n", 0644);
	put("/proc/sys/kernel/osrelease", "6.1.0-test\n", 0644);
	put("/proc/modules", "usb_storage 81920 0 - Live 0x0\next4 1 0 - Live 0x0\n", 0644);
	put("/lib/modules/6.1.0-test/modules.dep",
	    "kernel/fs/cramfs/cramfs.ko.xz:\nkernel/fs/udf/udf.ko.xz: kernel/lib/crc-itu-t.ko\n"
	    "kernel/drivers/usb/storage/usb-storage.ko.xz:\n",
	    0644);
	put("/etc/modprobe.d/cis.conf",
	    "install cramfs /bin/false\nblacklist cramfs\n# install udf /bin/false\n", 0644);
	put("/var/lib/dpkg/status", dpkg_status, 0644);
	link_to("/lib/systemd/system/auditd.service",
	        "/etc/systemd/system/multi-user.target.wants/auditd.service");
	link_to("/dev/null", "/etc/systemd/system/avahi-daemon.service");
	put("/etc/rc2.d/S01rsync", "", 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_root);
	return system(cmd) == 0 ? 0 : -1;
}

static char *write_policy(const char *name, const char *text)
{
	static char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", g_root, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static bool has_diag(const struct yw_diags *d, unsigned line, unsigned col, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].line == line && (!col || d->v[i].col == col) &&
		    strstr(d->v[i].msg, needle))
			return true;
	return false;
}

#define HEAD "policy:\n  id: t\n  name: test\n  os_like: [debian]\nchecks:\n"
#define META "    title: T\n    rationale: R\n    remediation: X\n    condition: all\n"

static void test_load_strict(void **state)
{
	const char *text = HEAD "  - id: ok1\n" META "    rules:\n      - file: /etc/passwd\n"
	                        "        contains: '^root:'\n"
	                        "  - id: bad1\n" META "    colour: red\n    rules:\n"
	                        "      - file: /etc/passwd\n        contains: '^root:'\n"
	                        "  - id: bad2\n" META "    rules:\n      - file: /etc/passwd\n"
	                        "        contains: '(unclosed'\n"
	                        "  - id: bad3\n" META "    rules:\n      - frobnicate: x\n"
	                        "  - id: ok1\n" META "    rules:\n      - sysctl: kernel.x\n"
	                        "        equals: '1'\n"
	                        "  - id: bad5\n    title: T\n    condition: all\n    rules:\n"
	                        "      - package_installed: auditd\n"
	                        "  - id: bad6\n" META "    rules:\n      - file: /etc/x\n"
	                        "        contains: 'a'\n        compare: '>= 3'\n"
	                        "  - id: ok2\n" META "    rules:\n      - stat: /etc/shadow\n"
	                        "        mode_max: '0640'\n";
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_sca_policy *p;
	assert_int_equal(yw_sca_policy_load(write_policy("p.yml", text), &p, &d), 0);
	assert_non_null(p);
	assert_int_equal(p->nchecks, 2);
	assert_string_equal(p->checks[0].id, "ok1");
	assert_string_equal(p->checks[1].id, "ok2");
	assert_int_equal(p->nbad, 6);
	/* lines and columns (1-based) of each problem */
	assert_true(has_diag(&d, 19, 5, "unknown key 'colour'"));
	assert_true(has_diag(&d, 30, 19, "bad regular expression"));
	assert_true(has_diag(&d, 37, 9, "rule has no type"));
	assert_true(has_diag(&d, 38, 5, "already used at line 6"));
	assert_true(has_diag(&d, 46, 5, "has no 'rationale'"));
	assert_true(has_diag(&d, 57, 9, "capture group"));
	assert_int_equal(d.nerrors, 7); /* bad5 lacks rationale and remediation */
	yw_diags_free(&d);
	yw_sca_policy_free(p);

	/* not YAML at all, and no policy id: the file is refused with a position */
	d = (struct yw_diags)YW_DIAGS_INIT;
	assert_int_equal(
	    yw_sca_policy_load(write_policy("q.yml", "policy: [a,\nchecks: {"), &p, &d), YW_EPARSE);
	assert_null(p);
	assert_true(d.nerrors == 1 && d.v[0].line >= 2);
	yw_diags_free(&d);
	d = (struct yw_diags)YW_DIAGS_INIT;
	assert_int_equal(
	    yw_sca_policy_load(write_policy("r.yml", "policy:\n  name: x\nchecks: []\n"), &p, &d),
	    YW_EPARSE);
	assert_true(has_diag(&d, 1, 1, "no 'policy: {id"));
	yw_diags_free(&d);
	d = (struct yw_diags)YW_DIAGS_INIT;
	assert_int_equal(yw_sca_policy_load("/nonexistent/p.yml", &p, &d), YW_EIO);
	yw_diags_free(&d);

	/* A key repeated in a rule (found by fuzz_sca_policy: the first value leaked) is an
	 * error of that check; the others load. */
	d = (struct yw_diags)YW_DIAGS_INIT;
	assert_int_equal(
	    yw_sca_policy_load(write_policy("s.yml", HEAD "  - id: rep\n" META "    rules:\n"
	                                                  "      - sysctl: kernel.x\n"
	                                                  "        equals: '1'\n"
	                                                  "        equals: '2'\n"
	                                                  "  - id: ok\n" META "    rules:\n"
	                                                  "      - stat: /etc/shadow\n"
	                                                  "        owner: root\n"),
	                       &p, &d),
	    0);
	assert_int_equal(p->nchecks, 1);
	assert_int_equal(p->nbad, 1);
	assert_true(has_diag(&d, 14, 9, "'equals' given twice in this rule"));
	yw_diags_free(&d);
	yw_sca_policy_free(p);
}

static struct yw_sca_policy *load_ok(const char *text)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_sca_policy *p;
	int rc = yw_sca_policy_load(write_policy("e.yml", text), &p, &d);
	if (d.n)
		yw_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	yw_diags_free(&d);
	return p;
}

static int eval_id(struct yw_sca_ctx *c, const struct yw_sca_policy *p, const char *id,
                   char *reason)
{
	for (size_t i = 0; i < p->nchecks; i++)
		if (!strcmp(p->checks[i].id, id))
			return yw_sca_eval(c, &p->checks[i], reason, 512);
	fail_msg("no check %s", id);
	return -1;
}

/* One check per line of the table: "id", YAML rules (indented 6), condition, expected. */
struct tc {
	const char *id, *cond, *rules;
	int want;
};

static const struct tc cases[] = {
    {"f_contains", "all", "- file: /etc/ssh/sshd_config\n  contains: '^\\s*PermitRootLogin\\s+no'",
     YW_SCA_PASSED},
    {"f_glob", "all",
     "- file: [/etc/ssh/sshd_config.d/*.conf, /etc/ssh/sshd_config]\n"
     "  contains: '^PasswordAuthentication\\s+no'",
     YW_SCA_PASSED},
    {"f_not_contains", "all",
     "- file: /etc/ssh/sshd_config\n  not_contains: '^X11Forwarding\\s+yes'", YW_SCA_FAILED},
    {"f_cmp_ok", "all",
     "- file: /etc/ssh/sshd_config\n  contains: '^MaxAuthTries\\s+(\\d+)'\n  compare: '<= 4'",
     YW_SCA_PASSED},
    {"f_cmp_bad", "all",
     "- file: /etc/login.defs\n  contains: '^PASS_MAX_DAYS\\s+(\\d+)'\n  compare: '<= 365'",
     YW_SCA_FAILED},
    {"f_missing_fail", "all", "- file: /etc/nope\n  contains: 'x'", YW_SCA_FAILED},
    {"f_missing_na", "all", "- file: /etc/nope\n  contains: 'x'\n  missing: na", YW_SCA_NA},
    {"f_missing_notc", "all", "- file: /etc/nope\n  not_contains: 'x'", YW_SCA_PASSED},
    {"f_exists", "all", "- file: /etc/shadow\n  exists: true", YW_SCA_PASSED},
    {"f_absent", "all", "- file: /etc/hosts.equiv\n  exists: false", YW_SCA_PASSED},
    {"s_eq", "all", "- sysctl: net.ipv4.ip_forward\n  equals: '0'", YW_SCA_PASSED},
    {"s_cmp", "all", "- sysctl: kernel.randomize_va_space\n  compare: '>= 3'", YW_SCA_FAILED},
    {"s_ws", "all", "- sysctl: net.ipv4.tcp_rmem\n  equals: '4096 131072 6291456'", YW_SCA_PASSED},
    {"s_missing", "all", "- sysctl: kernel.nope\n  equals: '1'", YW_SCA_NA},
    {"st_ok", "all",
     "- stat: /etc/shadow\n  mode_max: '0640'\n  owner: root\n  group: [root, shadow]",
     YW_SCA_PASSED},
    {"st_mode", "all", "- stat: /etc/login.defs\n  mode_max: '0600'", YW_SCA_FAILED},
    {"st_owner", "all", "- stat: /etc/login.defs\n  owner: nobody", YW_SCA_FAILED},
    {"st_missing", "all", "- stat: /etc/cron.d\n  mode_max: '0700'", YW_SCA_NA},
    {"p_inst", "all", "- package_installed: auditd", YW_SCA_PASSED},
    {"p_conffiles", "all", "- package_absent: telnet", YW_SCA_PASSED},
    {"p_missing", "all", "- package_installed: apparmor", YW_SCA_FAILED},
    {"p_absent_bad", "all", "- package_absent: openssh-server", YW_SCA_FAILED},
    {"sv_en", "all", "- service_enabled: auditd", YW_SCA_PASSED},
    {"sv_masked", "all", "- service_disabled: avahi-daemon", YW_SCA_PASSED},
    {"sv_sysv", "all", "- service_enabled: rsync", YW_SCA_PASSED},
    {"sv_none", "all", "- service_enabled: chrony", YW_SCA_FAILED},
    {"m_loaded", "all", "- module_loaded: usb-storage", YW_SCA_PASSED},
    {"m_not_loaded", "all", "- module_not_loaded: cramfs", YW_SCA_PASSED},
    {"m_disabled", "all", "- module_disabled: cramfs", YW_SCA_PASSED},
    {"m_commented", "all", "- module_disabled: udf", YW_SCA_FAILED},
    {"m_unavailable", "all", "- module_disabled: freevxfs", YW_SCA_PASSED},
    {"m_black", "all", "- module_blacklisted: cramfs", YW_SCA_PASSED},
    {"m_black_no", "all", "- module_blacklisted: udf", YW_SCA_FAILED},
    /* conditions */
    {"c_all", "all", "- package_installed: auditd\n- package_installed: apparmor", YW_SCA_FAILED},
    {"c_any", "any", "- package_installed: apparmor\n- package_installed: auditd", YW_SCA_PASSED},
    {"c_any_no", "any", "- package_installed: apparmor\n- package_installed: nis", YW_SCA_FAILED},
    {"c_none", "none", "- package_installed: telnet\n- package_installed: nis", YW_SCA_PASSED},
    {"c_none_hit", "none", "- package_installed: nis\n- package_installed: auditd", YW_SCA_FAILED},
    {"c_na_ignored", "all", "- sysctl: kernel.nope\n  equals: '1'\n- package_installed: auditd",
     YW_SCA_PASSED},
    /* commands */
    {"cmd_out", "all", "- command: [echo, hello world]\n  output_contains: '^hello'",
     YW_SCA_PASSED},
    {"cmd_exit", "all", "- command: ['false']\n  exit_code: 0", YW_SCA_FAILED},
    {"cmd_missing", "all", "- command: [/nonexistent/tool]", YW_SCA_NA},
    {"cmd_shell", "all",
     "- shell: 'echo 7 | tr 7 8'\n  output_contains: '^(\\d+)'\n"
     "  compare: '== 8'",
     YW_SCA_PASSED},
};

static void test_rule_types(void **state)
{
	char text[32768];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s", HEAD);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n += (size_t)snprintf(
		    text + n, sizeof(text) - n,
		    "  - id: %s\n    title: T\n    rationale: R\n    remediation: X\n"
		    "    condition: %s\n    rules:\n",
		    cases[i].id, cases[i].cond);
		/* indent each rule line by 6 */
		const char *r = cases[i].rules;
		while (*r) {
			const char *nl = strchr(r, '\n');
			size_t len = nl ? (size_t)(nl - r) : strlen(r);
			n += (size_t)snprintf(text + n, sizeof(text) - n, "      %.*s\n", (int)len,
			                      r);
			r += len + (nl ? 1 : 0);
		}
	}
	assert_true(n < sizeof(text) - 1);
	struct yw_sca_policy *p = load_ok(text);
	assert_int_equal(p->nchecks, sizeof(cases) / sizeof(cases[0]));
	struct yw_sca_opts o = {.root = g_root, .allow_commands = true};
	struct yw_sca_ctx *c;
	assert_int_equal(yw_sca_ctx_new(&o, &c), 0);
	assert_true(yw_sca_applies(c, p)); /* kylin, like debian */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char reason[512];
		int got = eval_id(c, p, cases[i].id, reason);
		if (got != cases[i].want)
			fail_msg("%s: got %s (%s), want %s", cases[i].id, yw_sca_result_name(got),
			         reason, yw_sca_result_name(cases[i].want));
		assert_true(reason[0] != 0);
	}
	/* the reason names what decided */
	char reason[512];
	eval_id(c, p, "f_cmp_bad", reason);
	assert_non_null(strstr(reason, "PASS_MAX_DAYS"));
	eval_id(c, p, "st_mode", reason);
	assert_non_null(strstr(reason, "mode 0644"));

	/* caches forget: a package installed since shows up after a reset */
	put("/var/lib/dpkg/status", "Package: apparmor\nStatus: install ok installed\n", 0644);
	assert_int_equal(eval_id(c, p, "p_missing", reason), YW_SCA_FAILED);
	yw_sca_ctx_reset(c);
	assert_int_equal(eval_id(c, p, "p_missing", reason), YW_SCA_PASSED);
	put("/var/lib/dpkg/status", dpkg_status, 0644);
	yw_sca_ctx_free(c);

	/* commands off: not applicable, never run */
	o.allow_commands = false;
	assert_int_equal(yw_sca_ctx_new(&o, &c), 0);
	assert_int_equal(eval_id(c, p, "cmd_out", reason), YW_SCA_NA);
	assert_non_null(strstr(reason, "disabled"));
	yw_sca_ctx_free(c);
	yw_sca_policy_free(p);
}

static void test_requires_and_applies(void **state)
{
	struct yw_sca_policy *p = load_ok(
	    "policy:\n  id: r\n  os_like: [rhel, fedora]\nchecks:\n"
	    "  - id: needs_ssh\n" META "    requires:\n      - package_installed: openssh-client\n"
	    "    rules:\n      - package_installed: auditd\n");
	struct yw_sca_opts o = {.root = g_root};
	struct yw_sca_ctx *c;
	assert_int_equal(yw_sca_ctx_new(&o, &c), 0);
	assert_false(yw_sca_applies(c, p));
	char reason[512];
	assert_int_equal(yw_sca_eval(c, &p->checks[0], reason, sizeof(reason)), YW_SCA_NA);
	assert_non_null(strstr(reason, "requirement not met"));
	yw_sca_ctx_free(c);
	yw_sca_policy_free(p);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_command_timeout(void **state)
{
	struct yw_strbuf out;
	yw_strbuf_init(&out, 0);
	int st;
	char *argv[] = {"/bin/sh", "-c", "echo started; sleep 10", NULL};
	double t0 = now_s();
	assert_int_equal(yw_sca_run(argv, 300, 1024, false, 0, 0, &out, &st), 0);
	double el = now_s() - t0;
	assert_int_equal(st, -1);
	assert_true(el >= 0.25 && el < 3.0);
	assert_non_null(strstr(out.data, "started"));
	yw_strbuf_reset(&out);

	/* output past max is discarded, the child still finishes */
	char *big[] = {"/bin/sh", "-c", "yes | head -c 100000", NULL};
	assert_int_equal(yw_sca_run(big, 5000, 1000, false, 0, 0, &out, &st), 0);
	assert_int_equal(st, 0);
	assert_int_equal(out.len, 1000);
	yw_strbuf_reset(&out);

	char *nf[] = {"no-such-program-yw", NULL};
	assert_int_equal(yw_sca_run(nf, 1000, 1000, false, 0, 0, &out, &st), YW_ENOENT);

	if (geteuid() == 0) {
		/* dropped to nobody: the child's uid says so */
		char *idu[] = {"id", "-u", NULL};
		assert_int_equal(yw_sca_run(idu, 5000, 100, true, 65534, 65534, &out, &st), 0);
		assert_int_equal(st, 0);
		assert_int_equal(atoi(out.data), 65534);
	}
	yw_strbuf_free(&out);

	/* a check whose command hangs is not applicable, and does not hang the caller */
	struct yw_sca_policy *p =
	    load_ok(HEAD "  - id: hang\n" META "    rules:\n"
	                 "      - shell: 'sleep 30'\n        timeout_ms: 200\n");
	struct yw_sca_opts o = {.root = g_root, .allow_commands = true};
	struct yw_sca_ctx *c;
	assert_int_equal(yw_sca_ctx_new(&o, &c), 0);
	char reason[512];
	t0 = now_s();
	assert_int_equal(yw_sca_eval(c, &p->checks[0], reason, sizeof(reason)), YW_SCA_NA);
	assert_true(now_s() - t0 < 3.0);
	assert_non_null(strstr(reason, "timed out"));
	yw_sca_ctx_free(c);
	yw_sca_policy_free(p);
}

/* ---- the collector ---- */

struct got {
	char *ev[256];
	size_t n;
};

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct got *g = ud;
	assert_int_equal(rec->kind, YW_REC_EVENT);
	assert_true(g->n < 256);
	g->ev[g->n++] = strndup(rec->data, rec->len);
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->ev[i]);
	g->n = 0;
}

static size_t count_with(const struct got *g, const char *a, const char *b)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		if (strstr(g->ev[i], a) && (!b || strstr(g->ev[i], b)))
			n++;
	return n;
}

static void run_to_end(void *col, struct got *g)
{
	/* a run spreads over polls by time budget; it ends with the summary */
	for (int i = 0; i < 100; i++) {
		int n = yw_collector_sca.poll(col, sink, g);
		assert_true(n >= 0);
		if (count_with(g, "sca_summary", NULL))
			return;
	}
	fail_msg("no summary");
}

static void test_collector(void **state)
{
	char *pp = write_policy(
	    "c.yml", HEAD "  - id: good1\n" META "    rules:\n      - package_installed: auditd\n"
	                  "  - id: broken\n" META "    rules:\n      - file: relative/path\n"
	                  "        contains: x\n"
	                  "  - id: good2\n" META "    rules:\n      - sysctl: net.ipv4.ip_forward\n"
	                  "        equals: '0'\n"
	                  "  - id: good3\n" META "    rules:\n      - package_installed: nis\n");
	char policy[PATH_MAX], statef[PATH_MAX];
	snprintf(policy, sizeof(policy), "%s", pp);
	snprintf(statef, sizeof(statef), "%s/sca.state", g_root);
	struct yw_collector_opt opts[] = {
	    {"policy", policy}, {"root", g_root}, {"interval_ms", "1000"}};
	struct yw_collector_env env = {.state_path = statef};
	void *col;
	assert_int_equal(yw_collector_sca.init(&env, opts, 3, &col), 0);
	struct got g = {0};
	run_to_end(col, &g);
	if (getenv("YW_TEST_VERBOSE"))
		for (size_t i = 0; i < g.n; i++)
			printf("%s\n", g.ev[i]);
	/* the bad check is reported with its position; the three others ran */
	assert_int_equal(count_with(&g, "sca_policy_error", "c.yml:19:15"), 1);
	assert_int_equal(count_with(&g, "\"event.action\":\"sca_check\"", NULL), 3);
	assert_int_equal(count_with(&g, "\"yiwang.sca.check.id\":\"good1\"",
	                            "\"yiwang.sca.check.result\":\"passed\""),
	                 1);
	assert_int_equal(count_with(&g, "\"yiwang.sca.check.id\":\"good3\"",
	                            "\"yiwang.sca.check.result\":\"failed\""),
	                 1);
	assert_int_equal(count_with(&g, "sca_summary", "\"yiwang.sca.score\":67"), 1);
	assert_int_equal(count_with(&g, "sca_summary", "\"yiwang.sca.invalid\":1"), 1);
	assert_int_equal(count_with(&g, "\"logsource.service\":\"sca\"", NULL), g.n);
	assert_int_equal(yw_collector_sca.commit(col), 0);
	yw_collector_sca.exit(col);
	got_free(&g);

	/* restart with the state: no check events (nothing changed), one summary */
	assert_int_equal(yw_collector_sca.init(&env, opts, 3, &col), 0);
	run_to_end(col, &g);
	assert_int_equal(count_with(&g, "\"event.action\":\"sca_check\"", NULL), 0);
	assert_int_equal(count_with(&g, "sca_summary", NULL), 1);
	got_free(&g);

	/* a check that starts failing: exactly that event, with its previous result */
	put("/proc/sys/net/ipv4/ip_forward", "1\n", 0644);
	usleep(1100 * 1000);
	run_to_end(col, &g);
	assert_int_equal(count_with(&g, "\"event.action\":\"sca_check\"", NULL), 1);
	assert_int_equal(count_with(&g, "\"yiwang.sca.check.id\":\"good2\"",
	                            "\"yiwang.sca.check.previous_result\":\"passed\""),
	                 1);
	assert_int_equal(count_with(&g, "\"yiwang.sca.check.result\":\"failed\"",
	                            "\"event.outcome\":\"failure\""),
	                 1);
	assert_int_equal(count_with(&g, "sca_summary", "\"yiwang.sca.score\":33"), 1);
	got_free(&g);
	yw_collector_sca.exit(col);
	put("/proc/sys/net/ipv4/ip_forward", "0\n", 0644);

	/* bad options are refused; a policy path matching nothing is reported, not fatal */
	struct yw_collector_opt bad[] = {{"policy", policy}, {"interval_ms", "abc"}};
	assert_int_equal(yw_collector_sca.init(NULL, bad, 2, &col), YW_EINVAL);
	struct yw_collector_opt none[] = {{"policy", "/nonexistent/*.yml"}};
	assert_int_equal(yw_collector_sca.init(NULL, none, 1, &col), 0);
	assert_true(yw_collector_sca.poll(col, sink, &g) >= 1);
	assert_int_equal(count_with(&g, "sca_policy_error", "no policy file matches"), 1);
	got_free(&g);
	yw_collector_sca.exit(col);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_strict),
	    cmocka_unit_test(test_rule_types),
	    cmocka_unit_test(test_requires_and_applies),
	    cmocka_unit_test(test_command_timeout),
	    cmocka_unit_test(test_collector),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
