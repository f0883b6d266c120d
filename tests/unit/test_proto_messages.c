/* Messages and batches: round trips of every type, strict decoding (trailing and missing bytes,
 * invalid enums, NUL in text, limits), batch sequence rules, and zstd bombs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "yw_limits.h"
#include "proto/proto_int.h"
#include "yiwang/buf.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"

#define S(x)   x, (uint16_t)(sizeof(x) - 1)
#define S32(x) x, (uint32_t)(sizeof(x) - 1)

static struct yw_proto *P;
static struct yw_frame_decoder *D; /* decoded messages may borrow from its buffer */

static int setup(void **state)
{
	P = yw_proto_new();
	D = yw_frame_decoder_new();
	return P && D ? 0 : -1;
}

static int teardown(void **state)
{
	yw_proto_free(P);
	yw_frame_decoder_free(D);
	return 0;
}

/* Encodes m, splits the bytes back into exactly one frame and decodes it into *out. */
static int round_trip(const struct yw_msg *m, struct yw_strbuf *wire, struct yw_msg *out)
{
	yw_strbuf_reset(wire);
	int rc = yw_proto_encode(P, m, wire);
	if (rc)
		return rc;
	struct yw_frame f;
	assert_int_equal(yw_frame_feed(D, wire->data, wire->len), 0);
	assert_int_equal(yw_frame_next(D, &f), 1);
	assert_int_equal(f.type, m->type);
	rc = yw_proto_decode(P, &f, out);
	assert_int_equal(yw_frame_next(D, &f), 0);
	return rc;
}

static void eq(const char *a, size_t an, const char *b, size_t bn)
{
	assert_int_equal(an, bn);
	if (an)
		assert_memory_equal(a, b, an);
}

static struct yw_msg sample(uint8_t type)
{
	struct yw_msg m = {.type = type};
	switch (type) {
	case YW_MSG_HELLO:
		m.hello = (struct yw_msg_hello){
		    1, 1, S("3f2a-agent"), S("0.1.0"), S("web-01"), S("Debian 12"), 12345};
		break;
	case YW_MSG_WELCOME:
		m.welcome = (struct yw_msg_welcome){1, S("0.1.0"), 12344, 30, 5000, 1 << 20};
		break;
	case YW_MSG_ENROLL:
		m.enroll = (struct yw_msg_enroll){S("tok-secret"), S32("-----BEGIN CSR-----"),
		                                  S("web-01"), S("Debian 12"), S("0.1.0")};
		break;
	case YW_MSG_ENROLLED:
		m.enrolled = (struct yw_msg_enrolled){S("3f2a-agent"), S32("-----CERT-----"),
		                                      S32("-----CA-----")};
		break;
	case YW_MSG_ACK:
		m.ack_seq = UINT64_MAX - 1;
		break;
	case YW_MSG_PING:
	case YW_MSG_PONG:
		m.ping_nonce = 0x0123456789abcdefULL;
		break;
	case YW_MSG_CONFIG:
		m.config = (struct yw_msg_config){9, S32("{\"a\":1}")};
		break;
	case YW_MSG_COMMAND:
		m.command = (struct yw_msg_command){77, S("block_ip"), S32("{\"ip\":\"1.2.3.4\"}")};
		break;
	case YW_MSG_COMMAND_RESULT:
		m.command_result = (struct yw_msg_command_result){77, YW_CMD_DENIED, S32("{}")};
		break;
	case YW_MSG_ERROR:
		m.error = (struct yw_msg_error){YW_PERR_LIMIT, S("frame too large")};
		break;
	default:
		break;
	}
	return m;
}

