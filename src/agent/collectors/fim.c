/* File integrity monitoring: configured paths are walked (full scans, incremental across polls
 * under an I/O and CPU budget) and watched with inotify; every file's metadata, attributes and
 * content hash are compared with a baseline (fim_baseline.c) and each difference becomes a
 * YW_REC_EVENT in Sigma's linux file_event log source. Symlinks are never followed. See
 * docs/agent.md, "File integrity". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <linux/fs.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/fim.h"
#include "agent/whodata.h"
#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/log.h"
#include "yiwang/spool.h"
#include "yiwang/strbuf.h"

#define WATCH_MASK                                                                                 \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |          \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW |               \
	 IN_EXCL_UNLINK)
/* chattr flags worth an alert; the others (extents, inline data, ...) are the filesystem's */
#define ATTR_MASK      (FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL | FS_SYNC_FL)
#define RACE_RETRIES   3
#define SLOTS_PER_STEP 65536 /* table slots one step of a child sweep looks at */

enum { CH_CONTENT = 1, CH_PERM = 2, CH_OWNER = 4, CH_ATTR = 8 };
enum { IT_STAT, IT_HASH, IT_EMIT, IT_KIDS };
enum { STEP_OK = 0, STEP_FULL = YW_SINK_FULL, STEP_BUDGET = 2, STEP_DONE = 3 };

struct item {
	int stage;
	bool realtime; /* hash even if the metadata did not change */
	bool exists;
	bool descend; /* a directory to walk once the item is done */
	int retries;
	int64_t detected_ns; /* realtime job: when inotify told (real time), for who-data */
	uint64_t dev;
	struct yw_fim_meta m;
	int fd;
	uint64_t off, want;
	EVP_MD_CTX *md;
	size_t kid_i, kid_cap;
	size_t len, tlen;
	char path[YW_FIM_MAX_PATH + 1];
	char target[YW_FIM_MAX_PATH + 1];
};

struct frame {
	DIR *d;
	uint16_t len; /* the directory's path is walker.dir[0..len) */
	uint64_t dev;
};

/* A walk: a full scan over every root (then a sweep for entries it did not see), or a
 * realtime job (one path, and the subtree below it when it is a new directory). */
struct walker {
	bool busy, full, sweeping;
	size_t root, sweep_i, sweep_cap; /* sweep_cap: table size the index refers to */
	uint64_t job_parent_dev;
	struct frame st[YW_FIM_MAX_DEPTH];
	size_t depth;
	bool have_item;
	struct item it;
	char dir[YW_FIM_MAX_PATH + 1];
};

struct watch {
	int wd;
	bool tree; /* a directory under a root; else the parent of a root file (root names only) */
	char *path;
};

struct bucket {
	int64_t rate; /* units per second; 0 = unlimited */
	int64_t tokens, cap, last_ns;
};

struct fim_col {
	char **roots;
	size_t nroots;
	char **ignores;
	size_t nignores;
	bool realtime, one_fs;
	int64_t scan_interval_ms, debounce_ms;
	uint64_t max_file_size;
	uint32_t files_per_poll;
	size_t max_watches;
	uint8_t algo;
	const char *algo_name; /* "sha256", "sm3" */
	EVP_MD *md;

	struct yw_fimdb *db;
	struct yw_fimdb *pending; /* paths waiting out their debounce (mtime_ns = due time) */
	struct yw_fim_ent **pq;   /* their FIFO (due order) */
	size_t pq_head, pq_len;

	bool have_baseline;
	uint32_t gen;
	int64_t next_scan_ns, scan_start_ns;
	bool rescan;
	struct walker full, rt;

	int ifd;
	struct watch *watches; /* sorted by wd */
	size_t nwatches, wcap;
	char *ibuf;

	struct bucket io, cpu;
	struct yw_fim_clock clk;
	struct yw_fim_stats stats, scan_stats0; /* scan_stats0: at the current scan's start */
	uint64_t scan_files, scan_bytes;
	struct yw_strbuf out;
	char *xbuf; /* xattr names, then one value */
	uint8_t *hbuf;
	int64_t poll_bytes_left;
	struct yw_whodata *wd; /* audit who-data (whodata.h), borrowed; NULL = none */
	int64_t whodata_wait_ms;
};

/* ---- clocks and budgets ---- */

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(struct fim_col *fc)
{
	return fc->clk.mono_ns ? fc->clk.mono_ns(fc->clk.ud) : clock_ns(CLOCK_MONOTONIC);
}

