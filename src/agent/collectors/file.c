/* Log file collector: follows the files matching glob patterns, line by line, through rotation
 * by rename, truncation (copytruncate) and deletion. Each record's cursor is the file's
 * (dev, inode, offset after the line, hash of its first bytes), so the spool can tell where to
 * resume after a crash; commit also writes the positions to a state file (docs/agent.md). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/whodata.h"
#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/fsutil.h"
#include "yiwang/error.h"
#include "yiwang/spool.h"

#define STATE_MAGIC   0x53465759u /* "YWFS" */
#define STATE_VERSION 1u
#define CURSOR_LEN    30 /* dev u64, ino u64, offset u64, head length u16, head crc u32 */
#define CUT_NOTE_MAX  64

/* A file position: from the state file, a record's cursor, or a followed file. */
struct pos {
	uint64_t dev, ino, off;
	uint16_t head_len;
	uint32_t head_crc;
	uint64_t seq; /* seq of the last record at or before this position; 0 = none */
};

struct fentry {
	char *path;
	char *source; /* "file:" + path */
	uint16_t source_len;
	int fd;
	struct pos p; /* p.off: everything before it was emitted */
	uint64_t last_size;
	char *part; /* bytes from p.off on that do not yet end in a newline */
	size_t part_len, part_cap;
	uint64_t cut;    /* bytes of an over-long line skipped after part */
	int64_t part_ms; /* when part last grew */
	bool rotated;    /* the path names another file or none: drain, then drop */
	bool seen;
	struct yw_whodata *wd; /* audit lines also go to the FIM who-data cache; may be NULL */
};

struct saved {
	char *path;
	struct pos p;
};

struct file_col {
	char **patterns;
	size_t npat;
	bool start_end;
	int64_t rescan_ms, partial_ms;
	int64_t next_scan_ms;
	bool scanned;
	char *state_path;
	struct yw_collector_env env;

	struct fentry *files;
	size_t nfiles, fcap;
	struct saved *saved; /* positions from the state file, consumed as files are found */
	size_t nsaved;
	bool dirty;
	char *chunk;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void encode_cursor(uint8_t *c, const struct pos *p)
{
	put_le(c, p->dev, 8);
	put_le(c + 8, p->ino, 8);
	put_le(c + 16, p->off, 8);
	put_le(c + 24, p->head_len, 2);
	put_le(c + 26, p->head_crc, 4);
}

/* ---- options and state file ---- */

static int parse_ms(const char *v, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < 0 || x > 86400000)
		return YW_EINVAL;
	*out = x;
	return 0;
}

static void free_saved(struct file_col *fc)
{
	for (size_t i = 0; i < fc->nsaved; i++)
		free(fc->saved[i].path);
	free(fc->saved);
	fc->saved = NULL;
	fc->nsaved = 0;
}

/* State file: magic u32, version u32, count u32, per file {path len u16, path, dev u64, ino
 * u64, offset u64, head length u16, head crc u32, seq u64}, crc32c u32. A damaged file is
 * ignored: the spool's cursors still hold every position that produced a record. */
static int load_state(struct file_col *fc)
{
	FILE *f = fopen(fc->state_path, "rbe");
	if (!f)
		return errno == ENOENT ? 0 : YW_EIO;
	uint8_t *b = malloc(YW_FILE_MAX_STATE);
	if (!b) {
		fclose(f);
		return YW_ENOMEM;
	}
	size_t n = fread(b, 1, YW_FILE_MAX_STATE, f);
	fclose(f);
	int rc = 0;
	if (n < 16 || get_le(b, 4) != STATE_MAGIC || get_le(b + 4, 4) != STATE_VERSION ||
	    yw_crc32c(0, b, n - 4) != get_le(b + n - 4, 4))
		goto out;
	uint32_t count = (uint32_t)get_le(b + 8, 4);
	const uint8_t *p = b + 12, *end = b + n - 4;
	if (count > YW_FILE_MAX_FILES)
		goto out;
	if (!(fc->saved = calloc(count ? count : 1, sizeof(*fc->saved)))) {
		rc = YW_ENOMEM;
		goto out;
	}
	for (uint32_t k = 0; k < count; k++) {
		if (end - p < 2)
			break;
		size_t pl = get_le(p, 2);
		if ((size_t)(end - p) < 2 + pl + 38)
			break;
		struct saved *s = &fc->saved[fc->nsaved];
		if (!(s->path = strndup((const char *)p + 2, pl))) {
			rc = YW_ENOMEM;
			goto out;
		}
		p += 2 + pl;
		s->p.dev = get_le(p, 8);
		s->p.ino = get_le(p + 8, 8);
		s->p.off = get_le(p + 16, 8);
		s->p.head_len = (uint16_t)get_le(p + 24, 2);
		s->p.head_crc = (uint32_t)get_le(p + 26, 4);
		s->p.seq = get_le(p + 30, 8);
		p += 38;
		fc->nsaved++;
	}
out:
	free(b);
	return rc;
}

