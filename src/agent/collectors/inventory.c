/* Inventory collector: a snapshot of the host (OS, hostname, hardware, interfaces, packages,
 * users, groups, listening ports, services) sent item by item when there is no saved state,
 * then every interval only what changed against the snapshot kept in the state file.
 * Event shapes: docs/inventory.md. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/fsutil.h"
#include "yiwang/sca.h"
#include "yiwang/strbuf.h"

#define STATE_HEADER        "yiwang-inventory 1\n"
#define DEFAULT_INTERVAL_MS 3600000

enum cat { C_OS, C_HOSTNAME, C_HARDWARE, C_IFACE, C_PKG, C_USER, C_GROUP, C_PORT, C_SERVICE, NCAT };

static const char *const cat_name[NCAT] = {
    "os", "hostname", "hardware", "interfaces", "packages", "users", "groups", "ports", "services"};
static const char *const cat_ecs[NCAT] = {"host", "host", "host",    "network",      "package",
                                          "iam",  "iam",  "network", "configuration"};
/* event.action for an item that appeared, went away, or changed */
static const char *const act[NCAT][3] = {
    {"os_changed", "os_changed", "os_changed"},
    {"hostname_changed", "hostname_changed", "hostname_changed"},
    {"hardware_changed", "hardware_changed", "hardware_changed"},
    {"interface_added", "interface_removed", "interface_changed"},
    {"package_installed", "package_removed", "package_upgraded"},
    {"user_added", "user_removed", "user_changed"},
    {"group_added", "group_removed", "group_changed"},
    {"port_opened", "port_closed", "port_changed"},
    {"service_enabled", "service_disabled", "service_changed"},
};

struct item {
	int cat;
	char *key;
	char *json;   /* attributes: "k":v,"k":v (no braces) */
	uint64_t sig; /* hash of what counts as a change */
};

struct snap {
	struct item *v;
	size_t n, cap;
	size_t count[NCAT];
	bool truncated[NCAT];
	char note[256]; /* e.g. why rpm packages are missing */
};

struct inv_col {
	char root[PATH_MAX];
	char *state_path;
	int64_t interval_ms, next_ms;
	bool full_on_start, rpm;
	bool have_prev; /* prev came from the state file or an earlier poll */
	struct snap prev, next;
	/* events of the diff being sent; next becomes prev once all are taken */
	char **q;
	size_t nq, qi;
	int64_t q_ts;
	bool dirty;
	struct yw_strbuf b;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].json);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Takes json (malloc'd) in all cases. cmp: what counts as a change (NULL: json). */
static int snap_add(struct snap *s, int cat, const char *key, char *json, const char *cmp)
{
	if (s->count[cat] >= YW_INV_MAX_ITEMS) {
		s->truncated[cat] = true;
		free(json);
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct item *n = realloc(s->v, cap * sizeof(*n));
		if (!n) {
			free(json);
			return YW_ENOMEM;
		}
		s->v = n;
		s->cap = cap;
	}
	char *k = strdup(key);
	if (!k) {
		free(json);
		return YW_ENOMEM;
	}
	for (char *p = k; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = '?'; /* the state file is tab- and line-separated */
	s->v[s->n++] = (struct item){cat, k, json, fnv(cmp ? cmp : json)};
	s->count[cat]++;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->cat != y->cat)
		return x->cat - y->cat;
	return strcmp(x->key, y->key);
}

/* Attribute builders over a strbuf: "k":"v" pairs separated by commas. */
static int js(struct yw_strbuf *b, const char *k, const char *v)
{
	if (!v || !*v)
		return 0;
	int rc = yw_strbuf_printf(b, "%s\"%s\":", b->len ? "," : "", k);
	return rc ? rc : yw_strbuf_json_str(b, v, strlen(v));
}

static int ji(struct yw_strbuf *b, const char *k, long long v)
{
	return yw_strbuf_printf(b, "%s\"%s\":%lld", b->len ? "," : "", k, v);
}

static char *take(struct yw_strbuf *b)
{
	char *s = strndup(b->data ? b->data : "", b->len);
	yw_strbuf_reset(b);
	return s;
}

static int rpath(const struct inv_col *c, const char *p, char *out, size_t n)
{
	return snprintf(out, n, "%s%s", c->root, p) >= (int)n ? YW_ELIMIT : 0;
}

/* Reads a small file (bounded) into a new NUL-terminated buffer; NULL if absent. */
static char *slurp(const struct inv_col *c, const char *p, size_t max)
{
	char full[PATH_MAX];
	if (rpath(c, p, full, sizeof(full)))
		return NULL;
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct yw_strbuf b;
	yw_strbuf_init(&b, max);
	char chunk[8192];
	ssize_t r;
	int rc = 0;
	while ((r = read(fd, chunk, sizeof(chunk))) > 0 && !rc)
		rc = yw_strbuf_append(&b, chunk, (size_t)r);
	close(fd);
	if (rc == YW_ENOMEM) {
		yw_strbuf_free(&b);
		return NULL;
	}
	if (!b.data)
		return strdup("");
	return b.data; /* cut at max: what fits is still useful */
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = 0;
}

/* ---- the categories ---- */

static int os_value(const char *buf, const char *key, char *out, size_t n)
{
	out[0] = 0;
	size_t kl = strlen(key);
	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) || p[kl] != '=')
			continue;
		const char *v = p + kl + 1, *e = strchr(v, '\n');
		size_t len = e ? (size_t)(e - v) : strlen(v);
		if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
			v++;
			len -= 2;
		}
		snprintf(out, n, "%.*s", (int)len, v);
		return 1;
	}
	return 0;
}

