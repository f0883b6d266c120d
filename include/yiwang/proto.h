/* The agent <-> server wire protocol (docs/protocol.md): length-prefixed, versioned frames
 * carrying typed messages; record batches compressed with zstd. Transport-independent: bytes in,
 * frames out; messages in, bytes out.
 *
 * Receiving: one yw_frame_decoder per connection splits the byte stream into frames; one
 * yw_proto context (per thread, not per connection) decompresses and decodes them:
 *
 *	yw_frame_feed(fd, bytes, n);
 *	while ((rc = yw_frame_next(fd, &f)) == 1) {
 *		if ((rc = yw_proto_decode(p, &f, &m)) < 0)
 *			break;	// send ERROR(yw_proto_errcode(rc)) and close
 *		switch (m.type) { case YW_MSG_BATCH: ... m.batch.records[i] ... }
 *	}
 *	if (rc < 0) ...	// the stream is broken: send ERROR and close
 *
 * Sending: yw_proto_encode() appends one whole frame to a strbuf; several frames may be
 * appended before one write. yw_proto_encode_batch() takes as many records as fit one batch.
 *
 * Strings in decoded messages are borrowed: they point into the frame (valid until the next
 * yw_frame_feed/yw_frame_space on its decoder) or into the yw_proto context's decompression
 * buffer (valid until the next yw_proto_decode on it). They are not NUL-terminated; text fields
 * never contain NUL bytes (the decoder rejects them). */
#ifndef YIWANG_PROTO_H
#define YIWANG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/record.h"
#include "yiwang/strbuf.h"

#define YW_PROTO_VERSION     1    /* the highest version this code speaks */
#define YW_PROTO_VERSION_MIN 1    /* the lowest */
#define YW_FRAME_HEADER      10   /* bytes before the payload: "YW" ver type flags 0 len32 */
#define YW_FRAME_F_ZSTD      0x01 /* flags bit 0: the payload is one zstd frame */

enum yw_msg_type {
	YW_MSG_HELLO = 1,           /* agent -> server */
	YW_MSG_WELCOME = 2,         /* server -> agent */
	YW_MSG_ENROLL = 3,          /* agent -> server */
	YW_MSG_ENROLLED = 4,        /* server -> agent */
	YW_MSG_BATCH = 5,           /* agent -> server */
	YW_MSG_ACK = 6,             /* server -> agent */
	YW_MSG_PING = 7,            /* either way */
	YW_MSG_PONG = 8,            /* either way */
	YW_MSG_CONFIG = 9,          /* server -> agent */
	YW_MSG_COMMAND = 10,        /* server -> agent */
	YW_MSG_COMMAND_RESULT = 11, /* agent -> server */
	YW_MSG_ERROR = 12,          /* either way; the sender closes after it */
	YW_MSG_BYE = 13,            /* either way; clean shutdown */
};
#define YW_MSG_TYPE_MAX 13

/* ERROR codes on the wire. */
enum yw_proto_errcode {
	YW_PERR_PROTOCOL = 1, /* malformed frame or message, unknown type, unexpected message */
	YW_PERR_VERSION = 2,  /* no common protocol version */
	YW_PERR_AUTH = 3,     /* unknown, revoked or unauthenticated agent */
	YW_PERR_ENROLL = 4,   /* enrolment token rejected */
	YW_PERR_LIMIT = 5,    /* a size or count limit exceeded */
	YW_PERR_INTERNAL = 6, /* the sender failed (store error, out of memory) */
	YW_PERR_SHUTDOWN = 7, /* the server is shutting down; reconnect later */
	YW_PERR_BUSY = 8,     /* overloaded or rate-limited; reconnect later */
};
#define YW_PERR_MAX 8

/* COMMAND_RESULT status. */
enum yw_cmd_status {
	YW_CMD_OK = 0,
	YW_CMD_FAILED = 1,  /* ran and failed */
	YW_CMD_DENIED = 2,  /* not allowed by the agent's allowlist */
	YW_CMD_UNKNOWN = 3, /* the agent does not know this command */
};
#define YW_CMD_STATUS_MAX 3

/* ---- frames ---- */

