/* Private structures of the correlation engine, shared by correlate_build.c (rules ->
 * correlations: references, aliases, field resolution) and correlate.c (windows, alerts). */
#ifndef YIWANG_CORRELATE_INT_H
#define YIWANG_CORRELATE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "yiwang/correlate.h"

#include "detect/sigma_mapping.h"
#include "detect/sigma_rule.h"

enum {
	YW_CT_EVENT_COUNT,
	YW_CT_VALUE_COUNT,
	YW_CT_TEMPORAL,
	YW_CT_TEMPORAL_ORDERED,
	YW_CT_VALUE_SUM,
	YW_CT_VALUE_AVG,
	YW_CT_VALUE_PERCENTILE,
};

/* Event field names one correlation field stands for in one source's events, in lookup order.
 * For a chained source it is the one group-by name looked up in the child's alert. */
struct yw_corr_fref {
	size_t n;
	char *names[YW_SIGMA_MAX_CANDS]; /* owned */
	uint32_t lens[YW_SIGMA_MAX_CANDS];
};

/* One entry of a correlation's `rules`. */
struct yw_corr_src {
	bool is_corr;
	size_t target;                    /* detection rule index, or correlation index */
	const struct yw_sigma_rule *doc;  /* borrowed from the ruleset */
	struct yw_corr_fref *gb;          /* one per group-by name; owned */
	struct yw_corr_fref val;          /* the condition field (value_* types) */
	const struct yw_rule_info **base; /* detection rules below this source; owned array */
	size_t nbase;
};

#define YW_CORR_NIL        UINT32_MAX
#define YW_CORR_KEY_INLINE 40

/* A group's record header; the type's window state follows it in the pool. */
struct yw_corr_grp {
	uint64_t hash;
	uint32_t prev, next; /* LRU order (least recently updated first), or the free list */
	int64_t touched;     /* newest input time: the group expires span after it */
	int64_t first, last; /* contributing inputs since the last reset */
	int64_t start;       /* window start of at_close correlations */
	uint64_t cnt;        /* at_close: inputs in the window */
	double sum;          /* at_close value_sum/value_avg */
	uint64_t mask;       /* sources that contributed since the last reset */
	uint32_t n, head;    /* ring/set entries, oldest ring entry */
	uint32_t keylen;     /* key: the group values, each NUL-terminated */
	char *keyext;        /* the key when longer than YW_CORR_KEY_INLINE; owned */
	char key[YW_CORR_KEY_INLINE];
};

struct yw_corr_sub {
	uint32_t corr, pos; /* feeds correlation corr as its source number pos */
};

struct yw_corr_sublist {
	struct yw_corr_sub *v;
	size_t n, cap;
};

/* One correlation and its groups. Group records live in pool with a fixed stride: a
 * struct yw_corr_grp followed by the type's window state. */
struct yw_corr_one {
	const struct yw_sigma_rule *doc;
	const struct yw_sigma_corr *k;
	int type;
	bool ok;       /* built; false ones are skipped */
	bool at_close; /* decided when a group's window closes (lt, lte, eq, neq terms) */
	bool output;   /* alerts go to the caller (see yw_corr_feed) */
	struct yw_corr_src *srcs;
	size_t nsrcs;
	struct yw_corr_sublist parents;
	int64_t span; /* ns */
	uint32_t cap; /* saturation point of a count: entries a ring keeps */
	size_t stride;
	unsigned char *pool;
	uint32_t npool, cappool, maxgroups, freel, live;
	uint32_t *slots; /* open addressing, linear probing; NIL = empty */
	uint32_t nslots;
	uint32_t lru_head, lru_tail;
	int64_t newest;
	bool seen;
	const char **vals;                /* scratch: group values of an alert */
	const struct yw_rule_info **base; /* scratch: base rules of an alert */
	size_t nbase_max;
	size_t keybytes; /* bytes of keys held outside the pool */
	int mark;        /* cycle detection while building */
	int level;       /* 1 = over detection rules only, 2 = over level-1 correlations, ... */
};

struct yw_corr {
	const struct yw_ruleset *rs;
	struct yw_corr_one *cors;
	size_t ncors, nok;
	struct yw_corr_sublist *byrule; /* per detection rule index */
	bool *reported;                 /* per detection rule index */
	size_t nrules;
	int64_t late_ns;
	size_t max_groups, max_bytes;
	int64_t newest;
	struct yw_corr_stats st;
};

/* Builds c->cors, c->byrule and c->reported from c->rs (correlate_build.c). */
int yw_corr_build(struct yw_corr *c, struct yw_diags *d);
/* Frees what yw_corr_build() allocated for one correlation (not its groups). */
void yw_corr_one_free(struct yw_corr_one *k);

int yw_corr_sublist_add(struct yw_corr_sublist *l, uint32_t corr, uint32_t pos);

#endif
