/* The HTTP API /api/v1 (http.h, docs/api.md) on libmicrohttpd: it parses HTTP and runs TLS
 * (GnuTLS); this file routes, authenticates, authorizes, audits and writes JSON. */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "http.h"
#include "http_int.h"
#include "ratelimit.h"
#include "server/live.h"
#include "server/server.h"
#include "yiwang/error.h"
#include "yw_limits.h"

/* cmake/embed.cmake: web/openapi.json */
extern const char yw_embedded_openapi[];
extern const size_t yw_embedded_openapi_len;

int yw_http_error(struct resp *r, int status, const char *msg)
{
	r->status = status;
	yw_strbuf_reset(&r->b);
	int rc = yw_strbuf_puts(&r->b, "{\"error\":");
	rc = rc ? rc : yw_strbuf_json_str(&r->b, msg, strlen(msg));
	return rc ? rc : yw_strbuf_putc(&r->b, '}');
}

/* ,"k":"v" (null for NULL); first: no comma. */
int yw_http_kv_str(struct yw_strbuf *b, const char *k, const char *v, int first)
{
	int rc = yw_strbuf_printf(b, "%s\"%s\":", first ? "" : ",", k);
	if (rc)
		return rc;
	return v ? yw_strbuf_json_str(b, v, strlen(v)) : yw_strbuf_puts(b, "null");
}

int yw_http_kv_int(struct yw_strbuf *b, const char *k, long long v)
{
	return yw_strbuf_printf(b, ",\"%s\":%lld", k, v);
}

/* ---- query parameters ---- */

/* 0 absent (*v untouched), 1 set, -1 malformed or out of [lo, hi]. */
int yw_http_q_int(struct MHD_Connection *c, const char *k, long long lo, long long hi, long long *v)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
	if (!s)
		return 0;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end || x < lo || x > hi)
		return -1;
	*v = x;
	return 1;
}

const char *yw_http_q_str(struct MHD_Connection *c, const char *k)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
	return s && *s ? s : NULL;
}

/* ---- rows ---- */

int yw_http_sep(struct list *l)
{
	return l->n++ ? yw_strbuf_putc(l->b, ',') : 0;
}

int yw_http_agent_row(void *ud, const struct yw_store_agent *a)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_putc(b, '{');
	rc = rc ? rc : yw_http_kv_str(b, "id", a->id, 1);
	rc = rc ? rc : yw_http_kv_str(b, "name", a->name, 0);
	rc = rc ? rc : yw_http_kv_str(b, "group", a->group, 0);
	rc = rc ? rc : yw_http_kv_str(b, "os", a->os, 0);
	rc = rc ? rc : yw_http_kv_str(b, "version", a->version, 0);
	rc = rc ? rc : yw_http_kv_str(b, "addresses", a->addresses, 0);
	rc = rc ? rc : yw_http_kv_int(b, "enrolled_at", a->enrolled_at);
	rc = rc ? rc : yw_http_kv_int(b, "last_seen", a->last_seen);
	rc = rc ? rc : yw_http_kv_int(b, "revoked_at", a->revoked_at);
	rc = rc ? rc : yw_http_kv_int(b, "online", a->online);
	rc = rc ? rc : yw_http_kv_int(b, "last_seq", (long long)a->last_seq);
	rc = rc ? rc : yw_http_kv_int(b, "events_received", (long long)a->events_received);
	rc = rc ? rc : yw_http_kv_int(b, "events_lost", (long long)a->events_lost);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

static int alert_row(void *ud, const struct yw_store_alert_row *a)
{
	struct list *l = ud;
	if (!l->scanned++)
		l->first_id = a->id;
	l->last_id = a->id;
	if (l->status && strcmp(l->status, a->status ? a->status : ""))
		return 0;
	int rc = yw_http_sep(l);
	return rc ? rc : yw_http_alert_json(l->s, l->b, a);
}

