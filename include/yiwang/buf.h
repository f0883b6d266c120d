/* Bounds-checked reading and writing of binary data (network frames, spool files).
 * Every getter checks the remaining length and fails with YW_EPARSE instead of reading past
 * the end; a reader never allocates. Integers are big-endian on the wire. */
#ifndef YIWANG_BUF_H
#define YIWANG_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "yiwang/strbuf.h"

struct yw_reader {
	const uint8_t *p; /* borrowed */
	size_t len;       /* bytes left */
};

static inline void yw_reader_init(struct yw_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
}

int yw_get_u8(struct yw_reader *r, uint8_t *v);
int yw_get_u16(struct yw_reader *r, uint16_t *v);
int yw_get_u32(struct yw_reader *r, uint32_t *v);
int yw_get_u64(struct yw_reader *r, uint64_t *v);
/* Points *p at the next n bytes (borrowed from the reader's memory). */
int yw_get_bytes(struct yw_reader *r, size_t n, const uint8_t **p);
/* A u16-length-prefixed or u32-length-prefixed byte string; fails if longer than max. */
int yw_get_str16(struct yw_reader *r, const char **s, uint16_t *len);
int yw_get_str32(struct yw_reader *r, const char **s, uint32_t *len, uint32_t max);

/* Writers append to a strbuf (which enforces its own max); they return 0 or YW_ENOMEM /
 * YW_ELIMIT. */
int yw_put_u8(struct yw_strbuf *b, uint8_t v);
int yw_put_u16(struct yw_strbuf *b, uint16_t v);
int yw_put_u32(struct yw_strbuf *b, uint32_t v);
int yw_put_u64(struct yw_strbuf *b, uint64_t v);
int yw_put_str16(struct yw_strbuf *b, const char *s, size_t len); /* YW_ELIMIT if > 65535 */
int yw_put_str32(struct yw_strbuf *b, const char *s, size_t len);

#endif
