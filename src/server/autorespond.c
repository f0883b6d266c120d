#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "autorespond.h"
#include "yiwang/error.h"
#include "yiwang/store.h"

#define MAX_POLICIES   256
#define MAX_ARGS       16
#define MAX_BUDGETS    4096 /* (policy, agent) pairs remembered for the hourly budget */
#define HOUR_MS        (3600 * 1000)

struct arg {
	char *key;
	json_t *value; /* a constant, or a string holding "{field}" templates */
};

struct policy {
	char *rule, *action;
	struct arg args[MAX_ARGS];
	size_t nargs;
	int min_level;
	bool dry_run;
	int64_t max_per_hour;
};

struct budget {
	size_t policy;
	char agent[65];
	int64_t hour;
	int64_t used;
};

struct yw_autorespond {
	struct policy *p;
	size_t n;
	pthread_mutex_t mu;
	struct budget budgets[MAX_BUDGETS];
	size_t nbudgets;
};

static void policy_free(struct policy *p)
{
	free(p->rule);
	free(p->action);
	for (size_t i = 0; i < p->nargs; i++) {
		free(p->args[i].key);
		json_decref(p->args[i].value);
	}
}

void yw_autorespond_free(struct yw_autorespond *ar)
{
	if (!ar)
		return;
	for (size_t i = 0; i < ar->n; i++)
		policy_free(&ar->p[i]);
	free(ar->p);
	pthread_mutex_destroy(&ar->mu);
	free(ar);
}

struct ld {
	const char *path;
	yaml_document_t *doc;
	struct yw_diags *d;
	int errors;
};

static void bad(struct ld *l, const yaml_node_t *n, const char *msg, const char *arg)
{
	yw_diags_add(l->d, YW_DIAG_ERROR, l->path, (unsigned)n->start_mark.line + 1,
		     (unsigned)n->start_mark.column + 1, "%s%s%s", msg, arg ? arg : "",
		     arg ? "'" : "");
	l->errors++;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A YAML scalar as JSON: plain integers and booleans keep their type, the rest is text. */
static json_t *to_json(const yaml_node_t *n)
{
	const char *v = scalar(n);
	if (!v)
		return NULL;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		char *end;
		long long x = strtoll(v, &end, 10);
		if (*v && !*end)
			return json_integer(x);
		if (!strcmp(v, "true") || !strcmp(v, "false"))
			return json_boolean(!strcmp(v, "true"));
	}
	return json_string(v);
}

static int parse_policy(struct ld *l, yaml_node_t *m, struct policy *p)
{
	p->max_per_hour = 20;
	if (m->type != YAML_MAPPING_NODE) {
		bad(l, m, "a policy must be a map", NULL);
		return YW_EINVAL;
	}
	for (yaml_node_pair_t *kv = m->data.mapping.pairs.start; kv < m->data.mapping.pairs.top;
	     kv++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, kv->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, kv->value);
		const char *key = scalar(k);
		const char *val = scalar(v);
		if (!key) {
			bad(l, k ? k : m, "keys must be names", NULL);
			return YW_EINVAL;
		}
		if (!strcmp(key, "rule") && val) {
			p->rule = strdup(val);
		} else if (!strcmp(key, "action") && val) {
			p->action = strdup(val);
		} else if (!strcmp(key, "min_level") && val) {
			p->min_level = yw_level_parse(val);
			if (p->min_level < 0) {
				bad(l, v, "unknown level '", val);
				return YW_EINVAL;
			}
		} else if (!strcmp(key, "dry_run") && val) {
			p->dry_run = !strcmp(val, "true");
			if (!p->dry_run && strcmp(val, "false") != 0) {
				bad(l, v, "dry_run must be true or false, not '", val);
				return YW_EINVAL;
			}
		} else if (!strcmp(key, "max_per_hour") && val) {
			char *end;
			p->max_per_hour = strtoll(val, &end, 10);
			if (*end || p->max_per_hour < 1) {
				bad(l, v, "max_per_hour must be a positive integer, not '", val);
				return YW_EINVAL;
			}
		} else if (!strcmp(key, "args") && v && v->type == YAML_MAPPING_NODE) {
			for (yaml_node_pair_t *a = v->data.mapping.pairs.start;
			     a < v->data.mapping.pairs.top; a++) {
				yaml_node_t *ak = yaml_document_get_node(l->doc, a->key);
				yaml_node_t *av = yaml_document_get_node(l->doc, a->value);
				json_t *j = to_json(av);
				if (!scalar(ak) || !j || p->nargs == MAX_ARGS) {
					json_decref(j);
					bad(l, ak ? ak : v, "args must be up to 16 name: value pairs",
					    NULL);
					return YW_EINVAL;
				}
				p->args[p->nargs++] = (struct arg){strdup(scalar(ak)), j};
			}
		} else {
			bad(l, k, "unknown or malformed key '", key);
			return YW_EINVAL;
		}
	}
	if (!p->rule || !p->action) {
		bad(l, m, "a policy needs `rule` and `action`", NULL);
		return YW_EINVAL;
	}
	return 0;
}

