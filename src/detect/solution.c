/* The solution library: YAML entries per rule, technique, tactic and log source, resolved for
 * a rule from the most to the least specific. Format: docs/solutions.md. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "yiwang/error.h"
#include "yiwang/solution.h"

#include "detect/sigma_rule.h"
#include "yw_limits.h"

struct yw_solutions {
	struct yw_solution **v;
	size_t n, cap;
	/* Open addressing over "<kind>:<key>" (aliases included): indexes into v, +1 (0 = free). */
	uint32_t *slots;
	char **slot_keys; /* borrowed from v[]'s key or aliases */
	int *slot_kinds;
	size_t nslots;
	size_t kinds[YW_SOL_NLEVELS];
};

static const char *const kind_keys[YW_SOL_NLEVELS] = {"rule", "technique", "tactic", "generic"};
static const char *const sec_keys[YW_SEC_N] = {"what", "why", "verify", "fix", "prevent"};
static const char *const lang_keys[YW_LANG_N] = {"en", "zh"};

const char *yw_sol_level_name(int level)
{
	return level >= 0 && level < YW_SOL_NLEVELS ? kind_keys[level] : "?";
}

int yw_sol_lang_parse(const char *s)
{
	for (int i = 0; s && i < YW_LANG_N; i++)
		if (!strcmp(s, lang_keys[i]))
			return i;
	return -1;
}

static void list_free(struct yw_sol_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void sol_free(struct yw_solution *s)
{
	if (!s)
		return;
	free(s->key);
	free(s->file);
	for (int l = 0; l < YW_LANG_N; l++) {
		free(s->name[l]);
		for (int k = 0; k < YW_SEC_N; k++)
			list_free(&s->sec[k][l]);
	}
	list_free(&s->tactics);
	list_free(&s->aliases);
	list_free(&s->references);
	free(s);
}

void yw_solutions_free(struct yw_solutions *lib)
{
	if (!lib)
		return;
	for (size_t i = 0; i < lib->n; i++)
		sol_free(lib->v[i]);
	free(lib->v);
	free(lib->slots);
	free(lib->slot_keys);
	free(lib->slot_kinds);
	free(lib);
}

/* ---- keys ---- */

/* "T1110.001" from "t1110.001" or "attack.t1110.001"; false when s is no technique id. */
static bool technique_norm(const char *s, char out[16])
{
	if (!strncasecmp(s, "attack.", 7))
		s += 7;
	size_t n = strlen(s);
	if ((n != 5 && n != 9) || (s[0] != 't' && s[0] != 'T'))
		return false;
	for (size_t i = 1; i < n; i++) {
		bool dot = i == 5;
		if (dot ? s[i] != '.' : !isdigit((unsigned char)s[i]))
			return false;
	}
	out[0] = 'T';
	memcpy(out + 1, s + 1, n);
	return true;
}

static bool tactic_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static bool generic_valid(const char *s)
{
	if (!strcmp(s, "default"))
		return true;
	static const char *const pfx[] = {"product:", "category:", "service:"};
	for (size_t i = 0; i < 3; i++) {
		size_t pl = strlen(pfx[i]);
		if (!strncmp(s, pfx[i], pl) && s[pl])
			return true;
	}
	return false;
}

static uint32_t hash_key(int kind, const char *key)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;
	for (; *key; key++) {
		h ^= (unsigned char)tolower((unsigned char)*key);
		h *= 16777619u;
	}
	return h;
}

static long slot_find(const struct yw_solutions *lib, int kind, const char *key)
{
	if (!lib->nslots)
		return -1;
	size_t mask = lib->nslots - 1;
	for (size_t i = hash_key(kind, key) & mask;; i = (i + 1) & mask) {
		if (!lib->slots[i])
			return -1;
		if (lib->slot_kinds[i] == kind && !strcasecmp(lib->slot_keys[i], key))
			return (long)i;
	}
}

static int slot_put(struct yw_solutions *lib, int kind, char *key, size_t idx)
{
	size_t mask = lib->nslots - 1;
	size_t i = hash_key(kind, key) & mask;
	while (lib->slots[i]) {
		if (lib->slot_kinds[i] == kind && !strcasecmp(lib->slot_keys[i], key))
			return YW_EEXIST;
		i = (i + 1) & mask;
	}
	lib->slots[i] = (uint32_t)idx + 1;
	lib->slot_keys[i] = key;
	lib->slot_kinds[i] = kind;
	return 0;
}

