/* The server's live side: lock-free counters for /metrics, and a hub that fans stream events
 * (alerts, agents, counters) out to /api/v1/stream clients (docs/api.md).
 *
 * The hub keeps the last YW_LIVE_RING events in a ring with sequence numbers; publishers only
 * append (a short mutex hold, never waiting for a client), each subscriber reads at its own
 * position and is told "reset" when the ring overtook it. A subscriber with nothing to read
 * is parked (its park callback runs, e.g. MHD_suspend_connection) and woken by the next
 * publish, by its ping being due, or by yw_live_close. A thread calls the tick callback every
 * tick_ms (the store poller).
 *
 * Threads: every function may be called from any thread. park and wake run with the hub's
 * lock held: they must be quick and must not call back into the hub. */
#ifndef YIWANG_SERVER_LIVE_H
#define YIWANG_SERVER_LIVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/store.h"
#include "yiwang/strbuf.h"
#include "yw_limits.h"

/* ---- counters ---- */

/* Upper bounds (seconds) of the histogram buckets; the last bucket is +Inf. */
#define YW_LIVE_HIST_N 11
extern const double yw_live_hist_bounds[YW_LIVE_HIST_N];

struct yw_live_hist {
	atomic_uint_least64_t bucket[YW_LIVE_HIST_N + 1]; /* per bucket, not cumulative */
	atomic_uint_least64_t count;
	atomic_uint_least64_t sum_ns;
};

/* HTTP answers are counted per status among these, the rest as "other". */
#define YW_LIVE_HTTP_CODES 14

struct yw_live_counters {
	atomic_uint_least64_t events_received;        /* records handed to the pipeline */
	atomic_uint_least64_t events_stored;          /* records committed */
	atomic_uint_least64_t alerts[YW_LEVEL_COUNT]; /* new alerts stored, by level */
	atomic_int_least64_t agents_connected;        /* live streaming agent connections */
	atomic_uint_least64_t http[YW_LIVE_HTTP_CODES + 1];
	struct yw_live_hist detect; /* record arrival at the server -> its alert stored */
	struct yw_live_hist commit; /* one group commit of the pipeline */
};

/* Monotonic clock, nanoseconds. */
int64_t yw_live_now_ns(void);
void yw_live_hist_observe(struct yw_live_hist *h, int64_t ns);
/* Counts an HTTP answer; c may be NULL. */
void yw_live_http_count(struct yw_live_counters *c, int status);
/* The status counted at index i (0 for the "other" slot i == YW_LIVE_HTTP_CODES). */
int yw_live_http_code(size_t i);

/* What /metrics shows besides the counters, gathered at scrape time. */
struct yw_live_gauges {
	uint64_t agents_enrolled;
	const size_t *queue_depth; /* per pipeline worker */
	size_t workers;
	int64_t notify_pending; /* < 0: notifications are off */
	size_t stream_clients;
	uint64_t rss_bytes;
	double cpu_seconds;
};

/* Appends the Prometheus text exposition (format 0.0.4) of c and g to b. */
int yw_live_expose(struct yw_strbuf *b, const struct yw_live_counters *c,
                   const struct yw_live_gauges *g);
/* The process's resident memory and CPU time from /proc/self; 0 or YW_EIO. */
int yw_live_process(uint64_t *rss_bytes, double *cpu_seconds);

/* ---- the hub ---- */

struct yw_live;
struct yw_live_sub;

/* The tick's own state, kept by the hub thread between calls. */
struct yw_live_tick {
	int64_t now_ns; /* monotonic */
	int started;
	int64_t last_alert_id;
	int64_t next_counters_ns;
	int64_t last_counters_ns;
	uint64_t last_events;
};

struct yw_live_opts {
	size_t ring;     /* events kept; 0 = YW_LIVE_RING */
	int64_t ping_ns; /* a parked subscriber silent this long is woken for a ping */
	int64_t tick_ns; /* 0: no thread */
	void (*tick)(void *ud, struct yw_live *l, struct yw_live_tick *t);
	void *ud;
	size_t max_subs; /* 0 = YW_LIVE_MAX_STREAMS */
};

int yw_live_new(const struct yw_live_opts *o, struct yw_live **out);
/* Closes the subscribers (yw_live_close) and stops the tick thread. NULL is fine. */
void yw_live_stop(struct yw_live *l);
/* Stops, then frees; no subscriber may remain (their owners unsubscribe first). */
void yw_live_free(struct yw_live *l);
/* The counters (valid until yw_live_free); NULL for NULL. */
struct yw_live_counters *yw_live_counters(struct yw_live *l);

/* Appends one event: "event: <event>\n[id: <id>\n]data: <data>\n\n" (id <= 0: no id line;
 * data is one line of JSON). Wakes parked subscribers. YW_ELIMIT when data is over
 * YW_LIVE_MAX_EVENT, YW_ENOMEM. NULL l: does nothing. */
int yw_live_publish(struct yw_live *l, const char *event, int64_t id, const char *data, size_t len);
/* Appends that event's text to t (what publish stores). */
int yw_live_format(struct yw_strbuf *t, const char *event, int64_t id, const char *data,
                   size_t len);
/* Publishes an agent's connect or disconnect and keeps agents_connected. */
int yw_live_agent(struct yw_live *l, const char *id, const char *name, const char *group,
                  int online, int64_t at_ns);
/* Subscribers now. */
size_t yw_live_subscribers(struct yw_live *l);

/* New subscribers are refused from now on; parked ones are woken so their reads end; waits
 * up to wait_ms until none is parked or about to read. Idempotent. */
void yw_live_close(struct yw_live *l, int64_t wait_ms);

struct yw_live_sub_cb {
	void (*park)(void *ud); /* nothing to read: stop asking until wake */
	void (*wake)(void *ud); /* something to read after park */
	void *ud;
};

/* A subscriber reading from the next event on. YW_ELIMIT at max_subs, YW_EINVAL once closed,
 * YW_ENOMEM. Free with yw_live_unsubscribe. */
int yw_live_subscribe(struct yw_live *l, const struct yw_live_sub_cb *cb, struct yw_live_sub **out);
/* Text the subscriber reads before the ring (a replay); alerts with an id <= skip_upto are
 * then left out of the ring's events (the replay has them). */
int yw_live_prime(struct yw_live_sub *s, const char *text, size_t len, int64_t skip_upto);
/* Copies up to max bytes into buf: 0 and *n > 0: data; 0 and *n == 0: nothing now, park has
 * run (wait for wake); 1: the stream ends (closed, or its reset was read). */
int yw_live_read(struct yw_live_sub *s, char *buf, size_t max, int64_t now_ns, size_t *n);
/* Removes and frees s; NULL is fine. */
void yw_live_unsubscribe(struct yw_live_sub *s);

#endif
