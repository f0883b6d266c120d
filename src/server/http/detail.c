/* File-integrity items and baselines from stored events (detail.h). The events are the
 * server's own decoded JSON (flat ECS keys, docs/agent.md and docs/sca.md). */
#include <stdlib.h>
#include <string.h>

#include "detail.h"
#include "yiwang/error.h"

static json_t *parse(const char *text)
{
	if (!text || !*text)
		return NULL;
	json_t *j = json_loads(text, 0, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The members of o whose key starts with pfx, the prefix cut off; NULL when none. */
static json_t *strip(json_t *o, const char *pfx, int *err)
{
	size_t n = strlen(pfx);
	json_t *out = NULL;
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (strncmp(k, pfx, n) || !k[n])
			continue;
		if (!out && !(out = json_object())) {
			*err = YW_ENOMEM;
			return NULL;
		}
		if (json_object_set(out, k + n, v)) {
			*err = YW_ENOMEM;
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Appends j (stolen) as compact JSON. */
static int put_json(struct yw_strbuf *b, json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (!t)
		return YW_ENOMEM;
	int rc = yw_strbuf_puts(b, t);
	free(t);
	return rc;
}

int yw_http_fim_item(struct yw_strbuf *b, int64_t id, int64_t ts, const char *event_json)
{
	json_t *e = parse(event_json);
	const char *action = jstr(e, "event.action"), *module = jstr(e, "event.module");
	if (!e || !action || !module || strcmp(module, "fim") || strncmp(action, "file_", 5)) {
		json_decref(e);
		return 0;
	}
	int err = 0;
	json_t *file = strip(e, "file.", &err);
	json_t *before = err ? NULL : strip(e, "yiwang.fim.before.", &err);
	json_t *o = err ? NULL : json_object();
	if (!o) {
		json_decref(file);
		json_decref(before);
		json_decref(e);
		return YW_ENOMEM;
	}
	/* A deletion carries the last known values as file.*: they are the "before". */
	int deleted = !strcmp(action, "file_deleted");
	if (deleted && !before) {
		before = file;
		file = NULL;
	}
	json_t *changed = json_object_get(e, "yiwang.fim.changed");
	json_t *trigger = json_object_get(e, "yiwang.fim.trigger");
	/* set_new takes before and after, even when it fails. */
	if (json_object_set_new(o, "before", before ? before : json_null()) ||
	    json_object_set_new(o, "after",
	                        deleted ? json_null()
	                        : file  ? file
	                                : json_null()))
		err = YW_ENOMEM;
	if (deleted)
		json_decref(file);
	if (err || json_object_set_new(o, "id", json_integer(id)) ||
	    json_object_set_new(o, "ts", json_integer(ts)) ||
	    json_object_set(o, "path",
	                    json_object_get(e, "file.path") ? json_object_get(e, "file.path")
	                                                    : json_null()) ||
	    json_object_set_new(o, "action", json_string(action)) ||
	    json_object_set(o, "changed", changed ? changed : json_null()) ||
	    json_object_set(o, "trigger", trigger ? trigger : json_null()))
		err = YW_ENOMEM;
	json_decref(e);
	if (err) {
		json_decref(o);
		return err;
	}
	err = put_json(b, o);
	return err ? err : 1;
}

int yw_http_sca_init(struct yw_http_sca *v, const char *policy)
{
	memset(v, 0, sizeof(*v));
	if (policy && strlen(policy) >= sizeof(v->policy))
		return YW_EINVAL;
	snprintf(v->policy, sizeof(v->policy), "%s", policy ? policy : "");
	v->items = json_object();
	return v->items ? 0 : YW_ENOMEM;
}

void yw_http_sca_free(struct yw_http_sca *v)
{
	json_decref(v->summary);
	json_decref(v->items);
	v->summary = v->items = NULL;
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The check's item: what an analyst reads to judge and fix it. */
static json_t *check_item(json_t *e, int64_t id, int64_t ts, int *err)
{
	json_t *compliance = strip(e, "yiwang.sca.compliance.", err);
	if (*err)
		return NULL;
	static const char *const fields[][2] = {
	    {"id", "yiwang.sca.check.id"},
	    {"title", "yiwang.sca.check.title"},
	    {"title_zh", "yiwang.sca.check.title_zh"},
	    {"result", "yiwang.sca.check.result"},
	    {"previous_result", "yiwang.sca.check.previous_result"},
	    {"reason", "yiwang.sca.check.reason"},
	    {"rationale", "yiwang.sca.check.rationale"},
	    {"remediation", "yiwang.sca.check.remediation"},
	};
	json_t *o = json_object();
	int bad = !o;
	for (size_t i = 0; !bad && i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *x = json_object_get(e, fields[i][1]);
		bad = json_object_set(o, fields[i][0], x ? x : json_null());
	}
	if (bad)
		json_decref(compliance);
	else /* set_new takes compliance, even when it fails */
		bad = json_object_set_new(o, "compliance", compliance ? compliance : json_object());
	bad = bad || json_object_set_new(o, "checked_at", json_integer(ts)) ||
	      json_object_set_new(o, "event_id", json_integer(id));
	if (bad) {
		json_decref(o);
		*err = YW_ENOMEM;
		return NULL;
	}
	return o;
}

int yw_http_sca_feed(struct yw_http_sca *v, int64_t id, int64_t ts, const char *event_json)
{
	if (v->complete)
		return 1;
	json_t *e = parse(event_json);
	const char *action = jstr(e, "event.action"), *policy = jstr(e, "yiwang.sca.policy");
	int rc = 0;
	if (!action || !policy || (v->policy[0] && strcmp(policy, v->policy)))
		goto out;
	if (!v->summary) {
		if (strcmp(action, "sca_summary"))
			goto out; /* a check of a run whose summary has not come yet */
		snprintf(v->policy, sizeof(v->policy), "%s", policy);
		v->summary = json_incref(e);
		v->scanned_at = ts;
		json_int_t n = jint(e, "yiwang.sca.passed") + jint(e, "yiwang.sca.failed") +
		               jint(e, "yiwang.sca.not_applicable");
		v->want = n > 0 ? (size_t)n : 0;
		/* A policy that does not apply runs no check. */
		if (v->want == 0 || json_is_false(json_object_get(e, "yiwang.sca.applies")))
			v->complete = 1;
		rc = v->complete;
		goto out;
	}
	const char *check = jstr(e, "yiwang.sca.check.id");
	if (strcmp(action, "sca_check") || !check || json_object_get(v->items, check))
		goto out; /* older results of a check already known, older summaries */
	int err = 0;
	json_t *item = check_item(e, id, ts, &err);
	if (!item || json_object_set_new(v->items, check, item)) {
		rc = YW_ENOMEM;
		goto out;
	}
	if (json_object_size(v->items) >= v->want)
		v->complete = 1;
	rc = v->complete;
out:
	json_decref(e);
	return rc;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int yw_http_sca_json(const struct yw_http_sca *v, struct yw_strbuf *b)
{
	if (!v->summary)
		return YW_ENOENT;
	json_t *s = v->summary;
	json_t *score = json_object_get(s, "yiwang.sca.score");
	json_t *applies = json_object_get(s, "yiwang.sca.applies");
	json_t *name = json_object_get(s, "yiwang.sca.policy_name");
	json_t *o = json_pack(
	    "{s:s, s:O, s:O, s:I, s:I, s:I, s:I, s:O, s:I, s:b, s:[]}", "policy", v->policy,
	    "policy_name", name ? name : json_null(), "score", score ? score : json_null(),
	    "passed", jint(s, "yiwang.sca.passed"), "failed", jint(s, "yiwang.sca.failed"),
	    "not_applicable", jint(s, "yiwang.sca.not_applicable"), "invalid",
	    jint(s, "yiwang.sca.invalid"), "applies", applies ? applies : json_true(), "scanned_at",
	    (json_int_t)v->scanned_at, "complete", v->complete, "items");
	if (!o)
		return YW_ENOMEM;
	/* By check id: a stable order for readers and diffs. */
	size_t n = json_object_size(v->items), i = 0;
	const char **keys = n ? calloc(n, sizeof(*keys)) : NULL;
	if (n && !keys) {
		json_decref(o);
		return YW_ENOMEM;
	}
	const char *k;
	json_t *item;
	json_object_foreach(v->items, k, item) keys[i++] = k;
	if (n)
		qsort(keys, n, sizeof(*keys), by_key);
	json_t *arr = json_object_get(o, "items");
	int err = 0;
	for (i = 0; i < n && !err; i++)
		err = json_array_append(arr, json_object_get(v->items, keys[i])) ? YW_ENOMEM : 0;
	free(keys);
	if (err) {
		json_decref(o);
		return err;
	}
	return put_json(b, o);
}
