/* Capability dropping with the raw capget/capset/prctl interface (linux/capability.h), so the
 * agent needs no libcap. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "privs.h"
#include "yiwang/error.h"
#include "yiwang/log.h"

#define BIT(c) (UINT64_C(1) << (c))

/* Reading files and listing directories of other users: logs, journal, FIM hashing, SCA. */
#define READ_ANY BIT(CAP_DAC_READ_SEARCH)
/* /proc/<pid>/exe, cwd and fd/N of other users' (and non-dumpable) processes. */
#define PTRACE_READ BIT(CAP_SYS_PTRACE)

uint64_t yw_privs_needed(const struct yw_agent_config *cfg)
{
	uint64_t m = 0;
	if (cfg->files.n)
		m |= READ_ANY;
	if (strcmp(cfg->journald, "off") != 0)
		m |= READ_ANY;
	if (cfg->process_enabled) /* the connector is subscribed at start (CAP_NET_ADMIN) */
		m |= PTRACE_READ | READ_ANY;
	if (cfg->network_enabled) /* socket owners: /proc/<pid>/fd */
		m |= PTRACE_READ | READ_ANY;
	if (cfg->inventory_enabled) /* listening sockets' owners, package databases */
		m |= PTRACE_READ | READ_ANY;
	if (cfg->fim_enabled && cfg->fim_paths.n)
		m |= READ_ANY;
	if (cfg->sca_enabled) /* policy files, and commands run as command_user (nobody) */
		m |= READ_ANY | BIT(CAP_SETUID) | BIT(CAP_SETGID);
	if (!cfg->respond_enabled)
		return m;
	static const struct {
		const char *action;
		uint64_t caps;
	} acts[] = {
	    {"block_ip", BIT(CAP_NET_ADMIN)}, /* nft */
	    {"kill_process", BIT(CAP_KILL) | PTRACE_READ},
	    {"quarantine_file", BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_CHOWN)},
	    /* usermod: /etc/shadow, its lock files, and the audit record it writes */
	    {"lock_account",
	     BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_CHOWN) | BIT(CAP_AUDIT_WRITE)},
	};
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		bool on = cfg->respond_actions.n == 0; /* default: all */
		for (size_t j = 0; j < cfg->respond_actions.n && !on; j++)
			on = strcmp(cfg->respond_actions.v[j], acts[i].action) == 0;
		if (on)
			m |= acts[i].caps;
	}
	return m;
}

static const char *const cap_names[] = {
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
};

const char *yw_privs_names(uint64_t mask, char *buf, size_t n)
{
	size_t used = 0;
	if (!n)
		return buf;
	buf[0] = 0;
	for (unsigned c = 0; c < 64; c++) {
		if (!(mask & BIT(c)))
			continue;
		char num[16];
		const char *name =
		    c < sizeof(cap_names) / sizeof(cap_names[0]) ? cap_names[c] : num;
		snprintf(num, sizeof(num), "cap_%u", c);
		int w = snprintf(buf + used, n - used, "%s%s", used ? "," : "", name);
		if (w < 0 || (size_t)w >= n - used) {
			buf[used] = 0; /* cut after the last whole name */
			break;
		}
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, n, "none");
	return buf;
}

static int caps_get(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return YW_EIO;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
	    {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
	    {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	return syscall(SYS_capset, &h, d) == 0 ? 0 : YW_EIO;
}

static unsigned last_cap(void)
{
	unsigned last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%u", &last) != 1 || last > 63)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

static int become(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		yw_logf(YW_LOG_ERROR, "privileges: no user '%s'", user);
		return YW_ENOENT;
	}
	/* keep the permitted set across the uid change; effective is restored below */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setgroups(0, NULL) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
		yw_logf(YW_LOG_ERROR, "privileges: cannot become %s: %s", user, strerror(errno));
		return YW_EIO;
	}
	return 0;
}

int yw_privs_drop(uint64_t keep, const char *user)
{
	uint64_t eff, prm, inh;
	bool switch_user = user && *user;
	int rc = caps_get(&eff, &prm, &inh);
	if (rc)
		goto fail;
	keep &= prm; /* never more than we have */
	/* The bounding set first: dropping from it needs CAP_SETPCAP, still effective here. */
	unsigned last = last_cap();
	/* Without CAP_SETPCAP (an agent started unprivileged) the bounding set stays: it only
	 * limits what set-id or file-capability programs gain, which no_new_privs stops too. */
	for (unsigned c = 0; eff & BIT(CAP_SETPCAP) && c <= last; c++) {
		if (keep & BIT(c) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
			rc = YW_EIO;
			goto fail;
		}
	}
	/* EINVAL: a kernel before 4.3 has no ambient set, so nothing to clear */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
		rc = YW_EIO;
		goto fail;
	}
	if (switch_user && (rc = become(user)) != 0)
		return rc;
	/* As root, programs the agent runs get the bounding set (root's file capabilities are
	 * "all"); as another user only ambient capabilities pass, which must be inheritable. */
	if ((rc = caps_set(keep, keep, switch_user ? keep : 0)) != 0)
		goto fail;
	for (unsigned c = 0; switch_user && c <= last; c++)
		if (keep & BIT(c) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) {
			rc = YW_EIO;
			goto fail;
		}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		rc = YW_EIO;
		goto fail;
	}
	if (caps_get(&eff, &prm, &inh) == 0) {
		char names[1024];
		yw_logf(YW_LOG_INFO,
		        "privileges: uid %u, capabilities %s (effective = permitted = bounding), "
		        "no_new_privs",
		        (unsigned)geteuid(), yw_privs_names(eff, names, sizeof(names)));
	}
	return 0;
fail:
	yw_logf(YW_LOG_ERROR, "privileges: cannot drop capabilities: %s", strerror(errno));
	return rc;
}