int yw_http_alert_json(struct yw_server *s, struct yw_strbuf *b, const struct yw_store_alert_row *a)
{
	int rc = yw_strbuf_printf(b, "{\"id\":%lld", (long long)a->id);
	rc = rc ? rc : yw_http_kv_str(b, "agent_id", a->agent_id, 0);
	rc = rc ? rc : yw_http_kv_str(b, "agent_name", a->agent_name, 0);
	rc = rc ? rc : yw_http_kv_int(b, "seq", (long long)a->seq);
	rc = rc ? rc : yw_http_kv_str(b, "rule_id", a->rule_id, 0);
	rc = rc ? rc : yw_http_kv_str(b, "title", a->title, 0);
	rc = rc ? rc : yw_http_kv_str(b, "level", yw_level_name(a->level), 0);
	/* tags and event are JSON written by the server itself. */
	rc = rc ? rc : yw_strbuf_printf(b, ",\"tags\":%s", a->tags && *a->tags ? a->tags : "[]");
	rc = rc ? rc : yw_http_kv_int(b, "event_ts", a->event_ts);
	rc = rc ? rc : yw_http_kv_int(b, "created_at", a->created_at);
	rc = rc ? rc : yw_http_kv_str(b, "status", a->status, 0);
	rc = rc ? rc : yw_http_kv_int(b, "count", (long long)a->count);
	rc = rc ? rc : yw_http_kv_int(b, "first_seen", a->first_seen);
	rc = rc ? rc : yw_http_kv_int(b, "last_seen", a->last_seen);
	rc = rc ? rc : yw_http_kv_str(b, "dedup_key", a->dedup_key, 0);
	rc = rc ? rc : yw_http_kv_str(b, "ack_by", a->ack_by, 0);
	rc = rc ? rc : yw_http_kv_int(b, "ack_at", a->ack_at);
	rc = rc ? rc : yw_http_kv_str(b, "ack_comment", a->ack_comment, 0);
	rc = rc ? rc : yw_http_kv_str(b, "closed_by", a->closed_by, 0);
	rc = rc ? rc : yw_http_kv_int(b, "closed_at", a->closed_at);
	rc = rc ? rc : yw_http_kv_str(b, "closed_comment", a->closed_comment, 0);
	rc = rc ? rc : yw_strbuf_puts(b, ",\"solution\":");
	rc = rc ? rc : yw_server_solution_json(s, a->rule_id, b);
	rc = rc ? rc
	        : yw_strbuf_printf(b, ",\"event\":%s}", a->event && *a->event ? a->event : "null");
	return rc;
}

int yw_http_incident_row(void *ud, const struct yw_store_incident *i)
{
	struct list *l = ud;
	if (l->n >= l->max)
		return 1; /* the page is full: stops the store's iteration */
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_printf(b, "{\"id\":%lld", (long long)i->id);
	rc = rc ? rc : yw_http_kv_str(b, "kind", i->kind, 0);
	rc = rc ? rc : yw_http_kv_str(b, "key", i->key, 0);
	rc = rc ? rc : yw_http_kv_int(b, "opened_at", i->opened_at);
	rc = rc ? rc : yw_http_kv_int(b, "updated_at", i->updated_at);
	rc = rc ? rc : yw_http_kv_int(b, "closed_at", i->closed_at);
	rc = rc ? rc : yw_http_kv_int(b, "alert_count", (long long)i->alert_count);
	rc = rc ? rc : yw_http_kv_int(b, "agents", (long long)i->agents);
	rc = rc ? rc : yw_http_kv_str(b, "max_level", yw_level_name(i->max_level), 0);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

int yw_http_risk_row(void *ud, const struct yw_store_risk_row *r)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_putc(b, '{');
	rc = rc ? rc : yw_http_kv_str(b, "agent_id", r->agent_id, 1);
	rc = rc ? rc : yw_http_kv_str(b, "agent_name", r->agent_name, 0);
	rc = rc ? rc
	        : yw_strbuf_printf(b,
	                           ",\"score\":%.1f,\"alert_points\":%.2f,\"sca_points\":%.2f,"
	                           "\"exposure_points\":%.2f,\"open_alerts\":%llu,"
	                           "\"open_by_level\":[%llu,%llu,%llu,%llu,%llu],"
	                           "\"sca_score\":%d,\"ports\":%llu}",
	                           r->score, r->alert_points, r->sca_points, r->exposure_points,
	                           (unsigned long long)r->open_alerts,
	                           (unsigned long long)r->open_by_level[0],
	                           (unsigned long long)r->open_by_level[1],
	                           (unsigned long long)r->open_by_level[2],
	                           (unsigned long long)r->open_by_level[3],
	                           (unsigned long long)r->open_by_level[4], r->sca_score,
	                           (unsigned long long)r->ports);
	return rc;
}

static int audit_row(void *ud, const struct yw_auth_audit_row *a)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc
	        : yw_strbuf_printf(b, "{\"id\":%lld,\"ts\":%lld", (long long)a->id,
	                           (long long)a->ts);
	rc = rc ? rc : yw_http_kv_str(b, "user", a->user, 0);
	rc = rc ? rc : yw_http_kv_str(b, "address", a->address, 0);
	rc = rc ? rc : yw_http_kv_str(b, "method", a->method, 0);
	rc = rc ? rc : yw_http_kv_str(b, "path", a->path, 0);
	return rc ? rc : yw_strbuf_printf(b, ",\"status\":%d}", a->status);
}

static int inventory_row(void *ud, const struct yw_store_inventory_row *i)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_putc(b, '{');
	rc = rc ? rc : yw_http_kv_str(b, "dataset", i->dataset, 1);
	rc = rc ? rc : yw_http_kv_str(b, "key", i->key, 0);
	rc = rc ? rc : yw_http_kv_int(b, "updated_at", i->updated_at);
	/* data is the item's event as the server itself stored it: JSON already. */
	return rc ? rc
	          : yw_strbuf_printf(b, ",\"data\":%s}", i->data && *i->data ? i->data : "null");
}

