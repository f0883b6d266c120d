/* The FIM baseline: path -> metadata and hash, in an open-addressing table in memory, persisted
 * as a base file (every entry) plus a journal of the changes since (appended at each commit,
 * folded into a new base when it outgrows it). Both files are sequences of CRC-checked records;
 * the journal carries the base's generation, so a journal left over from before a rewrite is
 * never replayed on the newer base. Format in docs/agent.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/fim.h"
#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/spool.h"

#define BASE_MAGIC   0x49465759u /* "YWFI" */
#define JRNL_MAGIC   0x4a465759u /* "YWFJ" */
#define FILE_VERSION 1u
#define HDR_LEN      24 /* magic u32, version u32, algo u32, pad u32, generation u64 */
#define OP_PUT       1
#define OP_DEL       2
#define META_LEN                                                                                   \
	85 /* size, ino, mtime, ctime u64; mode, uid, gid, attrs, xattr u32; hstate; hash */
#define REC_MAX (8 + 5 + 2 * YW_FIM_MAX_PATH + META_LEN)

struct yw_fimdb {
	char *base_path, *jrnl_path;
	uint8_t algo;
	uint64_t gen; /* generation of the base file on disk */
	struct yw_fim_ent **slots;
	size_t cap, n; /* cap: power of two; n <= cap / 2 */
	bool journal;
	bool rewrite;  /* the next commit writes a new base */
	uint8_t *jbuf; /* records not yet committed */
	size_t jlen, jcap;
	uint64_t base_bytes, jrnl_bytes;
};

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

static uint64_t path_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final mix for the low bits */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* ---- table ---- */

static size_t find_slot(const struct yw_fimdb *db, const char *path, size_t len, uint64_t hv)
{
	size_t mask = db->cap - 1;
	for (size_t i = hv & mask;; i = (i + 1) & mask) {
		const struct yw_fim_ent *e = db->slots[i];
		if (!e || (e->hv == hv && e->path_len == len && memcmp(e->data, path, len) == 0))
			return i;
	}
}

static int grow(struct yw_fimdb *db)
{
	size_t ncap = db->cap ? db->cap * 2 : 1024;
	struct yw_fim_ent **ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return YW_ENOMEM;
	for (size_t i = 0; i < db->cap; i++) {
		struct yw_fim_ent *e = db->slots[i];
		if (!e)
			continue;
		size_t j = e->hv & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = e;
	}
	free(db->slots);
	db->slots = ns;
	db->cap = ncap;
	return 0;
}

struct yw_fim_ent *yw_fimdb_get(struct yw_fimdb *db, const char *path, size_t len)
{
	if (!db->n)
		return NULL;
	return db->slots[find_slot(db, path, len, path_hash(path, len))];
}