/* ---- loading ---- */

struct ld {
	struct yw_solutions *lib;
	struct yw_diags *d;
	const char *file;
	yaml_document_t *doc;
	int errors;
	bool nomem;
};

__attribute__((format(printf, 3, 4))) static void bad(struct ld *l, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yw_diags_add(l->d, YW_DIAG_ERROR, l->file, n ? (unsigned)n->start_mark.line + 1 : 0,
	             n ? (unsigned)n->start_mark.column + 1 : 0, "%s", msg);
	l->errors++;
}

static yaml_node_t *node(struct ld *l, int id)
{
	return yaml_document_get_node(l->doc, id);
}

/* A non-empty scalar of at most YW_MAX_SOLUTION_TEXT bytes, copied; NULL after a diagnostic. */
static char *text(struct ld *l, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE) {
		bad(l, n, "%s must be a string", what);
		return NULL;
	}
	size_t len = n->data.scalar.length;
	const char *s = (const char *)n->data.scalar.value;
	size_t b = 0;
	while (b < len && isspace((unsigned char)s[b]))
		b++;
	while (len > b && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == b) {
		bad(l, n, "%s must not be empty", what);
		return NULL;
	}
	if (len - b > YW_MAX_SOLUTION_TEXT) {
		bad(l, n, "%s is longer than YW_MAX_SOLUTION_TEXT", what);
		return NULL;
	}
	char *c = strndup(s + b, len - b);
	if (!c)
		l->nomem = true;
	return c;
}

static int list_add(struct ld *l, struct yw_sol_list *dst, char *s)
{
	char **nv = realloc(dst->v, (dst->n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		l->nomem = true;
		return YW_ENOMEM;
	}
	dst->v = nv;
	dst->v[dst->n++] = s;
	return 0;
}

/* A non-empty sequence of strings (one string is taken as a list of one when single). */
static void strings(struct ld *l, yaml_node_t *n, const char *what, bool single,
                    struct yw_sol_list *dst)
{
	if (single) {
		char *s = text(l, n, what);
		if (s)
			list_add(l, dst, s);
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		bad(l, n, "%s must be a list of strings", what);
		return;
	}
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!cnt) {
		bad(l, n, "%s must not be empty", what);
		return;
	}
	if (cnt > YW_MAX_SOLUTION_STEPS) {
		bad(l, n, "%s has more entries than YW_MAX_SOLUTION_STEPS", what);
		return;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		char *s = text(l, node(l, *it), what);
		if (s && list_add(l, dst, s))
			return;
	}
}

/* {en: ..., zh: ...}: both languages, nothing else. */
static void bilingual(struct ld *l, yaml_node_t *n, const char *what, bool single,
                      struct yw_sol_list out[YW_LANG_N])
{
	if (n->type != YAML_MAPPING_NODE) {
		bad(l, n, "%s must be a map with en and zh", what);
		return;
	}
	bool seen[YW_LANG_N] = {false};
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
		int lang = k->type == YAML_SCALAR_NODE
		               ? yw_sol_lang_parse((char *)k->data.scalar.value)
		               : -1;
		if (lang < 0) {
			bad(l, k, "%s: unknown language (en and zh only)", what);
			continue;
		}
		if (seen[lang]) {
			bad(l, k, "%s: language given twice", what);
			continue;
		}
		seen[lang] = true;
		strings(l, v, what, single, &out[lang]);
	}
	for (int i = 0; i < YW_LANG_N; i++)
		if (!seen[i])
			bad(l, n, i == YW_LANG_EN ? "%s: missing en" : "%s: missing zh", what);
}