static int inventory_change_row(void *ud, const struct yw_store_inventory_change *ch)
{
	struct list *l = ud;
	struct yw_strbuf *b = l->b;
	l->last_id = ch->id;
	int rc = yw_http_sep(l);
	rc = rc ? rc
	        : yw_strbuf_printf(b, "{\"id\":%lld,\"ts\":%lld", (long long)ch->id,
	                           (long long)ch->ts);
	rc = rc ? rc : yw_http_kv_str(b, "dataset", ch->dataset, 0);
	rc = rc ? rc : yw_http_kv_str(b, "key", ch->key, 0);
	rc = rc ? rc : yw_http_kv_str(b, "action", ch->action, 0);
	return rc ? rc
	          : yw_strbuf_printf(b, ",\"data\":%s}", ch->data && *ch->data ? ch->data : "null");
}

static int risk_point_row(void *ud, const struct yw_store_risk_point *p)
{
	struct list *l = ud;
	int rc = yw_http_sep(l);
	return rc ? rc
	          : yw_strbuf_printf(l->b, "{\"ts\":%lld,\"score\":%.1f}", (long long)p->ts,
	                             p->score);
}

static int json_str_list(struct yw_strbuf *b, const char *const *v, size_t n)
{
	int rc = yw_strbuf_putc(b, '[');
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = i ? yw_strbuf_putc(b, ',') : 0;
		rc = rc ? rc : yw_strbuf_json_str(b, v[i], strlen(v[i]));
	}
	return rc ? rc : yw_strbuf_putc(b, ']');
}

static int rule_row(struct list *l, const struct yw_rule_info *ri)
{
	struct yw_strbuf *b = l->b;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_putc(b, '{');
	rc = rc ? rc : yw_http_kv_str(b, "id", ri->id, 1);
	rc = rc ? rc : yw_http_kv_str(b, "title", ri->title, 0);
	rc = rc ? rc : yw_http_kv_str(b, "level", ri->level, 0);
	rc = rc ? rc : yw_http_kv_str(b, "status", ri->status, 0);
	rc = rc ? rc : yw_strbuf_puts(b, ",\"tags\":");
	rc = rc ? rc : json_str_list(b, ri->tags, ri->ntags);
	rc = rc ? rc : yw_http_kv_str(b, "product", ri->product, 0);
	rc = rc ? rc : yw_http_kv_str(b, "service", ri->service, 0);
	rc = rc ? rc : yw_http_kv_str(b, "category", ri->category, 0);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

/* ---- handlers ---- */

int yw_http_store_status(int rc)
{
	switch (rc) {
	case YW_ENOENT:
		return MHD_HTTP_NOT_FOUND;
	case YW_EINVAL:
	case YW_ELIMIT:
		return MHD_HTTP_BAD_REQUEST;
	case YW_STORE_ESTATE:
		return MHD_HTTP_CONFLICT;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* Wraps the items the callback wrote: {"items":[...]} */
int yw_http_list_open(struct resp *r)
{
	return yw_strbuf_puts(&r->b, "{\"items\":[");
}

static int get_agents(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	struct list l = {.b = &r->b};
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_store_agent_list(h->s->store, yw_http_agent_row, &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc)) : 0;
}

static int get_alerts(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	struct yw_store_alert_query q = {0};
	long long since = 0, after = 0, before = 0, limit = 100, newest = 0;
	if (yw_http_q_int(c, "since", 0, INT64_MAX, &since) < 0 ||
	    yw_http_q_int(c, "after_id", 0, INT64_MAX, &after) < 0 ||
	    yw_http_q_int(c, "before_id", 1, INT64_MAX, &before) < 0 ||
	    yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0 ||
	    yw_http_q_int(c, "newest", 0, 1, &newest) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "since, after_id: integers >= 0; before_id: integer >= 1; "
		                     "limit: 1..1000; newest: 0 or 1");
	/* Paging back from the newest: before_id implies the newest rows below it. */
	if (before)
		newest = 1;
	const char *level = yw_http_q_str(c, "level"), *status = yw_http_q_str(c, "status");
	if (level && (q.min_level = yw_level_parse(level)) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "unknown level");
	struct list l = {.s = h->s, .b = &r->b};
	if (status && !strcmp(status, "open")) {
		q.open = 1;
	} else if (status) {
		static const char *const st[] = {"new", "acknowledged", "resolved",
		                                 "false_positive"};
		for (size_t i = 0; i < 4 && !l.status; i++)
			if (!strcmp(status, st[i]))
				l.status = st[i];
		if (!l.status)
			return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "unknown status");
	}
	q.since = since;
	q.after_id = after;
	q.limit = (size_t)limit;
	q.newest = (int)newest;
	q.before_id = before;
	q.agent_id = yw_http_q_str(c, "agent");
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_store_alerts(h->s->store, &q, alert_row, &l);
	if (rc)
		return yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc));
	/* A full page means there may be more: the next starts after the last id scanned (with
	 * a status filter a page can hold fewer than limit rows). */
	if (newest && l.scanned == (size_t)limit)
		return yw_strbuf_printf(&r->b, "],\"next_after_id\":null,\"next_before_id\":%lld}",
		                        (long long)l.first_id);
	if (!newest && l.scanned == (size_t)limit)
		return yw_strbuf_printf(&r->b, "],\"next_after_id\":%lld,\"next_before_id\":null}",
		                        (long long)l.last_id);
	return yw_strbuf_puts(&r->b, "],\"next_after_id\":null,\"next_before_id\":null}");
}

