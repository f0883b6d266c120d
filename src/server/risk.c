/* The risk formula (docs/risk.md). No state, no I/O. */
#include <math.h>
#include <stdlib.h>

#include "yiwang/risk.h"

void yw_risk_defaults(struct yw_risk_params *p)
{
	*p = (struct yw_risk_params){
	    /* informational, low, medium, high, critical */
	    .level_points = {0, 3, 8, 20, 40},
	    .half_life_s = 24 * 3600,
	    .sca_points = 25,
	    .port_points = 2,
	    .port_cap = 20,
	    .update_points = 1,
	    .update_cap = 20,
	    .k = 50,
	    .fleet_top_weight = 0.5,
	};
}

double yw_risk_alert_points(const struct yw_risk_params *p, int level, uint64_t count,
                            int64_t age_ns)
{
	if (level < 0 || level >= YW_RISK_LEVELS || count == 0)
		return 0;
	double age_s = age_ns > 0 ? (double)age_ns / 1e9 : 0;
	double decay = p->half_life_s > 0 ? exp2(-age_s / p->half_life_s) : 1;
	return p->level_points[level] * (1 + log10((double)count)) * decay;
}

double yw_risk_agent_score(const struct yw_risk_params *p, const struct yw_risk_input *in,
                           struct yw_risk_parts *parts)
{
	struct yw_risk_parts r = {0};
	r.alerts = in->alert_points > 0 ? in->alert_points : 0;
	if (in->sca_score >= 0)
		r.sca = p->sca_points * (100 - (in->sca_score > 100 ? 100 : in->sca_score)) / 100.0;
	r.exposure = fmin(p->port_points * (double)in->ports, p->port_cap);
	if (in->missing_updates > 0)
		r.updates = fmin(p->update_points * (double)in->missing_updates, p->update_cap);
	r.raw = r.alerts + r.sca + r.exposure + r.updates;
	r.score = p->k > 0 ? 100 * (1 - exp(-r.raw / p->k)) : 0;
	if (r.score > 100)
		r.score = 100;
	if (parts)
		*parts = r;
	return r.score;
}

static int by_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

double yw_risk_fleet_score(const struct yw_risk_params *p, double *scores, size_t n)
{
	if (n == 0)
		return 0;
	qsort(scores, n, sizeof(*scores), by_desc);
	size_t top = (n + 9) / 10; /* the worst decile, at least one agent */
	double sum = 0, sum_top = 0;
	for (size_t i = 0; i < n; i++) {
		sum += scores[i];
		if (i < top)
			sum_top += scores[i];
	}
	double w = p->fleet_top_weight;
	return (1 - w) * sum / (double)n + w * sum_top / (double)top;
}