struct yw_frame {
	uint8_t version;
	uint8_t type;           /* enum yw_msg_type; always a known type */
	uint8_t flags;          /* YW_FRAME_F_* */
	const uint8_t *payload; /* borrowed from the frame decoder */
	uint32_t len;           /* <= YW_MAX_FRAME */
};

struct yw_frame_decoder;

/* Returns NULL on allocation failure. The buffer is allocated as data arrives. */
struct yw_frame_decoder *yw_frame_decoder_new(void);
void yw_frame_decoder_free(struct yw_frame_decoder *d);

/* Appends received bytes. Drain frames with yw_frame_next until it returns 0 before feeding
 * again: at most one partial frame plus YW_FRAME_FEED_MAX bytes are buffered, beyond that
 * YW_ELIMIT. Invalidates frames returned earlier. Returns a sticky error once the stream broke. */
int yw_frame_feed(struct yw_frame_decoder *d, const void *p, size_t n);

/* Zero-copy alternative to feed: *p gets room for `want` (<= YW_FRAME_FEED_MAX) bytes to read
 * into, then yw_frame_commit(d, n) with the n bytes actually written. Same rules as feed. */
int yw_frame_space(struct yw_frame_decoder *d, size_t want, uint8_t **p);
int yw_frame_commit(struct yw_frame_decoder *d, size_t n);

/* 1: *f holds the next frame; 0: more bytes needed (a truncated frame waits: the caller
 * enforces timeouts); negative: the stream is broken (YW_EPARSE bad magic, unknown type or
 * flag, reserved byte set; YW_EUNSUP unknown version; YW_ELIMIT oversize). Errors are sticky: send
 * ERROR and close the connection. Headers are checked as their bytes arrive, before any payload. */
int yw_frame_next(struct yw_frame_decoder *d, struct yw_frame *f);

/* Bytes buffered but not yet returned as frames (a partial frame), for idle timeouts. */
size_t yw_frame_pending(const struct yw_frame_decoder *d);

/* ---- messages ---- */

struct yw_msg_hello {
	uint8_t min_version, max_version; /* versions the agent speaks */
	const char *agent_id;             /* from ENROLLED */
	uint16_t agent_id_len;
	const char *agent_version;
	uint16_t agent_version_len;
	const char *hostname;
	uint16_t hostname_len;
	const char *os;
	uint16_t os_len;
	uint64_t
	    next_seq; /* lowest seq the agent still holds unacknowledged (or will assign next) */
};

struct yw_msg_welcome {
	uint8_t version; /* chosen: the highest both speak */
	const char *server_version;
	uint16_t server_version_len;
	uint64_t last_seq;          /* highest seq stored contiguously for this agent; 0 = none */
	uint16_t heartbeat_s;       /* send PING after this many idle seconds; 0 is invalid */
	uint32_t max_batch_records; /* 1..YW_MAX_BATCH_RECORDS */
	uint32_t max_batch_bytes;   /* uncompressed payload, 1..YW_MAX_FRAME */
};

struct yw_msg_enroll {
	const char *token; /* secret: wipe copies after use */
	uint16_t token_len;
	const char *csr_pem;
	uint32_t csr_pem_len;
	const char *hostname;
	uint16_t hostname_len;
	const char *os;
	uint16_t os_len;
	const char *agent_version;
	uint16_t agent_version_len;
};

struct yw_msg_enrolled {
	const char *agent_id;
	uint16_t agent_id_len;
	const char *cert_pem;
	uint32_t cert_pem_len;
	const char *ca_pem; /* the CA chain */
	uint32_t ca_pem_len;
};

struct yw_msg_batch {
	uint64_t first_seq; /* seq of records[0] */
	const struct yw_record
	    *records;   /* seqs strictly increasing; decode: owned by the context */
	uint32_t count; /* 1..YW_MAX_BATCH_RECORDS */
};

struct yw_msg_config {
	uint64_t revision; /* increases with each change; the agent reports what it applied */
	const char *json;
	uint32_t json_len;
};

struct yw_msg_command {
	uint64_t id;
	const char *name;
	uint16_t name_len;
	const char *args_json;
	uint32_t args_json_len;
};

