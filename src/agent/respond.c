/* Response actions on the agent: block_ip / unblock_ip (an nftables set with timeouts),
 * kill_process, quarantine_file / restore_file, lock_account / unlock_account, and undo (the
 * inverse of an earlier action, named by its token). See include/yiwang/respond.h and
 * docs/respond.md.
 *
 * Statuses: DENIED when the agent's policy refuses (allowlisted address, protected path,
 * system account, pid 1, disabled action); FAILED when the action ran and did not work or
 * its arguments are bad (including a pid that now names another process); UNKNOWN for a name
 * the agent does not know. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <shadow.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "collectors/procfs.h"
#include "yiwang/error.h"
#include "yiwang/fsutil.h"
#include "yiwang/log.h"
#include "yiwang/loop.h"
#include "yiwang/respond.h"
#include "yiwang/spool.h"
#include "yw_limits.h"

#define NFT_TABLE       "inet yiwang"
#define SAFE_PATH       "/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_UID_MIN 1000

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t a[16];
	int bits;
};

struct yw_responder {
	bool enabled;
	char **actions;
	size_t nactions;
	struct cidr *allow;
	size_t nallow;
	char qdir[PATH_MAX];
	char **qpaths;
	size_t nqpaths;
	char **protect;
	size_t nprotect;
	bool allow_system;
	int64_t timeout_ms;
	char nft[PATH_MAX], usermod[PATH_MAX]; /* empty: not installed */
	yw_respond_audit_fn audit;
	void *audit_ud;
};

/* One command being run. */
struct cmd {
	struct yw_responder *r;
	uint64_t id;
	const char *action;
	json_t *args;
	bool dry;
	int64_t deadline_ms;
	struct yw_strbuf *res; /* the result object, open: fields are appended as ,"k":v */
	char err[512];
	char undo[PATH_MAX + 32];
	char out[YW_RESPOND_MAX_OUTPUT];
};

/* ---- small helpers ---- */

static int fail(struct cmd *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct cmd *c, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return status;
}

static const char *arg_str(struct cmd *c, const char *k)
{
	json_t *v = json_object_get(c->args, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool arg_int(struct cmd *c, const char *k, long long *out)
{
	json_t *v = json_object_get(c->args, k);
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

static int64_t left_ms(const struct cmd *c)
{
	int64_t l = c->deadline_ms - yw_mono_ms();
	return l > 0 ? l : 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int copy_list(const char *const *src, size_t n, char ***out)
{
	*out = NULL;
	if (!n)
		return 0;
	char **v = calloc(n, sizeof(*v));
	if (!v)
		return YW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] = strdup(src[i]))) {
			free_list(v, i);
			return YW_ENOMEM;
		}
		/* "/home/" and "/home" name the same tree */
		size_t l = strlen(v[i]);
		while (l > 1 && v[i][l - 1] == '/')
			v[i][--l] = '\0';
	}
	*out = v;
	return 0;
}

/* path is dir or lies below it (component-wise: /home does not cover /homeless). */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool under_any(const char *path, char *const *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (under(path, dirs[i]))
			return true;
	return false;
}

static void find_prog(const char *given, const char *name, char *out, size_t n)
{
	out[0] = '\0';
	if (given) {
		snprintf(out, n, "%s", given);
		return;
	}
	static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(out, n, "%s/%s", dirs[i], name);
		if (access(out, X_OK) == 0)
			return;
	}
	out[0] = '\0';
}

/* ---- the allowlist ---- */

static int cidr_parse(const char *s, struct cidr *c)
{
	char buf[80];
	if (strlen(s) >= sizeof(buf))
		return YW_EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->a) == 1) {
		c->family = AF_INET;
		c->bits = 32;
	} else if (inet_pton(AF_INET6, buf, c->a) == 1) {
		c->family = AF_INET6;
		c->bits = 128;
	} else {
		return YW_EINVAL;
	}
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || b < 0 || b > c->bits)
			return YW_EINVAL;
		c->bits = (int)b;
	}
	return 0;
}

static bool cidr_has(const struct cidr *c, int family, const uint8_t *a)
{
	if (c->family != family)
		return false;
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->a, a, (size_t)full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->a[full] & mask) == (a[full] & mask);
}

static int allow_add(struct yw_responder *r, int family, const void *a, int bits)
{
	if (r->nallow >= YW_RESPOND_MAX_ALLOW)
		return YW_ELIMIT;
	struct cidr *v = realloc(r->allow, (r->nallow + 1) * sizeof(*v));
	if (!v)
		return YW_ENOMEM;
	r->allow = v;
	struct cidr *c = &v[r->nallow++];
	memset(c, 0, sizeof(*c));
	c->family = family;
	c->bits = bits;
	memcpy(c->a, a, family == AF_INET ? 4 : 16);
	return 0;
}

static int allow_sockaddr(struct yw_responder *r, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return allow_add(r, AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, 32);
	if (sa->sa_family == AF_INET6)
		return allow_add(r, AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 128);
	return 0;
}

