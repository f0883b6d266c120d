/* GET /api/v1/stream: Server-Sent Events from the live hub (server/live.h), and the hub's
 * tick, which polls the store for new alerts and the counters.
 *
 * A stream is a response whose body MHD asks for as the socket drains; with nothing to send
 * the reader parks the connection (MHD_suspend_connection) and the hub resumes it when an
 * event is published, a ping is due or the hub closes: no thread is held and none spins. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"
#include "server/server.h"
#include "stream.h"
#include "yiwang/error.h"

/* A router answered (r filled): 1, or the error of filling it. */
static int answered(int rc)
{
	return rc ? rc : 1;
}

struct stream {
	struct MHD_Connection *c;
	struct yw_live_sub *sub;
	struct yw_auth *auth;
	/* The caller's token, checked again every YW_HTTP_STREAM_RECHECK_NS: a stream must not
	 * outlive its logout, its session's expiry or its user. Wiped on free. */
	char token[YW_AUTH_TOKEN_TEXT];
	int64_t recheck_ns;
	struct yw_http *h;
	char user[YW_HTTP_MAX_NAME + 1]; /* counted in h->stream_users */
};

/* Counts a stream of user: YW_ELIMIT at YW_HTTP_STREAMS_PER_USER already open. */
static int user_take(struct yw_http *h, const char *user)
{
	int rc = YW_ELIMIT;
	struct yw_stream_user *free_slot = NULL;
	pthread_mutex_lock(&h->stream_mu);
	for (size_t i = 0; i < YW_LIVE_MAX_STREAMS; i++) {
		struct yw_stream_user *u = &h->stream_users[i];
		if (u->n && !strcmp(u->user, user)) {
			if (u->n < YW_HTTP_STREAMS_PER_USER) {
				u->n++;
				rc = 0;
			}
			free_slot = NULL;
			goto out;
		}
		if (!u->n && !free_slot)
			free_slot = u;
	}
	/* No slot free means YW_LIVE_MAX_STREAMS streams are open: the hub refuses it anyway. */
	if (free_slot) {
		snprintf(free_slot->user, sizeof(free_slot->user), "%s", user);
		free_slot->n = 1;
		rc = 0;
	}
out:
	pthread_mutex_unlock(&h->stream_mu);
	return rc;
}

static void user_put(struct yw_http *h, const char *user)
{
	pthread_mutex_lock(&h->stream_mu);
	for (size_t i = 0; i < YW_LIVE_MAX_STREAMS; i++)
		if (h->stream_users[i].n && !strcmp(h->stream_users[i].user, user)) {
			h->stream_users[i].n--;
			break;
		}
	pthread_mutex_unlock(&h->stream_mu);
}

static void park(void *ud)
{
	MHD_suspend_connection(((struct stream *)ud)->c);
}

static void wake(void *ud)
{
	MHD_resume_connection(((struct stream *)ud)->c);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	size_t n = 0;
	int64_t now = yw_live_now_ns();
	if (now >= st->recheck_ns) {
		char user[YW_HTTP_MAX_NAME + 1];
		int role = -1;
		if (yw_auth_check(st->auth, st->token, yw_wall_ns(), user, sizeof(user), &role) ||
		    role < YW_ROLE_VIEWER)
			return MHD_CONTENT_READER_END_OF_STREAM;
		st->recheck_ns = now + YW_HTTP_STREAM_RECHECK_NS;
	}
	if (yw_live_read(st->sub, buf, max, yw_live_now_ns(), &n))
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n; /* 0: parked, MHD waits for the resume */
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	user_put(st->h, st->user);
	yw_live_unsubscribe(st->sub);
	OPENSSL_cleanse(st->token, sizeof(st->token));
	free(st);
}

/* The alert's JSON into b (reset first), without its evidence when that makes it too big for
 * one stream event. */
static int alert_data(struct yw_server *s, struct yw_strbuf *b, const struct yw_store_alert_row *a)
{
	yw_strbuf_reset(b);
	int rc = yw_http_alert_json(s, b, a);
	if (rc || b->len <= YW_LIVE_MAX_EVENT)
		return rc;
	struct yw_store_alert_row slim = *a;
	slim.event = NULL;
	yw_strbuf_reset(b);
	rc = yw_http_alert_json(s, b, &slim);
	if (rc == 0 && b->len) {
		b->len--; /* the closing brace */
		rc = yw_strbuf_puts(b, ",\"event_omitted\":true}");
	}
	return rc;
}

