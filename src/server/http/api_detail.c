/* The analyst's detail endpoints of /api/v1 (docs/api.md): one alert, incident or agent; a
 * terminal's baseline, file changes and timeline; bulk triage; enrolment tokens; response
 * actions. Runs on libmicrohttpd's threads: the store is thread-safe, and what belongs to the
 * server's loop (agent connections, responses.db's writer) is reached through yw_server_call. */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detail.h"
#include "http_int.h"
#include "server/respond.h"
#include "server/server.h"
#include "yiwang/config.h"
#include "yiwang/error.h"
#include "yiwang/pki.h"
#include "yw_limits.h"

#define MAX_POLICY 127 /* bytes of an SCA policy id (detail.h) */
#define MAX_SOURCE 256 /* bytes of a timeline's source filter */
#define MAX_GROUP  127 /* bytes of a token's group (the server reads 128) */
#define MAX_ACTION 32  /* bytes of a response action's name (respond.c) */

/* 0: go on; else the request is answered (405 or 403), or a negative YW_E*. */
static int gate(struct resp *r, int method_ok, const struct who *w, int role)
{
	int rc;
	if (!method_ok)
		rc = yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	else if (w->role < role)
		rc = yw_http_error(r, MHD_HTTP_FORBIDDEN, "your role does not allow this");
	else
		return 0;
	return rc ? rc : 1;
}

static int store_error(struct resp *r, int rc, const char *what)
{
	char msg[160];
	if (rc == YW_ENOENT) {
		snprintf(msg, sizeof(msg), "no such %s", what);
		return yw_http_error(r, MHD_HTTP_NOT_FOUND, msg);
	}
	return yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc));
}

/* A positive decimal id filling s; 0 when it is not one. */
static int64_t parse_id(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || *s == '+' || *s == '-')
		return 0;
	return v;
}

/* Drops the closing '}' a row writer put, so fields can follow. */
static void reopen(struct yw_strbuf *b)
{
	if (b->len && b->data[b->len - 1] == '}')
		b->data[--b->len] = 0;
}

/* ---- GET /alerts/{id} ---- */

struct one_alert {
	struct yw_http *h;
	struct yw_strbuf *b;
	int64_t id;
	int found;
	char agent[YW_AGENT_ID_SIZE];
};

static int one_alert_row(void *ud, const struct yw_store_alert_row *a)
{
	struct one_alert *o = ud;
	if (a->id != o->id)
		return 1; /* the next id: this one does not exist */
	o->found = 1;
	snprintf(o->agent, sizeof(o->agent), "%s", a->agent_id ? a->agent_id : "");
	return yw_http_alert_json(o->h->s, o->b, a);
}

static int history_row(void *ud, const struct yw_store_alert_event *e)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_printf(b, "{\"ts\":%lld", (long long)e->ts);
	rc = rc ? rc : yw_http_kv_str(b, "action", e->action, 0);
	rc = rc ? rc : yw_http_kv_str(b, "from", e->from, 0);
	rc = rc ? rc : yw_http_kv_str(b, "to", e->to, 0);
	rc = rc ? rc : yw_http_kv_str(b, "by", e->by, 0);
	rc = rc ? rc : yw_http_kv_str(b, "comment", e->comment, 0);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

static int agent_brief(void *ud, const struct yw_store_agent *a)
{
	struct yw_strbuf *b = ud;
	int rc = yw_strbuf_putc(b, '{');
	rc = rc ? rc : yw_http_kv_str(b, "id", a->id, 1);
	rc = rc ? rc : yw_http_kv_str(b, "name", a->name, 0);
	rc = rc ? rc : yw_http_kv_str(b, "group", a->group, 0);
	rc = rc ? rc : yw_strbuf_printf(b, ",\"online\":%s}", a->online ? "true" : "false");
	return rc;
}

