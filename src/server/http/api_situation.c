/* The big screen's endpoints (docs/api.md, "Situation"): GET /situation, everything the
 * screen shows in one answer, and GET /rules/hits, the rules page's hit counts. Both read the
 * store's rollups (sqlite_situation.c), so they stay fast at a million alerts. */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "server/server.h"
#include "yiwang/error.h"
#include "yiwang/loop.h"
#include "yiwang/store.h"

static int levels_json(struct yw_strbuf *b, const uint64_t n[YW_LEVEL_COUNT], int with_total)
{
	uint64_t total = 0;
	int rc = 0;
	/* Highest level first, as the screen lists them. */
	for (int l = YW_LEVEL_COUNT - 1; rc == 0 && l >= 0; l--) {
		rc = yw_strbuf_printf(b, "%s\"%s\":%llu", l == YW_LEVEL_COUNT - 1 ? "" : ",",
		                      yw_level_name(l), (unsigned long long)n[l]);
		total += n[l];
	}
	if (rc == 0 && with_total)
		rc = yw_strbuf_printf(b, ",\"total\":%llu", (unsigned long long)total);
	return rc;
}

static int buckets_json(struct yw_strbuf *b, const char *key, const struct yw_situation_bucket *v,
                        size_t n)
{
	int rc = yw_strbuf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = yw_strbuf_printf(b, "%s{\"t\":%lld,", i ? "," : "", (long long)v[i].t);
		rc = rc ? rc : levels_json(b, v[i].n, 0);
		rc = rc ? rc : yw_strbuf_putc(b, '}');
	}
	return rc ? rc : yw_strbuf_putc(b, ']');
}

/* [{"<key>":name,"<nkey>":n(,"online":m)}...] */
static int counts_json(struct yw_strbuf *b, const char *list, const char *key, const char *nkey,
                       const struct yw_situation_count *v, size_t n, int online)
{
	int rc = yw_strbuf_printf(b, ",\"%s\":[", list);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = yw_strbuf_puts(b, i ? ",{" : "{");
		rc = rc ? rc : yw_http_kv_str(b, key, v[i].name, 1);
		rc = rc ? rc : yw_http_kv_int(b, nkey, (long long)v[i].n);
		rc = rc || !online ? rc : yw_http_kv_int(b, "online", (long long)v[i].online);
		rc = rc ? rc : yw_strbuf_putc(b, '}');
	}
	return rc ? rc : yw_strbuf_putc(b, ']');
}

