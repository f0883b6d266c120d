/* The agent's spool: segment files of CRC-checked record frames plus an atomically replaced
 * state file (acked seq, next seq, unreported loss, cursor checkpoint). Formats and guarantees:
 * docs/agent.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/spool.h"

#define SEG_MAGIC      0x47535759u /* "YWSG" little-endian */
#define STATE_MAGIC    0x54535759u /* "YWST" */
#define FORMAT_VERSION 1u
#define SEG_HDR        16 /* magic u32, version u32, first seq u64 */
#define FRAME_HDR      8  /* body length u32, crc32c(body) u32 */
#define BODY_FIXED     24 /* seq u64, ts i64, kind u8, cursor len u8, source len u16, data len u32 */

static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
/* The SSE4.2 crc32 instruction computes the same CRC-32C about 8 bytes per cycle. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                            size_t n)
{
	uint64_t c = crc;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
	}
	crc = (uint32_t)c;
	for (; n; n--)
		crc = _mm_crc32_u8(crc, *p++);
	return crc;
}
#endif

uint32_t yw_crc32c(uint32_t crc, const void *p, size_t n)
{
	crc = ~crc;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, p, n);
#endif
	return ~crc32c_sw(crc, p, n);
}

/* Spool files are local to one machine, but a fixed byte order keeps them portable and
 * readable by tools. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct seg {
	uint64_t first; /* seq of its first record (from the file name) */
	uint64_t bytes; /* file size; for the active segment including the unflushed buffer */
};

struct cur_ent {
	char *src; /* owned; NULL = free slot */
	uint16_t src_len;
	uint8_t len;
	uint8_t data[YW_SPOOL_MAX_CURSOR];
	uint64_t seq;
};

struct yw_spool {
	struct yw_spool_opts o;
	int dirfd;

	struct seg *segs; /* sorted by first; the last is the active one when wfd >= 0 */
	size_t nseg, segcap;
	uint64_t total_bytes;

	int wfd;
	uint8_t *wbuf;
	size_t wlen;

	uint64_t next_seq;
	uint64_t acked;      /* floor: everything <= acked is acked or dropped */
	uint64_t synced_seq; /* everything <= synced_seq is durable per sync_ms */
	int64_t unsynced_since_ms;
	int64_t state_written_ms;
	uint64_t state_acked;

	/* read side: an open sealed/active segment and where the last read stopped */
	int rfd;
	uint64_t rseg_first;
	uint64_t rnext_off, rnext_seq;
	uint8_t *rbuf;
	size_t rcap;
	uint64_t rb_off; /* file offset of rbuf[0] */
	size_t rb_len;

	struct cur_ent *cur;
	size_t ccap, ccount;
	struct cur_ent *clast;

