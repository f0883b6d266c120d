/* SCA policies: loading (strict, with file:line:col diagnostics; a bad check is skipped) and
 * evaluating checks against a root directory. Policy format and semantics: docs/sca.md. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pcre2.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/sca.h"

enum rtype {
	R_FILE,
	R_COMMAND,
	R_SYSCTL,
	R_STAT,
	R_PKG,
	R_SERVICE,
	R_MOD_LOADED,
	R_MOD_DISABLED,
	R_MOD_BLACKLISTED,
};

enum cmp_op { C_NONE, C_LT, C_LE, C_GT, C_GE, C_EQ, C_NE };

/* A rule is true, false, or not applicable (nothing to look at). */
enum { RT_TRUE, RT_FALSE, RT_NA };

struct yw_sca_rule {
	int type;
	bool negate;  /* not_contains, package_absent, service_disabled, module_not_loaded */
	char **paths; /* R_FILE globs; R_STAT one path */
	size_t npaths;
	char *name;  /* package, service, module, sysctl */
	char **argv; /* R_COMMAND */
	size_t nargv;
	bool privileged; /* command keeps root */
	int timeout_ms;
	int exit_code;  /* -1: any */
	bool exists;    /* R_FILE without a regex: exists (true) or absent (false) */
	pcre2_code *re; /* contains / output_contains / sysctl matches */
	int cmp;        /* enum cmp_op on capture group 1 (or the sysctl value) */
	double cmp_val;
	char *equals; /* sysctl */
	bool has_mode;
	mode_t mode_max; /* no permission bit outside it */
	char **owners, **groups;
	size_t nowners, ngroups;
	int missing; /* RT_* when the file does not exist */
};

/* ---- loading ---- */

struct ld {
	const char *file;
	yaml_document_t doc;
	struct yw_diags *d;
	bool bad; /* an error in the current check */
};

static void diag(struct ld *l, const yaml_node_t *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void diag(struct ld *l, const yaml_node_t *n, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yw_diags_add(l->d, level, l->file, n ? (unsigned)n->start_mark.line + 1 : 0,
	             n ? (unsigned)n->start_mark.column + 1 : 0, "%s", msg);
	if (level == YW_DIAG_ERROR)
		l->bad = true;
}

static yaml_node_t *node(struct ld *l, int id)
{
	return yaml_document_get_node(&l->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar text field: copied, bounded. */
static char *text(struct ld *l, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(v);
	if (!s) {
		diag(l, v, YW_DIAG_ERROR, "'%s' must be a string", key);
		return NULL;
	}
	if (strlen(s) > YW_SCA_MAX_TEXT) {
		diag(l, v, YW_DIAG_ERROR, "'%s' is longer than %d bytes", key, YW_SCA_MAX_TEXT);
		return NULL;
	}
	char *c = strdup(s);
	if (!c)
		diag(l, v, YW_DIAG_ERROR, "out of memory");
	return c;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A scalar or a sequence of scalars -> string list. *out is zeroed or a list from before: a key
 * repeated in the YAML replaces the earlier value (libyaml keeps both pairs). */
static int list(struct ld *l, const yaml_node_t *v, const char *key, char ***out, size_t *n)
{
	free_list(*out, *n);
	*out = NULL;
	*n = 0;
	if (v->type == YAML_SCALAR_NODE) {
		char *s = text(l, v, key);
		if (!s)
			return YW_EINVAL;
		if (!(*out = malloc(sizeof(char *)))) {
			free(s);
			return YW_ENOMEM;
		}
		(*out)[0] = s;
		*n = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		diag(l, v, YW_DIAG_ERROR, "'%s' must be a string or a list of strings", key);
		return YW_EINVAL;
	}
	size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (cnt == 0 || cnt > YW_SCA_MAX_RULES) {
		diag(l, v, YW_DIAG_ERROR, "'%s' must have 1 to %d items", key, YW_SCA_MAX_RULES);
		return YW_EINVAL;
	}
	if (!(*out = calloc(cnt, sizeof(char *))))
		return YW_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		char *s = text(l, node(l, v->data.sequence.items.start[i]), key);
		if (!s) {
			free_list(*out, *n);
			*out = NULL;
			*n = 0;
			return YW_EINVAL;
		}
		(*out)[(*n)++] = s;
	}
	return 0;
}

static pcre2_code *regex(struct ld *l, const yaml_node_t *v, const char *key)
{
	const char *s = scalar(v);
	if (!s) {
		diag(l, v, YW_DIAG_ERROR, "'%s' must be a regular expression string", key);
		return NULL;
	}
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(err, msg, sizeof(msg));
		diag(l, v, YW_DIAG_ERROR, "bad regular expression in '%s' at offset %zu: %s", key,
		     (size_t)off, (const char *)msg);
	}
	return re;
}

static int parse_cmp(struct ld *l, const yaml_node_t *v, struct yw_sca_rule *r)
{
	const char *s = scalar(v);
	static const struct {
		const char *op;
		int c;
	} ops[] = {{"<=", C_LE}, {">=", C_GE}, {"==", C_EQ},
	           {"!=", C_NE}, {"<", C_LT},  {">", C_GT}};
	if (s) {
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			size_t n = strlen(ops[i].op);
			if (strncmp(s, ops[i].op, n) != 0)
				continue;
			char *end;
			errno = 0;
			double x = strtod(s + n, &end);
			while (*end == ' ')
				end++;
			if (errno || end == s + n || *end)
				break;
			r->cmp = ops[i].c;
			r->cmp_val = x;
			return 0;
		}
	}
	diag(l, v, YW_DIAG_ERROR, "'compare' must be an operator (< <= > >= == !=) and a number");
	return YW_EINVAL;
}

static int parse_missing(struct ld *l, const yaml_node_t *v, struct yw_sca_rule *r)
{
	const char *s = scalar(v);
	if (s && strcmp(s, "pass") == 0)
		r->missing = RT_TRUE;
	else if (s && strcmp(s, "fail") == 0)
		r->missing = RT_FALSE;
	else if (s && strcmp(s, "na") == 0)
		r->missing = RT_NA;
	else {
		diag(l, v, YW_DIAG_ERROR, "'missing' must be pass, fail or na");
		return YW_EINVAL;
	}
	return 0;
}

static void rule_free(struct yw_sca_rule *r)
{
	free_list(r->paths, r->npaths);
	free(r->name);
	free_list(r->argv, r->nargv);
	pcre2_code_free(r->re);
	free(r->equals);
	free_list(r->owners, r->nowners);
	free_list(r->groups, r->ngroups);
}

/* Which keys each rule type accepts besides its own. */
static bool key_allowed(int type, const char *k)
{
	switch (type) {
	case R_FILE:
		return !strcmp(k, "contains") || !strcmp(k, "not_contains") ||
		       !strcmp(k, "compare") || !strcmp(k, "missing") || !strcmp(k, "exists");
	case R_COMMAND:
		return !strcmp(k, "output_contains") || !strcmp(k, "output_not_contains") ||
		       !strcmp(k, "compare") || !strcmp(k, "exit_code") ||
		       !strcmp(k, "timeout_ms") || !strcmp(k, "privileged");
	case R_SYSCTL:
		return !strcmp(k, "equals") || !strcmp(k, "compare") || !strcmp(k, "matches") ||
		       !strcmp(k, "missing");
	case R_STAT:
		return !strcmp(k, "mode_max") || !strcmp(k, "owner") || !strcmp(k, "group") ||
		       !strcmp(k, "missing");
	default:
		return false;
	}
}

static const struct {
	const char *key;
	int type;
	bool negate;
} rule_types[] = {
    {"file", R_FILE, false},
    {"command", R_COMMAND, false},
    {"shell", R_COMMAND, false},
    {"sysctl", R_SYSCTL, false},
    {"stat", R_STAT, false},
    {"package_installed", R_PKG, false},
    {"package_absent", R_PKG, true},
    {"service_enabled", R_SERVICE, false},
    {"service_disabled", R_SERVICE, true},
    {"module_loaded", R_MOD_LOADED, false},
    {"module_not_loaded", R_MOD_LOADED, true},
    {"module_disabled", R_MOD_DISABLED, false},
    {"module_blacklisted", R_MOD_BLACKLISTED, false},
};

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-+@:/", *s))
			return false;
	return true;
}

