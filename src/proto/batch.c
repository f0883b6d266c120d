/* The codec context, zstd compression of payloads, and record batches (docs/protocol.md,
 * "Compression" and "BATCH"). The zstd contexts and buffers live in struct yw_proto and are
 * reused, so encoding or decoding a batch allocates nothing once they have grown. */
#include <stdlib.h>
#include <string.h>

#include "yw_limits.h"
#include "proto/proto_int.h"
#include "yiwang/buf.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"

/* zstd level 1: ~3-4x on log lines at several hundred MB/s; higher levels cost the agent CPU
 * for a few percent of bandwidth. */
#define ZSTD_LEVEL 1

/* Payloads shorter than this are sent plain: zstd's frame overhead eats the gain. */
#define COMPRESS_MIN 256

/* Bytes of a batch header (first_seq u64, count u32) and of a record without its strings
 * (delta u32, ts_ns i64, kind u8, source length u16, data length u32). */
#define BATCH_HEAD   12
#define RECORD_FIXED 19

struct yw_proto *yw_proto_new(void)
{
	struct yw_proto *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	yw_strbuf_init(&p->scratch, YW_MAX_FRAME);
	p->max_records = YW_MAX_BATCH_RECORDS;
	p->max_bytes = YW_MAX_FRAME;
	return p;
}

void yw_proto_free(struct yw_proto *p)
{
	if (!p)
		return;
	ZSTD_freeCCtx(p->cctx);
	ZSTD_freeDCtx(p->dctx);
	yw_strbuf_free(&p->scratch);
	free(p->plain);
	free(p->recs);
	free(p);
}

void yw_proto_set_batch_limits(struct yw_proto *p, uint32_t max_records, uint32_t max_bytes)
{
	if (max_records < 1)
		max_records = 1;
	if (max_records > YW_MAX_BATCH_RECORDS)
		max_records = YW_MAX_BATCH_RECORDS;
	if (max_bytes < 64 * 1024)
		max_bytes = 64 * 1024;
	if (max_bytes > YW_MAX_FRAME)
		max_bytes = YW_MAX_FRAME;
	p->max_records = max_records;
	p->max_bytes = max_bytes;
}

static int make_cctx(struct yw_proto *p)
{
	if (p->cctx)
		return 0;
	p->cctx = ZSTD_createCCtx();
	if (!p->cctx)
		return YW_ENOMEM;
	/* The content size in the zstd frame header is what lets the receiver check the size
	 * before allocating; TLS already protects integrity, so no checksum. */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_checksumFlag, 0))) {
		ZSTD_freeCCtx(p->cctx);
		p->cctx = NULL;
		return YW_ENOMEM;
	}
	return 0;
}

/* Tries to append the compressed frame; 1 if done, 0 if the plain form should be sent. */
static int emit_compressed(struct yw_proto *p, uint8_t type, struct yw_strbuf *out)
{
	size_t len = p->scratch.len;
	size_t bound = ZSTD_compressBound(len);
	if (make_cctx(p) || yw_strbuf_reserve(out, YW_FRAME_HEADER + bound))
		return 0;
	uint8_t *dst = (uint8_t *)out->data + out->len;
	size_t c = ZSTD_compress2(p->cctx, dst + YW_FRAME_HEADER, bound, p->scratch.data, len);
	if (ZSTD_isError(c) || c >= len) {
		/* A failed call leaves the context mid-frame; start the next one clean. */
		ZSTD_CCtx_reset(p->cctx, ZSTD_reset_session_only);
		return 0;
	}
	yw_proto_put_header(dst, type, YW_FRAME_F_ZSTD, (uint32_t)c);
	out->len += YW_FRAME_HEADER + c;
	out->data[out->len] = '\0';
	return 1;
}