static int get_incidents(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	long long open = 0, limit = YW_HTTP_MAX_PAGE;
	if (yw_http_q_int(c, "open", 0, 1, &open) < 0 ||
	    yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "open: 0 or 1; limit: 1..1000");
	struct list l = {.b = &r->b, .max = (size_t)limit};
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_store_incidents(h->s->store, (int)open, yw_http_incident_row, &l);
	if (rc == 1)
		rc = 0;
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc)) : 0;
}

static int get_risk(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	struct list l = {.b = &r->b};
	double fleet = 0;
	int rc = yw_http_list_open(r);
	rc = rc ? rc
	        : yw_store_risk(h->s->store, yw_wall_ns(), yw_http_q_str(c, "agent"), yw_http_risk_row, &l,
	                        &fleet);
	rc = rc ? rc : yw_strbuf_printf(&r->b, "],\"fleet\":%.1f}", fleet);
	return rc ? yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc)) : 0;
}

static int get_stats(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	struct yw_store_stats st;
	int rc = yw_store_stats(h->s->store, &st);
	if (rc)
		return yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc));
	rc = yw_strbuf_printf(&r->b,
	                      "{\"agents\":%llu,\"agents_online\":%llu,\"events\":%llu,"
	                      "\"alerts\":%llu,\"alerts_by_level\":{",
	                      (unsigned long long)st.agents, (unsigned long long)st.agents_online,
	                      (unsigned long long)st.events, (unsigned long long)st.alerts);
	for (int i = 0; rc == 0 && i < YW_LEVEL_COUNT; i++)
		rc = yw_strbuf_printf(&r->b, "%s\"%s\":%llu", i ? "," : "", yw_level_name(i),
		                      (unsigned long long)st.alerts_by_level[i]);
	return rc ? rc : yw_strbuf_puts(&r->b, "}}");
}

static int get_audit(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	long long after = 0, limit = 100;
	if (yw_http_q_int(c, "after_id", 0, INT64_MAX, &after) < 0 ||
	    yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "after_id: integer >= 0; limit: 1..1000");
	struct list l = {.b = &r->b};
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_auth_audit_list(h->auth, after, (int)limit, audit_row, &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? yw_http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, yw_strerror(rc)) : 0;
}

/* 404 unless the agent is known: the inventory and risk tables have no rows for a stranger,
 * which would read as an empty answer. */
static int noop_agent(void *ud, const struct yw_store_agent *a)
{
	return 0;
}

static int get_inventory(struct yw_http *h, struct MHD_Connection *c, const char *agent,
                         struct resp *r)
{
	struct list l = {.b = &r->b};
	int rc = yw_store_agent_get(h->s->store, agent, noop_agent, NULL);
	rc = rc ? rc : yw_http_list_open(r);
	rc = rc ? rc
	        : yw_store_inventory(h->s->store, agent, yw_http_q_str(c, "dataset"), inventory_row,
	                             &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc)) : 0;
}

static int get_inventory_history(struct yw_http *h, struct MHD_Connection *c, const char *agent,
                                 struct resp *r)
{
	long long after = 0, limit = 100;
	if (yw_http_q_int(c, "after_id", 0, INT64_MAX, &after) < 0 ||
	    yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "after_id: integer >= 0; limit: 1..1000");
	struct list l = {.b = &r->b};
	int rc = yw_store_agent_get(h->s->store, agent, noop_agent, NULL);
	rc = rc ? rc : yw_http_list_open(r);
	rc = rc ? rc
	        : yw_store_inventory_history(h->s->store, agent, after, (size_t)limit,
	                                     inventory_change_row, &l);
	if (rc)
		return yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc));
	if (l.n == (size_t)limit)
		return yw_strbuf_printf(&r->b, "],\"next_after_id\":%lld}", (long long)l.last_id);
	return yw_strbuf_puts(&r->b, "],\"next_after_id\":null}");
}

static int get_risk_history(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	long long since = 0;
	if (yw_http_q_int(c, "since", 0, INT64_MAX, &since) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "since: integer >= 0");
	const char *scope = yw_http_q_str(c, "scope");
	if (!scope)
		scope = "fleet";
	int rc = 0;
	if (strcmp(scope, "fleet"))
		rc = yw_store_agent_get(h->s->store, scope, noop_agent, NULL);
	struct list l = {.b = &r->b};
	rc = rc ? rc : yw_strbuf_puts(&r->b, "{\"scope\":");
	rc = rc ? rc : yw_strbuf_json_str(&r->b, scope, strlen(scope));
	rc = rc ? rc : yw_strbuf_puts(&r->b, ",\"items\":[");
	rc = rc ? rc : yw_store_risk_history(h->s->store, scope, since, risk_point_row, &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc)) : 0;
}

static int get_solution(struct yw_http *h, const char *rule_id, struct resp *r)
{
	int rc = yw_server_solution_json(h->s, rule_id, &r->b);
	if (rc)
		return rc;
	if (r->b.len == 4 && !memcmp(r->b.data, "null", 4))
		return yw_http_error(r, MHD_HTTP_NOT_FOUND, "no solution library on this server");
	return 0;
}