static int64_t cpu_ns(struct fim_col *fc)
{
	return fc->clk.cpu_ns ? fc->clk.cpu_ns(fc->clk.ud) : clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void bucket_init(struct bucket *b, int64_t rate, int64_t cap, int64_t now)
{
	b->rate = rate;
	b->cap = cap;
	b->tokens = cap;
	b->last_ns = now;
}

static void bucket_refill(struct bucket *b, int64_t now)
{
	if (!b->rate || now <= b->last_ns)
		return;
	/* in two steps so rate * elapsed cannot overflow for long idle periods */
	int64_t dt = now - b->last_ns;
	int64_t add = dt >= 1000000000 ? b->cap : (int64_t)((__int128)b->rate * dt / 1000000000);
	b->tokens = b->tokens + add > b->cap ? b->cap : b->tokens + add;
	b->last_ns = now;
}

/* Bytes the current poll may still hash. */
static int64_t io_allowed(struct fim_col *fc)
{
	int64_t a = fc->poll_bytes_left;
	if (fc->io.rate && fc->io.tokens < a)
		a = fc->io.tokens;
	return a > 0 ? a : 0;
}

static void io_spend(struct fim_col *fc, int64_t n)
{
	fc->poll_bytes_left -= n;
	if (fc->io.rate)
		fc->io.tokens -= n;
	fc->stats.bytes_hashed += (uint64_t)n;
	fc->scan_bytes += (uint64_t)n;
}

/* ---- paths, ignore globs, names ---- */

static bool ignored(const struct fim_col *fc, const char *path, size_t len)
{
	const char *base = path + len;
	while (base > path && base[-1] != '/')
		base--;
	for (size_t i = 0; i < fc->nignores; i++) {
		const char *pat = fc->ignores[i];
		if (fnmatch(pat, strchr(pat, '/') ? path : base, 0) == 0)
			return true;
	}
	return false;
}

static bool is_root(const struct fim_col *fc, const char *path)
{
	for (size_t i = 0; i < fc->nroots; i++)
		if (strcmp(fc->roots[i], path) == 0)
			return true;
	return false;
}

/* Appends "/name" to dir (length dlen) into out. Returns the length or 0 when too long. */
static size_t join(char *out, const char *dir, size_t dlen, const char *name)
{
	size_t nl = strlen(name);
	bool slash = !(dlen == 1 && dir[0] == '/');
	size_t len = dlen + slash + nl;
	if (len > YW_FIM_MAX_PATH)
		return 0;
	if (out != dir)
		memcpy(out, dir, dlen);
	if (slash)
		out[dlen] = '/';
	memcpy(out + dlen + slash, name, nl + 1);
	return len;
}

/* ---- inotify watches ---- */

static size_t watch_find(const struct fim_col *fc, int wd)
{
	size_t lo = 0, hi = fc->nwatches;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (fc->watches[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void watch_drop(struct fim_col *fc, int wd)
{
	size_t i = watch_find(fc, wd);
	if (i >= fc->nwatches || fc->watches[i].wd != wd)
		return;
	free(fc->watches[i].path);
	memmove(&fc->watches[i], &fc->watches[i + 1],
	        (fc->nwatches - i - 1) * sizeof(*fc->watches));
	fc->nwatches--;
}

static void watch_add(struct fim_col *fc, const char *path, bool tree)
{
	if (fc->ifd < 0)
		return;
	if (fc->nwatches >= fc->max_watches) {
		fc->stats.watch_limit++;
		return;
	}
	int wd = inotify_add_watch(fc->ifd, path, WATCH_MASK);
	if (wd < 0) {
		fc->stats.watch_limit += errno == ENOSPC;
		return;
	}
	size_t i = watch_find(fc, wd);
	if (i < fc->nwatches && fc->watches[i].wd == wd) {
		/* the same directory (moved, or the parent of a root file as well) */
		struct watch *w = &fc->watches[i];
		if (strcmp(w->path, path) != 0) {
			char *p = strdup(path);
			if (!p)
				return;
			free(w->path);
			w->path = p;
		}
		w->tree |= tree;
		return;
	}
	if (fc->nwatches == fc->wcap) {
		size_t cap = fc->wcap ? fc->wcap * 2 : 64;
		struct watch *nw = realloc(fc->watches, cap * sizeof(*nw));
		if (!nw) {
			inotify_rm_watch(fc->ifd, wd);
			return;
		}
		fc->watches = nw;
		fc->wcap = cap;
	}
	char *p = strdup(path);
	if (!p) {
		inotify_rm_watch(fc->ifd, wd);
		return;
	}
	memmove(&fc->watches[i + 1], &fc->watches[i], (fc->nwatches - i) * sizeof(*fc->watches));
	fc->watches[i] = (struct watch){.wd = wd, .tree = tree, .path = p};
	fc->nwatches++;
}

/* Queues path for a check after the debounce; a path already queued keeps its place. The
 * pending entry's ctime_ns holds when the change was seen (real time; who-data matching) and
 * size is 1 once it waited for its audit record. */
static void pending_add(struct fim_col *fc, const char *path, size_t len, int64_t now)
{
	if (yw_fimdb_get(fc->pending, path, len))
		return;
	if (fc->pq_len >= YW_FIM_MAX_PENDING) {
		fc->stats.overflows++;
		fc->rescan = true;
		return;
	}
	struct yw_fim_meta m = {.mtime_ns = now + fc->debounce_ms * 1000000,
	                        .ctime_ns = clock_ns(CLOCK_REALTIME)};
	if (yw_fimdb_put(fc->pending, path, len, &m, NULL, 0, 0) != 0)
		return;
	fc->pq[(fc->pq_head + fc->pq_len++) % YW_FIM_MAX_PENDING] =
	    yw_fimdb_get(fc->pending, path, len);
}

static void drain_inotify(struct fim_col *fc, int64_t now)
{
	char path[YW_FIM_MAX_PATH + 1];
	for (int reads = 0; fc->ifd >= 0 && reads < 16; reads++) {
		ssize_t n = read(fc->ifd, fc->ibuf, YW_FIM_INOTIFY_BUF);
		if (n <= 0)
			return;
		for (char *p = fc->ibuf; p < fc->ibuf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				fc->stats.overflows++;
				fc->rescan = true;
				continue;
			}
			size_t wi = watch_find(fc, ev->wd);
			if (wi >= fc->nwatches || fc->watches[wi].wd != ev->wd)
				continue;
			const struct watch *w = &fc->watches[wi];
			if (ev->mask & IN_IGNORED) {
				watch_drop(fc, ev->wd);
				continue;
			}
			if (!w->tree && !ev->len)
				continue;
			size_t len = strlen(w->path);
			if (ev->len)
				len = join(path, w->path, len, ev->name);
			else
				memcpy(path, w->path, len + 1);
			if (!len || (!w->tree && !is_root(fc, path)) || ignored(fc, path, len))
				continue;
			if (ev->mask & IN_MOVE_SELF)
				inotify_rm_watch(fc->ifd, ev->wd); /* its path is stale now */
			pending_add(fc, path, len, now);
		}
	}
}

/* ---- examining one path ---- */

static uint32_t xattr_crc(struct fim_col *fc, const char *path)
{
	ssize_t n = llistxattr(path, fc->xbuf, YW_FIM_MAX_XATTR);
	if (n <= 0)
		return 0;
	char *val = fc->xbuf + YW_FIM_MAX_XATTR;
	uint32_t crc = 1; /* nonzero even for one empty attribute */
	for (char *name = fc->xbuf; name < fc->xbuf + n; name += strlen(name) + 1) {
		crc = yw_crc32c(crc, name, strlen(name) + 1);
		ssize_t vl = lgetxattr(path, name, val, YW_FIM_MAX_XATTR);
		if (vl > 0)
			crc = yw_crc32c(crc, val, (size_t)vl);
	}
	return crc ? crc : 1;
}

static uint32_t fs_flags(int fd)
{
	int flags = 0;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0)
		return 0;
	return (uint32_t)flags & ATTR_MASK;
}

static void meta_from_stat(struct yw_fim_meta *m, const struct stat *st)
{
	m->size = (uint64_t)st->st_size;
	m->ino = (uint64_t)st->st_ino;
	m->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	m->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	m->mode = st->st_mode;
	m->uid = st->st_uid;
	m->gid = st->st_gid;
}

static void item_start(struct item *it, const char *path, size_t len, bool realtime)
{
	it->stage = IT_STAT;
	it->realtime = realtime;
	it->exists = it->descend = false;
	it->retries = 0;
	it->fd = -1;
	it->kid_i = it->kid_cap = 0;
	it->tlen = 0;
	if (it->path != path)
		memcpy(it->path, path, len + 1);
	it->len = len;
}

static void item_close(struct item *it)
{
	if (it->fd >= 0)
		close(it->fd);
	it->fd = -1;
}

/* lstat and everything but the content hash. Returns false when the path must be skipped
 * (an error other than "gone"); the item then leaves the baseline as it was. */
static bool item_stat(struct fim_col *fc, struct item *it, const struct yw_fim_ent *old)
{
	struct stat st;
	fc->stats.files++;
	fc->scan_files++;
	memset(&it->m, 0, sizeof(it->m));
	if (lstat(it->path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			it->exists = false;
			it->stage = IT_EMIT;
			return true;
		}
		fc->stats.stat_errors++;
		return false;
	}
	it->exists = true;
	it->dev = (uint64_t)st.st_dev;
	meta_from_stat(&it->m, &st);
	it->m.xattr = xattr_crc(fc, it->path);
	it->stage = IT_EMIT;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(it->path, it->target, YW_FIM_MAX_PATH);
		it->tlen = n > 0 ? (size_t)n : 0;
		it->target[it->tlen] = 0;
		return true;
	}
	if (S_ISDIR(st.st_mode)) {
		int fd = open(it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			it->m.attrs = fs_flags(fd);
			close(fd);
		}
		return true;
	}
	if (!S_ISREG(st.st_mode))
		return true; /* FIFOs, sockets, devices: never opened */
	if (it->m.size > fc->max_file_size) {
		it->m.hstate = YW_FIM_H_TOO_LARGE;
		fc->stats.too_large++;
	}
	/* O_NONBLOCK: a FIFO swapped in after the lstat must not block the open */
	int fd = open(it->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(it->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			fc->stats.vanished++;
			it->exists = false;
		} else if (errno == ELOOP || errno == ENXIO) {
			it->stage = IT_STAT; /* replaced by a symlink or a FIFO: look again */
		} else {
			it->m.hstate = YW_FIM_H_UNREADABLE;
			fc->stats.unreadable++;
		}
		return true;
	}
	struct stat fst;
	if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino ||
	    fst.st_dev != st.st_dev) {
		close(fd);
		it->stage = IT_STAT;
		return true;
	}
	meta_from_stat(&it->m, &fst);
	it->m.attrs = fs_flags(fd);
	if (it->m.hstate == YW_FIM_H_TOO_LARGE) {
		close(fd);
		return true;
	}
	if (!it->realtime && old && old->m.hstate == YW_FIM_H_OK && old->m.size == it->m.size &&
	    old->m.mtime_ns == it->m.mtime_ns && old->m.ctime_ns == it->m.ctime_ns &&
	    old->m.ino == it->m.ino && (old->m.mode & S_IFMT) == S_IFREG) {
		/* unchanged since it was hashed: writing content updates ctime, and only a clock
		 * change can set ctime back */
		close(fd);
		it->m.hstate = YW_FIM_H_OK;
		memcpy(it->m.hash, old->m.hash, YW_FIM_HASH_LEN);
		return true;
	}
	if (!EVP_DigestInit_ex(it->md, fc->md, NULL)) {
		close(fd);
		return false;
	}
	it->fd = fd;
	it->off = 0;
	it->want = it->m.size;
	it->stage = IT_HASH;
	return true;
}

