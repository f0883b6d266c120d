/* The store interface: argument checks, then the backend's ops. */
#include <string.h>

#include "store_int.h"
#include "yiwang/error.h"

static const char *const level_names[YW_LEVEL_COUNT] = {
    "informational", "low", "medium", "high", "critical",
};

int yw_level_parse(const char *name)
{
	if (!name)
		return YW_EINVAL;
	for (int i = 0; i < YW_LEVEL_COUNT; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return YW_EINVAL;
}

const char *yw_level_name(int level)
{
	if (level < 0 || level >= YW_LEVEL_COUNT)
		return "unknown";
	return level_names[level];
}

const char *yw_store_strerror(int err)
{
	switch (err) {
	case YW_STORE_EEXPIRED:
		return "enrolment token expired";
	case YW_STORE_EUSEDUP:
		return "enrolment token used up";
	case YW_STORE_EREVOKED:
		return "agent revoked";
	case YW_STORE_ESCHEMA:
		return "database schema is newer than this program";
	case YW_STORE_ESTATE:
		return "the alert's status does not allow this change";
	default:
		return yw_strerror(err);
	}
}

void yw_store_close(struct yw_store *st)
{
	if (st)
		st->ops->close(st);
}

const char *yw_store_backend(const struct yw_store *st)
{
	return st->ops->name;
}

int yw_store_token_add(struct yw_store *st, const struct yw_store_token *t)
{
	if (!st || !t || !t->id || !t->group || t->uses_left < -1)
		return YW_EINVAL;
	return st->ops->token_add(st, t);
}

int yw_store_token_use(struct yw_store *st, const uint8_t hash[YW_STORE_HASH_LEN], int64_t now,
                       char *group, size_t group_size)
{
	if (!st || !hash || !group || group_size == 0)
		return YW_EINVAL;
	return st->ops->token_use(st, hash, now, group, group_size);
}

int yw_store_token_list(struct yw_store *st, yw_store_token_cb cb, void *ctx)
{
	if (!st || !cb)
		return YW_EINVAL;
	return st->ops->token_list(st, cb, ctx);
}

int yw_store_token_delete(struct yw_store *st, const char *id)
{
	if (!st || !id)
		return YW_EINVAL;
	return st->ops->token_delete(st, id);
}

int yw_store_agent_add(struct yw_store *st, const struct yw_store_agent *a)
{
	if (!st || !a || !a->id || !a->name || !a->group)
		return YW_EINVAL;
	return st->ops->agent_add(st, a);
}

int yw_store_agent_seen(struct yw_store *st, const char *id, const char *addresses,
                        const char *version, int64_t now)
{
	if (!st || !id)
		return YW_EINVAL;
	return st->ops->agent_seen(st, id, addresses, version, now);
}

int yw_store_agent_offline(struct yw_store *st, const char *id, int64_t now)
{
	if (!st)
		return YW_EINVAL;
	return st->ops->agent_offline(st, id, now);
}

int yw_store_agent_revoke(struct yw_store *st, const char *id, int64_t now)
{
	if (!st || !id)
		return YW_EINVAL;
	return st->ops->agent_revoke(st, id, now);
}

int yw_store_agent_is_revoked(struct yw_store *st, const char *id, const char *cert_serial)
{
	if (!st || !id || !cert_serial)
		return YW_EINVAL;
	return st->ops->agent_is_revoked(st, id, cert_serial);
}

int yw_store_agent_list(struct yw_store *st, yw_store_agent_cb cb, void *ctx)
{
	if (!st || !cb)
		return YW_EINVAL;
	return st->ops->agent_list(st, cb, ctx);
}

int yw_store_agent_get(struct yw_store *st, const char *id, yw_store_agent_cb cb, void *ctx)
{
	if (!st || !id || !cb)
		return YW_EINVAL;
	return st->ops->agent_get(st, id, cb, ctx);
}

int yw_store_agent_skip(struct yw_store *st, const char *id, uint64_t seq, uint64_t *ack)
{
	if (!st || !id || !ack || seq > INT64_MAX)
		return YW_EINVAL;
	return st->ops->agent_skip(st, id, seq, ack);
}

int yw_store_ingest_many(struct yw_store *st, struct yw_store_ingest_item *items, size_t n)
{
	if (!st || (n && !items))
		return YW_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct yw_store_batch *b = items[i].batch;
		if (!items[i].agent_id || !b || (b->n && !b->records) ||
		    (b->n_alerts && !b->alerts))
			return YW_EINVAL;
	}
	return st->ops->ingest_many(st, items, n);
}

int yw_store_ingest(struct yw_store *st, const char *agent_id, const struct yw_store_batch *b,
                    uint64_t *ack)
{
	if (!st || !agent_id || !b || !ack || (b->n && !b->records) || (b->n_alerts && !b->alerts))
		return YW_EINVAL;
	return st->ops->ingest(st, agent_id, b, ack);
}

int yw_store_alerts(struct yw_store *st, const struct yw_store_alert_query *q, yw_store_alert_cb cb,
                    void *ctx)
{
	if (!st || !q || !cb)
		return YW_EINVAL;
	return st->ops->alerts(st, q, cb, ctx);
}