static int parse_rule(struct ld *l, yaml_node_t *m, struct yw_sca_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->timeout_ms = YW_SCA_CMD_DEFAULT_TIMEOUT_MS;
	r->exists = true;
	r->type = -1;
	if (m->type != YAML_MAPPING_NODE) {
		diag(l, m, YW_DIAG_ERROR,
		     "a rule must be a mapping such as {file: ..., contains: ...}");
		return YW_EINVAL;
	}
	yaml_node_pair_t *p0 = m->data.mapping.pairs.start, *pe = m->data.mapping.pairs.top;
	/* the type key first, wherever it is written */
	for (yaml_node_pair_t *p = p0; p < pe; p++) {
		const char *k = scalar(node(l, p->key));
		for (size_t i = 0; k && i < sizeof(rule_types) / sizeof(rule_types[0]); i++) {
			if (strcmp(k, rule_types[i].key) != 0)
				continue;
			if (r->type >= 0) {
				diag(l, node(l, p->key), YW_DIAG_ERROR,
				     "a rule has one type; '%s' is a second one", k);
				return YW_EINVAL;
			}
			r->type = rule_types[i].type;
			r->negate = rule_types[i].negate;
			yaml_node_t *v = node(l, p->value);
			int rc = 0;
			if (r->type == R_FILE || r->type == R_STAT) {
				rc = list(l, v, k, &r->paths, &r->npaths);
				for (size_t j = 0; !rc && j < r->npaths; j++)
					if (r->paths[j][0] != '/') {
						diag(l, v, YW_DIAG_ERROR,
						     "'%s' needs absolute paths", k);
						rc = YW_EINVAL;
					}
				if (!rc && r->type == R_STAT && r->npaths != 1) {
					diag(l, v, YW_DIAG_ERROR, "'stat' takes one path");
					rc = YW_EINVAL;
				}
			} else if (r->type == R_COMMAND && strcmp(k, "shell") == 0) {
				char *s = text(l, v, k);
				if (!s || !(r->argv = calloc(4, sizeof(char *)))) { /* + NULL */
					free(s);
					return YW_EINVAL;
				}
				r->argv[0] = strdup("/bin/sh");
				r->argv[1] = strdup("-c");
				r->argv[2] = s;
				r->nargv = 3;
				if (!r->argv[0] || !r->argv[1])
					rc = YW_ENOMEM;
			} else if (r->type == R_COMMAND) {
				if (v->type != YAML_SEQUENCE_NODE) {
					diag(
					    l, v, YW_DIAG_ERROR,
					    "'command' is a list: [program, arg, ...] (use 'shell' "
					    "for a shell command line)");
					return YW_EINVAL;
				}
				rc = list(l, v, k, &r->argv, &r->nargv);
				/* execve wants a NULL after the last argument */
				char **a =
				    rc ? NULL : realloc(r->argv, (r->nargv + 1) * sizeof(char *));
				if (a) {
					a[r->nargv] = NULL;
					r->argv = a;
				} else if (!rc) {
					rc = YW_ENOMEM;
				}
			} else {
				if (!(r->name = text(l, v, k)))
					return YW_EINVAL;
				if (!name_ok(r->name)) {
					diag(l, v, YW_DIAG_ERROR, "'%s' is not a valid name",
					     r->name);
					return YW_EINVAL;
				}
			}
			if (rc)
				return rc;
		}
	}
	if (r->type < 0) {
		diag(l, m, YW_DIAG_ERROR,
		     "rule has no type (file, command, shell, sysctl, stat, package_installed, "
		     "package_absent, service_enabled, service_disabled, module_loaded, "
		     "module_not_loaded, module_disabled, module_blacklisted)");
		return YW_EINVAL;
	}
	r->missing = r->type == R_STAT ? RT_NA : RT_FALSE;
	bool has_missing = false, has_cmp = false;
	for (yaml_node_pair_t *p = p0; p < pe; p++) {
		yaml_node_t *kn = node(l, p->key), *v = node(l, p->value);
		const char *k = scalar(kn), *s = scalar(v);
		/* libyaml keeps both pairs of a repeated key: refused, as in checks. */
		for (yaml_node_pair_t *q = p0; k && q < p; q++) {
			const char *qk = scalar(node(l, q->key));
			if (qk && !strcmp(qk, k)) {
				diag(l, kn, YW_DIAG_ERROR, "'%s' given twice in this rule", k);
				return YW_EINVAL;
			}
		}
		bool is_type = false;
		for (size_t i = 0; k && i < sizeof(rule_types) / sizeof(rule_types[0]); i++)
			is_type |= strcmp(k, rule_types[i].key) == 0;
		if (is_type)
			continue;
		if (!k || !key_allowed(r->type, k)) {
			diag(l, kn, YW_DIAG_ERROR, "unknown key '%s' in this rule", k ? k : "?");
			return YW_EINVAL;
		}
		int rc = 0;
		if (!strcmp(k, "contains") || !strcmp(k, "not_contains") ||
		    !strcmp(k, "output_contains") || !strcmp(k, "output_not_contains") ||
		    !strcmp(k, "matches")) {
			if (r->re) {
				diag(l, kn, YW_DIAG_ERROR, "a rule takes one regular expression");
				return YW_EINVAL;
			}
			if (!(r->re = regex(l, v, k)))
				return YW_EINVAL;
			r->negate = strstr(k, "not_") != NULL;
		} else if (!strcmp(k, "compare")) {
			rc = parse_cmp(l, v, r);
			has_cmp = true;
		} else if (!strcmp(k, "missing")) {
			rc = parse_missing(l, v, r);
			has_missing = true;
		} else if (!strcmp(k, "exists")) {
			if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) {
				r->exists = !strcmp(s, "true");
			} else {
				diag(l, v, YW_DIAG_ERROR, "'exists' must be true or false");
				rc = YW_EINVAL;
			}
		} else if (!strcmp(k, "privileged")) {
			if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) {
				r->privileged = !strcmp(s, "true");
			} else {
				diag(l, v, YW_DIAG_ERROR, "'privileged' must be true or false");
				rc = YW_EINVAL;
			}
		} else if (!strcmp(k, "exit_code") || !strcmp(k, "timeout_ms")) {
			char *end;
			long x = s ? strtol(s, &end, 10) : -1;
			bool t = !strcmp(k, "timeout_ms");
			if (!s || *end || end == s || x < 0 ||
			    x > (t ? YW_SCA_CMD_MAX_TIMEOUT_MS : 255) || (t && x == 0)) {
				diag(l, v, YW_DIAG_ERROR, "'%s' out of range", k);
				return YW_EINVAL;
			}
			if (t)
				r->timeout_ms = (int)x;
			else
				r->exit_code = (int)x;
		} else if (!strcmp(k, "equals")) {
			if (!(r->equals = text(l, v, k)))
				return YW_EINVAL;
		} else if (!strcmp(k, "mode_max")) {
			char *end;
			long x = s ? strtol(s, &end, 8) : -1;
			if (!s || *end || end == s || x < 0 || x > 07777) {
				diag(l, v, YW_DIAG_ERROR,
				     "'mode_max' must be an octal mode like \"0644\"");
				return YW_EINVAL;
			}
			r->has_mode = true;
			r->mode_max = (mode_t)x;
		} else if (!strcmp(k, "owner")) {
			rc = list(l, v, k, &r->owners, &r->nowners);
		} else if (!strcmp(k, "group")) {
			rc = list(l, v, k, &r->groups, &r->ngroups);
		}
		if (rc)
			return rc;
	}
	if (has_cmp && r->type != R_SYSCTL) {
		uint32_t caps = 0;
		if (!r->re ||
		    (pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &caps), caps < 1)) {
			diag(l, m, YW_DIAG_ERROR,
			     "'compare' needs a regular expression with a capture group");
			return YW_EINVAL;
		}
		if (r->negate) {
			diag(l, m, YW_DIAG_ERROR, "'compare' goes with contains, not not_contains");
			return YW_EINVAL;
		}
	}
	if (r->type == R_FILE && !r->re && has_missing) {
		diag(l, m, YW_DIAG_ERROR, "'missing' applies to contains/not_contains rules");
		return YW_EINVAL;
	}
	if (r->type == R_FILE && r->re && r->negate && !has_missing)
		r->missing = RT_TRUE; /* what is not there cannot be in it */
	if (r->type == R_SYSCTL && !r->re && !r->equals && !has_cmp) {
		diag(l, m, YW_DIAG_ERROR, "'sysctl' needs equals, compare or matches");
		return YW_EINVAL;
	}
	if (r->type == R_STAT && !r->has_mode && !r->nowners && !r->ngroups) {
		diag(l, m, YW_DIAG_ERROR, "'stat' needs mode_max, owner or group");
		return YW_EINVAL;
	}
	return 0;
}

