/* Private structures of the Sigma engine, shared by sigma_load.c (YAML -> rules),
 * sigma_mapping.c (field names -> event fields) and sigma_ruleset.c (compile, route, match). */
#ifndef YIWANG_SIGMA_RULE_H
#define YIWANG_SIGMA_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/diag.h"
#include "yiwang/sigma.h"

#include "detect/sigma_cond.h"
#include "detect/sigma_match.h"

/* One event field name an item may read, hashed once at compile time. */
struct yw_sigma_cand {
	const char *name; /* borrowed from the item's cbuf */
	uint32_t len, hash;
};

/* One detection item: `Field|mods: values`, or a keyword list (field == NULL). */
struct yw_sigma_item {
	char *field;          /* Sigma field name as written; NULL for keywords; owned */
	struct yw_matcher *m; /* owned; NULL when the item can never match (see never) */
	bool never;           /* every value was an unknown placeholder */
	bool wants_absent;    /* the matcher must also see a missing field */
	unsigned line, col;
	struct yw_sigma_cand *cands; /* resolved by yw_ruleset_compile(); owned */
	size_t ncands;
	char *cbuf; /* owned storage of the candidates' names */
};

/* AND of items. */
struct yw_sigma_group {
	struct yw_sigma_item *items;
	size_t nitems;
};

/* A search identifier: OR of groups (a map is one group, a list of maps several). */
struct yw_sigma_sel {
	char *name;
	unsigned line, col;
	struct yw_sigma_group *groups;
	size_t ngroups;
};

/* Named selections and the condition(s) over them (several conditions = OR). */
struct yw_sigma_detection {
	struct yw_sigma_sel *sels;
	size_t nsels;
	const char **names; /* sels[i].name, for yw_cond_parse/format */
	struct yw_cond **conds;
	size_t nconds;
};

enum yw_sigma_kind { YW_SIGMA_RULE, YW_SIGMA_CORRELATION, YW_SIGMA_FILTER };

/* A correlation condition term such as `gte: 100`. */
struct yw_sigma_corr_cond {
	char op[4]; /* gt, gte, lt, lte, eq, neq */
	int64_t value;
};

/* A correlation rule, parsed and checked, kept for the correlation module. */
struct yw_sigma_corr {
	char *type;   /* event_count, value_count, temporal, temporal_ordered, value_sum, ... */
	char **rules; /* ids or names of the correlated rules */
	size_t nrules;
	char **group_by;
	size_t ngroup_by;
	char *timespan;      /* as written, e.g. "5m" */
	int64_t timespan_ms; /* parsed */
	struct yw_sigma_corr_cond conds[6];
	size_t nconds;
	char *cond_field; /* value_* types: the field the condition applies to; NULL otherwise */
	bool generate;    /* `generate: true`: the correlated rules also alert on their own */
};

/* A Sigma filter: a detection applied as an exclusion to the listed rules. */
struct yw_sigma_filter {
	char **rules;
	size_t nrules;
	struct yw_sigma_detection det;
};

struct yw_sigma_rule {
	int kind;                 /* enum yw_sigma_kind */
	struct yw_rule_info info; /* strings point into the owned fields below */
	char *id, *name, *title, *level, *status, *description, *file;
	char *product, *service, *category;
	char **tags;
	size_t ntags;
	struct yw_sigma_detection det;  /* YW_SIGMA_RULE */
	struct yw_sigma_corr *corr;     /* YW_SIGMA_CORRELATION */
	struct yw_sigma_filter *filter; /* YW_SIGMA_FILTER */
	const struct yw_sigma_mapent
	    *map; /* chosen by yw_ruleset_compile(); borrowed, may be NULL */
};

/* What the loader needs from the ruleset, and where it puts what it read. */
struct yw_sigma_load {
	const struct yw_placeholders *ph; /* may be NULL */
	char *const *phnames;             /* names (without %) that ph defines */
	size_t nphnames;
	struct yw_diags *d;
	/* Takes ownership of r (also on failure). Returns 0 or YW_ENOMEM. */
	int (*emit)(void *ud, struct yw_sigma_rule *r);
	void *ud;
	size_t documents, invalid;
};

/* Loads every YAML document of text (a rule file's contents) and emits one rule per valid
 * document. Problems are reported in l->d and counted in l->invalid. Returns 0 or
 * YW_ENOMEM / YW_ELIMIT (text larger than YW_MAX_RULE_FILE, also reported). */
int yw_sigma_load_text(struct yw_sigma_load *l, const char *text, size_t len, const char *file);

/* Reads a placeholders file (`placeholders: {name: [values]}`) into ph, appending the
 * names defined to *names (owned, realloc'ed). */
int yw_sigma_load_placeholders(const char *text, size_t len, const char *file,
                               struct yw_placeholders *ph, char ***names, size_t *nnames,
                               struct yw_diags *d);

void yw_sigma_rule_free(struct yw_sigma_rule *r);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer the caller frees.
 * Returns 0, YW_ENOENT, YW_EIO, YW_ELIMIT or YW_ENOMEM. */
int yw_sigma_read_file(const char *path, size_t max, char **out, size_t *len);

/* Every document the ruleset accepted (rules, correlations, filters) in load order, for the
 * correlation module. Borrowed until yw_ruleset_free(). */
size_t yw_sigma_ruleset_ndocs(const struct yw_ruleset *rs);
const struct yw_sigma_rule *yw_sigma_ruleset_doc(const struct yw_ruleset *rs, size_t i);

/* Evaluates every rule whose log source fits ev's, without the literal prefilter and route
 * cache: the straightforward reference that yw_ruleset_match() must agree with exactly (same
 * rules, same order). Same contract as yw_ruleset_match(). */
int yw_ruleset_match_slow(const struct yw_ruleset *rs, const struct yw_event *ev, yw_match_fn cb,
                          void *ud);

/* The compiled prefilter (sigma_prefilter.h), or NULL before yw_ruleset_compile(). */
struct yw_sigma_pf;
const struct yw_sigma_pf *yw_sigma_ruleset_pf(const struct yw_ruleset *rs);

#endif