/* The entry's kind and key from one of rule/technique/tactic/generic. */
static int entry_key(struct ld *l, yaml_node_t *k, yaml_node_t *v, struct yw_solution *s)
{
	int kind = -1;
	for (int i = 0; i < YW_SOL_NLEVELS; i++)
		if (!strcmp((char *)k->data.scalar.value, kind_keys[i]))
			kind = i;
	if (kind < 0)
		return -1;
	if (s->key) {
		bad(l, k, "'%s': an entry has exactly one of rule, technique, tactic, generic",
		    (char *)k->data.scalar.value);
		return kind;
	}
	char *key = text(l, v, kind_keys[kind]);
	if (!key)
		return kind;
	char tn[16];
	bool ok = true;
	switch (kind) {
	case YW_SOL_RULE:
		for (char *c = key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		break;
	case YW_SOL_TECHNIQUE:
		ok = technique_norm(key, tn) && !strncmp(key, tn, strlen(tn) + 1);
		break;
	case YW_SOL_TACTIC:
		ok = tactic_valid(key);
		break;
	default:
		ok = generic_valid(key);
		break;
	}
	if (!ok) {
		bad(l, v,
		    kind == YW_SOL_TECHNIQUE ? "'%s': technique must look like T1110 or T1110.001"
		    : kind == YW_SOL_TACTIC  ? "'%s': tactic must be a Sigma tactic tag such as "
		                               "credential-access"
		                             : "'%s': generic must be default, product:X, "
		                               "category:X or service:X",
		    key);
		free(key);
		return kind;
	}
	s->key = key;
	s->kind = kind;
	return kind;
}

static void entry(struct ld *l, yaml_node_t *root)
{
	if (root->type != YAML_MAPPING_NODE) {
		bad(l, root, "%s", "a solution must be a map (see docs/solutions.md)");
		return;
	}
	struct yw_solution *s = calloc(1, sizeof(*s));
	char *file = strdup(l->file);
	if (!s || !file) {
		free(s);
		free(file);
		l->nomem = true;
		return;
	}
	s->file = file;
	s->line = (unsigned)root->start_mark.line + 1;
	s->kind = -1;
	int errors = l->errors;
	yaml_node_t *name = NULL, *secs[YW_SEC_N] = {NULL}, *tactics = NULL, *aliases = NULL,
	            *refs = NULL;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(l, p->key), *v = node(l, p->value), **slot = NULL;
		if (k->type != YAML_SCALAR_NODE) {
			bad(l, k, "%s", "keys must be plain names");
			continue;
		}
		const char *ks = (const char *)k->data.scalar.value;
		if (entry_key(l, k, v, s) >= 0)
			continue;
		if (!strcmp(ks, "name"))
			slot = &name;
		else if (!strcmp(ks, "tactics"))
			slot = &tactics;
		else if (!strcmp(ks, "aliases"))
			slot = &aliases;
		else if (!strcmp(ks, "references"))
			slot = &refs;
		for (int i = 0; i < YW_SEC_N && !slot; i++)
			if (!strcmp(ks, sec_keys[i]))
				slot = &secs[i];
		if (!slot) {
			bad(l, k, "unknown key '%s'", ks);
			continue;
		}
		if (*slot) {
			bad(l, k, "'%s' given twice", ks);
			continue;
		}
		*slot = v;
	}
	if (s->kind < 0) {
		if (l->errors == errors)
			bad(l, root, "%s", "missing rule, technique, tactic or generic key");
		goto fail;
	}
	if (tactics && s->kind != YW_SOL_TECHNIQUE)
		bad(l, tactics, "%s", "tactics: only technique entries list tactics");
	if (aliases && s->kind != YW_SOL_TACTIC)
		bad(l, aliases, "%s", "aliases: only tactic entries have aliases");
	if (!name) {
		bad(l, root, "%s", "missing name");
	} else {
		struct yw_sol_list nm[YW_LANG_N] = {{0}};
		bilingual(l, name, "name", true, nm);
		for (int i = 0; i < YW_LANG_N; i++) {
			s->name[i] = nm[i].n ? nm[i].v[0] : NULL;
			free(nm[i].v);
		}
	}
	for (int i = 0; i < YW_SEC_N; i++) {
		if (!secs[i])
			bad(l, root, "missing %s", sec_keys[i]);
		else
			bilingual(l, secs[i], sec_keys[i], i <= YW_SEC_WHY, s->sec[i]);
	}
	if (tactics)
		strings(l, tactics, "tactics", false, &s->tactics);
	if (aliases)
		strings(l, aliases, "aliases", false, &s->aliases);
	if (refs)
		strings(l, refs, "references", false, &s->references);
	for (size_t i = 0; i < s->tactics.n; i++)
		if (!tactic_valid(s->tactics.v[i]))
			bad(l, tactics, "tactics: '%s' is not a Sigma tactic tag", s->tactics.v[i]);
	for (size_t i = 0; i < s->aliases.n; i++)
		if (!tactic_valid(s->aliases.v[i]))
			bad(l, aliases, "aliases: '%s' is not a Sigma tactic tag", s->aliases.v[i]);
	if (l->errors != errors || l->nomem)
		goto fail;
	if (l->lib->n >= YW_MAX_SOLUTIONS) {
		bad(l, root, "%s", "more entries than YW_MAX_SOLUTIONS");
		goto fail;
	}
	if (l->lib->n == l->lib->cap) {
		size_t cap = l->lib->cap ? l->lib->cap * 2 : 64;
		struct yw_solution **nv = realloc(l->lib->v, cap * sizeof(*nv));
		if (!nv) {
			l->nomem = true;
			goto fail;
		}
		l->lib->v = nv;
		l->lib->cap = cap;
	}
	l->lib->v[l->lib->n++] = s;
	return;
fail:
	sol_free(s);
}