struct replay {
	struct yw_server *s;
	struct yw_strbuf *out, tmp;
	int64_t max_id;
};

static int replay_row(void *ud, const struct yw_store_alert_row *a)
{
	struct replay *p = ud;
	int rc = alert_data(p->s, &p->tmp, a);
	rc = rc ? rc : yw_live_format(p->out, "alert", a->id, p->tmp.data, p->tmp.len);
	if (rc == YW_ELIMIT)
		rc = 0; /* an alert too big even without its evidence is left out */
	if (a->id > p->max_id)
		p->max_id = a->id;
	return rc;
}

int yw_http_route_stream(struct yw_http *h, struct MHD_Connection *c, const char *path,
                         const char *method, const struct who *w, struct req *q, struct resp *r)
{
	if (strcmp(path, "/stream"))
		return 0;
	if (strcmp(method, "GET"))
		return answered(
		    yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed"));
	if (w->role < YW_ROLE_VIEWER)
		return answered(
		    yw_http_error(r, MHD_HTTP_FORBIDDEN, "your role does not allow this"));
	struct yw_live *l = h->s->live;
	if (!l)
		return answered(
		    yw_http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the live stream is off"));
	long long last = -1;
	const char *lei = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	if (lei && *lei) {
		char *end;
		errno = 0;
		last = strtoll(lei, &end, 10);
		if (errno || end == lei || *end || last < 0)
			return answered(yw_http_error(r, MHD_HTTP_BAD_REQUEST,
			                              "Last-Event-ID: the id of an alert"));
	}
	/* The token http.c has just accepted (its length is checked there). */
	const char *tok =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!tok || strncasecmp(tok, "Bearer ", 7))
		return answered(
		    yw_http_error(r, MHD_HTTP_UNAUTHORIZED, "a bearer token is required"));
	for (tok += 7; *tok == ' ';)
		tok++;
	if (user_take(h, w->user)) {
		r->retry_after = 5;
		return answered(yw_http_error(r, MHD_HTTP_TOO_MANY_REQUESTS,
		                              "too many open streams for this user"));
	}
	struct stream *st = calloc(1, sizeof(*st));
	if (!st) {
		user_put(h, w->user);
		return YW_ENOMEM;
	}
	st->h = h;
	snprintf(st->user, sizeof(st->user), "%s", w->user);
	st->c = c;
	st->auth = h->auth;
	snprintf(st->token, sizeof(st->token), "%s", tok);
	st->recheck_ns = yw_live_now_ns() + YW_HTTP_STREAM_RECHECK_NS;
	struct yw_live_sub_cb cb = {park, wake, st};
	int rc = yw_live_subscribe(l, &cb, &st->sub);
	if (rc) {
		user_put(h, st->user);
		OPENSSL_cleanse(st->token, sizeof(st->token));
		free(st);
		if (rc == YW_ENOMEM)
			return rc;
		r->retry_after = 5;
		return answered(
		    yw_http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  rc == YW_ELIMIT ? "too many open streams" : "server stopping"));
	}
	/* Subscribed first, then the replay read: an alert stored in between is in both, and
	 * the ring's copy is skipped (skip_upto). */
	struct yw_strbuf b = YW_STRBUF_INIT;
	struct replay p = {h->s, &b, YW_STRBUF_INIT, last};
	rc = yw_strbuf_puts(&b, "retry: 2000\n: yiwang live stream\n\n");
	if (rc == 0 && last >= 0) {
		struct yw_store_alert_query aq = {
		    .after_id = last, .limit = YW_LIVE_RESUME_MAX, .newest = 1};
		rc = yw_store_alerts(h->s->store, &aq, replay_row, &p);
	}
	rc = rc ? rc : yw_live_prime(st->sub, b.data, b.len, p.max_id);
	yw_strbuf_free(&b);
	yw_strbuf_free(&p.tmp);
	if (rc == 0) {
		r->mhd = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, st,
		                                           stream_free);
		if (!r->mhd)
			rc = YW_ENOMEM;
	}
	if (rc) {
		user_put(h, st->user);
		yw_live_unsubscribe(st->sub);
		OPENSSL_cleanse(st->token, sizeof(st->token));
		free(st);
		return rc < 0 ? rc : YW_EIO;
	}
	/* From here the response owns st (stream_free). */
	r->content_type = "text/event-stream; charset=utf-8";
	return 1;
}