static int get_rules(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	long long offset = 0, limit = 100;
	if (yw_http_q_int(c, "offset", 0, INT64_MAX, &offset) < 0 ||
	    yw_http_q_int(c, "limit", 1, YW_HTTP_MAX_PAGE, &limit) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                     "offset: integer >= 0; limit: 1..1000");
	/* The ruleset is loaded before the API starts and never changes while it runs. */
	size_t n = yw_ruleset_count(h->s->rules), i = (size_t)offset;
	struct list l = {.b = &r->b};
	int rc = yw_http_list_open(r);
	for (; rc == 0 && i < n && l.n < (size_t)limit; i++)
		rc = rule_row(&l, yw_ruleset_rule(h->s->rules, i));
	if (rc)
		return rc;
	if (i < n)
		return yw_strbuf_printf(&r->b, "],\"total\":%zu,\"next_offset\":%zu}", n, i);
	return yw_strbuf_printf(&r->b, "],\"total\":%zu,\"next_offset\":null}", n);
}

json_t *yw_http_body_object(struct req *q)
{
	json_error_t err;
	json_t *j =
	    json_loadb(q->body.data ? q->body.data : "", q->body.len, JSON_REJECT_DUPLICATES, &err);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

const char *yw_http_j_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

int yw_http_alert_action(const char *status)
{
	/* The target status, as the alert rows name it, maps onto the store's actions. */
	static const struct {
		const char *status, *action;
	} map[] = {{"acknowledged", "ack"},
	           {"resolved", "resolve"},
	           {"false_positive", "false_positive"},
	           {"new", "reopen"}};
	for (size_t i = 0; status && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(status, map[i].status))
			return yw_alert_action_parse(map[i].action);
	return YW_EINVAL;
}

static int post_alert_status(struct yw_http *h, const struct who *w, int64_t id, struct req *q,
                             struct resp *r)
{
	json_t *j = yw_http_body_object(q);
	if (!j)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
	const char *status = yw_http_j_str(j, "status"), *comment = yw_http_j_str(j, "comment");
	int action = yw_http_alert_action(status);
	int rc;
	if (action < 0) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST,
		                   "status: acknowledged, resolved, false_positive or new");
	} else if (json_object_get(j, "comment") && !comment) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST, "comment must be a string");
	} else {
		struct yw_store_alert_change ch = {id, action, w->user, comment, 0};
		rc = yw_store_alert_change(h->s->store, &ch);
		if (rc)
			rc = yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc));
		else
			rc = yw_strbuf_printf(&r->b, "{\"id\":%lld,\"status\":\"%s\"}",
			                      (long long)id, status);
	}
	json_decref(j);
	return rc;
}

static int post_login(struct yw_http *h, const char *addr, struct req *q, struct resp *r,
                      char *user, size_t usersz)
{
	int64_t now = yw_wall_ns();
	int retry = 0;
	if (yw_auth_limit_check(h->auth, addr, now, &retry)) {
		r->retry_after = retry;
		return yw_http_error(r, MHD_HTTP_TOO_MANY_REQUESTS,
		                     "too many failed logins from this address");
	}
	json_t *j = yw_http_body_object(q);
	if (!j)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
	const char *name = yw_http_j_str(j, "user"), *pw = yw_http_j_str(j, "password");
	snprintf(user, usersz, "%s", name ? name : "");
	char tok[YW_AUTH_TOKEN_TEXT];
	int role = 0, rc;
	int64_t ttl = h->s->cfg.http_session_ttl_ms * 1000000LL;
	if (!name || !pw) {
		rc = yw_http_error(r, MHD_HTTP_BAD_REQUEST, "user and password are required");
	} else if ((rc = yw_auth_login(h->auth, name, pw, now, ttl, tok, sizeof(tok), &role))) {
		if (rc == YW_EAUTH)
			yw_auth_limit_fail(h->auth, addr, now);
		rc = yw_http_error(
		    r, rc == YW_EAUTH ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_INTERNAL_SERVER_ERROR,
		    rc == YW_EAUTH ? "wrong user or password" : yw_strerror(rc));
	} else {
		yw_auth_limit_reset(h->auth, addr);
		rc = yw_strbuf_printf(&r->b,
		                      "{\"token\":\"%s\",\"token_type\":\"Bearer\","
		                      "\"expires_at\":%lld,\"role\":\"%s\"}",
		                      tok, (long long)(now + ttl), yw_auth_role_name(role));
		OPENSSL_cleanse(tok, sizeof(tok));
	}
	json_decref(j);
	return rc;
}

/* The bearer token of the request, or NULL. */
static const char *bearer(struct MHD_Connection *c)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!v || strncasecmp(v, "Bearer ", 7))
		return NULL;
	v += 7;
	while (*v == ' ')
		v++;
	return v;
}

typedef int (*get_fn)(struct yw_http *h, struct MHD_Connection *c, struct resp *r);