/* Hashes within the poll's byte budget. STEP_OK when done, STEP_BUDGET to continue later. */
static int item_hash(struct fim_col *fc, struct item *it)
{
	while (it->off < it->want) {
		int64_t allow = io_allowed(fc);
		if (allow <= 0)
			return STEP_BUDGET;
		uint64_t n = it->want - it->off;
		if (n > YW_FIM_HASH_CHUNK)
			n = YW_FIM_HASH_CHUNK;
		if (n > (uint64_t)allow)
			n = (uint64_t)allow;
		ssize_t r = read(it->fd, fc->hbuf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fc->stats.unreadable++;
			it->m.hstate = YW_FIM_H_UNREADABLE;
			item_close(it);
			it->stage = IT_EMIT;
			return STEP_OK;
		}
		if (r == 0)
			break; /* truncated while we read: hash what was there */
		EVP_DigestUpdate(it->md, fc->hbuf, (size_t)r);
		io_spend(fc, r);
		it->off += (uint64_t)r;
	}
	unsigned int dl = 0;
	EVP_DigestFinal_ex(it->md, it->m.hash, &dl);
	it->m.hstate = YW_FIM_H_OK;
	item_close(it);
	it->stage = IT_EMIT;
	return STEP_OK;
}

/* ---- events ---- */

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	case S_IFBLK:
		return "block_device";
	case S_IFCHR:
		return "char_device";
	}
	return "unknown";
}

static int put_time(struct yw_strbuf *b, const char *key, int64_t ns)
{
	time_t s = (time_t)(ns / 1000000000);
	int64_t frac = ns % 1000000000;
	if (frac < 0) {
		s--;
		frac += 1000000000;
	}
	struct tm tm;
	char t[40];
	gmtime_r(&s, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	return yw_strbuf_printf(b, ",\"%s\":\"%s.%03dZ\"", key, t, (int)(frac / 1000000));
}

static int put_str(struct yw_strbuf *b, const char *key, const char *s, size_t n)
{
	int rc = yw_strbuf_printf(b, ",\"%s\":", key);
	return rc ? rc : yw_strbuf_json_str(b, s, n);
}

static int put_attrs(struct yw_strbuf *b, const char *key, uint32_t a)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{FS_IMMUTABLE_FL, "immutable"},
	             {FS_APPEND_FL, "append_only"},
	             {FS_NODUMP_FL, "nodump"},
	             {FS_NOATIME_FL, "noatime"},
	             {FS_SYNC_FL, "sync"}};
	int rc = yw_strbuf_printf(b, ",\"%s\":[", key);
	const char *sep = "";
	for (size_t i = 0; !rc && i < sizeof(names) / sizeof(names[0]); i++) {
		if (a & names[i].bit) {
			rc = yw_strbuf_printf(b, "%s\"%s\"", sep, names[i].name);
			sep = ",";
		}
	}
	return rc ? rc : yw_strbuf_putc(b, ']');
}

static void hex(char *out, const uint8_t *h)
{
	static const char d[] = "0123456789abcdef";
	for (int i = 0; i < YW_FIM_HASH_LEN; i++) {
		out[2 * i] = d[h[i] >> 4];
		out[2 * i + 1] = d[h[i] & 15];
	}
	out[2 * YW_FIM_HASH_LEN] = 0;
}