void yw_http_stream_close(struct yw_http *h)
{
	yw_live_close(h->s->live, YW_LIVE_CLOSE_WAIT_MS);
}

/* ---- the hub's tick ---- */

struct poll {
	struct yw_server *s;
	struct yw_live *l;
	int listening;
	int64_t last;
	size_t n;
	struct yw_strbuf b;
};

static int poll_row(void *ud, const struct yw_store_alert_row *a)
{
	struct poll *p = ud;
	p->last = a->id;
	p->n++;
	if (!p->listening)
		return 0;
	int rc = alert_data(p->s, &p->b, a);
	rc = rc ? rc : yw_live_publish(p->l, "alert", a->id, p->b.data, p->b.len);
	if (rc)
		yw_logf(YW_LOG_WARNING, "live stream: alert %lld not published: %s",
		        (long long)a->id, yw_strerror(rc));
	return 0;
}

static int newest_row(void *ud, const struct yw_store_alert_row *a)
{
	*(int64_t *)ud = a->id;
	return 0;
}

static int64_t local_midnight_ns(void)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000000000LL;
}

static void counters(struct yw_server *s, struct yw_live *l, struct yw_live_tick *t)
{
	uint64_t ev = atomic_load(&yw_live_counters(l)->events_stored);
	double dt = (double)(t->now_ns - t->last_counters_ns) / 1e9;
	double rate = dt > 0 ? (double)(ev - t->last_events) / dt : 0;
	t->last_events = ev;
	t->last_counters_ns = t->now_ns;
	if (!yw_live_subscribers(l))
		return;
	struct yw_store_stats st;
	uint64_t today = 0;
	int rc = yw_store_stats(s->store, &st);
	rc = rc ? rc : yw_store_alert_count(s->store, local_midnight_ns(), &today);
	struct yw_strbuf b = YW_STRBUF_INIT;
	rc = rc ? rc
	        : yw_strbuf_printf(&b,
	                           "{\"at\":%lld,\"events_total\":%llu,\"events_per_s\":%.1f,"
	                           "\"alerts_total\":%llu,\"alerts_today\":%llu,"
	                           "\"agents_online\":%llu,\"agents_total\":%llu}",
	                           (long long)yw_wall_ns(), (unsigned long long)st.events, rate,
	                           (unsigned long long)st.alerts, (unsigned long long)today,
	                           (unsigned long long)st.agents_online,
	                           (unsigned long long)st.agents);
	rc = rc ? rc : yw_live_publish(l, "counters", 0, b.data, b.len);
	if (rc)
		yw_logf(YW_LOG_WARNING, "live stream: counters: %s", yw_store_strerror(rc));
	yw_strbuf_free(&b);
}

void yw_http_stream_tick(void *ud, struct yw_live *l, struct yw_live_tick *t)
{
	struct yw_server *s = ud;
	if (!t->started) {
		/* Streams show what is new from now on; older alerts come from a resume. */
		int64_t id = 0;
		struct yw_store_alert_query q = {.limit = 1, .newest = 1};
		if (yw_store_alerts(s->store, &q, newest_row, &id))
			return;
		t->last_alert_id = id;
		t->last_counters_ns = t->next_counters_ns = t->now_ns;
		t->last_events = atomic_load(&yw_live_counters(l)->events_stored);
		t->started = 1;
	}
	struct poll p = {s, l, yw_live_subscribers(l) > 0, t->last_alert_id, 0, YW_STRBUF_INIT};
	/* A burst bigger than one batch is taken over a few queries, bounded per tick. */
	for (int i = 0; i < 4; i++) {
		struct yw_store_alert_query q = {.after_id = p.last, .limit = YW_LIVE_POLL_BATCH};
		p.n = 0;
		if (yw_store_alerts(s->store, &q, poll_row, &p) || p.n < YW_LIVE_POLL_BATCH)
			break;
	}
	yw_strbuf_free(&p.b);
	t->last_alert_id = p.last;
	if (t->now_ns >= t->next_counters_ns) {
		counters(s, l, t);
		t->next_counters_ns += YW_HTTP_STREAM_COUNTERS_NS;
		if (t->next_counters_ns <= t->now_ns)
			t->next_counters_ns = t->now_ns + YW_HTTP_STREAM_COUNTERS_NS;
	}
}
