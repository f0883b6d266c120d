/* The solution library: for every alert, what happened, why it matters, how to verify, how to
 * fix and how to prevent it, in English and Simplified Chinese. Format and resolution order:
 * docs/solutions.md.
 *
 * A library is loaded once (single-threaded) from a directory of YAML files; afterwards it is
 * read-only and every function below may be called from several threads at once. */
#ifndef YIWANG_SOLUTION_H
#define YIWANG_SOLUTION_H

#include <stddef.h>

#include "yiwang/diag.h"
#include "yiwang/sigma.h"
#include "yiwang/strbuf.h"

/* How specific a solution is: also the kind of entry it was loaded as. */
enum yw_sol_level {
	YW_SOL_RULE = 0,      /* written for this rule (by rule id) */
	YW_SOL_TECHNIQUE = 1, /* for one of the rule's ATT&CK techniques or its parent */
	YW_SOL_TACTIC = 2,    /* for one of the rule's ATT&CK tactics */
	YW_SOL_GENERIC = 3,   /* by the rule's log source, or the default */
	YW_SOL_NLEVELS
};

enum yw_sol_lang { YW_LANG_EN = 0, YW_LANG_ZH = 1, YW_LANG_N };

enum yw_sol_section {
	YW_SEC_WHAT = 0, /* one paragraph */
	YW_SEC_WHY,      /* one paragraph */
	YW_SEC_VERIFY,   /* steps */
	YW_SEC_FIX,      /* steps */
	YW_SEC_PREVENT,  /* steps */
	YW_SEC_N
};

/* A list of strings, owned by the library. */
struct yw_sol_list {
	char **v;
	size_t n;
};

/* One solution. Every pointer is owned by the library and valid until yw_solutions_free();
 * treat it as read-only. Every section has at least one non-empty entry in both languages
 * (the loader rejects anything less); what and why have exactly one. */
struct yw_solution {
	int kind;   /* enum yw_sol_level */
	char *key;  /* rule id (lower case), technique ("T1110.001"), tactic ("credential-access")
	             * or generic selector ("default", "product:windows", "category:webserver") */
	char *file; /* where it was loaded from */
	unsigned line;
	char *name[YW_LANG_N];
	struct yw_sol_list sec[YW_SEC_N][YW_LANG_N];
	struct yw_sol_list tactics;    /* techniques: the ATT&CK tactics (Sigma tag form) */
	struct yw_sol_list aliases;    /* tactics: other tag names resolving here */
	struct yw_sol_list references; /* URLs */
};

struct yw_solutions;

/* Loads every *.yml / *.yaml file below dir (or the single file dir names). Each problem is
 * reported in d with file:line:col; the library keeps the valid entries. Returns 0 and *out
 * (caller frees with yw_solutions_free()), YW_EINVAL when some entry was invalid (*out is
 * still set and usable), YW_ENOENT / YW_EIO when dir cannot be read, YW_ENOMEM. */
int yw_solutions_load(const char *dir, struct yw_diags *d, struct yw_solutions **out);
void yw_solutions_free(struct yw_solutions *lib);

/* The installed library's directory (for programs without a --solutions option), or NULL
 * when neither the install location nor ../rules/solutions next to the program exists.
 * Writes into buf. */
const char *yw_solutions_default_dir(char *buf, size_t size);

size_t yw_solutions_count(const struct yw_solutions *lib);
/* The i-th entry (load order: files sorted by path, documents in order), or NULL. */
const struct yw_solution *yw_solutions_at(const struct yw_solutions *lib, size_t i);
/* Entries of one kind (enum yw_sol_level) in the library. */
size_t yw_solutions_count_kind(const struct yw_solutions *lib, int kind);

/* Exact lookup of one entry; key as in struct yw_solution (rule ids and technique ids in any
 * case, tactic aliases accepted). NULL when absent. */
const struct yw_solution *yw_solutions_get(const struct yw_solutions *lib, int kind,
                                           const char *key);

/* Resolves a rule: by rule id, then its most specific ATT&CK technique tag with an entry
 * (sub-technique, then technique, then a sub-technique's parent; tag order breaks ties), then
 * its tactic tags, then its log source (product, category, service), then "default".
 * Stores the level matched in *level (may be NULL). NULL only when nothing matched and the
 * library has no default. */
const struct yw_solution *yw_solutions_resolve(const struct yw_solutions *lib,
                                               const struct yw_rule_info *rule, int *level);

/* A technique id such as "T1110.001" or "attack.t1110.001": its own entry, else its parent's.
 * NULL when neither exists. */
const struct yw_solution *yw_solutions_technique(const struct yw_solutions *lib,
                                                 const char *technique);

/* "rule", "technique", "tactic", "generic"; "?" for anything else. */
const char *yw_sol_level_name(int level);
/* "en" / "zh" -> enum yw_sol_lang, or -1. */
int yw_sol_lang_parse(const char *s);

/* Appends the solution as one JSON object with both languages:
 * {"level":..,"key":..,"name":{"en":..,"zh":..},"what":{"en":..,"zh":..},"why":{..},
 *  "verify":{"en":[..],"zh":[..]},"fix":{..},"prevent":{..},"tactics":[..],"references":[..]}.
 * Returns 0, YW_ENOMEM or YW_ELIMIT (out's max). */
int yw_solution_json(const struct yw_solution *s, int level, struct yw_strbuf *out);

/* Appends the solution as plain text in one language (enum yw_sol_lang): a heading, then the
 * five sections with numbered steps. Returns 0, YW_EINVAL (bad lang), YW_ENOMEM, YW_ELIMIT. */
int yw_solution_text(const struct yw_solution *s, int level, int lang, struct yw_strbuf *out);

#endif
