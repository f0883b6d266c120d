/* Literal prefilter of the Sigma engine (docs/sigma.md, "Prefilter").
 *
 * At compile time every rule gets a set of required literals derived from its condition: the
 * rule can only match an event if at least one literal of its set occurs in one of the event
 * fields the literal belongs to. Rules without such a set are evaluated for every event of
 * their log source. At match time the event's log source is mapped once to a route (the rules
 * that apply, with one Vectorscan database per field those rules need); only the fields present
 * in the event are scanned, and only the rules hit plus the always-evaluated ones are handed to
 * the exact evaluator. */
#ifndef YIWANG_SIGMA_PREFILTER_H
#define YIWANG_SIGMA_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "yiwang/event.h"

#include "detect/sigma_rule.h"

/* One required literal: bytes to find in a field of item (its candidate fields; for a keyword
 * item the `message` field and the raw text). Without cased the bytes are ASCII-lowercased and
 * are to be found case-insensitively. */
struct yw_sigma_lit {
	const struct yw_sigma_item *item; /* borrowed from the rule */
	char *s;                          /* owned */
	size_t len;
	bool cased;
};

/* A rule's literal set; always = no usable set (the rule is evaluated for every event). */
struct yw_sigma_litset {
	bool always;
	struct yw_sigma_lit *v;
	size_t n, cap;
};

/* Derives r's literal set from its condition(s) (see docs/sigma.md for the rules of the
 * derivation). out is overwritten; free it with yw_sigma_litset_free(). Returns 0 or
 * YW_ENOMEM. r must have been resolved by yw_ruleset_compile() (items' candidates). */
int yw_sigma_rule_literals(const struct yw_sigma_rule *r, struct yw_sigma_litset *out);
void yw_sigma_litset_free(struct yw_sigma_litset *s);

/* The compiled prefilter of a ruleset. Read-only after yw_sigma_pf_new() apart from an
 * internal, lock-protected cache of routes and Vectorscan scratch space, so yw_sigma_pf_run()
 * may be called from several threads at once. */
struct yw_sigma_pf;

/* Builds the prefilter for rules[0..n) (borrowed; they must outlive it). Returns 0 or
 * YW_ENOMEM. */
int yw_sigma_pf_new(struct yw_sigma_rule *const *rules, size_t n, struct yw_sigma_pf **out);
void yw_sigma_pf_free(struct yw_sigma_pf *pf);

/* Called for each candidate rule of an event, in ascending index order; a non-zero return stops
 * the run and is returned. */
typedef int (*yw_sigma_pf_fn)(void *ud, size_t rule);

/* Reports the candidate rules of ev: the rules whose log source fits ev's (every rule when ev
 * has no log source) and that either have no literal set or have a literal present in ev.
 * Returns 0 or the callback's non-zero value. When the route or scratch space cannot be built
 * (YW_ENOMEM, or YW_ELIMIT past YW_MAX_SIGMA_ROUTES routes) no callback is made, *unavailable
 * is set and the error returned: the caller then evaluates without the prefilter. */
int yw_sigma_pf_run(const struct yw_sigma_pf *pf, const struct yw_event *ev, yw_sigma_pf_fn fn,
                    void *ud, bool *unavailable);

/* Counters for tests and benchmarks. */
struct yw_sigma_pf_stats {
	size_t rules_with_set; /* rules with a literal set */
	size_t literals;       /* distinct (field, literal, casing) triples */
	size_t fields;         /* distinct fields (the raw text counts as one) */
	size_t routes;         /* routes built so far */
};
void yw_sigma_pf_stats(const struct yw_sigma_pf *pf, struct yw_sigma_pf_stats *out);

#endif
