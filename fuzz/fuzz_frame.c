/* libFuzzer: arbitrary bytes as a received stream, fed to the incremental frame decoder in chunks
 * of pseudo-random sizes, every frame decoded as a message; and the same bytes as the payload of
 * every message type, plain and compressed. Whatever decodes must encode again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"

/* Anything the decoder accepts, the encoder must accept too (a batch may exceed the encoder's
 * smaller plain-size cap). */
static void reencode(struct yw_proto *p, const struct yw_msg *m)
{
	struct yw_strbuf out = YW_STRBUF_INIT;
	int rc = yw_proto_encode(p, m, &out);
	if (rc && !(m->type == YW_MSG_BATCH && rc == YW_ELIMIT))
		abort();
	yw_strbuf_free(&out);
}

static void stream(struct yw_proto *p, const uint8_t *data, size_t size)
{
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	if (!d)
		return;
	uint32_t x = size ? data[0] * 2654435761u : 1;
	size_t off = 0;
	int rc = 0;
	while (off < size && rc >= 0) {
		x = x * 1103515245u + 12345u;
		size_t n = 1 + (x >> 16) % 64;
		if (n > size - off)
			n = size - off;
		if (yw_frame_feed(d, data + off, n) < 0)
			break;
		off += n;
		struct yw_frame f;
		while ((rc = yw_frame_next(d, &f)) == 1) {
			struct yw_msg m;
			if (yw_proto_decode(p, &f, &m) == 0)
				reencode(p, &m);
		}
	}
	yw_frame_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_proto *p = yw_proto_new();
	if (!p)
		return 0;
	stream(p, data, size);
	if (size <= YW_MAX_FRAME) {
		for (uint8_t t = 1; t <= YW_MSG_TYPE_MAX; t++) {
			for (uint8_t flags = 0; flags <= YW_FRAME_F_ZSTD; flags++) {
				struct yw_frame f = {.version = YW_PROTO_VERSION,
				                     .type = t,
				                     .flags = flags,
				                     .payload = data,
				                     .len = (uint32_t)size};
				struct yw_msg m;
				if (yw_proto_decode(p, &f, &m) == 0)
					reencode(p, &m);
			}
		}
	}
	yw_proto_free(p);
	return 0;
}