static int get_alert(struct yw_http *h, int64_t id, struct resp *r)
{
	struct one_alert o = {.h = h, .b = &r->b, .id = id};
	struct yw_store_alert_query aq = {.after_id = id - 1, .limit = 1};
	int rc = yw_store_alerts(h->s->store, &aq, one_alert_row, &o);
	if (rc < 0)
		return store_error(r, rc, "alert");
	if (!o.found)
		return yw_http_error(r, MHD_HTTP_NOT_FOUND, "no such alert");
	reopen(&r->b);
	struct list l = {.b = &r->b};
	rc = yw_strbuf_puts(&r->b, ",\"history\":[");
	rc = rc ? rc : yw_store_alert_history(h->s->store, id, history_row, &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "],\"agent\":");
	if (rc == 0) {
		size_t at = r->b.len;
		rc = yw_store_agent_get(h->s->store, o.agent, agent_brief, &r->b);
		if (rc == YW_ENOENT) {
			r->b.len = at;
			rc = yw_strbuf_puts(&r->b, "null");
		}
	}
	rc = rc ? rc : yw_strbuf_putc(&r->b, '}');
	return rc ? store_error(r, rc, "alert") : 0;
}

/* ---- POST /alerts/status ---- */

static int post_bulk_status(struct yw_http *h, const struct who *w, struct req *q, struct resp *r)
{
	json_t *j = yw_http_body_object(q);
	if (!j)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
	json_t *ids = json_object_get(j, "ids");
	const char *status = yw_http_j_str(j, "status"), *comment = yw_http_j_str(j, "comment");
	int action = yw_http_alert_action(status), rc = 0;
	size_t n = json_array_size(ids);
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *v = json_array_get(ids, i);
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			rc = 1;
	}
	if (!json_is_array(ids) || n == 0 || n > YW_HTTP_BULK_MAX || rc) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                   "ids: an array of 1 to 1000 alert ids (integers > 0)");
	} else if (action < 0) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                   "status: acknowledged, resolved, false_positive or new");
	} else if (json_object_get(j, "comment") && !comment) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST, "comment must be a string");
	} else {
		/* Each id is changed as POST /alerts/{id}/status changes it; one failing does not
		 * stop the others. */
		struct yw_strbuf failed;
		yw_strbuf_init(&failed, 0);
		size_t changed = 0, nfailed = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			int64_t id = (int64_t)json_integer_value(json_array_get(ids, i));
			struct yw_store_alert_change ch = {id, action, w->user, comment, 0};
			int crc = yw_store_alert_change(h->s->store, &ch);
			if (crc == 0) {
				changed++;
				continue;
			}
			rc = nfailed++ ? yw_strbuf_putc(&failed, ',') : 0;
			rc = rc ? rc : yw_strbuf_printf(&failed, "{\"id\":%lld", (long long)id);
			rc = rc ? rc : yw_http_kv_str(&failed, "error", yw_store_strerror(crc), 0);
			rc = rc ? rc : yw_strbuf_putc(&failed, '}');
		}
		rc = rc ? rc : yw_strbuf_printf(&r->b, "{\"changed\":%zu,\"failed\":[", changed);
		rc = rc ? rc : yw_strbuf_append(&r->b, failed.data ? failed.data : "", failed.len);
		rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
		yw_strbuf_free(&failed);
	}
	json_decref(j);
	return rc;
}

/* ---- GET /incidents/{id} ---- */

struct alert_list {
	struct list l;
	struct yw_http *h;
};

static int incident_alert_row(void *ud, const struct yw_store_alert_row *a)
{
	struct alert_list *al = ud;
	int rc = yw_http_sep(&al->l);
	return rc ? rc : yw_http_alert_json(al->h->s, al->l.b, a);
}

