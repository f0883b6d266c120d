/* /proc readers and JSON helpers for the process and network collectors (procfs.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "yiwang/error.h"

static int gone_or_io(void)
{
	return errno == ENOENT || errno == ESRCH ? YW_ENOENT : YW_EIO;
}

ssize_t yw_procfs_read(pid_t pid, const char *name, char *buf, size_t cap, bool *cut)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	*cut = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone_or_io();
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = gone_or_io();
			close(fd);
			return rc;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n + 1 >= cap) {
		char c;
		*cut = read(fd, &c, 1) == 1;
	}
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

ssize_t yw_procfs_link(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	ssize_t r = readlink(path, buf, cap - 1);
	if (r < 0)
		return gone_or_io();
	buf[r] = 0;
	return r;
}

int yw_procfs_status(pid_t pid, pid_t *ppid, uint32_t *uid, uint32_t *euid)
{
	char b[2048];
	bool cut;
	ssize_t n = yw_procfs_read(pid, "status", b, sizeof(b), &cut);
	if (n < 0)
		return (int)n;
	const char *p = strstr(b, "\nPPid:");
	const char *u = strstr(b, "\nUid:");
	if (!p || !u)
		return YW_EIO;
	unsigned long long pp = 0, r = 0, e = 0;
	if (sscanf(p + 6, "%llu", &pp) != 1 || sscanf(u + 5, "%llu %llu", &r, &e) != 2)
		return YW_EIO;
	*ppid = (pid_t)pp;
	*uid = (uint32_t)r;
	*euid = (uint32_t)e;
	return 0;
}

int yw_procfs_stat(pid_t pid, int64_t boot_ns, char *comm, size_t cap, int64_t *start_ns)
{
	char b[1024];
	bool cut;
	ssize_t n = yw_procfs_read(pid, "stat", b, sizeof(b), &cut);
	if (n < 0)
		return (int)n;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')' -- the last ')' ends it */
	char *open = strchr(b, '('), *close = strrchr(b, ')');
	if (!open || !close || close < open)
		return YW_EIO;
	size_t cl = (size_t)(close - open - 1);
	if (cl >= cap)
		cl = cap - 1;
	memcpy(comm, open + 1, cl);
	comm[cl] = 0;
	/* starttime is field 22; after ')' come fields 3.. */
	const char *p = close + 1;
	for (int f = 3; f < 22 && p; f++) {
		p = strchr(p + 1, ' ');
	}
	unsigned long long ticks;
	*start_ns = 0;
	if (p && boot_ns && sscanf(p, " %llu", &ticks) == 1) {
		long hz = sysconf(_SC_CLK_TCK);
		if (hz > 0)
			*start_ns = boot_ns +
			            (int64_t)(ticks / (unsigned long long)hz) * 1000000000 +
			            (int64_t)(ticks % (unsigned long long)hz) * (1000000000 / hz);
	}
	return 0;
}

int64_t yw_procfs_boot_ns(void)
{
	/* /proc/stat's btime is whole seconds; start times are boot-clock ticks: derive the boot
	 * instant from the two clocks instead */
	struct timespec rt, bt;
	if (clock_gettime(CLOCK_REALTIME, &rt) != 0 || clock_gettime(CLOCK_BOOTTIME, &bt) != 0)
		return 0;
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000 + (rt.tv_nsec - bt.tv_nsec);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *yw_procfs_user(struct yw_uid_cache *c, uint32_t uid)
{
	size_t slot = uid % (sizeof(c->e) / sizeof(c->e[0]));
	int64_t now = mono_ms();
	if (c->e[slot].used && c->e[slot].uid == uid && now - c->e[slot].at_ms < 60000)
		return c->e[slot].found ? c->e[slot].name : NULL;
	struct passwd pw, *res = NULL;
	char buf[1024];
	c->e[slot].used = true;
	c->e[slot].uid = uid;
	c->e[slot].at_ms = now;
	c->e[slot].found = getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	                   strlen(res->pw_name) < sizeof(c->e[slot].name);
	if (c->e[slot].found)
		strcpy(c->e[slot].name, res->pw_name);
	return c->e[slot].found ? c->e[slot].name : NULL;
}

int yw_procfs_kstr(struct yw_strbuf *out, const char *key, const char *s, size_t n)
{
	int rc = yw_strbuf_printf(out, ",\"%s\":", key);
	return rc ? rc : yw_strbuf_json_str(out, s, n);
}

int yw_procfs_kint(struct yw_strbuf *out, const char *key, long long v)
{
	return yw_strbuf_printf(out, ",\"%s\":%lld", key, v);
}

int yw_procfs_ktime(struct yw_strbuf *out, const char *key, int64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000);
	struct tm tm;
	if (ns < 0 || !gmtime_r(&secs, &tm))
		return 0;
	return yw_strbuf_printf(out, ",\"%s\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", key,
	                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                        tm.tm_sec, (int)(ns % 1000000000 / 1000000));
}

int yw_procfs_put_cmdline(struct yw_strbuf *out, const char *pfx, char *raw, size_t n,
                          bool args_too)
{
	while (n && raw[n - 1] == 0)
		n--; /* the terminating NUL of the last argument */
	if (!n)
		return 0;
	int rc = 0;
	if (args_too) {
		rc = yw_strbuf_printf(out, ",\"%s.args\":[", pfx);
		for (size_t i = 0, k = 0; !rc && i <= n; k++) {
			const char *z = memchr(raw + i, 0, n - i);
			size_t len = z ? (size_t)(z - (raw + i)) : n - i;
			if (k)
				rc = yw_strbuf_putc(out, ',');
			if (!rc)
				rc = yw_strbuf_json_str(out, raw + i, len);
			i += len + 1;
		}
		if (!rc)
			rc = yw_strbuf_putc(out, ']');
	}
	if (!rc)
		rc = yw_strbuf_printf(out, ",\"%s.command_line\":", pfx);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (raw[i] == 0)
			raw[i] = ' ';
	return yw_strbuf_json_str(out, raw, n);
}

int yw_procfs_put_process(struct yw_strbuf *out, const char *pfx, pid_t pid, char *cmd,
                          size_t cmd_cap, bool *gone)
{
	char exe[4096], key[64];
	*gone = false;
	snprintf(key, sizeof(key), "%s.pid", pfx);
	int rc = yw_procfs_kint(out, key, pid);
	if (rc)
		return rc;
	ssize_t el = yw_procfs_link(pid, "exe", exe, sizeof(exe));
	if (el == YW_ENOENT) {
		*gone = true;
		return 0;
	}
	const char *name = NULL;
	if (el > 0) {
		snprintf(key, sizeof(key), "%s.executable", pfx);
		if ((rc = yw_procfs_kstr(out, key, exe, (size_t)el)))
			return rc;
		const char *slash = strrchr(exe, '/');
		name = slash ? slash + 1 : exe;
	}
	char comm[64];
	int64_t start;
	if (!name && yw_procfs_stat(pid, 0, comm, sizeof(comm), &start) == 0)
		name = comm; /* kernel thread, or exe not readable: the kernel's short name */
	if (name) {
		snprintf(key, sizeof(key), "%s.name", pfx);
		if ((rc = yw_procfs_kstr(out, key, name, strlen(name))))
			return rc;
	}
	bool cut;
	ssize_t cl = yw_procfs_read(pid, "cmdline", cmd, cmd_cap, &cut);
	if (cl == YW_ENOENT)
		*gone = true;
	if (cl > 0)
		rc = yw_procfs_put_cmdline(out, pfx, cmd, (size_t)cl, false);
	return rc;
}