static int parse_rules(struct ld *l, yaml_node_t *v, const char *key, struct yw_sca_rule **out,
                       size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cnt = v->type == YAML_SEQUENCE_NODE
	                 ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)
	                 : 0;
	if (v->type != YAML_SEQUENCE_NODE || cnt == 0 || cnt > YW_SCA_MAX_RULES) {
		diag(l, v, YW_DIAG_ERROR, "'%s' must be a list of 1 to %d rules", key,
		     YW_SCA_MAX_RULES);
		return YW_EINVAL;
	}
	if (!(*out = calloc(cnt, sizeof(**out))))
		return YW_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		int rc = parse_rule(l, node(l, v->data.sequence.items.start[i]), &(*out)[i]);
		(*n)++;
		if (rc)
			return rc;
	}
	return 0;
}

static void check_free(struct yw_sca_check *c)
{
	free(c->id);
	free(c->title);
	free(c->title_zh);
	free(c->description);
	free(c->rationale);
	free(c->remediation);
	free_list(c->cis, c->ncis);
	free_list(c->gbt, c->ngbt);
	for (size_t i = 0; i < c->nrules; i++)
		rule_free(&c->rules[i]);
	free(c->rules);
	for (size_t i = 0; i < c->nrequires; i++)
		rule_free(&c->requires[i]);
	free(c->requires);
	memset(c, 0, sizeof(*c));
}

static void parse_compliance(struct ld *l, yaml_node_t *v, struct yw_sca_check *c)
{
	if (v->type != YAML_MAPPING_NODE) {
		diag(l, v, YW_DIAG_ERROR, "'compliance' must be a mapping (cis, gbt22239)");
		return;
	}
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(l, p->key), *vn = node(l, p->value);
		const char *k = scalar(kn);
		if (k && !strcmp(k, "cis") && !c->cis)
			list(l, vn, k, &c->cis, &c->ncis);
		else if (k && !strcmp(k, "gbt22239") && !c->gbt)
			list(l, vn, k, &c->gbt, &c->ngbt);
		else
			diag(l, kn, YW_DIAG_ERROR, "unknown or repeated compliance key '%s'",
			     k ? k : "?");
	}
}

static int parse_check(struct ld *l, yaml_node_t *m, struct yw_sca_check *c)
{
	memset(c, 0, sizeof(*c));
	c->line = (unsigned)m->start_mark.line + 1;
	if (m->type != YAML_MAPPING_NODE) {
		diag(l, m, YW_DIAG_ERROR, "a check must be a mapping");
		return YW_EINVAL;
	}
	bool has_cond = false;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = node(l, p->key), *v = node(l, p->value);
		const char *k = scalar(kn);
		char **slot = NULL;
		if (!k) {
			diag(l, kn, YW_DIAG_ERROR, "keys must be strings");
			continue;
		}
		if (!strcmp(k, "id"))
			slot = &c->id;
		else if (!strcmp(k, "title"))
			slot = &c->title;
		else if (!strcmp(k, "title_zh"))
			slot = &c->title_zh;
		else if (!strcmp(k, "description"))
			slot = &c->description;
		else if (!strcmp(k, "rationale"))
			slot = &c->rationale;
		else if (!strcmp(k, "remediation"))
			slot = &c->remediation;
		if (slot) {
			if (*slot)
				diag(l, kn, YW_DIAG_ERROR, "'%s' given twice", k);
			else
				*slot = text(l, v, k);
		} else if (!strcmp(k, "compliance")) {
			parse_compliance(l, v, c);
		} else if (!strcmp(k, "condition")) {
			const char *s = scalar(v);
			has_cond = true;
			if (s && !strcmp(s, "all"))
				c->condition = YW_SCA_ALL;
			else if (s && !strcmp(s, "any"))
				c->condition = YW_SCA_ANY;
			else if (s && !strcmp(s, "none"))
				c->condition = YW_SCA_NONE;
			else
				diag(l, v, YW_DIAG_ERROR, "'condition' must be all, any or none");
		} else if (!strcmp(k, "rules")) {
			if (c->rules)
				diag(l, kn, YW_DIAG_ERROR, "'rules' given twice");
			else if (parse_rules(l, v, k, &c->rules, &c->nrules) == YW_ENOMEM)
				return YW_ENOMEM;
		} else if (!strcmp(k, "requires")) {
			if (c->requires)
				diag(l, kn, YW_DIAG_ERROR, "'requires' given twice");
			else if (parse_rules(l, v, k, &c->requires, &c->nrequires) == YW_ENOMEM)
				return YW_ENOMEM;
		} else {
			diag(l, kn, YW_DIAG_ERROR, "unknown key '%s' in a check", k);
		}
	}
	if (l->bad)
		return YW_EINVAL;
	static const char *const need[] = {"id", "title", "rationale", "remediation", "rules"};
	const void *have[] = {c->id, c->title, c->rationale, c->remediation, c->rules};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!have[i])
			diag(l, m, YW_DIAG_ERROR, "check %s has no '%s'", c->id ? c->id : "",
			     need[i]);
	if (c->id && !name_ok(c->id))
		diag(l, m, YW_DIAG_ERROR, "check id '%s' has characters outside [A-Za-z0-9._-]",
		     c->id);
	if (!has_cond)
		diag(l, m, YW_DIAG_ERROR, "check %s has no 'condition' (all, any or none)",
		     c->id ? c->id : "");
	return l->bad ? YW_EINVAL : 0;
}