static void test_round_trip_all(void **state)
{
	struct yw_strbuf w = YW_STRBUF_INIT;
	struct yw_msg m, o;
	for (uint8_t t = 1; t <= YW_MSG_TYPE_MAX; t++) {
		if (t == YW_MSG_BATCH)
			continue;
		m = sample(t);
		assert_int_equal(round_trip(&m, &w, &o), 0);
		assert_int_equal(o.type, t);
		assert_string_not_equal(yw_proto_type_name(t), "?");
		assert_true(yw_proto_from_agent(t) || yw_proto_from_server(t));
	}
	m = sample(YW_MSG_HELLO);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_int_equal(o.hello.min_version, 1);
	assert_int_equal(o.hello.max_version, 1);
	eq(o.hello.agent_id, o.hello.agent_id_len, S("3f2a-agent"));
	eq(o.hello.agent_version, o.hello.agent_version_len, S("0.1.0"));
	eq(o.hello.hostname, o.hello.hostname_len, S("web-01"));
	eq(o.hello.os, o.hello.os_len, S("Debian 12"));
	assert_true(o.hello.next_seq == 12345);

	m = sample(YW_MSG_WELCOME);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_int_equal(o.welcome.version, 1);
	eq(o.welcome.server_version, o.welcome.server_version_len, S("0.1.0"));
	assert_true(o.welcome.last_seq == 12344);
	assert_int_equal(o.welcome.heartbeat_s, 30);
	assert_int_equal(o.welcome.max_batch_records, 5000);
	assert_int_equal(o.welcome.max_batch_bytes, 1 << 20);

	m = sample(YW_MSG_ENROLL);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	eq(o.enroll.token, o.enroll.token_len, S("tok-secret"));
	eq(o.enroll.csr_pem, o.enroll.csr_pem_len, S("-----BEGIN CSR-----"));
	eq(o.enroll.hostname, o.enroll.hostname_len, S("web-01"));
	eq(o.enroll.os, o.enroll.os_len, S("Debian 12"));
	eq(o.enroll.agent_version, o.enroll.agent_version_len, S("0.1.0"));

	m = sample(YW_MSG_ENROLLED);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	eq(o.enrolled.agent_id, o.enrolled.agent_id_len, S("3f2a-agent"));
	eq(o.enrolled.cert_pem, o.enrolled.cert_pem_len, S("-----CERT-----"));
	eq(o.enrolled.ca_pem, o.enrolled.ca_pem_len, S("-----CA-----"));

	m = sample(YW_MSG_ACK);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_true(o.ack_seq == UINT64_MAX - 1);
	m = sample(YW_MSG_PONG);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_true(o.ping_nonce == 0x0123456789abcdefULL);

	m = sample(YW_MSG_CONFIG);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_true(o.config.revision == 9);
	eq(o.config.json, o.config.json_len, S("{\"a\":1}"));

	m = sample(YW_MSG_COMMAND);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_true(o.command.id == 77);
	eq(o.command.name, o.command.name_len, S("block_ip"));
	eq(o.command.args_json, o.command.args_json_len, S("{\"ip\":\"1.2.3.4\"}"));

	m = sample(YW_MSG_COMMAND_RESULT);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_true(o.command_result.id == 77);
	assert_int_equal(o.command_result.status, YW_CMD_DENIED);
	eq(o.command_result.result_json, o.command_result.result_json_len, S("{}"));

	m = sample(YW_MSG_ERROR);
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_int_equal(o.error.code, YW_PERR_LIMIT);
	eq(o.error.message, o.error.message_len, S("frame too large"));

	/* The exact bytes of a PING: the layout in docs/protocol.md. */
	m = sample(YW_MSG_PING);
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode(P, &m, &w), 0);
	assert_int_equal(w.len, 18);
	assert_memory_equal(
	    w.data, "YW\x01\x07\x00\x00\x00\x00\x00\x08\x01\x23\x45\x67\x89\xab\xcd\xef", 18);
	yw_strbuf_free(&w);
}

/* Decodes a hand-made plain payload of the given type. */
static int decode_raw(uint8_t type, const void *pl, size_t len, struct yw_msg *m)
{
	struct yw_frame f = {.version = 1, .type = type, .payload = pl, .len = (uint32_t)len};
	return yw_proto_decode(P, &f, m);
}