static int get_incident(struct yw_http *h, int64_t id, struct resp *r)
{
	struct list one = {.b = &r->b, .max = 1};
	int rc = yw_store_incident_get(h->s->store, id, yw_http_incident_row, &one);
	if (rc < 0)
		return store_error(r, rc, "incident");
	reopen(&r->b);
	struct alert_list al = {.l = {.b = &r->b}, .h = h};
	rc = yw_strbuf_puts(&r->b, ",\"alerts\":[");
	rc = rc ? rc
	        : yw_store_incident_alerts(h->s->store, id, YW_HTTP_INCIDENT_ALERTS,
	                                   incident_alert_row, &al);
	rc = rc ? rc
	        : yw_strbuf_printf(&r->b, "],\"alerts_truncated\":%s}",
	                           al.l.n >= YW_HTTP_INCIDENT_ALERTS ? "true" : "false");
	return rc ? store_error(r, rc, "incident") : 0;
}

/* ---- GET /agents/{id} ---- */

static int get_agent(struct yw_http *h, const char *agent, struct resp *r)
{
	struct list l = {.b = &r->b};
	int rc = yw_store_agent_get(h->s->store, agent, yw_http_agent_row, &l);
	if (rc)
		return store_error(r, rc, "agent");
	reopen(&r->b);
	rc = yw_strbuf_puts(&r->b, ",\"risk\":");
	struct list rl = {.b = &r->b};
	size_t at = r->b.len;
	rc = rc ? rc : yw_store_risk(h->s->store, yw_wall_ns(), agent, yw_http_risk_row, &rl, NULL);
	if (rc == 0 && rl.n == 0) {
		r->b.len = at;
		rc = yw_strbuf_puts(&r->b, "null");
	}
	rc = rc ? rc : yw_strbuf_putc(&r->b, '}');
	return rc ? store_error(r, rc, "agent") : 0;
}

/* ---- GET /agents/{id}/baseline ---- */

static int sca_event(void *ud, const struct yw_store_event_row *e)
{
	return yw_http_sca_feed(ud, e->id, e->ts, e->event);
}

static int get_baseline(struct yw_http *h, struct MHD_Connection *c, const char *agent,
                        struct resp *r)
{
	const char *policy = yw_http_q_str(c, "policy");
	if (policy && (strlen(policy) > MAX_POLICY ||
	               strspn(policy, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                              "0123456789._-") != strlen(policy)))
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "policy: a policy id ([A-Za-z0-9._-])");
	char source[MAX_POLICY + 8];
	snprintf(source, sizeof(source), "sca:%s", policy ? policy : "");
	struct yw_http_sca v;
	int rc = yw_http_sca_init(&v, policy);
	struct yw_store_event_query eq = {
	    .agent_id = agent,
	    .source = source,
	    .source_prefix = !policy,
	    .max_scan = YW_HTTP_SCA_SCAN_MAX,
	};
	rc = rc ? rc : yw_store_agent_events(h->s->store, &eq, sca_event, &v, NULL);
	if (rc < 0) {
		yw_http_sca_free(&v);
		return store_error(r, rc, "agent");
	}
	rc = yw_http_sca_json(&v, &r->b);
	yw_http_sca_free(&v);
	if (rc == YW_ENOENT)
		return yw_http_error(
		    r, MHD_HTTP_NOT_FOUND,
		    "no baseline results from this agent (yet, or for this policy)");
	return rc;
}

/* ---- GET /agents/{id}/files and /timeline ---- */

struct page {
	struct list l;
	int files; /* file changes only; else every event */
	const char *source;
	int64_t last; /* id of the last item */
};