/* The file.* fields (prefix "file.") or the before values ("yiwang.fim.before."). */
static int put_meta(struct fim_col *fc, const char *pre, const struct yw_fim_meta *m,
                    const char *target, size_t tlen)
{
	struct yw_strbuf *b = &fc->out;
	char key[64], hx[2 * YW_FIM_HASH_LEN + 1], name[4096];
	int rc = yw_strbuf_printf(b,
	                          ",\"%stype\":\"%s\",\"%ssize\":%llu,\"%smode\":\"%04o\","
	                          "\"%suid\":\"%u\",\"%sgid\":\"%u\",\"%sinode\":\"%llu\"",
	                          pre, type_name(m->mode), pre, (unsigned long long)m->size, pre,
	                          (unsigned)(m->mode & 07777), pre, m->uid, pre, m->gid, pre,
	                          (unsigned long long)m->ino);
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	if (!rc && getpwuid_r(m->uid, &pw, name, sizeof(name), &pwp) == 0 && pwp) {
		snprintf(key, sizeof(key), "%sowner", pre);
		rc = put_str(b, key, pw.pw_name, strlen(pw.pw_name));
	}
	if (!rc && getgrgid_r(m->gid, &gr, name, sizeof(name), &grp) == 0 && grp) {
		snprintf(key, sizeof(key), "%sgroup", pre);
		rc = put_str(b, key, gr.gr_name, strlen(gr.gr_name));
	}
	snprintf(key, sizeof(key), "%smtime", pre);
	if (!rc)
		rc = put_time(b, key, m->mtime_ns);
	snprintf(key, sizeof(key), "%sctime", pre);
	if (!rc)
		rc = put_time(b, key, m->ctime_ns);
	if (!rc && m->hstate == YW_FIM_H_OK) {
		hex(hx, m->hash);
		rc = yw_strbuf_printf(b, ",\"%shash.%s\":\"%s\"", pre, fc->algo_name, hx);
	}
	if (!rc && m->attrs) {
		snprintf(key, sizeof(key), "%sattributes", pre);
		rc = put_attrs(b, key, m->attrs);
	}
	if (!rc && m->xattr)
		rc = yw_strbuf_printf(b, ",\"%sxattr_crc\":\"%08x\"", pre, m->xattr);
	if (!rc && S_ISLNK(m->mode)) {
		snprintf(key, sizeof(key), "%starget_path", pre);
		rc = put_str(b, key, target, tlen);
	}
	return rc;
}

static unsigned changes(const struct yw_fim_ent *old, const struct yw_fim_meta *m,
                        const char *target, size_t tlen)
{
	const struct yw_fim_meta *o = &old->m;
	unsigned ch = 0;
	if ((o->mode & S_IFMT) != (m->mode & S_IFMT))
		ch |= CH_CONTENT;
	else if (S_ISLNK(m->mode))
		ch |= (old->target_len != tlen ||
		       memcmp(old->data + old->path_len + 1, target, tlen) != 0)
		          ? CH_CONTENT
		          : 0;
	else if (S_ISREG(m->mode)) {
		if (o->hstate == YW_FIM_H_OK && m->hstate == YW_FIM_H_OK)
			ch |= memcmp(o->hash, m->hash, YW_FIM_HASH_LEN) ? CH_CONTENT : 0;
		else /* no hash on one side: size and mtime are all we have */
			ch |= (o->size != m->size || o->mtime_ns != m->mtime_ns) ? CH_CONTENT : 0;
	}
	if ((o->mode & 07777) != (m->mode & 07777))
		ch |= CH_PERM;
	if (o->uid != m->uid || o->gid != m->gid)
		ch |= CH_OWNER;
	if (o->attrs != m->attrs || o->xattr != m->xattr)
		ch |= CH_ATTR;
	return ch;
}

static int emit(struct fim_col *fc, const char *action, const char *type, const char *path,
                size_t len, const struct yw_fim_meta *m, const char *target, size_t tlen,
                const struct yw_fim_ent *before, unsigned ch, bool realtime, yw_record_sink sink,
                void *ud)
{
	struct yw_strbuf *b = &fc->out;
	yw_strbuf_reset(b);
	int64_t now = clock_ns(CLOCK_REALTIME);
	const char *base = path + len;
	while (base > path && base[-1] != '/')
		base--;
	size_t dlen = base > path + 1 ? (size_t)(base - path - 1) : (size_t)(base - path);
	int rc = yw_strbuf_printf(b,
	                          "{\"event.kind\":\"event\",\"event.module\":\"fim\","
	                          "\"event.category\":\"file\",\"event.type\":\"%s\","
	                          "\"event.action\":\"%s\"",
	                          type, action);
	if (!rc)
		rc = put_time(b, "@timestamp", now);
	char msg[YW_FIM_MAX_PATH + 64];
	int ml = snprintf(msg, sizeof(msg), "%s: %.*s", action, (int)len, path);
	if (!rc)
		rc = put_str(b, "message", msg,
		             (size_t)ml < sizeof(msg) ? (size_t)ml : sizeof(msg) - 1);
	if (!rc)
		rc = put_str(b, "file.path", path, len);
	if (!rc)
		rc = put_str(b, "file.name", base, len - (size_t)(base - path));
	if (!rc)
		rc = put_str(b, "file.directory", path, dlen);
	if (!rc)
		rc = put_meta(fc, "file.", m, target, tlen);
	if (!rc && m->hstate == YW_FIM_H_TOO_LARGE)
		rc = yw_strbuf_puts(b, ",\"yiwang.fim.hash_skipped\":\"too_large\"");
	if (!rc && m->hstate == YW_FIM_H_UNREADABLE)
		rc = yw_strbuf_puts(b, ",\"yiwang.fim.hash_skipped\":\"unreadable\"");
	if (!rc && before) {
		rc = yw_strbuf_puts(b, ",\"yiwang.fim.changed\":[");
		const char *sep = "";
		static const char *const chn[] = {"content", "permissions", "owner", "attributes"};
		for (int i = 0; !rc && i < 4; i++) {
			if (ch & (1u << i)) {
				rc = yw_strbuf_printf(b, "%s\"%s\"", sep, chn[i]);
				sep = ",";
			}
		}
		if (!rc)
			rc = yw_strbuf_putc(b, ']');
		if (!rc)
			rc = put_meta(fc, "yiwang.fim.before.", &before->m,
			              before->data + before->path_len + 1, before->target_len);
	}
	/* Realtime events come from the rt walker's item: who made the change, when audit saw it
	 * within the window of the inotify event. */
	const struct yw_whodata_rec *who =
	    realtime && fc->wd && !rc
	        ? yw_whodata_find(fc->wd, path, len, fc->rt.it.detected_ns, now)
	        : NULL;
	if (who)
		rc = yw_whodata_json(fc->wd, who, b);
	if (!rc)
		rc = yw_strbuf_printf(
		    b,
		    ",\"yiwang.fim.trigger\":\"%s\",\"logsource.product\":\"linux\","
		    "\"logsource.category\":\"file_event\"}",
		    realtime ? "realtime" : "scan");
	if (rc)
		return rc == YW_ELIMIT ? 0 : rc; /* cannot happen within YW_FIM_MAX_EVENT */
	struct yw_record rec = {.ts_ns = now,
	                        .kind = YW_REC_EVENT,
	                        .source = "fim",
	                        .source_len = 3,
	                        .data = b->data,
	                        .len = (uint32_t)b->len};
	rc = sink(ud, &rec, NULL, 0);
	if (rc == 0)
		fc->stats.events++;
	return rc;
}

static bool meta_same(const struct yw_fim_ent *old, const struct yw_fim_meta *m, const char *t,
                      size_t tlen)
{
	const struct yw_fim_meta *o = &old->m;
	return o->size == m->size && o->ino == m->ino && o->mtime_ns == m->mtime_ns &&
	       o->ctime_ns == m->ctime_ns && o->mode == m->mode && o->uid == m->uid &&
	       o->gid == m->gid && o->attrs == m->attrs && o->xattr == m->xattr &&
	       o->hstate == m->hstate && memcmp(o->hash, m->hash, YW_FIM_HASH_LEN) == 0 &&
	       old->target_len == tlen && memcmp(old->data + old->path_len + 1, t, tlen) == 0;
}