static void test_strict(void **state)
{
	struct yw_strbuf w = YW_STRBUF_INIT;
	struct yw_msg m, o;
	/* Every message with one byte too many or any number of bytes too few fails. */
	for (uint8_t t = 1; t <= YW_MSG_TYPE_MAX; t++) {
		if (t == YW_MSG_BATCH)
			continue;
		m = sample(t);
		yw_strbuf_reset(&w);
		assert_int_equal(yw_proto_encode(P, &m, &w), 0);
		size_t n = w.len - YW_FRAME_HEADER;
		char *pl = malloc(n + 1);
		memcpy(pl, w.data + YW_FRAME_HEADER, n);
		pl[n] = 'x';
		assert_int_equal(decode_raw(t, pl, n, &o), 0);
		assert_int_equal(decode_raw(t, pl, n + 1, &o), YW_EPARSE);
		for (size_t cut = 0; cut < n; cut++)
			assert_int_equal(decode_raw(t, pl, cut, &o), YW_EPARSE);
		free(pl);
	}

	/* Invalid enums and values, refused by the encoder and by the decoder. */
	m = sample(YW_MSG_ERROR);
	m.error.code = 0;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	assert_int_equal(decode_raw(YW_MSG_ERROR, "\x00\x09\x00\x00", 4, &o), YW_EPARSE);
	assert_int_equal(decode_raw(YW_MSG_ERROR, "\x00\x08\x00\x00", 4, &o), 0);
	m = sample(YW_MSG_COMMAND_RESULT);
	m.command_result.status = YW_CMD_STATUS_MAX + 1;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	assert_int_equal(decode_raw(YW_MSG_COMMAND_RESULT, "\0\0\0\0\0\0\0\1\4\0\0\0\0", 13, &o),
	                 YW_EPARSE);
	assert_int_equal(decode_raw(YW_MSG_COMMAND_RESULT, "\0\0\0\0\0\0\0\1\3\0\0\0\0", 13, &o),
	                 0);
	m = sample(YW_MSG_HELLO);
	m.hello.min_version = 2; /* min > max */
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	m = sample(YW_MSG_WELCOME);
	m.welcome.heartbeat_s = 0;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	m = sample(YW_MSG_WELCOME);
	m.welcome.max_batch_records = YW_MAX_BATCH_RECORDS + 1;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	m = sample(YW_MSG_WELCOME);
	m.welcome.version = 2;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	/* WELCOME decoding: version 1, "" server, last 0, heartbeat 0 -> invalid. */
	static const uint8_t wel[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                              0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
	assert_int_equal(decode_raw(YW_MSG_WELCOME, wel, sizeof(wel), &o), YW_EPARSE);
	m = (struct yw_msg){.type = 0};
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	m = (struct yw_msg){.type = YW_MSG_TYPE_MAX + 1};
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);

	/* NUL inside text: the encoder refuses, the decoder rejects. */
	m = sample(YW_MSG_HELLO);
	m.hello.hostname = "web\0evil";
	m.hello.hostname_len = 8;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_EINVAL);
	assert_int_equal(decode_raw(YW_MSG_ERROR,
	                            "\x00\x01\x00\x03"
	                            "a\0b",
	                            7, &o),
	                 YW_EPARSE);
	assert_int_equal(decode_raw(YW_MSG_CONFIG, "\0\0\0\0\0\0\0\0\0\0\0\1\0", 13, &o),
	                 YW_EPARSE);

	/* Lengths beyond the limits. */
	size_t big = YW_MAX_PROTO_JSON + 1;
	char *txt = malloc(big);
	memset(txt, 'a', big);
	m = sample(YW_MSG_ERROR);
	m.error.message = txt;
	m.error.message_len = YW_MAX_PROTO_TEXT + 1;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_ELIMIT);
	m.error.message_len = YW_MAX_PROTO_TEXT;
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode(P, &m, &w), 0);
	m = sample(YW_MSG_CONFIG);
	m.config.json = txt;
	m.config.json_len = (uint32_t)big;
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_ELIMIT);
	/* A decoded text length over the limit (the bytes are there). */
	uint8_t *raw = malloc(4 + YW_MAX_PROTO_TEXT + 1);
	raw[0] = 0, raw[1] = 1;
	raw[2] = (YW_MAX_PROTO_TEXT + 1) >> 8, raw[3] = (YW_MAX_PROTO_TEXT + 1) & 0xff;
	memset(raw + 4, 'a', YW_MAX_PROTO_TEXT + 1);
	assert_int_equal(decode_raw(YW_MSG_ERROR, raw, 4 + YW_MAX_PROTO_TEXT + 1, &o), YW_ELIMIT);
	/* A JSON length over the limit is refused before reading it. */
	assert_int_equal(decode_raw(YW_MSG_CONFIG, "\0\0\0\0\0\0\0\0\x00\x10\x00\x01", 12, &o),
	                 YW_ELIMIT);
	assert_int_equal(decode_raw(YW_MSG_CONFIG, "\0\0\0\0\0\0\0\0\xff\xff\xff\xff", 12, &o),
	                 YW_ELIMIT);
	free(raw);
	free(txt);

	/* Frames of unknown version given to yw_proto_decode directly. */
	struct yw_frame f = {.version = 2, .type = YW_MSG_BYE};
	assert_int_equal(yw_proto_decode(P, &f, &o), YW_EUNSUP);
	assert_int_equal(yw_proto_errcode(YW_EUNSUP), YW_PERR_VERSION);
	assert_int_equal(yw_proto_errcode(YW_EPARSE), YW_PERR_PROTOCOL);
	assert_int_equal(yw_proto_errcode(YW_ELIMIT), YW_PERR_LIMIT);
	yw_strbuf_free(&w);
}