/* Loopback, this host's interface addresses and the server's addresses. */
static int allow_builtin(struct yw_responder *r, const char *server)
{
	struct cidr c;
	int rc = 0;
	static const char *const fixed[] = {"127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"};
	for (size_t i = 0; !rc && i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		cidr_parse(fixed[i], &c);
		rc = allow_add(r, c.family, c.a, c.bits);
	}
	struct ifaddrs *ifa = NULL;
	if (!rc && getifaddrs(&ifa) == 0) {
		for (struct ifaddrs *i = ifa; !rc && i; i = i->ifa_next)
			if (i->ifa_addr)
				rc = allow_sockaddr(r, i->ifa_addr);
		freeifaddrs(ifa);
	}
	if (rc || !server || !*server)
		return rc;
	/* host, host:port, [v6]:port or a bare v6 address */
	char host[300];
	snprintf(host, sizeof(host), "%s", server);
	char *h = host;
	if (h[0] == '[') {
		char *e = strchr(h, ']');
		if (e)
			*e = '\0';
		h++;
	} else if (strchr(h, ':') == strrchr(h, ':') && strchr(h, ':')) {
		*strchr(h, ':') = '\0';
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int g = getaddrinfo(h, NULL, &hints, &ai);
	if (g != 0) {
		yw_logf(YW_LOG_WARNING,
		        "respond: cannot resolve the server '%s' for the allowlist: "
		        "%s",
		        h, gai_strerror(g));
		return 0;
	}
	for (struct addrinfo *a = ai; !rc && a; a = a->ai_next)
		rc = allow_sockaddr(r, a->ai_addr);
	freeaddrinfo(ai);
	return rc;
}

static const struct cidr *allowlisted(const struct yw_responder *r, int family, const uint8_t *a)
{
	for (size_t i = 0; i < r->nallow; i++)
		if (cidr_has(&r->allow[i], family, a))
			return &r->allow[i];
	return NULL;
}

/* ---- running helper programs ---- */

/* Runs prog with argv (no shell, a fixed PATH and environment), input on its stdin. Its
 * output (stdout and stderr, cut) lands in c->out. 0 when it exited 0; else YW_EIO with
 * c->err set. Killed at the command's deadline. */
static int run_prog(struct cmd *c, const char *prog, const char *const argv[], const char *input)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	c->out[0] = '\0';
	if (!prog[0])
		return fail(c, YW_EIO, "%s is not installed", argv[0]);
	if (pipe2(out, O_CLOEXEC) != 0 || (input && pipe2(in, O_CLOEXEC) != 0)) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		return fail(c, YW_EIO, "pipe: %s", strerror(e));
	}
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		static char *const envp[] = {"PATH=" SAFE_PATH, "LC_ALL=C", NULL};
		if (dup2(input ? in[0] : devnull, 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(out[1], 2) < 0)
			_exit(126);
		execve(prog, (char *const *)argv, envp);
		_exit(127);
	}
	int e = errno;
	close(out[1]);
	if (devnull >= 0)
		close(devnull);
	if (input)
		close(in[0]);
	if (pid < 0) {
		close(out[0]);
		if (input)
			close(in[1]);
		return fail(c, YW_EIO, "fork: %s", strerror(e));
	}
	if (input) {
		/* A child that dies early must not kill us with SIGPIPE: block it on this thread
		 * and take a pending one away. */
		sigset_t pipe_set, old;
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
		size_t len = strlen(input), off = 0;
		while (off < len) {
			ssize_t n = write(in[1], input + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		close(in[1]);
	}
	size_t got = 0;
	bool timed_out = false;
	for (;;) {
		int64_t l = left_ms(c);
		struct pollfd p = {out[0], POLLIN, 0};
		int pr = l ? poll(&p, 1, (int)l) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		char buf[1024];
		ssize_t n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take =
		    (size_t)n < sizeof(c->out) - 1 - got ? (size_t)n : sizeof(c->out) - 1 - got;
		memcpy(c->out + got, buf, take);
		got += take;
	}
	c->out[got] = '\0';
	close(out[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return fail(c, YW_EIO, "%s timed out", argv[0]);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	c->out[strcspn(c->out, "\n")] = '\0';
	return fail(c, YW_EIO, "%s failed (%s %d): %s", argv[0], WIFEXITED(st) ? "exit" : "signal",
	            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), c->out);
}

/* ---- block_ip, unblock_ip ---- */

/* The table is (re)declared in the same transaction as every change: idempotent, atomic, and
 * it repairs a chain someone flushed. Blocked addresses are dropped both ways. */
static const char nft_setup[] =
    "add table " NFT_TABLE "\n"
    "add set " NFT_TABLE " block4 { type ipv4_addr; flags timeout; }\n"
    "add set " NFT_TABLE " block6 { type ipv6_addr; flags timeout; }\n"
    "add chain " NFT_TABLE " input { type filter hook input priority -10; policy accept; }\n"
    "add chain " NFT_TABLE " output { type filter hook output priority -10; policy accept; }\n"
    "flush chain " NFT_TABLE " input\n"
    "flush chain " NFT_TABLE " output\n"
    "add rule " NFT_TABLE " input ip saddr @block4 drop\n"
    "add rule " NFT_TABLE " input ip6 saddr @block6 drop\n"
    "add rule " NFT_TABLE " output ip daddr @block4 drop\n"
    "add rule " NFT_TABLE " output ip6 daddr @block6 drop\n";

/* Parses the "ip" argument into its canonical text (what goes into the nft script: only
 * inet_ntop output ever does) and checks the allowlist. IPv4-mapped IPv6 counts as IPv4. */
static int target_ip(struct cmd *c, char *canon, size_t n, int *family, bool check_allow)
{
	const char *ip = arg_str(c, "ip");
	uint8_t a[16];
	if (!ip)
		return fail(c, YW_CMD_FAILED, "missing \"ip\"");
	if (inet_pton(AF_INET, ip, a) == 1) {
		*family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		*family = AF_INET6;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(a, mapped, sizeof(mapped))) {
			memmove(a, a + 12, 4);
			*family = AF_INET;
		}
	} else {
		return fail(c, YW_CMD_FAILED, "\"ip\" is not an IPv4 or IPv6 address");
	}
	inet_ntop(*family, a, canon, (socklen_t)n);
	if (check_allow) {
		const struct cidr *hit = allowlisted(c->r, *family, a);
		if (hit) {
			char net[INET6_ADDRSTRLEN];
			inet_ntop(hit->family, hit->a, net, sizeof(net));
			return fail(c, YW_CMD_DENIED, "%s is in the agent's allowlist (%s/%d)",
			            canon, net, hit->bits);
		}
	}
	return YW_CMD_OK;
}

static int do_block(struct cmd *c)
{
	char ip[INET6_ADDRSTRLEN], script[sizeof(nft_setup) + 512];
	int family;
	int st = target_ip(c, ip, sizeof(ip), &family, true);
	if (st)
		return st;
	long long secs = 3600;
	if (json_object_get(c->args, "timeout_s") && !arg_int(c, "timeout_s", &secs))
		return fail(c, YW_CMD_FAILED, "\"timeout_s\" must be an integer");
	if (secs < 1 || secs > YW_RESPOND_MAX_BLOCK_S)
		return fail(c, YW_CMD_FAILED, "\"timeout_s\" must be 1..%lld",
		            (long long)YW_RESPOND_MAX_BLOCK_S);
	const char *set = family == AF_INET ? "block4" : "block6";
	yw_strbuf_printf(c->res, ",\"ip\":\"%s\",\"set\":\"%s\",\"timeout_s\":%lld", ip, set, secs);
	if (c->dry)
		return c->r->nft[0] ? YW_CMD_OK : fail(c, YW_CMD_FAILED, "nft is not installed");
	/* add, delete, add: an address already blocked gets the new timeout. */
	snprintf(script, sizeof(script),
	         "%sadd element " NFT_TABLE " %s { %s }\n"
	         "delete element " NFT_TABLE " %s { %s }\n"
	         "add element " NFT_TABLE " %s { %s timeout %llds }\n",
	         nft_setup, set, ip, set, ip, set, ip, secs);
	const char *argv[] = {"nft", "-f", "-", NULL};
	if (run_prog(c, c->r->nft, argv, script))
		return YW_CMD_FAILED;
	snprintf(c->undo, sizeof(c->undo), "unblock_ip:%s", ip);
	return YW_CMD_OK;
}

static int do_unblock(struct cmd *c)
{
	char ip[INET6_ADDRSTRLEN], script[256];
	int family;
	int st = target_ip(c, ip, sizeof(ip), &family, false);
	if (st)
		return st;
	const char *set = family == AF_INET ? "block4" : "block6";
	yw_strbuf_printf(c->res, ",\"ip\":\"%s\",\"set\":\"%s\"", ip, set);
	if (c->dry)
		return c->r->nft[0] ? YW_CMD_OK : fail(c, YW_CMD_FAILED, "nft is not installed");
	snprintf(script, sizeof(script), "delete element " NFT_TABLE " %s { %s }\n", set, ip);
	const char *argv[] = {"nft", "-f", "-", NULL};
	if (run_prog(c, c->r->nft, argv, script)) {
		char why[sizeof(c->err)];
		memcpy(why, c->err, sizeof(why));
		return fail(c, YW_CMD_FAILED, "%s is not blocked (%s)", ip, why);
	}
	return YW_CMD_OK;
}

/* ---- kill_process ---- */

/* "2026-01-02T03:04:05.678Z" (process.start of the process collector) or ns since the epoch. */
static bool start_time_ns(json_t *v, int64_t *ns)
{
	if (json_is_integer(v)) {
		*ns = json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	struct tm tm = {0};
	int ms = 0, used = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6)
		return false;
	if (s[used] == '.') {
		int digits = 0;
		for (used++; s[used] >= '0' && s[used] <= '9'; used++, digits++)
			if (digits < 3)
				ms = ms * 10 + (s[used] - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (strcmp(s + used, "Z") != 0)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ns = (int64_t)timegm(&tm) * 1000000000 + (int64_t)ms * 1000000;
	return true;
}

static int do_kill(struct cmd *c)
{
	long long pid;
	if (!arg_int(c, "pid", &pid) || pid <= 0 || pid > INT_MAX)
		return fail(c, YW_CMD_FAILED, "missing or bad \"pid\"");
	const char *want_exe = arg_str(c, "exe");
	json_t *want_start = json_object_get(c->args, "start_time");
	int64_t start_ns = 0;
	if (want_start && !start_time_ns(want_start, &start_ns))
		return fail(c, YW_CMD_FAILED, "\"start_time\" must be RFC 3339 UTC or ns");
	json_t *force = json_object_get(c->args, "force");
	if (!want_exe && !want_start && !json_is_true(force))
		return fail(c, YW_CMD_FAILED,
		            "give \"exe\" or \"start_time\" (a pid alone may have "
		            "been reused), or \"force\": true");
	yw_strbuf_printf(c->res, ",\"pid\":%lld", pid);
	if (pid == 1 || pid == getpid())
		return fail(c, YW_CMD_DENIED, "pid %lld is %s", pid,
		            pid == 1 ? "init" : "the agent itself");
	/* The pidfd pins the process: what is checked below is what gets the signal. */
	int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pfd < 0)
		return fail(c, YW_CMD_FAILED, "pid %lld: %s", pid,
		            errno == ESRCH ? "no such process" : strerror(errno));
	int st = YW_CMD_OK;
	char exe[PATH_MAX], comm[64];
	pid_t ppid = 0;
	uint32_t uid = 0, euid = 0;
	int64_t got_start = 0;
	ssize_t el = yw_procfs_link((pid_t)pid, "exe", exe, sizeof(exe));
	if (yw_procfs_status((pid_t)pid, &ppid, &uid, &euid) != 0 ||
	    yw_procfs_stat((pid_t)pid, yw_procfs_boot_ns(), comm, sizeof(comm), &got_start) != 0) {
		st = fail(c, YW_CMD_FAILED, "pid %lld: no such process", pid);
		goto out;
	}
	if (ppid == 2 || pid == 2) {
		st = fail(c, YW_CMD_DENIED, "pid %lld is a kernel thread", pid);
		goto out;
	}
	if (el > 0) {
		/* an executable replaced or removed since the start reads "... (deleted)" */
		static const char del[] = " (deleted)";
		if (el > (ssize_t)sizeof(del) - 1 && !strcmp(exe + el - (sizeof(del) - 1), del))
			exe[el - (ssize_t)(sizeof(del) - 1)] = '\0';
		yw_strbuf_puts(c->res, ",\"exe\":");
		yw_strbuf_json_str(c->res, exe, strlen(exe));
	}
	if (want_exe && (el <= 0 || strcmp(exe, want_exe) != 0)) {
		st = fail(c, YW_CMD_FAILED, "pid %lld runs %s, not the expected executable", pid,
		          el > 0 ? exe : "an unreadable executable");
		goto out;
	}
	/* Start times from the process collector have ms precision and a boot instant derived
	 * from two clocks; a second of tolerance cannot confuse two processes of one pid (pids
	 * wrap after millions of forks). */
	if (want_start &&
	    (got_start - start_ns > 1000000000LL || start_ns - got_start > 1000000000LL)) {
		st = fail(c, YW_CMD_FAILED, "pid %lld started at another time: the pid was reused",
		          pid);
		goto out;
	}
	long long grace = 2000;
	if (json_object_get(c->args, "grace_ms") &&
	    (!arg_int(c, "grace_ms", &grace) || grace < 0)) {
		st = fail(c, YW_CMD_FAILED, "\"grace_ms\" must be a positive integer");
		goto out;
	}
	if (c->dry)
		goto out;
	if (syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0) != 0) {
		st = fail(c, YW_CMD_FAILED, "SIGTERM: %s", strerror(errno));
		goto out;
	}
	const char *sig = "SIGTERM";
	struct pollfd p = {pfd, POLLIN, 0};
	int64_t g = grace < left_ms(c) ? grace : left_ms(c);
	if (poll(&p, 1, (int)g) <= 0) {
		sig = "SIGKILL";
		if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) != 0 && errno != ESRCH) {
			st = fail(c, YW_CMD_FAILED, "SIGKILL: %s", strerror(errno));
			goto out;
		}
		if (poll(&p, 1, 1000) <= 0) {
			st = fail(c, YW_CMD_FAILED, "pid %lld survived SIGKILL for 1 s", pid);
			goto out;
		}
	}
	yw_strbuf_printf(c->res, ",\"signal\":\"%s\",\"exited\":true", sig);
