/* A per-address token bucket for the HTTP API: `rate` requests a second sustained, bursts of up
 * to `burst`. A fixed table (YW_HTTP_RATE_SLOTS) under one mutex: bounded memory, one short
 * critical section per request. When the probed slots are all taken the least recently seen
 * address is forgotten (its bucket starts full again). */
#ifndef YIWANG_HTTP_RATELIMIT_H
#define YIWANG_HTTP_RATELIMIT_H

#include <stdint.h>

struct yw_ratelimit;

/* rate > 0, burst >= 1. Returns 0 and *out (free with yw_ratelimit_free), YW_EINVAL or
 * YW_ENOMEM. */
int yw_ratelimit_new(double rate, double burst, struct yw_ratelimit **out);
/* NULL is fine. */
void yw_ratelimit_free(struct yw_ratelimit *rl);
/* Takes one token of addr's bucket at now (monotonic ns): 0 when allowed, else the whole
 * seconds (>= 1) after which a token is back (the Retry-After). Any thread. */
int yw_ratelimit_take(struct yw_ratelimit *rl, const char *addr, int64_t now_ns);

#endif