static void parse_policy_head(struct ld *l, yaml_node_t *v, struct yw_sca_policy *p)
{
	if (v->type != YAML_MAPPING_NODE) {
		diag(l, v, YW_DIAG_ERROR, "'policy' must be a mapping");
		return;
	}
	for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *kn = node(l, q->key), *vn = node(l, q->value);
		const char *k = scalar(kn);
		char **slot = NULL;
		if (k && !strcmp(k, "id"))
			slot = &p->id;
		else if (k && !strcmp(k, "name"))
			slot = &p->name;
		else if (k && !strcmp(k, "description"))
			slot = &p->description;
		else if (k && !strcmp(k, "benchmark"))
			slot = &p->benchmark;
		if (slot && !*slot) {
			*slot = text(l, vn, k);
		} else if (k && !strcmp(k, "os_like") && !p->os_like) {
			list(l, vn, k, &p->os_like, &p->nos_like);
		} else {
			diag(l, kn, YW_DIAG_ERROR, "unknown or repeated key '%s' in 'policy'",
			     k ? k : "?");
		}
	}
	if (p->id && !name_ok(p->id)) {
		diag(l, v, YW_DIAG_ERROR, "policy id '%s' is not a valid name", p->id);
		free(p->id);
		p->id = NULL;
	}
}

void yw_sca_policy_free(struct yw_sca_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nchecks; i++)
		check_free(&p->checks[i]);
	free(p->checks);
	free(p->file);
	free(p->id);
	free(p->name);
	free(p->description);
	free(p->benchmark);
	free_list(p->os_like, p->nos_like);
	free(p);
}

int yw_sca_policy_load(const char *path, struct yw_sca_policy **out, struct yw_diags *d)
{
	*out = NULL;
	struct ld l = {.file = path, .d = d};
	FILE *f = fopen(path, "rbe");
	if (!f) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
		return YW_EIO;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size > YW_SCA_MAX_POLICY_FILE) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "larger than %d bytes",
		             YW_SCA_MAX_POLICY_FILE);
		fclose(f);
		return YW_ELIMIT;
	}
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps)) {
		fclose(f);
		return YW_ENOMEM;
	}
	yaml_parser_set_input_file(&ps, f);
	int rc = YW_EPARSE;
	if (!yaml_parser_load(&ps, &l.doc)) {
		yw_diags_add(d, YW_DIAG_ERROR, path, (unsigned)ps.problem_mark.line + 1,
		             (unsigned)ps.problem_mark.column + 1, "YAML: %s",
		             ps.problem ? ps.problem : "syntax error");
		yaml_parser_delete(&ps);
		fclose(f);
		return YW_EPARSE;
	}
	yaml_parser_delete(&ps);
	fclose(f);

	struct yw_sca_policy *p = calloc(1, sizeof(*p));
	yaml_node_t *root = yaml_document_get_root_node(&l.doc);
	if (!p) {
		rc = YW_ENOMEM;
		goto out;
	}
	if (!(p->file = strdup(path))) {
		rc = YW_ENOMEM;
		goto out;
	}
	if (!root || root->type != YAML_MAPPING_NODE) {
		diag(&l, root, YW_DIAG_ERROR, "a policy is a mapping with 'policy' and 'checks'");
		goto out;
	}
	yaml_node_t *checks = NULL;
	for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
	     q++) {
		yaml_node_t *kn = node(&l, q->key), *vn = node(&l, q->value);
		const char *k = scalar(kn);
		if (k && !strcmp(k, "policy"))
			parse_policy_head(&l, vn, p);
		else if (k && !strcmp(k, "checks"))
			checks = vn;
		else
			diag(&l, kn, YW_DIAG_ERROR, "unknown top-level key '%s'", k ? k : "?");
	}
	if (!p->id) {
		diag(&l, root, YW_DIAG_ERROR, "the policy has no 'policy: {id: ...}'");
		goto out;
	}
	if (!checks || checks->type != YAML_SEQUENCE_NODE) {
		diag(&l, checks ? checks : root, YW_DIAG_ERROR, "'checks' must be a list");
		goto out;
	}
	size_t cnt = (size_t)(checks->data.sequence.items.top - checks->data.sequence.items.start);
	if (cnt > YW_SCA_MAX_CHECKS) {
		diag(&l, checks, YW_DIAG_ERROR, "more than %d checks", YW_SCA_MAX_CHECKS);
		rc = YW_ELIMIT;
		goto out;
	}
	if (!(p->checks = calloc(cnt ? cnt : 1, sizeof(*p->checks)))) {
		rc = YW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *cn = node(&l, checks->data.sequence.items.start[i]);
		struct yw_sca_check *c = &p->checks[p->nchecks];
		l.bad = false;
		int crc = parse_check(&l, cn, c);
		for (size_t j = 0; !crc && j < p->nchecks; j++) {
			if (strcmp(p->checks[j].id, c->id) == 0) {
				diag(&l, cn, YW_DIAG_ERROR, "check id '%s' already used at line %u",
				     c->id, p->checks[j].line);
				crc = YW_EINVAL;
			}
		}
		if (crc == YW_ENOMEM) {
			check_free(c);
			rc = YW_ENOMEM;
			goto out;
		}
		if (crc) {
			check_free(c);
			p->nbad++;
			continue;
		}
		p->nchecks++;
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	yw_sca_policy_free(p);
	yaml_document_delete(&l.doc);
	return rc;
}

/* ---- evaluation context ---- */

struct yw_sca_ctx {
	char root[PATH_MAX];
	bool allow_commands, drop;
	uid_t uid;
	gid_t gid;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	char *buf; /* file contents, YW_SCA_MAX_FILE + 1 */
	/* caches, filled on first use */
	bool have_pkgs, have_mods, have_modconf, have_os;
	char **pkgs; /* sorted */
	size_t npkgs, pkgcap;
	struct yw_strbuf mods;    /* "\nname\nname\n" from /proc/modules */
	struct yw_strbuf modconf; /* "install m cmd\n", "blacklist m\n" lines */
	char os_words[512];       /* " id like1 like2 " */
};