static int file_commit(void *state)
{
	struct file_col *fc = state;
	if (!fc->state_path || !fc->dirty)
		return 0;
	size_t n = 16;
	for (size_t i = 0; i < fc->nfiles; i++)
		n += 2 + strlen(fc->files[i].path) + 38;
	uint8_t *b = malloc(n), *p = b;
	if (!b)
		return YW_ENOMEM;
	put_le(p, STATE_MAGIC, 4);
	put_le(p + 4, STATE_VERSION, 4);
	put_le(p + 8, fc->nfiles, 4);
	p += 12;
	for (size_t i = 0; i < fc->nfiles; i++) {
		const struct fentry *e = &fc->files[i];
		size_t pl = strlen(e->path);
		put_le(p, pl, 2);
		memcpy(p + 2, e->path, pl);
		p += 2 + pl;
		put_le(p, e->p.dev, 8);
		put_le(p + 8, e->p.ino, 8);
		put_le(p + 16, e->p.off, 8);
		put_le(p + 24, e->p.head_len, 2);
		put_le(p + 26, e->p.head_crc, 4);
		put_le(p + 30, e->p.seq, 8);
		p += 38;
	}
	put_le(p, yw_crc32c(0, b, (size_t)(p - b)), 4);

	int rc = yw_write_file_atomic(fc->state_path, b, n, 0600);
	if (rc == 0)
		fc->dirty = false;
	free(b);
	return rc;
}

/* ---- following one file ---- */

/* Hashes the first bytes of the file. Returns false when they no longer match what the entry
 * saw (the file was truncated and rewritten, or the inode reused); extends the hash while the
 * file is shorter than YW_FILE_HEAD_HASH. */
static bool head_matches(int fd, struct pos *p, uint64_t size)
{
	uint8_t h[YW_FILE_HEAD_HASH];
	size_t want = size < sizeof(h) ? (size_t)size : sizeof(h);
	ssize_t r = want ? pread(fd, h, want, 0) : 0;
	if (r < 0)
		return true; /* cannot tell: keep following */
	if ((size_t)r < p->head_len || yw_crc32c(0, h, p->head_len) != p->head_crc)
		return false;
	p->head_len = (uint16_t)r;
	p->head_crc = yw_crc32c(0, h, (size_t)r);
	return true;
}

static void reset_part(struct fentry *e)
{
	e->part_len = 0;
	e->cut = 0;
	if (e->part_cap > YW_FILE_READ_CHUNK) {
		free(e->part); /* do not keep a megabyte per file after one long line */
		e->part = NULL;
		e->part_cap = 0;
	}
}

static int part_add(struct fentry *e, const char *s, size_t n)
{
	size_t room = YW_MAX_LINE - e->part_len;
	size_t take = n < room ? n : room;
	e->cut += n - take;
	if (!take)
		return 0;
	if (e->part_len + take > e->part_cap) {
		size_t cap = e->part_cap ? e->part_cap : 256;
		while (cap < e->part_len + take)
			cap *= 2;
		if (cap > YW_MAX_LINE)
			cap = YW_MAX_LINE;
		char *np = realloc(e->part, cap);
		if (!np)
			return YW_ENOMEM;
		e->part = np;
		e->part_cap = cap;
	}
	memcpy(e->part + e->part_len, s, take);
	e->part_len += take;
	return 0;
}

/* Emits one line ending at file offset end_off (just past its newline, or the end of an
 * unterminated line). An over-long line is cut to YW_MAX_LINE bytes ending with a note. */