/* n log records from seq first, ~200 bytes each; data in *buf (caller frees). */
static struct yw_record *make_records(size_t n, uint64_t first, char **buf)
{
	struct yw_record *r = calloc(n, sizeof(*r));
	*buf = malloc(n * 256);
	for (size_t i = 0; i < n; i++) {
		char *d = *buf + i * 256;
		int len = snprintf(d, 256,
		                   "Nov 26 10:%02zu:%02zu web-01 sshd[%zu]: Failed password for "
		                   "invalid user admin%zu from 203.0.113.%zu port %zu ssh2 "
		                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		                   (i / 60) % 60, i % 60, 1000 + i, i * 7, i % 250, 40000 + i);
		r[i] = (struct yw_record){.seq = first + i,
		                          .ts_ns = 1700000000000000000LL + (int64_t)i,
		                          .kind = YW_REC_LOG,
		                          .source = "file:/var/log/auth.log",
		                          .source_len = 22,
		                          .data = d,
		                          .len = (uint32_t)len};
	}
	return r;
}

static void test_batch_round_trip(void **state)
{
	char *buf;
	struct yw_record *r = make_records(1000, 500, &buf);
	r[10].seq += 5; /* gaps are allowed, as long as seqs increase */
	for (size_t i = 11; i < 1000; i++)
		r[i].seq += 100;
	r[3].kind = YW_REC_EVENT;
	r[4].source_len = 0;
	r[5].len = 0;
	r[6].ts_ns = -5;
	struct yw_strbuf w = YW_STRBUF_INIT;
	struct yw_msg m = {.type = YW_MSG_BATCH, .batch = {500, r, 1000}}, o;
	size_t plain = 0;
	for (size_t i = 0; i < 1000; i++)
		plain += 19 + r[i].source_len + r[i].len;
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_true(w.data[4] & YW_FRAME_F_ZSTD);
	assert_true(w.len < plain / 3); /* log lines compress well */
	assert_int_equal(o.batch.count, 1000);
	assert_true(o.batch.first_seq == 500);
	for (size_t i = 0; i < 1000; i++) {
		const struct yw_record *a = &r[i], *b = &o.batch.records[i];
		assert_true(a->seq == b->seq);
		assert_true(a->ts_ns == b->ts_ns);
		assert_int_equal(a->kind, b->kind);
		eq(a->source, a->source_len, b->source, b->source_len);
		eq(a->data, a->len, b->data, b->len);
	}

	/* Limits: records per batch, then bytes. */
	size_t taken;
	yw_proto_set_batch_limits(P, 300, YW_MAX_FRAME);
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode_batch(P, r, 1000, &w, &taken), 0);
	assert_int_equal(taken, 300);
	yw_proto_set_batch_limits(P, 0, 0); /* clamped to 1 record, 64 KiB */
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode_batch(P, r, 1000, &w, &taken), 0);
	assert_int_equal(taken, 1);
	yw_proto_set_batch_limits(P, UINT32_MAX, 64 * 1024);
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode_batch(P, r, 1000, &w, &taken), 0);
	assert_true(taken > 200 && taken < 400);
	/* yw_proto_encode sends all records or none. */
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode(P, &m, &w), YW_ELIMIT);
	assert_int_equal(w.len, 0);
	yw_proto_set_batch_limits(P, UINT32_MAX, UINT32_MAX);

	/* Binary data survives. */
	for (size_t i = 0; i < 1000; i++)
		for (size_t j = 0; j < 200; j++)
			buf[i * 256 + j] = (char)(rand() & 0xff);
	for (size_t i = 0; i < 1000; i++)
		r[i].len = 200;
	assert_int_equal(round_trip(&m, &w, &o), 0);
	assert_int_equal(o.batch.count, 1000);
	eq(o.batch.records[999].data, 200, r[999].data, 200);
	/* Incompressible payloads go plain. */
	for (size_t i = 0; i < 4000; i++)
		buf[i] = (char)(1 + rand() % 255);
	struct yw_msg c = {.type = YW_MSG_CONFIG, .config = {1, buf, 4000}};
	assert_int_equal(round_trip(&c, &w, &o), 0);
	assert_false(w.data[4] & YW_FRAME_F_ZSTD);
	eq(o.config.json, o.config.json_len, buf, 4000);

	/* A gap too wide for a delta ends the batch. */
	r[1].seq = r[0].seq + (1ULL << 32) + 1;
	for (size_t i = 2; i < 1000; i++)
		r[i].seq = r[1].seq + i;
	yw_strbuf_reset(&w);
	assert_int_equal(yw_proto_encode_batch(P, r, 1000, &w, &taken), 0);
	assert_int_equal(taken, 1);
	/* A record too large alone is refused; after others, it ends the batch. */
	r[2].len = YW_MAX_RECORD_DATA + 1;
	assert_int_equal(yw_proto_encode_batch(P, r + 1, 999, &w, &taken), 0);
	assert_int_equal(taken, 1);
	assert_int_equal(yw_proto_encode_batch(P, r + 2, 998, &w, &taken), YW_ELIMIT);
	assert_int_equal(taken, 0);
	r[2].len = 200;
	/* Caller errors: seqs not increasing, seq 0, unknown kind, NUL in source. */
	r[5].seq = r[4].seq;
	assert_int_equal(yw_proto_encode_batch(P, r + 1, 999, &w, &taken), YW_EINVAL);
	r[5].seq = r[4].seq + 1;
	r[1].seq = 0;
	assert_int_equal(yw_proto_encode_batch(P, r + 1, 999, &w, &taken), YW_EINVAL);
	r[1].seq = r[2].seq - 1;
	r[3].kind = 9;
	assert_int_equal(yw_proto_encode_batch(P, r + 1, 999, &w, &taken), YW_EINVAL);
	r[3].kind = YW_REC_LOG;
	r[3].source = "a\0b";
	r[3].source_len = 3;
	assert_int_equal(yw_proto_encode_batch(P, r + 1, 999, &w, &taken), YW_EINVAL);
	assert_int_equal(yw_proto_encode_batch(P, r, 0, &w, &taken), YW_EINVAL);
	yw_strbuf_free(&w);
	free(buf);
	free(r);
}

