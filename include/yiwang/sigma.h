/* The Sigma engine (specification v2.1, detection part): load rules, compile them against a
 * field mapping, and match events. Correlation documents are recognised and counted; their
 * evaluation lives in a later module.
 *
 * A ruleset is built single-threaded (add, then compile); after yw_ruleset_compile() it is
 * read-only and yw_ruleset_match() may be called from several threads at once. */
#ifndef YIWANG_SIGMA_H
#define YIWANG_SIGMA_H

#include <stdbool.h>
#include <stddef.h>

#include "yiwang/diag.h"
#include "yiwang/event.h"

struct yw_rule_info {
	const char *id;     /* may be NULL */
	const char *name;   /* Sigma `name` (correlations refer to it); may be NULL */
	const char *title;
	const char *level;  /* informational|low|medium|high|critical, or NULL */
	const char *status; /* may be NULL */
	const char *description;
	const char *file;   /* path the rule came from */
	unsigned line;      /* line of the document in that file */
	const char *const *tags;
	size_t ntags;
	const char *product, *service, *category; /* log source; NULL = any */
	size_t index; /* position in its ruleset: yw_ruleset_rule(rs, index) returns this */
};

struct yw_ruleset_stats {
	size_t files;          /* rule files read */
	size_t documents;      /* YAML documents seen */
	size_t rules;          /* detection rules loaded and evaluable */
	size_t correlations;   /* correlation rules recognised (not evaluated here) */
	size_t filters;        /* Sigma filter documents recognised */
	size_t invalid;        /* documents rejected, each with a diagnostic */
};

struct yw_ruleset;

/* Returns a new ruleset using the built-in Sigma→ECS mapping, or NULL on allocation failure.
 * Caller frees with yw_ruleset_free(). */
struct yw_ruleset *yw_ruleset_new(void);
void yw_ruleset_free(struct yw_ruleset *rs);

/* Replaces the field mapping with the YAML file at path (format: docs/sigma.md). */
int yw_ruleset_load_mapping(struct yw_ruleset *rs, const char *path, struct yw_diags *d);

/* Loads placeholder values for the `expand` modifier from a YAML file of
 * `placeholders: {name: [values...]}`. */
int yw_ruleset_load_placeholders(struct yw_ruleset *rs, const char *path, struct yw_diags *d);

/* Adds rules from a file, or from every *.yml / *.yaml file below a directory.
 * A rule that cannot be loaded is reported in d with file:line:col and skipped; the return
 * value is 0 unless the path itself cannot be read (YW_EIO / YW_ENOENT) or memory ran out. */
int yw_ruleset_add_path(struct yw_ruleset *rs, const char *path, struct yw_diags *d);
/* Same for a YAML text held in memory; name is used in diagnostics. */
int yw_ruleset_add_text(struct yw_ruleset *rs, const char *text, size_t len, const char *name,
			struct yw_diags *d);

/* Resolves field names through the mapping and finalises the ruleset. */
int yw_ruleset_compile(struct yw_ruleset *rs, struct yw_diags *d);

void yw_ruleset_stats(const struct yw_ruleset *rs, struct yw_ruleset_stats *out);
size_t yw_ruleset_count(const struct yw_ruleset *rs);
const struct yw_rule_info *yw_ruleset_rule(const struct yw_ruleset *rs, size_t i);

/* Called for each rule that matches. Both pointers are borrowed for the call only.
 * A non-zero return stops matching and is returned by yw_ruleset_match(). */
typedef int (*yw_match_fn)(void *ud, const struct yw_rule_info *rule, const struct yw_event *ev);

/* Evaluates every rule whose log source fits the event's. An event whose log source is
 * entirely unknown is evaluated against every rule. Returns 0, or the callback's non-zero
 * value when it stopped the evaluation. */
int yw_ruleset_match(const struct yw_ruleset *rs, const struct yw_event *ev, yw_match_fn cb,
		     void *ud);

#endif
