/* auditd: record headers, grouping by serial, the key=value tokenizer and the ECS mapping.
 *
 * A record is "[node=N ]type=T msg=audit(SEC.FRAC:SERIAL): k=v k=v ..." (the kernel's own
 * syslog form "type=1400 audit(...): ..." is accepted too). Records of one serial are grouped
 * into one event. Field names are the raw auditd keys under "auditd."; a key seen in several
 * records with different values becomes a list of the distinct values. */
#include <libaudit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditd.h"
#include "yw_limits.h"
#include "yiwang/error.h"

/* A held event older (in audit time) than the newest record by this much is complete even
 * without its EOE: the kernel writes all records of an event at once (auparse does the same). */
#define STALE_SECS 2
/* Fields left free for the ECS mapping when a record has too many raw keys. */
#define ECS_RESERVE 64
#define PREFIX      "auditd."
#define PREFIX_LEN  (sizeof(PREFIX) - 1)

struct hdr {
	const char *node, *type, *body;
	size_t node_len, type_len, body_len;
	int type_num; /* libaudit message type, 0 when unknown */
	int64_t sec;
	int64_t nsec;
	uint64_t serial;
	bool stamped; /* the audit(...) stamp parsed */
};

struct group {
	struct yw_strbuf buf;
	uint64_t serial, order;
	int64_t sec, nsec;
	uint32_t node_hash, nrec;
	size_t node_len;
	bool used, final, truncated;
};

struct span {
	size_t off, len;
};

struct yw_audit {
	struct group g[YW_MAX_AUDIT_PENDING];
	uint64_t next_order;
	size_t held_bytes;
	/* Decoding scratch, reused across events. */
	struct yw_strbuf tmp, args, cmd;
	struct span *spans;
	struct yw_str *items;
	size_t spans_cap;
};

int yw_audit_new(struct yw_audit **out)
{
	struct yw_audit *a = calloc(1, sizeof(*a));
	if (!a)
		return YW_ENOMEM;
	*out = a;
	return 0;
}

void yw_audit_free(struct yw_audit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < YW_MAX_AUDIT_PENDING; i++)
		yw_strbuf_free(&a->g[i].buf);
	yw_strbuf_free(&a->tmp);
	yw_strbuf_free(&a->args);
	yw_strbuf_free(&a->cmd);
	free(a->spans);
	free(a->items);
	free(a);
}

static bool is_sp(char c)
{
	/* 0x1d separates the raw part from the enriched (interpreted) part of a record. */
	return c == ' ' || c == '\t' || c == 0x1d;
}

static bool has_prefix(const char *p, const char *end, const char *pre, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, pre, n) == 0;
}

static const char *skip_sp(const char *p, const char *end)
{
	while (p < end && is_sp(*p))
		p++;
	return p;
}

static const char *token_end(const char *p, const char *end)
{
	while (p < end && !is_sp(*p))
		p++;
	return p;
}

/* Parses digits into *v; returns the end or NULL when there are none (or too many). */
static const char *parse_u64(const char *p, const char *end, uint64_t *v)
{
	const char *s = p;
	uint64_t x = 0;
	while (p < end && *p >= '0' && *p <= '9' && p - s < 19)
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (p == s || (p < end && *p >= '0' && *p <= '9'))
		return NULL;
	*v = x;
	return p;
}

/* "audit(SEC.FRAC:SERIAL)" then an optional ':'. Returns the end or NULL. */
static const char *parse_stamp(const char *p, const char *end, struct hdr *h)
{
	uint64_t sec, serial, frac = 0;
	if (!has_prefix(p, end, "audit(", 6))
		return NULL;
	p = parse_u64(p + 6, end, &sec);
	if (!p || sec > INT64_MAX / 1000000000 - 1)
		return NULL;
	if (p < end && *p == '.') {
		const char *f = ++p;
		while (p < end && *p >= '0' && *p <= '9') {
			if (p - f < 9)
				frac = frac * 10 + (uint64_t)(*p - '0');
			p++;
		}
		for (ptrdiff_t n = p - f; n < 9; n++)
			frac *= 10;
	}
	if (p >= end || *p != ':')
		return NULL;
	p = parse_u64(p + 1, end, &serial);
	if (!p || p >= end || *p != ')')
		return NULL;
	p++;
	if (p < end && *p == ':')
		p++;
	h->sec = (int64_t)sec;
	h->nsec = (int64_t)frac;
	h->serial = serial;
	h->stamped = true;
	return p;
}

