/* The live hub and counters (live.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "yiwang/error.h"
#include "yw_limits.h"

#define NS 1000000000LL

const double yw_live_hist_bounds[YW_LIVE_HIST_N] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1,    2.5,   5,    10};

static const int http_codes[YW_LIVE_HTTP_CODES] = {200, 201, 204, 400, 401, 403, 404,
                                                   405, 409, 413, 429, 500, 503, 304};

int64_t yw_live_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

void yw_live_hist_observe(struct yw_live_hist *h, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	size_t i = 0;
	while (i < YW_LIVE_HIST_N && (double)ns > yw_live_hist_bounds[i] * 1e9)
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void yw_live_http_count(struct yw_live_counters *c, int status)
{
	if (!c)
		return;
	size_t i = 0;
	while (i < YW_LIVE_HTTP_CODES && http_codes[i] != status)
		i++;
	atomic_fetch_add_explicit(&c->http[i], 1, memory_order_relaxed);
}

int yw_live_http_code(size_t i)
{
	return i < YW_LIVE_HTTP_CODES ? http_codes[i] : 0;
}

/* ---- exposition (Prometheus text format 0.0.4) ---- */

static uint64_t get(const atomic_uint_least64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static int head(struct yw_strbuf *b, const char *name, const char *type, const char *help)
{
	return yw_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample(struct yw_strbuf *b, const char *name, const char *type, const char *help,
                  uint64_t v)
{
	int rc = head(b, name, type, help);
	return rc ? rc : yw_strbuf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static int hist(struct yw_strbuf *b, const char *name, const char *help,
                const struct yw_live_hist *h)
{
	int rc = head(b, name, "histogram", help);
	/* Buckets are read one by one while observers go on: the count is taken as their sum so
	 * +Inf and _count agree and the series stays cumulative. */
	uint64_t cum = 0;
	for (size_t i = 0; rc == 0 && i < YW_LIVE_HIST_N; i++) {
		cum += get(&h->bucket[i]);
		rc = yw_strbuf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
		                      yw_live_hist_bounds[i], cum);
	}
	cum += get(&h->bucket[YW_LIVE_HIST_N]);
	rc = rc ? rc : yw_strbuf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	rc = rc ? rc : yw_strbuf_printf(b, "%s_sum %.9f\n", name, (double)get(&h->sum_ns) / 1e9);
	return rc ? rc : yw_strbuf_printf(b, "%s_count %" PRIu64 "\n", name, cum);
}

int yw_live_expose(struct yw_strbuf *b, const struct yw_live_counters *c,
                   const struct yw_live_gauges *g)
{
	int rc = sample(b, "yiwang_events_received_total", "counter",
	                "Records received from agents.", get(&c->events_received));
	rc = rc ? rc
	        : sample(b, "yiwang_events_stored_total", "counter", "Records stored.",
	                 get(&c->events_stored));
	rc = rc ? rc : head(b, "yiwang_alerts_total", "counter", "New alerts stored, by level.");
	for (int i = 0; rc == 0 && i < YW_LEVEL_COUNT; i++)
		rc = yw_strbuf_printf(b, "yiwang_alerts_total{level=\"%s\"} %" PRIu64 "\n",
		                      yw_level_name(i), get(&c->alerts[i]));
	int64_t conn = atomic_load_explicit(&c->agents_connected, memory_order_relaxed);
	rc = rc ? rc
	        : sample(b, "yiwang_agents_connected", "gauge", "Agents with a live connection.",
	                 conn > 0 ? (uint64_t)conn : 0);
	rc = rc ? rc
	        : sample(b, "yiwang_agents_enrolled", "gauge", "Agents in the store.",
	                 g->agents_enrolled);
	rc = rc ? rc
	        : head(b, "yiwang_pipeline_queue_depth", "gauge",
	               "Batches waiting or in progress, per pipeline worker.");
	for (size_t i = 0; rc == 0 && i < g->workers; i++)
		rc = yw_strbuf_printf(b, "yiwang_pipeline_queue_depth{worker=\"%zu\"} %zu\n", i,
		                      g->queue_depth[i]);
	rc = rc ? rc
	        : hist(b, "yiwang_detection_latency_seconds",
	               "From a record's arrival at the server to its alert stored.", &c->detect);
	rc = rc ? rc
	        : hist(b, "yiwang_store_commit_seconds", "Duration of a pipeline group commit.",
	               &c->commit);
	if (rc == 0 && g->notify_pending >= 0)
		rc = sample(b, "yiwang_notify_outbox_pending", "gauge",
		            "Notifications waiting in the outbox.", (uint64_t)g->notify_pending);
	rc = rc ? rc
	        : head(b, "yiwang_http_requests_total", "counter",
	               "HTTP API answers, by status code.");
	for (size_t i = 0; rc == 0 && i <= YW_LIVE_HTTP_CODES; i++) {
		uint64_t v = get(&c->http[i]);
		if (!v)
			continue;
		if (i < YW_LIVE_HTTP_CODES)
			rc = yw_strbuf_printf(
			    b, "yiwang_http_requests_total{code=\"%d\"} %" PRIu64 "\n",
			    http_codes[i], v);
		else
			rc = yw_strbuf_printf(
			    b, "yiwang_http_requests_total{code=\"other\"} %" PRIu64 "\n", v);
	}
	rc = rc ? rc
	        : sample(b, "yiwang_stream_clients", "gauge", "Open /api/v1/stream clients.",
	                 g->stream_clients);
	rc = rc ? rc
	        : sample(b, "process_resident_memory_bytes", "gauge", "Resident memory size.",
	                 g->rss_bytes);
	rc = rc ? rc : head(b, "process_cpu_seconds_total", "counter", "User and system CPU time.");
	return rc ? rc : yw_strbuf_printf(b, "process_cpu_seconds_total %.2f\n", g->cpu_seconds);
}

int yw_live_process(uint64_t *rss_bytes, double *cpu_seconds)
{
	char buf[1024];
	unsigned long long pages = 0, ut = 0, st = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return YW_EIO;
	int ok = fscanf(f, "%*u %llu", &pages) == 1;
	fclose(f);
	f = fopen("/proc/self/stat", "re");
	if (!f)
		return YW_EIO;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields count from the last ')'.
	 * utime and stime are fields 14 and 15 of the line, the 12th and 13th after it. */
	const char *p = strrchr(buf, ')');
	ok = ok && p &&
	     sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2;
	long tck = sysconf(_SC_CLK_TCK), pg = sysconf(_SC_PAGESIZE);
	if (!ok || tck <= 0 || pg <= 0)
		return YW_EIO;
	*rss_bytes = (uint64_t)pages * (uint64_t)pg;
	*cpu_seconds = (double)(ut + st) / (double)tck;
	return 0;
}

/* ---- the hub ---- */

struct entry {
	uint64_t seq;
	int64_t alert_id; /* > 0 for an alert */
	char *text;       /* the whole SSE event */
	size_t len;
};

struct yw_live_sub {
	struct yw_live *l;
	struct yw_live_sub_cb cb;
	uint64_t next; /* seq of the next event to read */
	int64_t skip_upto;
	struct yw_strbuf out; /* text being written; off: how much of it was read */
	size_t off;
	int64_t last_ping_ns;
	int parked;  /* park ran; waiting for wake */
	int pending; /* woken; its read has not come yet */
	int reset;   /* "reset" is in out: the stream ends after it */
};

struct yw_live {
	struct yw_live_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry *ring;
	uint64_t head; /* seq of the next event; the ring holds the ones before, up to o.ring */
	struct yw_live_sub **subs;
	size_t nsubs;
	int closed, stopping, thread_on;
	pthread_t thread;
	struct yw_live_counters ctr;
	struct yw_live_tick tick;
};

/* Under l->mu. */
static void wake(struct yw_live_sub *s)
{
	if (!s->parked)
		return;
	s->parked = 0;
	s->pending = 1;
	s->cb.wake(s->cb.ud);
}

static void *tick_thread(void *arg)
{
	struct yw_live *l = arg;
	pthread_mutex_lock(&l->mu);
	while (!l->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t at = (int64_t)ts.tv_sec * NS + ts.tv_nsec + l->o.tick_ns;
		ts.tv_sec = (time_t)(at / NS);
		ts.tv_nsec = (long)(at % NS);
		while (!l->stopping && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT)
			;
		if (l->stopping)
			break;
		pthread_mutex_unlock(&l->mu);
		l->tick.now_ns = yw_live_now_ns();
		l->o.tick(l->o.ud, l, &l->tick);
		pthread_mutex_lock(&l->mu);
		int64_t now = yw_live_now_ns();
		for (size_t i = 0; i < l->nsubs; i++)
			if (now - l->subs[i]->last_ping_ns >= l->o.ping_ns)
				wake(l->subs[i]);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int yw_live_new(const struct yw_live_opts *o, struct yw_live **out)
{
	struct yw_live *l = calloc(1, sizeof(*l));
	if (!l)
		return YW_ENOMEM;
	l->o = *o;
	if (!l->o.ring)
		l->o.ring = YW_LIVE_RING;
	if (!l->o.max_subs)
		l->o.max_subs = YW_LIVE_MAX_STREAMS;
	if (l->o.ping_ns <= 0)
		l->o.ping_ns = 15 * NS;
	l->head = 1;
	l->ring = calloc(l->o.ring, sizeof(*l->ring));
	l->subs = calloc(l->o.max_subs, sizeof(*l->subs));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = l->ring && l->subs ? 0 : YW_ENOMEM;
	if (rc == 0 && l->o.tick && l->o.tick_ns > 0) {
		if (pthread_create(&l->thread, NULL, tick_thread, l) != 0)
			rc = YW_ENOMEM;
		else
			l->thread_on = 1;
	}
	if (rc) {
		yw_live_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void yw_live_stop(struct yw_live *l)
{
	if (!l)
		return;
	yw_live_close(l, YW_LIVE_CLOSE_WAIT_MS);
	pthread_mutex_lock(&l->mu);
	l->stopping = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (l->thread_on)
		pthread_join(l->thread, NULL);
	l->thread_on = 0;
}

void yw_live_free(struct yw_live *l)
{
	if (!l)
		return;
	yw_live_stop(l);
	for (size_t i = 0; l->ring && i < l->o.ring; i++)
		free(l->ring[i].text);
	free(l->ring);
	free(l->subs);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

struct yw_live_counters *yw_live_counters(struct yw_live *l)
{
	return l ? &l->ctr : NULL;
}

size_t yw_live_subscribers(struct yw_live *l)
{
	if (!l)
		return 0;
	pthread_mutex_lock(&l->mu);
	size_t n = l->nsubs;
	pthread_mutex_unlock(&l->mu);
	return n;
}

int yw_live_format(struct yw_strbuf *t, const char *event, int64_t id, const char *data, size_t len)
{
	if (len > YW_LIVE_MAX_EVENT)
		return YW_ELIMIT;
	int rc = yw_strbuf_printf(t, "event: %s\n", event);
	if (rc == 0 && id > 0)
		rc = yw_strbuf_printf(t, "id: %lld\n", (long long)id);
	rc = rc ? rc : yw_strbuf_puts(t, "data: ");
	size_t at = t->len;
	rc = rc ? rc : yw_strbuf_append(t, data, len);
	rc = rc ? rc : yw_strbuf_puts(t, "\n\n");
	/* One data line: a line break inside would end the field (JSON needs none). */
	for (size_t i = at; rc == 0 && i < at + len; i++)
		if (t->data[i] == '\n' || t->data[i] == '\r')
			t->data[i] = ' ';
	return rc;
}

int yw_live_publish(struct yw_live *l, const char *event, int64_t id, const char *data, size_t len)
{
	if (!l)
		return 0;
	struct yw_strbuf t = YW_STRBUF_INIT;
	int rc = yw_live_format(&t, event, id, data, len);
	if (rc) {
		yw_strbuf_free(&t);
		return rc;
	}
	pthread_mutex_lock(&l->mu);
	struct entry *e = &l->ring[l->head % l->o.ring];
	char *old = e->text;
	*e = (struct entry){l->head++, id, t.data, t.len};
	for (size_t i = 0; i < l->nsubs; i++)
		wake(l->subs[i]);
	pthread_mutex_unlock(&l->mu);
	free(old);
	return 0;
}

int yw_live_agent(struct yw_live *l, const char *id, const char *name, const char *group,
                  int online, int64_t at_ns)
{
	if (!l)
		return 0;
	atomic_fetch_add_explicit(&l->ctr.agents_connected, online ? 1 : -1, memory_order_relaxed);
	struct yw_strbuf b = YW_STRBUF_INIT;
	int rc = yw_strbuf_puts(&b, "{\"id\":");
	rc = rc ? rc : yw_strbuf_json_str(&b, id, strlen(id));
	rc = rc ? rc : yw_strbuf_puts(&b, ",\"name\":");
	rc = rc ? rc : yw_strbuf_json_str(&b, name ? name : "", name ? strlen(name) : 0);
	rc = rc ? rc : yw_strbuf_puts(&b, ",\"group\":");
	rc = rc ? rc : yw_strbuf_json_str(&b, group ? group : "", group ? strlen(group) : 0);
	rc = rc ? rc
	        : yw_strbuf_printf(&b, ",\"online\":%d,\"at\":%lld}", online ? 1 : 0,
	                           (long long)at_ns);
	rc = rc ? rc : yw_live_publish(l, "agent", 0, b.data, b.len);
	yw_strbuf_free(&b);
	return rc;
}

void yw_live_close(struct yw_live *l, int64_t wait_ms)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->closed = 1;
	for (size_t i = 0; i < l->nsubs; i++)
		wake(l->subs[i]);
	/* A parked reader is a suspended HTTP connection, which the daemon must not have when
	 * it stops: wait until each woken one has read its end. */
	int64_t until = yw_live_now_ns() + wait_ms * 1000000LL;
	for (;;) {
		size_t busy = 0;
		for (size_t i = 0; i < l->nsubs; i++)
			busy += l->subs[i]->parked || l->subs[i]->pending;
		int64_t now = yw_live_now_ns();
		if (!busy || now >= until)
			break;
		int64_t at = now + 10000000LL < until ? now + 10000000LL : until;
		struct timespec ts = {(time_t)(at / NS), (long)(at % NS)};
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	pthread_mutex_unlock(&l->mu);
}

int yw_live_subscribe(struct yw_live *l, const struct yw_live_sub_cb *cb, struct yw_live_sub **out)
{
	struct yw_live_sub *s = calloc(1, sizeof(*s));
	if (!s)
		return YW_ENOMEM;
	s->l = l;
	s->cb = *cb;
	s->last_ping_ns = yw_live_now_ns();
	yw_strbuf_init(&s->out, 0);
	int rc = 0;
	pthread_mutex_lock(&l->mu);
	if (l->closed)
		rc = YW_EINVAL;
	else if (l->nsubs >= l->o.max_subs)
		rc = YW_ELIMIT;
	else {
		s->next = l->head;
		l->subs[l->nsubs++] = s;
	}
	pthread_mutex_unlock(&l->mu);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int yw_live_prime(struct yw_live_sub *s, const char *text, size_t len, int64_t skip_upto)
{
	pthread_mutex_lock(&s->l->mu);
	int rc = yw_strbuf_append(&s->out, text, len);
	if (rc == 0)
		s->skip_upto = skip_upto;
	pthread_mutex_unlock(&s->l->mu);
	return rc;
}

/* Under l->mu, with everything in s->out read: the next text for s. */
static void refill(struct yw_live_sub *s, int64_t now)
{
	struct yw_live *l = s->l;
	yw_strbuf_reset(&s->out);
	s->off = 0;
	if (l->closed)
		return;
	uint64_t oldest = l->head > l->o.ring ? l->head - l->o.ring : 1;
	if (s->next < oldest) {
		/* Overtaken: what it missed is gone from the ring. */
		if (yw_strbuf_puts(&s->out, "event: reset\ndata: {}\n\n") == 0)
			s->reset = 1;
		return;
	}
	int rc = 0;
	while (rc == 0 && s->next < l->head && s->out.len < YW_LIVE_MAX_EVENT) {
		const struct entry *e = &l->ring[s->next % l->o.ring];
		s->next++;
		if (e->alert_id > 0 && e->alert_id <= s->skip_upto)
			continue;
		rc = yw_strbuf_append(&s->out, e->text, e->len);
	}
	if (rc == 0 && now - s->last_ping_ns >= l->o.ping_ns) {
		rc = yw_strbuf_puts(&s->out, ": ping\n\n");
		s->last_ping_ns = now;
	}
	if (rc) {
		/* Out of memory: what was skipped cannot be told, so as for an overtaken one. */
		yw_strbuf_reset(&s->out);
		if (yw_strbuf_puts(&s->out, "event: reset\ndata: {}\n\n") == 0)
			s->reset = 1;
	}
}

int yw_live_read(struct yw_live_sub *s, char *buf, size_t max, int64_t now_ns, size_t *n)
{
	struct yw_live *l = s->l;
	int rc = 0;
	*n = 0;
	pthread_mutex_lock(&l->mu);
	if (s->pending) {
		s->pending = 0;
		pthread_cond_broadcast(&l->cv);
	}
	if (s->off >= s->out.len && !s->reset)
		refill(s, now_ns);
	if (s->off < s->out.len) {
		size_t k = s->out.len - s->off < max ? s->out.len - s->off : max;
		memcpy(buf, s->out.data + s->off, k);
		s->off += k;
		*n = k;
	} else if (s->reset || l->closed) {
		rc = 1;
	} else {
		s->parked = 1;
		s->cb.park(s->cb.ud);
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void yw_live_unsubscribe(struct yw_live_sub *s)
{
	if (!s)
		return;
	struct yw_live *l = s->l;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->nsubs; i++) {
		if (l->subs[i] == s) {
			l->subs[i] = l->subs[--l->nsubs];
			break;
		}
	}
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	yw_strbuf_free(&s->out);
	free(s);
}