static int collect_os(struct inv_col *c, struct snap *s)
{
	struct yw_strbuf *b = &c->b;
	char *osr = slurp(c, "/etc/os-release", 65536);
	if (!osr)
		osr = slurp(c, "/usr/lib/os-release", 65536);
	char v[256];
	struct utsname u;
	int rc = 0;
	if (osr) {
		static const char *const m[][2] = {
		    {"NAME", "host.os.name"},        {"VERSION_ID", "host.os.version"},
		    {"PRETTY_NAME", "host.os.full"}, {"ID", "host.os.platform"},
		    {"ID_LIKE", "host.os.family"},   {"VERSION_CODENAME", "yiwang.os.codename"},
		};
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]) && !rc; i++)
			if (os_value(osr, m[i][0], v, sizeof(v)))
				rc = js(b, m[i][1], v);
		free(osr);
	}
	if (!rc)
		rc = js(b, "host.os.type", "linux");
	if (!rc && uname(&u) == 0) {
		rc = js(b, "host.os.kernel", u.release);
		if (!rc)
			rc = js(b, "yiwang.os.kernel_version", u.version);
		if (!rc)
			rc = js(b, "host.architecture", u.machine);
	}
	if (rc)
		return rc;
	char *j = take(b);
	if (!j)
		return YW_ENOMEM;
	rc = snap_add(s, C_OS, "os", j, NULL);
	char host[256] = "";
	if (rc || gethostname(host, sizeof(host) - 1) != 0)
		return rc;
	if ((rc = js(b, "host.hostname", host)) != 0)
		return rc;
	if (!(j = take(b)))
		return YW_ENOMEM;
	return snap_add(s, C_HOSTNAME, "hostname", j, NULL);
}