static const struct {
	const char *path;
	get_fn fn;
	int role; /* the least role allowed */
} gets[] = {
    {"/agents", get_agents, YW_ROLE_VIEWER},
    {"/alerts", get_alerts, YW_ROLE_VIEWER},
    {"/incidents", get_incidents, YW_ROLE_VIEWER},
    {"/risk", get_risk, YW_ROLE_VIEWER},
    {"/stats", get_stats, YW_ROLE_VIEWER},
    {"/audit", get_audit, YW_ROLE_ADMIN},
    {"/risk/history", get_risk_history, YW_ROLE_VIEWER},
    {"/rules", get_rules, YW_ROLE_VIEWER},
};

/* "/alerts/<id>/status" -> id, else 0. */
static int64_t alert_status_path(const char *p)
{
	if (strncmp(p, "/alerts/", 8))
		return 0;
	char *end;
	errno = 0;
	long long id = strtoll(p + 8, &end, 10);
	if (errno || end == p + 8 || id <= 0 || strcmp(end, "/status"))
		return 0;
	return id;
}

/* "/agents/<id>/inventory[/history]": the id into id[idsz], 1 for the history, 0 for the
 * inventory; -1 for another path. */
static int inventory_path(const char *p, char *id, size_t idsz)
{
	if (strncmp(p, "/agents/", 8))
		return -1;
	p += 8;
	const char *slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= idsz)
		return -1;
	int hist = !strcmp(slash, "/inventory/history");
	if (!hist && strcmp(slash, "/inventory"))
		return -1;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = 0;
	return hist;
}

/* Endpoint families in their own files (http_int.h). */
static const yw_http_router routers[] = {
    yw_http_route_situation,
    yw_http_route_detail,
    yw_http_route_stream,
    NULL,
};

/* Paths outside /api/v1 (the pages, /metrics): called with the whole path and w NULL, before
 * any authentication; each checks what it needs itself. */
static const yw_http_router outside[] = {
    yw_http_route_static,
    yw_http_route_metrics,
    NULL,
};

/* Routes one request; *user gets who made it (for the audit log). */
static int route(struct yw_http *h, struct MHD_Connection *c, const char *url, const char *method,
                 const char *addr, struct req *q, struct resp *r, char *user, size_t usersz)
{
	static const char pfx[] = "/api/v1";
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	int post = !strcmp(method, "POST");
	if (strncmp(url, pfx, sizeof(pfx) - 1)) {
		for (size_t i = 0; outside[i]; i++) {
			int rc = outside[i](h, c, url, method, NULL, q, r);
			if (rc)
				return rc < 0 ? rc : 0;
		}
		return yw_http_error(r, MHD_HTTP_NOT_FOUND, "not found");
	}
	const char *p = url + sizeof(pfx) - 1;
	if (!strcmp(p, "/openapi.json")) {
		if (!get)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		return yw_strbuf_append(&r->b, yw_embedded_openapi, yw_embedded_openapi_len);
	}
	if (!strcmp(p, "/login")) {
		if (!post)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		return post_login(h, addr, q, r, user, usersz);
	}
	struct who w;
	const char *tok = bearer(c);
	if (!tok || yw_auth_check(h->auth, tok, yw_wall_ns(), w.user, sizeof(w.user), &w.role)) {
		r->status = MHD_HTTP_UNAUTHORIZED;
		return yw_http_error(r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");
	}
	snprintf(user, usersz, "%s", w.user);
	if (!strcmp(p, "/me")) {
		if (!get)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		int rc = yw_strbuf_putc(&r->b, '{');
		rc = rc ? rc : yw_http_kv_str(&r->b, "user", w.user, 1);
		rc = rc ? rc : yw_http_kv_str(&r->b, "role", yw_auth_role_name(w.role), 0);
		return rc ? rc : yw_strbuf_putc(&r->b, '}');
	}
	if (!strcmp(p, "/logout")) {
		if (!post)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		yw_auth_revoke(h->auth, tok);
		return yw_strbuf_puts(&r->b, "{\"ok\":true}");
	}
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		if (strcmp(p, gets[i].path))
			continue;
		if (!get)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		if (w.role < gets[i].role)
			return yw_http_error(r, MHD_HTTP_FORBIDDEN,
			                     "your role does not allow this");
		return gets[i].fn(h, c, r);
	}
	char agent[YW_MAX_AGENT_ID + 1];
	int inv = inventory_path(p, agent, sizeof(agent));
	const char *rule_id = strncmp(p, "/solutions/", 11) ? NULL : p + 11;
	if (rule_id && (!*rule_id || strchr(rule_id, '/')))
		rule_id = NULL;
	if (inv >= 0 || rule_id) {
		if (!get)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		if (w.role < YW_ROLE_VIEWER)
			return yw_http_error(r, MHD_HTTP_FORBIDDEN,
			                     "your role does not allow this");
		if (rule_id)
			return get_solution(h, rule_id, r);
		return inv ? get_inventory_history(h, c, agent, r) : get_inventory(h, c, agent, r);
	}
	int64_t id = alert_status_path(p);
	if (id) {
		if (!post)
			return yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		if (w.role < YW_ROLE_ANALYST)
			return yw_http_error(r, MHD_HTTP_FORBIDDEN,
			                     "your role does not allow this");
		return post_alert_status(h, &w, id, q, r);
	}
	for (size_t i = 0; routers[i]; i++) {
		int rc = routers[i](h, c, p, method, &w, q, r);
		if (rc)
			return rc < 0 ? rc : 0;
	}
	return yw_http_error(r, MHD_HTTP_NOT_FOUND, "not found");
}

