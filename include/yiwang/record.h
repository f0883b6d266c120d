/* A record: one unit of collected data on its way from a collector on the agent, through the
 * spool and the wire, to the server's decoders. The agent numbers records with a per-agent
 * sequence number, which is what makes delivery exactly-once (docs/protocol.md). */
#ifndef YIWANG_RECORD_H
#define YIWANG_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum yw_record_kind {
	YW_REC_LOG = 1,    /* one raw log line; the server decodes it with --format auto */
	YW_REC_EVENT = 2,  /* one JSON event made on the agent (inventory, FIM, SCA, ...) */
	YW_REC_AGENT = 3,  /* a JSON event about the agent itself (loss counters, start/stop) */
};

struct yw_record {
	uint64_t seq;       /* per-agent sequence number, from 1; 0 = not yet assigned */
	int64_t ts_ns;      /* when the agent collected it, ns since the epoch (UTC) */
	uint8_t kind;       /* enum yw_record_kind */
	const char *source; /* collector and origin, e.g. "file:/var/log/auth.log"; borrowed */
	uint16_t source_len;
	const char *data;   /* payload; borrowed; not NUL-terminated */
	uint32_t len;
};

#endif
