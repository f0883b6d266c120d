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