/* The raw record cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case YW_REC_LOG:
		return "log";
	case YW_REC_EVENT:
		return "event";
	case YW_REC_AGENT:
		return "agent";
	default:
		return "unknown";
	}
}

static int page_row(void *ud, const struct yw_store_event_row *e)
{
	struct page *p = ud;
	struct yw_strbuf *b = p->l.b;
	int rc;
	if (p->files) {
		size_t at = b->len;
		rc = p->l.n ? yw_strbuf_putc(b, ',') : 0;
		int got = rc ? rc : yw_http_fim_item(b, e->id, e->ts, e->event);
		if (got < 0)
			return got;
		if (got == 0) {
			b->len = at; /* a scan summary, not a change */
			if (b->data)
				b->data[at] = 0;
			return 0;
		}
		p->l.n++;
	} else {
		size_t mlen = utf8_cut(e->data, e->data_len, YW_HTTP_EVENT_MESSAGE);
		rc = yw_http_sep(&p->l);
		rc = rc ? rc
		        : yw_strbuf_printf(b, "{\"id\":%lld,\"seq\":%llu,\"ts\":%lld",
		                           (long long)e->id, (unsigned long long)e->seq,
		                           (long long)e->ts);
		rc = rc ? rc : yw_http_kv_str(b, "source", e->source, 0);
		rc = rc ? rc : yw_http_kv_str(b, "kind", kind_name(e->kind), 0);
		/* The decoded event is JSON the server wrote itself. */
		rc = rc ? rc
		        : yw_strbuf_printf(b, ",\"event\":%s,\"message\":",
		                           e->event && *e->event ? e->event : "null");
		rc = rc ? rc : yw_strbuf_json_str(b, e->data, mlen);
		rc = rc ? rc
		        : yw_strbuf_printf(b, ",\"message_truncated\":%s}",
		                           mlen < e->data_len ? "true" : "false");
		if (rc)
			return rc;
	}
	p->last = e->id;
	return p->l.n >= p->l.max ? 1 : 0;
}

static int get_events(struct yw_http *h, struct MHD_Connection *c, const char *agent, int files,
                      struct resp *r)
{
	long long before = 0, limit = 100;
	if (yw_http_q_int(c, "before_id", 1, INT64_MAX, &before) < 0 ||
	    yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "before_id: an event id (integer > 0); limit: 1..1000");
	const char *source = files ? "fim" : yw_http_q_str(c, "source");
	if (source && strlen(source) > MAX_SOURCE)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "source: at most 256 bytes");
	struct page p = {.l = {.b = &r->b, .max = (size_t)limit}, .files = files};
	struct yw_store_event_query eq = {
	    .agent_id = agent,
	    .before_id = before,
	    .source = source,
	    .max_scan = YW_HTTP_SCAN_MAX,
	};
	int64_t more = 0;
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_store_agent_events(h->s->store, &eq, page_row, &p, &more);
	if (rc == YW_EINVAL && before)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "before_id: not an event of this agent (or pruned)");
	if (rc < 0)
		return store_error(r, rc, "agent");
	/* A full page goes on after its last item; a page cut by the scan bound after the last
	 * event looked at. */
	int64_t next = rc == 1 ? p.last : more;
	if (next)
		return yw_strbuf_printf(&r->b, "],\"next_before_id\":%lld}", (long long)next);
	return yw_strbuf_puts(&r->b, "],\"next_before_id\":null}");
}

/* ---- tokens ---- */

static int token_row(void *ud, const struct yw_store_token *t)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_putc(b, '{');
	rc = rc ? rc : yw_http_kv_str(b, "id", t->id, 1);
	rc = rc ? rc : yw_http_kv_str(b, "group", t->group, 0);
	rc = rc ? rc : yw_http_kv_int(b, "created_at", t->created_at);
	rc = rc ? rc : yw_http_kv_int(b, "expires_at", t->expires_at);
	/* -1 = unlimited */
	rc = rc ? rc : yw_http_kv_int(b, "uses_left", t->uses_left);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