static int emit(struct fentry *e, const char *s, size_t n, uint64_t cut, uint64_t end_off,
                int64_t ts, yw_record_sink sink, void *ud, int *count)
{
	if (n && s[n - 1] == '\r' && !cut)
		n--;
	struct pos np = e->p;
	np.off = end_off;
	if (n == 0) {
		e->p.off = end_off; /* empty line: nothing to send */
		return 0;
	}
	char *buf = NULL;
	if (cut) {
		/* the whole line was n + cut bytes; keep the head and say so in the line itself */
		char note[CUT_NOTE_MAX];
		int nl = snprintf(note, sizeof(note), " [yiwang: line cut, %llu bytes]",
		                  (unsigned long long)(n + cut));
		size_t keep = n > (size_t)nl ? n - (size_t)nl : 0;
		if (!(buf = malloc(keep + (size_t)nl)))
			return YW_ENOMEM;
		memcpy(buf, s, keep);
		memcpy(buf + keep, note, (size_t)nl);
		s = buf;
		n = keep + (size_t)nl;
	}
	uint8_t c[CURSOR_LEN];
	encode_cursor(c, &np);
	struct yw_record rec = {.ts_ns = ts,
	                        .kind = YW_REC_LOG,
	                        .source = e->source,
	                        .source_len = e->source_len,
	                        .data = s,
	                        .len = (uint32_t)n};
	int rc = sink(ud, &rec, c, sizeof(c));
	free(buf);
	if (rc)
		return rc;
	e->p.off = end_off;
	e->p.seq = rec.seq;
	(*count)++;
	/* After the sink took it, so a refused line is not fed twice. A cache failure costs only
	 * who-data, never the log line. */
	if (e->wd && !cut && n > 5 && !memcmp(s, "type=", 5))
		(void)yw_whodata_feed(e->wd, s, n, ts);
	return 0;
}

/* Reads what the file has past the held bytes and emits complete lines, at most
 * YW_FILE_POLL_BYTES. Returns 0, YW_SINK_FULL or an error; *eof when the end was reached. */
static int read_lines(struct file_col *fc, struct fentry *e, int64_t ts, yw_record_sink sink,
                      void *ud, int *count, bool *eof)
{
	size_t budget = YW_FILE_POLL_BYTES;
	*eof = false;
	while (budget) {
		uint64_t rpos = e->p.off + e->part_len + e->cut;
		ssize_t r = pread(e->fd, fc->chunk, YW_FILE_READ_CHUNK, (off_t)rpos);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return YW_EIO;
		}
		if (r == 0) {
			*eof = true;
			return 0;
		}
		budget = (size_t)r < budget ? budget - (size_t)r : 0;
		const char *p = fc->chunk, *end = p + r;
		uint64_t at = rpos;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				int rc = part_add(e, p, (size_t)(end - p));
				if (rc)
					return rc;
				e->part_ms = mono_ms();
				break;
			}
			size_t n = (size_t)(nl - p);
			uint64_t line_end = at + n + 1;
			int rc;
			if (!e->part_len && !e->cut) {
				rc = emit(e, p, n, 0, line_end, ts, sink, ud, count);
			} else {
				if ((rc = part_add(e, p, n)) != 0)
					return rc;
				rc = emit(e, e->part, e->part_len, e->cut, line_end, ts, sink, ud,
				          count);
			}
			if (rc) {
				/* not taken: forget what was read past p.off, re-read next poll */
				reset_part(e);
				return rc;
			}
			reset_part(e);
			at = line_end;
			p = nl + 1;
		}
		fc->dirty = true;
	}
	return 0;
}

/* Emits a held unterminated line (the file was rotated away, or it has been idle). */
static int flush_part(struct fentry *e, int64_t ts, yw_record_sink sink, void *ud, int *count)
{
	if (!e->part_len && !e->cut)
		return 0;
	uint64_t end_off = e->p.off + e->part_len + e->cut;
	int rc = emit(e, e->part, e->part_len, e->cut, end_off, ts, sink, ud, count);
	if (rc == 0)
		reset_part(e);
	return rc;
}

static void close_entry(struct fentry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	free(e->part);
	e->part = NULL;
	e->part_len = e->part_cap = 0;
	e->cut = 0;
}

/* Opens e->path and positions it: a saved position for the same file (same inode and head)
 * resumes; a saved position for another inode means the file was rotated while we were away,
 * so the new one is read whole; without any, `beginning` decides. */
