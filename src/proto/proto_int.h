/* Internals shared by the files of src/proto; not part of the public API. */
#ifndef YIWANG_PROTO_INT_H
#define YIWANG_PROTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "yiwang/proto.h"
#include "yiwang/strbuf.h"

struct yw_proto {
	ZSTD_CCtx *cctx;          /* made on first compression, then reused */
	ZSTD_DCtx *dctx;          /* made on first decompression, then reused */
	struct yw_strbuf scratch; /* the plain payload being encoded */
	uint8_t *plain;           /* decompressed payload of the last decoded frame */
	size_t plain_cap;
	struct yw_record *recs; /* records of the last decoded batch */
	size_t recs_cap;
	uint32_t max_records; /* batch limits for yw_proto_encode_batch */
	uint32_t max_bytes;
};

/* Writes the YW_FRAME_HEADER bytes of a frame header to dst. */
void yw_proto_put_header(uint8_t *dst, uint8_t type, uint8_t flags, uint32_t len);

/* Whether frames of this type may carry a compressed payload. */
bool yw_proto_may_compress(uint8_t type);

/* Appends a frame of the given type whose payload is p->scratch, compressed when allowed and
 * smaller. YW_ELIMIT if the payload exceeds YW_MAX_FRAME. */
int yw_proto_emit(struct yw_proto *p, uint8_t type, struct yw_strbuf *out);

/* The plain payload of a frame: the frame's own bytes, or decompressed into p->plain. */
int yw_proto_open(struct yw_proto *p, const struct yw_frame *f, const uint8_t **pl, size_t *len);

#endif
