/* FIM who-data cache (whodata.h). Audit records of one event share a serial and are written
 * together: SYSCALL, CWD, PATH..., PROCTITLE, then EOE. An event is assembled until its
 * PROCTITLE or EOE (or until it is evicted), then each PATH naming a changed file (nametype
 * NORMAL, CREATE, DELETE) becomes one entry: a FIFO in arrival order for expiry and bounds,
 * chained in a hash table by path for lookup. */
#include "whodata.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/error.h"
#include "yw_limits.h"

#define NBUCKETS   4096 /* power of two, about YW_WHODATA_MAX_ENTRIES */
#define PATH_MAX_  4096
#define FIELD_MAX  4096 /* a decoded field value (exe, cwd, name) */
#define USER_NAME  64
#define AUID_UNSET 4294967295LL
/* An event still open this long after its time lost its last record (auditd writes an
 * event's records together): finish it with what it has. */
#define OPEN_MAX_NS (1000 * 1000000LL)

struct ent {
	struct ent *hnext;
	uint64_t hv;
	size_t bytes;
	struct yw_whodata_rec r;
	char data[]; /* path, exe, comm, cmdline: each NUL-terminated */
};

struct open_path {
	char *name;
	int nt;
};

struct open_ev {
	bool used, have_sys, success;
	uint64_t serial, order;
	int64_t time_ns;
	int64_t pid, ppid, uid, auid;
	char *exe, *comm, *cwd, *cmdline;
	struct open_path paths[YW_WHODATA_MAX_PATHS];
	size_t npaths;
};

struct user {
	int64_t uid; /* -1: slot unused */
	char name[USER_NAME];
};

struct yw_whodata {
	struct ent *buckets[NBUCKETS];
	struct ent **fifo; /* ring of YW_WHODATA_MAX_ENTRIES, oldest at head */
	size_t head, len, bytes;
	struct open_ev open[YW_WHODATA_MAX_OPEN];
	uint64_t order;
	int64_t live_ns; /* arrival of the last yw_fim-keyed record; 0 = never */
	struct user users[YW_WHODATA_USER_CACHE];
	size_t user_next;
	char tmp[FIELD_MAX + 1];
};

