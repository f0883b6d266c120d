/* Compiled Sigma detection items: one field's modifiers and values (or a keyword list) turned
 * into a matcher (spec v2.1 and its modifiers appendix). The loader (sigma_load.c) builds the
 * values from YAML and resolves field names; this module knows nothing of YAML or mapping. */
#ifndef YIWANG_SIGMA_MATCH_H
#define YIWANG_SIGMA_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/event.h"

enum yw_sval_kind { YW_SV_STR, YW_SV_INT, YW_SV_FLOAT, YW_SV_BOOL, YW_SV_NULL };

/* One scalar value from a rule. */
struct yw_sval {
	int kind;      /* enum yw_sval_kind, as YAML typed it (plain scalars are typed) */
	const char *s; /* the scalar's text as written (without quotes); borrowed */
	size_t len;
	int64_t i; /* YW_SV_INT */
	double d;  /* YW_SV_FLOAT */
	bool b;    /* YW_SV_BOOL */
};

/* Placeholder values for the `expand` modifier: name -> list of values. */
struct yw_placeholders;
struct yw_placeholders *yw_placeholders_new(void);
void yw_placeholders_free(struct yw_placeholders *ph);
/* Adds a value to placeholder name (without the % signs). Copies both. */
int yw_placeholders_add(struct yw_placeholders *ph, const char *name, const char *value);

struct yw_matcher;

/* Compiles one detection item. mods are the modifier names after the field
 * (e.g. {"contains","all"}); vals[0..nvals) the item's values (a list or one scalar).
 * keyword != 0 for an item from a keyword list (no field name). ph may be NULL.
 * Returns 0 and *out, or YW_EINVAL / YW_EUNSUP / YW_ELIMIT / YW_ENOMEM with a message in err
 * (e.g. "unknown modifier 'foo'", "invalid regex at offset 3: ..."). Caller frees *out. */
int yw_matcher_compile(const char *const *mods, size_t nmods, const struct yw_sval *vals,
                       size_t nvals, int keyword, const struct yw_placeholders *ph,
                       struct yw_matcher **out, char *err, size_t errlen);
void yw_matcher_free(struct yw_matcher *m);

/* Looks up another field for the `fieldref` modifier: sigma_name is the field named in the
 * rule; the loader maps it to event fields. Returns NULL when absent. */
typedef const struct yw_field *(*yw_field_lookup_fn)(void *ud, const char *sigma_name);

/* Evaluates the matcher against field f (NULL when the event lacks the field). List fields
 * match when any item matches. Null values match an absent or empty field. */
bool yw_matcher_eval(const struct yw_matcher *m, const struct yw_field *f,
                     yw_field_lookup_fn lookup, void *ud);

/* True when the matcher evaluates `exists`, `null` or otherwise needs to see absent fields. */
bool yw_matcher_wants_absent(const struct yw_matcher *m);

/* True for an `all` matcher: every value must match (else any one value suffices). */
bool yw_matcher_is_all(const struct yw_matcher *m);

/* Literal fragments for a prefilter (e.g. Vectorscan): yw_matcher_literals() calls cb once per
 * alternative of every value (a value expands into several with windash, base64offset or
 * expand), with group = the value's index, and the longest run of literal bytes that
 * alternative needs in the field. Without YW_LIT_CASED the bytes are ASCII-lowercased and are
 * to be found case-insensitively. YW_LIT_OPTIONAL marks a value that can match without its
 * literal (null, exists, numeric, time, cidr, re, fieldref, a bare `*`, a non-canonical
 * integer, or any value of a `neq` matcher); such values are reported with len 0 except string
 * values under `neq`. A field can match only if, for some group (every group for `all`), one
 * of its literals is present or it is OPTIONAL. lit is borrowed for the call. A non-zero
 * return from cb stops the walk and is returned. */
#define YW_LIT_OPTIONAL 1u
#define YW_LIT_CASED    2u
typedef int (*yw_literal_fn)(void *ud, size_t group, const char *lit, size_t len, unsigned flags);
int yw_matcher_literals(const struct yw_matcher *m, yw_literal_fn cb, void *ud);

#endif