static int type_number(const char *t, size_t n)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return 0;
	/* "1300" (kernel syslog form), "UNKNOWN[1329]" or a name. */
	if (n > 8 && memcmp(t, "UNKNOWN[", 8) == 0) {
		t += 8;
		n -= 8;
	}
	memcpy(buf, t, n);
	buf[n] = '\0';
	if (buf[0] >= '0' && buf[0] <= '9')
		return atoi(buf);
	int v = audit_name_to_msg_type(buf);
	return v > 0 ? v : 0;
}

static void parse_hdr(const char *line, size_t len, struct hdr *h)
{
	const char *p = line, *end = line + len, *e;
	memset(h, 0, sizeof(*h));
	p = skip_sp(p, end);
	if (has_prefix(p, end, "node=", 5)) {
		e = token_end(p + 5, end);
		h->node = p + 5;
		h->node_len = (size_t)(e - h->node);
		p = skip_sp(e, end);
	}
	if (has_prefix(p, end, "type=", 5)) {
		e = token_end(p + 5, end);
		h->type = p + 5;
		h->type_len = (size_t)(e - h->type);
		h->type_num = type_number(h->type, h->type_len);
		p = skip_sp(e, end);
	}
	const char *q = has_prefix(p, end, "msg=", 4) ? p + 4 : p;
	e = parse_stamp(q, end, h);
	if (e)
		p = skip_sp(e, end);
	h->body = p;
	h->body_len = (size_t)(end - p);
}

/* Whether a record of this type ends its event (as auparse decides): user-space and daemon
 * messages stand alone, a kernel event ends with PROCTITLE or EOE. */
static bool is_final_type(int t)
{
	return t == AUDIT_PROCTITLE || t == AUDIT_EOE || (t > AUDIT_LOGIN && t < 1300) ||
	       t == AUDIT_USER || t >= 1700;
}

const char *yw_audit_find(const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	p = skip_sp(p, end);
	if (has_prefix(p, end, "type=", 5) || has_prefix(p, end, "node=", 5))
		return p;
	while ((p = memmem(p, (size_t)(end - p), "type=", 5)) != NULL) {
		const char *t = p;
		p += 5;
		if (t > line && !is_sp(t[-1]))
			continue;
		const char *q = skip_sp(token_end(p, end), end);
		if (has_prefix(q, end, "msg=", 4))
			q += 4;
		if (!has_prefix(q, end, "audit(", 6))
			continue;
		/* Start at a "node=" token right before, so the host is kept. */
		const char *b = t;
		while (b > line && is_sp(b[-1]))
			b--;
		const char *w = b;
		while (w > line && !is_sp(w[-1]))
			w--;
		if (w < b && has_prefix(w, b, "node=", 5))
			return w;
		return t;
	}
	return NULL;
}

/* ---- grouping ---- */

static void release(struct yw_audit *a, struct group *g)
{
	a->held_bytes -= g->buf.len;
	/* Keep ordinary buffers for reuse; give back the rare huge ones. */
	if (g->buf.cap > 64 * 1024)
		yw_strbuf_free(&g->buf);
	else
		yw_strbuf_reset(&g->buf);
	g->used = false;
	g->nrec = 0;
	g->truncated = false;
}

static int emit_group(struct yw_audit *a, struct group *g, const char *note, yw_audit_group_fn fn,
                      void *ud)
{
	struct yw_audit_group out = {g->buf.data, g->buf.len, g->nrec, g->truncated, note};
	int rc = fn(ud, &out);
	release(a, g);
	return rc;
}

static struct group *oldest(struct yw_audit *a, bool only_done, const struct hdr *h)
{
	struct group *best = NULL;
	for (size_t i = 0; i < YW_MAX_AUDIT_PENDING; i++) {
		struct group *g = &a->g[i];
		if (!g->used)
			continue;
		if (only_done && !g->final && g->sec + STALE_SECS > h->sec)
			continue;
		if (!best || g->order < best->order)
			best = g;
	}
	return best;
}

