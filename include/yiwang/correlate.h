/* Sigma correlation rules (specification v2.1): event_count, value_count, temporal,
 * temporal_ordered, value_sum, value_avg and value_percentile, with group-by, timespan,
 * aliases, chained correlations and `generate`. Semantics: docs/sigma.md, "Correlation".
 *
 * A correlation engine is built from a compiled ruleset and fed the base-rule matches of
 * yw_ruleset_match() in log order; it calls back with an alert whenever a correlation fires.
 * One engine is single-threaded (it holds the sliding windows); create one per stream. */
#ifndef YIWANG_CORRELATE_H
#define YIWANG_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/diag.h"
#include "yiwang/event.h"
#include "yiwang/sigma.h"

struct yw_corr_opts {
	size_t max_groups;         /* per correlation; 0 = YW_CORR_DEFAULT_MAX_GROUPS */
	size_t max_bytes;          /* window state per correlation; 0 = YW_CORR_DEFAULT_MAX_BYTES */
	int64_t late_tolerance_ms; /* < 0 = YW_CORR_DEFAULT_LATE_MS; 0 = no late events */
};

/* One firing of a correlation. Every pointer is borrowed for the callback only. */
struct yw_corr_alert {
	const struct yw_rule_info *rule; /* the correlation rule */
	const char *type;                /* event_count, value_count, temporal, ... */
	const char *const *group_by;     /* the correlation's group-by names */
	const char *const *group_values; /* their values in this group (never NULL) */
	size_t ngroup;
	const char *field; /* value_* types: the condition field; NULL otherwise */
	double value;      /* count, distinct count, rules seen, sum, average or share in % */
	int64_t first_ns, last_ns; /* @timestamp of the first and last contributing event */
	const struct yw_rule_info *const *base; /* detection rules involved, deduplicated */
	size_t nbase;
};

/* Called for every alert; a non-zero return stops the feed and is returned by it. */
typedef int (*yw_corr_alert_fn)(void *ud, const struct yw_corr_alert *a);

struct yw_corr_stats {
	size_t correlations;   /* correlation rules evaluated */
	uint64_t inputs;       /* base-rule matches and chained alerts fed to correlations */
	uint64_t alerts;       /* alerts emitted (chained ones included) */
	uint64_t groups;       /* groups currently held, all correlations */
	uint64_t evicted;      /* groups dropped because a correlation hit max_groups */
	uint64_t expired;      /* groups dropped because their window passed */
	uint64_t dropped_late; /* inputs older than the newest time minus the tolerance */
	uint64_t no_group;     /* inputs lacking a group-by field (not counted, see docs) */
	uint64_t no_value;     /* value_* inputs whose condition field is missing or not a number */
	size_t memory_bytes;   /* bytes of window state currently allocated */
};

struct yw_corr;

/* Builds the correlations of rs (which must be compiled and outlive the engine). A
 * correlation whose rules cannot be resolved, that forms a cycle or whose aliases cannot be
 * read is reported in d and left out; the others still run. o may be NULL. Returns 0 and *out
 * (caller frees with yw_corr_free(), also when there are no correlations) or YW_ENOMEM. */
int yw_corr_new(const struct yw_ruleset *rs, const struct yw_corr_opts *o, struct yw_diags *d,
                struct yw_corr **out);
void yw_corr_free(struct yw_corr *c);

/* Correlation rules evaluated, and the i-th one's rule info. */
size_t yw_corr_count(const struct yw_corr *c);
const struct yw_rule_info *yw_corr_rule(const struct yw_corr *c, size_t i);

/* Whether a detection rule's own matches should be reported: true unless every correlation
 * that refers to it (directly) has `generate: false` (the default). */
bool yw_corr_rule_reported(const struct yw_corr *c, const struct yw_rule_info *rule);

/* Feeds one base-rule match (from yw_ruleset_match()'s callback) in log order. Alerts of
 * correlations it completes, and of chained correlations above them, go to cb; an alert of a
 * correlation that is itself referred to only by correlations with `generate: false` is fed
 * upward but not passed to cb. Returns 0, YW_ENOMEM, or cb's non-zero value. */
int yw_corr_feed(struct yw_corr *c, const struct yw_rule_info *rule, const struct yw_event *ev,
                 yw_corr_alert_fn cb, void *ud);

/* End of input: evaluates the windows of correlations decided at window close (conditions
 * with lt, lte, eq or neq) and drops all state. */
int yw_corr_flush(struct yw_corr *c, yw_corr_alert_fn cb, void *ud);

void yw_corr_stats(const struct yw_corr *c, struct yw_corr_stats *out);

#endif