int yw_store_stats(struct yw_store *st, struct yw_store_stats *s)
{
	if (!st || !s)
		return YW_EINVAL;
	return st->ops->stats(st, s);
}

int yw_store_prune(struct yw_store *st, int64_t before, uint64_t *deleted)
{
	if (!st)
		return YW_EINVAL;
	return st->ops->prune(st, before, deleted);
}

int yw_store_backup(struct yw_store *st, const char *path)
{
	if (!st || !path)
		return YW_EINVAL;
	return st->ops->backup(st, path);
}

int yw_alert_action_parse(const char *name)
{
	static const char *const names[] = {"ack", "resolve", "false_positive", "reopen"};
	if (!name)
		return YW_EINVAL;
	if (!strcmp(name, "false-positive"))
		return YW_ALERT_FALSE_POSITIVE;
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return i;
	return YW_EINVAL;
}

int yw_store_alert_change(struct yw_store *st, const struct yw_store_alert_change *c)
{
	if (!st || !c || !c->by || !*c->by || c->action < YW_ALERT_ACK ||
	    c->action > YW_ALERT_REOPEN)
		return YW_EINVAL;
	return st->ops->alert_change(st, c);
}

int yw_store_alert_history(struct yw_store *st, int64_t alert_id, yw_store_alert_event_cb cb,
                           void *ctx)
{
	if (!st || !cb)
		return YW_EINVAL;
	return st->ops->alert_history(st, alert_id, cb, ctx);
}

int yw_store_incidents(struct yw_store *st, int open_only, yw_store_incident_cb cb, void *ctx)
{
	if (!st || !cb)
		return YW_EINVAL;
	return st->ops->incidents(st, open_only, cb, ctx);
}

int yw_store_suppress_add(struct yw_store *st, const struct yw_store_suppression *s, int64_t *id)
{
	if (!st || !s || !s->by || !*s->by || (!s->rule_id && !s->agent_id && !s->field) ||
	    (s->field && !s->value) || (!s->field && s->value))
		return YW_EINVAL;
	return st->ops->suppress_add(st, s, id);
}

int yw_store_suppress_list(struct yw_store *st, yw_store_suppression_cb cb, void *ctx)
{
	if (!st || !cb)
		return YW_EINVAL;
	return st->ops->suppress_list(st, cb, ctx);
}

int yw_store_suppress_delete(struct yw_store *st, int64_t id)
{
	if (!st)
		return YW_EINVAL;
	return st->ops->suppress_delete(st, id);
}

int yw_store_risk(struct yw_store *st, int64_t now, const char *agent_id, yw_store_risk_cb cb,
                  void *ctx, double *fleet)
{
	if (!st)
		return YW_EINVAL;
	return st->ops->risk(st, now, agent_id, cb, ctx, fleet);
}

int yw_store_risk_snapshot(struct yw_store *st, int64_t now)
{
	if (!st)
		return YW_EINVAL;
	return st->ops->risk_snapshot(st, now);
}

int yw_store_risk_history(struct yw_store *st, const char *scope, int64_t since,
                          yw_store_risk_point_cb cb, void *ctx)
{
	if (!st || !scope || !cb)
		return YW_EINVAL;
	return st->ops->risk_history(st, scope, since, cb, ctx);
}

int yw_store_inventory(struct yw_store *st, const char *agent_id, const char *dataset,
                       yw_store_inventory_cb cb, void *ctx)
{
	if (!st || !agent_id || !cb)
		return YW_EINVAL;
	return st->ops->inventory(st, agent_id, dataset, cb, ctx);
}

int yw_store_inventory_history(struct yw_store *st, const char *agent_id, int64_t after_id,
                               size_t limit, yw_store_inventory_change_cb cb, void *ctx)
{
	if (!st || !agent_id || !cb)
		return YW_EINVAL;
	return st->ops->inventory_history(st, agent_id, after_id, limit, cb, ctx);
}

/* ---- detail queries of the HTTP API ---- */

int yw_store_incident_get(struct yw_store *st, int64_t id, yw_store_incident_cb cb, void *ctx)
{
	if (!st || !cb || id <= 0)
		return YW_EINVAL;
	return st->ops->incident_get(st, id, cb, ctx);
}

int yw_store_incident_alerts(struct yw_store *st, int64_t id, size_t limit, yw_store_alert_cb cb,
                             void *ctx)
{
	if (!st || !cb || id <= 0)
		return YW_EINVAL;
	return st->ops->incident_alerts(st, id, limit ? limit : YW_STORE_DEFAULT_LIMIT, cb, ctx);
}

int yw_store_agent_events(struct yw_store *st, const struct yw_store_event_query *q,
                          yw_store_event_cb cb, void *ctx, int64_t *last_id)
{
	int64_t dummy;
	if (!st || !q || !q->agent_id || !cb || q->before_id < 0)
		return YW_EINVAL;
	return st->ops->agent_events(st, q, cb, ctx, last_id ? last_id : &dummy);
}