static int emit_deleted(struct fim_col *fc, const struct yw_fim_ent *e, bool realtime,
                        yw_record_sink sink, void *ud)
{
	return emit(fc, "file_deleted", "deletion", e->data, e->path_len, &e->m,
	            e->data + e->path_len + 1, e->target_len, NULL, 0, realtime, sink, ud);
}

static void baseline_put(struct fim_col *fc, const struct item *it)
{
	int rc = yw_fimdb_put(fc->db, it->path, it->len, &it->m, it->target, it->tlen, fc->gen);
	if (rc == YW_ELIMIT)
		fc->stats.baseline_full++;
}

/* Compares the item with the baseline, reports the difference and records the new state.
 * The baseline changes only once the sink took the event. */
static int item_emit(struct fim_col *fc, struct walker *w, struct item *it, yw_record_sink sink,
                     void *ud)
{
	struct yw_fim_ent *old = yw_fimdb_get(fc->db, it->path, it->len);
	bool quiet = !fc->have_baseline;
	int rc = 0;
	if (!it->exists) {
		if (!old)
			return STEP_DONE;
		bool was_dir = S_ISDIR(old->m.mode);
		if (!quiet && (rc = emit_deleted(fc, old, it->realtime, sink, ud)) != 0)
			return rc;
		yw_fimdb_del(fc->db, old);
		if (!was_dir || w->full) /* a full scan's sweep finds the children itself */
			return STEP_DONE;
		it->stage = IT_KIDS;
		it->kid_i = it->kid_cap = 0;
		return STEP_OK;
	}
	it->descend =
	    S_ISDIR(it->m.mode) && (w->full || w->depth > 0 || !old || !S_ISDIR(old->m.mode));
	if (!old) {
		if (!quiet &&
		    (rc = emit(fc, "file_added", "creation", it->path, it->len, &it->m, it->target,
		               it->tlen, NULL, 0, it->realtime, sink, ud)) != 0)
			return rc;
		baseline_put(fc, it);
		return STEP_DONE;
	}
	unsigned ch = changes(old, &it->m, it->target, it->tlen);
	bool kids = !w->full && S_ISDIR(old->m.mode) && !S_ISDIR(it->m.mode);
	if (ch && !quiet) {
		const char *action = (ch & CH_CONTENT) ? "file_modified"
		                     : (ch & CH_PERM)  ? "file_permissions_changed"
		                     : (ch & CH_OWNER) ? "file_owner_changed"
		                                       : "file_attributes_changed";
		rc = emit(fc, action, "change", it->path, it->len, &it->m, it->target, it->tlen,
		          old, ch, it->realtime, sink, ud);
		if (rc)
			return rc;
	}
	if (ch || !meta_same(old, &it->m, it->target, it->tlen))
		baseline_put(fc, it);
	else
		old->seen_gen = fc->gen;
	if (!kids)
		return STEP_DONE;
	it->stage = IT_KIDS; /* a directory replaced by a file: its children are gone */
	it->kid_i = it->kid_cap = 0;
	return STEP_OK;
}

/* Reports and removes the baseline entries below a directory that is gone (realtime). */
static int item_kids(struct fim_col *fc, struct item *it, yw_record_sink sink, void *ud)
{
	size_t slots = yw_fimdb_slots(fc->db);
	if (slots != it->kid_cap) {
		it->kid_cap = slots;
		it->kid_i = it->kid_cap = 0;
	}
	for (size_t n = 0; it->kid_i < slots && n < SLOTS_PER_STEP; n++) {
		struct yw_fim_ent *e = yw_fimdb_slot(fc->db, it->kid_i);
		if (!e || e->path_len <= it->len || memcmp(e->data, it->path, it->len) != 0 ||
		    e->data[it->len] != '/') {
			it->kid_i++;
			continue;
		}
		int rc = fc->have_baseline ? emit_deleted(fc, e, true, sink, ud) : 0;
		if (rc)
			return rc;
		yw_fimdb_del(fc->db, e); /* another entry may move into kid_i: look again */
		return STEP_OK;
	}
	return it->kid_i < slots ? STEP_OK : STEP_DONE;
}

static int item_run(struct fim_col *fc, struct walker *w, struct item *it, yw_record_sink sink,
                    void *ud)
{
	for (;;) {
		int rc;
		switch (it->stage) {
		case IT_STAT: {
			struct yw_fim_ent *old = yw_fimdb_get(fc->db, it->path, it->len);
			if (it->retries++ > RACE_RETRIES || !item_stat(fc, it, old)) {
				/* cannot tell: keep what the baseline has, and do not sweep it */
				if (old)
					old->seen_gen = fc->gen;
				item_close(it);
				return STEP_DONE;
			}
			break;
		}
		case IT_HASH:
			if ((rc = item_hash(fc, it)) != STEP_OK)
				return rc;
			break;
		case IT_EMIT:
			if ((rc = item_emit(fc, w, it, sink, ud)) != STEP_OK)
				return rc;
			break;
		default:
			return item_kids(fc, it, sink, ud);
		}
	}
}

/* ---- walking ---- */

static void walker_reset(struct walker *w)
{
	while (w->depth)
		closedir(w->st[--w->depth].d);
	item_close(&w->it);
	w->have_item = w->busy = w->full = false;
}

static void push_dir(struct fim_col *fc, struct walker *w, struct item *it)
{
	if (w->depth >= YW_FIM_MAX_DEPTH) {
		fc->stats.too_deep++;
		return;
	}
	uint64_t parent = w->depth  ? w->st[w->depth - 1].dev
	                  : w->full ? it->dev /* a root is walked whatever its filesystem */
	                            : w->job_parent_dev;
	if (fc->one_fs && it->dev != parent) {
		fc->stats.other_fs++;
		return;
	}
	int fd = open(it->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	DIR *d = NULL;
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == it->m.ino)
		d = fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		fc->stats.dir_errors++;
		return;
	}
	if (fc->realtime)
		watch_add(fc, it->path, true); /* before listing: nothing created after slips by */
	memcpy(w->dir, it->path, it->len + 1);
	w->st[w->depth++] = (struct frame){.d = d, .len = (uint16_t)it->len, .dev = it->dev};
}

static void put_count(struct yw_strbuf *b, const char *key, uint64_t now, uint64_t then)
{
	if (now != then)
		yw_strbuf_printf(b, ",\"yiwang.fim.%s\":%llu", key,
		                 (unsigned long long)(now - then));
}