out:
	close(pfd);
	return st;
}

/* ---- quarantine_file, restore_file ---- */

static int sha256_fd(struct cmd *c, int fd, char hex[65], uint64_t *size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], buf[65536];
	unsigned mdl = 0;
	int rc = 0;
	*size = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return YW_ENOMEM;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		rc = YW_EIO;
	for (;;) {
		if (rc)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = YW_EIO;
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		*size += (uint64_t)n;
		if ((*size & ((1u << 24) - 1)) < (uint64_t)n && !left_ms(c))
			rc = YW_ELIMIT; /* checked every 16 MiB */
	}
	if (!rc && EVP_DigestFinal_ex(ctx, md, &mdl) && mdl == 32) {
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	} else if (!rc) {
		rc = YW_EIO;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Copies fd into a new file dst (O_EXCL, mode), synced: the cross-filesystem move. */
static int copy_to(int fd, const char *dst, mode_t mode)
{
	int o = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (o < 0)
		return YW_EIO;
	char buf[65536];
	int rc = lseek(fd, 0, SEEK_SET) < 0 ? YW_EIO : 0;
	while (!rc) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? YW_EIO : 0;
			break;
		}
		for (ssize_t off = 0; off < n && !rc;) {
			ssize_t w = write(o, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR)
				rc = YW_EIO;
			off += w > 0 ? w : 0;
		}
	}
	if (!rc && fsync(o) != 0)
		rc = YW_EIO;
	close(o);
	if (rc)
		unlink(dst);
	return rc;
}

