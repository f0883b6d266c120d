#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limits.h"
#include "yiwang/error.h"
#include "yiwang/event.h"

/* Bump allocator: fields' text lives here so clearing an event is O(1). The first chunk is
 * kept across clears; larger ones are freed. */
struct chunk {
	struct chunk *next;
	size_t cap, used;
	char data[];
};

#define CHUNK_SIZE 8192

struct yw_event {
	struct chunk *arena;
	size_t arena_bytes;
	struct yw_field *fields;
	size_t nfields, cap;
	const char *raw;
	size_t raw_len;
	struct yw_logsource ls;
	struct yw_str anomalies[YW_MAX_ANOMALIES];
	size_t nanomalies;
};

uint32_t yw_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void *arena_alloc(struct yw_event *ev, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct chunk *c = ev->arena;
	if (c && c->cap - c->used >= n) {
		void *p = c->data + c->used;
		c->used += n;
		return p;
	}
	if (ev->arena_bytes + n > YW_MAX_EVENT_BYTES)
		return NULL;
	size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
	if (c && c->cap * 2 > cap && c->cap * 2 <= 1024 * 1024)
		cap = c->cap * 2;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->cap = cap;
	c->used = n;
	c->next = ev->arena;
	ev->arena = c;
	ev->arena_bytes += cap;
	return c->data;
}

char *yw_event_strdup(struct yw_event *ev, const char *s, size_t len)
{
	char *p = arena_alloc(ev, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

struct yw_event *yw_event_new(void)
{
	return calloc(1, sizeof(struct yw_event));
}

void yw_event_clear(struct yw_event *ev)
{
	/* Keep only the oldest (smallest) chunk. */
	struct chunk *c = ev->arena, *keep = NULL;
	while (c) {
		struct chunk *next = c->next;
		if (!next) {
			keep = c;
		} else {
			free(c);
		}
		c = next;
	}
	if (keep)
		keep->used = 0;
	ev->arena = keep;
	ev->arena_bytes = keep ? keep->cap : 0;
	ev->nfields = 0;
	ev->raw = NULL;
	ev->raw_len = 0;
	memset(&ev->ls, 0, sizeof(ev->ls));
	ev->nanomalies = 0;
}

void yw_event_free(struct yw_event *ev)
{
	if (!ev)
		return;
	struct chunk *c = ev->arena;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	free(ev->fields);
	free(ev);
}

const struct yw_field *yw_event_get_n(const struct yw_event *ev, const char *name, size_t len)
{
	uint32_t h = yw_hash(name, len);
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct yw_field *f = &ev->fields[i];
		if (f->hash == h && f->name_len == len && memcmp(f->name, name, len) == 0)
			return f;
	}
	return NULL;
}

const struct yw_field *yw_event_get(const struct yw_event *ev, const char *name)
{
	return yw_event_get_n(ev, name, strlen(name));
}

const char *yw_event_str(const struct yw_event *ev, const char *name)
{
	const struct yw_field *f = yw_event_get(ev, name);
	return f ? f->text : NULL;
}

size_t yw_event_nfields(const struct yw_event *ev)
{
	return ev->nfields;
}

const struct yw_field *yw_event_field(const struct yw_event *ev, size_t i)
{
	return i < ev->nfields ? &ev->fields[i] : NULL;
}

/* Returns the slot for name, existing or new (with name set), or NULL with *err set. */
static struct yw_field *slot(struct yw_event *ev, const char *name, int *err)
{
	size_t len = strlen(name);
	if (len == 0 || len > YW_MAX_FIELD_NAME) {
		*err = YW_EINVAL;
		return NULL;
	}
	struct yw_field *f = (struct yw_field *)yw_event_get_n(ev, name, len);
	if (f)
		return f;
	if (ev->nfields == YW_MAX_FIELDS) {
		*err = YW_ELIMIT;
		return NULL;
	}
	if (ev->nfields == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 32;
		struct yw_field *v = realloc(ev->fields, cap * sizeof(*v));
		if (!v) {
			*err = YW_ENOMEM;
			return NULL;
		}
		ev->fields = v;
		ev->cap = cap;
	}
	char *n = yw_event_strdup(ev, name, len);
	if (!n) {
		*err = YW_ENOMEM;
		return NULL;
	}
	f = &ev->fields[ev->nfields++];
	memset(f, 0, sizeof(*f));
	f->name = n;
	f->name_len = (uint32_t)len;
	f->hash = yw_hash(name, len);
	return f;
}

static int set_text(struct yw_event *ev, const char *name, int type, const char *val, size_t len,
		    struct yw_field **out)
{
	int err = 0;
	if (len > UINT32_MAX / 2)
		return YW_ELIMIT;
	char *t = yw_event_strdup(ev, val, len);
	if (!t)
		return YW_ENOMEM;
	struct yw_field *f = slot(ev, name, &err);
	if (!f)
		return err;
	f->type = (uint8_t)type;
	f->text = t;
	f->len = (uint32_t)len;
	f->n = 1;
	f->items = NULL;
	f->num = 0;
	f->ip_family = 0;
	if (out)
		*out = f;
	return 0;
}

int yw_event_set_str(struct yw_event *ev, const char *name, const char *val, size_t len)
{
	return set_text(ev, name, YW_T_STR, val, len, NULL);
}

int yw_event_set_strz(struct yw_event *ev, const char *name, const char *val)
{
	return set_text(ev, name, YW_T_STR, val, strlen(val), NULL);
}

int yw_event_set_int(struct yw_event *ev, const char *name, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
	struct yw_field *f;
	int rc = set_text(ev, name, YW_T_INT, buf, (size_t)n, &f);
	if (rc == 0)
		f->num = v;
	return rc;
}

int yw_event_set_bool(struct yw_event *ev, const char *name, bool v)
{
	struct yw_field *f;
	int rc = set_text(ev, name, YW_T_BOOL, v ? "true" : "false", v ? 4 : 5, &f);
	if (rc == 0)
		f->num = v;
	return rc;
}

int yw_event_set_null(struct yw_event *ev, const char *name)
{
	return set_text(ev, name, YW_T_NULL, "", 0, NULL);
}

int yw_event_set_ip(struct yw_event *ev, const char *name, const char *text, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16] = {0};
	int fam;
	if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len))
		return YW_EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, bin) == 1)
		fam = 4;
	else if (inet_pton(AF_INET6, buf, bin) == 1)
		fam = 6;
	else
		return YW_EINVAL;
	/* Store the canonical text form so "::ffff:1.2.3.4" and friends compare equal. */
	char canon[INET6_ADDRSTRLEN];
	if (!inet_ntop(fam == 4 ? AF_INET : AF_INET6, bin, canon, sizeof(canon)))
		return YW_EINVAL;
	struct yw_field *f;
	int rc = set_text(ev, name, YW_T_IP, canon, strlen(canon), &f);
	if (rc == 0) {
		f->ip_family = (uint8_t)fam;
		memcpy(f->ip, bin, 16);
	}
	return rc;
}