int yw_sca_ctx_new(const struct yw_sca_opts *o, struct yw_sca_ctx **out)
{
	*out = NULL;
	struct yw_sca_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return YW_ENOMEM;
	const char *root = o && o->root ? o->root : "";
	size_t rl = strlen(root);
	while (rl && root[rl - 1] == '/')
		rl--; /* paths in rules start with '/' */
	if (rl >= sizeof(c->root) - 1) {
		free(c);
		return YW_ELIMIT;
	}
	memcpy(c->root, root, rl);
	c->allow_commands = o ? o->allow_commands : true;
	c->drop = o && o->drop_privs;
	c->uid = o ? o->run_uid : 0;
	c->gid = o ? o->run_gid : 0;
	c->md = pcre2_match_data_create(8, NULL);
	c->mctx = pcre2_match_context_create(NULL);
	c->buf = malloc(YW_SCA_MAX_FILE + 1);
	if (!c->md || !c->mctx || !c->buf) {
		yw_sca_ctx_free(c);
		return YW_ENOMEM;
	}
	/* a policy regex must not be able to stall the agent on a crafted file */
	pcre2_set_match_limit(c->mctx, 1000000);
	pcre2_set_depth_limit(c->mctx, 10000);
	yw_strbuf_init(&c->mods, YW_SCA_MAX_FILE);
	yw_strbuf_init(&c->modconf, YW_SCA_MAX_FILE);
	*out = c;
	return 0;
}

void yw_sca_ctx_reset(struct yw_sca_ctx *c)
{
	for (size_t i = 0; i < c->npkgs; i++)
		free(c->pkgs[i]);
	free(c->pkgs);
	c->pkgs = NULL;
	c->npkgs = c->pkgcap = 0;
	yw_strbuf_reset(&c->mods);
	yw_strbuf_reset(&c->modconf);
	c->have_pkgs = c->have_mods = c->have_modconf = c->have_os = false;
}

void yw_sca_ctx_free(struct yw_sca_ctx *c)
{
	if (!c)
		return;
	yw_sca_ctx_reset(c);
	yw_strbuf_free(&c->mods);
	yw_strbuf_free(&c->modconf);
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	free(c->buf);
	free(c);
}

const char *yw_sca_result_name(int result)
{
	switch (result) {
	case YW_SCA_PASSED:
		return "passed";
	case YW_SCA_FAILED:
		return "failed";
	default:
		return "not_applicable";
	}
}

static int rpath(const struct yw_sca_ctx *c, const char *path, char *out, size_t n)
{
	return snprintf(out, n, "%s%s", c->root, path) >= (int)n ? YW_ELIMIT : 0;
}

/* Reads a whole (bounded) file into c->buf. Returns bytes, or -1 with errno. */
static ssize_t slurp(struct yw_sca_ctx *c, const char *full)
{
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode)) {
		close(fd);
		errno = EISDIR;
		return -1;
	}
	size_t n = 0;
	while (n < YW_SCA_MAX_FILE) {
		/* small reads: /proc/sys handlers allocate the requested count */
		size_t want = YW_SCA_MAX_FILE - n < 65536 ? YW_SCA_MAX_FILE - n : 65536;
		ssize_t r = read(fd, c->buf + n, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	c->buf[n] = 0;
	return (ssize_t)n;
}

/* ---- caches ---- */

static int pkg_add(void *ud, const char *name, const char *version, const char *arch)
{
	struct yw_sca_ctx *c = ud;
	(void)version;
	(void)arch;
	if (c->npkgs == c->pkgcap) {
		size_t cap = c->pkgcap ? c->pkgcap * 2 : 256;
		char **n = realloc(c->pkgs, cap * sizeof(*n));
		if (!n)
			return YW_ENOMEM;
		c->pkgs = n;
		c->pkgcap = cap;
	}
	if (!(c->pkgs[c->npkgs] = strdup(name)))
		return YW_ENOMEM;
	c->npkgs++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parses one dpkg status stanza field by field. */
int yw_sca_dpkg_each(const char *root,
                     int (*cb)(void *ud, const char *name, const char *version, const char *arch),
                     void *ud)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root ? root : "") >=
	    (int)sizeof(path))
		return YW_ELIMIT;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	char *line = NULL;
	size_t cap = 0, total = 0, count = 0;
	ssize_t n;
	char name[256] = "", ver[256] = "", arch[64] = "";
	bool installed = false;
	int rc = 0;
	for (;;) {
		n = getline(&line, &cap, f);
		if (n >= 0) {
			total += (size_t)n;
			if (total > YW_DPKG_MAX_STATUS) {
				rc = YW_ELIMIT;
				break;
			}
			while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = 0;
		}
		if (n <= 0) { /* blank line or end: the stanza is complete */
			if (installed && name[0]) {
				if (++count > YW_DPKG_MAX_PACKAGES) {
					rc = YW_ELIMIT;
					break;
				}
				if ((rc = cb(ud, name, ver, arch)) != 0)
					break;
			}
			name[0] = ver[0] = arch[0] = 0;
			installed = false;
			if (n < 0)
				break;
			continue;
		}
		const char *v;
		if (!strncmp(line, "Package: ", 9))
			snprintf(name, sizeof(name), "%s", line + 9);
		else if (!strncmp(line, "Version: ", 9))
			snprintf(ver, sizeof(ver), "%s", line + 9);
		else if (!strncmp(line, "Architecture: ", 14))
			snprintf(arch, sizeof(arch), "%s", line + 14);
		else if (!strncmp(line, "Status: ", 8) && (v = strrchr(line + 8, ' ')) != NULL)
			installed = strcmp(v + 1, "installed") == 0;
	}
	if (ferror(f) && !rc)
		rc = YW_EIO;
	free(line);
	fclose(f);
	return rc;
}

static int load_pkgs(struct yw_sca_ctx *c)
{
	if (c->have_pkgs)
		return 0;
	int rc = yw_sca_dpkg_each(c->root, pkg_add, c);
	if (rc && rc != YW_ENOENT)
		return rc;
	if (c->npkgs)
		qsort(c->pkgs, c->npkgs, sizeof(char *), cmp_str);
	c->have_pkgs = true;
	return rc;
}

/* Module names: '-' and '_' are the same to the kernel. */
static void mod_norm(char *dst, const char *src, size_t n)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++)
		dst[i] = src[i] == '-' ? '_' : src[i];
	dst[i] = 0;
}

static int load_mods(struct yw_sca_ctx *c)
{
	if (c->have_mods)
		return 0;
	char p[PATH_MAX];
	if (rpath(c, "/proc/modules", p, sizeof(p)))
		return YW_ELIMIT;
	ssize_t n = slurp(c, p);
	int rc = yw_strbuf_putc(&c->mods, '\n');
	for (char *s = c->buf, *save = NULL, *ln; n > 0 && !rc && (ln = strtok_r(s, "\n", &save));
	     s = NULL) {
		char *sp = strchr(ln, ' ');
		if (sp)
			*sp = 0;
		char m[256];
		mod_norm(m, ln, sizeof(m));
		rc = yw_strbuf_printf(&c->mods, "%s\n", m);
	}
	c->have_mods = !rc;
	return rc;
}