static int get_tokens(struct yw_http *h, struct resp *r)
{
	struct list l = {.b = &r->b};
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_store_token_list(h->s->store, token_row, &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? store_error(r, rc, "token") : 0;
}

static int post_token(struct yw_http *h, struct req *q, struct resp *r)
{
	json_t *j = yw_http_body_object(q);
	if (!j)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
	const char *group = yw_http_j_str(j, "group"), *expires = yw_http_j_str(j, "expires");
	json_t *uses_j = json_object_get(j, "uses");
	int64_t ttl = h->s->cfg.token_default_ttl_ms, uses = h->s->cfg.token_default_uses;
	int rc = 0;
	const char *bad = NULL;
	if (json_object_get(j, "group") &&
	    (!group || !*group || strlen(group) > MAX_GROUP || strpbrk(group, "\r\n\t")))
		bad = "group: a name of 1 to 127 bytes";
	else if (json_object_get(j, "expires") &&
	         (!expires || yw_parse_duration_ms(expires, &ttl) || ttl < 60000 ||
	          ttl > 31536000000LL))
		bad = "expires: a duration from 1m to 365d, e.g. \"24h\"";
	else if (uses_j && (!json_is_integer(uses_j) || json_integer_value(uses_j) < 0 ||
	                    json_integer_value(uses_j) > 1000000))
		bad = "uses: an integer 1..1000000 (0 = unlimited)";
	if (bad) {
		json_decref(j);
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, bad);
	}
	if (uses_j)
		uses = json_integer_value(uses_j);
	char id[YW_AGENT_ID_SIZE], enroll[YW_MAX_ENROLL_STRING + 1];
	/* The same code as `yiwang token create` (server.c). */
	rc = yw_server_token_new(h->s, group ? group : "default", ttl, uses, id, sizeof(id), enroll,
	                         sizeof(enroll));
	if (rc) {
		rc = store_error(r, rc, "token");
	} else {
		r->status = MHD_HTTP_CREATED;
		rc = yw_strbuf_putc(&r->b, '{');
		rc = rc ? rc : yw_http_kv_str(&r->b, "id", id, 1);
		rc = rc ? rc : yw_http_kv_str(&r->b, "enrollment", enroll, 0);
		rc = rc ? rc : yw_strbuf_putc(&r->b, '}');
	}
	OPENSSL_cleanse(enroll, sizeof(enroll));
	json_decref(j);
	return rc;
}

static int delete_token(struct yw_http *h, const char *id, struct resp *r)
{
	if (!yw_pki_agent_id_valid(id))
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "not a token id");
	int rc = yw_store_token_delete(h->s->store, id);
	if (rc)
		return store_error(r, rc, "token");
	rc = yw_strbuf_puts(&r->b, "{\"deleted\":");
	rc = rc ? rc : yw_strbuf_json_str(&r->b, id, strlen(id));
	return rc ? rc : yw_strbuf_putc(&r->b, '}');
}

/* ---- response actions ---- */

/* responses.db through a read-only connection of this request's own: its writer belongs to the
 * loop thread (respond.c); WAL lets both work at once. */
