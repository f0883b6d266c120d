/* Framing: the frame header and the incremental frame decoder (docs/protocol.md, "Frames").
 * The decoder keeps one buffer per connection; frames are returned in place (zero-copy) and the
 * buffer is compacted on the next feed, so each received byte is moved at most once. */
#include <stdlib.h>
#include <string.h>

#include "yw_limits.h"
#include "proto/proto_int.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"

/* The buffer starts small (most frames are small) and is released when it is empty and grew
 * past this, so idle connections holding a big buffer do not add up. */
#define BUF_INITIAL  (16 * 1024)
#define BUF_IDLE_MAX (256 * 1024)
#define BUF_MAX      ((size_t)YW_FRAME_HEADER + YW_MAX_FRAME + YW_FRAME_FEED_MAX)

struct yw_frame_decoder {
	uint8_t *buf;
	size_t cap;
	size_t start; /* first byte not yet returned as a frame */
	size_t end;   /* end of received bytes */
	int err;      /* sticky: once the stream broke it stays broken */
};

void yw_proto_put_header(uint8_t *dst, uint8_t type, uint8_t flags, uint32_t len)
{
	dst[0] = 'Y';
	dst[1] = 'W';
	dst[2] = YW_PROTO_VERSION;
	dst[3] = type;
	dst[4] = flags;
	dst[5] = 0;
	dst[6] = (uint8_t)(len >> 24);
	dst[7] = (uint8_t)(len >> 16);
	dst[8] = (uint8_t)(len >> 8);
	dst[9] = (uint8_t)len;
}

bool yw_proto_may_compress(uint8_t type)
{
	/* Bulk data only. ENROLL and ENROLLED carry secrets and are never compressed, so their
	 * length cannot leak their content (CRIME-style attacks). */
	return type == YW_MSG_BATCH || type == YW_MSG_CONFIG || type == YW_MSG_COMMAND ||
	       type == YW_MSG_COMMAND_RESULT;
}

struct yw_frame_decoder *yw_frame_decoder_new(void)
{
	return calloc(1, sizeof(struct yw_frame_decoder));
}

void yw_frame_decoder_free(struct yw_frame_decoder *d)
{
	if (!d)
		return;
	free(d->buf);
	free(d);
}

size_t yw_frame_pending(const struct yw_frame_decoder *d)
{
	return d->end - d->start;
}

/* Makes room for n more bytes after d->end: drops returned frames, then grows within BUF_MAX. */
static int make_room(struct yw_frame_decoder *d, size_t n)
{
	if (d->err)
		return d->err;
	if (n > YW_FRAME_FEED_MAX)
		return YW_EINVAL;
	if (d->start == d->end) {
		d->start = d->end = 0;
		if (d->cap > BUF_IDLE_MAX) {
			free(d->buf);
			d->buf = NULL;
			d->cap = 0;
		}
	} else if (d->start > 0) {
		memmove(d->buf, d->buf + d->start, d->end - d->start);
		d->end -= d->start;
		d->start = 0;
	}
	if (d->end + n > BUF_MAX)
		return YW_ELIMIT; /* the caller did not drain frames between feeds */
	if (d->end + n <= d->cap)
		return 0;
	size_t cap = d->cap ? d->cap : BUF_INITIAL;
	while (cap < d->end + n)
		cap *= 2;
	if (cap > BUF_MAX)
		cap = BUF_MAX;
	uint8_t *nb = realloc(d->buf, cap);
	if (!nb)
		return YW_ENOMEM;
	d->buf = nb;
	d->cap = cap;
	return 0;
}

int yw_frame_feed(struct yw_frame_decoder *d, const void *p, size_t n)
{
	int rc = make_room(d, n);
	if (rc)
		return rc;
	if (n)
		memcpy(d->buf + d->end, p, n);
	d->end += n;
	return 0;
}

int yw_frame_space(struct yw_frame_decoder *d, size_t want, uint8_t **p)
{
	int rc = make_room(d, want);
	if (rc)
		return rc;
	*p = d->buf + d->end;
	return 0;
}

int yw_frame_commit(struct yw_frame_decoder *d, size_t n)
{
	if (d->err)
		return d->err;
	if (n > d->cap - d->end)
		return YW_EINVAL;
	d->end += n;
	return 0;
}

/* Checks the first n (<= YW_FRAME_HEADER) header bytes, so garbage is rejected as soon as it
 * arrives rather than after a length's worth of it. */
static int check_header(const uint8_t *h, size_t n)
{
	if (n > 0 && h[0] != 'Y')
		return YW_EPARSE;
	if (n > 1 && h[1] != 'W')
		return YW_EPARSE;
	if (n > 2 && (h[2] < YW_PROTO_VERSION_MIN || h[2] > YW_PROTO_VERSION))
		return YW_EUNSUP;
	if (n > 3 && (h[3] == 0 || h[3] > YW_MSG_TYPE_MAX))
		return YW_EPARSE;
	if (n > 4 && (h[4] & ~YW_FRAME_F_ZSTD))
		return YW_EPARSE;
	if (n > 4 && (h[4] & YW_FRAME_F_ZSTD) && !yw_proto_may_compress(h[3]))
		return YW_EPARSE;
	if (n > 5 && h[5] != 0)
		return YW_EPARSE;
	if (n >= YW_FRAME_HEADER) {
		uint32_t len =
		    (uint32_t)h[6] << 24 | (uint32_t)h[7] << 16 | (uint32_t)h[8] << 8 | h[9];
		if (len > YW_MAX_FRAME)
			return YW_ELIMIT;
	}
	return 0;
}

int yw_frame_next(struct yw_frame_decoder *d, struct yw_frame *f)
{
	if (d->err)
		return d->err;
	size_t avail = d->end - d->start;
	if (avail == 0)
		return 0;
	const uint8_t *h = d->buf + d->start;
	int rc = check_header(h, avail < YW_FRAME_HEADER ? avail : YW_FRAME_HEADER);
	if (rc)
		return d->err = rc;
	if (avail < YW_FRAME_HEADER)
		return 0;
	uint32_t len = (uint32_t)h[6] << 24 | (uint32_t)h[7] << 16 | (uint32_t)h[8] << 8 | h[9];
	if (avail - YW_FRAME_HEADER < len)
		return 0;
	f->version = h[2];
	f->type = h[3];
	f->flags = h[4];
	f->payload = h + YW_FRAME_HEADER;
	f->len = len;
	d->start += YW_FRAME_HEADER + (size_t)len;
	return 1;
}