static void client_address(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                                       : sizeof(struct sockaddr_in);
	getnameinfo(ci->client_addr, len, out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

/* The API's header unless the handler set its own of that name (r->hdr). */
static void default_header(struct MHD_Response *m, const struct resp *r, const char *k,
                           const char *v)
{
	for (size_t i = 0; i < YW_HTTP_RESP_HEADERS && r->hdr[i][0]; i++)
		if (!strcasecmp(r->hdr[i][0], k))
			return;
	MHD_add_response_header(m, k, v);
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct resp *r)
{
	/* Page bodies are static data: served in place. */
	struct MHD_Response *m =
	    r->mhd                    ? r->mhd
	    : r->fixed && r->b.len == 0
	        ? MHD_create_response_from_buffer(r->fixed_len, (void *)r->fixed,
	                                          MHD_RESPMEM_PERSISTENT)
	        : MHD_create_response_from_buffer(r->b.len, r->b.data ? r->b.data : "",
	                                          MHD_RESPMEM_MUST_COPY);
	if (!m)
		return MHD_NO;
	for (size_t i = 0; i < YW_HTTP_RESP_HEADERS && r->hdr[i][0]; i++)
		MHD_add_response_header(m, r->hdr[i][0], r->hdr[i][1]);
	MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        r->content_type ? r->content_type
	                                        : "application/json; charset=utf-8");
	MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
	default_header(m, r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(m, "X-Frame-Options", "DENY");
	default_header(m, r, "Content-Security-Policy", "default-src 'none'");
	if (r->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(m, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (r->retry_after > 0) {
		char v[24];
		snprintf(v, sizeof(v), "%d", r->retry_after);
		MHD_add_response_header(m, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, m);
	MHD_destroy_response(m);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct yw_http *h = cls;
	struct req *q = *con_cls;
	if (!q) {
		if (!(q = calloc(1, sizeof(*q))))
			return MHD_NO;
		yw_strbuf_init(&q->body, YW_HTTP_MAX_BODY);
		*con_cls = q;
		/* An announced body over the limit is refused before it is read. */
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (!cl || strtoull(cl, NULL, 10) <= YW_HTTP_MAX_BODY)
			return MHD_YES;
		q->too_big = 1;
	} else if (*upload_size) {
		if (!q->too_big && yw_strbuf_append(&q->body, upload, *upload_size))
			q->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	char addr[64], user[YW_HTTP_MAX_NAME + 1] = "";
	client_address(c, addr, sizeof(addr));
	struct resp r = {.status = MHD_HTTP_OK};
	yw_strbuf_init(&r.b, 0);
	int rc = 0;
	/* The rate limit (ratelimit.h) before any work, the login's hashing included. Every
	 * request but a page read counts: any other method is audited (a row per request), and
	 * /metrics reads the store. */
	int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	int page = get && (!strcmp(url, "/") || !strncmp(url, "/ui", 3));
	int wait = h->rl && !page ? yw_ratelimit_take(h->rl, addr, yw_mono_ms() * 1000000) : 0;
	if (q->too_big) {
		rc = yw_http_error(&r, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
	} else if (wait) {
		r.retry_after = wait;
		rc = yw_http_error(&r, MHD_HTTP_TOO_MANY_REQUESTS,
		                   "too many requests from this address; retry later");
	} else {
		rc = route(h, c, url, method, addr, q, &r, user, sizeof(user));
	}
	if (rc)
		yw_http_error(&r, MHD_HTTP_INTERNAL_SERVER_ERROR, yw_strerror(rc));
	yw_live_http_count(yw_live_counters(h->s->live), r.status);
	/* Every API request that may change something is recorded, refused ones included; not
	 * those the rate limit turned away (the limit is what bounds the log's growth: they are
	 * counted in /metrics), nor other paths, where nothing can change. */
	if (!get && !wait && !strncmp(url, "/api/", 5)) {
		int arc = yw_auth_audit(h->auth, yw_wall_ns(), user, addr, method, url, r.status);
		if (arc)
			yw_logf(YW_LOG_ERROR, "http: audit log: %s", yw_strerror(arc));
	}
	enum MHD_Result ret = send_resp(c, &r);
	if (r.b.data) /* may hold a session token */
		OPENSSL_cleanse(r.b.data, r.b.cap);
	yw_strbuf_free(&r.b);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;
	if (!q)
		return;
	/* Bodies hold passwords. */
	if (q->body.data)
		OPENSSL_cleanse(q->body.data, q->body.cap);
	yw_strbuf_free(&q->body);
	free(q);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	yw_logf(YW_LOG_WARNING, "http: %s", msg);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return YW_EIO;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb = cap > 1 << 20 ? NULL : realloc(buf, cap = cap * 2 + 8192);
			if (!nb) {
				rc = cap > 1 << 20 ? YW_ELIMIT : YW_ENOMEM;
				break;
			}
			buf = nb;
		}
		size_t k = fread(buf + n, 1, 4096, f);
		n += k;
		if (k < 4096)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = YW_EIO;
	fclose(f);
	if (rc) {
		if (buf)
			OPENSSL_cleanse(buf, cap);
		free(buf);
		return rc;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

/* host:port (IPv6 in brackets) into h->addr; *loopback set. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, int *loopback)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return YW_EINVAL;
	size_t hl = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hl < 3 || spec[hl - 1] != ']')
			return YW_EINVAL;
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return YW_EINVAL;
	memcpy(host, spec, hl);
	host[hl] = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return YW_EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		*loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		*loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return 0;
}

int yw_http_start(struct yw_server *s)
{
	const char *listen = s->cfg.http_listen;
	if (!listen || !*listen)
		return 0;
	struct yw_http *h = calloc(1, sizeof(*h));
	if (!h)
		return YW_ENOMEM;
	h->s = s;
	pthread_mutex_init(&h->stream_mu, NULL);
	int loopback = 0, rc = parse_listen(listen, &h->addr, &loopback);
	int tls = s->cfg.http_tls && MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
	if (rc) {
		yw_logf(YW_LOG_ERROR, "http.listen %s: not a host:port", listen);
	} else if (!tls && !loopback) {
		/* Passwords and tokens never cross a network in clear text. */
		yw_logf(YW_LOG_ERROR, "http.listen %s: plain HTTP (%s) only on a loopback address",
		        listen, s->cfg.http_tls ? "libmicrohttpd has no TLS" : "http.tls off");
		rc = YW_EINVAL;
	}
	char path[4300];
	if (rc == 0 && tls) {
		size_t n;
		snprintf(path, sizeof(path), "%s/pki/%s", s->cfg.data_dir, YW_PKI_SERVER_CERT);
		rc = read_file(path, &h->cert, &n);
		if (rc == 0) {
			snprintf(path, sizeof(path), "%s/pki/%s", s->cfg.data_dir,
			         YW_PKI_SERVER_KEY);
			rc = read_file(path, &h->key, &h->keylen);
		}
		if (rc)
			yw_logf(YW_LOG_ERROR, "http: %s: %s", path, yw_strerror(rc));
	}
	if (rc == 0 && s->cfg.http_rate_limit > 0 &&
	    (rc = yw_ratelimit_new((double)s->cfg.http_rate_limit, (double)s->cfg.http_rate_burst,
	                           &h->rl)))
		yw_logf(YW_LOG_ERROR, "http.rate_limit: %s", yw_strerror(rc));
	if (rc == 0 && (rc = yw_auth_open(s->cfg.data_dir, &h->auth)))
		yw_logf(YW_LOG_ERROR, "http: %s/api.db: %s", s->cfg.data_dir, yw_strerror(rc));
	if (rc == 0) {
		unsigned flags =
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG |
		    MHD_ALLOW_SUSPEND_RESUME; /* stream.c parks idle streams */
		if (h->addr.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		if (tls)
			flags |= MHD_USE_TLS;
		struct MHD_OptionItem tlsopts[] = {
		    {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
		    {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
		    {MHD_OPTION_HTTPS_PRIORITIES, 0,
		     (void *)"SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
		    {MHD_OPTION_END, 0, NULL},
		};
		/* The logger first, so MHD's own messages about the later options reach it. */
		h->d = MHD_start_daemon(
		    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr, MHD_OPTION_THREAD_POOL_SIZE,
		    (unsigned)2, MHD_OPTION_CONNECTION_LIMIT, (unsigned)YW_HTTP_MAX_CONNS,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)YW_HTTP_MAX_CONNS_PER_IP,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)YW_HTTP_IDLE_TIMEOUT_S,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)YW_HTTP_CONN_MEMORY,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_ARRAY,
		    tls ? tlsopts : tlsopts + 3, MHD_OPTION_END);
		if (!h->d) {
			yw_logf(YW_LOG_ERROR, "http: cannot listen on %s", listen);
			rc = YW_EIO;
		}
	}
	if (rc) {
		s->http = h;
		yw_http_stop(s);
		return rc;
	}
	s->http = h;
	yw_logf(YW_LOG_INFO, "HTTP API on %s://%s/api/v1", tls ? "https" : "http", listen);
	return 0;
}

void yw_http_stop(struct yw_server *s)
{
	struct yw_http *h = s->http;
	if (!h)
		return;
	yw_http_stream_close(h);
	if (h->d)
		MHD_stop_daemon(h->d);
	yw_auth_close(h->auth);
	yw_ratelimit_free(h->rl);
	if (h->key)
		OPENSSL_cleanse(h->key, h->keylen);
	free(h->key);
	free(h->cert);
	pthread_mutex_destroy(&h->stream_mu);
	free(h);
	s->http = NULL;
}