static int append_rec(struct yw_audit *a, struct group *g, const char *rec, size_t len,
                      bool truncated, int type_num)
{
	int rc = 0;
	if (g->nrec)
		rc = yw_strbuf_putc(&g->buf, '\n');
	if (rc == 0)
		rc = yw_strbuf_append(&g->buf, rec, len);
	if (rc)
		return rc;
	a->held_bytes += len + (g->nrec ? 1 : 0);
	g->nrec++;
	g->truncated |= truncated;
	g->final = is_final_type(type_num);
	return 0;
}

int yw_audit_feed(struct yw_audit *a, const char *rec, size_t len, bool truncated,
                  yw_audit_group_fn fn, void *ud)
{
	struct hdr h;
	parse_hdr(rec, len, &h);
	if (!h.stamped) {
		struct yw_audit_group one = {rec, len, 1, truncated, NULL};
		return fn(ud, &one);
	}
	uint32_t nh = yw_hash(h.node ? h.node : "", h.node_len);
	struct group *g = NULL;
	for (size_t i = 0; i < YW_MAX_AUDIT_PENDING && !g; i++) {
		struct group *c = &a->g[i];
		if (c->used && c->serial == h.serial && c->sec == h.sec && c->nsec == h.nsec &&
		    c->node_hash == nh && c->node_len == h.node_len)
			g = c;
	}
	int rc;
	if (g &&
	    (g->nrec >= YW_MAX_AUDIT_RECORDS || g->buf.len + len + 1 > YW_MAX_AUDIT_GROUP_BYTES)) {
		rc = emit_group(a, g, "audit event cut: too many records or bytes", fn, ud);
		g = NULL;
		if (rc)
			return rc;
	}
	if (g) {
		rc = append_rec(a, g, rec, len, truncated, h.type_num);
		if (rc == 0 && h.type_num == AUDIT_EOE)
			rc = emit_group(a, g, NULL, fn, ud);
		return rc;
	}
	/* A new serial: what was complete (or stale) is done now. */
	while ((g = oldest(a, true, &h)) != NULL) {
		rc = emit_group(a, g, NULL, fn, ud);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < YW_MAX_AUDIT_PENDING && !g; i++)
		if (!a->g[i].used)
			g = &a->g[i];
	while (!g || a->held_bytes + len > YW_MAX_AUDIT_PENDING_BYTES) {
		struct group *old = oldest(a, false, &h);
		if (!old)
			break;
		rc = emit_group(a, old, "audit event emitted early: too many open events", fn, ud);
		if (rc)
			return rc;
		if (!g)
			g = old;
	}
	if (!g)
		return YW_ENOMEM; /* unreachable: a full table always has an oldest group */
	g->used = true;
	g->serial = h.serial;
	g->sec = h.sec;
	g->nsec = h.nsec;
	g->node_hash = nh;
	g->node_len = h.node_len;
	g->order = a->next_order++;
	g->nrec = 0;
	g->truncated = false;
	rc = append_rec(a, g, rec, len, truncated, h.type_num);
	if (rc) {
		release(a, g);
		return rc;
	}
	if (h.type_num == AUDIT_EOE)
		return emit_group(a, g, NULL, fn, ud);
	return 0;
}