int yw_event_set_time(struct yw_event *ev, const char *name, int64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000);
	int64_t frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		return YW_EINVAL;
	char buf[40];
	int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(frac / 1000000));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return YW_EINVAL;
	struct yw_field *f;
	int rc = set_text(ev, name, YW_T_TIME, buf, (size_t)n, &f);
	if (rc == 0)
		f->num = ns;
	return rc;
}

int yw_event_set_list(struct yw_event *ev, const char *name, const struct yw_str *items, size_t n)
{
	if (n > YW_MAX_LIST_ITEMS)
		return YW_ELIMIT;
	struct yw_str *v = n ? arena_alloc(ev, n * sizeof(*v)) : NULL;
	if (n && !v)
		return YW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *t = yw_event_strdup(ev, items[i].s, items[i].len);
		if (!t)
			return YW_ENOMEM;
		v[i].s = t;
		v[i].len = items[i].len;
	}
	int err = 0;
	struct yw_field *f = slot(ev, name, &err);
	if (!f)
		return err;
	f->type = YW_T_LIST;
	f->n = (uint32_t)n;
	f->items = v;
	f->text = n ? v[0].s : "";
	f->len = n ? v[0].len : 0;
	f->num = 0;
	return 0;
}

int yw_event_append(struct yw_event *ev, const char *name, const char *val, size_t len)
{
	const struct yw_field *old = yw_event_get(ev, name);
	if (!old)
		return yw_event_set_list(ev, name, &(struct yw_str){val, (uint32_t)len}, 1);
	size_t n = old->type == YW_T_LIST ? old->n : 1;
	if (n + 1 > YW_MAX_LIST_ITEMS)
		return YW_ELIMIT;
	struct yw_str *v = arena_alloc(ev, (n + 1) * sizeof(*v));
	if (!v)
		return YW_ENOMEM;
	if (old->type == YW_T_LIST)
		memcpy(v, old->items, n * sizeof(*v));
	else
		v[0] = (struct yw_str){old->text, old->len};
	char *t = yw_event_strdup(ev, val, len);
	if (!t)
		return YW_ENOMEM;
	v[n] = (struct yw_str){t, (uint32_t)len};
	struct yw_field *f = (struct yw_field *)old;
	f->type = YW_T_LIST;
	f->n = (uint32_t)(n + 1);
	f->items = v;
	f->text = v[0].s;
	f->len = v[0].len;
	return 0;
}

int yw_event_remove(struct yw_event *ev, const char *name)
{
	const struct yw_field *f = yw_event_get(ev, name);
	if (!f)
		return YW_ENOENT;
	size_t i = (size_t)(f - ev->fields);
	memmove(&ev->fields[i], &ev->fields[i + 1], (ev->nfields - i - 1) * sizeof(*f));
	ev->nfields--;
	return 0;
}

