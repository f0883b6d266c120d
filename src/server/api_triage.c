/* The local API's alert triage requests (api_triage.h): lifecycle, incidents, suppressions
 * and risk, straight onto the store. The local API is reachable only by the server's own
 * user, so "by" is taken as given (the CLI fills in the login name). */
#include <string.h>

#include "api_triage.h"
#include "yiwang/error.h"

static const char *const ops[] = {"alert_change",  "alert_history",   "incidents", "suppress_add",
                                  "suppress_list", "suppress_delete", "risk",      "risk_history"};

bool yw_api_triage_op(const char *op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(op, ops[i]))
			return true;
	return false;
}

static const char *jstr(json_t *req, const char *k)
{
	json_t *v = json_object_get(req, k);
	return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static long long jint(json_t *req, const char *k, long long def)
{
	json_t *v = json_object_get(req, k);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* ,"k":"v" (or null) */
static int kv_str(struct yw_strbuf *b, const char *k, const char *v)
{
	int rc = yw_strbuf_printf(b, ",\"%s\":", k);
	if (rc)
		return rc;
	if (!v)
		return yw_strbuf_puts(b, "null");
	return yw_strbuf_json_str(b, v, strlen(v));
}

static int history_row(void *ud, const struct yw_store_alert_event *e)
{
	struct yw_strbuf *b = ud;
	int rc = yw_strbuf_printf(b, "{\"id\":%lld,\"alert_id\":%lld,\"ts\":%lld", (long long)e->id,
	                          (long long)e->alert_id, (long long)e->ts);
	rc = rc ? rc : kv_str(b, "action", e->action);
	rc = rc ? rc : kv_str(b, "from", e->from);
	rc = rc ? rc : kv_str(b, "to", e->to);
	rc = rc ? rc : kv_str(b, "by", e->by);
	rc = rc ? rc : kv_str(b, "comment", e->comment);
	return rc ? rc : yw_strbuf_puts(b, "}\n");
}

static int incident_row(void *ud, const struct yw_store_incident *i)
{
	struct yw_strbuf *b = ud;
	int rc = yw_strbuf_printf(b, "{\"id\":%lld", (long long)i->id);
	rc = rc ? rc : kv_str(b, "kind", i->kind);
	rc = rc ? rc : kv_str(b, "key", i->key);
	rc = rc ? rc
	        : yw_strbuf_printf(b,
	                           ",\"opened_at\":%lld,\"updated_at\":%lld,\"closed_at\":%lld,"
	                           "\"alert_count\":%llu,\"agents\":%llu",
	                           (long long)i->opened_at, (long long)i->updated_at,
	                           (long long)i->closed_at, (unsigned long long)i->alert_count,
	                           (unsigned long long)i->agents);
	rc = rc ? rc : kv_str(b, "max_level", yw_level_name(i->max_level));
	return rc ? rc : yw_strbuf_puts(b, "}\n");
}

static int suppression_row(void *ud, const struct yw_store_suppression *p)
{
	struct yw_strbuf *b = ud;
	int rc = yw_strbuf_printf(b, "{\"id\":%lld", (long long)p->id);
	rc = rc ? rc : kv_str(b, "rule_id", p->rule_id);
	rc = rc ? rc : kv_str(b, "agent_id", p->agent_id);
	rc = rc ? rc : kv_str(b, "field", p->field);
	rc = rc ? rc : kv_str(b, "value", p->value);
	rc = rc ? rc
	        : yw_strbuf_printf(b, ",\"expires_at\":%lld,\"created_at\":%lld,\"hits\":%llu",
	                           (long long)p->expires_at, (long long)p->created_at,
	                           (unsigned long long)p->hits);
	rc = rc ? rc : kv_str(b, "by", p->by);
	rc = rc ? rc : kv_str(b, "why", p->why);
	return rc ? rc : yw_strbuf_puts(b, "}\n");
}

static int risk_row(void *ud, const struct yw_store_risk_row *r)
{
	struct yw_strbuf *b = ud;
	int rc = yw_strbuf_puts(b, "{\"agent_id\":");
	rc = rc ? rc : yw_strbuf_json_str(b, r->agent_id, strlen(r->agent_id));
	rc = rc ? rc : kv_str(b, "agent_name", r->agent_name);
	rc = rc ? rc
	        : yw_strbuf_printf(b,
	                           ",\"score\":%.1f,\"alert_points\":%.2f,\"sca_points\":%.2f,"
	                           "\"exposure_points\":%.2f,\"open_alerts\":%llu,"
	                           "\"open_by_level\":[%llu,%llu,%llu,%llu,%llu],"
	                           "\"sca_score\":%d,\"ports\":%llu}\n",
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

static int point_row(void *ud, const struct yw_store_risk_point *p)
{
	struct yw_strbuf *b = ud;
	int rc = yw_strbuf_printf(b, "{\"ts\":%lld", (long long)p->ts);
	rc = rc ? rc : kv_str(b, "scope", p->scope);
	return rc ? rc : yw_strbuf_printf(b, ",\"score\":%.1f}\n", p->score);
}

int yw_api_triage(struct yw_server *s, const char *op, json_t *req, struct yw_strbuf *out)
{
	struct yw_store *st = s->store;
	size_t mark = out->len;
	int rc;
	if (!strcmp(op, "alert_change")) {
		struct yw_store_alert_change c = {
		    .id = jint(req, "id", 0),
		    .action = yw_alert_action_parse(jstr(req, "action")),
		    .by = jstr(req, "by"),
		    .comment = jstr(req, "comment"),
		};
		rc = c.action < 0 ? YW_EINVAL : yw_store_alert_change(st, &c);
		if (rc == 0)
			rc = yw_strbuf_puts(out, "{\"ok\":true}\n");
	} else if (!strcmp(op, "alert_history")) {
		rc = yw_store_alert_history(st, jint(req, "id", 0), history_row, out);
		if (rc == 0)
			rc = yw_strbuf_puts(out, "{\"ok\":true}\n");
	} else if (!strcmp(op, "incidents")) {
		rc = yw_store_incidents(st, (int)jint(req, "open", 0), incident_row, out);
		if (rc == 0)
			rc = yw_strbuf_puts(out, "{\"ok\":true}\n");
	} else if (!strcmp(op, "suppress_add")) {
		long long for_ms = jint(req, "for_ms", 0);
		int64_t now = yw_wall_ns(), id = 0;
		struct yw_store_suppression sp = {
		    .rule_id = jstr(req, "rule"),
		    .agent_id = jstr(req, "agent"),
		    .field = jstr(req, "field"),
		    .value = jstr(req, "value"),
		    .expires_at = for_ms > 0 && for_ms < INT64_MAX / 1000000 - now / 1000000
		                      ? now + for_ms * 1000000
		                      : 0,
		    .created_at = now,
		    .by = jstr(req, "by"),
		    .why = jstr(req, "why"),
		};
		rc = yw_store_suppress_add(st, &sp, &id);
		if (rc == 0)
			rc =
			    yw_strbuf_printf(out, "{\"ok\":true,\"id\":%lld,\"expires_at\":%lld}\n",
			                     (long long)id, (long long)sp.expires_at);
	} else if (!strcmp(op, "suppress_list")) {
		rc = yw_store_suppress_list(st, suppression_row, out);
		if (rc == 0)
			rc = yw_strbuf_puts(out, "{\"ok\":true}\n");
	} else if (!strcmp(op, "suppress_delete")) {
		rc = yw_store_suppress_delete(st, jint(req, "id", 0));
		if (rc == 0)
			rc = yw_strbuf_puts(out, "{\"ok\":true}\n");
	} else if (!strcmp(op, "risk")) {
		double fleet = 0;
		rc = yw_store_risk(st, yw_wall_ns(), jstr(req, "agent"), risk_row, out, &fleet);
		if (rc == 0)
			rc = yw_strbuf_printf(out, "{\"ok\":true,\"fleet\":%.1f}\n", fleet);
	} else {
		const char *scope = jstr(req, "scope");
		rc = yw_store_risk_history(st, scope ? scope : "fleet", jint(req, "since", 0),
		                           point_row, out);
		if (rc == 0)
			rc = yw_strbuf_puts(out, "{\"ok\":true}\n");
	}
	if (rc && out->data) {
		out->len = mark; /* no half answer before the error line */
		out->data[mark] = '\0';
	}
	return rc;
}
