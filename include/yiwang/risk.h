/* Risk scores: pure functions over counts, so the formula is testable on its own. The store
 * gathers the inputs (open alerts, the latest baseline result, listening ports) and calls
 * these; docs/risk.md explains every constant with a worked example. */
#ifndef YIWANG_RISK_H
#define YIWANG_RISK_H

#include <stddef.h>
#include <stdint.h>

#define YW_RISK_LEVELS 5 /* informational .. critical, as enum yw_level */

struct yw_risk_params {
	double level_points[YW_RISK_LEVELS]; /* raw points of one fresh alert per level */
	double half_life_s;   /* an alert's points halve every half_life_s since its last repeat */
	double sca_points;    /* raw points of a baseline where every check fails */
	double port_points;   /* raw points per listening port reachable from other hosts */
	double port_cap;      /* at most this many raw points from ports */
	double update_points; /* per missing security update, when known */
	double update_cap;
	double k;                /* saturation: score = 100 * (1 - exp(-raw / k)) */
	double fleet_top_weight; /* fleet = (1 - w) * mean + w * mean of the worst decile */
};

/* The documented defaults. */
void yw_risk_defaults(struct yw_risk_params *p);

/* Raw points of one open alert: level_points[level] * (1 + log10(count)) * 2^(-age/half-life),
 * age = now - last_seen (clamped at 0). 0 for a level out of range or count 0. */
double yw_risk_alert_points(const struct yw_risk_params *p, int level, uint64_t count,
                            int64_t age_ns);

struct yw_risk_input {
	double alert_points;     /* sum of yw_risk_alert_points over the agent's open alerts */
	int sca_score;           /* pass rate 0..100 of the latest baseline run; < 0 = unknown */
	uint64_t ports;          /* listening ports reachable from other hosts */
	int64_t missing_updates; /* < 0 = unknown */
};

struct yw_risk_parts {
	double alerts, sca, exposure, updates; /* raw points of each input */
	double raw;                            /* their sum */
	double score;                          /* 0..100 */
};

/* The agent's score, 0..100; parts (may be NULL) gets the breakdown. */
double yw_risk_agent_score(const struct yw_risk_params *p, const struct yw_risk_input *in,
                           struct yw_risk_parts *parts);

/* The fleet's score from its agents' scores, 0..100 (0 for no agents). Sorts scores in place
 * (descending). */
double yw_risk_fleet_score(const struct yw_risk_params *p, double *scores, size_t n);

#endif
