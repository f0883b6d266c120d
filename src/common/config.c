#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yw_limits.h"
#include "yiwang/config.h"
#include "yiwang/error.h"

static void *field(void *target, const struct yw_opt *o)
{
	return (char *)target + o->offset;
}

int yw_parse_duration_ms(const char *s, int64_t *ms)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return YW_EINVAL;
	static const struct {
		const char *unit;
		int64_t mul;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
		     {"w", 604800000}, {"", 1000}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].mul)
				return YW_EINVAL;
			*ms = v * units[i].mul;
			return 0;
		}
	}
	return YW_EINVAL;
}

int yw_parse_size(const char *s, int64_t *bytes)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno || v < 0)
		return YW_EINVAL;
	static const struct {
		const char *unit;
		int64_t mul;
	} units[] = {{"", 1},
		     {"B", 1},
		     {"KiB", 1024},
		     {"MiB", 1024 * 1024},
		     {"GiB", 1024LL * 1024 * 1024},
		     {"KB", 1000},
		     {"MB", 1000 * 1000},
		     {"GB", 1000LL * 1000 * 1000}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].mul)
				return YW_EINVAL;
			*bytes = v * units[i].mul;
			return 0;
		}
	}
	return YW_EINVAL;
}

static int set_scalar(const struct yw_opt *o, void *target, const char *v, char *err,
		      size_t errlen)
{
	void *f = field(target, o);
	int64_t x = 0;
	switch (o->type) {
	case YW_OPT_STR: {
		char *s = strdup(v);
		if (!s)
			return YW_ENOMEM;
		free(*(char **)f);
		*(char **)f = s;
		return 0;
	}
	case YW_OPT_ENUM:
		for (size_t i = 0; o->values && o->values[i]; i++) {
			if (!strcmp(o->values[i], v)) {
				char *s = strdup(v);
				if (!s)
					return YW_ENOMEM;
				free(*(char **)f);
				*(char **)f = s;
				return 0;
			}
		}
		snprintf(err, errlen, "'%s' is not one of the allowed values for %s", v, o->key);
		return YW_EINVAL;
	case YW_OPT_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
			*(bool *)f = true;
		} else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
			*(bool *)f = false;
		} else {
			snprintf(err, errlen, "%s must be true or false, not '%s'", o->key, v);
			return YW_EINVAL;
		}
		return 0;
	case YW_OPT_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (end == v || *end || errno) {
			snprintf(err, errlen, "%s must be an integer, not '%s'", o->key, v);
			return YW_EINVAL;
		}
		x = n;
		break;
	}
	case YW_OPT_DURATION:
		if (yw_parse_duration_ms(v, &x)) {
			snprintf(err, errlen, "%s must be a duration such as 30s, 5m or 2h, not '%s'",
				 o->key, v);
			return YW_EINVAL;
		}
		break;
	case YW_OPT_SIZE:
		if (yw_parse_size(v, &x)) {
			snprintf(err, errlen, "%s must be a size such as 64KiB or 256MiB, not '%s'",
				 o->key, v);
			return YW_EINVAL;
		}
		break;
	default:
		snprintf(err, errlen, "%s takes a list, not a single value", o->key);
		return YW_EINVAL;
	}
	if ((o->min || o->max) && (x < o->min || x > o->max)) {
		snprintf(err, errlen, "%s = '%s' is out of range [%lld, %lld]", o->key, v,
			 (long long)o->min, (long long)o->max);
		return YW_EINVAL;
	}
	*(int64_t *)f = x;
	return 0;
}

static void list_free(struct yw_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int list_add(struct yw_strlist *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return YW_ENOMEM;
	l->v = v;
	if (!(v[l->n] = strdup(s)))
		return YW_ENOMEM;
	l->n++;
	return 0;
}

int yw_config_defaults(const struct yw_opt *opts, size_t n, void *target)
{
	char err[256];
	for (size_t i = 0; i < n; i++) {
		const struct yw_opt *o = &opts[i];
		if (o->type == YW_OPT_LIST) {
			list_free(field(target, o));
			/* A list default is written as comma-separated values. */
			if (o->def && *o->def) {
				char *copy = strdup(o->def), *save = NULL;
				if (!copy)
					return YW_ENOMEM;
				for (char *t = strtok_r(copy, ",", &save); t;
				     t = strtok_r(NULL, ",", &save)) {
					if (list_add(field(target, o), t)) {
						free(copy);
						return YW_ENOMEM;
					}
				}
				free(copy);
			}
			continue;
		}
		if (!o->def) {
			if (o->type == YW_OPT_STR || o->type == YW_OPT_ENUM) {
				free(*(char **)field(target, o));
				*(char **)field(target, o) = NULL;
			}
			continue;
		}
		int rc = set_scalar(o, target, o->def, err, sizeof(err));
		if (rc)
			return rc;
	}
	return 0;
}

static const struct yw_opt *find(const struct yw_opt *opts, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(opts[i].key, key))
			return &opts[i];
	return NULL;
}