static uint64_t hash_path(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

int yw_whodata_new(struct yw_whodata **out)
{
	*out = NULL;
	struct yw_whodata *wd = calloc(1, sizeof(*wd));
	if (!wd || !(wd->fifo = calloc(YW_WHODATA_MAX_ENTRIES, sizeof(*wd->fifo)))) {
		free(wd);
		return YW_ENOMEM;
	}
	for (size_t i = 0; i < YW_WHODATA_USER_CACHE; i++)
		wd->users[i].uid = -1;
	*out = wd;
	return 0;
}

static void open_clear(struct open_ev *o)
{
	free(o->exe);
	free(o->comm);
	free(o->cwd);
	free(o->cmdline);
	for (size_t i = 0; i < o->npaths; i++)
		free(o->paths[i].name);
	memset(o, 0, sizeof(*o));
}

void yw_whodata_free(struct yw_whodata *wd)
{
	if (!wd)
		return;
	for (size_t i = 0; i < wd->len; i++)
		free(wd->fifo[(wd->head + i) % YW_WHODATA_MAX_ENTRIES]);
	for (size_t i = 0; i < YW_WHODATA_MAX_OPEN; i++)
		open_clear(&wd->open[i]);
	free(wd->fifo);
	free(wd);
}

/* ---- the cache ---- */

static void drop_oldest(struct yw_whodata *wd)
{
	struct ent *e = wd->fifo[wd->head];
	struct ent **pp = &wd->buckets[e->hv & (NBUCKETS - 1)];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	wd->bytes -= e->bytes;
	wd->head = (wd->head + 1) % YW_WHODATA_MAX_ENTRIES;
	wd->len--;
	free(e);
}

static void expire(struct yw_whodata *wd, int64_t now_ns)
{
	int64_t oldest = now_ns - YW_WHODATA_TTL_MS * 1000000LL;
	while (wd->len && wd->fifo[wd->head]->r.time_ns < oldest)
		drop_oldest(wd);
}

static char *put(char **at, const char *s)
{
	char *p = *at;
	size_t n = strlen(s) + 1;
	memcpy(p, s, n);
	*at += n;
	return p;
}

static int insert(struct yw_whodata *wd, const struct open_ev *o, const char *path, int nt)
{
	const char *exe = o->exe ? o->exe : "", *comm = o->comm ? o->comm : "";
	const char *cmd = o->cmdline ? o->cmdline : "";
	size_t plen = strlen(path);
	size_t bytes = sizeof(struct ent) + plen + strlen(exe) + strlen(comm) + strlen(cmd) + 4;
	while (wd->len &&
	       (wd->len >= YW_WHODATA_MAX_ENTRIES || wd->bytes + bytes > YW_WHODATA_MAX_BYTES))
		drop_oldest(wd);
	if (bytes > YW_WHODATA_MAX_BYTES)
		return 0;
	struct ent *e = malloc(bytes);
	if (!e)
		return YW_ENOMEM;
	char *at = e->data;
	e->bytes = bytes;
	e->hv = hash_path(path, plen);
	e->r = (struct yw_whodata_rec){.time_ns = o->time_ns,
	                               .serial = o->serial,
	                               .nametype = nt,
	                               .pid = o->pid,
	                               .ppid = o->ppid,
	                               .uid = o->uid,
	                               .auid = o->auid};
	e->r.path = put(&at, path);
	e->r.exe = put(&at, exe);
	e->r.comm = put(&at, comm);
	e->r.cmdline = put(&at, cmd);
	struct ent **b = &wd->buckets[e->hv & (NBUCKETS - 1)];
	e->hnext = *b;
	*b = e;
	wd->fifo[(wd->head + wd->len++) % YW_WHODATA_MAX_ENTRIES] = e;
	wd->bytes += bytes;
	return 0;
}

/* Joins a relative name to cwd and removes ".", ".." and empty components into out
 * (PATH_MAX_ + 1 bytes). Returns the length, or 0 when it does not fit or is not absolute. */
static size_t normalise(char *out, const char *cwd, const char *name)
{
	size_t n = 0;
	const char *parts[2] = {name[0] == '/' ? "" : (cwd ? cwd : ""), name};
	if (name[0] != '/' && (!cwd || cwd[0] != '/'))
		return 0;
	for (int k = 0; k < 2; k++) {
		for (const char *s = parts[k]; *s;) {
			while (*s == '/')
				s++;
			const char *c = s;
			while (*s && *s != '/')
				s++;
			size_t cl = (size_t)(s - c);
			if (cl == 0 || (cl == 1 && c[0] == '.'))
				continue;
			if (cl == 2 && c[0] == '.' && c[1] == '.') {
				while (n > 0 && out[n - 1] != '/')
					n--;
				if (n > 0)
					n--; /* the slash before the dropped component */
				continue;
			}
			if (n + 1 + cl > PATH_MAX_)
				return 0;
			out[n++] = '/';
			memcpy(out + n, c, cl);
			n += cl;
		}
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = 0;
	return n;
}

/* Turns a finished event into entries and frees it. */
static int finish(struct yw_whodata *wd, struct open_ev *o)
{
	int rc = 0;
	if (o->have_sys && o->success) {
		char path[PATH_MAX_ + 1];
		for (size_t i = 0; i < o->npaths && !rc; i++)
			if (normalise(path, o->cwd, o->paths[i].name))
				rc = insert(wd, o, path, o->paths[i].nt);
	}
	open_clear(o);
	return rc;
}

/* ---- parsing one record ---- */

/* The raw value of key in body (up to the enriched part after 0x1d), or NULL. */
static const char *field(const char *body, const char *end, const char *key, size_t *vlen,
                         bool *quoted)
{
	size_t kl = strlen(key);
	for (const char *p = body; p + kl < end; p++) {
		if ((p != body && p[-1] != ' ') || memcmp(p, key, kl) != 0 || p[kl] != '=')
			continue;
		const char *v = p + kl + 1, *e = v;
		*quoted = v < end && *v == '"';
		if (*quoted) {
			e = ++v;
			while (e < end && *e != '"')
				e++;
		} else {
			while (e < end && *e != ' ')
				e++;
		}
		*vlen = (size_t)(e - v);
		return v;
	}
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A string value decoded into wd->tmp: quoted as is, unquoted hex (auditd's encoding of
 * values with spaces or control bytes) decoded; NUL bytes (PROCTITLE's argument separators)
 * become spaces. "(null)" and "(none)" are no value. Returns NULL when absent. */
static const char *text(struct yw_whodata *wd, const char *body, const char *end, const char *key,
                        size_t max)
{
	size_t n;
	bool q;
	const char *v = field(body, end, key, &n, &q);
	if (!v ||
	    (!q && (n == 0 || (n == 6 && (!memcmp(v, "(null)", 6) || !memcmp(v, "(none)", 6))))))
		return NULL;
	bool hex = !q && n % 2 == 0;
	for (size_t i = 0; hex && i < n; i++)
		hex = hexval(v[i]) >= 0;
	size_t o = 0;
	if (max > FIELD_MAX)
		max = FIELD_MAX;
	for (size_t i = 0; i < n && o < max; i += hex ? 2 : 1) {
		char c = hex ? (char)(hexval(v[i]) << 4 | hexval(v[i + 1])) : v[i];
		wd->tmp[o++] = c ? c : ' ';
	}
	while (o > 0 && wd->tmp[o - 1] == ' ')
		o--;
	wd->tmp[o] = 0;
	return wd->tmp;
}

static int64_t number(const char *body, const char *end, const char *key)
{
	size_t n;
	bool q;
	const char *v = field(body, end, key, &n, &q);
	if (!v || n == 0 || n > 20)
		return -1;
	int64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (INT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static int dup_text(struct yw_whodata *wd, char **dst, const char *body, const char *end,
                    const char *key, size_t max)
{
	const char *t = text(wd, body, end, key, max);
	if (!t)
		return 0;
	free(*dst);
	return (*dst = strdup(t)) ? 0 : YW_ENOMEM;
}

/* "type=T msg=audit(S.MS:SERIAL):" -> type, time and serial; the body follows. */
static const char *header(const char *line, const char *end, const char **type, size_t *tlen,
                          int64_t *ns, uint64_t *serial)
{
	if (end - line < 5 || memcmp(line, "type=", 5) != 0)
		return NULL;
	*type = line + 5;
	const char *p = *type;
	while (p < end && *p != ' ')
		p++;
	*tlen = (size_t)(p - *type);
	static const char m[] = " msg=audit(";
	if ((size_t)(end - p) < sizeof(m) - 1 || memcmp(p, m, sizeof(m) - 1) != 0)
		return NULL;
	p += sizeof(m) - 1;
	int64_t sec = 0, ms = 0;
	int digits = 0;
	for (; p < end && *p >= '0' && *p <= '9' && digits < 12; p++, digits++)
		sec = sec * 10 + (*p - '0');
	if (!digits || p >= end || *p++ != '.')
		return NULL;
	for (digits = 0; p < end && *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
		ms = ms * 10 + (*p - '0');
	if (digits != 3 || p >= end || *p++ != ':')
		return NULL;
	uint64_t s = 0;
	for (digits = 0; p < end && *p >= '0' && *p <= '9' && digits < 19; p++, digits++)
		s = s * 10 + (uint64_t)(*p - '0');
	if (!digits || end - p < 2 || p[0] != ')' || p[1] != ':')
		return NULL;
	*ns = sec * 1000000000LL + ms * 1000000LL;
	*serial = s;
	return p + 2;
}

static bool type_is(const char *t, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(t, want, n) == 0;
}

/* The open event for serial, a new one (the oldest is finished to make room), or NULL. */
static struct open_ev *open_get(struct yw_whodata *wd, uint64_t serial, int64_t ns, bool create,
                                int *rc)
{
	struct open_ev *free_slot = NULL, *oldest = NULL;
	for (size_t i = 0; i < YW_WHODATA_MAX_OPEN; i++) {
		struct open_ev *o = &wd->open[i];
		if (o->used && o->serial == serial && o->time_ns == ns)
			return o;
		if (!o->used && !free_slot)
			free_slot = o;
		if (o->used && (!oldest || o->order < oldest->order))
			oldest = o;
	}
	if (!create)
		return NULL;
	if (!free_slot) {
		*rc = finish(wd, oldest);
		free_slot = oldest;
	}
	free_slot->used = true;
	free_slot->serial = serial;
	free_slot->time_ns = ns;
	free_slot->order = ++wd->order;
	return free_slot;
}

int yw_whodata_feed(struct yw_whodata *wd, const char *line, size_t len, int64_t now_ns)
{
	const char *end = line + len, *type;
	size_t tlen;
	int64_t ns;
	uint64_t serial;
	const char *body = header(line, end, &type, &tlen, &ns, &serial);
	if (!body)
		return 0;
	const char *gs = memchr(body, 0x1d, (size_t)(end - body)); /* enriched: names follow */
	if (gs)
		end = gs;
	int rc = 0;
	expire(wd, now_ns);
	for (size_t i = 0; i < YW_WHODATA_MAX_OPEN && !rc; i++)
		if (wd->open[i].used && wd->open[i].time_ns < now_ns - OPEN_MAX_NS)
			rc = finish(wd, &wd->open[i]);
	bool sys = type_is(type, tlen, "SYSCALL"), cwd = type_is(type, tlen, "CWD");
	bool path = type_is(type, tlen, "PATH"), title = type_is(type, tlen, "PROCTITLE");
	bool eoe = type_is(type, tlen, "EOE");
	if (!sys && !cwd && !path && !title && !eoe)
		return rc;
	struct open_ev *o = open_get(wd, serial, ns, !eoe, &rc);
	if (!o)
		return rc;
	if (sys) {
		o->have_sys = true;
		size_t n;
		bool q;
		const char *s = field(body, end, "success", &n, &q);
		o->success = !s || !(n == 2 && !memcmp(s, "no", 2));
		o->pid = number(body, end, "pid");
		o->ppid = number(body, end, "ppid");
		o->uid = number(body, end, "uid");
		o->auid = number(body, end, "auid");
		if (o->auid == AUID_UNSET)
			o->auid = -1;
		const char *key = text(wd, body, end, "key", FIELD_MAX);
		if (key && strcmp(key, "yw_fim") == 0)
			wd->live_ns = now_ns;
		int r = dup_text(wd, &o->exe, body, end, "exe", FIELD_MAX);
		if (!r)
			r = dup_text(wd, &o->comm, body, end, "comm", FIELD_MAX);
		if (r && !rc)
			rc = r;
	} else if (cwd) {
		int r = dup_text(wd, &o->cwd, body, end, "cwd", PATH_MAX_);
		if (r && !rc)
			rc = r;
	} else if (path) {
		size_t n;
		bool q;
		const char *t = field(body, end, "nametype", &n, &q);
		int nt = !t                                    ? 0
		         : (n == 6 && !memcmp(t, "NORMAL", 6)) ? YW_WHODATA_NORMAL
		         : (n == 6 && !memcmp(t, "CREATE", 6)) ? YW_WHODATA_CREATE
		         : (n == 6 && !memcmp(t, "DELETE", 6)) ? YW_WHODATA_DELETE
		                                               : 0;
		const char *name = nt ? text(wd, body, end, "name", PATH_MAX_) : NULL;
		if (name && o->npaths < YW_WHODATA_MAX_PATHS) {
			if (!(o->paths[o->npaths].name = strdup(name))) {
				if (!rc)
					rc = YW_ENOMEM;
			} else {
				o->paths[o->npaths++].nt = nt;
			}
		}
	} else if (title) {
		int r = dup_text(wd, &o->cmdline, body, end, "proctitle", YW_WHODATA_MAX_CMDLINE);
		if (r && !rc)
			rc = r;
	}
	/* PROCTITLE is the last record auditd writes for a syscall event; EOE closes any. */
	if (title || eoe) {
		int r = finish(wd, o);
		if (r && !rc)
			rc = r;
	}
	return rc;
}

const struct yw_whodata_rec *yw_whodata_find(struct yw_whodata *wd, const char *path, size_t len,
                                             int64_t ref_ns, int64_t now_ns)
{
	expire(wd, now_ns);
	uint64_t hv = hash_path(path, len);
	int64_t win = YW_WHODATA_WINDOW_MS * 1000000LL;
	const struct ent *best = NULL;
	for (const struct ent *e = wd->buckets[hv & (NBUCKETS - 1)]; e; e = e->hnext) {
		if (e->hv != hv || strlen(e->r.path) != len || memcmp(e->r.path, path, len) != 0)
			continue;
		int64_t d = e->r.time_ns - ref_ns;
		if (d < -win || d > win)
			continue;
		if (!best || e->r.time_ns > best->r.time_ns ||
		    (e->r.time_ns == best->r.time_ns && e->r.serial > best->r.serial))
			best = e;
	}
	return best ? &best->r : NULL;
}

bool yw_whodata_live(const struct yw_whodata *wd, int64_t now_ns)
{
	return wd->live_ns && now_ns - wd->live_ns <= YW_WHODATA_LIVE_MS * 1000000LL;
}

size_t yw_whodata_count(struct yw_whodata *wd, int64_t now_ns, size_t *bytes)
{
	expire(wd, now_ns);
	if (bytes)
		*bytes = wd->bytes;
	return wd->len;
}

/* ---- output ---- */

/* The user name of uid, cached; "" when it has none. */
static const char *user_name(struct yw_whodata *wd, int64_t uid)
{
	for (size_t i = 0; i < YW_WHODATA_USER_CACHE; i++)
		if (wd->users[i].uid == uid)
			return wd->users[i].name;
	struct user *u = &wd->users[wd->user_next];
	wd->user_next = (wd->user_next + 1) % YW_WHODATA_USER_CACHE;
	u->uid = uid;
	u->name[0] = 0;
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    strlen(res->pw_name) < USER_NAME)
		strcpy(u->name, res->pw_name);
	return u->name;
}

static int put_user(struct yw_whodata *wd, struct yw_strbuf *b, const char *pre, int64_t uid)
{
	if (uid < 0)
		return 0;
	int rc = yw_strbuf_printf(b, ",\"%sid\":\"%lld\"", pre, (long long)uid);
	const char *name = user_name(wd, uid);
	if (!rc && *name) {
		rc = yw_strbuf_printf(b, ",\"%sname\":", pre);
		if (!rc)
			rc = yw_strbuf_json_str(b, name, strlen(name));
	}
	return rc;
}

static int put_text(struct yw_strbuf *b, const char *key, const char *v)
{
	if (!*v)
		return 0;
	int rc = yw_strbuf_printf(b, ",\"%s\":", key);
	return rc ? rc : yw_strbuf_json_str(b, v, strlen(v));
}

int yw_whodata_json(struct yw_whodata *wd, const struct yw_whodata_rec *r, struct yw_strbuf *b)
{
	int rc = put_user(wd, b, "user.", r->uid);
	if (!rc)
		rc = put_user(wd, b, "user.audit.", r->auid);
	if (!rc && r->pid >= 0)
		rc = yw_strbuf_printf(b, ",\"process.pid\":%lld", (long long)r->pid);
	if (!rc && r->ppid >= 0)
		rc = yw_strbuf_printf(b, ",\"process.ppid\":%lld", (long long)r->ppid);
	if (!rc)
		rc = put_text(b, "process.executable", r->exe);
	const char *name = strrchr(r->exe, '/');
	if (!rc)
		rc = put_text(b, "process.name", name ? name + 1 : r->comm);
	if (!rc)
		rc = put_text(b, "process.command_line", r->cmdline);
	if (!rc)
		rc = yw_strbuf_printf(
		    b, ",\"yiwang.fim.audit_serial\":%llu,\"yiwang.fim.whodata\":true",
		    (unsigned long long)r->serial);
	return rc;
}
