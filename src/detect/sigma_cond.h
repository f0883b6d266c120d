/* Sigma condition expressions (specification v2.1): identifiers, `and`, `or`, `not`,
 * parentheses, `1 of X`, `all of X`, `N of X` where X is an identifier, a wildcard pattern
 * (`selection*`) or `them` (which leaves out identifiers starting with `_`).
 * Precedence: `not` > `and` > `or`; `x of` binds to its operand.
 * Patterns are resolved against the rule's identifiers at parse time. */
#ifndef YIWANG_SIGMA_COND_H
#define YIWANG_SIGMA_COND_H

#include <stdbool.h>
#include <stddef.h>

#include "yiwang/strbuf.h"

enum yw_cond_op {
	YW_COND_ID,    /* one identifier: id */
	YW_COND_AND,   /* all kids */
	YW_COND_OR,    /* any kid */
	YW_COND_NOT,   /* kids[0] */
	YW_COND_OF,    /* at least `count` of ids[0..nids) hold; count == nids means all */
};

struct yw_cond {
	int op; /* enum yw_cond_op */
	size_t id;            /* YW_COND_ID */
	struct yw_cond **kids; /* AND / OR / NOT; owned */
	size_t nkids;
	size_t *ids;          /* YW_COND_OF; owned, indexes into the names given to the parser */
	size_t nids;
	size_t count;         /* YW_COND_OF */
};

/* Parses text against the rule's selection identifiers names[0..n).
 * On success returns 0 and *out (caller frees with yw_cond_free()).
 * On error returns YW_EPARSE (syntax, unknown identifier, pattern matching nothing, nesting
 * over YW_MAX_RULE_DEPTH) or YW_ENOMEM, writes a message to err and the 0-based byte offset of
 * the problem to *errpos. */
int yw_cond_parse(const char *text, size_t len, const char *const *names, size_t n,
		  struct yw_cond **out, char *err, size_t errlen, size_t *errpos);

void yw_cond_free(struct yw_cond *c);

/* Asks whether selection idx matched. Called lazily, at most once per evaluation path. */
typedef bool (*yw_cond_sel_fn)(void *ud, size_t idx);

/* Combines the parsed elements of a condition list (the specification links them with OR)
 * into one tree, flattening nested ORs. Takes ownership of parts[0..n) whether or not it
 * succeeds (the array itself stays the caller's). Returns 0, YW_EINVAL (n == 0) or
 * YW_ENOMEM. */
int yw_cond_or_list(struct yw_cond **parts, size_t n, struct yw_cond **out);

/* Evaluates with short-circuiting. Recursive: a parsed tree is at most YW_MAX_RULE_DEPTH
 * operators deep (one more after yw_cond_or_list), so the stack use is bounded. */
bool yw_cond_eval(const struct yw_cond *c, yw_cond_sel_fn sel, void *ud);

/* Writes a canonical, fully parenthesised form, e.g. "(sel1 and (not filter))", using names. */
int yw_cond_format(const struct yw_cond *c, const char *const *names, struct yw_strbuf *out);

#endif
