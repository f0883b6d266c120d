/* The incremental frame decoder: streams split at every position, and every way a header can be
 * wrong (garbage, magic, version, type, flags, reserved byte, oversize), rejected early and for
 * good. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"

/* A stream of several frames of different types and sizes (one compressed). */
static void make_stream(struct yw_strbuf *out)
{
	struct yw_proto *p = yw_proto_new();
	assert_non_null(p);
	struct yw_msg m = {.type = YW_MSG_PING, .ping_nonce = 42};
	assert_int_equal(yw_proto_encode(p, &m, out), 0);
	m = (struct yw_msg){.type = YW_MSG_BYE};
	assert_int_equal(yw_proto_encode(p, &m, out), 0);
	char json[2000];
	memset(json, 'a', sizeof(json));
	m = (struct yw_msg){.type = YW_MSG_CONFIG,
	                    .config = {.revision = 7, .json = json, .json_len = sizeof(json)}};
	assert_int_equal(yw_proto_encode(p, &m, out), 0);
	m = (struct yw_msg){.type = YW_MSG_ACK, .ack_seq = 99};
	assert_int_equal(yw_proto_encode(p, &m, out), 0);
	yw_proto_free(p);
}

/* Decodes what the decoder yields; checks the four frames of make_stream in order. */
static int drain(struct yw_frame_decoder *d, int *seen)
{
	static const uint8_t types[] = {YW_MSG_PING, YW_MSG_BYE, YW_MSG_CONFIG, YW_MSG_ACK};
	struct yw_proto *p = yw_proto_new();
	struct yw_frame f;
	struct yw_msg m;
	int rc;
	while ((rc = yw_frame_next(d, &f)) == 1) {
		assert_true(*seen < 4);
		assert_int_equal(f.type, types[*seen]);
		assert_int_equal(yw_proto_decode(p, &f, &m), 0);
		if (f.type == YW_MSG_PING)
			assert_true(m.ping_nonce == 42);
		if (f.type == YW_MSG_CONFIG) {
			assert_true(f.flags & YW_FRAME_F_ZSTD);
			assert_int_equal(m.config.json_len, 2000);
			assert_true(m.config.revision == 7);
		}
		if (f.type == YW_MSG_ACK)
			assert_true(m.ack_seq == 99);
		(*seen)++;
	}
	yw_proto_free(p);
	return rc;
}

static void test_split_everywhere(void **state)
{
	struct yw_strbuf s = YW_STRBUF_INIT;
	make_stream(&s);
	/* Two chunks, cut at every position. */
	for (size_t cut = 0; cut <= s.len; cut++) {
		struct yw_frame_decoder *d = yw_frame_decoder_new();
		int seen = 0;
		assert_int_equal(yw_frame_feed(d, s.data, cut), 0);
		assert_int_equal(drain(d, &seen), 0);
		assert_int_equal(yw_frame_feed(d, s.data + cut, s.len - cut), 0);
		assert_int_equal(drain(d, &seen), 0);
		assert_int_equal(seen, 4);
		assert_int_equal(yw_frame_pending(d), 0);
		yw_frame_decoder_free(d);
	}
	/* One byte at a time, through the zero-copy interface. */
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	int seen = 0;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t *dst;
		assert_int_equal(yw_frame_space(d, 1, &dst), 0);
		*dst = (uint8_t)s.data[i];
		assert_int_equal(yw_frame_commit(d, 1), 0);
		assert_int_equal(drain(d, &seen), 0);
	}
	assert_int_equal(seen, 4);
	yw_frame_decoder_free(d);
	yw_strbuf_free(&s);
}

