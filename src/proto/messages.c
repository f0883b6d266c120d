/* Encoding and strict decoding of each message type (docs/protocol.md, "Messages"). Payloads are
 * built in the context's scratch buffer, then framed (and maybe compressed) by yw_proto_emit. */
#include <string.h>

#include "yw_limits.h"
#include "proto/proto_int.h"
#include "yiwang/buf.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"

/* ---- field helpers: text fields are length-prefixed, bounded and free of NUL bytes ---- */

static int put_text16(struct yw_strbuf *b, const char *s, size_t len, size_t max)
{
	if (len > max)
		return YW_ELIMIT;
	if (len && memchr(s, 0, len))
		return YW_EINVAL;
	return yw_put_str16(b, s, len);
}

static int put_text32(struct yw_strbuf *b, const char *s, size_t len, size_t max)
{
	if (len > max)
		return YW_ELIMIT;
	if (len && memchr(s, 0, len))
		return YW_EINVAL;
	return yw_put_str32(b, s, len);
}

static int get_text16(struct yw_reader *r, const char **s, uint16_t *len, size_t max)
{
	if (yw_get_str16(r, s, len))
		return YW_EPARSE;
	if (*len > max)
		return YW_ELIMIT;
	if (*len && memchr(*s, 0, *len))
		return YW_EPARSE;
	return 0;
}

static int get_text32(struct yw_reader *r, const char **s, uint32_t *len, uint32_t max)
{
	int rc = yw_get_str32(r, s, len, max);
	if (rc)
		return rc;
	if (*len && memchr(*s, 0, *len))
		return YW_EPARSE;
	return 0;
}

static int get_u8(struct yw_reader *r, uint8_t *v)
{
	return yw_get_u8(r, v) ? YW_EPARSE : 0;
}

static int get_u16(struct yw_reader *r, uint16_t *v)
{
	return yw_get_u16(r, v) ? YW_EPARSE : 0;
}

static int get_u32(struct yw_reader *r, uint32_t *v)
{
	return yw_get_u32(r, v) ? YW_EPARSE : 0;
}

static int get_u64(struct yw_reader *r, uint64_t *v)
{
	return yw_get_u64(r, v) ? YW_EPARSE : 0;
}

/* ---- value checks shared by encoder and decoder (the encoder reports YW_EINVAL) ---- */

static bool hello_ok(const struct yw_msg_hello *h)
{
	/* max_version may exceed ours: a newer agent offers a range, the server picks. */
	return h->min_version >= 1 && h->min_version <= h->max_version;
}

static bool welcome_ok(const struct yw_msg_welcome *w)
{
	return w->version >= YW_PROTO_VERSION_MIN && w->version <= YW_PROTO_VERSION &&
	       w->heartbeat_s > 0 && w->max_batch_records >= 1 &&
	       w->max_batch_records <= YW_MAX_BATCH_RECORDS && w->max_batch_bytes >= 1 &&
	       w->max_batch_bytes <= YW_MAX_FRAME;
}

/* ---- encoding ---- */

