#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "yw_limits.h"
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

/* Open-addressed index of field names: slots hold field index + 1 (0 = empty). Twice the
 * field limit keeps the load factor at or under one half. */
#define INDEX_SIZE (2 * YW_MAX_FIELDS)
_Static_assert((INDEX_SIZE & (INDEX_SIZE - 1)) == 0, "index size must be a power of two");
_Static_assert(YW_MAX_FIELDS < UINT16_MAX, "field indexes are 16-bit");

struct yw_event {
	struct chunk *arena;
	size_t arena_bytes;
	struct yw_field *fields;
	size_t nfields, cap;
	uint16_t index[INDEX_SIZE];
	const char *raw;
	size_t raw_len;
	struct yw_logsource ls;
	struct yw_str anomalies[YW_MAX_ANOMALIES];
	size_t nanomalies;
};

/* Word-at-a-time multiply-xorshift hash: field names are hashed on every set and lookup, and
 * a byte-at-a-time hash was the largest single cost of decoding. Not for untrusted keys in
 * tables whose size an attacker controls (fields per event are capped). */
uint32_t yw_hash(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return (uint32_t)h;
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
	/* Keep only the newest chunk: chunks double in size, so it is the largest, and the next
	 * event of the same kind fits in it without a malloc. Huge ones (a 1 MiB line) go. */
	struct chunk *keep = ev->arena, *c = keep ? keep->next : NULL;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	if (keep && keep->cap > 256 * 1024) {
		free(keep);
		keep = NULL;
	}
	if (keep)
		keep->next = NULL;
	if (keep)
		keep->used = 0;
	ev->arena = keep;
	ev->arena_bytes = keep ? keep->cap : 0;
	/* Empty only the index slots in use: cheaper than clearing the whole table. */
	for (size_t i = 0; i < ev->nfields; i++) {
		uint32_t j = ev->fields[i].hash & (INDEX_SIZE - 1);
		while (ev->index[j])
			ev->index[j++] = 0, j &= INDEX_SIZE - 1;
	}
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

/* Returns the index slot holding name, or the empty slot where it would go. */
static uint32_t index_find(const struct yw_event *ev, const char *name, size_t len, uint32_t h)
{
	uint32_t j = h & (INDEX_SIZE - 1);
	while (ev->index[j]) {
		const struct yw_field *f = &ev->fields[ev->index[j] - 1];
		if (f->hash == h && f->name_len == len && memcmp(f->name, name, len) == 0)
			return j;
		j = (j + 1) & (INDEX_SIZE - 1);
	}
	return j;
}

static void index_rebuild(struct yw_event *ev)
{
	memset(ev->index, 0, sizeof(ev->index));
	for (size_t i = 0; i < ev->nfields; i++) {
		const struct yw_field *f = &ev->fields[i];
		ev->index[index_find(ev, f->name, f->name_len, f->hash)] = (uint16_t)(i + 1);
	}
}

const struct yw_field *yw_event_get_n(const struct yw_event *ev, const char *name, size_t len)
{
	uint32_t j = index_find(ev, name, len, yw_hash(name, len));
	return ev->index[j] ? &ev->fields[ev->index[j] - 1] : NULL;
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
	uint32_t h = yw_hash(name, len);
	uint32_t j = index_find(ev, name, len, h);
	if (ev->index[j])
		return &ev->fields[ev->index[j] - 1];
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
	struct yw_field *f = &ev->fields[ev->nfields++];
	memset(f, 0, sizeof(*f));
	f->name = n;
	f->name_len = (uint32_t)len;
	f->hash = h;
	ev->index[j] = (uint16_t)ev->nfields;
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

/* Writes v in decimal ending at end; returns the start. printf is the slowest part of a
 * decoder otherwise. */
static char *fmt_i64(char *end, int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char *p = end;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return p;
}

int yw_event_set_int(struct yw_event *ev, const char *name, int64_t v)
{
	char buf[24];
	char *p = fmt_i64(buf + sizeof(buf), v);
	struct yw_field *f = NULL;
	int rc = set_text(ev, name, YW_T_INT, p, (size_t)(buf + sizeof(buf) - p), &f);
	if (rc == 0)
		f->num = v;
	return rc;
}

int yw_event_set_bool(struct yw_event *ev, const char *name, bool v)
{
	struct yw_field *f = NULL;
	int rc = set_text(ev, name, YW_T_BOOL, v ? "true" : "false", v ? 4 : 5, &f);
	if (rc == 0)
		f->num = v;
	return rc;
}

int yw_event_set_null(struct yw_event *ev, const char *name)
{
	return set_text(ev, name, YW_T_NULL, "", 0, NULL);
}

/* Strict dotted quad without leading zeros, which is also inet_ntop's canonical form, so the
 * common IPv4 case needs neither inet_pton nor inet_ntop. */
static bool parse_ipv4(const char *s, size_t len, unsigned char out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part && (i >= len || s[i++] != '.'))
			return false;
		size_t start = i;
		unsigned v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return false;
		out[part] = (unsigned char)v;
	}
	return i == len;
}

int yw_event_set_ip(struct yw_event *ev, const char *name, const char *text, size_t len)
{
	unsigned char v4[4];
	if (parse_ipv4(text, len, v4)) {
		struct yw_field *f;
		int rc = set_text(ev, name, YW_T_IP, text, len, &f);
		if (rc == 0) {
			f->ip_family = 4;
			memset(f->ip, 0, sizeof(f->ip));
			memcpy(f->ip, v4, 4);
		}
		return rc;
	}
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
	struct yw_field *f = NULL;
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
	if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return YW_EINVAL;
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ", formatted by hand: snprintf dominated decoding. */
	char buf[24];
	int fields[7] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min,          tm.tm_sec,     (int)(frac / 1000000)};
	static const char seps[] = "--T::.Z";
	static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
	char *p = buf;
	for (int i = 0; i < 7; i++) {
		int v = fields[i];
		for (int w = widths[i] - 1; w >= 0; w--) {
			p[w] = (char)('0' + v % 10);
			v /= 10;
		}
		p += widths[i];
		*p++ = seps[i];
	}
	struct yw_field *f = NULL;
	int rc = set_text(ev, name, YW_T_TIME, buf, (size_t)(p - buf), &f);
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
	index_rebuild(ev);
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