static int load_file(struct yw_solutions *lib, const char *path, struct yw_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = yw_sigma_read_file(path, YW_MAX_SOLUTION_FILE, &buf, &len);
	if (rc) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot read: %s", yw_strerror(rc));
		return rc == YW_ENOMEM ? rc : YW_EINVAL;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		free(buf);
		return YW_ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	struct ld l = {lib, d, path, NULL, 0, false};
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			yw_diags_add(d, YW_DIAG_ERROR, path, (unsigned)parser.problem_mark.line + 1,
			             (unsigned)parser.problem_mark.column + 1, "YAML: %s",
			             parser.problem ? parser.problem : "syntax error");
			l.errors++;
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		l.doc = &doc;
		entry(&l, root);
		yaml_document_delete(&doc);
		if (l.nomem)
			break;
	}
	yaml_parser_delete(&parser);
	free(buf);
	if (l.nomem)
		return YW_ENOMEM;
	return l.errors ? YW_EINVAL : 0;
}

static bool is_yaml(const char *n)
{
	size_t len = strlen(n);
	return n[0] != '.' && ((len > 4 && !strcmp(n + len - 4, ".yml")) ||
	                       (len > 5 && !strcmp(n + len - 5, ".yaml")));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted so that diagnostics and duplicate reports do not depend on readdir order. */
static int load_dir(struct yw_solutions *lib, const char *dir, int depth, size_t *files,
                    struct yw_diags *d)
{
	DIR *dh = opendir(dir);
	if (!dh) {
		yw_diags_add(d, YW_DIAG_ERROR, dir, 0, 0, "cannot read: %s", strerror(errno));
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(names, cap * sizeof(*nv));
			if (!nv) {
				rc = YW_ENOMEM;
				break;
			}
			names = nv;
		}
		if (!(names[n] = strdup(e->d_name))) {
			rc = YW_ENOMEM;
			break;
		}
		n++;
	}
	closedir(dh);
	if (!rc)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && (rc == 0 || rc == YW_EINVAL); i++) {
		char path[PATH_MAX];
		struct stat st;
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path) ||
		    stat(path, &st))
			continue;
		int r = 0;
		if (S_ISDIR(st.st_mode)) {
			if (depth >= YW_MAX_SOLUTION_DEPTH)
				yw_diags_add(d, YW_DIAG_WARNING, path, 0, 0,
				             "not read: deeper than YW_MAX_SOLUTION_DEPTH");
			else
				r = load_dir(lib, path, depth + 1, files, d);
		} else if (S_ISREG(st.st_mode) && is_yaml(names[i])) {
			if (++*files > YW_MAX_SOLUTION_FILES) {
				yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0,
				             "more files than YW_MAX_SOLUTION_FILES");
				r = YW_ELIMIT;
			} else {
				r = load_file(lib, path, d);
			}
		}
		if (r && rc == 0)
			rc = r == YW_ENOENT || r == YW_EIO ? YW_EINVAL : r;
		else if (r == YW_ENOMEM || r == YW_ELIMIT)
			rc = r;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int build_index(struct yw_solutions *lib, struct yw_diags *d, int *dups)
{
	size_t want = 16;
	for (size_t i = 0; i < lib->n; i++)
		want += 1 + lib->v[i]->aliases.n;
	size_t ns = 64;
	while (ns < want * 2)
		ns *= 2;
	lib->slots = calloc(ns, sizeof(*lib->slots));
	lib->slot_keys = calloc(ns, sizeof(*lib->slot_keys));
	lib->slot_kinds = calloc(ns, sizeof(*lib->slot_kinds));
	if (!lib->slots || !lib->slot_keys || !lib->slot_kinds)
		return YW_ENOMEM;
	lib->nslots = ns;
	size_t kept = 0;
	for (size_t i = 0; i < lib->n; i++) {
		struct yw_solution *s = lib->v[i];
		long prev = slot_find(lib, s->kind, s->key);
		if (prev >= 0) {
			const struct yw_solution *o = lib->v[lib->slots[prev] - 1];
			yw_diags_add(d, YW_DIAG_ERROR, s->file, s->line, 1,
			             "%s '%s' already defined at %s:%u", kind_keys[s->kind], s->key,
			             o->file, o->line);
			(*dups)++;
			sol_free(s);
			continue;
		}
		lib->v[kept] = s;
		slot_put(lib, s->kind, s->key, kept);
		for (size_t a = 0; a < s->aliases.n; a++)
			if (slot_put(lib, s->kind, s->aliases.v[a], kept)) {
				yw_diags_add(d, YW_DIAG_ERROR, s->file, s->line, 1,
				             "tactic alias '%s' already defined", s->aliases.v[a]);
				(*dups)++;
			}
		lib->kinds[s->kind]++;
		kept++;
	}
	lib->n = kept;
	return 0;
}