struct yw_msg_command_result {
	uint64_t id;
	uint8_t status; /* enum yw_cmd_status */
	const char *result_json;
	uint32_t result_json_len;
};

struct yw_msg_error {
	uint16_t code; /* enum yw_proto_errcode */
	const char *message;
	uint16_t message_len;
};

struct yw_msg {
	uint8_t type; /* enum yw_msg_type; selects the member */
	union {
		struct yw_msg_hello hello;
		struct yw_msg_welcome welcome;
		struct yw_msg_enroll enroll;
		struct yw_msg_enrolled enrolled;
		struct yw_msg_batch batch;
		uint64_t ack_seq;    /* ACK: highest seq stored contiguously */
		uint64_t ping_nonce; /* PING and PONG: a PONG echoes its PING's nonce */
		struct yw_msg_config config;
		struct yw_msg_command command;
		struct yw_msg_command_result command_result;
		struct yw_msg_error error;
		/* BYE has no payload */
	};
};

/* Compression and decoding context: a zstd compressor and decompressor, the decompression
 * buffer and the record array of the last decoded batch. Not thread-safe; one per thread is
 * enough (it is not tied to a connection). Returns NULL on allocation failure. */
struct yw_proto;
struct yw_proto *yw_proto_new(void);
void yw_proto_free(struct yw_proto *p);

/* Decodes a frame: decompresses it if flagged (content size checked against
 * YW_MAX_FRAME_PLAIN before allocating), then parses it strictly. YW_EPARSE on malformed
 * payloads (trailing bytes, truncated fields, invalid enums, NUL in text, seqs not increasing),
 * YW_ELIMIT on a length beyond limits.h, YW_ENOMEM. *m borrows from the frame and from p. */
int yw_proto_decode(struct yw_proto *p, const struct yw_frame *f, struct yw_msg *m);

/* Appends one frame holding *m to out. Checks the same limits the decoder enforces (YW_ELIMIT,
 * YW_EINVAL), so it never produces what a peer would reject. BATCH, CONFIG, COMMAND and
 * COMMAND_RESULT payloads are compressed when that makes them smaller; messages that carry
 * secrets (ENROLL, ENROLLED) never are. On error out keeps its previous length. */
int yw_proto_encode(struct yw_proto *p, const struct yw_msg *m, struct yw_strbuf *out);

/* Appends one BATCH frame holding records[0..*taken) to out: as many of the n records as fit
 * the batch limits (records and uncompressed bytes; see yw_proto_set_batch_limits). Records
 * must have seq assigned and strictly increasing, a known kind and no NUL in source
 * (YW_EINVAL, nothing written). YW_ELIMIT if the first record alone is too large (data >
 * YW_MAX_RECORD_DATA or source > YW_MAX_PROTO_TEXT); a later one ends the batch before it. */
int yw_proto_encode_batch(struct yw_proto *p, const struct yw_record *records, size_t n,
                          struct yw_strbuf *out, size_t *taken);

/* Parses a decompressed BATCH payload; *records (owned by p) is valid until the next decode on
 * p and points into payload. yw_proto_decode does this for BATCH frames. */
int yw_proto_decode_batch(struct yw_proto *p, const uint8_t *payload, size_t len,
                          struct yw_msg_batch *b);

/* Caps batches made by yw_proto_encode_batch (WELCOME tells the agent the server's wishes).
 * Values are clamped to 1..YW_MAX_BATCH_RECORDS and 64 KiB..YW_MAX_FRAME. The defaults are the
 * maxima. */
void yw_proto_set_batch_limits(struct yw_proto *p, uint32_t max_records, uint32_t max_bytes);

/* The wire ERROR code for a YW_E* code returned by yw_frame_next/yw_proto_decode. */
uint16_t yw_proto_errcode(int err);

/* "HELLO", "BATCH", ...; "?" for unknown types. */
const char *yw_proto_type_name(uint8_t type);
/* Whether a peer may send this type in the given direction (agent -> server or back). */
bool yw_proto_from_agent(uint8_t type);
bool yw_proto_from_server(uint8_t type);

#endif