static int load_modconf(struct yw_sca_ctx *c)
{
	if (c->have_modconf)
		return 0;
	static const char *const dirs[] = {"/etc/modprobe.d", "/run/modprobe.d",
	                                   "/usr/lib/modprobe.d", "/lib/modprobe.d"};
	int rc = yw_strbuf_putc(&c->modconf, '\n');
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !rc; i++) {
		char pat[PATH_MAX];
		if (snprintf(pat, sizeof(pat), "%s%s/*.conf", c->root, dirs[i]) >= (int)sizeof(pat))
			continue;
		glob_t g;
		if (glob(pat, 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc && j < YW_SCA_MAX_GLOB && !rc; j++) {
			ssize_t n = slurp(c, g.gl_pathv[j]);
			for (char *s = c->buf, *save = NULL, *ln;
			     n > 0 && !rc && (ln = strtok_r(s, "\n", &save)); s = NULL) {
				char kw[32], mod[128], arg[256] = "";
				if (sscanf(ln, " %31s %127s %255s", kw, mod, arg) < 2 ||
				    kw[0] == '#')
					continue;
				char m[128];
				mod_norm(m, mod, sizeof(m));
				if (!strcmp(kw, "install"))
					rc = yw_strbuf_printf(&c->modconf, "install %s %s\n", m,
					                      arg);
				else if (!strcmp(kw, "blacklist"))
					rc = yw_strbuf_printf(&c->modconf, "blacklist %s\n", m);
			}
		}
		globfree(&g);
	}
	c->have_modconf = !rc;
	return rc;
}

static const char *os_words(struct yw_sca_ctx *c)
{
	if (c->have_os)
		return c->os_words;
	c->have_os = true;
	snprintf(c->os_words, sizeof(c->os_words), " ");
	char p[PATH_MAX];
	if (rpath(c, "/etc/os-release", p, sizeof(p)))
		return c->os_words;
	ssize_t n = slurp(c, p);
	for (char *s = c->buf, *save = NULL, *ln; n > 0 && (ln = strtok_r(s, "\n", &save));
	     s = NULL) {
		const char *v = NULL;
		if (!strncmp(ln, "ID=", 3))
			v = ln + 3;
		else if (!strncmp(ln, "ID_LIKE=", 8))
			v = ln + 8;
		if (!v)
			continue;
		size_t len = strlen(c->os_words);
		for (; *v && len + 2 < sizeof(c->os_words); v++)
			if (*v != '"' && *v != '\'')
				c->os_words[len++] = (char)tolower((unsigned char)*v);
		c->os_words[len++] = ' ';
		c->os_words[len] = 0;
	}
	return c->os_words;
}

bool yw_sca_applies(struct yw_sca_ctx *c, const struct yw_sca_policy *p)
{
	if (!p->nos_like)
		return true;
	const char *w = os_words(c);
	for (size_t i = 0; i < p->nos_like; i++) {
		char pat[300];
		snprintf(pat, sizeof(pat), " %s ", p->os_like[i]);
		if (strstr(w, pat))
			return true;
	}
	return false;
}

/* ---- commands ---- */

static const char *const safe_path[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                        "/usr/bin",        "/sbin",          "/bin"};

int yw_sca_run(char *const argv[], int timeout_ms, size_t max, bool drop, uid_t uid, gid_t gid,
               struct yw_strbuf *out, int *status)
{
	*status = -1;
	char prog[PATH_MAX];
	if (strchr(argv[0], '/')) {
		snprintf(prog, sizeof(prog), "%s", argv[0]);
		if (access(prog, X_OK) != 0)
			return YW_ENOENT;
	} else {
		size_t i;
		for (i = 0; i < sizeof(safe_path) / sizeof(safe_path[0]); i++) {
			snprintf(prog, sizeof(prog), "%s/%s", safe_path[i], argv[0]);
			if (access(prog, X_OK) == 0)
				break;
		}
		if (i == sizeof(safe_path) / sizeof(safe_path[0]))
			return YW_ENOENT;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return YW_EIO;
	char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	                      "LC_ALL=C", NULL};
	drop = drop && geteuid() == 0;
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return YW_EIO;
	}
	if (pid == 0) {
		/* only async-signal-safe calls from here: the agent may have threads */
		setpgid(0, 0);
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(126);
		if (drop && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0))
			_exit(126);
		closefrom(3);
		execve(prog, argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	setpgid(pid, pid); /* either side may run first */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool timed_out = false;
	char chunk[4096];
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms) {
			timed_out = true;
			break;
		}
		struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&pf, 1, (int)(timeout_ms - el));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue; /* re-checks the clock */
		ssize_t n = read(pfd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t room = out->len < max ? max - out->len : 0;
		if (room && yw_strbuf_append(out, chunk, (size_t)n < room ? (size_t)n : room) != 0)
			room = 0; /* out of memory: keep draining, match what we have */
	}
	close(pfd[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return 0;
	if (WIFEXITED(ws)) {
		*status = WEXITSTATUS(ws);
		if (*status == 127 || *status == 126)
			return *status == 127 ? YW_ENOENT : YW_EIO;
	}
	return 0;
}

/* ---- rules ---- */

static bool cmp_ok(int op, double x, double want)
{
	switch (op) {
	case C_LT:
		return x < want;
	case C_LE:
		return x <= want;
	case C_GT:
		return x > want;
	case C_GE:
		return x >= want;
	case C_EQ:
		return x == want;
	case C_NE:
		return x != want;
	default:
		return true;
	}
}

/* Matches re line by line over buf. Returns 1 on a match (with compare: the first matching
 * line decides), 0 none, -1 when the compare failed on the first matching line. */
static int match_lines(struct yw_sca_ctx *c, const struct yw_sca_rule *r, const char *buf, size_t n,
                       char *what, size_t wl)
{
	const char *p = buf, *end = buf + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int m = pcre2_match(r->re, (PCRE2_SPTR)p, len, 0, 0, c->md, c->mctx);
		if (m > 0) {
			snprintf(what, wl, "%.*s", (int)(len < 120 ? len : 120), p);
			if (r->cmp == C_NONE)
				return 1;
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
			char num[64] = "";
			if (m > 1 && ov[2] != PCRE2_UNSET && ov[3] - ov[2] < sizeof(num)) {
				memcpy(num, p + ov[2], ov[3] - ov[2]);
				num[ov[3] - ov[2]] = 0;
			}
			char *e;
			double x = strtod(num, &e);
			return (e != num && cmp_ok(r->cmp, x, r->cmp_val)) ? 1 : -1;
		}
		p += len + 1;
	}
	return 0;
}