static void test_truncated_waits(void **state)
{
	struct yw_strbuf s = YW_STRBUF_INIT;
	make_stream(&s);
	size_t first = YW_FRAME_HEADER + 8; /* the PING */
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	struct yw_frame f;
	for (size_t n = 0; n < first; n++) {
		assert_int_equal(yw_frame_feed(d, s.data + n, 1), 0);
		if (n + 1 < first) {
			assert_int_equal(yw_frame_next(d, &f), 0);
			assert_int_equal(yw_frame_pending(d), n + 1);
		}
	}
	assert_int_equal(yw_frame_next(d, &f), 1);
	assert_int_equal(f.len, 8);
	assert_int_equal(yw_frame_next(d, &f), 0);
	yw_frame_decoder_free(d);
	yw_strbuf_free(&s);
}

/* Feeds hdr (n bytes) and expects err from yw_frame_next after `at` bytes, and sticky after. */
static void expect_reject(const uint8_t *hdr, size_t n, size_t at, int err)
{
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	struct yw_frame f;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(yw_frame_feed(d, hdr + i, 1), 0);
		int rc = yw_frame_next(d, &f);
		if (i + 1 < at) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, err);
			break;
		}
	}
	/* Sticky: a valid frame afterwards does not revive the stream. */
	static const uint8_t ok[] = {'Y', 'W', 1, YW_MSG_BYE, 0, 0, 0, 0, 0, 0};
	assert_int_equal(yw_frame_feed(d, ok, sizeof(ok)), err);
	assert_int_equal(yw_frame_next(d, &f), err);
	uint8_t *dst;
	assert_int_equal(yw_frame_space(d, 16, &dst), err);
	yw_frame_decoder_free(d);
}

static void test_bad_headers(void **state)
{
	/* A valid BYE header, then one broken field at a time. */
	const uint8_t good[] = {'Y', 'W', 1, YW_MSG_BYE, 0, 0, 0, 0, 0, 0};
	uint8_t h[10];

	memcpy(h, good, 10);
	h[0] = 'G'; /* garbage: rejected on the first byte */
	expect_reject(h, 10, 1, YW_EPARSE);
	memcpy(h, good, 10);
	h[1] = 'X';
	expect_reject(h, 10, 2, YW_EPARSE);
	memcpy(h, good, 10);
	h[2] = 2; /* unknown version */
	expect_reject(h, 10, 3, YW_EUNSUP);
	h[2] = 0;
	expect_reject(h, 10, 3, YW_EUNSUP);
	memcpy(h, good, 10);
	h[3] = 0; /* unknown types */
	expect_reject(h, 10, 4, YW_EPARSE);
	h[3] = YW_MSG_TYPE_MAX + 1;
	expect_reject(h, 10, 4, YW_EPARSE);
	h[3] = 0xff;
	expect_reject(h, 10, 4, YW_EPARSE);
	memcpy(h, good, 10);
	h[4] = 0x02; /* unknown flag */
	expect_reject(h, 10, 5, YW_EPARSE);
	h[4] = 0x80;
	expect_reject(h, 10, 5, YW_EPARSE);
	h[4] = YW_FRAME_F_ZSTD; /* compression is not allowed on BYE */
	expect_reject(h, 10, 5, YW_EPARSE);
	memcpy(h, good, 10);
	h[5] = 1; /* reserved byte */
	expect_reject(h, 10, 6, YW_EPARSE);
	memcpy(h, good, 10);
	h[6] = 0x00, h[7] = 0x40, h[8] = 0x00, h[9] = 0x01; /* YW_MAX_FRAME + 1 */
	expect_reject(h, 10, 10, YW_ELIMIT);
	h[6] = 0xff, h[7] = 0xff, h[8] = 0xff, h[9] = 0xff;
	expect_reject(h, 10, 10, YW_ELIMIT);

	/* Plain-text garbage, e.g. an HTTP client on the port. */
	const char *http = "GET / HTTP/1.1\r\n\r\n";
	expect_reject((const uint8_t *)http, strlen(http), 1, YW_EPARSE);
	/* Garbage after a valid frame is found after that frame is returned. */
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	struct yw_frame f;
	assert_int_equal(yw_frame_feed(d, good, 10), 0);
	assert_int_equal(yw_frame_feed(d, "\0\0\0", 3), 0);
	assert_int_equal(yw_frame_next(d, &f), 1);
	assert_int_equal(f.type, YW_MSG_BYE);
	assert_int_equal(f.len, 0);
	assert_int_equal(yw_frame_next(d, &f), YW_EPARSE);
	yw_frame_decoder_free(d);
}

