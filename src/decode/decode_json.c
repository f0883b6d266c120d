/* JSON lines: one object per line, parsed with jansson and flattened into dotted fields.
 *
 *  - nested objects: {"source":{"ip":"1.2.3.4"}} -> source.ip
 *  - numbers: int when integral and within int64, else str with the number's text ("%.17g"
 *    for reals; when the line holds an integer beyond int64, jansson reads all its numbers
 *    as reals, so integral ones still become ints)
 *  - true/false -> bool, null -> null
 *  - arrays -> list fields; items are the scalars' text, objects and nested arrays are kept as
 *    their compact JSON text (one item each)
 *  - logsource.product/service/category (flat or nested) set the log source, not fields
 *  - "@timestamp" in RFC 3339 becomes a time field; unparseable, it stays a string
 *  - YW_MAX_JSON_DEPTH and YW_MAX_FIELDS: deeper/further values are dropped with an anomaly
 *  - invalid JSON or a top level other than an object: "message" is the line, anomaly */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode_int.h"
#include "yw_limits.h"
#include "yiwang/error.h"

struct jctx {
	struct yw_event *ev;
	char name[YW_MAX_FIELD_NAME + 1];
	const char *ls[3];
	int err;
	bool full, deep, longname;
};

static void note(struct jctx *c, int rc)
{
	if (rc == YW_ENOMEM) {
		c->err = rc;
	} else if (rc && !c->full) {
		c->full = true;
		yw_event_anomaly(c->ev, "json: fields beyond the event limit dropped");
	}
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). Returns 0 and *ns. */
static int parse_rfc3339(const char *s, size_t n, int64_t *ns)
{
	int y, mo, d, h, mi, se;
	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	size_t i = 19;
	int64_t frac = 0;
	if (i < n && s[i] == '.') {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (i - f < 9)
				frac = frac * 10 + (s[i] - '0');
			i++;
		}
		if (i == f)
			return -1;
		for (size_t k = i - f; k < 9; k++)
			frac *= 10;
	}
	int off = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh, om;
		if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	struct tm tm = {.tm_year = y - 1900,
	                .tm_mon = mo - 1,
	                .tm_mday = d,
	                .tm_hour = h,
	                .tm_min = mi,
	                .tm_sec = se};
	time_t t = timegm(&tm);
	*ns = ((int64_t)t - off) * 1000000000 + frac;
	return 0;
}

static void set_scalar(struct jctx *c, json_t *v)
{
	const char *name = c->name;
	switch (json_typeof(v)) {
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		const char *lsk[3] = {"logsource.product", "logsource.service",
		                      "logsource.category"};
		for (int i = 0; i < 3; i++) {
			if (strcmp(name, lsk[i]) == 0) {
				c->ls[i] = s;
				return;
			}
		}
		int64_t ns;
		if (strcmp(name, "@timestamp") == 0 && parse_rfc3339(s, n, &ns) == 0) {
			note(c, yw_event_set_time(c->ev, name, ns));
			return;
		}
		note(c, yw_event_set_str(c->ev, name, s, n));
		return;
	}
	case JSON_INTEGER:
		note(c, yw_event_set_int(c->ev, name, json_integer_value(v)));
		return;
	case JSON_REAL: {
		double d = json_real_value(v);
		if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
			note(c, yw_event_set_int(c->ev, name, (int64_t)d));
		} else {
			char buf[32];
			int n = snprintf(buf, sizeof(buf), "%.17g", d);
			note(c, yw_event_set_str(c->ev, name, buf, (size_t)n));
		}
		return;
	}
	case JSON_TRUE:
	case JSON_FALSE:
		note(c, yw_event_set_bool(c->ev, name, json_is_true(v)));
		return;
	default:
		note(c, yw_event_set_null(c->ev, name));
		return;
	}
}

