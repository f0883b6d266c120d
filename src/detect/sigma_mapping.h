/* The Sigma field mapping: per log source, which event fields a Sigma field name stands for.
 * Format: docs/sigma.md and the header of rules/mapping/ecs.yml. */
#ifndef YIWANG_SIGMA_MAPPING_H
#define YIWANG_SIGMA_MAPPING_H

#include <stddef.h>

#include "yiwang/diag.h"

#include "yw_limits.h"

struct yw_sigma_mapping;
struct yw_sigma_mapent;

/* Most candidates one field can have: listed targets, prefix + name, name as written. */
#define YW_SIGMA_MAX_CANDS (YW_MAX_MAPPING_TARGETS + 2)

/* Parses a mapping from YAML text; file names it in diagnostics. Returns 0 and *out (caller
 * frees with yw_sigma_mapping_free()), or YW_EPARSE (reported in d) / YW_ENOMEM. */
int yw_sigma_mapping_parse(const char *text, size_t len, const char *file,
                           struct yw_sigma_mapping **out, struct yw_diags *d);
/* The mapping built into the program (rules/mapping/ecs.yml at build time). */
int yw_sigma_mapping_builtin(struct yw_sigma_mapping **out, struct yw_diags *d);
void yw_sigma_mapping_free(struct yw_sigma_mapping *m);

/* The first entry whose log source fits (every key it names equals the rule's value), or
 * NULL. Arguments may be NULL (unset). */
const struct yw_sigma_mapent *yw_sigma_mapping_pick(const struct yw_sigma_mapping *m,
                                                    const char *product, const char *service,
                                                    const char *category);

/* Writes the event field names field may stand for, in lookup order and without duplicates,
 * to names/lens (room for YW_SIGMA_MAX_CANDS). A prefixed name is built in scratch, which must
 * hold at least scratchlen bytes; names may point into e, field or scratch. e may be NULL.
 * Returns the number written. Allocates nothing, so it may run per event. */
size_t yw_sigma_mapping_candidates(const struct yw_sigma_mapent *e, const char *field,
                                   const char **names, size_t *lens, char *scratch,
                                   size_t scratchlen);

#endif