/* The scan's summary event; the first one says the baseline now exists. */
static int finish_scan(struct fim_col *fc, struct walker *w, yw_record_sink sink, void *ud)
{
	const struct yw_fim_stats *s = &fc->stats, *z = &fc->scan_stats0;
	struct yw_strbuf *b = &fc->out;
	int64_t now = mono_ns(fc);
	const char *action = fc->have_baseline ? "fim_scan_completed" : "fim_baseline_created";
	yw_strbuf_reset(b);
	yw_strbuf_printf(b,
	                 "{\"event.kind\":\"event\",\"event.module\":\"fim\",\"event.category\":"
	                 "\"file\",\"event.type\":\"info\",\"event.action\":\"%s\"",
	                 action);
	put_time(b, "@timestamp", clock_ns(CLOCK_REALTIME));
	yw_strbuf_printf(b,
	                 ",\"message\":\"%s: %zu files\",\"yiwang.fim.files\":%zu,"
	                 "\"yiwang.fim.examined\":%llu,\"yiwang.fim.bytes_hashed\":%llu,"
	                 "\"yiwang.fim.duration_ms\":%lld,\"yiwang.fim.hash\":\"%s\"",
	                 action, yw_fimdb_count(fc->db), yw_fimdb_count(fc->db),
	                 (unsigned long long)fc->scan_files, (unsigned long long)fc->scan_bytes,
	                 (long long)((now - fc->scan_start_ns) / 1000000), fc->algo_name);
	put_count(b, "vanished", s->vanished, z->vanished);
	put_count(b, "unreadable", s->unreadable, z->unreadable);
	put_count(b, "too_large", s->too_large, z->too_large);
	put_count(b, "path_too_long", s->path_too_long, z->path_too_long);
	put_count(b, "too_deep", s->too_deep, z->too_deep);
	put_count(b, "other_fs", s->other_fs, z->other_fs);
	put_count(b, "dir_errors", s->dir_errors, z->dir_errors);
	put_count(b, "stat_errors", s->stat_errors, z->stat_errors);
	put_count(b, "watch_limit", s->watch_limit, z->watch_limit);
	put_count(b, "overflows", s->overflows, z->overflows);
	put_count(b, "baseline_full", s->baseline_full, z->baseline_full);
	int rc = yw_strbuf_puts(b, ",\"logsource.product\":\"linux\"}");
	if (rc)
		return rc;
	struct yw_record rec = {.ts_ns = clock_ns(CLOCK_REALTIME),
	                        .kind = YW_REC_EVENT,
	                        .source = "fim",
	                        .source_len = 3,
	                        .data = b->data,
	                        .len = (uint32_t)b->len};
	if ((rc = sink(ud, &rec, NULL, 0)) != 0)
		return rc;
	fc->stats.events++;
	if (!fc->have_baseline) {
		fc->have_baseline = true;
		yw_fimdb_journal(fc->db, true);
	}
	fc->stats.scans++;
	w->busy = w->full = false;
	fc->next_scan_ns =
	    fc->scan_interval_ms ? fc->scan_start_ns + fc->scan_interval_ms * 1000000 : INT64_MAX;
	if (fc->rescan) {
		fc->rescan = false;
		fc->next_scan_ns = now;
	}
	return STEP_DONE;
}

static int walker_step(struct fim_col *fc, struct walker *w, yw_record_sink sink, void *ud,
                       uint32_t *work)
{
	if (w->have_item) {
		int rc = item_run(fc, w, &w->it, sink, ud);
		if (rc != STEP_DONE)
			return rc;
		w->have_item = false;
		if (w->it.descend)
			push_dir(fc, w, &w->it);
		return STEP_OK;
	}
	if (w->depth) {
		struct frame *f = &w->st[w->depth - 1];
		errno = 0;
		struct dirent *de = readdir(f->d);
		if (!de) {
			fc->stats.dir_errors += errno != 0;
			closedir(f->d);
			if (--w->depth)
				w->dir[w->st[w->depth - 1].len] = 0;
			return STEP_OK;
		}
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			return STEP_OK;
		(*work)--;
		size_t len = join(w->it.path, w->dir, f->len, n);
		if (!len) {
			fc->stats.path_too_long++;
			return STEP_OK;
		}
		if (ignored(fc, w->it.path, len))
			return STEP_OK;
		item_start(&w->it, w->it.path, len, !w->full);
		w->have_item = true;
		return STEP_OK;
	}
	if (!w->full) {
		w->busy = false;
		return STEP_DONE;
	}
	if (w->root < fc->nroots) {
		const char *r = fc->roots[w->root++];
		(*work)--;
		item_start(&w->it, r, strlen(r), false);
		w->have_item = true;
		return STEP_OK;
	}
	/* entries the walk did not see: gone, or missed (a listing error); looking at each
	 * path again tells which */
	size_t slots = yw_fimdb_slots(fc->db);
	if (slots != w->sweep_cap) {
		/* the table grew and rehashed: start over (seen entries are skipped quickly) */
		w->sweep_cap = slots;
		w->sweep_i = 0;
	}
	for (; w->sweep_i < slots; w->sweep_i++) {
		const struct yw_fim_ent *e = yw_fimdb_slot(fc->db, w->sweep_i);
		if (!e || e->seen_gen == fc->gen)
			continue;
		(*work)--;
		item_start(&w->it, e->data, e->path_len, false);
		w->have_item = true;
		return STEP_OK;
	}
	return finish_scan(fc, w, sink, ud);
}

static void start_scan(struct fim_col *fc, int64_t now)
{
	struct walker *w = &fc->full;
	if (++fc->gen == 0)
		fc->gen = 1;
	w->busy = w->full = true;
	w->root = w->sweep_i = w->sweep_cap = 0;
	w->depth = 0;
	w->have_item = false;
	fc->scan_start_ns = now;
	fc->scan_files = fc->scan_bytes = 0;
	fc->scan_stats0 = fc->stats;
	if (!fc->realtime)
		return;
	/* each root's parent, for the root's own creation, deletion and renames */
	char parent[YW_FIM_MAX_PATH + 1];
	for (size_t i = 0; i < fc->nroots; i++) {
		const char *slash = strrchr(fc->roots[i], '/');
		if (!slash || !slash[1])
			continue; /* "/" has no parent */
		size_t pl = slash == fc->roots[i] ? 1 : (size_t)(slash - fc->roots[i]);
		memcpy(parent, fc->roots[i], pl);
		parent[pl] = 0;
		watch_add(fc, parent, false);
	}
}

/* With audit watch rules live, a change whose audit record has not arrived yet waits for it
 * once, up to whodata_wait_ms, at the back of the queue: the loop never sleeps. */
static bool wait_whodata(struct fim_col *fc, struct yw_fim_ent *p, int64_t now)
{
	if (!fc->wd || fc->whodata_wait_ms <= 0 || p->m.size)
		return false;
	int64_t rt = clock_ns(CLOCK_REALTIME);
	if (!yw_whodata_live(fc->wd, rt) ||
	    yw_whodata_find(fc->wd, p->data, p->path_len, p->m.ctime_ns, rt))
		return false;
	p->m.size = 1;
	p->m.mtime_ns = now + fc->whodata_wait_ms * 1000000;
	fc->pq[(fc->pq_head + fc->pq_len++) % YW_FIM_MAX_PENDING] = p;
	return true;
}