/* Text of one array item, in the event's arena (jansson's strings are borrowed as they are). */
static int item_text(struct jctx *c, json_t *v, struct yw_str *out)
{
	char buf[32];
	const char *s = buf;
	size_t n;
	switch (json_typeof(v)) {
	case JSON_STRING:
		*out = (struct yw_str){json_string_value(v), (uint32_t)json_string_length(v)};
		return 0;
	case JSON_INTEGER:
		n = (size_t)snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL: {
		double d = json_real_value(v);
		if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
			n = (size_t)snprintf(buf, sizeof(buf), "%lld", (long long)d);
		else
			n = (size_t)snprintf(buf, sizeof(buf), "%.17g", d);
		break;
	}
	case JSON_TRUE:
		*out = (struct yw_str){"true", 4};
		return 0;
	case JSON_FALSE:
		*out = (struct yw_str){"false", 5};
		return 0;
	case JSON_NULL:
		*out = (struct yw_str){"null", 4};
		return 0;
	default: {
		/* Objects and arrays inside arrays: their compact JSON text. */
		char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		if (!dump)
			return YW_ENOMEM;
		n = strlen(dump);
		char *t = yw_event_strdup(c->ev, dump, n);
		free(dump);
		if (!t)
			return YW_ELIMIT;
		*out = (struct yw_str){t, (uint32_t)n};
		return 0;
	}
	}
	char *t = yw_event_strdup(c->ev, s, n);
	if (!t)
		return YW_ELIMIT;
	*out = (struct yw_str){t, (uint32_t)n};
	return 0;
}

static void set_array(struct jctx *c, json_t *v)
{
	size_t n = json_array_size(v);
	if (n > YW_MAX_LIST_ITEMS) {
		yw_event_anomaly(c->ev, "json: list items beyond %d dropped", YW_MAX_LIST_ITEMS);
		n = YW_MAX_LIST_ITEMS;
	}
	struct yw_str *items = n ? malloc(n * sizeof(*items)) : NULL;
	if (n && !items) {
		c->err = YW_ENOMEM;
		return;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = item_text(c, json_array_get(v, i), &items[i]);
	if (rc == 0)
		rc = yw_event_set_list(c->ev, c->name, items, n);
	note(c, rc);
	free(items);
}

static void walk(struct jctx *c, json_t *v, size_t nlen, int depth)
{
	if (c->err || c->full)
		return;
	if (depth > YW_MAX_JSON_DEPTH) {
		if (!c->deep)
			yw_event_anomaly(c->ev, "json: nesting deeper than %d dropped",
			                 YW_MAX_JSON_DEPTH);
		c->deep = true;
		return;
	}
	if (json_is_object(v)) {
		const char *key;
		json_t *child;
		json_object_foreach(v, key, child)
		{
			size_t kl = strlen(key);
			size_t need = nlen + (nlen ? 1 : 0) + kl;
			if (kl == 0 || need > YW_MAX_FIELD_NAME) {
				if (!c->longname)
					yw_event_anomaly(c->ev,
					                 "json: empty or too long key dropped");
				c->longname = true;
				continue;
			}
			if (nlen)
				c->name[nlen] = '.';
			memcpy(c->name + need - kl, key, kl);
			c->name[need] = '\0';
			walk(c, child, need, depth + 1);
			if (c->err || c->full)
				return;
		}
		c->name[nlen] = '\0';
		return;
	}
	if (nlen == 0)
		return;
	if (json_is_array(v)) {
		set_array(c, v);
		return;
	}
	set_scalar(c, v);
}

int yw_decode_json_line(struct yw_event *ev, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
	if (!root && strstr(jerr.text, "too big"))
		root = json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
	if (root && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
		snprintf(jerr.text, sizeof(jerr.text), "not an object");
		jerr.column = 1;
	}
	if (!root) {
		yw_event_anomaly(ev, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return yw_event_set_str(ev, "message", line, len) == YW_ENOMEM ? YW_ENOMEM : 0;
	}
	struct jctx c = {.ev = ev};
	walk(&c, root, 0, 0);
	if (!c.err && (c.ls[0] || c.ls[1] || c.ls[2]))
		c.err = yw_event_set_logsource(ev, c.ls[0], c.ls[1], c.ls[2]);
	json_decref(root);
	return c.err;
}