int yw_audit_flush(struct yw_audit *a, yw_audit_group_fn fn, void *ud)
{
	struct group *g;
	while ((g = oldest(a, false, NULL)) != NULL) {
		int rc = emit_group(a, g, NULL, fn, ud);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- one event from a group ---- */

struct ctx {
	struct yw_audit *a;
	struct yw_event *ev;
	char name[PREFIX_LEN + YW_MAX_FIELD_NAME + 1];
	int err;
	bool full;       /* raw fields stopped at the field limit */
	bool in_execve;  /* current record is EXECVE */
	bool paren;      /* "(hostname=?, ... res=x)" old PAM form: strip the ')' */
	bool has_execve; /* group holds an EXECVE record */
	bool args_over;  /* more arguments than YW_MAX_LIST_ITEMS */
	size_t nargs;
	const char *first_type;
	size_t first_type_len;
};

static bool is_hex_upper(const char *v, size_t n)
{
	if (n < 2 || n % 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* Decodes upper-case hex into a->tmp (NUL bytes, which separate argv in a proctitle, become
 * spaces unless keep_nul). */
static int hex_decode(struct yw_audit *a, const char *v, size_t n, bool keep_nul)
{
	yw_strbuf_reset(&a->tmp);
	int rc = yw_strbuf_reserve(&a->tmp, n / 2);
	if (rc)
		return rc;
	for (size_t i = 0; i + 1 < n; i += 2) {
		char c = (char)(hexval(v[i]) << 4 | hexval(v[i + 1]));
		a->tmp.data[a->tmp.len++] = (c == '\0' && !keep_nul) ? ' ' : c;
	}
	a->tmp.data[a->tmp.len] = '\0';
	return 0;
}

/* Keys whose values auditd hex-encodes (instead of quoting) when they hold special bytes. */
static bool hex_key(const char *k, size_t n)
{
	static const char *const keys[] = {
	    "acct", "cmd",  "comm",      "cwd",   "data", "dir",      "exe",      "file",
	    "name", "path", "proctitle", "ocomm", "key",  "root_dir", "new-name", NULL};
	for (size_t i = 0; keys[i]; i++)
		if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
			return true;
	return false;
}

static bool field_has(const struct yw_field *f, const char *v, size_t n)
{
	if (f->type != YW_T_LIST)
		return f->len == n && memcmp(f->text, v, n) == 0;
	for (uint32_t i = 0; i < f->n; i++)
		if (f->items[i].len == n && memcmp(f->items[i].s, v, n) == 0)
			return true;
	return false;
}

static void note_rc(struct ctx *c, int rc)
{
	if (rc == YW_ENOMEM)
		c->err = rc;
	else if (rc && !c->full) {
		c->full = true;
		yw_event_anomaly(c->ev, "auditd fields dropped: event limit reached");
	}
}

/* Sets auditd.<key>, or adds a distinct value to it. */
static void put(struct ctx *c, const char *k, size_t kn, const char *v, size_t vn)
{
	if (c->full || c->err)
		return;
	if (kn == 0 || kn > YW_MAX_FIELD_NAME - PREFIX_LEN || memchr(k, '\0', kn))
		return;
	if (yw_event_nfields(c->ev) >= YW_MAX_FIELDS - ECS_RESERVE) {
		note_rc(c, YW_ELIMIT);
		return;
	}
	memcpy(c->name + PREFIX_LEN, k, kn);
	c->name[PREFIX_LEN + kn] = '\0';
	const struct yw_field *f = yw_event_get_n(c->ev, c->name, PREFIX_LEN + kn);
	if (!f)
		note_rc(c, yw_event_set_str(c->ev, c->name, v, vn));
	else if (!field_has(f, v, vn))
		note_rc(c, yw_event_append(c->ev, c->name, v, vn));
}

/* EXECVE argument index from "aN" or "aN[i]"; -1 otherwise. *chunk is i (or -1). */
static long arg_index(const char *k, size_t n, long *chunk)
{
	*chunk = -1;
	if (n < 2 || k[0] != 'a' || k[1] < '0' || k[1] > '9')
		return -1;
	size_t i = 1;
	long idx = 0;
	while (i < n && k[i] >= '0' && k[i] <= '9' && idx < 1000000)
		idx = idx * 10 + (k[i++] - '0');
	if (i == n)
		return idx;
	if (k[i] != '[' || k[n - 1] != ']')
		return -1;
	long ch = 0;
	for (i++; i < n - 1; i++) {
		if (k[i] < '0' || k[i] > '9' || ch > 1000000)
			return -1;
		ch = ch * 10 + (k[i] - '0');
	}
	*chunk = ch;
	return idx;
}

static int grow_spans(struct yw_audit *a, size_t need)
{
	if (need <= a->spans_cap)
		return 0;
	size_t cap = a->spans_cap ? a->spans_cap * 2 : 64;
	while (cap < need)
		cap *= 2;
	struct span *s = realloc(a->spans, cap * sizeof(*s));
	if (!s)
		return YW_ENOMEM;
	a->spans = s;
	struct yw_str *it = realloc(a->items, cap * sizeof(*it));
	if (!it)
		return YW_ENOMEM;
	a->items = it;
	a->spans_cap = cap;
	return 0;
}

/* One EXECVE argument (already decoded): a new one, or the next chunk of a split one. */
static void add_arg(struct ctx *c, const char *v, size_t n, long chunk)
{
	struct yw_audit *a = c->a;
	if (chunk > 0 && c->nargs) {
		int rc = yw_strbuf_append(&a->args, v, n);
		if (rc)
			c->err = rc;
		else
			a->spans[c->nargs - 1].len += n;
		return;
	}
	if (c->nargs >= YW_MAX_LIST_ITEMS) {
		c->args_over = true;
		return;
	}
	int rc = grow_spans(a, c->nargs + 1);
	if (rc == 0)
		rc = yw_strbuf_append(&a->args, v, n);
	if (rc) {
		c->err = rc;
		return;
	}
	a->spans[c->nargs++] = (struct span){a->args.len - n, n};
}

/* Handles one key=value (value without its quotes); quoted says whether it had any. */
static void kv(struct ctx *c, const char *k, size_t kn, const char *v, size_t vn, bool quoted)
{
	long chunk = -1, idx = c->in_execve ? arg_index(k, kn, &chunk) : -1;
	bool hex = !quoted && is_hex_upper(v, vn);
	if (idx >= 0) {
		if (hex) {
			if ((c->err = hex_decode(c->a, v, vn, true)) != 0)
				return;
			v = c->a->tmp.data;
			vn = c->a->tmp.len;
		}
		add_arg(c, v, vn, chunk);
		/* Split arguments are put together; their chunks are not kept as fields. */
		if (chunk < 0)
			put(c, k, kn, v, vn);
		return;
	}
	if (hex && kn == 3 && memcmp(k, "key", 3) == 0) {
		/* Several rule keys are hex-encoded, separated by 0x01. */
		if ((c->err = hex_decode(c->a, v, vn, false)) != 0)
			return;
		const char *s = c->a->tmp.data, *e = s + c->a->tmp.len;
		while (s <= e) {
			const char *sep = memchr(s, 0x01, (size_t)(e - s));
			if (!sep)
				sep = e;
			if (sep > s)
				put(c, k, kn, s, (size_t)(sep - s));
			s = sep + 1;
		}
		return;
	}
	if (hex && hex_key(k, kn)) {
		if ((c->err = hex_decode(c->a, v, vn, false)) != 0)
			return;
		v = c->a->tmp.data;
		vn = c->a->tmp.len;
	}
	put(c, k, kn, v, vn);
}

/* SELinux "avc:  denied  { read write } for  " prefix → seresult, seperms. */
static const char *avc_prefix(struct ctx *c, const char *p, const char *end)
{
	if (!has_prefix(p, end, "avc:", 4))
		return p;
	const char *r = skip_sp(p + 4, end), *re = token_end(r, end);
	const char *b = skip_sp(re, end);
	if (b >= end || *b != '{')
		return p;
	const char *close = memchr(b, '}', (size_t)(end - b));
	if (!close)
		return p;
	put(c, "seresult", 8, r, (size_t)(re - r));
	struct yw_strbuf *t = &c->a->cmd;
	yw_strbuf_reset(t);
	for (const char *q = skip_sp(b + 1, close); q < close; q = skip_sp(q, close)) {
		const char *qe = token_end(q, close);
		if ((t->len && yw_strbuf_putc(t, ',')) ||
		    yw_strbuf_append(t, q, (size_t)(qe - q))) {
			c->err = YW_ENOMEM;
			return end;
		}
		q = qe;
	}
	put(c, "seperms", 7, t->data ? t->data : "", t->len);
	p = skip_sp(close + 1, end);
	if (has_prefix(p, end, "for", 3))
		p += 3;
	return p;
}

/* The key=value tokenizer. depth 0 is the record body, 1 a msg='...' payload. */
static void tokenize(struct ctx *c, const char *p, const char *end, int depth)
{
	if (depth == 0)
		p = avc_prefix(c, skip_sp(p, end), end);
	while (!c->err) {
		p = skip_sp(p, end);
		if (p >= end)
			break;
		const char *k = p;
		while (p < end && *p != '=' && !is_sp(*p))
			p++;
		if (p >= end || *p != '=') {
			continue; /* a bare word: free text such as "user" or "login" */
		}
		const char *ke = p++;
		if (k < ke && *k == '(') {
			k++;
			c->paren = true;
		}
		const char *v = p, *ve;
		bool quoted = false;
		if (p < end && (*p == '"' || *p == '\'')) {
			char q = *p;
			const char *close = memchr(p + 1, q, (size_t)(end - p - 1));
			v = p + 1;
			if (!close) {
				yw_event_anomaly(c->ev,
				                 "auditd: unterminated %c-quoted value of %.*s", q,
				                 (int)(ke - k > 64 ? 64 : ke - k), k);
				close = end;
			}
			ve = close;
			p = close < end ? close + 1 : end;
			if (q == '\'' && depth == 0 && memchr(v, '=', (size_t)(ve - v))) {
				/* msg='op=... res=...': the payload's own fields. */
				tokenize(c, v, ve, 1);
				continue;
			}
			quoted = true;
		} else {
			ve = token_end(p, end);
			p = ve;
			if (ve > v && ve[-1] == ',')
				ve--;
			if (c->paren && ve > v && ve[-1] == ')')
				ve--;
			/* A stray closing quote after a hex value (seen in real logs). */
			if (ve > v && ve[-1] == '"' && !memchr(v, '"', (size_t)(ve - v - 1)))
				ve--;
		}
		kv(c, k, (size_t)(ke - k), v, (size_t)(ve - v), quoted);
	}
}

static const struct yw_field *get(struct ctx *c, const char *name)
{
	return yw_event_get(c->ev, name);
}

/* First value of auditd.<key> when it carries information. */
static const char *val(struct ctx *c, const char *key, size_t *n)
{
	char name[64];
	snprintf(name, sizeof(name), PREFIX "%s", key);
	const struct yw_field *f = get(c, name);
	if (!f || f->len == 0)
		return NULL;
	if (strcmp(f->text, "?") == 0 || strcmp(f->text, "(null)") == 0 ||
	    strcmp(f->text, "(none)") == 0)
		return NULL;
	if (n)
		*n = f->len;
	return f->text;
}

static void set_pid(struct ctx *c, const char *ecs, const char *key)
{
	const char *v = val(c, key, NULL);
	if (!v)
		return;
	char *e;
	long long x = strtoll(v, &e, 10);
	if (*e == '\0' && x >= 0)
		note_rc(c, yw_event_set_int(c->ev, ecs, x));
}

static void copy_str(struct ctx *c, const char *ecs, const char *key)
{
	size_t n;
	const char *v = val(c, key, &n);
	if (v)
		note_rc(c, yw_event_set_str(c->ev, ecs, v, n));
}

struct ecs_type {
	const char *rec, *category, *type1, *type2;
};

static const struct ecs_type ecs_types[] = {
    {"EXECVE", "process", "start", NULL},
    {"USER_AUTH", "authentication", "info", NULL},
    {"USER_ACCT", "authentication", "info", NULL},
    {"USER_LOGIN", "authentication", "start", NULL},
    {"USER_LOGOUT", "authentication", "end", NULL},
    {"USER_START", "session", "start", NULL},
    {"USER_END", "session", "end", NULL},
    {"CRED_ACQ", "authentication", "info", NULL},
    {"CRED_REFR", "authentication", "info", NULL},
    {"CRED_DISP", "authentication", "info", NULL},
    {"USER_ERR", "authentication", "info", NULL},
    {"ADD_USER", "iam", "user", "creation"},
    {"DEL_USER", "iam", "user", "deletion"},
    {"ADD_GROUP", "iam", "group", "creation"},
    {"DEL_GROUP", "iam", "group", "deletion"},
    {"USER_MGMT", "iam", "user", "change"},
    {"GRP_MGMT", "iam", "group", "change"},
    {"USER_CHAUTHTOK", "iam", "user", "change"},
    {"GRP_CHAUTHTOK", "iam", "group", "change"},
    {"USER_CMD", "process", "info", NULL},
    {"CONFIG_CHANGE", "configuration", "change", NULL},
    {NULL, NULL, NULL, NULL},
};

static bool outcome(const char *v, bool *ok)
{
	if (!v)
		return false;
	if (!strcmp(v, "yes") || !strcmp(v, "1") || !strncmp(v, "suc", 3)) {
		*ok = true;
		return true;
	}
	if (!strcmp(v, "no") || !strcmp(v, "0") || !strncmp(v, "fail", 4)) {
		*ok = false;
		return true;
	}
	return false;
}

static void syscall_name(struct ctx *c)
{
	const char *arch = val(c, "arch", NULL), *sc = val(c, "syscall", NULL);
	if (!arch || !sc)
		return;
	char *e;
	unsigned long elf = strtoul(arch, &e, 16);
	if (*e != '\0')
		return;
	int machine = audit_elf_to_machine((unsigned int)elf);
	if (machine < 0)
		return;
	const char *mname = audit_machine_to_name(machine);
	if (mname && !get(c, PREFIX "ARCH"))
		note_rc(c, yw_event_set_strz(c->ev, PREFIX "ARCH", mname));
	long n = strtol(sc, &e, 10);
	if (*e != '\0' || n < 0 || n > 100000)
		return;
	const char *name = audit_syscall_to_name((int)n, machine);
	if (name && !get(c, PREFIX "SYSCALL"))
		note_rc(c, yw_event_set_strz(c->ev, PREFIX "SYSCALL", name));
}

static void map_ecs(struct ctx *c, const struct hdr *first)
{
	struct yw_event *ev = c->ev;
	struct yw_audit *a = c->a;
	if (first->stamped)
		note_rc(c,
		        yw_event_set_time(ev, "@timestamp", first->sec * 1000000000 + first->nsec));
	syscall_name(c);
	const char *scname = val(c, "SYSCALL", NULL);
	bool exec =
	    c->has_execve || (scname && (!strcmp(scname, "execve") || !strcmp(scname, "execveat")));

	/* event.action: the syscall, else the first record's type in lower case. */
	char act[64];
	if (scname) {
		snprintf(act, sizeof(act), "%s", scname);
	} else {
		size_t n =
		    c->first_type_len < sizeof(act) - 1 ? c->first_type_len : sizeof(act) - 1;
		for (size_t i = 0; i < n; i++) {
			char ch = c->first_type[i];
			act[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		}
		act[n] = '\0';
	}
	if (act[0])
		note_rc(c, yw_event_set_strz(ev, "event.action", act));

	const struct yw_field *types = get(c, PREFIX "type");
	for (uint32_t i = 0; types && i < types->n; i++) {
		const char *t = types->type == YW_T_LIST ? types->items[i].s : types->text;
		const struct ecs_type *m = ecs_types;
		while (m->rec && strcmp(m->rec, t) != 0)
			m++;
		if (!m->rec)
			continue;
		note_rc(c, yw_event_set_strz(ev, "event.category", m->category));
		struct yw_str ty[2] = {{m->type1, (uint32_t)strlen(m->type1)},
		                       {m->type2, m->type2 ? (uint32_t)strlen(m->type2) : 0}};
		note_rc(c, yw_event_set_list(ev, "event.type", ty, m->type2 ? 2 : 1));
		break;
	}
	bool ok;
	if (outcome(val(c, "success", NULL), &ok) || outcome(val(c, "res", NULL), &ok))
		note_rc(c, yw_event_set_strz(ev, "event.outcome", ok ? "success" : "failure"));

	set_pid(c, "process.pid", "pid");
	set_pid(c, "process.parent.pid", "ppid");
	copy_str(c, "process.executable", "exe");
	copy_str(c, "process.name", "comm");
	copy_str(c, "process.working_directory", "cwd");
	copy_str(c, "user.id", "uid");
	copy_str(c, "user.audit.id", "auid");
	copy_str(c, "user.effective.id", "euid");
	copy_str(c, "user.group.id", "gid");
	if (val(c, "acct", NULL))
		copy_str(c, "user.name", "acct");
	else
		copy_str(c, "user.name", "UID");

	size_t n;
	const char *addr = val(c, "addr", &n);
	if (addr)
		yw_event_set_ip(ev, "source.ip", addr, n); /* not an address: left out */

	const struct yw_field *name = get(c, PREFIX "name");
	if (name && name->type == YW_T_LIST)
		note_rc(c, yw_event_set_list(ev, "file.path", name->items, name->n));
	else if (name)
		note_rc(c, yw_event_set_str(ev, "file.path", name->text, name->len));

	if (c->nargs) {
		for (size_t i = 0; i < c->nargs; i++)
			a->items[i] = (struct yw_str){a->args.data + a->spans[i].off,
			                              (uint32_t)a->spans[i].len};
		note_rc(c, yw_event_set_list(ev, "process.args", a->items, c->nargs));
		yw_strbuf_reset(&a->cmd);
		for (size_t i = 0; i < c->nargs && !c->err; i++) {
			if ((i && yw_strbuf_putc(&a->cmd, ' ')) ||
			    yw_strbuf_append(&a->cmd, a->items[i].s, a->items[i].len))
				c->err = YW_ENOMEM;
		}
		if (!c->err)
			note_rc(c, yw_event_set_str(ev, "process.command_line", a->cmd.data,
			                            a->cmd.len));
		if (c->args_over)
			yw_event_anomaly(ev, "auditd: arguments beyond %d dropped",
			                 YW_MAX_LIST_ITEMS);
	} else {
		copy_str(c, "process.command_line", "proctitle");
	}
	if (first->node_len)
		note_rc(c, yw_event_set_str(ev, "host.name", first->node, first->node_len));
	note_rc(c, yw_event_set_logsource(ev, "linux", "auditd", exec ? "process_creation" : NULL));
}

int yw_audit_decode(struct yw_audit *a, struct yw_event *ev, const char *text, size_t len)
{
	struct ctx c = {.a = a, .ev = ev};
	memcpy(c.name, PREFIX, PREFIX_LEN);
	yw_strbuf_reset(&a->args);
	struct hdr first = {0};
	const char *p = text, *end = text + len;
	bool any = false;
	while (p < end && !c.err) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct hdr h;
		parse_hdr(p, (size_t)(le - p), &h);
		if (!any) {
			first = h;
			any = true;
			if (h.stamped)
				note_rc(&c,
				        yw_event_set_int(ev, PREFIX "sequence", (int64_t)h.serial));
			else
				yw_event_anomaly(ev, "auditd: no audit(time:serial) header");
		}
		if (h.type_len) {
			char tn[64];
			const char *t = h.type;
			size_t tl = h.type_len;
			const char *name = (t[0] >= '0' && t[0] <= '9' && h.type_num)
			                       ? audit_msg_type_to_name(h.type_num)
			                       : NULL;
			if (name) {
				snprintf(tn, sizeof(tn), "%s", name);
				t = tn;
				tl = strlen(tn);
			}
			if (!c.first_type) {
				c.first_type = t == tn ? yw_event_strdup(ev, tn, tl) : t;
				c.first_type_len = c.first_type ? tl : 0;
			}
			/* Always a list, even for one record, so rules see one shape. */
			const struct yw_field *tf = yw_event_get(ev, PREFIX "type");
			if (!tf || !field_has(tf, t, tl))
				note_rc(&c, yw_event_append(ev, PREFIX "type", t, tl));
			c.in_execve = h.type_num == AUDIT_EXECVE;
			c.has_execve |= c.in_execve;
		} else {
			c.in_execve = false;
			yw_event_anomaly(ev, "auditd: record without type=");
		}
		c.paren = false;
		tokenize(&c, h.body, h.body + h.body_len, 0);
		p = nl ? nl + 1 : end;
	}
	if (!first.stamped && !c.err)
		note_rc(&c, yw_event_set_str(ev, "message", text, len));
	if (!c.err)
		map_ecs(&c, &first);
	return c.err;
}