int yw_proto_emit(struct yw_proto *p, uint8_t type, struct yw_strbuf *out)
{
	size_t len = p->scratch.len;
	if (len > YW_MAX_FRAME)
		return YW_ELIMIT;
	if (yw_proto_may_compress(type) && len >= COMPRESS_MIN && emit_compressed(p, type, out))
		return 0;
	int rc = yw_strbuf_reserve(out, YW_FRAME_HEADER + len);
	if (rc)
		return rc;
	uint8_t *dst = (uint8_t *)out->data + out->len;
	yw_proto_put_header(dst, type, 0, (uint32_t)len);
	if (len)
		memcpy(dst + YW_FRAME_HEADER, p->scratch.data, len);
	out->len += YW_FRAME_HEADER + len;
	out->data[out->len] = '\0';
	return 0;
}

int yw_proto_open(struct yw_proto *p, const struct yw_frame *f, const uint8_t **pl, size_t *len)
{
	if (!(f->flags & YW_FRAME_F_ZSTD)) {
		*pl = f->payload;
		*len = f->len;
		return 0;
	}
	if (!yw_proto_may_compress(f->type) || f->len < 4)
		return YW_EPARSE;
	/* Exactly one regular zstd frame: no skippable frames, no concatenation (which
	 * ZSTD_decompressDCtx would accept), and a declared content size within the limit. */
	const uint8_t *src = f->payload;
	uint32_t magic = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
	                 (uint32_t)src[3] << 24;
	if (magic != ZSTD_MAGICNUMBER)
		return YW_EPARSE;
	unsigned long long csize = ZSTD_getFrameContentSize(src, f->len);
	if (csize == ZSTD_CONTENTSIZE_ERROR || csize == ZSTD_CONTENTSIZE_UNKNOWN)
		return YW_EPARSE;
	if (csize > YW_MAX_FRAME_PLAIN)
		return YW_ELIMIT;
	size_t fsize = ZSTD_findFrameCompressedSize(src, f->len);
	if (ZSTD_isError(fsize) || fsize != f->len)
		return YW_EPARSE;
	if (!p->dctx && !(p->dctx = ZSTD_createDCtx()))
		return YW_ENOMEM;
	size_t need = csize ? (size_t)csize : 1;
	if (need > p->plain_cap) {
		uint8_t *nb = malloc(need);
		if (!nb)
			return YW_ENOMEM;
		free(p->plain);
		p->plain = nb;
		p->plain_cap = need;
	}
	/* The output buffer is exactly the declared size: zstd stops with an error rather than
	 * write past it, and checks the declared size against what it produced. */
	size_t r = ZSTD_decompressDCtx(p->dctx, p->plain, (size_t)csize, src, f->len);
	if (ZSTD_isError(r) || r != csize)
		return YW_EPARSE;
	*pl = p->plain;
	*len = r;
	return 0;
}

/* ---- batches ---- */

static inline uint8_t *be16(uint8_t *d, uint16_t v)
{
	d[0] = (uint8_t)(v >> 8);
	d[1] = (uint8_t)v;
	return d + 2;
}

static inline uint8_t *be32(uint8_t *d, uint32_t v)
{
	d[0] = (uint8_t)(v >> 24);
	d[1] = (uint8_t)(v >> 16);
	d[2] = (uint8_t)(v >> 8);
	d[3] = (uint8_t)v;
	return d + 4;
}

static inline uint8_t *be64(uint8_t *d, uint64_t v)
{
	be32(d, (uint32_t)(v >> 32));
	return be32(d + 4, (uint32_t)v);
}

static bool valid_kind(uint8_t kind)
{
	return kind >= YW_REC_LOG && kind <= YW_REC_AGENT;
}

static bool has_nul(const char *s, size_t n)
{
	return n && memchr(s, 0, n);
}

/* Checks record i against the previous one; 0, or why it cannot be sent. */
static int check_record(const struct yw_record *r, const struct yw_record *prev)
{
	if (r->len > YW_MAX_RECORD_DATA || r->source_len > YW_MAX_PROTO_TEXT)
		return YW_ELIMIT;
	if (r->seq == 0 || !valid_kind(r->kind) || has_nul(r->source, r->source_len))
		return YW_EINVAL;
	if (prev && r->seq <= prev->seq)
		return YW_EINVAL;
	return 0;
}