int yw_autorespond_load(const char *path, struct yw_diags *d, struct yw_autorespond **out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		yw_diags_add(d, YW_DIAG_ERROR, path, 0, 0, "cannot read the response policies");
		return YW_ENOENT;
	}
	struct yw_autorespond *ar = calloc(1, sizeof(*ar));
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;
	if (!ar || !yaml_parser_initialize(&parser)) {
		free(ar);
		fclose(f);
		return YW_ENOMEM;
	}
	pthread_mutex_init(&ar->mu, NULL);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		yw_diags_add(d, YW_DIAG_ERROR, path, (unsigned)parser.problem_mark.line + 1,
			     (unsigned)parser.problem_mark.column + 1, "YAML: %s",
			     parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		fclose(f);
		yw_autorespond_free(ar);
		return YW_EINVAL;
	}
	struct ld l = {path, &doc, d, 0};
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(root->data.sequence.items.top - root->data.sequence.items.start);
		if (n > MAX_POLICIES) {
			bad(&l, root, "too many policies (at most 256)", NULL);
			n = 0;
		}
		ar->p = calloc(n ? n : 1, sizeof(*ar->p));
		for (size_t i = 0; ar->p && i < n; i++) {
			yaml_node_t *m =
				yaml_document_get_node(&doc, root->data.sequence.items.start[i]);
			if (parse_policy(&l, m, &ar->p[ar->n]) == 0)
				ar->n++;
			else
				policy_free(&ar->p[ar->n]), memset(&ar->p[ar->n], 0, sizeof(*ar->p));
		}
	} else if (root) {
		bad(&l, root, "the response policies must be a list", NULL);
	}
	if (l.errors)
		rc = YW_EINVAL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (rc) {
		yw_autorespond_free(ar);
		return rc;
	}
	*out = ar;
	return 0;
}

static bool rule_matches(const struct policy *p, const struct yw_rule_info *r)
{
	if (r->id && !strcasecmp(p->rule, r->id))
		return true;
	for (size_t i = 0; i < r->ntags; i++)
		if (!strcasecmp(p->rule, r->tags[i]))
			return true;
	return false;
}

/* Fills "{field}" templates from the event. A template that is exactly one field takes that
 * field's JSON value with its type (a pid stays a number); NULL when a field is missing. */
static json_t *fill(const json_t *tmpl, const json_t *ev)
{
	if (!json_is_string(tmpl))
		return json_deep_copy(tmpl);
	const char *t = json_string_value(tmpl);
	size_t len = strlen(t);
	if (len > 2 && t[0] == '{' && t[len - 1] == '}' && !memchr(t + 1, '{', len - 2)) {
		char key[256];
		if (len - 2 >= sizeof(key))
			return NULL;
		memcpy(key, t + 1, len - 2);
		key[len - 2] = '\0';
		json_t *v = json_object_get(ev, key);
		return v && (json_is_string(v) || json_is_integer(v)) ? json_deep_copy(v) : NULL;
	}
	return json_deep_copy(tmpl); /* no template: a constant string */
}

/* Takes one use of the (policy, agent) hourly budget; false when spent. */
static bool take_budget(struct yw_autorespond *ar, size_t policy, const char *agent,
			int64_t now_ms)
{
	int64_t hour = now_ms / HOUR_MS;
	bool ok = false;
	pthread_mutex_lock(&ar->mu);
	struct budget *b = NULL;
	for (size_t i = 0; i < ar->nbudgets; i++) {
		if (ar->budgets[i].policy == policy && !strcmp(ar->budgets[i].agent, agent)) {
			b = &ar->budgets[i];
			break;
		}
	}
	if (!b) {
		/* Full: forget the oldest hour's entries first (any entry of an earlier hour). */
		size_t slot = ar->nbudgets < MAX_BUDGETS ? ar->nbudgets++ : 0;
		for (size_t i = 0; slot == 0 && i < ar->nbudgets; i++)
			if (ar->budgets[i].hour < hour)
				slot = i;
		b = &ar->budgets[slot];
		*b = (struct budget){.policy = policy, .hour = hour};
		snprintf(b->agent, sizeof(b->agent), "%s", agent);
	}
	if (b->hour != hour) {
		b->hour = hour;
		b->used = 0;
	}
	if (b->used < ar->p[policy].max_per_hour) {
		b->used++;
		ok = true;
	}
	pthread_mutex_unlock(&ar->mu);
	return ok;
}

void yw_autorespond_alert(struct yw_autorespond *ar, const char *agent_id,
			  const struct yw_rule_info *rule, const char *event_json, int64_t now_ms,
			  yw_autorespond_fn cb, void *ud)
{
	int level = yw_level_parse(rule->level);
	json_t *ev = NULL;
	for (size_t i = 0; i < ar->n; i++) {
		const struct policy *p = &ar->p[i];
		if (!rule_matches(p, rule) || level < p->min_level)
			continue;
		if (!ev && !(ev = json_loads(event_json, 0, NULL)))
			return;
		json_t *args = json_object();
		bool ok = args != NULL;
		for (size_t k = 0; ok && k < p->nargs; k++) {
			json_t *v = fill(p->args[k].value, ev);
			ok = v && json_object_set_new(args, p->args[k].key, v) == 0;
		}
		if (ok && p->dry_run)
			json_object_set_new(args, "dry_run", json_true());
		char *text = ok ? json_dumps(args, JSON_COMPACT) : NULL;
		if (text && take_budget(ar, i, agent_id, now_ms)) {
			char by[300];
			snprintf(by, sizeof(by), "rule:%s", p->rule);
			cb(ud, agent_id, p->action, text, by);
		}
		free(text);
		json_decref(args);
	}
	json_decref(ev);
}