/* Moves src (whose open descriptor is fd, checked to be the same file) to dst without
 * replacing anything. Within one filesystem a rename; across, a copy then unlink. */
static int move_file(int fd, const struct stat *st, const char *src, const char *dst,
                     mode_t copy_mode)
{
	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) {
		struct stat now;
		/* src was swapped between our checks and the rename: put it back */
		if (lstat(dst, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
			renameat2(AT_FDCWD, dst, AT_FDCWD, src, RENAME_NOREPLACE);
			return YW_EINVAL;
		}
		return 0;
	}
	if (errno != EXDEV)
		return errno == EEXIST ? YW_EEXIST : YW_EIO;
	int rc = copy_to(fd, dst, copy_mode);
	if (rc)
		return rc;
	struct stat now;
	if (lstat(src, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino ||
	    unlink(src) != 0) {
		unlink(dst);
		return YW_EINVAL;
	}
	return 0;
}

/* Resolves the directory part of an absolute path (symlinks in it followed) and keeps the
 * last component: the file itself is never followed. */
static int resolve_parent(struct cmd *c, const char *path, char *out, size_t n)
{
	if (!path || path[0] != '/')
		return fail(c, YW_CMD_FAILED, "\"path\" must be an absolute path");
	if (strlen(path) >= PATH_MAX)
		return fail(c, YW_CMD_FAILED, "\"path\" is too long");
	char dir[PATH_MAX], real[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	const char *base = path + (slash - dir) + 1;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return fail(c, YW_CMD_FAILED, "\"path\" must name a file");
	*slash = '\0';
	if (!realpath(dir[0] ? dir : "/", real))
		return fail(c, YW_CMD_FAILED, "%s: %s", dir[0] ? dir : "/", strerror(errno));
	if ((size_t)snprintf(out, n, "%s/%s", strcmp(real, "/") ? real : "", base) >= n)
		return fail(c, YW_CMD_FAILED, "\"path\" is too long");
	return YW_CMD_OK;
}

static bool protected_file(struct cmd *c, const char *path, const struct stat *st)
{
	struct stat self;
	if (stat("/proc/self/exe", &self) == 0 && self.st_dev == st->st_dev &&
	    self.st_ino == st->st_ino)
		return true;
	return under(path, c->r->qdir) || under_any(path, c->r->protect, c->r->nprotect);
}

static int write_sidecar(const char *path, const char *json)
{
	return yw_write_file_atomic(path, json, strlen(json), 0600);
}

static int do_quarantine(struct cmd *c)
{
	char path[PATH_MAX], hex[65], id[96], dst[PATH_MAX + 100], side[PATH_MAX + 110];
	int st = resolve_parent(c, arg_str(c, "path"), path, sizeof(path));
	if (st)
		return st;
	yw_strbuf_puts(c->res, ",\"path\":");
	yw_strbuf_json_str(c->res, path, strlen(path));
	if (!under_any(path, c->r->qpaths, c->r->nqpaths))
		return fail(c, YW_CMD_DENIED, "%s is outside the paths this agent may quarantine",
		            path);
	struct stat ls, fs;
	if (lstat(path, &ls) != 0)
		return fail(c, YW_CMD_FAILED, "%s: %s", path, strerror(errno));
	/* Checked before opening: opening a device can have effects (a tape rewinds). */
	if (!S_ISREG(ls.st_mode))
		return fail(c, YW_CMD_DENIED,
		            "%s is not a regular file (directory, link, device "
		            "or pipe)",
		            path);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return fail(c, YW_CMD_FAILED, "%s: %s", path, strerror(errno));
	if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode) || fs.st_dev != ls.st_dev ||
	    fs.st_ino != ls.st_ino) {
		st = fail(c, YW_CMD_FAILED, "%s changed while it was checked", path);
		goto out;
	}
	if (protected_file(c, path, &fs)) {
		st = fail(c, YW_CMD_DENIED, "%s belongs to the agent", path);
		goto out;
	}
	uint64_t size;
	if (sha256_fd(c, fd, hex, &size) != 0) {
		st = fail(c, YW_CMD_FAILED, "%s: cannot hash it in time", path);
		goto out;
	}
	yw_strbuf_printf(c->res, ",\"sha256\":\"%s\",\"size\":%llu", hex, (unsigned long long)size);
	if (c->dry)
		goto out;
	int64_t now = yw_wall_ns();
	snprintf(id, sizeof(id), "%lld-%.16s", (long long)now, hex);
	snprintf(dst, sizeof(dst), "%s/%s", c->r->qdir, id);
	snprintf(side, sizeof(side), "%s.json", dst);
	int rc = move_file(fd, &fs, path, dst, 0400);
	if (rc) {
		st = fail(c, YW_CMD_FAILED, "cannot move %s into quarantine: %s", path,
		          rc == YW_EINVAL ? "it was replaced meanwhile" : strerror(errno));
		goto out;
	}
	/* No one runs it from quarantine; the mode comes back on restore. */
	chmod(dst, 0400);
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id", id, "path", path,
	    "sha256", hex, "size", (json_int_t)size, "mode", (json_int_t)(fs.st_mode & 07777),
	    "uid", (json_int_t)fs.st_uid, "gid", (json_int_t)fs.st_gid, "mtime_ns",
	    (json_int_t)fs.st_mtim.tv_sec * 1000000000 + fs.st_mtim.tv_nsec, "atime_ns",
	    (json_int_t)fs.st_atim.tv_sec * 1000000000 + fs.st_atim.tv_nsec, "quarantined_at_ns",
	    (json_int_t)now, "command_id", (json_int_t)c->id);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text || write_sidecar(side, text) != 0) {
		free(text);
		/* without its sidecar the file could not be restored: put it back */
		renameat2(AT_FDCWD, dst, AT_FDCWD, path, RENAME_NOREPLACE);
		chmod(path, fs.st_mode & 07777);
		st = fail(c, YW_CMD_FAILED, "cannot write the quarantine record");
		goto out;
	}
	free(text);
	yw_strbuf_puts(c->res, ",\"quarantine_id\":");
	yw_strbuf_json_str(c->res, id, strlen(id));
	snprintf(c->undo, sizeof(c->undo), "restore_file:%s", id);