int yw_solutions_load(const char *dir, struct yw_diags *d, struct yw_solutions **out)
{
	*out = NULL;
	struct yw_solutions *lib = calloc(1, sizeof(*lib));
	if (!lib)
		return YW_ENOMEM;
	struct stat st;
	int rc;
	size_t files = 0;
	if (stat(dir, &st)) {
		yw_diags_add(d, YW_DIAG_ERROR, dir, 0, 0, "cannot read: %s", strerror(errno));
		rc = errno == ENOENT ? YW_ENOENT : YW_EIO;
		yw_solutions_free(lib);
		return rc;
	}
	rc = S_ISDIR(st.st_mode) ? load_dir(lib, dir, 0, &files, d) : load_file(lib, dir, d);
	if (rc == YW_ENOENT || rc == YW_EIO) {
		yw_solutions_free(lib);
		return rc;
	}
	if (rc == YW_ENOMEM) {
		yw_solutions_free(lib);
		return rc;
	}
	int dups = 0;
	if (build_index(lib, d, &dups)) {
		yw_solutions_free(lib);
		return YW_ENOMEM;
	}
	*out = lib;
	return rc ? rc : dups ? YW_EINVAL : 0;
}

const char *yw_solutions_default_dir(char *buf, size_t size)
{
	struct stat st;
#ifdef YW_RULES_DIR
	if (snprintf(buf, size, "%s/../solutions", YW_RULES_DIR) < (int)size && !stat(buf, &st) &&
	    S_ISDIR(st.st_mode))
		return buf;
#endif
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	/* a build tree next to the source (build-x/yiwang) and an install prefix (bin/yiwang) */
	static const char *const rel[] = {"/../rules/solutions",
	                                  "/../share/yiwang/rules/solutions"};
	for (size_t i = 0; i < 2; i++)
		if (snprintf(buf, size, "%s%s", exe, rel[i]) < (int)size && !stat(buf, &st) &&
		    S_ISDIR(st.st_mode))
			return buf;
	return NULL;
}

/* ---- lookup ---- */

size_t yw_solutions_count(const struct yw_solutions *lib)
{
	return lib->n;
}