/* A batch payload built by hand: records as (delta, kind, source, data). */
struct raw_rec {
	uint32_t delta;
	uint8_t kind;
	const char *src, *data;
};

static size_t raw_batch(uint8_t *out, uint64_t first, uint32_t count, const struct raw_rec *r,
                        size_t n)
{
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_put_u64(&b, first), 0);
	assert_int_equal(yw_put_u32(&b, count), 0);
	for (size_t i = 0; i < n; i++) {
		yw_put_u32(&b, r[i].delta);
		yw_put_u64(&b, 1);
		yw_put_u8(&b, r[i].kind);
		yw_put_str16(&b, r[i].src, strlen(r[i].src));
		yw_put_str32(&b, r[i].data, strlen(r[i].data));
	}
	memcpy(out, b.data, b.len);
	size_t len = b.len;
	yw_strbuf_free(&b);
	return len;
}

static void test_batch_strict(void **state)
{
	uint8_t pl[512];
	struct yw_msg_batch b;
	size_t n;
	const struct raw_rec ok[] = {{0, 1, "s", "one"}, {1, 1, "s", "two"}, {3, 2, "", "{}"}};

	n = raw_batch(pl, 10, 3, ok, 3);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), 0);
	assert_int_equal(b.count, 3);
	assert_true(b.records[0].seq == 10 && b.records[1].seq == 11 && b.records[2].seq == 14);
	assert_true(b.records[0].ts_ns == 1);
	eq(b.records[1].data, b.records[1].len, S("two"));

	/* Every truncation, and trailing bytes. */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(yw_proto_decode_batch(P, pl, cut, &b), YW_EPARSE);
	pl[n] = 0;
	assert_int_equal(yw_proto_decode_batch(P, pl, n + 1, &b), YW_EPARSE);
	/* Count mismatch either way. */
	n = raw_batch(pl, 10, 2, ok, 3);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	n = raw_batch(pl, 10, 4, ok, 3);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	/* A count the payload cannot hold, an empty batch, too many records. */
	n = raw_batch(pl, 10, 10000, ok, 3);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	n = raw_batch(pl, 10, 0, ok, 0);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	n = raw_batch(pl, 10, YW_MAX_BATCH_RECORDS + 1, ok, 3);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_ELIMIT);
	/* Seqs: first_seq 0, first delta not 0, a later delta 0 (not increasing), overflow. */
	n = raw_batch(pl, 0, 3, ok, 3);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	const struct raw_rec d0[] = {{1, 1, "s", "a"}, {1, 1, "s", "b"}};
	n = raw_batch(pl, 10, 2, d0, 2);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	const struct raw_rec dup[] = {{0, 1, "s", "a"}, {0, 1, "s", "b"}};
	n = raw_batch(pl, 10, 2, dup, 2);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	const struct raw_rec ovf[] = {{0, 1, "s", "a"}, {2, 1, "s", "b"}};
	n = raw_batch(pl, UINT64_MAX - 1, 2, ovf, 2);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	/* Unknown kinds. */
	const struct raw_rec k0[] = {{0, 0, "s", "a"}};
	n = raw_batch(pl, 10, 1, k0, 1);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	const struct raw_rec k4[] = {{0, 4, "s", "a"}};
	n = raw_batch(pl, 10, 1, k4, 1);
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_EPARSE);
	/* A data length over the record limit. */
	n = raw_batch(pl, 10, 1, ok, 1);
	uint32_t big = YW_MAX_RECORD_DATA + 1;
	pl[n - 7] = (uint8_t)(big >> 24), pl[n - 6] = (uint8_t)(big >> 16);
	pl[n - 5] = (uint8_t)(big >> 8), pl[n - 4] = (uint8_t)big;
	assert_int_equal(yw_proto_decode_batch(P, pl, n, &b), YW_ELIMIT);
}

