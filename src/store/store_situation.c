/* The situation screen and rule hit counts: argument checks, then the backend's ops. */
#include <stdlib.h>

#include "store_int.h"
#include "yiwang/error.h"

int yw_store_situation(struct yw_store *st, int64_t now, int tz_min, struct yw_store_situation *out)
{
	if (!st || !out || tz_min < -720 || tz_min > 840 || now <= 0)
		return YW_EINVAL;
	return st->ops->situation(st, now, tz_min, out);
}

void yw_store_situation_free(struct yw_store_situation *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < out->n_groups; i++)
		free(out->groups[i].name);
	for (size_t i = 0; i < out->n_os; i++)
		free(out->os[i].name);
	for (size_t i = 0; i < out->n_tactics; i++)
		free(out->tactics[i].name);
	for (size_t i = 0; i < out->n_rules; i++) {
		free(out->rules[i].rule_id);
		free(out->rules[i].title);
	}
	for (size_t i = 0; i < out->n_riskiest; i++) {
		free(out->riskiest[i].id);
		free(out->riskiest[i].name);
		free(out->riskiest[i].group);
	}
	out->n_groups = out->n_os = out->n_tactics = out->n_rules = out->n_riskiest = 0;
}

int yw_store_rule_hits(struct yw_store *st, int64_t now, yw_store_rule_hit_cb cb, void *ctx)
{
	if (!st || !cb || now <= 0)
		return YW_EINVAL;
	return st->ops->rule_hits(st, now, cb, ctx);
}