static int collect_hardware(struct inv_col *c, struct snap *s)
{
	struct yw_strbuf *b = &c->b;
	int rc = 0;
	char *ci = slurp(c, "/proc/cpuinfo", 4 << 20);
	if (ci) {
		long cpus = 0;
		char model[256] = "";
		for (char *p = ci; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
			if (!strncmp(p, "processor", 9) &&
			    (p[9] == '\t' || p[9] == ' ' || p[9] == ':'))
				cpus++;
			else if (!model[0] && !strncmp(p, "model name", 10)) {
				const char *col = strchr(p, ':'), *e = strchr(p, '\n');
				if (col && (!e || col < e)) {
					col += col[1] == ' ' ? 2 : 1;
					int len = e ? (int)(e - col) : (int)strlen(col);
					snprintf(model, sizeof(model), "%.*s", len, col);
				}
			}
		}
		free(ci);
		rc = js(b, "yiwang.hardware.cpu.model", model);
		if (!rc && cpus)
			rc = ji(b, "yiwang.hardware.cpu.count", cpus);
	}
	char *mi = slurp(c, "/proc/meminfo", 65536);
	if (mi && !rc) {
		char *p = strstr(mi, "MemTotal:");
		long long kb;
		if (p && sscanf(p + 9, "%lld", &kb) == 1)
			rc = ji(b, "yiwang.hardware.memory.total", kb * 1024);
	}
	free(mi);
	static const char *const dmi[][2] = {
	    {"sys_vendor", "yiwang.hardware.vendor"},
	    {"product_name", "yiwang.hardware.product"},
	    {"product_version", "yiwang.hardware.product_version"},
	    {"product_serial", "yiwang.hardware.serial"},
	    {"product_uuid", "yiwang.hardware.uuid"},
	    {"board_vendor", "yiwang.hardware.board.vendor"},
	    {"board_name", "yiwang.hardware.board.name"},
	    {"bios_vendor", "yiwang.hardware.bios.vendor"},
	    {"bios_version", "yiwang.hardware.bios.version"},
	    {"bios_date", "yiwang.hardware.bios.date"},
	};
	for (size_t i = 0; i < sizeof(dmi) / sizeof(dmi[0]) && !rc; i++) {
		char p[128];
		snprintf(p, sizeof(p), "/sys/class/dmi/id/%s", dmi[i][0]);
		char *v = slurp(c, p, 1024); /* serial and uuid are readable by root only */
		if (v) {
			trim(v);
			rc = js(b, dmi[i][1], v);
			free(v);
		}
	}
	if (rc)
		return rc;
	char *j = take(b);
	return j ? snap_add(s, C_HARDWARE, "hardware", j, NULL) : YW_ENOMEM;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_ifaces(struct inv_col *c, struct snap *s)
{
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) != 0)
		return 0; /* no interfaces to report */
	struct yw_strbuf *b = &c->b;
	int rc = 0;
	char done[64][IF_NAMESIZE];
	size_t ndone = 0;
	for (struct ifaddrs *i = ifa; i && !rc && ndone < 64; i = i->ifa_next) {
		bool seen = false;
		for (size_t k = 0; k < ndone && !seen; k++)
			seen = !strcmp(done[k], i->ifa_name);
		if (seen)
			continue;
		snprintf(done[ndone++], IF_NAMESIZE, "%s", i->ifa_name);
		char *ips[64];
		size_t nip = 0;
		for (struct ifaddrs *a = i; a && nip < 64; a = a->ifa_next) {
			if (strcmp(a->ifa_name, i->ifa_name) || !a->ifa_addr)
				continue;
			char t[INET6_ADDRSTRLEN] = "";
			int fam = a->ifa_addr->sa_family;
			if (fam == AF_INET)
				inet_ntop(fam,
				          &((struct sockaddr_in *)(void *)a->ifa_addr)->sin_addr, t,
				          sizeof(t));
			else if (fam == AF_INET6)
				inet_ntop(fam,
				          &((struct sockaddr_in6 *)(void *)a->ifa_addr)->sin6_addr,
				          t, sizeof(t));
			if (t[0] && (ips[nip] = strdup(t)))
				nip++;
		}
		qsort(ips, nip, sizeof(char *), cmp_cstr);
		char p[128];
		rc = js(b, "interface.name", i->ifa_name);
		snprintf(p, sizeof(p), "/sys/class/net/%s/address", i->ifa_name);
		char *mac = slurp(c, p, 128);
		if (mac) {
			trim(mac);
			if (!rc && strcmp(mac, "00:00:00:00:00:00") != 0)
				rc = js(b, "interface.mac", mac);
			free(mac);
		}
		snprintf(p, sizeof(p), "/sys/class/net/%s/operstate", i->ifa_name);
		char *st = slurp(c, p, 128);
		if (st) {
			trim(st);
			if (!rc)
				rc = js(b, "interface.state", st);
			free(st);
		}
		if (!rc && nip) {
			rc = yw_strbuf_puts(b, ",\"interface.ip\":[");
			for (size_t k = 0; k < nip && !rc; k++) {
				if (k)
					rc = yw_strbuf_putc(b, ',');
				if (!rc)
					rc = yw_strbuf_json_str(b, ips[k], strlen(ips[k]));
			}
			if (!rc)
				rc = yw_strbuf_putc(b, ']');
		}
		for (size_t k = 0; k < nip; k++)
			free(ips[k]);
		if (!rc) {
			char *j = take(b);
			rc = j ? snap_add(s, C_IFACE, i->ifa_name, j, NULL) : YW_ENOMEM;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

struct pkg_ud {
	struct inv_col *c;
	struct snap *s;
	const char *type;
};

static int pkg_cb(void *ud, const char *name, const char *version, const char *arch)
{
	struct pkg_ud *u = ud;
	struct yw_strbuf *b = &u->c->b;
	int rc = js(b, "package.name", name);
	if (!rc)
		rc = js(b, "package.version", version);
	if (!rc)
		rc = js(b, "package.architecture", arch);
	if (!rc)
		rc = js(b, "package.type", u->type);
	if (rc)
		return rc;
	char key[600];
	snprintf(key, sizeof(key), "%s:%s:%s", u->type, name, arch);
	char *j = take(b);
	return j ? snap_add(u->s, C_PKG, key, j, NULL) : YW_ENOMEM;
}

static int collect_rpm(struct inv_col *c, struct snap *s, struct pkg_ud *u)
{
	if (access("/usr/bin/rpm", X_OK) != 0 && access("/bin/rpm", X_OK) != 0)
		return 0;
	char rootopt[PATH_MAX + 8];
	snprintf(rootopt, sizeof(rootopt), "--root=%s", c->root[0] ? c->root : "/");
	char *argv[] = {
	    "rpm", rootopt, "-qa", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n", NULL};
	struct yw_strbuf out;
	yw_strbuf_init(&out, YW_INV_RPM_MAX_OUTPUT + 1);
	int st;
	int rc =
	    yw_sca_run(argv, YW_INV_RPM_TIMEOUT_MS, YW_INV_RPM_MAX_OUTPUT, false, 0, 0, &out, &st);
	if (rc || st != 0) {
		snprintf(s->note, sizeof(s->note), "rpm packages skipped: rpm -qa %s",
		         rc       ? "could not run"
		         : st < 0 ? "timed out"
		                  : "failed");
		yw_strbuf_free(&out);
		return 0;
	}
	u->type = "rpm";
	rc = 0;
	for (char *p = out.data, *save = NULL, *ln; p && !rc && (ln = strtok_r(p, "\n", &save));
	     p = NULL) {
		char *t1 = strchr(ln, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			continue;
		*t1 = *t2 = 0;
		rc = pkg_cb(u, ln, t1 + 1, t2 + 1);
	}
	yw_strbuf_free(&out);
	return rc;
}

static int collect_pkgs(struct inv_col *c, struct snap *s)
{
	struct pkg_ud u = {c, s, "deb"};
	int rc = yw_sca_dpkg_each(c->root, pkg_cb, &u);
	if (rc == YW_ENOENT || rc == YW_ELIMIT) {
		if (rc == YW_ELIMIT)
			s->truncated[C_PKG] = true;
		rc = 0;
	}
	if (!rc && c->rpm)
		rc = collect_rpm(c, s, &u);
	return rc;
}

/* /etc/passwd and /etc/group: colon-separated, one account a line. */
static int collect_accounts(struct inv_col *c, struct snap *s, bool users)
{
	char *buf = slurp(c, users ? "/etc/passwd" : "/etc/group", YW_SCA_MAX_FILE);
	if (!buf)
		return 0;
	struct yw_strbuf *b = &c->b;
	int rc = 0;
	for (char *p = buf, *save = NULL, *ln; !rc && (ln = strtok_r(p, "\n", &save)); p = NULL) {
		char *f[7] = {0};
		size_t nf = 0;
		for (char *q = ln; nf < 7; nf++) {
			f[nf] = q;
			char *col = strchr(q, ':');
			if (!col) {
				nf++;
				break;
			}
			*col = 0;
			q = col + 1;
		}
		if (ln[0] == '#' || nf < (users ? 7u : 4u))
			continue;
		rc = js(b, users ? "user.name" : "group.name", f[0]);
		if (!rc)
			rc = ji(b, users ? "user.id" : "group.id", atoll(f[2]));
		if (users) {
			if (!rc)
				rc = ji(b, "user.group.id", atoll(f[3]));
			if (!rc)
				rc = js(b, "user.full_name", f[4]);
			if (!rc)
				rc = js(b, "yiwang.user.home", f[5]);
			if (!rc)
				rc = js(b, "yiwang.user.shell", f[6]);
		} else if (!rc && f[3][0]) {
			rc = yw_strbuf_puts(b, ",\"yiwang.group.members\":[");
			bool first = true;
			for (char *m = f[3], *sv = NULL, *tok; !rc && (tok = strtok_r(m, ",", &sv));
			     m = NULL) {
				if (!first)
					rc = yw_strbuf_putc(b, ',');
				first = false;
				if (!rc)
					rc = yw_strbuf_json_str(b, tok, strlen(tok));
			}
			if (!rc)
				rc = yw_strbuf_putc(b, ']');
		}
		if (!rc) {
			char *j = take(b);
			rc = j ? snap_add(s, users ? C_USER : C_GROUP, f[0], j, NULL) : YW_ENOMEM;
		}
	}
	free(buf);
	return rc;
}

struct sock {
	char proto[8], ip[INET6_ADDRSTRLEN];
	unsigned port, uid;
	unsigned long inode;
	bool v6;
	long pid;
	char comm[64];
};

/* One /proc/net/{tcp,udp}[6] table: listening TCP sockets and unconnected bound UDP ones. */
static size_t read_socks(struct inv_col *c, const char *proto, bool v6, struct sock *v, size_t n,
                         size_t max)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/net/%s%s", proto, v6 ? "6" : "");
	char *buf = slurp(c, p, YW_SCA_MAX_FILE);
	if (!buf)
		return n;
	bool tcp = proto[0] == 't';
	char *save = NULL, *ln = strtok_r(buf, "\n", &save); /* header */
	while (ln && n < max && (ln = strtok_r(NULL, "\n", &save)) != NULL) {
		char la[40], ra[40];
		unsigned lp, rp, st, uid;
		unsigned long inode;
		if (sscanf(ln,
		           " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*s %*s %*s %u %*u %lu",
		           la, &lp, ra, &rp, &st, &uid, &inode) != 7)
			continue;
		if (tcp ? st != 0x0A : (st != 0x07 || rp != 0))
			continue;
		struct sock *k = &v[n];
		memset(k, 0, sizeof(*k));
		unsigned char addr[16];
		size_t words = v6 ? 4 : 1;
		if (strlen(la) != words * 8)
			continue;
		for (size_t w = 0; w < words; w++) {
			char h[9];
			memcpy(h, la + w * 8, 8);
			h[8] = 0;
			uint32_t x = (uint32_t)strtoul(h, NULL, 16);
			memcpy(addr + w * 4, &x, 4); /* the kernel prints each word in host order */
		}
		inet_ntop(v6 ? AF_INET6 : AF_INET, addr, k->ip, sizeof(k->ip));
		snprintf(k->proto, sizeof(k->proto), "%s", proto);
		k->port = lp;
		k->uid = uid;
		k->inode = inode;
		k->v6 = v6;
		k->pid = -1;
		n++;
	}
	free(buf);
	return n;
}

static int sock_cmp(const void *a, const void *b)
{
	const struct sock *x = a, *y = b;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Owner processes: the /proc/<pid>/fd links that name the sockets' inodes (v sorted by
 * inode). */
static void find_owners(struct inv_col *c, struct sock *v, size_t n)
{
	char p[PATH_MAX];
	if (!n || rpath(c, "/proc", p, sizeof(p)))
		return;
	DIR *d = opendir(p);
	if (!d)
		return;
	size_t left = n, procs = 0;
	struct dirent *de;
	while (left && procs++ < YW_INV_MAX_PROCS && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char fdp[PATH_MAX];
		if (snprintf(fdp, sizeof(fdp), "%s/%s/fd", p, de->d_name) >= (int)sizeof(fdp))
			continue;
		DIR *fd = opendir(fdp);
		if (!fd)
			continue;
		struct dirent *fe;
		while (left && (fe = readdir(fd)) != NULL) {
			char lp[PATH_MAX], t[64];
			if (fe->d_name[0] == '.' ||
			    snprintf(lp, sizeof(lp), "%s/%s", fdp, fe->d_name) >= (int)sizeof(lp))
				continue;
			ssize_t r = readlink(lp, t, sizeof(t) - 1);
			unsigned long ino;
			if (r <= 8 || (t[r] = 0, sscanf(t, "socket:[%lu]", &ino)) != 1)
				continue;
			struct sock key = {.inode = ino};
			struct sock *hit = bsearch(&key, v, n, sizeof(*v), sock_cmp);
			size_t first = hit ? (size_t)(hit - v) : n;
			while (first && first < n && v[first - 1].inode == ino)
				first--;
			for (size_t i = first; i < n && v[i].inode == ino; i++) {
				if (v[i].pid >= 0 || !ino)
					continue;
				v[i].pid = atol(de->d_name);
				char cp[300];
				snprintf(cp, sizeof(cp), "/proc/%s/comm", de->d_name);
				char *comm = slurp(c, cp, 64);
				if (comm) {
					trim(comm);
					snprintf(v[i].comm, sizeof(v[i].comm), "%s", comm);
					free(comm);
				}
				left--;
			}
		}
		closedir(fd);
	}
	closedir(d);
}

static int collect_ports(struct inv_col *c, struct snap *s)
{
	size_t max = 65536, n = 0;
	struct sock *v = calloc(max, sizeof(*v));
	if (!v)
		return YW_ENOMEM;
	n = read_socks(c, "tcp", false, v, n, max);
	n = read_socks(c, "tcp", true, v, n, max);
	n = read_socks(c, "udp", false, v, n, max);
	n = read_socks(c, "udp", true, v, n, max);
	if (n)
		qsort(v, n, sizeof(*v), sock_cmp);
	find_owners(c, v, n);
	struct yw_strbuf *b = &c->b;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct sock *k = &v[i];
		char key[128], cmp[256];
		snprintf(key, sizeof(key), "%s/%s/%u", k->proto, k->ip, k->port);
		/* SO_REUSEPORT groups (one socket per worker) share a key: collect() keeps one */
		rc = js(b, "network.transport", k->proto);
		if (!rc)
			rc = js(b, "network.type", k->v6 ? "ipv6" : "ipv4");
		if (!rc)
			rc = js(b, "server.ip", k->ip);
		if (!rc)
			rc = ji(b, "server.port", k->port);
		if (!rc)
			rc = ji(b, "user.id", k->uid);
		if (!rc && k->pid >= 0)
			rc = ji(b, "process.pid", k->pid);
		if (!rc)
			rc = js(b, "process.name", k->comm);
		/* a restart of the same program (new pid) is no change */
		snprintf(cmp, sizeof(cmp), "%s|%u|%s", key, k->uid, k->comm);
		if (!rc) {
			char *j = take(b);
			rc = j ? snap_add(s, C_PORT, key, j, cmp) : YW_ENOMEM;
		}
	}
	free(v);
	return rc;
}

struct svc {
	char name[256];
	bool enabled, running, sysv;
};

static struct svc *svc_get(struct svc **v, size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	if (*n >= 4096)
		return NULL;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct svc *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	struct svc *e = &(*v)[(*n)++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	return e;
}

static void glob_names(const char *pat, size_t strip, struct svc **v, size_t *n, size_t *cap,
                       int what)
{
	glob_t g;
	if (glob(pat, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *base = strrchr(g.gl_pathv[i], '/');
		base = base ? base + 1 : g.gl_pathv[i];
		if (strlen(base) <= strip)
			continue;
		char nm[256];
		/* a SysV script "ssh" is the unit "ssh.service" to systemd */
		snprintf(nm, sizeof(nm), "%s%s", base + strip, what == 1 ? ".service" : "");
		if (what == 2) {
			/* a cgroup is running only with processes in it */
			char pp[PATH_MAX];
			snprintf(pp, sizeof(pp), "%s/cgroup.procs", g.gl_pathv[i]);
			FILE *f = fopen(pp, "re");
			int ch = f ? fgetc(f) : EOF;
			if (f)
				fclose(f);
			if (ch == EOF)
				continue;
		}
		struct svc *e = svc_get(v, n, cap, nm);
		if (!e)
			break;
		if (what == 0)
			e->enabled = true;
		else if (what == 1)
			e->enabled = e->sysv = true;
		else
			e->running = true;
	}
	globfree(&g);
}

static int collect_services(struct inv_col *c, struct snap *s)
{
	struct svc *v = NULL;
	size_t n = 0, cap = 0;
	char pat[PATH_MAX + 64], p[PATH_MAX];
	snprintf(pat, sizeof(pat), "%s/etc/systemd/system/*.wants/*.service", c->root);
	glob_names(pat, 0, &v, &n, &cap, 0);
	struct stat st;
	bool systemd = !rpath(c, "/run/systemd/system", p, sizeof(p)) && stat(p, &st) == 0;
	if (!systemd) {
		/* SysV start links ("S01ssh" -> "ssh") of the multi-user runlevels */
		snprintf(pat, sizeof(pat), "%s/etc/rc[2345].d/S[0-9][0-9]*", c->root);
		glob_names(pat, 3, &v, &n, &cap, 1);
	} else {
		snprintf(pat, sizeof(pat), "%s/sys/fs/cgroup/system.slice/*.service", c->root);
		glob_names(pat, 0, &v, &n, &cap, 2);
		snprintf(pat, sizeof(pat), "%s/sys/fs/cgroup/systemd/system.slice/*.service",
		         c->root);
		glob_names(pat, 0, &v, &n, &cap, 2);
	}
	struct yw_strbuf *b = &c->b;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = js(b, "service.name", v[i].name);
		if (!rc)
			rc = js(b, "service.type", v[i].sysv ? "sysv" : "systemd");
		if (!rc)
			rc = yw_strbuf_printf(b, ",\"yiwang.service.enabled\":%s",
			                      v[i].enabled ? "true" : "false");
		if (!rc && systemd)
			rc = js(b, "service.state", v[i].running ? "running" : "stopped");
		if (!rc) {
			char *j = take(b);
			rc = j ? snap_add(s, C_SERVICE, v[i].name, j, NULL) : YW_ENOMEM;
		}
	}
	free(v);
	return rc;
}

static int collect(struct inv_col *c, struct snap *s)
{
	yw_strbuf_reset(&c->b);
	int rc = collect_os(c, s);
	if (!rc)
		rc = collect_hardware(c, s);
	if (!rc)
		rc = collect_ifaces(c, s);
	if (!rc)
		rc = collect_pkgs(c, s);
	if (!rc)
		rc = collect_accounts(c, s, true);
	if (!rc)
		rc = collect_accounts(c, s, false);
	if (!rc)
		rc = collect_ports(c, s);
	if (!rc)
		rc = collect_services(c, s);
	if (!rc && s->n)
		qsort(s->v, s->n, sizeof(*s->v), item_cmp);
	/* a key seen twice (a duplicate passwd line) keeps the first */
	size_t w = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (w && !item_cmp(&s->v[w - 1], &s->v[i])) {
			free(s->v[i].key);
			free(s->v[i].json);
			continue;
		}
		s->v[w++] = s->v[i];
	}
	s->n = w;
	return rc;
}

/* ---- events ---- */

static int queue_event(struct inv_col *c, int cat, const char *kind, const char *type,
                       const char *action, const char *json, const char *prev)
{
	struct yw_strbuf *b = &c->b;
	yw_strbuf_reset(b);
	time_t sec = (time_t)(c->q_ts / 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	int rc = yw_strbuf_printf(
	    b,
	    "{\"@timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"event.kind\":\"%s\","
	    "\"event.category\":\"%s\",\"event.type\":\"%s\",\"event.action\":\"%s\","
	    "\"event.module\":\"inventory\",\"event.dataset\":\"inventory.%s\","
	    "\"logsource.product\":\"linux\",\"logsource.service\":\"inventory\","
	    "\"yiwang.inventory.snapshot_id\":%lld%s%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(c->q_ts / 1000000 % 1000), kind, cat >= 0 ? cat_ecs[cat] : "host", type, action,
	    cat >= 0 ? cat_name[cat] : "summary", (long long)c->q_ts, json && *json ? "," : "",
	    json ? json : "");
	if (!rc && prev)
		rc = yw_strbuf_printf(b, ",\"yiwang.inventory.previous\":{%s}", prev);
	if (!rc)
		rc = yw_strbuf_putc(b, '}');
	if (rc)
		return rc;
	char **nq = realloc(c->q, (c->nq + 1) * sizeof(*nq));
	if (!nq)
		return YW_ENOMEM;
	c->q = nq;
	if (!(c->q[c->nq] = take(b)))
		return YW_ENOMEM;
	c->nq++;
	return 0;
}

static const char *svc_action(const char *json, const char *old, int change)
{
	bool en = json && strstr(json, "\"yiwang.service.enabled\":true");
	bool was = old && strstr(old, "\"yiwang.service.enabled\":true");
	bool run = json && strstr(json, "\"service.state\":\"running\"");
	bool ran = old && strstr(old, "\"service.state\":\"running\"");
	if (change == 0)
		return en ? "service_enabled" : "service_started";
	if (change == 1)
		return was ? "service_disabled" : "service_stopped";
	if (en != was)
		return en ? "service_enabled" : "service_disabled";
	if (run != ran)
		return run ? "service_started" : "service_stopped";
	return "service_changed";
}

static int queue_change(struct inv_col *c, const struct item *now, const struct item *old)
{
	int cat = now ? now->cat : old->cat;
	int change = !old ? 0 : !now ? 1 : 2;
	static const char *const type_pkg[] = {"installation", "deletion", "change"};
	static const char *const type_any[] = {"creation", "deletion", "change"};
	const char *type = cat == C_PKG ? type_pkg[change] : type_any[change];
	if (cat <= C_HARDWARE)
		type = "change";
	const char *a = cat == C_SERVICE
	                    ? svc_action(now ? now->json : NULL, old ? old->json : NULL, change)
	                    : act[cat][change];
	return queue_event(c, cat, "event", type, a, now ? now->json : old->json,
	                   change == 2 ? old->json : NULL);
}

/* The full snapshot: every item, then a summary with the counts. */
static int queue_full(struct inv_col *c, const struct snap *s)
{
	int rc = 0;
	for (size_t i = 0; i < s->n && !rc; i++)
		rc = queue_event(c, s->v[i].cat, "state", "info", "inventory_snapshot",
		                 s->v[i].json, NULL);
	if (rc)
		return rc;
	struct yw_strbuf sum;
	yw_strbuf_init(&sum, 0);
	for (int k = 0; k < NCAT && !rc; k++) {
		rc = yw_strbuf_printf(&sum, "%s\"yiwang.inventory.count.%s\":%zu", k ? "," : "",
		                      cat_name[k], s->count[k]);
		if (!rc && s->truncated[k])
			rc = yw_strbuf_printf(&sum, ",\"yiwang.inventory.truncated.%s\":true",
			                      cat_name[k]);
	}
	if (!rc && s->note[0]) {
		rc = yw_strbuf_puts(&sum, ",\"yiwang.inventory.note\":");
		if (!rc)
			rc = yw_strbuf_json_str(&sum, s->note, strlen(s->note));
	}
	if (!rc)
		rc = queue_event(c, -1, "state", "info", "inventory_snapshot_end", sum.data, NULL);
	yw_strbuf_free(&sum);
	return rc;
}

static int queue_diff(struct inv_col *c, const struct snap *old, const struct snap *now)
{
	size_t i = 0, j = 0;
	int rc = 0;
	while (!rc && (i < old->n || j < now->n)) {
		int d = i == old->n ? 1 : j == now->n ? -1 : item_cmp(&old->v[i], &now->v[j]);
		if (d < 0) {
			rc = queue_change(c, NULL, &old->v[i++]);
		} else if (d > 0) {
			rc = queue_change(c, &now->v[j++], NULL);
		} else {
			if (old->v[i].sig != now->v[j].sig)
				rc = queue_change(c, &now->v[j], &old->v[i]);
			i++;
			j++;
		}
	}
	return rc;
}

static void clear_queue(struct inv_col *c)
{
	for (size_t i = 0; i < c->nq; i++)
		free(c->q[i]);
	free(c->q);
	c->q = NULL;
	c->nq = c->qi = 0;
}

/* ---- state file: header, then "cat\tkey\tsig\tjson" lines ---- */

static int load_state(struct inv_col *c)
{
	FILE *f = fopen(c->state_path, "re");
	if (!f)
		return errno == ENOENT ? 0 : YW_EIO;
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t n;
	int rc = 0;
	bool ok = (n = getline(&line, &cap, f)) > 0 && !strcmp(line, STATE_HEADER);
	while (ok && !rc && (n = getline(&line, &cap, f)) > 0) {
		total += (size_t)n;
		if (total > YW_INV_MAX_STATE) {
			ok = false;
			break;
		}
		if (line[n - 1] != '\n') {
			ok = false; /* torn last line */
			break;
		}
		line[n - 1] = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
		int cat = atoi(line);
		if (!t3 || cat < 0 || cat >= NCAT) {
			ok = false;
			break;
		}
		*t1 = *t2 = *t3 = 0;
		char *j = strdup(t3 + 1);
		if (!j) {
			rc = YW_ENOMEM;
			break;
		}
		size_t before = c->prev.n;
		if ((rc = snap_add(&c->prev, cat, t1 + 1, j, NULL)) == 0 && c->prev.n > before)
			c->prev.v[c->prev.n - 1].sig = strtoull(t2 + 1, NULL, 16);
	}
	free(line);
	fclose(f);
	if (!ok || rc) {
		snap_free(&c->prev); /* damaged: start over with a full snapshot */
		return rc;
	}
	if (c->prev.n)
		qsort(c->prev.v, c->prev.n, sizeof(*c->prev.v), item_cmp);
	c->have_prev = true;
	return 0;
}

static int inv_commit(void *state)
{
	struct inv_col *c = state;
	if (!c->state_path || !c->dirty)
		return 0;
	struct yw_strbuf b;
	yw_strbuf_init(&b, 0);
	int rc = yw_strbuf_puts(&b, STATE_HEADER);
	for (size_t i = 0; !rc && i < c->prev.n; i++)
		rc = yw_strbuf_printf(&b, "%d\t%s\t%016llx\t%s\n", c->prev.v[i].cat,
		                      c->prev.v[i].key, (unsigned long long)c->prev.v[i].sig,
		                      c->prev.v[i].json);
	rc = rc ? rc : yw_write_file_atomic(c->state_path, b.data, b.len, 0600);
	yw_strbuf_free(&b);
	if (rc)
		return rc;
	c->dirty = false;
	return 0;
}

/* ---- collector ---- */

static int inv_poll(void *state, yw_record_sink sink, void *ud)
{
	struct inv_col *c = state;
	int count = 0, rc;
	if (!c->nq) {
		int64_t now = mono_ms();
		if (now < c->next_ms)
			return 0;
		c->next_ms = now + c->interval_ms;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		c->q_ts = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		snap_free(&c->next);
		if ((rc = collect(c, &c->next)) != 0)
			goto fail;
		rc = c->have_prev && !c->full_on_start ? queue_diff(c, &c->prev, &c->next)
		                                       : queue_full(c, &c->next);
		c->full_on_start = false;
		if (rc)
			goto fail;
		if (!c->nq) {
			/* nothing changed; the snapshot is the same */
			snap_free(&c->next);
			return 0;
		}
	}
	for (; c->qi < c->nq; c->qi++) {
		struct yw_record rec = {.ts_ns = c->q_ts,
		                        .kind = YW_REC_EVENT,
		                        .source = "inventory",
		                        .source_len = 9,
		                        .data = c->q[c->qi],
		                        .len = (uint32_t)strlen(c->q[c->qi])};
		rc = sink(ud, &rec, NULL, 0);
		if (rc == YW_SINK_FULL)
			return count; /* the rest next poll */
		if (rc)
			return rc;
		count++;
	}
	/* all sent: the new snapshot is what the server now knows */
	clear_queue(c);
	snap_free(&c->prev);
	c->prev = c->next;
	memset(&c->next, 0, sizeof(c->next));
	c->have_prev = true;
	c->dirty = true;
	return count;
fail:
	clear_queue(c);
	snap_free(&c->next);
	return rc;
}

static int inv_fd(void *state)
{
	return -1;
}

static void inv_exit(void *state)
{
	struct inv_col *c = state;
	if (!c)
		return;
	clear_queue(c);
	snap_free(&c->prev);
	snap_free(&c->next);
	yw_strbuf_free(&c->b);
	free(c->state_path);
	free(c);
}

static int inv_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                    size_t nopts, void **state)
{
	*state = NULL;
	struct inv_col *c = calloc(1, sizeof(*c));
	if (!c)
		return YW_ENOMEM;
	yw_strbuf_init(&c->b, YW_MAX_RECORD_DATA);
	c->interval_ms = DEFAULT_INTERVAL_MS;
	c->rpm = true;
	int rc = YW_EINVAL;
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		if (!k || !v)
			goto fail;
		if (!strcmp(k, "interval_ms")) {
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			if (errno || end == v || *end || x < 100 || x > 7LL * 86400000)
				goto fail;
			c->interval_ms = x;
		} else if (!strcmp(k, "root")) {
			size_t n = strlen(v);
			while (n && v[n - 1] == '/')
				n--;
			if (n >= sizeof(c->root) - 256)
				goto fail;
			memcpy(c->root, v, n);
			c->root[n] = 0;
		} else if (!strcmp(k, "full_on_start")) {
			if (strcmp(v, "true") && strcmp(v, "false"))
				goto fail;
			c->full_on_start = !strcmp(v, "true");
		} else if (!strcmp(k, "rpm")) {
			if (strcmp(v, "auto") && strcmp(v, "off"))
				goto fail;
			c->rpm = !strcmp(v, "auto");
		} else {
			goto fail;
		}
	}
	if (env && env->state_path) {
		rc = YW_ENOMEM;
		if (!(c->state_path = strdup(env->state_path)))
			goto fail;
		if ((rc = load_state(c)) != 0)
			goto fail;
	}
	*state = c;
	return 0;
fail:
	inv_exit(c);
	return rc;
}

const struct yw_collector_ops yw_collector_inventory = {
    .name = "inventory",
    .init = inv_init,
    .fd = inv_fd,
    .poll = inv_poll,
    .commit = inv_commit,
    .exit = inv_exit,
};