/* A compressed frame of the given type around src. */
static size_t zframe(uint8_t *dst, size_t cap, const void *src, size_t len)
{
	size_t c = ZSTD_compress(dst, cap, src, len, 1);
	assert_false(ZSTD_isError(c));
	return c;
}

static int decode_z(uint8_t type, const void *z, size_t zlen)
{
	struct yw_frame f = {.version = 1,
	                     .type = type,
	                     .flags = YW_FRAME_F_ZSTD,
	                     .payload = z,
	                     .len = (uint32_t)zlen};
	struct yw_msg m;
	return yw_proto_decode(P, &f, &m);
}

static void test_zstd_bombs(void **state)
{
	/* A fresh context, so its buffer size shows what a bomb made it allocate. */
	struct yw_proto *saved = P;
	P = yw_proto_new();
	size_t bomb_len = (size_t)YW_MAX_FRAME_PLAIN + 1;
	uint8_t *zeros = calloc(1, bomb_len);
	size_t cap = ZSTD_compressBound(bomb_len);
	uint8_t *z = malloc(cap);

	/* 16 MiB + 1 of zeros compresses to a few hundred bytes; refused from its header. */
	size_t zl = zframe(z, cap, zeros, bomb_len);
	assert_true(zl < 4096);
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl), YW_ELIMIT);
	assert_int_equal(P->plain_cap, 0);

	/* Exactly the limit is accepted (as a payload; not a valid CONFIG). */
	zl = zframe(z, cap, zeros, YW_MAX_FRAME_PLAIN);
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl), YW_EPARSE);
	assert_int_equal(P->plain_cap, YW_MAX_FRAME_PLAIN);

	/* A header that understates or overstates the content: 300 bytes, Frame_Content_Size
	 * in 2 bytes (value - 256) right after the frame header descriptor. */
	memset(zeros, 'q', 300);
	zl = zframe(z, cap, zeros, 300);
	assert_int_equal(z[4] >> 6, 1); /* FCS field of 2 bytes */
	assert_true(z[4] & 0x20);       /* single segment: no window descriptor */
	assert_int_equal(z[5] | z[6] << 8, 44);
	z[5] = 10; /* claims 266 */
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl), YW_EPARSE);
	z[5] = 100; /* claims 356 */
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl), YW_EPARSE);
	z[5] = 44;

	/* A valid CONFIG compressed by hand decodes; with a second frame or trailing garbage,
	 * or behind a skippable frame, it does not. */
	uint8_t cfg[300];
	memset(cfg, 0, 8);
	cfg[8] = 0, cfg[9] = 0, cfg[10] = 1, cfg[11] = 32; /* JSON of 288 bytes */
	memset(cfg + 12, ' ', 288);
	zl = zframe(z, cap, cfg, sizeof(cfg));
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl), 0);
	size_t zl2 = zframe(z + zl, cap - zl, cfg, sizeof(cfg));
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl + zl2), YW_EPARSE);
	z[zl] = 0;
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl + 1), YW_EPARSE);
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, zl - 1), YW_EPARSE);
	uint8_t skip[8 + 300];
	memcpy(skip, "\x50\x2a\x4d\x18\x00\x00\x00\x00", 8); /* skippable frame, 0 bytes */
	zl = zframe(skip + 8, sizeof(skip) - 8, cfg, sizeof(cfg));
	assert_int_equal(decode_z(YW_MSG_CONFIG, skip, 8 + zl), YW_EPARSE);
	assert_int_equal(decode_z(YW_MSG_CONFIG, "\x28\xb5\x2f", 3), YW_EPARSE);
	assert_int_equal(decode_z(YW_MSG_CONFIG, "garbage!garbage!", 16), YW_EPARSE);
	/* Compressed frames of types that must never be compressed. */
	zl = zframe(z, cap, "\0\0\0\0\0\0\0\1", 8);
	assert_int_equal(decode_z(YW_MSG_PING, z, zl), YW_EPARSE);
	/* A frame without a content size (streamed) is refused. */
	ZSTD_CStream *cs = ZSTD_createCStream();
	ZSTD_outBuffer ob = {z, cap, 0};
	ZSTD_inBuffer ib = {cfg, sizeof(cfg), 0};
	assert_false(ZSTD_isError(ZSTD_compressStream2(cs, &ob, &ib, ZSTD_e_continue)));
	assert_int_equal(ZSTD_compressStream2(cs, &ob, &ib, ZSTD_e_end), 0);
	ZSTD_freeCStream(cs);
	assert_int_equal(ZSTD_getFrameContentSize(z, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	assert_int_equal(decode_z(YW_MSG_CONFIG, z, ob.pos), YW_EPARSE);

	free(z);
	free(zeros);
	yw_proto_free(P);
	P = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_all),   cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_batch_round_trip), cmocka_unit_test(test_batch_strict),
	    cmocka_unit_test(test_zstd_bombs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