out:
	close(fd);
	return st;
}

static bool valid_qid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (!n || n > 80)
		return false;
	return strspn(id, "0123456789abcdef-") == n;
}

static int do_restore(struct cmd *c)
{
	const char *id = arg_str(c, "id");
	if (!valid_qid(id))
		return fail(c, YW_CMD_FAILED, "missing or bad \"id\"");
	char q[PATH_MAX + 100], side[PATH_MAX + 110], path[PATH_MAX], hex[65];
	snprintf(q, sizeof(q), "%s/%s", c->r->qdir, id);
	snprintf(side, sizeof(side), "%s.json", q);
	yw_strbuf_puts(c->res, ",\"quarantine_id\":");
	yw_strbuf_json_str(c->res, id, strlen(id));
	json_error_t jerr;
	struct stat ss;
	if (lstat(side, &ss) != 0 || !S_ISREG(ss.st_mode) || ss.st_size > YW_RESPOND_MAX_SIDECAR)
		return fail(c, YW_CMD_FAILED, "no quarantined file %s", id);
	json_t *j = json_load_file(side, 0, &jerr);
	const char *orig = NULL, *want = NULL;
	json_int_t mode = 0, uid = 0, gid = 0, mtime = 0, atime = 0;
	if (!j || json_unpack(j, "{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", &orig, "sha256",
	                      &want, "mode", &mode, "uid", &uid, "gid", &gid, "mtime_ns", &mtime,
	                      "atime_ns", &atime) != 0) {
		json_decref(j);
		return fail(c, YW_CMD_FAILED, "quarantine record %s is unreadable", id);
	}
	int st = resolve_parent(c, orig, path, sizeof(path));
	int fd = -1;
	if (st)
		goto out;
	yw_strbuf_puts(c->res, ",\"path\":");
	yw_strbuf_json_str(c->res, path, strlen(path));
	if (!under_any(path, c->r->qpaths, c->r->nqpaths) || under(path, c->r->qdir) ||
	    under_any(path, c->r->protect, c->r->nprotect)) {
		st = fail(c, YW_CMD_DENIED, "%s is outside the paths this agent may restore to",
		          path);
		goto out;
	}
	struct stat ls;
	if (lstat(path, &ls) == 0) {
		st = fail(c, YW_CMD_FAILED, "%s exists: not overwritten", path);
		goto out;
	}
	fd = open(q, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat fs;
	uint64_t size;
	if (fd < 0 || fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
		st = fail(c, YW_CMD_FAILED, "quarantined file %s is missing", id);
		goto out;
	}
	if (sha256_fd(c, fd, hex, &size) != 0 || strcmp(hex, want) != 0) {
		st = fail(c, YW_CMD_FAILED, "quarantined file %s does not match its SHA-256", id);
		goto out;
	}
	yw_strbuf_printf(c->res, ",\"sha256\":\"%s\"", hex);
	if (c->dry)
		goto out;
	int rc = move_file(fd, &fs, q, path, 0600);
	if (rc) {
		st = fail(c, YW_CMD_FAILED, "cannot move %s back: %s", id,
		          rc == YW_EEXIST ? "the path exists" : strerror(errno));
		goto out;
	}
	if (fs.st_nlink == 0 || fstat(fd, &fs) != 0 || fs.st_nlink == 0) {
		/* copied across filesystems: the metadata goes onto the new inode */
		close(fd);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	struct timespec ts[2] = {{atime / 1000000000, atime % 1000000000},
	                         {mtime / 1000000000, mtime % 1000000000}};
	/* owner before mode: chown clears set-id bits */
	if (fd < 0 || fchown(fd, (uid_t)uid, (gid_t)gid) != 0 || fchmod(fd, (mode_t)mode) != 0 ||
	    futimens(fd, ts) != 0) {
		st = fail(c, YW_CMD_FAILED,
		          "%s restored, but its owner, mode or times could not "
		          "be set: %s",
		          path, strerror(errno));
		goto out;
	}
	unlink(side);
	snprintf(c->undo, sizeof(c->undo), "quarantine_file:%s", path);
out:
	if (fd >= 0)
		close(fd);
	json_decref(j);
	return st;
}

/* ---- lock_account, unlock_account ---- */

static long uid_min(void)
{
	FILE *f = fopen("/etc/login.defs", "r");
	char line[256];
	long v = DEFAULT_UID_MIN;
	while (f && fgets(line, sizeof(line), f)) {
		long n;
		if (sscanf(line, " UID_MIN %ld", &n) == 1 && n > 0)
			v = n;
	}
	if (f)
		fclose(f);
	return v;
}

static int target_user(struct cmd *c, char *name, size_t n, uid_t *uid)
{
	const char *u = arg_str(c, "user");
	size_t len = u ? strlen(u) : 0;
	/* a name usermod cannot take for an option: no leading '-' */
	if (!len || len >= n || u[0] == '-' ||
	    strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-$") != len)
		return fail(c, YW_CMD_FAILED, "missing or bad \"user\"");
	memcpy(name, u, len + 1);
	yw_strbuf_puts(c->res, ",\"user\":");
	yw_strbuf_json_str(c->res, name, len);
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return fail(c, YW_CMD_FAILED, "no user %s", name);
	*uid = pw.pw_uid;
	yw_strbuf_printf(c->res, ",\"uid\":%u", (unsigned)pw.pw_uid);
	if (pw.pw_uid == 0)
		return fail(c, YW_CMD_DENIED, "%s is root: never locked", name);
	long min = uid_min();
	if ((long)pw.pw_uid < min && !c->r->allow_system)
		return fail(c, YW_CMD_DENIED, "%s is a system account (uid %u < UID_MIN %ld)", name,
		            (unsigned)pw.pw_uid, min);
	return YW_CMD_OK;
}

static void shadow_state(struct cmd *c, const char *name)
{
	struct spwd sp, *res = NULL;
	char buf[4096];
	if (getspnam_r(name, &sp, buf, sizeof(buf), &res) == 0 && res)
		yw_strbuf_printf(c->res, ",\"was_locked\":%s,\"previous_expire\":%ld",
		                 sp.sp_pwdp && sp.sp_pwdp[0] == '!' ? "true" : "false",
		                 sp.sp_expire);
}

static int do_lock(struct cmd *c, bool lock)
{
	char name[64];
	uid_t uid;
	int st = target_user(c, name, sizeof(name), &uid);
	if (st)
		return st;
	shadow_state(c, name);
	if (c->dry)
		return c->r->usermod[0] ? YW_CMD_OK
		                        : fail(c, YW_CMD_FAILED, "usermod is not installed");
	/* -e 1: expired since 1970-01-02, which also stops key-based logins that -L alone
	 * (a locked password) lets through. */
	const char *lk[] = {"usermod", "-L", "-e", "1", "--", name, NULL};
	const char *un[] = {"usermod", "-U", "-e", "", "--", name, NULL};
	if (run_prog(c, c->r->usermod, lock ? lk : un, NULL))
		return YW_CMD_FAILED;
	snprintf(c->undo, sizeof(c->undo), "%s:%s", lock ? "unlock_account" : "lock_account", name);
	return YW_CMD_OK;
}

/* ---- dispatch ---- */

enum act { A_BLOCK, A_UNBLOCK, A_KILL, A_QUAR, A_RESTORE, A_LOCK, A_UNLOCK, A_NONE };

static const struct {
	const char *name;
	const char *forward;  /* the action whose permission covers this one */
	const char *undo_arg; /* the argument an undo token carries */
} acts[] = {
    [A_BLOCK] = {"block_ip", "block_ip", "ip"},
    [A_UNBLOCK] = {"unblock_ip", "block_ip", "ip"},
    [A_KILL] = {"kill_process", "kill_process", NULL},
    [A_QUAR] = {"quarantine_file", "quarantine_file", "path"},
    [A_RESTORE] = {"restore_file", "quarantine_file", "id"},
    [A_LOCK] = {"lock_account", "lock_account", "user"},
    [A_UNLOCK] = {"unlock_account", "lock_account", "user"},
};

static enum act act_find(const char *name, size_t len)
{
	for (int i = 0; i < A_NONE; i++)
		if (strlen(acts[i].name) == len && !memcmp(acts[i].name, name, len))
			return (enum act)i;
	return A_NONE;
}

static bool act_allowed(const struct yw_responder *r, enum act a)
{
	if (!r->nactions)
		return true;
	for (size_t i = 0; i < r->nactions; i++)
		if (!strcmp(r->actions[i], acts[a].forward))
			return true;
	return false;
}

static int run_act(struct cmd *c, enum act a)
{
	switch (a) {
	case A_BLOCK:
		return do_block(c);
	case A_UNBLOCK:
		return do_unblock(c);
	case A_KILL:
		return do_kill(c);
	case A_QUAR:
		return do_quarantine(c);
	case A_RESTORE:
		return do_restore(c);
	case A_LOCK:
		return do_lock(c, true);
	case A_UNLOCK:
		return do_lock(c, false);
	default:
		return YW_CMD_UNKNOWN;
	}
}

static const char *status_name(int st)
{
	static const char *const n[] = {"ok", "failed", "denied", "unknown"};
	return st >= 0 && st <= YW_CMD_STATUS_MAX ? n[st] : "failed";
}

/* One YW_REC_AGENT record per command: what was asked, and what came of it. */
static void audit(struct cmd *c, const char *name, int st, const char *args, size_t args_len,
                  const struct yw_strbuf *res)
{
	if (!c->r->audit)
		return;
	struct yw_strbuf b = YW_STRBUF_INIT;
	yw_strbuf_printf(&b,
	                 "{\"event.kind\":\"event\",\"event.category\":\"host\","
	                 "\"event.module\":\"yiwang\",\"event.action\":\"response_%s\","
	                 "\"event.outcome\":\"%s\",\"yiwang.response.id\":%llu,"
	                 "\"yiwang.response.status\":\"%s\",\"yiwang.response.dry_run\":%s,"
	                 "\"message\":\"response action %s: %s\"",
	                 name, st == YW_CMD_OK ? "success" : "failure", (unsigned long long)c->id,
	                 status_name(st), c->dry ? "true" : "false", name, status_name(st));
	if (args_len <= YW_RESPOND_MAX_AUDIT_ARGS && c->args) {
		char *a = json_dumps(c->args, JSON_COMPACT);
		if (a)
			yw_strbuf_printf(&b, ",\"yiwang.response.args\":%s", a);
		free(a);
	} else {
		yw_strbuf_printf(&b, ",\"yiwang.response.args_bytes\":%zu", args_len);
	}
	yw_strbuf_printf(&b, ",\"yiwang.response.result\":%.*s}", (int)res->len, res->data);
	int rc = b.data ? c->r->audit(c->r->audit_ud, b.data, b.len) : YW_ENOMEM;
	if (rc)
		yw_logf(YW_LOG_ERROR, "response %llu (%s): audit record not written: %s",
		        (unsigned long long)c->id, name, yw_strerror(rc < 0 ? rc : YW_ELIMIT));
	yw_strbuf_free(&b);
}

int yw_respond_run(struct yw_responder *r, uint64_t id, const char *name, size_t name_len,
                   const char *args, size_t args_len, struct yw_strbuf *result)
{
	struct cmd c = {.r = r, .id = id};
	yw_strbuf_reset(result);
	c.res = result;
	json_error_t jerr;
	c.args =
	    args_len ? json_loadb(args, args_len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
	enum act a = act_find(name, name_len);
	char shown[40];
	/* the name is the server's: only a known one goes into records verbatim */
	snprintf(shown, sizeof(shown), "%s",
	         a != A_NONE                                 ? acts[a].name
	         : name_len == 4 && !memcmp(name, "undo", 4) ? "undo"
	                                                     : "unknown");
	int st;
	json_t *dry = json_object_get(c.args, "dry_run");
	c.dry = json_is_true(dry);
	long long t = r->timeout_ms;
	if (arg_int(&c, "timeout_ms", &t) && (t < 1 || t > r->timeout_ms))
		t = r->timeout_ms;
	c.deadline_ms = yw_mono_ms() + t;
	if (!strcmp(shown, "undo") && json_is_object(c.args)) {
		/* "name:value" -> the named inverse action with its one argument */
		const char *tok = arg_str(&c, "token");
		const char *colon = tok ? strchr(tok, ':') : NULL;
		a = colon ? act_find(tok, (size_t)(colon - tok)) : A_NONE;
		if (a != A_NONE && acts[a].undo_arg) {
			json_object_set_new(c.args, acts[a].undo_arg, json_string(colon + 1));
			snprintf(shown, sizeof(shown), "%s", acts[a].name);
		} else {
			a = A_NONE;
			snprintf(shown, sizeof(shown), "undo");
		}
	}
	yw_strbuf_printf(result, "{\"action\":\"%s\",\"dry_run\":%s", shown,
	                 c.dry ? "true" : "false");
	if (!json_is_object(c.args) || (dry && !json_is_boolean(dry))) {
		st = fail(&c, YW_CMD_FAILED, "arguments must be a JSON object (dry_run a boolean)");
	} else if (!strcmp(shown, "undo")) {
		st = fail(&c, YW_CMD_FAILED, "missing or bad undo \"token\"");
	} else if (a == A_NONE) {
		st = fail(&c, YW_CMD_UNKNOWN, "no such action");
	} else if (!r->enabled) {
		st = fail(&c, YW_CMD_DENIED, "response actions are disabled on this agent");
	} else if (!act_allowed(r, a)) {
		st = fail(&c, YW_CMD_DENIED, "%s is not enabled on this agent", acts[a].forward);
	} else {
		st = run_act(&c, a);
	}
	if (st != YW_CMD_OK) {
		yw_strbuf_puts(result, ",\"error\":");
		yw_strbuf_json_str(result, c.err, strlen(c.err));
	} else if (c.undo[0] && !c.dry) {
		yw_strbuf_puts(result, ",\"undo\":");
		yw_strbuf_json_str(result, c.undo, strlen(c.undo));
	}
	yw_strbuf_putc(result, '}');
	if (!result->data) {
		json_decref(c.args);
		return YW_CMD_FAILED;
	}
	yw_logf(st == YW_CMD_OK ? YW_LOG_INFO : YW_LOG_WARNING, "response %llu %s%s: %s%s%s",
	        (unsigned long long)id, shown, c.dry ? " (dry run)" : "", status_name(st),
	        st == YW_CMD_OK ? "" : ": ", st == YW_CMD_OK ? "" : c.err);
	audit(&c, shown, st, args, args_len, result);
	json_decref(c.args);
	return st;
}

int yw_respond_command(struct yw_responder *r, const struct yw_msg_command *cmd, struct yw_proto *p,
                       struct yw_strbuf *out)
{
	struct yw_strbuf res = YW_STRBUF_INIT;
	int st;
	if (r) {
		st = yw_respond_run(r, cmd->id, cmd->name, cmd->name_len, cmd->args_json,
		                    cmd->args_json_len, &res);
	} else {
		st = YW_CMD_DENIED;
		yw_strbuf_puts(&res, "{\"error\":\"response actions are unavailable on this "
		                     "agent\"}");
	}
	struct yw_msg m = {.type = YW_MSG_COMMAND_RESULT};
	m.command_result.id = cmd->id;
	m.command_result.status = (uint8_t)st;
	m.command_result.result_json = res.data ? res.data : "{}";
	m.command_result.result_json_len = res.data ? (uint32_t)res.len : 2;
	int rc = yw_proto_encode(p, &m, out);
	yw_strbuf_free(&res);
	return rc;
}

/* ---- set-up ---- */

void yw_respond_free(struct yw_responder *r)
{
	if (!r)
		return;
	free_list(r->actions, r->nactions);
	free_list(r->qpaths, r->nqpaths);
	free_list(r->protect, r->nprotect);
	free(r->allow);
	free(r);
}

int yw_respond_new(const struct yw_respond_opts *o, struct yw_responder **out, char *err,
                   size_t errsz)
{
	struct yw_responder *r = calloc(1, sizeof(*r));
	int rc;
	*out = NULL;
	if (!r)
		return YW_ENOMEM;
	r->enabled = o->enabled;
	r->allow_system = o->allow_system_accounts;
	r->timeout_ms =
	    o->timeout_ms > 0 && o->timeout_ms <= YW_RESPOND_MAX_TIMEOUT_MS ? o->timeout_ms : 10000;
	r->audit = o->audit;
	r->audit_ud = o->audit_ud;
	find_prog(o->nft, "nft", r->nft, sizeof(r->nft));
	find_prog(o->usermod, "usermod", r->usermod, sizeof(r->usermod));
	if ((rc = copy_list(o->actions, o->nactions, &r->actions)) != 0)
		goto out;
	r->nactions = o->nactions;
	if ((rc = copy_list(o->quarantine_paths, o->nquarantine_paths, &r->qpaths)) != 0)
		goto out;
	r->nqpaths = o->nquarantine_paths;
	if ((rc = copy_list(o->protected_paths, o->nprotected_paths, &r->protect)) != 0)
		goto out;
	r->nprotect = o->nprotected_paths;
	for (size_t i = 0; i < o->nactions; i++) {
		if (act_find(o->actions[i], strlen(o->actions[i])) == A_NONE) {
			snprintf(err, errsz, "unknown response action '%s'", o->actions[i]);
			rc = YW_EINVAL;
			goto out;
		}
	}
	for (size_t i = 0; i < o->nallow_ips; i++) {
		struct cidr c;
		if (cidr_parse(o->allow_ips[i], &c) != 0) {
			snprintf(err, errsz, "allowlist: '%s' is not an address or CIDR",
			         o->allow_ips[i]);
			rc = YW_EINVAL;
			goto out;
		}
		if ((rc = allow_add(r, c.family, c.a, c.bits)) != 0)
			goto out;
	}
	if ((rc = allow_builtin(r, o->server_host)) != 0)
		goto out;
	if (o->quarantine_dir) {
		if (mkdir(o->quarantine_dir, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errsz, "quarantine directory %s: %s", o->quarantine_dir,
			         strerror(errno));
			rc = YW_EIO;
			goto out;
		}
		/* a path under it must compare with what realpath() gives for files */
		if (!realpath(o->quarantine_dir, r->qdir) || chmod(r->qdir, 0700) != 0) {
			snprintf(err, errsz, "quarantine directory %s: %s", o->quarantine_dir,
			         strerror(errno));
			rc = YW_EIO;
			goto out;
		}
	} else {
		r->nqpaths = 0; /* no quarantine without a directory */
	}
out:
	if (rc) {
		yw_respond_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int spool_audit(void *ud, const char *json, size_t len)
{
	struct yw_record rec = {.ts_ns = yw_wall_ns(),
	                        .kind = YW_REC_AGENT,
	                        .source = "agent:respond",
	                        .source_len = 13,
	                        .data = json,
	                        .len = (uint32_t)len};
	return yw_spool_append(ud, &rec, NULL, 0);
}

int yw_respond_new_agent(const struct yw_agent_config *cfg, const char *server,
                         struct yw_spool *spool, struct yw_responder **out)
{
	char qdir[PATH_MAX], err[512] = "";
	if (cfg->respond_quarantine_dir)
		snprintf(qdir, sizeof(qdir), "%s", cfg->respond_quarantine_dir);
	else
		snprintf(qdir, sizeof(qdir), "%s/quarantine", cfg->state_dir);
	char state[PATH_MAX];
	const char *protect[] = {realpath(cfg->state_dir, state) ? state : cfg->state_dir};
	struct yw_respond_opts o = {
	    .enabled = cfg->respond_enabled,
	    .actions = (const char *const *)cfg->respond_actions.v,
	    .nactions = cfg->respond_actions.n,
	    .allow_ips = (const char *const *)cfg->respond_allow_ips.v,
	    .nallow_ips = cfg->respond_allow_ips.n,
	    .server_host = server,
	    .quarantine_dir = qdir,
	    .quarantine_paths = (const char *const *)cfg->respond_quarantine_paths.v,
	    .nquarantine_paths = cfg->respond_quarantine_paths.n,
	    .protected_paths = protect,
	    .nprotected_paths = 1,
	    .allow_system_accounts = cfg->respond_allow_system_accounts,
	    .timeout_ms = cfg->respond_timeout_ms,
	    .audit = spool_audit,
	    .audit_ud = spool,
	};
	int rc = yw_respond_new(&o, out, err, sizeof(err));
	if (rc)
		yw_logf(YW_LOG_ERROR, "response actions: %s", err[0] ? err : yw_strerror(rc));
	return rc;
}