int yw_event_set_raw(struct yw_event *ev, const char *raw, size_t len)
{
	char *t = yw_event_strdup(ev, raw, len);
	if (!t)
		return YW_ENOMEM;
	ev->raw = t;
	ev->raw_len = len;
	return 0;
}

const char *yw_event_raw(const struct yw_event *ev, size_t *len)
{
	if (len)
		*len = ev->raw_len;
	return ev->raw;
}

int yw_event_set_logsource(struct yw_event *ev, const char *product, const char *service,
			   const char *category)
{
	const char *in[3] = {product, service, category};
	const char **out[3] = {&ev->ls.product, &ev->ls.service, &ev->ls.category};
	for (int i = 0; i < 3; i++) {
		if (!in[i]) {
			*out[i] = NULL;
			continue;
		}
		char *t = yw_event_strdup(ev, in[i], strlen(in[i]));
		if (!t)
			return YW_ENOMEM;
		*out[i] = t;
	}
	return 0;
}

const struct yw_logsource *yw_event_logsource(const struct yw_event *ev)
{
	return &ev->ls;
}

void yw_event_anomaly(struct yw_event *ev, const char *fmt, ...)
{
	if (ev->nanomalies >= YW_MAX_ANOMALIES)
		return;
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	char *t = yw_event_strdup(ev, buf, (size_t)n);
	if (!t)
		return;
	ev->anomalies[ev->nanomalies++] = (struct yw_str){t, (uint32_t)n};
}

size_t yw_event_nanomalies(const struct yw_event *ev)
{
	return ev->nanomalies;
}

static int json_value(struct yw_strbuf *out, const struct yw_field *f)
{
	switch (f->type) {
	case YW_T_INT:
		return yw_strbuf_append(out, f->text, f->len);
	case YW_T_BOOL:
		return yw_strbuf_puts(out, f->num ? "true" : "false");
	case YW_T_NULL:
		return yw_strbuf_puts(out, "null");
	case YW_T_LIST: {
		int rc = yw_strbuf_putc(out, '[');
		for (uint32_t i = 0; rc == 0 && i < f->n; i++) {
			if (i)
				rc = yw_strbuf_putc(out, ',');
			if (rc == 0)
				rc = yw_strbuf_json_str(out, f->items[i].s, f->items[i].len);
		}
		return rc ? rc : yw_strbuf_putc(out, ']');
	}
	default:
		return yw_strbuf_json_str(out, f->text, f->len);
	}
}

static int json_key(struct yw_strbuf *out, bool *first, const char *k, size_t n)
{
	int rc = 0;
	if (!*first)
		rc = yw_strbuf_putc(out, ',');
	*first = false;
	if (rc == 0)
		rc = yw_strbuf_json_str(out, k, n);
	return rc ? rc : yw_strbuf_putc(out, ':');
}

int yw_event_to_json(const struct yw_event *ev, struct yw_strbuf *out)
{
	bool first = true;
	int rc = yw_strbuf_putc(out, '{');
	const struct yw_field *ts = yw_event_get(ev, "@timestamp");
	if (ts && rc == 0) {
		rc = json_key(out, &first, ts->name, ts->name_len);
		if (rc == 0)
			rc = json_value(out, ts);
	}
	for (size_t i = 0; rc == 0 && i < ev->nfields; i++) {
		const struct yw_field *f = &ev->fields[i];
		if (f == ts)
			continue;
		rc = json_key(out, &first, f->name, f->name_len);
		if (rc == 0)
			rc = json_value(out, f);
	}
	const char *lsk[3] = {"logsource.product", "logsource.service", "logsource.category"};
	const char *lsv[3] = {ev->ls.product, ev->ls.service, ev->ls.category};
	for (int i = 0; rc == 0 && i < 3; i++) {
		if (!lsv[i])
			continue;
		rc = json_key(out, &first, lsk[i], strlen(lsk[i]));
		if (rc == 0)
			rc = yw_strbuf_json_str(out, lsv[i], strlen(lsv[i]));
	}
	if (rc == 0 && ev->raw) {
		rc = json_key(out, &first, "event.original", 14);
		if (rc == 0)
			rc = yw_strbuf_json_str(out, ev->raw, ev->raw_len);
	}
	if (rc == 0 && ev->nanomalies) {
		rc = json_key(out, &first, "yiwang.anomaly", 14);
		if (rc == 0)
			rc = yw_strbuf_putc(out, '[');
		for (size_t i = 0; rc == 0 && i < ev->nanomalies; i++) {
			if (i)
				rc = yw_strbuf_putc(out, ',');
			if (rc == 0)
				rc = yw_strbuf_json_str(out, ev->anomalies[i].s, ev->anomalies[i].len);
		}
		if (rc == 0)
			rc = yw_strbuf_putc(out, ']');
	}
	return rc ? rc : yw_strbuf_putc(out, '}');
}