	struct yw_spool_loss loss;
	uint64_t dropped, refused, syncs;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seg_name(char *buf, size_t n, uint64_t first)
{
	snprintf(buf, n, "seg-%016" PRIx64 ".ys", first);
}

/* ---- cursor table: open addressing keyed by source name ---- */

static uint32_t hash_src(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static struct cur_ent *cur_slot(struct cur_ent *tab, size_t cap, const char *src, size_t n)
{
	size_t i = hash_src(src, n) & (cap - 1);
	while (tab[i].src && !(tab[i].src_len == n && memcmp(tab[i].src, src, n) == 0))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int cur_grow(struct yw_spool *sp)
{
	size_t ncap = sp->ccap ? sp->ccap * 2 : 16;
	struct cur_ent *nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return YW_ENOMEM;
	for (size_t i = 0; i < sp->ccap; i++)
		if (sp->cur[i].src)
			*cur_slot(nt, ncap, sp->cur[i].src, sp->cur[i].src_len) = sp->cur[i];
	free(sp->cur);
	sp->cur = nt;
	sp->ccap = ncap;
	sp->clast = NULL;
	return 0;
}

/* Remembers cur as the position of src after record seq (if newer than what we have). */
static int cur_set(struct yw_spool *sp, const char *src, size_t n, const void *cur, size_t len,
                   uint64_t seq)
{
	if (n > YW_SPOOL_MAX_CURSOR_SOURCE || len > YW_SPOOL_MAX_CURSOR)
		return 0;
	struct cur_ent *e = sp->clast;
	if (!e || e->src_len != n || memcmp(e->src, src, n) != 0) {
		if (sp->ccap && (e = cur_slot(sp->cur, sp->ccap, src, n))->src == NULL) {
			if (sp->ccount >= YW_SPOOL_MAX_CURSORS)
				return 0;
			if ((sp->ccount + 1) * 2 > sp->ccap)
				e = NULL;
		}
		if (!e) {
			if (sp->ccount >= YW_SPOOL_MAX_CURSORS)
				return 0;
			int rc = cur_grow(sp);
			if (rc)
				return rc;
			e = cur_slot(sp->cur, sp->ccap, src, n);
		}
		if (!e->src) {
			e->src = malloc(n ? n : 1);
			if (!e->src)
				return YW_ENOMEM;
			memcpy(e->src, src, n);
			e->src_len = (uint16_t)n;
			e->seq = 0;
			sp->ccount++;
		}
		sp->clast = e;
	}
	if (seq < e->seq)
		return 0;
	e->seq = seq;
	e->len = (uint8_t)len;
	if (len)
		memcpy(e->data, cur, len);
	return 0;
}

int yw_spool_cursor(struct yw_spool *sp, const char *source, size_t source_len, const void **cursor,
                    size_t *cursor_len, uint64_t *seq)
{
	if (!sp->ccap || source_len > YW_SPOOL_MAX_CURSOR_SOURCE)
		return YW_ENOENT;
	struct cur_ent *e = cur_slot(sp->cur, sp->ccap, source, source_len);
	if (!e->src)
		return YW_ENOENT;
	*cursor = e->data;
	*cursor_len = e->len;
	if (seq)
		*seq = e->seq;
	return 0;
}

/* ---- writing ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return YW_EIO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static struct seg *active(struct yw_spool *sp)
{
	return sp->wfd >= 0 ? &sp->segs[sp->nseg - 1] : NULL;
}

/* Hands the buffer to the kernel. A failed write is cut off again, so the segment never keeps
 * a torn frame in its middle; the buffer stays for a later retry. */
static int flush(struct yw_spool *sp)
{
	if (!sp->wlen)
		return 0;
	struct seg *a = active(sp);
	uint64_t at = a->bytes - sp->wlen;
	int rc = write_all(sp->wfd, sp->wbuf, sp->wlen);
	if (rc) {
		int e = errno;
		if (ftruncate(sp->wfd, (off_t)at) != 0)
			rc = YW_EIO;
		errno = e;
		return rc;
	}
	sp->wlen = 0;
	return 0;
}

int yw_spool_sync(struct yw_spool *sp)
{
	int rc = flush(sp);
	if (rc)
		return rc;
	if (sp->wfd >= 0 && sp->o.sync_ms >= 0 && sp->synced_seq + 1 < sp->next_seq) {
		if (fdatasync(sp->wfd) != 0)
			return YW_EIO;
		sp->syncs++;
	}
	sp->synced_seq = sp->next_seq - 1;
	sp->unsynced_since_ms = -1;
	return 0;
}

static int sync_dir(struct yw_spool *sp)
{
	if (sp->o.sync_ms >= 0 && fsync(sp->dirfd) != 0)
		return YW_EIO;
	return 0;
}

/* State file: magic u32, version u32, acked u64, next_seq u64, loss records/first/last u64,
 * cursor count u32, per cursor {source len u16, source, cursor len u8, cursor, seq u64},
 * crc32c u32 of everything before it. Replaced atomically (temp file, fsync, rename, fsync dir)
 * after the segments were synced, so the checkpointed cursors never run ahead of the data. */
static int write_state(struct yw_spool *sp)
{
	int rc = yw_spool_sync(sp);
	if (rc)
		return rc;
	size_t n = 4 + 4 + 5 * 8 + 4 + 4;
	for (size_t i = 0; i < sp->ccap; i++)
		if (sp->cur[i].src)
			n += 2 + sp->cur[i].src_len + 1 + sp->cur[i].len + 8;
	uint8_t *b = malloc(n), *p = b;
	if (!b)
		return YW_ENOMEM;
	put32(p, STATE_MAGIC);
	put32(p + 4, FORMAT_VERSION);
	put64(p + 8, sp->acked);
	put64(p + 16, sp->next_seq);
	put64(p + 24, sp->loss.records);
	put64(p + 32, sp->loss.first_seq);
	put64(p + 40, sp->loss.last_seq);
	put32(p + 48, (uint32_t)sp->ccount);
	p += 52;
	for (size_t i = 0; i < sp->ccap; i++) {
		const struct cur_ent *e = &sp->cur[i];
		if (!e->src)
			continue;
		put16(p, e->src_len);
		memcpy(p + 2, e->src, e->src_len);
		p += 2 + e->src_len;
		*p++ = e->len;
		memcpy(p, e->data, e->len);
		p += e->len;
		put64(p, e->seq);
		p += 8;
	}
	put32(p, yw_crc32c(0, b, (size_t)(p - b)));

	rc = YW_EIO;
	int fd = openat(sp->dirfd, "state.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write_all(fd, b, n) != 0 || (sp->o.sync_ms >= 0 && fsync(fd) != 0)) {
		close(fd);
		goto out;
	}
	close(fd);
	if (renameat(sp->dirfd, "state.tmp", sp->dirfd, "state") != 0)
		goto out;
	rc = sync_dir(sp);
	if (rc == 0) {
		sp->state_written_ms = now_ms();
		sp->state_acked = sp->acked;
	}
out:
	free(b);
	return rc;
}

static void close_reader(struct yw_spool *sp)
{
	if (sp->rfd >= 0)
		close(sp->rfd);
	sp->rfd = -1;
	sp->rb_len = 0;
	sp->rnext_seq = 0;
}

/* Counts seqs from..to that were not acked yet as lost, and treats them as acked. */
static void add_loss(struct yw_spool *sp, uint64_t from, uint64_t to)
{
	if (from <= sp->acked)
		from = sp->acked + 1;
	if (to < from)
		return;
	if (!sp->loss.records)
		sp->loss.first_seq = from;
	sp->loss.records += to - from + 1;
	sp->loss.last_seq = to;
	sp->dropped += to - from + 1;
	sp->acked = to;
}

/* Removes the first k segments (never the active one); records in them that were not acked
 * are a loss. The state (acked, loss) is persisted before the files go, so a crash in between
 * can neither forget a loss nor bring back acked records. */
static int remove_first(struct yw_spool *sp, size_t k)
{
	for (size_t i = 0; i < k; i++)
		add_loss(sp, sp->segs[i].first, sp->segs[i + 1].first - 1);
	int rc = write_state(sp);
	if (rc)
		return rc;
	for (size_t i = 0; i < k; i++) {
		struct seg *s = &sp->segs[i];
		if (sp->rfd >= 0 && sp->rseg_first == s->first)
			close_reader(sp);
		char name[64];
		seg_name(name, sizeof(name), s->first);
		if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT)
			rc = YW_EIO;
		sp->total_bytes -= s->bytes;
	}
	memmove(sp->segs, sp->segs + k, (sp->nseg - k) * sizeof(*sp->segs));
	sp->nseg -= k;
	return rc;
}

/* Deletes segments that hold only acked records; the newest segment always stays, its name
 * keeps next_seq even when the state file is lost. */
static int delete_acked(struct yw_spool *sp, bool *deleted)
{
	size_t k = 0;
	while (k + 1 < sp->nseg && sp->segs[k + 1].first - 1 <= sp->acked)
		k++;
	*deleted = k > 0;
	return k ? remove_first(sp, k) : 0;
}

static int add_seg(struct yw_spool *sp, uint64_t first, uint64_t bytes)
{
	if (sp->nseg == sp->segcap) {
		size_t ncap = sp->segcap ? sp->segcap * 2 : 16;
		struct seg *n = realloc(sp->segs, ncap * sizeof(*n));
		if (!n)
			return YW_ENOMEM;
		sp->segs = n;
		sp->segcap = ncap;
	}
	sp->segs[sp->nseg++] = (struct seg){first, bytes};
	sp->total_bytes += bytes;
	return 0;
}

/* Seals the active segment (synced, so recovery may trust it) and starts a new one at
 * next_seq, then checkpoints the state so recovery only scans from here. */
static int roll(struct yw_spool *sp)
{
	int rc;
	if (sp->wfd >= 0) {
		if ((rc = yw_spool_sync(sp)) != 0)
			return rc;
		close(sp->wfd);
		sp->wfd = -1;
	}
	if (sp->nseg && sp->segs[sp->nseg - 1].first == sp->next_seq) {
		/* an empty segment left by recovery: recreated below under the same name */
		sp->total_bytes -= sp->segs[sp->nseg - 1].bytes;
		sp->nseg--;
	}
	if ((rc = add_seg(sp, sp->next_seq, 0)) != 0)
		return rc;
	char name[64];
	seg_name(name, sizeof(name), sp->next_seq);
	int fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		sp->nseg--;
		return YW_EIO;
	}
	uint8_t h[SEG_HDR];
	put32(h, SEG_MAGIC);
	put32(h + 4, FORMAT_VERSION);
	put64(h + 8, sp->next_seq);
	if (write_all(fd, h, sizeof(h)) != 0) {
		close(fd);
		unlinkat(sp->dirfd, name, 0);
		sp->nseg--;
		return YW_EIO;
	}
	sp->wfd = fd;
	sp->segs[sp->nseg - 1].bytes = SEG_HDR;
	sp->total_bytes += SEG_HDR;
	if ((rc = sync_dir(sp)) != 0)
		return rc;
	bool deleted;
	if ((rc = delete_acked(sp, &deleted)) != 0)
		return rc;
	return deleted ? 0 : write_state(sp);
}

/* Makes room for a frame of n bytes under the policy. Returns 0, YW_SPOOL_FULL or an error. */
static int make_room(struct yw_spool *sp, uint64_t n)
{
	int rc;
	while (sp->total_bytes + n > sp->o.max_bytes) {
		if (sp->o.policy != YW_SPOOL_DROP_OLDEST) {
			sp->refused++;
			return YW_SPOOL_FULL;
		}
		if (sp->nseg < 2) {
			if (sp->nseg == 0 || sp->segs[0].first == sp->next_seq)
				break; /* nothing left to drop; append checked n fits an empty spool
				        */
			if ((rc = roll(sp)) != 0)
				return rc;
			continue;
		}
		uint64_t freed = 0;
		size_t k = 0;
		while (k + 1 < sp->nseg && sp->total_bytes - freed + n > sp->o.max_bytes)
			freed += sp->segs[k++].bytes;
		if ((rc = remove_first(sp, k)) != 0)
			return rc;
	}
	return 0;
}

int yw_spool_append(struct yw_spool *sp, struct yw_record *rec, const void *cursor,
                    size_t cursor_len)
{
	if (cursor_len > YW_SPOOL_MAX_CURSOR)
		return YW_EINVAL;
	uint64_t body = BODY_FIXED + (uint64_t)rec->source_len + cursor_len + rec->len;
	uint64_t frame = FRAME_HDR + body;
	if (body > YW_SPOOL_MAX_RECORD || frame + 2 * SEG_HDR > sp->o.max_bytes)
		return YW_ELIMIT;

	struct seg *a = active(sp);
	bool need_roll = !a || (a->first != sp->next_seq && a->bytes + frame > sp->o.segment_bytes);
	int rc = make_room(sp, frame + (need_roll ? SEG_HDR : 0));
	if (rc)
		return rc;
	a = active(sp);
	if (!a || (a->first != sp->next_seq && a->bytes + frame > sp->o.segment_bytes)) {
		if ((rc = roll(sp)) != 0)
			return rc;
		a = active(sp);
	}

	if (sp->wlen + frame > YW_SPOOL_WBUF && (rc = flush(sp)) != 0)
		return rc;
	uint8_t stack[FRAME_HDR + BODY_FIXED];
	bool direct = frame > YW_SPOOL_WBUF;
	uint8_t *p = direct ? stack : sp->wbuf + sp->wlen;
	uint8_t *b = p + FRAME_HDR;
	put32(p, (uint32_t)body);
	put64(b, sp->next_seq);
	put64(b + 8, (uint64_t)rec->ts_ns);
	b[16] = rec->kind;
	b[17] = (uint8_t)cursor_len;
	put16(b + 18, rec->source_len);
	put32(b + 20, rec->len);
	uint32_t crc = yw_crc32c(0, b, BODY_FIXED);
	crc = yw_crc32c(crc, rec->source, rec->source_len);
	crc = yw_crc32c(crc, cursor, cursor_len);
	crc = yw_crc32c(crc, rec->data, rec->len);
	put32(p + 4, crc);
	if (direct) {
		/* larger than the buffer (which was flushed above): straight to the file */
		if ((rc = write_all(sp->wfd, stack, sizeof(stack))) != 0 ||
		    (rc = write_all(sp->wfd, (const uint8_t *)rec->source, rec->source_len)) != 0 ||
		    (rc = write_all(sp->wfd, cursor, cursor_len)) != 0 ||
		    (rc = write_all(sp->wfd, (const uint8_t *)rec->data, rec->len)) != 0) {
			int e = errno;
			if (ftruncate(sp->wfd, (off_t)a->bytes) != 0)
				rc = YW_EIO;
			errno = e;
			return rc;
		}
	} else {
		b += BODY_FIXED;
		memcpy(b, rec->source, rec->source_len);
		b += rec->source_len;
		if (cursor_len)
			memcpy(b, cursor, cursor_len);
		b += cursor_len;
		memcpy(b, rec->data, rec->len);
		sp->wlen += frame;
	}
	a->bytes += frame;
	sp->total_bytes += frame;
	rec->seq = sp->next_seq++;
	if (sp->unsynced_since_ms < 0)
		sp->unsynced_since_ms = now_ms();
	if (cursor_len)
		return cur_set(sp, rec->source, rec->source_len, cursor, cursor_len, rec->seq);
	return 0;
}

int yw_spool_sync_timeout(struct yw_spool *sp)
{
	if (sp->unsynced_since_ms < 0)
		return -1;
	if (sp->o.sync_ms <= 0)
		return 0;
	int64_t left = sp->unsynced_since_ms + sp->o.sync_ms - now_ms();
	return left > 0 ? (int)left : 0;
}

/* ---- reading ---- */

struct frame {
	struct yw_record rec;
	const uint8_t *cur;
	uint8_t cur_len;
	uint64_t len; /* whole frame */
};

/* Parses the frame at file offset off (end = valid bytes in the file). Returns 0, 1 at a clean
 * end of data, YW_EPARSE for a torn or corrupt frame, or an I/O error. */
static int read_frame(struct yw_spool *sp, int fd, uint64_t off, uint64_t end, struct frame *f)
{
	if (off == end)
		return 1;
	if (end - off < FRAME_HDR + BODY_FIXED)
		return YW_EPARSE;
	for (int pass = 0; pass < 3; pass++) {
		bool have_hdr =
		    off >= sp->rb_off && off + FRAME_HDR + BODY_FIXED <= sp->rb_off + sp->rb_len;
		if (have_hdr) {
			const uint8_t *p = sp->rbuf + (off - sp->rb_off);
			uint32_t body = get32(p);
			if (body < BODY_FIXED || body > YW_SPOOL_MAX_RECORD ||
			    FRAME_HDR + (uint64_t)body > end - off)
				return YW_EPARSE;
			if (off + FRAME_HDR + body <= sp->rb_off + sp->rb_len) {
				const uint8_t *b = p + FRAME_HDR;
				uint8_t clen = b[17];
				uint16_t slen = get16(b + 18);
				uint32_t dlen = get32(b + 20);
				if ((uint64_t)BODY_FIXED + slen + clen + dlen != body ||
				    yw_crc32c(0, b, body) != get32(p + 4))
					return YW_EPARSE;
				f->rec.seq = get64(b);
				f->rec.ts_ns = (int64_t)get64(b + 8);
				f->rec.kind = b[16];
				f->rec.source = (const char *)b + BODY_FIXED;
				f->rec.source_len = slen;
				f->rec.data = (const char *)b + BODY_FIXED + slen + clen;
				f->rec.len = dlen;
				f->cur = b + BODY_FIXED + slen;
				f->cur_len = clen;
				f->len = FRAME_HDR + body;
				return 0;
			}
			if (FRAME_HDR + (uint64_t)body > sp->rcap) {
				uint8_t *n = realloc(sp->rbuf, FRAME_HDR + (size_t)body);
				if (!n)
					return YW_ENOMEM;
				sp->rbuf = n;
				sp->rcap = FRAME_HDR + (size_t)body;
			}
		}
		if (pass == 2)
			break;
		size_t want = sp->rcap;
		if (want > end - off)
			want = (size_t)(end - off);
		ssize_t r;
		do
			r = pread(fd, sp->rbuf, want, (off_t)off);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return YW_EIO;
		sp->rb_off = off;
		sp->rb_len = (size_t)r;
	}
	return YW_EPARSE;
}

static uint64_t seg_last(const struct yw_spool *sp, size_t i)
{
	return i + 1 < sp->nseg ? sp->segs[i + 1].first - 1 : sp->next_seq - 1;
}

/* A corrupt frame in a segment (disk damage; a torn tail is cut at open): the segment is cut
 * there and the seqs it can no longer deliver are counted as lost. */
static int cut_corrupt(struct yw_spool *sp, size_t i, uint64_t off, uint64_t expect)
{
	uint64_t last = seg_last(sp, i);
	char name[64];
	seg_name(name, sizeof(name), sp->segs[i].first);
	if (sp->wfd >= 0 && i == sp->nseg - 1) {
		int rc = flush(sp);
		if (rc)
			return rc;
		close(sp->wfd);
		sp->wfd = -1; /* the next append starts a fresh segment after the gap */
	}
	int fd = openat(sp->dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)off) != 0) {
		if (fd >= 0)
			close(fd);
		return YW_EIO;
	}
	close(fd);
	sp->total_bytes -= sp->segs[i].bytes - off;
	sp->segs[i].bytes = off;
	close_reader(sp);
	add_loss(sp, expect, last);
	return 0;
}