int yw_proto_encode_batch(struct yw_proto *p, const struct yw_record *records, size_t n,
                          struct yw_strbuf *out, size_t *taken)
{
	*taken = 0;
	if (n == 0)
		return YW_EINVAL;
	size_t total = BATCH_HEAD, k = 0;
	for (; k < n && k < p->max_records; k++) {
		const struct yw_record *r = &records[k];
		int rc = check_record(r, k ? &records[k - 1] : NULL);
		if (rc == YW_ELIMIT && k > 0)
			break; /* send what precedes it; the next call reports the big record */
		if (rc)
			return rc;
		if (k && r->seq - records[k - 1].seq > UINT32_MAX)
			break; /* a gap too wide for a delta starts a new batch */
		size_t sz = RECORD_FIXED + (size_t)r->source_len + r->len;
		if (total + sz > p->max_bytes && k > 0)
			break;
		total += sz;
	}
	/* One maximal record always fits max_bytes' floor plus YW_MAX_FRAME; the scratch max
	 * (YW_MAX_FRAME) is the final check. */
	struct yw_strbuf *b = &p->scratch;
	yw_strbuf_reset(b);
	int rc = yw_strbuf_reserve(b, total);
	if (rc)
		return rc;
	uint8_t *d = (uint8_t *)b->data;
	d = be64(d, records[0].seq);
	d = be32(d, (uint32_t)k);
	uint64_t prev = records[0].seq;
	for (size_t i = 0; i < k; i++) {
		const struct yw_record *r = &records[i];
		d = be32(d, (uint32_t)(r->seq - prev));
		prev = r->seq;
		d = be64(d, (uint64_t)r->ts_ns);
		*d++ = r->kind;
		d = be16(d, r->source_len);
		if (r->source_len)
			memcpy(d, r->source, r->source_len);
		d += r->source_len;
		d = be32(d, r->len);
		if (r->len)
			memcpy(d, r->data, r->len);
		d += r->len;
	}
	b->len = total;
	b->data[total] = '\0';
	if ((rc = yw_proto_emit(p, YW_MSG_BATCH, out)) != 0)
		return rc;
	*taken = k;
	return 0;
}

int yw_proto_decode_batch(struct yw_proto *p, const uint8_t *payload, size_t len,
                          struct yw_msg_batch *b)
{
	struct yw_reader r;
	uint64_t first;
	uint32_t count;
	yw_reader_init(&r, payload, len);
	if (yw_get_u64(&r, &first) || yw_get_u32(&r, &count))
		return YW_EPARSE;
	if (count > YW_MAX_BATCH_RECORDS)
		return YW_ELIMIT;
	/* A count the payload cannot hold is rejected before it sizes the record array. */
	if (first == 0 || count == 0 || count > r.len / RECORD_FIXED)
		return YW_EPARSE;
	if (count > p->recs_cap) {
		struct yw_record *nr = realloc(p->recs, count * sizeof(*nr));
		if (!nr)
			return YW_ENOMEM;
		p->recs = nr;
		p->recs_cap = count;
	}
	uint64_t seq = first;
	for (uint32_t i = 0; i < count; i++) {
		struct yw_record *rec = &p->recs[i];
		uint32_t delta;
		uint64_t ts;
		if (yw_get_u32(&r, &delta) || yw_get_u64(&r, &ts) || yw_get_u8(&r, &rec->kind))
			return YW_EPARSE;
		/* The first record has delta 0 (its seq is first_seq), every later one >= 1. */
		if ((i == 0) != (delta == 0) || seq > UINT64_MAX - delta)
			return YW_EPARSE;
		seq += delta;
		if (!valid_kind(rec->kind))
			return YW_EPARSE;
		if (yw_get_str16(&r, &rec->source, &rec->source_len))
			return YW_EPARSE;
		if (rec->source_len > YW_MAX_PROTO_TEXT)
			return YW_ELIMIT;
		if (has_nul(rec->source, rec->source_len))
			return YW_EPARSE;
		int rc = yw_get_str32(&r, &rec->data, &rec->len, YW_MAX_RECORD_DATA);
		if (rc)
			return rc;
		rec->seq = seq;
		rec->ts_ns = (int64_t)ts;
	}
	if (r.len != 0)
		return YW_EPARSE;
	b->first_seq = first;
	b->records = p->recs;
	b->count = count;
	return 0;
}