const struct yw_solution *yw_solutions_at(const struct yw_solutions *lib, size_t i)
{
	return i < lib->n ? lib->v[i] : NULL;
}

size_t yw_solutions_count_kind(const struct yw_solutions *lib, int kind)
{
	return kind >= 0 && kind < YW_SOL_NLEVELS ? lib->kinds[kind] : 0;
}

const struct yw_solution *yw_solutions_get(const struct yw_solutions *lib, int kind,
                                           const char *key)
{
	if (!key)
		return NULL;
	char tn[16];
	if (kind == YW_SOL_TECHNIQUE) {
		if (!technique_norm(key, tn))
			return NULL;
		key = tn;
	}
	long i = slot_find(lib, kind, key);
	return i < 0 ? NULL : lib->v[lib->slots[i] - 1];
}

const struct yw_solution *yw_solutions_technique(const struct yw_solutions *lib,
                                                 const char *technique)
{
	char tn[16];
	if (!technique_norm(technique, tn))
		return NULL;
	const struct yw_solution *s = yw_solutions_get(lib, YW_SOL_TECHNIQUE, tn);
	if (!s && tn[5] == '.') {
		tn[5] = '\0';
		s = yw_solutions_get(lib, YW_SOL_TECHNIQUE, tn);
	}
	return s;
}

static const struct yw_solution *by_technique(const struct yw_solutions *lib,
                                              const struct yw_rule_info *r)
{
	char tn[16];
	/* pass 0: sub-techniques with their own entry; 1: techniques; 2: sub-techniques' parents */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < r->ntags; i++) {
			if (!r->tags[i] || !technique_norm(r->tags[i], tn))
				continue;
			bool sub = tn[5] == '.';
			if ((pass == 0 && !sub) || (pass == 1 && sub) || (pass == 2 && !sub))
				continue;
			if (pass == 2)
				tn[5] = '\0';
			const struct yw_solution *s = yw_solutions_get(lib, YW_SOL_TECHNIQUE, tn);
			if (s)
				return s;
		}
	}
	return NULL;
}

static const struct yw_solution *by_tactic(const struct yw_solutions *lib,
                                           const struct yw_rule_info *r)
{
	for (size_t i = 0; i < r->ntags; i++) {
		const char *t = r->tags[i];
		if (!t || strncasecmp(t, "attack.", 7))
			continue;
		const struct yw_solution *s = yw_solutions_get(lib, YW_SOL_TACTIC, t + 7);
		if (s)
			return s;
	}
	return NULL;
}

static const struct yw_solution *generic(const struct yw_solutions *lib, const char *pfx,
                                         const char *v)
{
	if (!v)
		return NULL;
	char key[256];
	if (snprintf(key, sizeof(key), "%s%s", pfx, v) >= (int)sizeof(key))
		return NULL;
	return yw_solutions_get(lib, YW_SOL_GENERIC, key);
}

const struct yw_solution *yw_solutions_resolve(const struct yw_solutions *lib,
                                               const struct yw_rule_info *rule, int *level)
{
	const struct yw_solution *s = NULL;
	int lv = YW_SOL_RULE;
	if (rule->id)
		s = yw_solutions_get(lib, YW_SOL_RULE, rule->id);
	if (!s) {
		lv = YW_SOL_TECHNIQUE;
		s = by_technique(lib, rule);
	}
	if (!s) {
		lv = YW_SOL_TACTIC;
		s = by_tactic(lib, rule);
	}
	if (!s) {
		lv = YW_SOL_GENERIC;
		s = generic(lib, "product:", rule->product);
		if (!s)
			s = generic(lib, "category:", rule->category);
		if (!s)
			s = generic(lib, "service:", rule->service);
		if (!s)
			s = yw_solutions_get(lib, YW_SOL_GENERIC, "default");
	}
	if (level)
		*level = s ? lv : -1;
	return s;
}

/* ---- rendering ---- */

static int json_list(struct yw_strbuf *b, const struct yw_sol_list *l)
{
	int rc = yw_strbuf_putc(b, '[');
	for (size_t i = 0; i < l->n && !rc; i++) {
		if (i)
			rc = yw_strbuf_putc(b, ',');
		if (!rc)
			rc = yw_strbuf_json_str(b, l->v[i], strlen(l->v[i]));
	}
	return rc ? rc : yw_strbuf_putc(b, ']');
}