static int situation_json(struct yw_strbuf *b, const struct yw_store_situation *o)
{
	int rc = yw_strbuf_printf(
	    b,
	    "{\"generated_at\":%lld,\"terminals\":{\"total\":%llu,\"online\":%llu,"
	    "\"offline\":%llu,\"revoked\":%llu",
	    (long long)o->generated_at, (unsigned long long)o->total, (unsigned long long)o->online,
	    (unsigned long long)o->offline, (unsigned long long)o->revoked);
	rc = rc ? rc : counts_json(b, "by_group", "group", "total", o->groups, o->n_groups, 1);
	rc = rc ? rc : yw_strbuf_puts(b, "},\"warnings_today\":{");
	rc = rc ? rc : levels_json(b, o->today, 1);
	rc = rc ? rc
	        : yw_strbuf_printf(b,
	                           "},\"open_alerts\":%llu,\"fleet_risk\":{\"score\":%.1f,"
	                           "\"trend\":[",
	                           (unsigned long long)o->open_alerts, o->fleet_score);
	for (size_t i = 0; rc == 0 && i < o->n_trend; i++)
		rc = yw_strbuf_printf(b, "%s{\"t\":%lld,\"score\":%.1f}", i ? "," : "",
		                      (long long)o->trend[i].ts, o->trend[i].score);
	rc = rc ? rc : yw_strbuf_puts(b, "]}");
	rc = rc ? rc : buckets_json(b, "alerts_24h", o->hours, YW_SITUATION_HOURS);
	rc = rc ? rc : buckets_json(b, "alerts_7d", o->days, YW_SITUATION_DAYS);
	rc = rc ? rc : yw_strbuf_puts(b, ",\"top_rules\":[");
	for (size_t i = 0; rc == 0 && i < o->n_rules; i++) {
		const struct yw_situation_rule *r = &o->rules[i];
		rc = yw_strbuf_puts(b, i ? ",{" : "{");
		rc = rc ? rc : yw_http_kv_str(b, "rule_id", r->rule_id, 1);
		rc = rc ? rc : yw_http_kv_str(b, "title", r->title, 0);
		rc = rc ? rc : yw_http_kv_str(b, "level", yw_level_name(r->level), 0);
		rc = rc ? rc : yw_http_kv_int(b, "count", (long long)r->count);
		rc = rc ? rc : yw_strbuf_putc(b, '}');
	}
	rc = rc ? rc : yw_strbuf_puts(b, "],\"riskiest_terminals\":[");
	for (size_t i = 0; rc == 0 && i < o->n_riskiest; i++) {
		const struct yw_situation_terminal *a = &o->riskiest[i];
		rc = yw_strbuf_puts(b, i ? ",{" : "{");
		rc = rc ? rc : yw_http_kv_str(b, "id", a->id, 1);
		rc = rc ? rc : yw_http_kv_str(b, "name", a->name, 0);
		rc = rc ? rc : yw_http_kv_str(b, "group", a->group, 0);
		rc = rc ? rc
		        : yw_strbuf_printf(b, ",\"score\":%.1f,\"online\":%s}", a->score,
		                           a->online ? "true" : "false");
	}
	rc = rc ? rc : yw_strbuf_putc(b, ']');
	rc = rc ? rc : counts_json(b, "tactics", "tactic", "count", o->tactics, o->n_tactics, 0);
	rc = rc ? rc : counts_json(b, "agents_by_os", "os", "n", o->os, o->n_os, 0);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

static int get_situation(struct yw_http *h, struct MHD_Connection *c, struct resp *r)
{
	long long tz = 0;
	if (yw_http_q_int(c, "tz", -720, 840, &tz) < 0)
		return yw_http_error(r, MHD_HTTP_BAD_REQUEST, "tz: minutes east of UTC, -720..840");
	struct yw_store_situation *o = malloc(sizeof(*o));
	if (!o)
		return YW_ENOMEM;
	int rc = yw_store_situation(h->s->store, yw_wall_ns(), (int)tz, o);
	if (rc) {
		free(o);
		return yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc));
	}
	rc = situation_json(&r->b, o);
	yw_store_situation_free(o);
	free(o);
	return rc;
}

static int hit_row(void *ud, const struct yw_store_rule_hit *hit)
{
	struct list *l = ud;
	int rc = yw_http_sep(l);
	rc = rc ? rc : yw_strbuf_putc(l->b, '{');
	rc = rc ? rc : yw_http_kv_str(l->b, "rule_id", hit->rule_id, 1);
	rc = rc ? rc : yw_http_kv_int(l->b, "count_7d", (long long)hit->count_7d);
	rc = rc ? rc : yw_http_kv_int(l->b, "count_total", (long long)hit->count_total);
	rc = rc ? rc : yw_http_kv_int(l->b, "last_seen", hit->last_seen);
	return rc ? rc : yw_strbuf_putc(l->b, '}');
}

static int get_rule_hits(struct yw_http *h, struct resp *r)
{
	struct list l = {.b = &r->b};
	int rc = yw_http_list_open(r);
	rc = rc ? rc : yw_store_rule_hits(h->s->store, yw_wall_ns(), hit_row, &l);
	rc = rc ? rc : yw_strbuf_puts(&r->b, "]}");
	return rc ? yw_http_error(r, yw_http_store_status(rc), yw_store_strerror(rc)) : 0;
}

int yw_http_route_situation(struct yw_http *h, struct MHD_Connection *c, const char *path,
                            const char *method, const struct who *w, struct req *q, struct resp *r)
{
	int situation = !strcmp(path, "/situation");
	if (!situation && strcmp(path, "/rules/hits"))
		return 0;
	int rc;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		rc = yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	else if (w->role < YW_ROLE_VIEWER)
		rc = yw_http_error(r, MHD_HTTP_FORBIDDEN, "your role does not allow this");
	else
		rc = situation ? get_situation(h, c, r) : get_rule_hits(h, r);
	return rc ? rc : 1;
}