/* Starts the realtime job at the queue's head; false when it was put back to wait. */
static bool start_job(struct fim_col *fc, uint32_t *work, int64_t now)
{
	struct yw_fim_ent *p = fc->pq[fc->pq_head];
	struct walker *w = &fc->rt;
	fc->pq_head = (fc->pq_head + 1) % YW_FIM_MAX_PENDING;
	fc->pq_len--;
	if (wait_whodata(fc, p, now))
		return false;
	item_start(&w->it, p->data, p->path_len, true);
	w->it.detected_ns = p->m.ctime_ns;
	yw_fimdb_del(fc->pending, p);
	(*work)--;
	/* the device of the parent: a new directory on another filesystem is a mount point */
	struct stat st;
	char *slash = strrchr(w->it.path, '/');
	w->job_parent_dev = 0;
	if (slash) {
		*slash = 0;
		if (lstat(slash == w->it.path ? "/" : w->it.path, &st) == 0)
			w->job_parent_dev = (uint64_t)st.st_dev;
		*slash = '/';
	}
	w->busy = w->have_item = true;
	w->full = false;
	w->depth = 0;
	return true;
}

/* ---- the collector ---- */

static int fim_poll(void *state, yw_record_sink sink, void *ud)
{
	struct fim_col *fc = state;
	int64_t now = mono_ns(fc), c0 = cpu_ns(fc);
	uint64_t ev0 = fc->stats.events;
	bucket_refill(&fc->io, now);
	bucket_refill(&fc->cpu, now);
	fc->poll_bytes_left = YW_FIM_POLL_MAX_BYTES;
	drain_inotify(fc, now);
	if (fc->rescan && !fc->full.busy) {
		fc->rescan = false;
		fc->next_scan_ns = now;
	}
	uint32_t work = fc->files_per_poll;
	uint64_t max_steps = 4ULL * fc->files_per_poll + 16;
	int rc = 0;
	for (uint64_t steps = 0; work > 0 && steps < max_steps; steps++) {
		if (fc->cpu.rate && (steps & 15) == 0 && fc->cpu.tokens - (cpu_ns(fc) - c0) <= 0)
			break;
		struct walker *w;
		if (fc->rt.busy) {
			w = &fc->rt;
		} else if (fc->pq_len && fc->pq[fc->pq_head]->m.mtime_ns <= now) {
			if (!start_job(fc, &work, now))
				continue;
			w = &fc->rt;
		} else if (fc->full.busy) {
			w = &fc->full;
		} else if (now >= fc->next_scan_ns) {
			start_scan(fc, now);
			w = &fc->full;
		} else {
			break;
		}
		rc = walker_step(fc, w, sink, ud, &work);
		if (rc == STEP_BUDGET || rc == STEP_FULL || rc < 0)
			break;
	}
	if (fc->cpu.rate)
		fc->cpu.tokens -= cpu_ns(fc) - c0;
	if (rc < 0)
		return rc;
	return (int)(fc->stats.events - ev0);
}

static int fim_fd(void *state)
{
	/* scans advance on every tick, so poll must run even when inotify is quiet */
	return -1;
}

static int fim_commit(void *state)
{
	struct fim_col *fc = state;
	return yw_fimdb_commit(fc->db);
}

static void fim_exit(void *state)
{
	struct fim_col *fc = state;
	if (!fc)
		return;
	walker_reset(&fc->full);
	walker_reset(&fc->rt);
	EVP_MD_CTX_free(fc->full.it.md);
	EVP_MD_CTX_free(fc->rt.it.md);
	EVP_MD_free(fc->md);
	if (fc->ifd >= 0)
		close(fc->ifd);
	for (size_t i = 0; i < fc->nwatches; i++)
		free(fc->watches[i].path);
	free(fc->watches);
	for (size_t i = 0; i < fc->nroots; i++)
		free(fc->roots[i]);
	free(fc->roots);
	for (size_t i = 0; i < fc->nignores; i++)
		free(fc->ignores[i]);
	free(fc->ignores);
	yw_fimdb_free(fc->db);
	yw_fimdb_free(fc->pending);
	free(fc->pq);
	free(fc->ibuf);
	free(fc->xbuf);
	free(fc->hbuf);
	yw_strbuf_free(&fc->out);
	free(fc);
}

/* Integers with an optional unit: sizes K/M/G (binary), durations ms/s/m/h (plain = ms). */
static int parse_num(const char *v, bool duration, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || x < 0)
		return YW_EINVAL;
	int64_t mul = 1;
	if (duration) {
		if (strcmp(end, "s") == 0)
			mul = 1000;
		else if (strcmp(end, "m") == 0)
			mul = 60000;
		else if (strcmp(end, "h") == 0)
			mul = 3600000;
		else if (*end && strcmp(end, "ms") != 0)
			return YW_EINVAL;
	} else if (*end) {
		const char *u = "KMG", *p = strchr(u, end[0] & ~0x20);
		if (!end[0] || !p || (end[1] && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B")))
			return YW_EINVAL;
		mul = 1LL << (10 * (p - u + 1));
	}
	if (x > max / mul || x * mul < min || x * mul > max)
		return YW_EINVAL;
	*out = x * mul;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return YW_EINVAL;
	return 0;
}

static int add_str(char ***arr, size_t *n, size_t max, const char *v)
{
	if (*n >= max)
		return YW_ELIMIT;
	char **na = realloc(*arr, (*n + 1) * sizeof(char *));
	if (!na)
		return YW_ENOMEM;
	*arr = na;
	if (!(na[*n] = strdup(v)))
		return YW_ENOMEM;
	(*n)++;
	return 0;
}

static int parse_opts(struct fim_col *fc, const struct yw_collector_opt *opts, size_t nopts,
                      int64_t *io_rate, int64_t *cpu_pct)
{
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		int64_t x = 0;
		int rc = 0;
		if (!k || !v)
			return YW_EINVAL;
		if (strcmp(k, "path") == 0) {
			size_t n = strlen(v);
			/* absolute, no trailing slash (but "/"), short enough for a child name */
			if (v[0] != '/' || n > YW_FIM_MAX_PATH - 2 || (n > 1 && v[n - 1] == '/'))
				return YW_EINVAL;
			rc = add_str(&fc->roots, &fc->nroots, YW_FIM_MAX_ROOTS, v);
		} else if (strcmp(k, "ignore") == 0) {
			rc = *v ? add_str(&fc->ignores, &fc->nignores, YW_FIM_MAX_IGNORES, v)
			        : YW_EINVAL;
		} else if (strcmp(k, "realtime") == 0) {
			rc = parse_bool(v, &fc->realtime);
		} else if (strcmp(k, "one_filesystem") == 0) {
			rc = parse_bool(v, &fc->one_fs);
		} else if (strcmp(k, "scan_interval_ms") == 0) {
			rc = parse_num(v, true, 0, 366LL * 86400000, &fc->scan_interval_ms);
		} else if (strcmp(k, "debounce_ms") == 0) {
			rc = parse_num(v, true, 0, 60000, &fc->debounce_ms);
		} else if (strcmp(k, "hash") == 0) {
			if (strcmp(v, "sha256") == 0)
				fc->algo = YW_FIM_SHA256;
			else if (strcmp(v, "sm3") == 0)
				fc->algo = YW_FIM_SM3;
			else
				rc = YW_EINVAL;
		} else if (strcmp(k, "max_file_size") == 0) {
			if (!(rc = parse_num(v, false, 0, INT64_MAX, &x)))
				fc->max_file_size = (uint64_t)x;
		} else if (strcmp(k, "io_rate") == 0) {
			rc = parse_num(v, false, 0, 1LL << 40, io_rate);
		} else if (strcmp(k, "cpu_percent") == 0) {
			rc = parse_num(v, false, 0, 100, cpu_pct);
		} else if (strcmp(k, "files_per_poll") == 0) {
			if (!(rc = parse_num(v, false, 1, 1000000, &x)))
				fc->files_per_poll = (uint32_t)x;
		} else if (strcmp(k, "max_watches") == 0) {
			if (!(rc = parse_num(v, false, 0, YW_FIM_MAX_WATCHES, &x)))
				fc->max_watches = (size_t)x;
		} else if (strcmp(k, "whodata_wait_ms") == 0) {
			rc = parse_num(v, true, 0, YW_WHODATA_MAX_WAIT_MS, &fc->whodata_wait_ms);
		} else {
			rc = YW_EINVAL;
		}
		if (rc)
			return rc;
	}
	return fc->nroots ? 0 : YW_EINVAL;
}