int yw_spool_read(struct yw_spool *sp, uint64_t from_seq, size_t max_records, size_t max_bytes,
                  yw_spool_read_cb cb, void *ud)
{
	int rc;
	uint64_t from = from_seq > sp->acked ? from_seq : sp->acked + 1;
	if (from >= sp->next_seq || max_records == 0)
		return 0;
	if (sp->synced_seq < from) {
		if (sp->o.sync_ms <= 0 || yw_spool_sync_timeout(sp) == 0) {
			if ((rc = yw_spool_sync(sp)) != 0)
				return rc;
		}
	}
	uint64_t limit = sp->synced_seq;
	if (from > limit)
		return 0;

	size_t i = 0;
	while (i + 1 < sp->nseg && sp->segs[i + 1].first <= from)
		i++;
	size_t count = 0, bytes = 0;
	for (; i < sp->nseg && count < max_records && bytes < max_bytes; i++) {
		struct seg *s = &sp->segs[i];
		uint64_t end = s->bytes - (i == sp->nseg - 1 && sp->wfd >= 0 ? sp->wlen : 0);
		uint64_t off = SEG_HDR, expect = s->first;
		if (sp->rfd < 0 || sp->rseg_first != s->first) {
			close_reader(sp);
			char name[64];
			seg_name(name, sizeof(name), s->first);
			sp->rfd = openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC);
			if (sp->rfd < 0)
				return YW_EIO;
			sp->rseg_first = s->first;
		}
		if (sp->rnext_seq && sp->rnext_seq <= from) {
			off = sp->rnext_off;
			expect = sp->rnext_seq;
		}
		for (;;) {
			struct frame f;
			rc = read_frame(sp, sp->rfd, off, end, &f);
			if (rc == 1)
				break;
			if (rc == YW_EPARSE || (rc == 0 && f.rec.seq < expect)) {
				if ((rc = cut_corrupt(sp, i, off, expect)) != 0)
					return rc;
				break;
			}
			if (rc)
				return rc;
			if (f.rec.seq > limit)
				goto done;
			off += f.len;
			expect = f.rec.seq + 1;
			if (f.rec.seq < from)
				continue;
			sp->rnext_off = off;
			sp->rnext_seq = expect;
			count++;
			bytes += f.rec.len;
			rc = cb(ud, &f.rec);
			if (rc < 0)
				return rc;
			if (rc > 0 || count >= max_records || bytes >= max_bytes)
				goto done;
		}
	}