static int rule_file(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	size_t found = 0;
	char what[160] = "";
	int hit = 0;
	const char *hit_file = "";
	char hit_path[PATH_MAX] = "";
	for (size_t i = 0; i < r->npaths && !hit; i++) {
		char pat[PATH_MAX];
		if (rpath(c, r->paths[i], pat, sizeof(pat)))
			continue;
		glob_t g;
		if (glob(pat, 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc && j < YW_SCA_MAX_GLOB && !hit; j++) {
			struct stat st;
			if (stat(g.gl_pathv[j], &st) != 0)
				continue;
			found++;
			if (!r->re)
				continue;
			ssize_t n = slurp(c, g.gl_pathv[j]);
			if (n < 0)
				continue;
			hit = match_lines(c, r, c->buf, (size_t)n, what, sizeof(what));
			if (hit)
				snprintf(hit_path, sizeof(hit_path), "%s",
				         g.gl_pathv[j] + strlen(c->root));
		}
		globfree(&g);
	}
	hit_file = hit_path;
	if (!r->re) {
		snprintf(why, wl, "%s %s", r->paths[0], found ? "exists" : "does not exist");
		return (found > 0) == r->exists ? RT_TRUE : RT_FALSE;
	}
	if (!found) {
		snprintf(why, wl, "%s does not exist", r->paths[0]);
		return r->missing;
	}
	if (hit == 1)
		snprintf(why, wl, "%s: '%s'", hit_file, what);
	else if (hit == -1)
		snprintf(why, wl, "%s: value out of range: '%s'", hit_file, what);
	else
		snprintf(why, wl, "no matching line in %s", r->paths[0]);
	bool matched = hit == 1;
	return matched != r->negate ? RT_TRUE : RT_FALSE;
}

static int rule_command(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	if (!c->allow_commands) {
		snprintf(why, wl, "commands are disabled");
		return RT_NA;
	}
	struct yw_strbuf out;
	yw_strbuf_init(&out, YW_SCA_CMD_MAX_OUTPUT + 1);
	int st;
	int rc = yw_sca_run(r->argv, r->timeout_ms, YW_SCA_CMD_MAX_OUTPUT,
	                    c->drop && !r->privileged, c->uid, c->gid, &out, &st);
	int res;
	char what[160] = "";
	if (rc == YW_ENOENT) {
		snprintf(why, wl, "%s: not found", r->argv[0]);
		res = RT_NA;
	} else if (rc) {
		snprintf(why, wl, "%s: could not run", r->argv[0]);
		res = RT_NA;
	} else if (st < 0) {
		snprintf(why, wl, "%s: timed out after %d ms or killed", r->argv[0], r->timeout_ms);
		res = RT_NA;
	} else if (r->exit_code >= 0 && st != r->exit_code) {
		snprintf(why, wl, "%s: exit code %d, expected %d", r->argv[0], st, r->exit_code);
		res = RT_FALSE;
	} else if (r->re) {
		int hit = match_lines(c, r, out.data ? out.data : "", out.len, what, sizeof(what));
		snprintf(why, wl, "%s: %s%s%s", r->argv[0],
		         hit == 1 ? "'" : (hit ? "out of range: '" : "no matching output"),
		         hit ? what : "", hit ? "'" : "");
		res = (hit == 1) != r->negate ? RT_TRUE : RT_FALSE;
	} else {
		snprintf(why, wl, "%s: exit code %d", r->argv[0], st);
		res = r->exit_code >= 0 || st == 0 ? RT_TRUE : RT_FALSE;
	}
	yw_strbuf_free(&out);
	return res;
}

static int rule_sysctl(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	char rel[PATH_MAX], p[PATH_MAX];
	snprintf(rel, sizeof(rel), "/proc/sys/%s", r->name);
	for (char *s = rel + 10; *s; s++)
		if (*s == '.')
			*s = '/';
	if (rpath(c, rel, p, sizeof(p)))
		return RT_NA;
	ssize_t n = slurp(c, p);
	if (n < 0) {
		snprintf(why, wl, "%s: not available", r->name);
		return RT_NA;
	}
	/* normalise whitespace: "4096\t87380\t6291456\n" -> "4096 87380 6291456" */
	char *v = c->buf, *o = c->buf;
	bool sp = false;
	for (char *s = c->buf; *s; s++) {
		if (isspace((unsigned char)*s)) {
			sp = o != v;
		} else {
			if (sp)
				*o++ = ' ';
			sp = false;
			*o++ = *s;
		}
	}
	*o = 0;
	snprintf(why, wl, "%s = %s", r->name, v);
	bool ok = true;
	if (r->equals)
		ok = strcmp(v, r->equals) == 0;
	if (ok && r->cmp != C_NONE) {
		char *e;
		double x = strtod(v, &e);
		ok = e != v && cmp_ok(r->cmp, x, r->cmp_val);
	}
	if (ok && r->re)
		ok = pcre2_match(r->re, (PCRE2_SPTR)v, strlen(v), 0, 0, c->md, c->mctx) > 0;
	return ok ? RT_TRUE : RT_FALSE;
}

static bool name_in(const char *name, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, v[i]))
			return true;
	return false;
}

/* Owner/group names come from root's /etc/passwd and /etc/group, so a fixture tree works. */
static void id_name(struct yw_sca_ctx *c, const char *file, unsigned id, char *out, size_t n)
{
	snprintf(out, n, "%u", id);
	char p[PATH_MAX];
	if (rpath(c, file, p, sizeof(p)))
		return;
	FILE *f = fopen(p, "re");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		char *e;
		unsigned long x = strtoul(c2 + 1, &e, 10);
		if (e != c2 + 1 && *e == ':' && x == id) {
			size_t len = (size_t)(c1 - line);
			if (len < n) {
				memcpy(out, line, len);
				out[len] = 0;
			}
			break;
		}
	}
	fclose(f);
}

static int rule_stat(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	char p[PATH_MAX];
	struct stat st;
	if (rpath(c, r->paths[0], p, sizeof(p)) || stat(p, &st) != 0) {
		snprintf(why, wl, "%s does not exist", r->paths[0]);
		return r->missing;
	}
	char user[64], group[64];
	id_name(c, "/etc/passwd", st.st_uid, user, sizeof(user));
	id_name(c, "/etc/group", st.st_gid, group, sizeof(group));
	mode_t mode = st.st_mode & 07777;
	snprintf(why, wl, "%s: mode %04o owner %s group %s", r->paths[0], (unsigned)mode, user,
	         group);
	if (r->has_mode && (mode & ~r->mode_max))
		return RT_FALSE;
	if (r->nowners && !name_in(user, r->owners, r->nowners))
		return RT_FALSE;
	if (r->ngroups && !name_in(group, r->groups, r->ngroups))
		return RT_FALSE;
	return RT_TRUE;
}

static int rule_pkg(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	int rc = load_pkgs(c);
	if (rc == YW_ENOENT) {
		snprintf(why, wl, "no dpkg database");
		return RT_NA;
	}
	if (rc) {
		snprintf(why, wl, "dpkg database unreadable: %s", yw_strerror(rc));
		return RT_NA;
	}
	const char *key = r->name;
	bool have = c->npkgs && bsearch(&key, c->pkgs, c->npkgs, sizeof(char *), cmp_str);
	snprintf(why, wl, "package %s is %s", r->name, have ? "installed" : "not installed");
	return have != r->negate ? RT_TRUE : RT_FALSE;
}

