/* The notification dispatcher: filters alerts into the outbox, and one thread that sends due
 * rows within each channel's token bucket, retrying failures with exponential backoff. */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notify_int.h"
#include "yiwang/error.h"
#include "yiwang/log.h"
#include "yiwang/loop.h"
#include "yiwang/store.h"
#include "yw_limits.h"

struct chan_state {
	double tokens;   /* token bucket: rate_per_minute capacity, refilled continuously */
	int64_t last_ms; /* last refill */
};

struct yw_notify {
	struct yw_outbox *ob;
	struct yw_notify_channels ch;
	struct chan_state *cs;
	struct yw_notify_opts o;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards stop, kick and the wait; the outbox has its own lock */
	pthread_cond_t cv;
	bool stop, kick;
	uint64_t rng;
	int64_t wait_hint_ms; /* set by a pass: when a rate-limited row could go */
	_Atomic uint64_t enqueued, filtered, duplicates, sent, retries, failed, rate_limited;
};

static int64_t real_clock(void *ud)
{
	(void)ud;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(struct yw_notify *n)
{
	return n->o.clock(n->o.ud);
}

static bool in_list(const struct yw_strlist *l, const char *s)
{
	if (!l->n)
		return true;
	for (size_t i = 0; s && i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

static bool wants(const struct yw_notify_channel *c, const struct yw_notify_alert *a)
{
	return a->level >= c->min_level && in_list(&c->groups, a->group) &&
	       in_list(&c->rules, a->rule_id);
}

/* The same alert detected again (a batch replayed after a crash) gets the same key. */
static int dedup_key(const struct yw_notify_alert *a, char out[33])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return YW_ENOMEM;
	char ts[32];
	snprintf(ts, sizeof(ts), "%" PRId64, a->ts_ns);
	const char *parts[] = {a->agent_id, a->rule_id, ts, a->event_json};
	unsigned char h[32];
	unsigned hl = 0;
	int ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < 4; i++)
		ok = EVP_DigestUpdate(md, parts[i] ? parts[i] : "",
		                      parts[i] ? strlen(parts[i]) + 1 : 0);
	ok = ok && EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	if (!ok)
		return YW_ENOMEM;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	return 0;
}

static int put_member(struct yw_strbuf *b, const char *key, const char *val)
{
	int rc = yw_strbuf_printf(b, ",\"%s\":", key);
	if (!rc && !val)
		return yw_strbuf_puts(b, "null");
	return rc ? rc
	          : yw_strbuf_json_str(b, val,
	                               yw_notify_utf8_cut(val, strlen(val), YW_NOTIFY_MAX_TEXT));
}

/* The alert as stored in the outbox: rendering happens at send time, from this. */
static int payload(const struct yw_notify_alert *a, struct yw_strbuf *b)
{
	int rc = yw_strbuf_printf(b, "{\"level\":%d,\"ts_ns\":%" PRId64, a->level, a->ts_ns);
	if (!rc)
		rc = put_member(b, "rule_id", a->rule_id);
	if (!rc)
		rc = put_member(b, "title", a->title);
	if (!rc)
		rc = put_member(b, "agent_id", a->agent_id);
	if (!rc)
		rc = put_member(b, "agent_name", a->agent_name);
	if (!rc)
		rc = put_member(b, "group", a->group);
	if (!rc)
		rc = put_member(b, "solution", a->solution);
	if (!rc)
		rc = yw_strbuf_puts(b, ",\"tags\":[");
	size_t nt = a->ntags < YW_NOTIFY_MAX_TAGS ? a->ntags : YW_NOTIFY_MAX_TAGS;
	for (size_t i = 0; i < nt && !rc; i++) {
		rc = i ? yw_strbuf_putc(b, ',') : 0;
		if (!rc)
			rc = yw_strbuf_json_str(b, a->tags[i],
			                        yw_notify_utf8_cut(a->tags[i], strlen(a->tags[i]),
			                                           YW_NOTIFY_MAX_FIELD));
	}
	if (!rc)
		rc = yw_strbuf_puts(b, "],\"fields\":");
	if (!rc)
		rc = yw_notify_pick_fields(a->event_json, b);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

int yw_notify_alert(struct yw_notify *n, const struct yw_notify_alert *a)
{
	const char *names[YW_NOTIFY_MAX_CHANNELS];
	size_t nn = 0;
	for (size_t i = 0; i < n->ch.n; i++) {
		if (wants(&n->ch.v[i], a))
			names[nn++] = n->ch.v[i].name;
		else
			atomic_fetch_add(&n->filtered, 1);
	}
	if (!nn)
		return 0;
	char key[33];
	const char *dedup = a->dedup_key;
	int rc = 0;
	if (!dedup) {
		if ((rc = dedup_key(a, key)))
			return rc;
		dedup = key;
	}
	struct yw_strbuf b;
	yw_strbuf_init(&b, YW_NOTIFY_MAX_PAYLOAD);
	size_t added = 0;
	rc = payload(a, &b);
	if (!rc)
		rc = yw_outbox_put(n->ob, names, nn, dedup, b.data, now_ms(n), &added);
	yw_strbuf_free(&b);
	if (rc)
		return rc;
	atomic_fetch_add(&n->enqueued, added);
	atomic_fetch_add(&n->duplicates, nn - added);
	pthread_mutex_lock(&n->mu);
	n->kick = true;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	return 0;
}

/* ---- dispatch ---- */

static uint64_t rnd(struct yw_notify *n)
{
	/* xorshift64: jitter only, no security role. */
	uint64_t x = n->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return n->rng = x;
}

/* Exponential backoff with "equal jitter": half the delay fixed, half random, so retries of
 * many rows after an outage spread out instead of arriving together. */
static int64_t backoff(struct yw_notify *n, int64_t attempts)
{
	int64_t d = n->o.base_backoff_ms;
	for (int64_t i = 1; i < attempts && d < n->o.max_backoff_ms; i++)
		d *= 2;
	if (d > n->o.max_backoff_ms)
		d = n->o.max_backoff_ms;
	int64_t half = d / 2;
	return d - half + (half > 0 ? (int64_t)(rnd(n) % (uint64_t)(half + 1)) : 0);
}

static void refill(const struct yw_notify_channel *c, struct chan_state *s, int64_t now)
{
	if (!c->rate_per_minute)
		return;
	if (now > s->last_ms) {
		s->tokens += (double)(now - s->last_ms) * (double)c->rate_per_minute / 60000.0;
		if (s->tokens > (double)c->rate_per_minute)
			s->tokens = (double)c->rate_per_minute;
	}
	s->last_ms = now;
}

/* Rebuilds the alert of an outbox row; strings point into *root, tags into tags[]. */
static int load_alert(const char *text, json_t **root, const char **tags, char **fields,
                      struct yw_notify_alert *a)
{
	memset(a, 0, sizeof(*a));
	*root = json_loads(text, 0, NULL);
	if (!json_is_object(*root))
		return YW_EPARSE;
	json_t *o = *root;
	a->level = (int)json_integer_value(json_object_get(o, "level"));
	a->ts_ns = json_integer_value(json_object_get(o, "ts_ns"));
	a->rule_id = json_string_value(json_object_get(o, "rule_id"));
	a->title = json_string_value(json_object_get(o, "title"));
	a->agent_id = json_string_value(json_object_get(o, "agent_id"));
	a->agent_name = json_string_value(json_object_get(o, "agent_name"));
	a->group = json_string_value(json_object_get(o, "group"));
	a->solution = json_string_value(json_object_get(o, "solution"));
	json_t *t = json_object_get(o, "tags");
	for (size_t i = 0; i < json_array_size(t) && a->ntags < YW_NOTIFY_MAX_TAGS; i++)
		if (json_is_string(json_array_get(t, i)))
			tags[a->ntags++] = json_string_value(json_array_get(t, i));
	a->tags = tags;
	*fields = json_dumps(json_object_get(o, "fields"), JSON_COMPACT);
	a->event_json = *fields;
	return 0;
}

/* Sends one row; 0 when delivered. */
static int send_row(struct yw_notify *n, const struct yw_notify_channel *c,
                    const struct yw_outbox_row *r, int64_t now, char *err, size_t errlen)
{
	json_t *root = NULL;
	const char *tags[YW_NOTIFY_MAX_TAGS];
	char *fields = NULL;
	struct yw_notify_alert a;
	struct yw_strbuf body;
	yw_strbuf_init(&body, YW_NOTIFY_MAX_MESSAGE);
	int rc = load_alert(r->payload, &root, tags, &fields, &a);
	if (rc)
		snprintf(err, errlen, "unreadable outbox row");
	if (!rc && (rc = yw_notify_render(c, &a, r->dedup, &body)))
		snprintf(err, errlen, "render: %s", yw_strerror(rc));
	if (!rc) {
		if (n->o.send)
			rc = n->o.send(n->o.ud, c, r->dedup, body.data, body.len);
		else
			rc =
			    yw_notify_transport(c, r->dedup, body.data, body.len, now, err, errlen);
		if (rc && !err[0])
			snprintf(err, errlen, "send failed");
	}
	yw_strbuf_free(&body);
	free(fields);
	json_decref(root);
	return rc;
}

static int dispatch_channel(struct yw_notify *n, size_t ci, int64_t now)
{
	const struct yw_notify_channel *c = &n->ch.v[ci];
	struct chan_state *s = &n->cs[ci];
	refill(c, s, now);
	size_t max = YW_NOTIFY_BATCH;
	if (c->rate_per_minute && s->tokens < (double)max)
		max = (size_t)s->tokens;
	struct yw_outbox_row rows[YW_NOTIFY_BATCH];
	size_t nr = 0;
	/* One row more than the tokens allow tells whether the limit held anything back. */
	int rc = yw_outbox_due(n->ob, c->name, now, max + 1 > YW_NOTIFY_BATCH ? max : max + 1, rows,
	                       &nr);
	if (rc)
		return rc;
	int sent = 0;
	for (size_t i = 0; i < nr; i++) {
		if (i >= max) {
			atomic_fetch_add(&n->rate_limited, 1);
			int64_t wait =
			    (int64_t)((1.0 - s->tokens) * 60000.0 / (double)c->rate_per_minute) + 1;
			if (wait < n->wait_hint_ms)
				n->wait_hint_ms = wait;
			break;
		}
		if (c->rate_per_minute)
			s->tokens -= 1.0; /* the receiver counts failed requests too */
		char err[256] = "";
		int64_t attempts = rows[i].attempts + 1;
		if (!send_row(n, c, &rows[i], now, err, sizeof(err))) {
			rc = yw_outbox_mark(n->ob, rows[i].id, YW_OUTBOX_SENT, attempts, now, NULL,
			                    now);
			atomic_fetch_add(&n->sent, 1);
			sent++;
		} else if (attempts >= c->max_attempts) {
			yw_logf(YW_LOG_ERROR,
			        "notify %s: giving up on %s after %" PRId64 " attempts: %s",
			        c->name, rows[i].dedup, attempts, err);
			rc = yw_outbox_mark(n->ob, rows[i].id, YW_OUTBOX_FAILED, attempts, now, err,
			                    now);
			atomic_fetch_add(&n->failed, 1);
		} else {
			int64_t next = now + backoff(n, attempts);
			yw_logf(YW_LOG_WARNING,
			        "notify %s: attempt %" PRId64 " failed (%s), retry in %" PRId64
			        " ms",
			        c->name, attempts, err, next - now);
			rc = yw_outbox_mark(n->ob, rows[i].id, YW_OUTBOX_PENDING, attempts, next,
			                    err, now);
			atomic_fetch_add(&n->retries, 1);
		}
		if (rc)
			break;
	}
	yw_outbox_rows_free(rows, nr);
	return rc ? rc : sent;
}

int yw_notify_dispatch(struct yw_notify *n, int64_t now)
{
	int total = 0;
	n->wait_hint_ms = INT64_MAX;
	for (size_t i = 0; i < n->ch.n; i++) {
		/* Channels are independent: one failing database call does not stop the rest. */
		int rc = dispatch_channel(n, i, now);
		if (rc < 0)
			return rc;
		total += rc;
	}
	return total;
}

/* Milliseconds until the next row is due (capped), for the dispatcher's sleep. */
static int64_t next_wait(struct yw_notify *n, int64_t now)
{
	int64_t wait = n->wait_hint_ms < 60000 ? n->wait_hint_ms : 60000;
	for (size_t i = 0; i < n->ch.n; i++) {
		int64_t at;
		if (yw_outbox_next(n->ob, n->ch.v[i].name, &at))
			return 1000;
		if (at != INT64_MAX && at - now < wait)
			wait = at - now;
	}
	return wait < 10 ? 10 : wait;
}

static void *run(void *arg)
{
	struct yw_notify *n = arg;
	int64_t last_prune = 0;
	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		n->kick = false;
		pthread_mutex_unlock(&n->mu);
		int64_t now = now_ms(n);
		int rc = yw_notify_dispatch(n, now);
		if (rc < 0)
			n->wait_hint_ms = 1000; /* database trouble: try again soon */
		if (now - last_prune > 3600 * 1000) {
			yw_outbox_prune(n->ob, now - YW_NOTIFY_KEEP_SENT_MS);
			last_prune = now;
		}
		int64_t wait = next_wait(n, now);
		struct timespec ts = yw_mono_deadline(wait);
		pthread_mutex_lock(&n->mu);
		while (!n->stop && !n->kick)
			if (pthread_cond_timedwait(&n->cv, &n->mu, &ts))
				break;
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

int yw_notify_new(const char *data_dir, struct yw_notify_channels *channels, struct yw_notify **out)
{
	return yw_notify_new_opts(data_dir, channels, NULL, out);
}

int yw_notify_new_opts(const char *data_dir, struct yw_notify_channels *channels,
                       const struct yw_notify_opts *opts, struct yw_notify **out)
{
	*out = NULL;
	if (channels->n > YW_NOTIFY_MAX_CHANNELS)
		return YW_ELIMIT;
	struct yw_notify *n = calloc(1, sizeof(*n));
	if (!n)
		return YW_ENOMEM;
	if (opts)
		n->o = *opts;
	if (!n->o.clock)
		n->o.clock = real_clock;
	if (n->o.base_backoff_ms <= 0)
		n->o.base_backoff_ms = YW_NOTIFY_DEFAULT_BACKOFF_MS;
	if (n->o.max_backoff_ms <= 0)
		n->o.max_backoff_ms = YW_NOTIFY_DEFAULT_MAX_BACKOFF_MS;
	n->rng = (uint64_t)real_clock(NULL) * 2654435761u ^ (uint64_t)getpid() ^ (uintptr_t)n;
	if (!n->rng)
		n->rng = 1;
	pthread_mutex_init(&n->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cv, &ca);
	pthread_condattr_destroy(&ca);
	char path[4096];
	int rc;
	if (snprintf(path, sizeof(path), "%s/notify.db", data_dir) >= (int)sizeof(path)) {
		rc = YW_ELIMIT;
		goto fail;
	}
	n->cs = calloc(channels->n ? channels->n : 1, sizeof(*n->cs));
	if (!n->cs) {
		rc = YW_ENOMEM;
		goto fail;
	}
	if ((rc = yw_outbox_open(path, n->o.sync_full, &n->ob)))
		goto fail;
	if (!n->o.send && curl_global_init(CURL_GLOBAL_DEFAULT)) {
		rc = YW_ENOMEM;
		goto fail;
	}
	int64_t now = now_ms(n);
	for (size_t i = 0; i < channels->n; i++) {
		n->cs[i].tokens = (double)channels->v[i].rate_per_minute;
		n->cs[i].last_ms = now;
	}
	n->ch = *channels;
	if (!n->o.no_thread) {
		if (pthread_create(&n->thread, NULL, run, n)) {
			n->ch = (struct yw_notify_channels){0};
			rc = YW_ENOMEM;
			if (!n->o.send)
				curl_global_cleanup();
			goto fail;
		}
		n->started = true;
	}
	memset(channels, 0, sizeof(*channels));
	*out = n;
	return 0;
fail:
	yw_outbox_close(n->ob);
	free(n->cs);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
	return rc;
}

void yw_notify_free(struct yw_notify *n)
{
	if (!n)
		return;
	if (n->started) {
		pthread_mutex_lock(&n->mu);
		n->stop = true;
		pthread_cond_signal(&n->cv);
		pthread_mutex_unlock(&n->mu);
		pthread_join(n->thread, NULL);
	}
	yw_outbox_close(n->ob);
	if (!n->o.send)
		curl_global_cleanup();
	yw_notify_channels_free(&n->ch);
	free(n->cs);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

void yw_notify_stats(struct yw_notify *n, struct yw_notify_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->enqueued = atomic_load(&n->enqueued);
	s->filtered = atomic_load(&n->filtered);
	s->duplicates = atomic_load(&n->duplicates);
	s->sent = atomic_load(&n->sent);
	s->retries = atomic_load(&n->retries);
	s->failed = atomic_load(&n->failed);
	s->rate_limited = atomic_load(&n->rate_limited);
	yw_outbox_count(n->ob, YW_OUTBOX_PENDING, &s->pending);
}