static int json_str(struct yw_strbuf *b, const char *s)
{
	return yw_strbuf_json_str(b, s, strlen(s));
}

int yw_solution_json(const struct yw_solution *s, int level, struct yw_strbuf *out)
{
	int rc = yw_strbuf_puts(out, "{\"level\":");
	if (!rc)
		rc = json_str(out, yw_sol_level_name(level));
	if (!rc)
		rc = yw_strbuf_puts(out, ",\"key\":");
	if (!rc)
		rc = json_str(out, s->key);
	if (!rc)
		rc = yw_strbuf_puts(out, ",\"name\":{");
	for (int l = 0; l < YW_LANG_N && !rc; l++) {
		rc = yw_strbuf_printf(out, "%s\"%s\":", l ? "," : "", lang_keys[l]);
		if (!rc)
			rc = json_str(out, s->name[l]);
	}
	if (!rc)
		rc = yw_strbuf_putc(out, '}');
	for (int k = 0; k < YW_SEC_N && !rc; k++) {
		rc = yw_strbuf_printf(out, ",\"%s\":{", sec_keys[k]);
		for (int l = 0; l < YW_LANG_N && !rc; l++) {
			rc = yw_strbuf_printf(out, "%s\"%s\":", l ? "," : "", lang_keys[l]);
			if (rc)
				break;
			if (k <= YW_SEC_WHY)
				rc = json_str(out, s->sec[k][l].v[0]);
			else
				rc = json_list(out, &s->sec[k][l]);
		}
		if (!rc)
			rc = yw_strbuf_putc(out, '}');
	}
	if (!rc)
		rc = yw_strbuf_puts(out, ",\"tactics\":");
	if (!rc)
		rc = json_list(out, &s->tactics);
	if (!rc)
		rc = yw_strbuf_puts(out, ",\"references\":");
	if (!rc)
		rc = json_list(out, &s->references);
	return rc ? rc : yw_strbuf_putc(out, '}');
}

static const char *const headings[YW_LANG_N][YW_SEC_N] = {
    {"What happened", "Why it matters", "How to verify", "How to fix", "How to prevent"},
    {"发生了什么", "为什么重要", "如何核实", "如何处置", "如何预防"},
};

static const char *const level_text[YW_LANG_N][YW_SOL_NLEVELS] = {
    {"advice written for this rule", "advice for the ATT&CK technique",
     "advice for the ATT&CK tactic", "general advice for this log source"},
    {"针对本规则的处置建议", "针对该 ATT&CK 技术的处置建议", "针对该 ATT&CK 战术的处置建议",
     "针对该日志来源的通用建议"},
};

int yw_solution_text(const struct yw_solution *s, int level, int lang, struct yw_strbuf *out)
{
	if (lang < 0 || lang >= YW_LANG_N)
		return YW_EINVAL;
	const char *lvl = level >= 0 && level < YW_SOL_NLEVELS ? level_text[lang][level] : "";
	const char *key = s->kind == YW_SOL_TECHNIQUE ? s->key : NULL;
	int rc = yw_strbuf_printf(out, "%s%s%s%s\n(%s)\n", s->name[lang], key ? " (" : "",
	                          key ? key : "", key ? ")" : "", lvl);
	for (int k = 0; k < YW_SEC_N && !rc; k++) {
		rc = yw_strbuf_printf(out, "\n%s\n", headings[lang][k]);
		const struct yw_sol_list *l = &s->sec[k][lang];
		for (size_t i = 0; i < l->n && !rc; i++) {
			if (k <= YW_SEC_WHY)
				rc = yw_strbuf_printf(out, "  %s\n", l->v[i]);
			else
				rc = yw_strbuf_printf(out, "  %zu. %s\n", i + 1, l->v[i]);
		}
	}
	if (s->references.n && !rc)
		rc = yw_strbuf_printf(out, "\n%s\n", lang == YW_LANG_ZH ? "参考" : "References");
	for (size_t i = 0; i < s->references.n && !rc; i++)
		rc = yw_strbuf_printf(out, "  %s\n", s->references.v[i]);
	return rc;
}