done:
	return (int)count;
}

int yw_spool_ack(struct yw_spool *sp, uint64_t seq)
{
	if (seq >= sp->next_seq)
		seq = sp->next_seq - 1;
	if (seq <= sp->acked)
		return 0;
	sp->acked = seq;
	bool deleted;
	int rc = delete_acked(sp, &deleted);
	if (rc || deleted)
		return rc;
	if (now_ms() - sp->state_written_ms >= YW_SPOOL_STATE_PERSIST_MS)
		return write_state(sp);
	return 0;
}

void yw_spool_take_loss(struct yw_spool *sp, struct yw_spool_loss *loss)
{
	*loss = sp->loss;
	memset(&sp->loss, 0, sizeof(sp->loss));
}

void yw_spool_stats(const struct yw_spool *sp, struct yw_spool_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->next_seq = sp->next_seq;
	st->acked = sp->acked;
	st->pending = sp->next_seq - 1 - sp->acked;
	st->bytes = sp->total_bytes;
	st->segments = sp->nseg;
	st->dropped = sp->dropped;
	st->refused = sp->refused;
	st->syncs = sp->syncs;
}

/* ---- open and recovery ---- */

static int load_state(struct yw_spool *sp, bool *valid, uint64_t *next)
{
	*valid = false;
	int fd = openat(sp->dirfd, "state", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : YW_EIO;
	struct stat st;
	uint8_t *b = NULL;
	int rc = YW_EIO;
	if (fstat(fd, &st) != 0)
		goto out;
	rc = 0;
	if (st.st_size < 56 || st.st_size > YW_SPOOL_MAX_STATE)
		goto out; /* torn or foreign: recovered from the segments alone */
	size_t n = (size_t)st.st_size;
	if (!(b = malloc(n))) {
		rc = YW_ENOMEM;
		goto out;
	}
	ssize_t r = pread(fd, b, n, 0);
	if (r != (ssize_t)n || get32(b) != STATE_MAGIC || get32(b + 4) != FORMAT_VERSION ||
	    yw_crc32c(0, b, n - 4) != get32(b + n - 4))
		goto out;
	const uint8_t *p = b + 52, *end = b + n - 4;
	uint32_t count = get32(b + 48);
	for (uint32_t k = 0; k < count; k++) {
		if (end - p < 2 || end - p < 2 + get16(p) + 1)
			goto out;
		uint16_t sl = get16(p);
		const char *src = (const char *)p + 2;
		uint8_t cl = p[2 + sl];
		if (end - p < 2 + sl + 1 + cl + 8)
			goto out;
		if ((rc = cur_set(sp, src, sl, p + 3 + sl, cl, get64(p + 3 + sl + cl))) != 0)
			goto out;
		p += 2 + sl + 1 + cl + 8;
	}
	sp->acked = get64(b + 8);
	*next = get64(b + 16);
	sp->loss.records = get64(b + 24);
	sp->loss.first_seq = get64(b + 32);
	sp->loss.last_seq = get64(b + 40);
	*valid = true;
out:
	free(b);
	close(fd);
	return rc;
}

static int seg_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct seg *)a)->first, y = ((const struct seg *)b)->first;
	return x < y ? -1 : x > y;
}

