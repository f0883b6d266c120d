/* The live hub's tick for yiwang-server (stream.c): what server.c hands yw_live_new. */
#ifndef YIWANG_HTTP_STREAM_H
#define YIWANG_HTTP_STREAM_H

#include "server/live.h"

/* ud is the struct yw_server. Every tick: publishes the alerts stored since the last one
 * ("alert"), and every 2 s the counters ("counters"); store reads only while someone listens. */
void yw_http_stream_tick(void *ud, struct yw_live *l, struct yw_live_tick *t);

/* Seconds between two "counters" events. */
#define YW_HTTP_STREAM_COUNTERS_NS (2LL * 1000000000LL)

#endif