static void test_max_frame(void **state)
{
	/* Exactly YW_MAX_FRAME is accepted, fed in the largest allowed chunks. */
	uint8_t *big = calloc(1, YW_FRAME_HEADER + (size_t)YW_MAX_FRAME);
	assert_non_null(big);
	const uint8_t h[] = {'Y', 'W', 1, YW_MSG_CONFIG, 0, 0, 0x00, 0x40, 0x00, 0x00};
	memcpy(big, h, sizeof(h));
	size_t total = YW_FRAME_HEADER + (size_t)YW_MAX_FRAME;
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	struct yw_frame f;
	for (size_t off = 0; off < total; off += YW_FRAME_FEED_MAX) {
		size_t n = total - off < YW_FRAME_FEED_MAX ? total - off : YW_FRAME_FEED_MAX;
		assert_int_equal(yw_frame_feed(d, big + off, n), 0);
		int rc = yw_frame_next(d, &f);
		assert_int_equal(rc, off + n == total ? 1 : 0);
	}
	assert_int_equal(f.len, YW_MAX_FRAME);
	assert_ptr_not_equal(f.payload, NULL);
	/* Its payload is not a valid CONFIG (all zero: revision 0, empty JSON, then trailing). */
	struct yw_proto *p = yw_proto_new();
	struct yw_msg m;
	assert_int_equal(yw_proto_decode(p, &f, &m), YW_EPARSE);
	yw_proto_free(p);

	/* A chunk larger than the feed limit is a caller error; so is overfilling the buffer. */
	assert_int_equal(yw_frame_feed(d, big, YW_FRAME_FEED_MAX + 1), YW_EINVAL);
	assert_int_equal(yw_frame_feed(d, big, 5), 0); /* a partial header */
	size_t fed = 5;
	int rc = 0;
	while (rc == 0 && fed < total + YW_FRAME_FEED_MAX * 2) {
		rc = yw_frame_feed(d, big + 5, YW_FRAME_FEED_MAX);
		fed += YW_FRAME_FEED_MAX;
	}
	/* Another 4 MiB frame and what follows it, fed without calling yw_frame_next: the
	 * buffer stops at one frame plus one feed. */
	assert_int_equal(rc, YW_ELIMIT);
	yw_frame_decoder_free(d);
	free(big);
}

static void test_commit_bounds(void **state)
{
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	uint8_t *dst;
	assert_int_equal(yw_frame_space(d, 100, &dst), 0);
	assert_int_equal(yw_frame_commit(d, 1u << 30), YW_EINVAL);
	memcpy(dst, "YW\1\7\0\0\0\0\0\10", 10);
	memset(dst + 10, 0xab, 8);
	assert_int_equal(yw_frame_commit(d, 18), 0);
	struct yw_frame f;
	assert_int_equal(yw_frame_next(d, &f), 1);
	assert_int_equal(f.type, YW_MSG_PING);
	assert_int_equal(f.len, 8);
	assert_int_equal(f.payload[7], 0xab);
	assert_int_equal(yw_frame_space(d, YW_FRAME_FEED_MAX + 1, &dst), YW_EINVAL);
	yw_frame_decoder_free(d);
	yw_frame_decoder_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_everywhere), cmocka_unit_test(test_truncated_waits),
	    cmocka_unit_test(test_bad_headers),      cmocka_unit_test(test_max_frame),
	    cmocka_unit_test(test_commit_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