static int list_segments(struct yw_spool *sp)
{
	int fd = dup(sp->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return YW_EIO;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		char *endp;
		if (strlen(nm) != 23 || strncmp(nm, "seg-", 4) != 0 || strcmp(nm + 20, ".ys") != 0)
			continue;
		uint64_t first = strtoull(nm + 4, &endp, 16);
		if (endp != nm + 20 || first == 0)
			continue;
		if (sp->nseg >= YW_SPOOL_MAX_SEGMENTS) {
			rc = YW_ELIMIT;
			break;
		}
		if ((rc = add_seg(sp, first, 0)) != 0)
			break;
	}
	closedir(d);
	if (sp->nseg)
		qsort(sp->segs, sp->nseg, sizeof(*sp->segs), seg_cmp);
	return rc;
}

/* Checks segment i and its frames: the file is cut after the last good frame (a torn tail from
 * a crash). *last gets the last good seq (first - 1 when none). YW_EPARSE: not a segment. */
static int scan_seg(struct yw_spool *sp, size_t i, uint64_t *last)
{
	struct seg *s = &sp->segs[i];
	char name[64];
	seg_name(name, sizeof(name), s->first);
	int fd = openat(sp->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return YW_EIO;
	int rc = YW_EIO;
	struct stat st;
	uint8_t h[SEG_HDR];
	if (fstat(fd, &st) != 0)
		goto out;
	rc = YW_EPARSE;
	if (st.st_size < SEG_HDR || pread(fd, h, SEG_HDR, 0) != SEG_HDR || get32(h) != SEG_MAGIC ||
	    get32(h + 4) != FORMAT_VERSION || get64(h + 8) != s->first)
		goto out;
	uint64_t off = SEG_HDR, size = (uint64_t)st.st_size;
	*last = s->first - 1;
	sp->rb_len = 0;
	for (;;) {
		struct frame f;
		rc = read_frame(sp, fd, off, size, &f);
		if (rc == 1)
			break;
		if (rc == YW_EPARSE || (rc == 0 && f.rec.seq <= *last))
			break;
		if (rc)
			goto out;
		if (f.cur_len &&
		    (rc = cur_set(sp, f.rec.source, f.rec.source_len, f.cur, f.cur_len, f.rec.seq)))
			goto out;
		off += f.len;
		*last = f.rec.seq;
	}
	rc = 0;
	if (off < size && ftruncate(fd, (off_t)off) != 0)
		rc = YW_EIO;
	sp->total_bytes += off;
	s->bytes = off;
out:
	sp->rb_len = 0;
	close(fd);
	return rc;
}

static int seg_size(struct yw_spool *sp, size_t i)
{
	char name[64];
	struct stat st;
	seg_name(name, sizeof(name), sp->segs[i].first);
	if (fstatat(sp->dirfd, name, &st, 0) != 0)
		return YW_EIO;
	sp->segs[i].bytes = (uint64_t)st.st_size;
	sp->total_bytes += sp->segs[i].bytes;
	return 0;
}

static void remove_seg(struct yw_spool *sp, size_t i)
{
	char name[64];
	seg_name(name, sizeof(name), sp->segs[i].first);
	unlinkat(sp->dirfd, name, 0);
	sp->total_bytes -= sp->segs[i].bytes;
	memmove(sp->segs + i, sp->segs + i + 1, (sp->nseg - i - 1) * sizeof(*sp->segs));
	sp->nseg--;
}

static int recover(struct yw_spool *sp)
{
	bool valid;
	uint64_t next = 1;
	int rc = load_state(sp, &valid, &next);
	if (rc)
		return rc;
	if ((rc = list_segments(sp)) != 0)
		return rc;
	/* Without a state file every segment is scanned for cursors, and everything present is
	 * resent (the server drops what it already has). */
	uint64_t ckpt = valid ? next : 0;
	if (!valid)
		sp->acked = sp->nseg ? sp->segs[0].first - 1 : 0;
	if (next < 1)
		next = 1;
	uint64_t last = 0;
	for (size_t i = 0; i < sp->nseg; i++) {
		bool tail = i + 1 == sp->nseg;
		uint64_t first = sp->segs[i].first;
		if (first > next)
			next = first;
		if (!tail && sp->segs[i + 1].first - 1 < ckpt) {
			if ((rc = seg_size(sp, i)) != 0)
				return rc;
			continue;
		}
		rc = scan_seg(sp, i, &last);
		if (rc == YW_EPARSE) {
			/* a segment whose creation was cut short, or not ours */
			if (!tail)
				add_loss(sp, first, sp->segs[i + 1].first - 1);
			remove_seg(sp, i--);
			continue;
		}
		if (rc)
			return rc;
		if (last + 1 > next)
			next = last + 1;
		if (!tail && last + 1 < sp->segs[i + 1].first)
			add_loss(sp, last + 1, sp->segs[i + 1].first - 1);
	}
	sp->next_seq = next;
	if (sp->acked >= next)
		sp->acked = next - 1;

	if (sp->nseg) {
		struct seg *t = &sp->segs[sp->nseg - 1];
		bool empty = t->bytes <= SEG_HDR;
		if ((empty && t->first == next) || (!empty && last + 1 == next)) {
			char name[64];
			seg_name(name, sizeof(name), t->first);
			sp->wfd = openat(sp->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
			if (sp->wfd < 0)
				return YW_EIO;
			/* what a killed agent left in the page cache becomes durable before it is
			 * sent */
			if (sp->o.sync_ms >= 0 && fdatasync(sp->wfd) != 0)
				return YW_EIO;
		} else if (empty) {
			remove_seg(sp, sp->nseg - 1);
		}
	}
	sp->synced_seq = next - 1;
	bool deleted;
	if ((rc = delete_acked(sp, &deleted)) != 0)
		return rc;
	return deleted ? 0 : write_state(sp);
}

int yw_spool_open(const char *dir, const struct yw_spool_opts *opts, struct yw_spool **out)
{
	*out = NULL;
	struct yw_spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return YW_ENOMEM;
	sp->dirfd = sp->wfd = sp->rfd = -1;
	sp->unsynced_since_ms = -1;
	if (opts)
		sp->o = *opts;
	if (!sp->o.max_bytes)
		sp->o.max_bytes = YW_SPOOL_DEFAULT_MAX_BYTES;
	if (!sp->o.segment_bytes)
		sp->o.segment_bytes = YW_SPOOL_DEFAULT_SEGMENT;
	if (sp->o.segment_bytes < YW_SPOOL_MIN_SEGMENT)
		sp->o.segment_bytes = YW_SPOOL_MIN_SEGMENT;
	if (sp->o.max_bytes < 4 * (uint64_t)YW_SPOOL_MIN_SEGMENT)
		sp->o.max_bytes = 4 * (uint64_t)YW_SPOOL_MIN_SEGMENT;
	if (sp->o.segment_bytes > sp->o.max_bytes / 4)
		sp->o.segment_bytes = (uint32_t)(sp->o.max_bytes / 4);

	int rc = YW_ENOMEM;
	sp->wbuf = malloc(YW_SPOOL_WBUF);
	sp->rbuf = malloc(YW_SPOOL_RBUF);
	sp->rcap = YW_SPOOL_RBUF;
	if (!sp->wbuf || !sp->rbuf)
		goto fail;
	rc = YW_EIO;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto fail;
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0)
		goto fail;
	if ((rc = recover(sp)) != 0)
		goto fail;
	*out = sp;
	return 0;
fail:
	yw_spool_close(sp);
	return rc;
}

void yw_spool_close(struct yw_spool *sp)
{
	if (!sp)
		return;
	if (sp->dirfd >= 0 && sp->next_seq)
		write_state(sp); /* best effort: recovery needs none of it */
	if (sp->wfd >= 0)
		close(sp->wfd);
	close_reader(sp);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	for (size_t i = 0; i < sp->ccap; i++)
		free(sp->cur[i].src);
	free(sp->cur);
	free(sp->segs);
	free(sp->wbuf);
	free(sp->rbuf);
	free(sp);
}