static int get_responses(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	long long limit = 100, before = 0;
	const char *agent = yw_http_q_str(c, "agent");
	if (yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0 ||
	    yw_http_q_int(c, "before_id", 1, INT64_MAX, &before) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "limit: 1..1000; before_id: a command id (integer > 0)");
	if (agent && !yw_pki_agent_id_valid(agent))
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "agent: not an agent id");
	char path[4200];
	snprintf(path, sizeof(path), "%s/responses.db", h->s->cfg.data_dir);
	int rc = yw_http_list_open(r);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	if (rc || access(path, F_OK)) /* no command was ever sent */
		goto done;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	        SQLITE_OK ||
	    sqlite3_busy_timeout(db, 2000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       agent ? "SELECT id, agent, name, args, requested_by, requested_at,"
	                               " status, result, finished_at FROM commands"
	                               " WHERE agent = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
	                             : "SELECT id, agent, name, args, requested_by, requested_at,"
	                               " status, result, finished_at FROM commands"
	                               " WHERE id < ?2 ORDER BY id DESC LIMIT ?3",
	                       -1, &st, NULL) != SQLITE_OK) {
		yw_logf(YW_LOG_ERROR, "http: %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		rc =
		    yw_http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "responses.db is unavailable");
		goto out;
	}
	if (agent)
		sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before ? before : INT64_MAX);
	sqlite3_bind_int64(st, 3, limit);
	struct list l = {.b = &r->b};
	int64_t now = yw_wall_ns();
	int src;
	while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 6);
		int64_t at = sqlite3_column_int64(st, 5);
		if (status && !strcmp(status, "sent") && now - at > YW_RESPONSE_LOST_AFTER_NS)
			status = "lost";
		const char *args = (const char *)sqlite3_column_text(st, 3);
		const char *res = (const char *)sqlite3_column_text(st, 7);
		rc = yw_http_sep(&l);
		rc = rc ? rc
		        : yw_strbuf_printf(&r->b, "{\"id\":%lld",
		                           (long long)sqlite3_column_int64(st, 0));
		rc = rc ? rc
		        : yw_http_kv_str(&r->b, "agent", (const char *)sqlite3_column_text(st, 1),
		                         0);
		rc = rc ? rc
		        : yw_http_kv_str(&r->b, "action", (const char *)sqlite3_column_text(st, 2),
		                         0);
		rc = rc ? rc
		        : yw_http_kv_str(&r->b, "requested_by",
		                         (const char *)sqlite3_column_text(st, 4), 0);
		rc = rc ? rc : yw_http_kv_int(&r->b, "requested_at", at);
		rc = rc ? rc : yw_http_kv_str(&r->b, "status", status, 0);
		/* args and result are compact JSON respond.c wrote. */
		rc = rc ? rc
		        : yw_strbuf_printf(&r->b, ",\"args\":%s,\"result\":%s",
		                           args ? args : "null", res ? res : "null");
		if (rc == 0 && sqlite3_column_type(st, 8) == SQLITE_NULL)
			rc = yw_strbuf_puts(&r->b, ",\"finished_at\":null}");
		else if (rc == 0)
			rc = yw_strbuf_printf(&r->b, ",\"finished_at\":%lld}",
			                      (long long)sqlite3_column_int64(st, 8));
	}
	if (rc == 0 && src != SQLITE_DONE) {
		yw_logf(YW_LOG_ERROR, "http: %s: %s", path, sqlite3_errmsg(db));
		rc =
		    yw_http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "responses.db is unavailable");
		goto out;
	}
done:
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* A command handed to the loop thread, which owns the agent connections. */
struct respond_job {
	const char *agent, *action, *args, *by;
	uint64_t id;
	int rc;
};

static void respond_on_loop(struct yw_server *s, void *ud)
{
	struct respond_job *j = ud;
	j->rc = yw_server_command(s, j->agent, j->action, j->args, j->by, &j->id);
}

static int noop_agent(void *ud, const struct yw_store_agent *a)
{
	return 0;
}

static int post_respond(struct yw_http *h, const struct who *w, const char *agent, struct req *q,
                        struct resp *r)
{
	json_t *j = yw_http_body_object(q);
	if (!j)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
	const char *action = yw_http_j_str(j, "action");
	json_t *args = json_object_get(j, "args");
	char *text = NULL;
	int rc;
	if (!action || !*action || strlen(action) > MAX_ACTION ||
	    strspn(action, "abcdefghijklmnopqrstuvwxyz_") != strlen(action)) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                   "action: a name of [a-z_], e.g. block_ip");
	} else if (args && !json_is_object(args)) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST, "args must be an object");
	} else if (!(text = args ? json_dumps(args, JSON_COMPACT) : strdup("{}"))) {
		rc = YW_ENOMEM;
	} else if ((rc = yw_store_agent_get(h->s->store, agent, noop_agent, NULL))) {
		rc = store_error(r, rc, "agent");
	} else {
		struct respond_job job = {agent, action, text, w->user, 0, 0};
		rc = yw_server_call(h->s, respond_on_loop, &job, YW_HTTP_CALL_TIMEOUT_MS);
		if (rc == YW_EAGAIN) {
			r->retry_after = 1;
			rc = yw_http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is busy");
		} else if (rc == 0 && job.rc == YW_ENOENT) {
			rc = yw_http_error(r, MHD_HTTP_CONFLICT, "the agent is not connected");
		} else if (rc == 0 && job.rc == YW_EINVAL) {
			rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST, "bad action or arguments");
		} else if (rc == 0 && job.rc) {
			rc = yw_http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, yw_strerror(job.rc));
		} else if (rc == 0) {
			rc = yw_strbuf_printf(&r->b, "{\"id\":%llu,\"status\":\"sent\"}",
			                      (unsigned long long)job.id);
		}
	}
	free(text);
	json_decref(j);
	return rc;
}