static bool exists_l(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static int rule_service(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	char unit[300], base[300], p[PATH_MAX];
	snprintf(unit, sizeof(unit), "%s%s", r->name, strchr(r->name, '.') ? "" : ".service");
	snprintf(base, sizeof(base), "%s", r->name);
	char *dot = strrchr(base, '.');
	if (dot && !strcmp(dot, ".service"))
		*dot = 0;
	bool enabled = false, masked = false;
	/* masked: a link to /dev/null in /etc wins over any enablement */
	char tgt[64];
	if (!rpath(c, "/etc/systemd/system/", p, sizeof(p)) &&
	    strlen(p) + strlen(unit) < sizeof(p)) {
		strcat(p, unit);
		ssize_t n = readlink(p, tgt, sizeof(tgt) - 1);
		masked = n > 0 && (tgt[n] = 0, !strcmp(tgt, "/dev/null"));
	}
	static const char *const wants[] = {"/etc/systemd/system/*.wants/",
	                                    "/usr/lib/systemd/system/*.wants/",
	                                    "/lib/systemd/system/*.wants/"};
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]) && !enabled && !masked; i++) {
		char pat[PATH_MAX];
		if (snprintf(pat, sizeof(pat), "%s%s%s", c->root, wants[i], unit) >=
		    (int)sizeof(pat))
			continue;
		glob_t g;
		if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
			for (size_t j = 0; j < g.gl_pathc && !enabled; j++)
				enabled = exists_l(g.gl_pathv[j]);
			globfree(&g);
		}
	}
	if (!enabled && !masked) {
		/* SysV init: a start link in a multi-user runlevel */
		char pat[PATH_MAX];
		if (snprintf(pat, sizeof(pat), "%s/etc/rc[2345].d/S[0-9][0-9]%s", c->root, base) <
		    (int)sizeof(pat)) {
			glob_t g;
			if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
				enabled = g.gl_pathc > 0;
				globfree(&g);
			}
		}
	}
	snprintf(why, wl, "%s is %s", unit,
	         masked    ? "masked"
	         : enabled ? "enabled"
	                   : "not enabled");
	return enabled != r->negate ? RT_TRUE : RT_FALSE;
}

static bool line_has(const struct yw_strbuf *b, const char *pfx)
{
	return b->data && strstr(b->data, pfx) != NULL;
}

/* Whether a module could be loaded at all: listed in modules.dep or modules.builtin of the
 * running kernel. -1 when those files are not there (cannot tell). */
static int mod_available(struct yw_sca_ctx *c, const char *m)
{
	char p[PATH_MAX], rel[256];
	if (rpath(c, "/proc/sys/kernel/osrelease", p, sizeof(p)))
		return -1;
	ssize_t n = slurp(c, p);
	if (n <= 0)
		return -1;
	snprintf(rel, sizeof(rel), "%.*s", (int)strcspn(c->buf, "\n"), c->buf);
	bool any = false;
	static const char *const files[] = {"modules.dep", "modules.builtin"};
	for (size_t i = 0; i < 2; i++) {
		char f[PATH_MAX];
		if (snprintf(f, sizeof(f), "%s/lib/modules/%s/%s", c->root, rel, files[i]) >=
		    (int)sizeof(f))
			continue;
		n = slurp(c, f);
		if (n < 0)
			continue;
		any = true;
		/* entries look like "kernel/fs/cramfs/cramfs.ko.xz:" ; compare the base name */
		for (char *s = c->buf, *save = NULL, *ln; (ln = strtok_r(s, "\n", &save));
		     s = NULL) {
			char *colon = strchr(ln, ':');
			if (colon)
				*colon = 0;
			char *b = strrchr(ln, '/');
			b = b ? b + 1 : ln;
			char *ko = strstr(b, ".ko");
			if (!ko)
				continue;
			*ko = 0;
			char nm[128];
			mod_norm(nm, b, sizeof(nm));
			if (!strcmp(nm, m))
				return 1;
		}
	}
	return any ? 0 : -1;
}

static int rule_module(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	char m[128], pfx[300];
	mod_norm(m, r->name, sizeof(m));
	if (r->type == R_MOD_LOADED) {
		if (load_mods(c))
			return RT_NA;
		snprintf(pfx, sizeof(pfx), "\n%s\n", m);
		bool loaded = line_has(&c->mods, pfx);
		snprintf(why, wl, "module %s is %s", r->name, loaded ? "loaded" : "not loaded");
		return loaded != r->negate ? RT_TRUE : RT_FALSE;
	}
	if (load_modconf(c))
		return RT_NA;
	if (r->type == R_MOD_BLACKLISTED) {
		snprintf(pfx, sizeof(pfx), "\nblacklist %s\n", m);
		bool bl = line_has(&c->modconf, pfx);
		snprintf(why, wl, "module %s is %sblacklisted", r->name, bl ? "" : "not ");
		return bl ? RT_TRUE : RT_FALSE;
	}
	static const char *const stops[] = {"/bin/false", "/bin/true", "/usr/bin/false",
	                                    "/usr/bin/true"};
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		snprintf(pfx, sizeof(pfx), "\ninstall %s %s\n", m, stops[i]);
		if (line_has(&c->modconf, pfx)) {
			snprintf(why, wl, "module %s: install %s", r->name, stops[i]);
			return RT_TRUE;
		}
	}
	int av = mod_available(c, m);
	if (av == 0) {
		snprintf(why, wl, "module %s is not available in this kernel", r->name);
		return RT_TRUE;
	}
	snprintf(why, wl, "module %s: no 'install %s /bin/false' in modprobe.d%s", r->name, r->name,
	         av < 0 ? "" : " and the kernel has it");
	return RT_FALSE;
}

static int rule_eval(struct yw_sca_ctx *c, const struct yw_sca_rule *r, char *why, size_t wl)
{
	switch (r->type) {
	case R_FILE:
		return rule_file(c, r, why, wl);
	case R_COMMAND:
		return rule_command(c, r, why, wl);
	case R_SYSCTL:
		return rule_sysctl(c, r, why, wl);
	case R_STAT:
		return rule_stat(c, r, why, wl);
	case R_PKG:
		return rule_pkg(c, r, why, wl);
	case R_SERVICE:
		return rule_service(c, r, why, wl);
	default:
		return rule_module(c, r, why, wl);
	}
}

int yw_sca_eval(struct yw_sca_ctx *c, const struct yw_sca_check *chk, char *reason, size_t rlen)
{
	char why[512] = "";
	if (rlen)
		reason[0] = 0;
	for (size_t i = 0; i < chk->nrequires; i++) {
		if (rule_eval(c, &chk->requires[i], why, sizeof(why)) != RT_TRUE) {
			snprintf(reason, rlen, "requirement not met: %s", why);
			return YW_SCA_NA;
		}
	}
	size_t ntrue = 0, nfalse = 0;
	char last_true[512] = "", last_false[512] = "", last_na[512] = "";
	for (size_t i = 0; i < chk->nrules; i++) {
		int v = rule_eval(c, &chk->rules[i], why, sizeof(why));
		if (v == RT_TRUE) {
			ntrue++;
			snprintf(last_true, sizeof(last_true), "%s", why);
		} else if (v == RT_FALSE) {
			nfalse++;
			snprintf(last_false, sizeof(last_false), "%s", why);
		} else {
			snprintf(last_na, sizeof(last_na), "%s", why);
		}
		/* stop as soon as the outcome is known */
		if ((chk->condition == YW_SCA_ALL && nfalse) ||
		    (chk->condition != YW_SCA_ALL && ntrue))
			break;
	}
	if (!ntrue && !nfalse) {
		snprintf(reason, rlen, "%s", last_na);
		return YW_SCA_NA;
	}
	switch (chk->condition) {
	case YW_SCA_ALL:
		snprintf(reason, rlen, "%s", nfalse ? last_false : last_true);
		return nfalse ? YW_SCA_FAILED : YW_SCA_PASSED;
	case YW_SCA_ANY:
		snprintf(reason, rlen, "%s", ntrue ? last_true : last_false);
		return ntrue ? YW_SCA_PASSED : YW_SCA_FAILED;
	default:
		snprintf(reason, rlen, "%s", ntrue ? last_true : last_false);
		return ntrue ? YW_SCA_FAILED : YW_SCA_PASSED;
	}
}