static int encode_payload(const struct yw_msg *m, struct yw_strbuf *b)
{
	int rc = 0;
	switch (m->type) {
	case YW_MSG_HELLO: {
		const struct yw_msg_hello *h = &m->hello;
		if (!hello_ok(h))
			return YW_EINVAL;
		if ((rc = yw_put_u8(b, h->min_version)) || (rc = yw_put_u8(b, h->max_version)) ||
		    (rc = put_text16(b, h->agent_id, h->agent_id_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text16(b, h->agent_version, h->agent_version_len,
		                     YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text16(b, h->hostname, h->hostname_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text16(b, h->os, h->os_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = yw_put_u64(b, h->next_seq)))
			return rc;
		return 0;
	}
	case YW_MSG_WELCOME: {
		const struct yw_msg_welcome *w = &m->welcome;
		if (!welcome_ok(w))
			return YW_EINVAL;
		if ((rc = yw_put_u8(b, w->version)) ||
		    (rc = put_text16(b, w->server_version, w->server_version_len,
		                     YW_MAX_PROTO_TEXT)) ||
		    (rc = yw_put_u64(b, w->last_seq)) || (rc = yw_put_u16(b, w->heartbeat_s)) ||
		    (rc = yw_put_u32(b, w->max_batch_records)) ||
		    (rc = yw_put_u32(b, w->max_batch_bytes)))
			return rc;
		return 0;
	}
	case YW_MSG_ENROLL: {
		const struct yw_msg_enroll *e = &m->enroll;
		if ((rc = put_text16(b, e->token, e->token_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text32(b, e->csr_pem, e->csr_pem_len, YW_MAX_PROTO_PEM)) ||
		    (rc = put_text16(b, e->hostname, e->hostname_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text16(b, e->os, e->os_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text16(b, e->agent_version, e->agent_version_len, YW_MAX_PROTO_TEXT)))
			return rc;
		return 0;
	}
	case YW_MSG_ENROLLED: {
		const struct yw_msg_enrolled *e = &m->enrolled;
		if ((rc = put_text16(b, e->agent_id, e->agent_id_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text32(b, e->cert_pem, e->cert_pem_len, YW_MAX_PROTO_PEM)) ||
		    (rc = put_text32(b, e->ca_pem, e->ca_pem_len, YW_MAX_PROTO_PEM)))
			return rc;
		return 0;
	}
	case YW_MSG_ACK:
		return yw_put_u64(b, m->ack_seq);
	case YW_MSG_PING:
	case YW_MSG_PONG:
		return yw_put_u64(b, m->ping_nonce);
	case YW_MSG_CONFIG:
		if ((rc = yw_put_u64(b, m->config.revision)) ||
		    (rc = put_text32(b, m->config.json, m->config.json_len, YW_MAX_PROTO_JSON)))
			return rc;
		return 0;
	case YW_MSG_COMMAND: {
		const struct yw_msg_command *c = &m->command;
		if ((rc = yw_put_u64(b, c->id)) ||
		    (rc = put_text16(b, c->name, c->name_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = put_text32(b, c->args_json, c->args_json_len, YW_MAX_PROTO_JSON)))
			return rc;
		return 0;
	}
	case YW_MSG_COMMAND_RESULT: {
		const struct yw_msg_command_result *c = &m->command_result;
		if (c->status > YW_CMD_STATUS_MAX)
			return YW_EINVAL;
		if ((rc = yw_put_u64(b, c->id)) || (rc = yw_put_u8(b, c->status)) ||
		    (rc = put_text32(b, c->result_json, c->result_json_len, YW_MAX_PROTO_JSON)))
			return rc;
		return 0;
	}
	case YW_MSG_ERROR:
		if (m->error.code < 1 || m->error.code > YW_PERR_MAX)
			return YW_EINVAL;
		if ((rc = yw_put_u16(b, m->error.code)) ||
		    (rc = put_text16(b, m->error.message, m->error.message_len, YW_MAX_PROTO_TEXT)))
			return rc;
		return 0;
	case YW_MSG_BYE:
		return 0;
	default:
		return YW_EINVAL;
	}
}

int yw_proto_encode(struct yw_proto *p, const struct yw_msg *m, struct yw_strbuf *out)
{
	if (m->type == YW_MSG_BATCH) {
		const struct yw_msg_batch *bt = &m->batch;
		size_t taken, old = out->len;
		if (bt->count == 0 || bt->records[0].seq != bt->first_seq)
			return YW_EINVAL;
		int rc = yw_proto_encode_batch(p, bt->records, bt->count, out, &taken);
		if (rc == 0 && taken != bt->count) {
			out->len = old; /* all records or none */
			out->data[old] = '\0';
			return YW_ELIMIT;
		}
		return rc;
	}
	yw_strbuf_reset(&p->scratch);
	int rc = encode_payload(m, &p->scratch);
	if (rc == 0)
		rc = yw_proto_emit(p, m->type, out);
	if (m->type == YW_MSG_ENROLL && p->scratch.len)
		explicit_bzero(p->scratch.data, p->scratch.len); /* the token stays in out only */
	return rc;
}

/* ---- decoding ---- */

static int decode_payload(struct yw_reader *r, uint8_t type, struct yw_msg *m)
{
	int rc = 0;
	switch (type) {
	case YW_MSG_HELLO: {
		struct yw_msg_hello *h = &m->hello;
		if ((rc = get_u8(r, &h->min_version)) || (rc = get_u8(r, &h->max_version)) ||
		    (rc = get_text16(r, &h->agent_id, &h->agent_id_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text16(r, &h->agent_version, &h->agent_version_len,
		                     YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text16(r, &h->hostname, &h->hostname_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text16(r, &h->os, &h->os_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_u64(r, &h->next_seq)))
			return rc;
		return hello_ok(h) ? 0 : YW_EPARSE;
	}
	case YW_MSG_WELCOME: {
		struct yw_msg_welcome *w = &m->welcome;
		if ((rc = get_u8(r, &w->version)) ||
		    (rc = get_text16(r, &w->server_version, &w->server_version_len,
		                     YW_MAX_PROTO_TEXT)) ||
		    (rc = get_u64(r, &w->last_seq)) || (rc = get_u16(r, &w->heartbeat_s)) ||
		    (rc = get_u32(r, &w->max_batch_records)) ||
		    (rc = get_u32(r, &w->max_batch_bytes)))
			return rc;
		return welcome_ok(w) ? 0 : YW_EPARSE;
	}
	case YW_MSG_ENROLL: {
		struct yw_msg_enroll *e = &m->enroll;
		if ((rc = get_text16(r, &e->token, &e->token_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text32(r, &e->csr_pem, &e->csr_pem_len, YW_MAX_PROTO_PEM)) ||
		    (rc = get_text16(r, &e->hostname, &e->hostname_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text16(r, &e->os, &e->os_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text16(r, &e->agent_version, &e->agent_version_len,
		                     YW_MAX_PROTO_TEXT)))
			return rc;
		return 0;
	}
	case YW_MSG_ENROLLED: {
		struct yw_msg_enrolled *e = &m->enrolled;
		if ((rc = get_text16(r, &e->agent_id, &e->agent_id_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text32(r, &e->cert_pem, &e->cert_pem_len, YW_MAX_PROTO_PEM)) ||
		    (rc = get_text32(r, &e->ca_pem, &e->ca_pem_len, YW_MAX_PROTO_PEM)))
			return rc;
		return 0;
	}
	case YW_MSG_ACK:
		return get_u64(r, &m->ack_seq);
	case YW_MSG_PING:
	case YW_MSG_PONG:
		return get_u64(r, &m->ping_nonce);
	case YW_MSG_CONFIG:
		if ((rc = get_u64(r, &m->config.revision)) ||
		    (rc = get_text32(r, &m->config.json, &m->config.json_len, YW_MAX_PROTO_JSON)))
			return rc;
		return 0;
	case YW_MSG_COMMAND: {
		struct yw_msg_command *c = &m->command;
		if ((rc = get_u64(r, &c->id)) ||
		    (rc = get_text16(r, &c->name, &c->name_len, YW_MAX_PROTO_TEXT)) ||
		    (rc = get_text32(r, &c->args_json, &c->args_json_len, YW_MAX_PROTO_JSON)))
			return rc;
		return 0;
	}
	case YW_MSG_COMMAND_RESULT: {
		struct yw_msg_command_result *c = &m->command_result;
		if ((rc = get_u64(r, &c->id)) || (rc = get_u8(r, &c->status)) ||
		    (rc = get_text32(r, &c->result_json, &c->result_json_len, YW_MAX_PROTO_JSON)))
			return rc;
		return c->status <= YW_CMD_STATUS_MAX ? 0 : YW_EPARSE;
	}
	case YW_MSG_ERROR:
		if ((rc = get_u16(r, &m->error.code)) ||
		    (rc = get_text16(r, &m->error.message, &m->error.message_len,
		                     YW_MAX_PROTO_TEXT)))
			return rc;
		return m->error.code >= 1 && m->error.code <= YW_PERR_MAX ? 0 : YW_EPARSE;
	case YW_MSG_BYE:
		return 0;
	default:
		return YW_EPARSE;
	}
}

int yw_proto_decode(struct yw_proto *p, const struct yw_frame *f, struct yw_msg *m)
{
	const uint8_t *pl;
	size_t len;
	memset(m, 0, sizeof(*m));
	if (f->version < YW_PROTO_VERSION_MIN || f->version > YW_PROTO_VERSION)
		return YW_EUNSUP;
	if (f->len > YW_MAX_FRAME)
		return YW_ELIMIT;
	int rc = yw_proto_open(p, f, &pl, &len);
	if (rc)
		return rc;
	m->type = f->type;
	if (f->type == YW_MSG_BATCH)
		return yw_proto_decode_batch(p, pl, len, &m->batch);
	struct yw_reader r;
	yw_reader_init(&r, pl, len);
	if ((rc = decode_payload(&r, f->type, m)) != 0)
		return rc;
	return r.len == 0 ? 0 : YW_EPARSE; /* trailing bytes */
}

/* ---- names and directions ---- */

static const char *const type_names[YW_MSG_TYPE_MAX + 1] = {
    [YW_MSG_HELLO] = "HELLO",
    [YW_MSG_WELCOME] = "WELCOME",
    [YW_MSG_ENROLL] = "ENROLL",
    [YW_MSG_ENROLLED] = "ENROLLED",
    [YW_MSG_BATCH] = "BATCH",
    [YW_MSG_ACK] = "ACK",
    [YW_MSG_PING] = "PING",
    [YW_MSG_PONG] = "PONG",
    [YW_MSG_CONFIG] = "CONFIG",
    [YW_MSG_COMMAND] = "COMMAND",
    [YW_MSG_COMMAND_RESULT] = "COMMAND_RESULT",
    [YW_MSG_ERROR] = "ERROR",
    [YW_MSG_BYE] = "BYE",
};

const char *yw_proto_type_name(uint8_t type)
{
	return type >= 1 && type <= YW_MSG_TYPE_MAX ? type_names[type] : "?";
}

bool yw_proto_from_agent(uint8_t type)
{
	switch (type) {
	case YW_MSG_HELLO:
	case YW_MSG_ENROLL:
	case YW_MSG_BATCH:
	case YW_MSG_COMMAND_RESULT:
	case YW_MSG_PING:
	case YW_MSG_PONG:
	case YW_MSG_ERROR:
	case YW_MSG_BYE:
		return true;
	default:
		return false;
	}
}

bool yw_proto_from_server(uint8_t type)
{
	switch (type) {
	case YW_MSG_WELCOME:
	case YW_MSG_ENROLLED:
	case YW_MSG_ACK:
	case YW_MSG_CONFIG:
	case YW_MSG_COMMAND:
	case YW_MSG_PING:
	case YW_MSG_PONG:
	case YW_MSG_ERROR:
	case YW_MSG_BYE:
		return true;
	default:
		return false;
	}
}

uint16_t yw_proto_errcode(int err)
{
	switch (err) {
	case YW_EUNSUP:
		return YW_PERR_VERSION;
	case YW_ELIMIT:
		return YW_PERR_LIMIT;
	case YW_ENOMEM:
	case YW_EIO:
		return YW_PERR_INTERNAL;
	default:
		return YW_PERR_PROTOCOL;
	}
}