int yw_config_set(const struct yw_opt *opts, size_t n, void *target, const char *key,
		  const char *value, char *err, size_t errlen)
{
	const struct yw_opt *o = find(opts, n, key);
	if (!o) {
		snprintf(err, errlen, "unknown option '%s'", key);
		return YW_ENOENT;
	}
	if (o->type == YW_OPT_LIST) {
		struct yw_strlist *l = field(target, o);
		return list_add(l, value);
	}
	return set_scalar(o, target, value, err, errlen);
}

struct walk {
	const struct yw_opt *opts;
	size_t n;
	void *target;
	const char *path;
	yaml_document_t *doc;
	struct yw_diags *d;
	int errors;
};

static void bad(struct walk *w, const yaml_node_t *node, const char *msg)
{
	yw_diags_add(w->d, YW_DIAG_ERROR, w->path, (unsigned)node->start_mark.line + 1,
		     (unsigned)node->start_mark.column + 1, "%s", msg);
	w->errors++;
}

static void walk_map(struct walk *w, yaml_node_t *map, const char *prefix, int depth)
{
	if (depth > 8) {
		bad(w, map, "configuration nested too deeply");
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE) {
			bad(w, k ? k : map, "keys must be plain names");
			continue;
		}
		char key[256];
		int kn = snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
				  (const char *)k->data.scalar.value);
		if (kn < 0 || (size_t)kn >= sizeof(key)) {
			bad(w, k, "key too long");
			continue;
		}
		const struct yw_opt *o = find(w->opts, w->n, key);
		if (!o) {
			/* A section: recurse when some option lives below it. */
			size_t kl = strlen(key);
			bool section = false;
			for (size_t i = 0; i < w->n && !section; i++)
				section = !strncmp(w->opts[i].key, key, kl) && w->opts[i].key[kl] == '.';
			if (section && v->type == YAML_MAPPING_NODE) {
				walk_map(w, v, key, depth + 1);
			} else {
				char msg[320];
				snprintf(msg, sizeof(msg), "unknown option '%s'", key);
				bad(w, k, msg);
			}
			continue;
		}
		char err[512];
		if (o->type == YW_OPT_LIST) {
			struct yw_strlist *l = field(w->target, o);
			if (v->type != YAML_SEQUENCE_NODE) {
				snprintf(err, sizeof(err), "%s must be a list", key);
				bad(w, v, err);
				continue;
			}
			list_free(l);
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				yaml_node_t *e = yaml_document_get_node(w->doc, *it);
				if (!e || e->type != YAML_SCALAR_NODE) {
					snprintf(err, sizeof(err), "%s must be a list of strings", key);
					bad(w, e ? e : v, err);
					continue;
				}
				if (list_add(l, (const char *)e->data.scalar.value))
					bad(w, e, "out of memory");
			}
			continue;
		}
		if (v->type != YAML_SCALAR_NODE) {
			snprintf(err, sizeof(err), "%s must be a single value", key);
			bad(w, v, err);
			continue;
		}
		if (set_scalar(o, w->target, (const char *)v->data.scalar.value, err, sizeof(err)))
			bad(w, v, err);
	}
}

int yw_config_load(const struct yw_opt *opts, size_t n, void *target, const char *path,
		   struct yw_diags *d)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot read: %s", strerror(errno));
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return YW_ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		yw_diags_add(d, YW_DIAG_ERROR, path, (unsigned)parser.problem_mark.line + 1,
			     (unsigned)parser.problem_mark.column + 1, "YAML: %s",
			     parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		fclose(f);
		return YW_EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	struct walk w = {opts, n, target, path, &doc, d, 0};
	if (root && root->type == YAML_MAPPING_NODE)
		walk_map(&w, root, "", 0);
	else if (root && !(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		bad(&w, root, "the configuration must be a map of options");
	if (w.errors)
		rc = YW_EINVAL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

void yw_config_free(const struct yw_opt *opts, size_t n, void *target)
{
	for (size_t i = 0; i < n; i++) {
		const struct yw_opt *o = &opts[i];
		if (o->type == YW_OPT_STR || o->type == YW_OPT_ENUM) {
			free(*(char **)field(target, o));
			*(char **)field(target, o) = NULL;
		} else if (o->type == YW_OPT_LIST) {
			list_free(field(target, o));
		}
	}
}

void yw_config_doc(const struct yw_opt *opts, size_t n, FILE *out)
{
	static const char *const types[] = {"",         "string",   "integer", "boolean",
					    "duration", "size",     "choice",  "list"};
	fputs("| option | type | default | meaning |\n|---|---|---|---|\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct yw_opt *o = &opts[i];
		fprintf(out, "| `%s` | %s | %s%s%s | %s", o->key, types[o->type],
			o->def ? "`" : "", o->def ? o->def : "—", o->def ? "`" : "", o->help);
		if (o->type == YW_OPT_ENUM && o->values) {
			fputs(" (", out);
			for (size_t k = 0; o->values[k]; k++)
				fprintf(out, "%s`%s`", k ? ", " : "", o->values[k]);
			fputs(")", out);
		}
		fputs(" |\n", out);
	}
}
