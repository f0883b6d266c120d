/* The agent's least-privilege set: computed from the configuration (which capability each
 * collector and response action needs), and applied (in a child process: bounding, effective,
 * permitted sets and no_new_privs as /proc/self/status shows them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/privs.h"

#define BIT(c) (UINT64_C(1) << (c))

static void set(struct yw_agent_config *c, const char *k, const char *v)
{
	char err[256];
	assert_int_equal(yw_config_set(yw_agent_opts, yw_agent_nopts, c, k, v, err, sizeof(err)),
	                 0);
}

/* Every collector and response action off, and no files: nothing is needed. */
static void all_off(struct yw_agent_config *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(yw_config_defaults(yw_agent_opts, yw_agent_nopts, c), 0);
	for (size_t i = 0; i < c->files.n; i++)
		free(c->files.v[i]);
	c->files.n = 0;
	set(c, "journald", "off");
	set(c, "process.enabled", "false");
	set(c, "network.enabled", "false");
	set(c, "inventory.enabled", "false");
	set(c, "sca.enabled", "false");
	set(c, "fim.enabled", "false");
	set(c, "respond.enabled", "false");
}

static void test_needed(void **st)
{
	(void)st;
	struct yw_agent_config c;
	all_off(&c);
	assert_int_equal(yw_privs_needed(&c), 0);

	set(&c, "files", "/var/log/x.log");
	assert_int_equal(yw_privs_needed(&c), BIT(CAP_DAC_READ_SEARCH));
	set(&c, "network.enabled", "true");
	assert_int_equal(yw_privs_needed(&c), BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_SYS_PTRACE));
	set(&c, "network.enabled", "false");

	/* the connector is subscribed at start: CAP_NET_ADMIN is not kept for it */
	set(&c, "process.enabled", "true");
	assert_int_equal(yw_privs_needed(&c), BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_SYS_PTRACE));
	set(&c, "process.enabled", "false");

	/* SCA runs its commands as nobody */
	set(&c, "sca.enabled", "true");
	assert_int_equal(yw_privs_needed(&c),
	                 BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_SETUID) | BIT(CAP_SETGID));
	set(&c, "sca.enabled", "false");

	/* response actions: only the allowed ones count */
	set(&c, "respond.enabled", "true");
	set(&c, "respond.actions", "kill_process");
	assert_int_equal(yw_privs_needed(&c),
	                 BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_KILL) | BIT(CAP_SYS_PTRACE));
	free(c.respond_actions.v[0]); /* a list option appends: start it over */
	c.respond_actions.n = 0;
	set(&c, "respond.actions", "block_ip");
	assert_true(yw_privs_needed(&c) & BIT(CAP_NET_ADMIN));
	assert_false(yw_privs_needed(&c) & BIT(CAP_KILL));

	/* defaults: every collector and action */
	yw_config_free(yw_agent_opts, yw_agent_nopts, &c);
	memset(&c, 0, sizeof(c));
	assert_int_equal(yw_config_defaults(yw_agent_opts, yw_agent_nopts, &c), 0);
	uint64_t all = yw_privs_needed(&c);
	uint64_t want = BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_SYS_PTRACE) | BIT(CAP_SETUID) |
	                BIT(CAP_SETGID) | BIT(CAP_NET_ADMIN) | BIT(CAP_KILL) |
	                BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_CHOWN) |
	                BIT(CAP_AUDIT_WRITE);
	assert_int_equal(all, want);
	/* never these */
	assert_false(all & (BIT(CAP_SYS_ADMIN) | BIT(CAP_SETPCAP) | BIT(CAP_SYS_MODULE)));
	yw_config_free(yw_agent_opts, yw_agent_nopts, &c);
}

static void test_names(void **st)
{
	(void)st;
	char b[256];
	assert_string_equal(yw_privs_names(0, b, sizeof(b)), "none");
	assert_string_equal(yw_privs_names(BIT(CAP_KILL) | BIT(CAP_SYS_PTRACE), b, sizeof(b)),
	                    "cap_kill,cap_sys_ptrace");
	assert_string_equal(yw_privs_names(BIT(62), b, sizeof(b)), "cap_62");
	char small[12];
	assert_string_equal(
	    yw_privs_names(BIT(CAP_KILL) | BIT(CAP_SYS_PTRACE), small, sizeof(small)), "cap_kill");
}

static uint64_t status_hex(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	return p ? strtoull(p + strlen(key), NULL, 16) : UINT64_MAX;
}

/* Applied in a child: its /proc/self/status shows exactly the kept set. */
static void test_drop(void **st)
{
	(void)st;
	if (geteuid() != 0)
		skip();
	uint64_t keep = BIT(CAP_KILL) | BIT(CAP_NET_ADMIN);
	char secret[] = "/tmp/yw-privs-XXXXXX"; /* mode 0: root reads it only by capability */
	int sfd = mkstemp(secret);
	assert_true(sfd >= 0);
	assert_int_equal(fchmod(sfd, 0), 0);
	close(sfd);
	assert_true(open(secret, O_RDONLY | O_CLOEXEC) >= 0); /* with CAP_DAC_OVERRIDE */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (yw_privs_drop(keep, NULL) != 0)
			_exit(10);
		char s[4096];
		FILE *f = fopen("/proc/self/status", "re");
		size_t n = f ? fread(s, 1, sizeof(s) - 1, f) : 0;
		s[n] = 0;
		if (status_hex(s, "CapEff:") != keep || status_hex(s, "CapPrm:") != keep ||
		    status_hex(s, "CapBnd:") != keep || status_hex(s, "CapInh:") != 0 ||
		    status_hex(s, "CapAmb:") != 0 || !strstr(s, "NoNewPrivs:\t1"))
			_exit(11);
		/* the dropped CAP_DAC_OVERRIDE is gone */
		_exit(open(secret, O_RDONLY | O_CLOEXEC) >= 0 ? 12 : 0);
	}
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
	unlink(secret);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_needed),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