static int open_entry(struct file_col *fc, struct fentry *e, const struct pos *saved,
                      bool beginning)
{
	e->fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (e->fd < 0)
		return YW_EIO;
	struct stat st;
	if (fstat(e->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close_entry(e);
		return YW_EIO;
	}
	uint64_t size = (uint64_t)st.st_size;
	struct pos p = {.dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino};
	if (saved) {
		p.seq = saved->seq;
		struct pos probe = *saved;
		if (saved->dev == p.dev && saved->ino == p.ino && saved->off <= size &&
		    head_matches(e->fd, &probe, size)) {
			p = probe;
		} else {
			head_matches(e->fd, &p, size);
		}
	} else {
		head_matches(e->fd, &p, size);
		if (!beginning)
			p.off = size;
	}
	e->p = p;
	e->last_size = size;
	e->rotated = false;
	fc->dirty = true;
	return 0;
}

/* The position to resume path from: the state file's or the spool's newest cursor, whichever
 * belongs to the later record (the state file wins a tie: it may have moved past lines that
 * produced no record). */
static bool find_saved(struct file_col *fc, const char *source, size_t slen, const char *path,
                       struct pos *out)
{
	bool have = false;
	for (size_t i = 0; i < fc->nsaved; i++) {
		if (fc->saved[i].path && strcmp(fc->saved[i].path, path) == 0) {
			*out = fc->saved[i].p;
			have = true;
			break;
		}
	}
	const void *cv;
	size_t cl;
	uint64_t seq;
	if (fc->env.cursor &&
	    fc->env.cursor(fc->env.cursor_ud, source, slen, &cv, &cl, &seq) == 0 &&
	    cl == CURSOR_LEN && (!have || seq > out->seq)) {
		const uint8_t *c = cv;
		out->dev = get_le(c, 8);
		out->ino = get_le(c + 8, 8);
		out->off = get_le(c + 16, 8);
		out->head_len = (uint16_t)get_le(c + 24, 2);
		out->head_crc = (uint32_t)get_le(c + 26, 4);
		out->seq = seq;
		have = true;
	}
	return have;
}

static int add_file(struct file_col *fc, const char *path)
{
	if (fc->nfiles >= YW_FILE_MAX_FILES)
		return YW_ELIMIT;
	if (fc->nfiles == fc->fcap) {
		size_t cap = fc->fcap ? fc->fcap * 2 : 8;
		struct fentry *n = realloc(fc->files, cap * sizeof(*n));
		if (!n)
			return YW_ENOMEM;
		fc->files = n;
		fc->fcap = cap;
	}
	struct fentry e = {.fd = -1};
	size_t pl = strlen(path);
	if (pl + 5 > UINT16_MAX)
		return YW_ELIMIT;
	e.path = strdup(path);
	e.source = malloc(pl + 6);
	if (!e.path || !e.source) {
		free(e.path);
		free(e.source);
		return YW_ENOMEM;
	}
	memcpy(e.source, "file:", 5);
	memcpy(e.source + 5, path, pl + 1);
	e.source_len = (uint16_t)(pl + 5);
	struct pos saved;
	bool have = find_saved(fc, e.source, e.source_len, path, &saved);
	/* files present at the first scan start per the option; files that appear later are new
	 * and read whole */
	int rc = open_entry(fc, &e, have ? &saved : NULL, !fc->start_end || fc->scanned);
	if (rc) {
		free(e.path);
		free(e.source);
		return rc;
	}
	e.seen = true;
	e.wd = fc->env.whodata;
	fc->files[fc->nfiles++] = e;
	return 0;
}

static void rescan(struct file_col *fc)
{
	for (size_t i = 0; i < fc->nfiles; i++)
		fc->files[i].seen = false;
	for (size_t k = 0; k < fc->npat; k++) {
		glob_t g;
		if (glob(fc->patterns[k], GLOB_NOSORT, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc; j++) {
			const char *path = g.gl_pathv[j];
			size_t i;
			for (i = 0; i < fc->nfiles; i++)
				if (strcmp(fc->files[i].path, path) == 0)
					break;
			if (i < fc->nfiles)
				fc->files[i].seen = true;
			else
				add_file(fc, path); /* unreadable or too many: retried next scan */
		}
		globfree(&g);
	}
	fc->scanned = true;
}

/* One poll of one file. Returns 0, YW_SINK_FULL or an error; *gone when the entry is done. */
static int poll_file(struct file_col *fc, struct fentry *e, int64_t ts, int64_t now,
                     yw_record_sink sink, void *ud, int *count, bool *gone)
{
	*gone = false;
	struct stat fst, pst;
	if (fstat(e->fd, &fst) != 0)
		return YW_EIO;
	uint64_t size = (uint64_t)fst.st_size;
	if (!e->rotated && (stat(e->path, &pst) != 0 || (uint64_t)pst.st_ino != e->p.ino ||
	                    (uint64_t)pst.st_dev != e->p.dev))
		e->rotated = true; /* renamed or deleted: finish the old file first */
	if (size < e->p.off + e->part_len + e->cut ||
	    (size != e->last_size && !head_matches(e->fd, &e->p, size))) {
		/* truncated (copytruncate): what was held is emitted, then start over */
		int rc = flush_part(e, ts, sink, ud, count);
		if (rc)
			return rc;
		e->p.off = 0;
		e->p.head_len = 0;
		e->p.head_crc = 0;
		head_matches(e->fd, &e->p, size);
		fc->dirty = true;
	}
	e->last_size = size;
	bool eof;
	int rc = read_lines(fc, e, ts, sink, ud, count, &eof);
	if (rc)
		return rc;
	if (!eof)
		return 0;
	if (e->rotated || (e->part_len && now - e->part_ms >= fc->partial_ms)) {
		if ((rc = flush_part(e, ts, sink, ud, count)) != 0)
			return rc;
		fc->dirty = true;
	}
	if (!e->rotated)
		return 0;
	close_entry(e);
	/* the path may already name the next file: it is new, read it from the start */
	if (open_entry(fc, e, NULL, true) != 0) {
		*gone = true;
		return 0;
	}
	return read_lines(fc, e, ts, sink, ud, count, &eof);
}

static int file_poll(void *state, yw_record_sink sink, void *ud)
{
	struct file_col *fc = state;
	int64_t now = mono_ms(), ts = real_ns();
	if (!fc->scanned || now >= fc->next_scan_ms) {
		rescan(fc);
		fc->next_scan_ms = now + fc->rescan_ms;
	}
	int count = 0, rc = 0;
	for (size_t i = 0; i < fc->nfiles;) {
		struct fentry *e = &fc->files[i];
		bool gone;
		rc = poll_file(fc, e, ts, now, sink, ud, &count, &gone);
		if (rc == YW_SINK_FULL)
			return count;
		if (rc == YW_EIO)
			gone = true; /* unreadable now; a later scan finds it again if it returns */
		else if (rc)
			return rc;
		if (gone) {
			close_entry(e);
			free(e->path);
			free(e->source);
			fc->files[i] = fc->files[--fc->nfiles];
			fc->dirty = true;
			continue;
		}
		i++;
	}
	return count;
}

static int file_fd(void *state)
{
	return -1;
}

static void file_exit(void *state)
{
	struct file_col *fc = state;
	if (!fc)
		return;
	for (size_t i = 0; i < fc->nfiles; i++) {
		close_entry(&fc->files[i]);
		free(fc->files[i].path);
		free(fc->files[i].source);
	}
	free(fc->files);
	for (size_t i = 0; i < fc->npat; i++)
		free(fc->patterns[i]);
	free(fc->patterns);
	free_saved(fc);
	free(fc->state_path);
	free(fc->chunk);
	free(fc);
}

static int file_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                     size_t nopts, void **state)
{
	*state = NULL;
	struct file_col *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return YW_ENOMEM;
	fc->start_end = true;
	fc->rescan_ms = YW_FILE_DEFAULT_RESCAN_MS;
	fc->partial_ms = YW_FILE_DEFAULT_PARTIAL_MS;
	int rc = YW_ENOMEM;
	if (!(fc->patterns = calloc(nopts ? nopts : 1, sizeof(char *))) ||
	    !(fc->chunk = malloc(YW_FILE_READ_CHUNK)))
		goto fail;
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		rc = YW_EINVAL;
		if (!k || !v)
			goto fail;
		if (strcmp(k, "path") == 0) {
			if (fc->npat >= YW_FILE_MAX_PATTERNS || !*v) {
				rc = YW_ELIMIT;
				goto fail;
			}
			rc = YW_ENOMEM;
			if (!(fc->patterns[fc->npat] = strdup(v)))
				goto fail;
			fc->npat++;
		} else if (strcmp(k, "start") == 0) {
			if (strcmp(v, "end") != 0 && strcmp(v, "beginning") != 0)
				goto fail;
			fc->start_end = strcmp(v, "end") == 0;
		} else if (strcmp(k, "rescan_ms") == 0) {
			if (parse_ms(v, &fc->rescan_ms))
				goto fail;
		} else if (strcmp(k, "partial_ms") == 0) {
			if (parse_ms(v, &fc->partial_ms))
				goto fail;
		} else {
			goto fail;
		}
	}
	rc = YW_EINVAL;
	if (!fc->npat)
		goto fail;
	if (env) {
		fc->env = *env;
		fc->env.state_path = NULL;
		if (env->state_path) {
			rc = YW_ENOMEM;
			if (!(fc->state_path = strdup(env->state_path)))
				goto fail;
			if ((rc = load_state(fc)) != 0)
				goto fail;
		}
	}
	*state = fc;
	return 0;
fail:
	file_exit(fc);
	return rc;
}

const struct yw_collector_ops yw_collector_file = {
    .name = "file",
    .init = file_init,
    .fd = file_fd,
    .poll = file_poll,
    .commit = file_commit,
    .exit = file_exit,
};