/* Entries for paths no longer configured (a root removed, an ignore added) leave silently. */
static void drop_unconfigured(struct fim_col *fc)
{
	for (size_t i = 0; i < yw_fimdb_slots(fc->db);) {
		struct yw_fim_ent *e = yw_fimdb_slot(fc->db, i);
		bool keep = !e;
		for (size_t r = 0; e && !keep && r < fc->nroots; r++) {
			size_t rl = strlen(fc->roots[r]);
			keep = e->path_len >= rl && memcmp(e->data, fc->roots[r], rl) == 0 &&
			       (e->path_len == rl || e->data[rl] == '/' || rl == 1);
		}
		if (keep && e && ignored(fc, e->data, e->path_len))
			keep = false;
		if (keep)
			i++;
		else
			yw_fimdb_del(fc->db, e);
	}
}

static int fim_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                    size_t nopts, void **state)
{
	*state = NULL;
	struct fim_col *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return YW_ENOMEM;
	fc->ifd = -1;
	fc->full.it.fd = fc->rt.it.fd = -1;
	fc->realtime = fc->one_fs = true;
	fc->scan_interval_ms = YW_FIM_DEFAULT_SCAN_INTERVAL_MS;
	fc->debounce_ms = YW_FIM_DEFAULT_DEBOUNCE_MS;
	fc->max_file_size = YW_FIM_DEFAULT_MAX_FILE_SIZE;
	fc->files_per_poll = YW_FIM_DEFAULT_FILES_PER_POLL;
	fc->max_watches = YW_FIM_DEFAULT_MAX_WATCHES;
	fc->algo = YW_FIM_SHA256;
	fc->whodata_wait_ms = YW_WHODATA_DEFAULT_WAIT_MS;
	fc->wd = env ? env->whodata : NULL;
	yw_strbuf_init(&fc->out, YW_FIM_MAX_EVENT);
	int64_t io_rate = YW_FIM_DEFAULT_IO_RATE, cpu_pct = YW_FIM_DEFAULT_CPU_PERCENT;
	int rc = parse_opts(fc, opts, nopts, &io_rate, &cpu_pct);
	if (rc)
		goto fail;
	fc->algo_name = fc->algo == YW_FIM_SM3 ? "sm3" : "sha256";
	if (!(fc->md = EVP_MD_fetch(NULL, fc->algo == YW_FIM_SM3 ? "SM3" : "SHA256", NULL))) {
		yw_logf(YW_LOG_ERROR, "fim: hash %s is not available from OpenSSL's providers",
		        fc->algo_name);
		rc = YW_EUNSUP;
		goto fail;
	}
	rc = YW_ENOMEM;
	if (!(fc->full.it.md = EVP_MD_CTX_new()) || !(fc->rt.it.md = EVP_MD_CTX_new()) ||
	    !(fc->pq = calloc(YW_FIM_MAX_PENDING, sizeof(*fc->pq))) ||
	    !(fc->ibuf = malloc(YW_FIM_INOTIFY_BUF)) ||
	    !(fc->xbuf = malloc(2 * YW_FIM_MAX_XATTR)) || !(fc->hbuf = malloc(YW_FIM_HASH_CHUNK)))
		goto fail;
	if ((rc = yw_fimdb_new(env ? env->state_path : NULL, fc->algo, &fc->db)) != 0 ||
	    (rc = yw_fimdb_new(NULL, fc->algo, &fc->pending)) != 0)
		goto fail;
	rc = yw_fimdb_load(fc->db);
	if (rc == YW_ENOMEM)
		goto fail;
	fc->have_baseline = rc == 0;
	if (fc->have_baseline)
		drop_unconfigured(fc);
	if (fc->realtime && (fc->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		yw_logf(YW_LOG_WARNING, "fim: inotify unavailable (%s): scheduled scans only",
		        strerror(errno));
		fc->realtime = false;
	}
	int64_t now = mono_ns(fc);
	bucket_init(&fc->io, io_rate, io_rate, now);
	bucket_init(&fc->cpu, cpu_pct * 10000000, cpu_pct * 1000000, now);
	fc->next_scan_ns = now; /* changes made while the agent was down show at once */
	*state = fc;
	return 0;
fail:
	fim_exit(fc);
	return rc;
}

void yw_fim_set_clock(void *state, const struct yw_fim_clock *clk)
{
	struct fim_col *fc = state;
	fc->clk = *clk;
	int64_t now = mono_ns(fc);
	fc->io.last_ns = fc->cpu.last_ns = now;
	fc->next_scan_ns = now;
}

void yw_fim_get_stats(void *state, struct yw_fim_stats *out)
{
	struct fim_col *fc = state;
	*out = fc->stats;
	out->watches = fc->nwatches;
	out->baseline = yw_fimdb_count(fc->db);
	out->scanning = fc->full.busy;
	out->have_baseline = fc->have_baseline;
}

const struct yw_collector_ops yw_collector_fim = {
    .name = "fim",
    .init = fim_init,
    .fd = fim_fd,
    .poll = fim_poll,
    .commit = fim_commit,
    .exit = fim_exit,
};