/* Removes slot i by shifting the entries of its probe run back (no tombstones). */
static void remove_slot(struct yw_fimdb *db, size_t i)
{
	size_t mask = db->cap - 1;
	free(db->slots[i]);
	db->slots[i] = NULL;
	db->n--;
	for (size_t j = (i + 1) & mask; db->slots[j]; j = (j + 1) & mask) {
		size_t home = db->slots[j]->hv & mask;
		/* j's entry may move into the hole at i unless its home lies in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		db->slots[i] = db->slots[j];
		db->slots[j] = NULL;
		i = j;
	}
}

/* ---- records ---- */

static void enc_meta(uint8_t *p, const struct yw_fim_meta *m)
{
	put_le(p, m->size, 8);
	put_le(p + 8, m->ino, 8);
	put_le(p + 16, (uint64_t)m->mtime_ns, 8);
	put_le(p + 24, (uint64_t)m->ctime_ns, 8);
	put_le(p + 32, m->mode, 4);
	put_le(p + 36, m->uid, 4);
	put_le(p + 40, m->gid, 4);
	put_le(p + 44, m->attrs, 4);
	put_le(p + 48, m->xattr, 4);
	p[52] = m->hstate;
	memcpy(p + 53, m->hash, YW_FIM_HASH_LEN);
}

static void dec_meta(const uint8_t *p, struct yw_fim_meta *m)
{
	m->size = get_le(p, 8);
	m->ino = get_le(p + 8, 8);
	m->mtime_ns = (int64_t)get_le(p + 16, 8);
	m->ctime_ns = (int64_t)get_le(p + 24, 8);
	m->mode = (uint32_t)get_le(p + 32, 4);
	m->uid = (uint32_t)get_le(p + 36, 4);
	m->gid = (uint32_t)get_le(p + 40, 4);
	m->attrs = (uint32_t)get_le(p + 44, 4);
	m->xattr = (uint32_t)get_le(p + 48, 4);
	m->hstate = p[52];
	memcpy(m->hash, p + 53, YW_FIM_HASH_LEN);
}

/* Encodes one record {body length u32, CRC-32C u32, op u8, path length u16, target length u16,
 * path, target, meta (puts)} into out (REC_MAX bytes). Returns its length. */
static size_t enc_rec(uint8_t *out, int op, const char *path, size_t len, const char *target,
                      size_t tlen, const struct yw_fim_meta *m)
{
	uint8_t *b = out + 8;
	b[0] = (uint8_t)op;
	put_le(b + 1, len, 2);
	put_le(b + 3, tlen, 2);
	memcpy(b + 5, path, len);
	if (tlen)
		memcpy(b + 5 + len, target, tlen);
	size_t body = 5 + len + tlen;
	if (op == OP_PUT) {
		enc_meta(b + body, m);
		body += META_LEN;
	}
	put_le(out, body, 4);
	put_le(out + 4, yw_crc32c(0, b, body), 4);
	return 8 + body;
}

static int journal_add(struct yw_fimdb *db, int op, const struct yw_fim_ent *e)
{
	if (!db->journal || db->rewrite)
		return 0;
	if (db->jlen + REC_MAX > YW_FIM_MAX_JOURNAL_BUF) {
		db->rewrite = true; /* cheaper to write everything than to hold this much */
		db->jlen = 0;
		return 0;
	}
	if (db->jlen + REC_MAX > db->jcap) {
		size_t cap = db->jcap ? db->jcap * 2 : 64 * 1024;
		while (cap < db->jlen + REC_MAX)
			cap *= 2;
		uint8_t *nb = realloc(db->jbuf, cap);
		if (!nb) {
			db->rewrite = true;
			db->jlen = 0;
			return 0;
		}
		db->jbuf = nb;
		db->jcap = cap;
	}
	db->jlen += enc_rec(db->jbuf + db->jlen, op, e->data, e->path_len,
	                    e->data + e->path_len + 1, e->target_len, &e->m);
	return 0;
}

static int insert(struct yw_fimdb *db, const char *path, size_t len, const struct yw_fim_meta *m,
                  const char *target, size_t tlen, uint32_t gen, struct yw_fim_ent **out)
{
	if (len == 0 || len > YW_FIM_MAX_PATH || tlen > YW_FIM_MAX_PATH)
		return YW_ELIMIT;
	if ((db->n + 1) * 2 > db->cap) {
		int rc = grow(db);
		if (rc)
			return rc;
	}
	uint64_t hv = path_hash(path, len);
	size_t i = find_slot(db, path, len, hv);
	struct yw_fim_ent *old = db->slots[i];
	if (!old && db->n >= YW_FIM_MAX_FILES)
		return YW_ELIMIT;
	struct yw_fim_ent *e;
	if (old && old->target_len == tlen) {
		e = old; /* same size: update in place */
	} else {
		e = malloc(sizeof(*e) + len + tlen + 2);
		if (!e)
			return YW_ENOMEM;
	}
	e->m = *m;
	e->hv = hv;
	e->seen_gen = gen;
	e->path_len = (uint16_t)len;
	e->target_len = (uint16_t)tlen;
	memmove(e->data, path, len); /* path may point into old's data */
	e->data[len] = 0;
	if (tlen)
		memmove(e->data + len + 1, target, tlen);
	e->data[len + 1 + tlen] = 0;
	if (old && e != old)
		free(old);
	if (!old)
		db->n++;
	db->slots[i] = e;
	*out = e;
	return 0;
}

int yw_fimdb_put(struct yw_fimdb *db, const char *path, size_t len, const struct yw_fim_meta *m,
                 const char *target, size_t tlen, uint32_t gen)
{
	struct yw_fim_ent *e;
	int rc = insert(db, path, len, m, target, tlen, gen, &e);
	if (rc)
		return rc;
	return journal_add(db, OP_PUT, e);
}

void yw_fimdb_del(struct yw_fimdb *db, struct yw_fim_ent *e)
{
	size_t i = find_slot(db, e->data, e->path_len, e->hv);
	if (db->slots[i] != e)
		return;
	journal_add(db, OP_DEL, e);
	remove_slot(db, i);
}

size_t yw_fimdb_count(const struct yw_fimdb *db)
{
	return db->n;
}

size_t yw_fimdb_slots(const struct yw_fimdb *db)
{
	return db->cap;
}

struct yw_fim_ent *yw_fimdb_slot(struct yw_fimdb *db, size_t i)
{
	return i < db->cap ? db->slots[i] : NULL;
}

void yw_fimdb_journal(struct yw_fimdb *db, bool on)
{
	if (on && !db->journal)
		db->rewrite = true;
	db->journal = on;
	if (!on)
		db->jlen = 0;
}

/* ---- files ---- */

static void clear(struct yw_fimdb *db)
{
	for (size_t i = 0; i < db->cap; i++)
		free(db->slots[i]);
	free(db->slots);
	db->slots = NULL;
	db->cap = db->n = 0;
}

/* Reads the records of an open file after its header. Stops at the end, at a torn or damaged
 * record (*damaged set) or on ENOMEM. */
static int read_records(struct yw_fimdb *db, FILE *f, bool *damaged, uint64_t *bytes)
{
	uint8_t *b = malloc(REC_MAX);
	if (!b)
		return YW_ENOMEM;
	int rc = 0;
	*damaged = false;
	for (;;) {
		size_t got = fread(b, 1, 8, f);
		if (got == 0)
			break;
		uint64_t body = got == 8 ? get_le(b, 4) : 0;
		if (got != 8 || body < 5 || body > REC_MAX - 8 ||
		    fread(b + 8, 1, body, f) != body ||
		    yw_crc32c(0, b + 8, body) != get_le(b + 4, 4)) {
			*damaged = true;
			break;
		}
		const uint8_t *p = b + 8;
		size_t len = get_le(p + 1, 2), tlen = get_le(p + 3, 2);
		int op = p[0];
		if (5 + len + tlen + (op == OP_PUT ? META_LEN : 0) != body ||
		    (op != OP_PUT && op != OP_DEL)) {
			*damaged = true;
			break;
		}
		const char *path = (const char *)p + 5;
		if (op == OP_PUT) {
			struct yw_fim_meta m;
			struct yw_fim_ent *e;
			dec_meta(p + 5 + len + tlen, &m);
			rc = insert(db, path, len, &m, path + len, tlen, 0, &e);
			if (rc == YW_ELIMIT) {
				*damaged = true;
				rc = 0;
				break;
			}
			if (rc)
				break;
		} else if (db->n) {
			size_t i = find_slot(db, path, len, path_hash(path, len));
			if (db->slots[i])
				remove_slot(db, i);
		}
		*bytes += 8 + body;
	}
	free(b);
	return rc;
}

static bool read_header(FILE *f, uint32_t magic, uint8_t algo, uint64_t *gen)
{
	uint8_t h[HDR_LEN];
	if (fread(h, 1, HDR_LEN, f) != HDR_LEN || get_le(h, 4) != magic ||
	    get_le(h + 4, 4) != FILE_VERSION || get_le(h + 8, 4) != algo)
		return false;
	*gen = get_le(h + 16, 8);
	return true;
}

static void make_header(uint8_t *h, uint32_t magic, uint8_t algo, uint64_t gen)
{
	memset(h, 0, HDR_LEN);
	put_le(h, magic, 4);
	put_le(h + 4, FILE_VERSION, 4);
	put_le(h + 8, algo, 4);
	put_le(h + 16, gen, 8);
}

int yw_fimdb_load(struct yw_fimdb *db)
{
	clear(db);
	db->jlen = 0;
	if (!db->base_path)
		return YW_ENOENT;
	FILE *f = fopen(db->base_path, "rbe");
	if (!f)
		return errno == ENOMEM ? YW_ENOMEM : YW_ENOENT;
	uint64_t gen, jgen;
	bool damaged = true;
	int rc = YW_ENOENT;
	db->base_bytes = db->jrnl_bytes = 0;
	if (read_header(f, BASE_MAGIC, db->algo, &gen)) {
		rc = read_records(db, f, &damaged, &db->base_bytes);
	}
	fclose(f);
	if (rc == YW_ENOMEM || damaged) {
		/* a base file is written whole and renamed: damage means the disk, and a partial
		 * baseline would report every missing file as added. Start over. */
		clear(db);
		return rc == YW_ENOMEM ? rc : YW_ENOENT;
	}
	db->gen = gen;
	if ((f = fopen(db->jrnl_path, "rbe")) != NULL) {
		/* a torn tail is the normal result of a crash mid-append; a journal of another
		 * generation is what a crash between a rewrite and the journal's removal leaves.
		 * Either way the next commit writes a new base rather than append to it. */
		rc = 0;
		damaged = true;
		if (read_header(f, JRNL_MAGIC, db->algo, &jgen) && jgen == gen)
			rc = read_records(db, f, &damaged, &db->jrnl_bytes);
		db->rewrite = damaged;
		fclose(f);
		if (rc == YW_ENOMEM) {
			clear(db);
			return rc;
		}
	}
	db->journal = true;
	return 0;
}

static int fsync_dir(const char *path)
{
	char dir[YW_FIM_MAX_PATH + 16];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	int dfd =
	    open(slash ? (slash == dir ? "/" : dir) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return YW_EIO;
	fsync(dfd);
	close(dfd);
	return 0;
}

static int write_base(struct yw_fimdb *db)
{
	char tmp[YW_FIM_MAX_PATH + 16];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", db->base_path) >= (int)sizeof(tmp))
		return YW_ELIMIT;
	uint8_t *rec = malloc(REC_MAX);
	if (!rec)
		return YW_ENOMEM;
	int rc = YW_EIO;
	FILE *f = fopen(tmp, "wbe");
	if (!f)
		goto out;
	uint8_t h[HDR_LEN];
	make_header(h, BASE_MAGIC, db->algo, db->gen + 1);
	uint64_t bytes = 0;
	bool ok = fwrite(h, 1, HDR_LEN, f) == HDR_LEN;
	for (size_t i = 0; ok && i < db->cap; i++) {
		const struct yw_fim_ent *e = db->slots[i];
		if (!e)
			continue;
		size_t n = enc_rec(rec, OP_PUT, e->data, e->path_len, e->data + e->path_len + 1,
		                   e->target_len, &e->m);
		ok = fwrite(rec, 1, n, f) == n;
		bytes += n;
	}
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0 || !ok || rename(tmp, db->base_path) != 0) {
		unlink(tmp);
		goto out;
	}
	fsync_dir(db->base_path);
	db->gen++;
	db->base_bytes = bytes;
	/* the old journal belongs to the old generation: it is ignored from now on */
	unlink(db->jrnl_path);
	db->jrnl_bytes = 0;
	db->jlen = 0;
	db->rewrite = false;
	rc = 0;
out:
	free(rec);
	return rc;
}

static int append_journal(struct yw_fimdb *db)
{
	int fd = open(db->jrnl_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return YW_EIO;
	int rc = YW_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto out;
	if (st.st_size == 0) {
		uint8_t h[HDR_LEN];
		make_header(h, JRNL_MAGIC, db->algo, db->gen);
		if (write(fd, h, HDR_LEN) != HDR_LEN)
			goto out;
		if (fsync_dir(db->jrnl_path) != 0)
			goto out;
	}
	if (write(fd, db->jbuf, db->jlen) != (ssize_t)db->jlen || fdatasync(fd) != 0)
		goto out;
	db->jrnl_bytes += db->jlen;
	db->jlen = 0;
	rc = 0;
out:
	close(fd);
	if (rc)
		db->rewrite = true; /* a short append may have torn the tail: start a new base */
	return rc;
}

int yw_fimdb_commit(struct yw_fimdb *db)
{
	if (!db->base_path || !db->journal)
		return 0;
	if (!db->rewrite && db->jlen && db->jrnl_bytes + db->jlen > YW_FIM_JOURNAL_COMPACT_MIN &&
	    db->jrnl_bytes + db->jlen > db->base_bytes)
		db->rewrite = true;
	if (db->rewrite)
		return write_base(db);
	return db->jlen ? append_journal(db) : 0;
}

int yw_fimdb_new(const char *state_path, uint8_t algo, struct yw_fimdb **out)
{
	*out = NULL;
	struct yw_fimdb *db = calloc(1, sizeof(*db));
	if (!db)
		return YW_ENOMEM;
	db->algo = algo;
	if (state_path) {
		size_t n = strlen(state_path);
		if (n > YW_FIM_MAX_PATH) {
			free(db);
			return YW_ELIMIT;
		}
		db->base_path = strdup(state_path);
		db->jrnl_path = malloc(n + 9);
		if (!db->base_path || !db->jrnl_path) {
			yw_fimdb_free(db);
			return YW_ENOMEM;
		}
		memcpy(db->jrnl_path, state_path, n);
		memcpy(db->jrnl_path + n, ".journal", 9);
	}
	*out = db;
	return 0;
}

void yw_fimdb_free(struct yw_fimdb *db)
{
	if (!db)
		return;
	clear(db);
	free(db->jbuf);
	free(db->base_path);
	free(db->jrnl_path);
	free(db);
}