/* ---- the router ---- */

/* "/agents/<id><rest>": the id into id (400 answered when malformed); *rest after it. */
static int agent_path(const char *p, char *id, const char **rest)
{
	const char *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= YW_AGENT_ID_SIZE)
		return -1;
	memcpy(id, p, n);
	id[n] = 0;
	*rest = p + n;
	return yw_pki_agent_id_valid(id) ? 0 : -1;
}

static int answered(int rc)
{
	return rc < 0 ? rc : 1;
}

int yw_http_route_detail(struct yw_http *h, struct MHD_Connection *c, const char *path,
                         const char *method, const struct who *w, struct req *q, struct resp *r)
{
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	int post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	int rc;
	if (!strcmp(path, "/alerts/status")) {
		if ((rc = gate(r, post, w, YW_ROLE_ANALYST)))
			return answered(rc);
		return answered(post_bulk_status(h, w, q, r));
	}
	if (!strncmp(path, "/alerts/", 8) && !strchr(path + 8, '/')) {
		if ((rc = gate(r, get, w, YW_ROLE_VIEWER)))
			return answered(rc);
		int64_t id = parse_id(path + 8);
		return answered(
		    id ? get_alert(h, id, r)
		       : yw_http_error(r, MHD_HTTP_BAD_REQUEST, "alert id: an integer > 0"));
	}
	if (!strncmp(path, "/incidents/", 11) && !strchr(path + 11, '/')) {
		if ((rc = gate(r, get, w, YW_ROLE_VIEWER)))
			return answered(rc);
		int64_t id = parse_id(path + 11);
		return answered(
		    id ? get_incident(h, id, r)
		       : yw_http_error(r, MHD_HTTP_BAD_REQUEST, "incident id: an integer > 0"));
	}
	if (!strcmp(path, "/tokens")) {
		if ((rc = gate(r, get || post, w, YW_ROLE_ADMIN)))
			return answered(rc);
		return answered(get ? get_tokens(h, r) : post_token(h, q, r));
	}
	if (!strncmp(path, "/tokens/", 8) && !strchr(path + 8, '/')) {
		if ((rc = gate(r, del, w, YW_ROLE_ADMIN)))
			return answered(rc);
		return answered(delete_token(h, path + 8, r));
	}
	if (!strcmp(path, "/responses")) {
		if ((rc = gate(r, get, w, YW_ROLE_ANALYST)))
			return answered(rc);
		return answered(get_responses(h, c, r));
	}
	if (strncmp(path, "/agents/", 8))
		return 0;
	char agent[YW_AGENT_ID_SIZE];
	const char *rest;
	int bad = agent_path(path + 8, agent, &rest);
	static const char *const subs[] = {"", "/baseline", "/files", "/timeline", "/respond"};
	size_t k = 0;
	if (bad) /* the whole remainder, for the check below */
		rest = strchr(path + 8, '/') ? strchr(path + 8, '/') : "";
	while (k < sizeof(subs) / sizeof(subs[0]) && strcmp(rest, subs[k]))
		k++;
	if (k == sizeof(subs) / sizeof(subs[0]))
		return 0; /* another family's (inventory) */
	if ((rc = gate(r, k == 4 ? post : get, w, k == 4 ? YW_ROLE_ADMIN : YW_ROLE_VIEWER)))
		return answered(rc);
	if (bad)
		return answered(
		    yw_http_error(r, MHD_HTTP_BAD_REQUEST, "agent id: 1 to 64 of [A-Za-z0-9._-]"));
	switch (k) {
	case 0:
		return answered(get_agent(h, agent, r));
	case 1:
		return answered(get_baseline(h, c, agent, r));
	case 2:
	case 3:
		return answered(get_events(h, c, agent, k == 2, r));
	default:
		return answered(post_respond(h, w, agent, q, r));
	}
}
