/* Rendering an alert for each channel type. Titles come from rules, but agent names, event
 * fields and parts of titles of correlation alerts come from log lines, which an attacker
 * writes: every string passes through an escaper for its target format, invalid UTF-8 becomes
 * U+FFFD, and control characters never reach a receiver raw. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notify_int.h"
#include "yiwang/error.h"
#include "yiwang/store.h"
#include "yw_limits.h"

const char *const yw_notify_key_fields[] = {
    "host.name",     "user.name",      "source.ip",
    "source.port",   "destination.ip", "destination.port",
    "process.name",  "process.pid",    "process.command_line",
    "file.path",     "url.original",   "event.action",
    "event.outcome", "message",
};
const size_t yw_notify_nkey_fields = sizeof(yw_notify_key_fields) / sizeof(*yw_notify_key_fields);

enum esc {
	ESC_PLAIN,   /* control characters become spaces */
	ESC_MD,      /* chat markdown: syntax characters become their full-width forms */
	ESC_SD,      /* RFC 5424 PARAM-VALUE: \" \\ \] */
	ESC_CEF_HDR, /* CEF header field: \| \\ */
	ESC_CEF_EXT, /* CEF extension value: \\ \= \n \r */
	ESC_HTML,    /* &amp; &lt; &gt; &quot; &#39; */
};

/* Length of the valid UTF-8 sequence at p, or 0 (overlong, surrogate, beyond U+10FFFF,
 * truncated). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len;
	unsigned min;
	unsigned cp;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t yw_notify_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t i = max;
	/* Back up over continuation bytes to the start of the sequence that crosses max. */
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static int put_fullwidth(struct yw_strbuf *b, unsigned char c)
{
	unsigned cp = 0xff01 + (unsigned)(c - 0x21);
	char u[3] = {(char)(0xe0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3f)),
	             (char)(0x80 | (cp & 0x3f))};
	return yw_strbuf_append(b, u, 3);
}

static int put_ascii(struct yw_strbuf *b, unsigned char c, int mode)
{
	if (c < 0x20 || c == 0x7f) {
		if (mode == ESC_CEF_EXT && c == '\n')
			return yw_strbuf_append(b, "\\n", 2);
		if (mode == ESC_CEF_EXT && c == '\r')
			return yw_strbuf_append(b, "\\r", 2);
		return yw_strbuf_putc(b, ' ');
	}
	switch (mode) {
	case ESC_MD:
		if (strchr("[]()<>`*_~\\|&@#!", c))
			return put_fullwidth(b, c);
		break;
	case ESC_SD:
		if (c == '"' || c == '\\' || c == ']')
			return yw_strbuf_printf(b, "\\%c", c);
		break;
	case ESC_CEF_HDR:
		if (c == '|' || c == '\\')
			return yw_strbuf_printf(b, "\\%c", c);
		break;
	case ESC_CEF_EXT:
		if (c == '=' || c == '\\')
			return yw_strbuf_printf(b, "\\%c", c);
		break;
	case ESC_HTML:
		switch (c) {
		case '&':
			return yw_strbuf_puts(b, "&amp;");
		case '<':
			return yw_strbuf_puts(b, "&lt;");
		case '>':
			return yw_strbuf_puts(b, "&gt;");
		case '"':
			return yw_strbuf_puts(b, "&quot;");
		case '\'':
			return yw_strbuf_puts(b, "&#39;");
		}
		break;
	}
	return yw_strbuf_putc(b, (char)c);
}

/* Appends s[0..n) (NULL = "-"), cut at max bytes on a character boundary, escaped for mode. */
static int put_text(struct yw_strbuf *b, const char *s, size_t n, size_t max, int mode)
{
	if (!s) {
		s = "-";
		n = 1;
	}
	bool cut = false;
	if (n > max) {
		n = yw_notify_utf8_cut(s, n, max);
		cut = true;
	}
	const unsigned char *p = (const unsigned char *)s;
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		if (p[i] < 0x80) {
			rc = put_ascii(b, p[i], mode);
			i++;
			continue;
		}
		size_t k = utf8_seq(p + i, n - i);
		if (k == 0) {
			rc = yw_strbuf_append(b, "\xef\xbf\xbd", 3);
			i++;
		} else {
			/* U+2028/U+2029 and C1 controls split lines in some viewers. */
			unsigned c1 = p[i] == 0xc2 && p[i + 1] < 0xa0;
			unsigned sep = k == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 &&
			               (p[i + 2] == 0xa8 || p[i + 2] == 0xa9);
			rc = c1 || sep ? yw_strbuf_putc(b, ' ') : yw_strbuf_append(b, s + i, k);
			i += k;
		}
	}
	if (!rc && cut)
		rc = yw_strbuf_append(b, "\xe2\x80\xa6", 3); /* … */
	return rc;
}

static int put_str(struct yw_strbuf *b, const char *s, int mode)
{
	return put_text(b, s, s ? strlen(s) : 0, YW_NOTIFY_MAX_FIELD, mode);
}

void yw_notify_time(int64_t ts_ns, char out[32])
{
	time_t sec = (time_t)(ts_ns / 1000000000);
	long ms = (long)((ts_ns % 1000000000) / 1000000);
	if (ms < 0) {
		sec--;
		ms += 1000;
	}
	struct tm tm;
	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ms);
}

/* ---- key fields ---- */

static int field_text(json_t *v, char *num, size_t numsz, const char **s, size_t *n)
{
	if (json_is_string(v)) {
		*s = json_string_value(v);
		*n = json_string_length(v);
	} else if (json_is_integer(v)) {
		*n = (size_t)snprintf(num, numsz, "%lld", (long long)json_integer_value(v));
		*s = num;
	} else if (json_is_real(v)) {
		*n = (size_t)snprintf(num, numsz, "%g", json_real_value(v));
		*s = num;
	} else if (json_is_boolean(v)) {
		*s = json_is_true(v) ? "true" : "false";
		*n = strlen(*s);
	} else {
		return -1;
	}
	return 0;
}

/* Calls fn for each key field present in event_json, in display order. */
typedef int (*field_fn)(void *ud, const char *key, const char *val, size_t n);
static int each_field(const char *event_json, field_fn fn, void *ud)
{
	if (!event_json || !*event_json)
		return 0;
	json_t *o = json_loads(event_json, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return 0;
	}
	int rc = 0;
	char num[64];
	for (size_t i = 0; i < yw_notify_nkey_fields && !rc; i++) {
		const char *s;
		size_t n;
		json_t *v = json_object_get(o, yw_notify_key_fields[i]);
		if (v && !field_text(v, num, sizeof(num), &s, &n))
			rc = fn(ud, yw_notify_key_fields[i], s, n);
	}
	json_decref(o);
	return rc;
}

struct pick_ctx {
	struct yw_strbuf *b;
	bool first;
};

static int pick_one(void *ud, const char *key, const char *val, size_t n)
{
	struct pick_ctx *c = ud;
	int rc = yw_strbuf_puts(c->b, c->first ? "" : ",");
	c->first = false;
	if (!rc)
		rc = yw_strbuf_json_str(c->b, key, strlen(key));
	if (!rc)
		rc = yw_strbuf_putc(c->b, ':');
	if (!rc)
		rc = yw_strbuf_json_str(c->b, val, yw_notify_utf8_cut(val, n, YW_NOTIFY_MAX_FIELD));
	return rc;
}

int yw_notify_pick_fields(const char *event_json, struct yw_strbuf *out)
{
	struct pick_ctx c = {out, true};
	int rc = yw_strbuf_putc(out, '{');
	if (!rc)
		rc = each_field(event_json, pick_one, &c);
	return rc ? rc : yw_strbuf_putc(out, '}');
}

/* ---- chat markdown (WeCom, DingTalk, Feishu) ---- */

struct md_ctx {
	struct yw_strbuf *b;
	int type;
};

static int md_field(void *ud, const char *key, const char *val, size_t n)
{
	struct md_ctx *c = ud;
	int rc = yw_strbuf_puts(c->b, c->type == YW_NOTIFY_FEISHU ? "\n" : "\n> ");
	if (!rc)
		rc = put_str(c->b, key, ESC_MD);
	if (!rc)
		rc = yw_strbuf_puts(c->b, ": ");
	if (!rc)
		rc = put_text(c->b, val, n, YW_NOTIFY_MAX_FIELD, ESC_MD);
	return rc;
}

static int put_tags(struct yw_strbuf *b, const struct yw_notify_alert *a, int mode)
{
	int rc = 0;
	size_t nt = a->ntags < YW_NOTIFY_MAX_TAGS ? a->ntags : YW_NOTIFY_MAX_TAGS;
	for (size_t i = 0; i < nt && !rc; i++) {
		if (i)
			rc = yw_strbuf_puts(b, mode == ESC_CEF_EXT ? " " : ", ");
		if (!rc)
			rc = put_str(b, a->tags[i], mode);
	}
	return rc;
}

static int render_markdown(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                           struct yw_strbuf *md)
{
	char when[32];
	yw_notify_time(a->ts_ns, when);
	const char *lvl = yw_level_name(a->level);
	int rc;
	if (ch->type == YW_NOTIFY_WECOM)
		rc = yw_strbuf_printf(md, "### <font color=\"%s\">[%s]</font> ",
		                      a->level >= YW_LEVEL_HIGH ? "warning" : "comment", lvl);
	else if (ch->type == YW_NOTIFY_DINGTALK)
		rc = yw_strbuf_printf(md, "### [%s] ", lvl);
	else
		rc = yw_strbuf_printf(md, "**[%s]** ", lvl);
	if (!rc)
		rc = put_str(md, a->title, ESC_MD);
	/* DingTalk needs a blank line between markdown paragraphs; the others take one too. */
	const char *nl = "\n\n";
	if (!rc)
		rc = yw_strbuf_printf(md, "%s**Agent:** ", nl);
	if (!rc)
		rc = put_str(md, a->agent_name, ESC_MD);
	if (!rc)
		rc = yw_strbuf_puts(md, " (");
	if (!rc)
		rc = put_str(md, a->agent_id, ESC_MD);
	if (!rc)
		rc = yw_strbuf_putc(md, ')');
	if (!rc && a->group) {
		rc = yw_strbuf_printf(md, "%s**Group:** ", nl);
		if (!rc)
			rc = put_str(md, a->group, ESC_MD);
	}
	if (!rc)
		rc = yw_strbuf_printf(md, "%s**Time:** %s%s**Rule:** ", nl, when, nl);
	if (!rc)
		rc = put_str(md, a->rule_id, ESC_MD);
	if (!rc && a->ntags) {
		rc = yw_strbuf_printf(md, "%s**ATT&CK:** ", nl);
		if (!rc)
			rc = put_tags(md, a, ESC_MD);
	}
	if (!rc && a->solution) {
		rc = yw_strbuf_printf(md, "%s**Solution:** ", nl);
		if (!rc)
			rc = put_str(md, a->solution, ESC_MD);
	}
	/* Event fields last: they are the longest part, and a cut falls on them. */
	struct md_ctx c = {md, ch->type};
	if (!rc)
		rc = yw_strbuf_printf(md, "%s**Event:**", nl);
	if (!rc)
		rc = each_field(a->event_json, md_field, &c);
	return rc;
}

/* Cuts markdown to max bytes on a character boundary, marking the cut. */
static void md_limit(struct yw_strbuf *md, size_t max)
{
	static const char mark[] = "\n\xe2\x80\xa6 (truncated)";
	if (md->len <= max)
		return;
	size_t keep = yw_notify_utf8_cut(md->data, md->len, max - (sizeof(mark) - 1));
	md->len = keep;
	yw_strbuf_append(md, mark, sizeof(mark) - 1); /* fits: len + mark <= max < cap */
}

static int render_chat(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                       struct yw_strbuf *out)
{
	struct yw_strbuf md = YW_STRBUF_INIT;
	int rc = render_markdown(ch, a, &md);
	if (rc)
		goto out;
	if (ch->type == YW_NOTIFY_WECOM) {
		md_limit(&md, YW_NOTIFY_WECOM_MAX);
		rc = yw_strbuf_puts(out, "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":");
		if (!rc)
			rc = yw_strbuf_json_str(out, md.data, md.len);
		if (!rc)
			rc = yw_strbuf_puts(out, "}}");
	} else if (ch->type == YW_NOTIFY_DINGTALK) {
		md_limit(&md, YW_NOTIFY_DINGTALK_MAX);
		struct yw_strbuf t = YW_STRBUF_INIT;
		rc = yw_strbuf_printf(&t, "[%s] ", yw_level_name(a->level));
		if (!rc)
			rc =
			    put_text(&t, a->title, a->title ? strlen(a->title) : 0, 200, ESC_PLAIN);
		if (!rc)
			rc = yw_strbuf_puts(out,
			                    "{\"msgtype\":\"markdown\",\"markdown\":{\"title\":");
		if (!rc)
			rc = yw_strbuf_json_str(out, t.data, t.len);
		if (!rc)
			rc = yw_strbuf_puts(out, ",\"text\":");
		if (!rc)
			rc = yw_strbuf_json_str(out, md.data, md.len);
		if (!rc)
			rc = yw_strbuf_puts(out, "}}");
		yw_strbuf_free(&t);
	} else {
		md_limit(&md, YW_NOTIFY_FEISHU_MAX);
		const char *tpl = a->level >= YW_LEVEL_HIGH     ? "red"
		                  : a->level == YW_LEVEL_MEDIUM ? "orange"
		                                                : "blue";
		struct yw_strbuf t = YW_STRBUF_INIT;
		rc = yw_strbuf_printf(&t, "[%s] ", yw_level_name(a->level));
		if (!rc)
			rc =
			    put_text(&t, a->title, a->title ? strlen(a->title) : 0, 200, ESC_PLAIN);
		if (!rc)
			rc = yw_strbuf_puts(out, "{\"msg_type\":\"interactive\",\"card\":{"
			                         "\"header\":{\"title\":{\"tag\":\"plain_text\","
			                         "\"content\":");
		if (!rc)
			rc = yw_strbuf_json_str(out, t.data, t.len);
		if (!rc)
			rc = yw_strbuf_printf(out,
			                      "},\"template\":\"%s\"},\"elements\":[{"
			                      "\"tag\":\"markdown\",\"content\":",
			                      tpl);
		if (!rc)
			rc = yw_strbuf_json_str(out, md.data, md.len);
		if (!rc)
			rc = yw_strbuf_puts(out, "}]}}");
		yw_strbuf_free(&t);
	}
out:
	yw_strbuf_free(&md);
	return rc;
}

/* ---- webhook JSON ---- */

static int json_member(struct yw_strbuf *b, const char *key, const char *val)
{
	int rc = yw_strbuf_printf(b, ",\"%s\":", key);
	if (!rc && !val)
		return yw_strbuf_puts(b, "null");
	return rc ? rc
	          : yw_strbuf_json_str(b, val,
	                               yw_notify_utf8_cut(val, strlen(val), YW_NOTIFY_MAX_TEXT));
}

static int render_json(const struct yw_notify_alert *a, const char *dedup, struct yw_strbuf *out)
{
	char when[32];
	yw_notify_time(a->ts_ns, when);
	int rc = yw_strbuf_puts(out, "{\"id\":");
	if (!rc)
		rc = yw_strbuf_json_str(out, dedup, strlen(dedup));
	if (!rc)
		rc = json_member(out, "rule_id", a->rule_id);
	if (!rc)
		rc = json_member(out, "title", a->title);
	if (!rc)
		rc = json_member(out, "level", yw_level_name(a->level));
	if (!rc)
		rc = json_member(out, "time", when);
	if (!rc)
		rc = yw_strbuf_puts(out, ",\"agent\":{\"id\":");
	if (!rc)
		rc = yw_strbuf_json_str(out, a->agent_id ? a->agent_id : "",
		                        a->agent_id ? strlen(a->agent_id) : 0);
	if (!rc)
		rc = json_member(out, "name", a->agent_name);
	if (!rc)
		rc = json_member(out, "group", a->group);
	if (!rc)
		rc = yw_strbuf_puts(out, "},\"tags\":[");
	size_t nt = a->ntags < YW_NOTIFY_MAX_TAGS ? a->ntags : YW_NOTIFY_MAX_TAGS;
	for (size_t i = 0; i < nt && !rc; i++) {
		if (i)
			rc = yw_strbuf_putc(out, ',');
		if (!rc)
			rc = yw_strbuf_json_str(out, a->tags[i], strlen(a->tags[i]));
	}
	if (!rc)
		rc = yw_strbuf_puts(out, "],\"fields\":");
	if (!rc)
		rc = yw_notify_pick_fields(a->event_json, out);
	if (!rc)
		rc = json_member(out, "solution", a->solution);
	return rc ? rc : yw_strbuf_putc(out, '}');
}

/* ---- syslog: RFC 5424 and CEF ---- */

/* RFC 5424 severity and CEF severity (0-10) of each level. */
static const int syslog_sev[YW_LEVEL_COUNT] = {6, 5, 4, 3, 2};
static const int cef_sev[YW_LEVEL_COUNT] = {1, 3, 5, 8, 10};
#define SYSLOG_FACILITY 10             /* security/authorization (authpriv) */
#define SD_ID           "yiwang@32473" /* 32473: the private enterprise number for documentation */
#define SD_FIELDS       "fields@32473"
#define CEF_VERSION     "0.1.0" /* Device Version: the yiwang release */

/* HOSTNAME: printable ASCII without spaces, at most 255 bytes; "-" when unknown. */
static int put_hostname(struct yw_strbuf *b, const char *h)
{
	char buf[256];
	if (!h) {
		if (gethostname(buf, sizeof(buf)))
			return yw_strbuf_putc(b, '-');
		buf[sizeof(buf) - 1] = '\0';
		h = buf;
	}
	size_t n = 0;
	for (const char *p = h; *p && n < 255; p++, n++) {
		unsigned char c = (unsigned char)*p;
		int rc = yw_strbuf_putc(b, c > 0x20 && c < 0x7f ? (char)c : '_');
		if (rc)
			return rc;
	}
	return n ? 0 : yw_strbuf_putc(b, '-');
}

static int level_ok(int level)
{
	return level >= 0 && level < YW_LEVEL_COUNT;
}

static int syslog_header(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                         struct yw_strbuf *out)
{
	char when[32];
	yw_notify_time(a->ts_ns, when);
	int sev = syslog_sev[level_ok(a->level) ? a->level : 0];
	int rc = yw_strbuf_printf(out, "<%d>1 %s ", SYSLOG_FACILITY * 8 + sev, when);
	if (!rc)
		rc = put_hostname(out, ch->hostname);
	return rc ? rc : yw_strbuf_puts(out, " yiwang - alert ");
}

static int sd_param(struct yw_strbuf *b, const char *name, const char *val)
{
	if (!val)
		return 0;
	int rc = yw_strbuf_printf(b, " %s=\"", name);
	if (!rc)
		rc = put_str(b, val, ESC_SD);
	return rc ? rc : yw_strbuf_putc(b, '"');
}

static int sd_field(void *ud, const char *key, const char *val, size_t n)
{
	struct yw_strbuf *b = ud;
	/* Key names are ours (yw_notify_key_fields): valid SD-NAMEs. */
	int rc = yw_strbuf_printf(b, " %s=\"", key);
	if (!rc)
		rc = put_text(b, val, n, YW_NOTIFY_MAX_FIELD, ESC_SD);
	return rc ? rc : yw_strbuf_putc(b, '"');
}

static int render_rfc5424(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                          const char *dedup, struct yw_strbuf *out)
{
	int rc = syslog_header(ch, a, out);
	if (!rc)
		rc = yw_strbuf_puts(out, "[" SD_ID);
	if (!rc)
		rc = sd_param(out, "id", dedup);
	if (!rc)
		rc = sd_param(out, "rule", a->rule_id);
	if (!rc)
		rc = sd_param(out, "level", yw_level_name(a->level));
	if (!rc)
		rc = sd_param(out, "agent", a->agent_name);
	if (!rc)
		rc = sd_param(out, "agentId", a->agent_id);
	if (!rc)
		rc = sd_param(out, "group", a->group);
	if (!rc && a->ntags) {
		struct yw_strbuf t = YW_STRBUF_INIT;
		rc = put_tags(&t, a, ESC_PLAIN);
		if (!rc)
			rc = sd_param(out, "tags", t.data);
		yw_strbuf_free(&t);
	}
	if (!rc)
		rc = yw_strbuf_puts(out, "][" SD_FIELDS);
	if (!rc)
		rc = each_field(a->event_json, sd_field, out);
	/* MSG: UTF-8, so it starts with a BOM (RFC 5424 6.4). */
	if (!rc)
		rc = yw_strbuf_puts(out, "] \xef\xbb\xbf");
	if (!rc)
		rc = put_str(out, a->title, ESC_PLAIN);
	return rc;
}

static const struct {
	const char *field, *cef;
} cef_keys[] = {
    {"host.name", "shost"},       {"user.name", "suser"},      {"source.ip", "src"},
    {"source.port", "spt"},       {"destination.ip", "dst"},   {"destination.port", "dpt"},
    {"process.name", "sproc"},    {"process.pid", "spid"},     {"process.command_line", "cs4"},
    {"file.path", "filePath"},    {"url.original", "request"}, {"event.action", "act"},
    {"event.outcome", "outcome"}, {"message", "msg"},
};

static int cef_field(void *ud, const char *key, const char *val, size_t n)
{
	struct yw_strbuf *b = ud;
	for (size_t i = 0; i < sizeof(cef_keys) / sizeof(*cef_keys); i++) {
		if (strcmp(cef_keys[i].field, key))
			continue;
		int rc = 0;
		if (!strcmp(cef_keys[i].cef, "cs4"))
			rc = yw_strbuf_puts(b, " cs4Label=commandLine");
		if (!rc)
			rc = yw_strbuf_printf(b, " %s=", cef_keys[i].cef);
		return rc ? rc : put_text(b, val, n, YW_NOTIFY_MAX_FIELD, ESC_CEF_EXT);
	}
	return 0;
}

static int cef_ext(struct yw_strbuf *b, const char *key, const char *val)
{
	if (!val)
		return 0;
	int rc = yw_strbuf_printf(b, " %s=", key);
	return rc ? rc : put_str(b, val, ESC_CEF_EXT);
}

static int render_cef(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                      const char *dedup, struct yw_strbuf *out)
{
	int rc = syslog_header(ch, a, out);
	if (!rc)
		rc = yw_strbuf_puts(out, "CEF:0|yiwang|yiwang|" CEF_VERSION "|");
	if (!rc)
		rc = put_str(out, a->rule_id, ESC_CEF_HDR);
	if (!rc)
		rc = yw_strbuf_putc(out, '|');
	if (!rc)
		rc = put_str(out, a->title, ESC_CEF_HDR);
	if (!rc)
		rc =
		    yw_strbuf_printf(out, "|%d|rt=%lld", cef_sev[level_ok(a->level) ? a->level : 0],
		                     (long long)(a->ts_ns / 1000000));
	if (!rc)
		rc = cef_ext(out, "dvchost", a->agent_name);
	if (!rc)
		rc = cef_ext(out, "deviceExternalId", a->agent_id);
	if (!rc)
		rc = cef_ext(out, "externalId", dedup);
	if (!rc && a->group)
		rc = yw_strbuf_puts(out, " cs1Label=group");
	if (!rc)
		rc = cef_ext(out, "cs1", a->group);
	if (!rc && a->ntags) {
		rc = yw_strbuf_puts(out, " cs2Label=tags cs2=");
		if (!rc)
			rc = put_tags(out, a, ESC_CEF_EXT);
	}
	if (!rc)
		rc = each_field(a->event_json, cef_field, out);
	return rc;
}

/* ---- email ---- */

static int put_base64_lines(struct yw_strbuf *b, const char *s, size_t n)
{
	char line[80];
	int rc = 0;
	/* 57 input bytes make one 76-character line. */
	for (size_t i = 0; i < n && !rc; i += 57) {
		size_t k = n - i < 57 ? n - i : 57;
		rc = yw_notify_base64((const unsigned char *)s + i, k, line, sizeof(line));
		if (!rc)
			rc = yw_strbuf_printf(b, "%s\r\n", line);
	}
	return rc;
}

/* Subject as RFC 2047 encoded words of at most 45 bytes each (a 75-character word), folded;
 * no byte of the title reaches the header raw, so it cannot add a header line. */
static int put_subject(struct yw_strbuf *b, const char *s)
{
	size_t n = strlen(s);
	int rc = yw_strbuf_puts(b, "Subject:");
	char word[80];
	for (size_t i = 0; i < n && !rc;) {
		size_t k = yw_notify_utf8_cut(s + i, n - i, 45);
		if (k == 0)
			k = 1;
		rc = yw_notify_base64((const unsigned char *)s + i, k, word, sizeof(word));
		if (!rc)
			rc = yw_strbuf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : " ", word);
		i += k;
	}
	return rc ? rc : yw_strbuf_puts(b, "\r\n");
}

struct mail_ctx {
	struct yw_strbuf *b;
	bool html;
};

static int mail_field(void *ud, const char *key, const char *val, size_t n)
{
	struct mail_ctx *c = ud;
	int mode = c->html ? ESC_HTML : ESC_PLAIN;
	int rc = yw_strbuf_puts(c->b, c->html ? "<tr><td>" : "  ");
	if (!rc)
		rc = put_str(c->b, key, mode);
	if (!rc)
		rc = yw_strbuf_puts(c->b, c->html ? "</td><td>" : ": ");
	if (!rc)
		rc = put_text(c->b, val, n, YW_NOTIFY_MAX_FIELD, mode);
	return rc ? rc : yw_strbuf_puts(c->b, c->html ? "</td></tr>\n" : "\n");
}

static int mail_body(const struct yw_notify_alert *a, bool html, struct yw_strbuf *b)
{
	char when[32];
	yw_notify_time(a->ts_ns, when);
	int mode = html ? ESC_HTML : ESC_PLAIN;
	const char *lvl = yw_level_name(a->level);
	struct {
		const char *label, *val;
	} rows[] = {
	    {"Level", lvl},
	    {"Rule", a->rule_id},
	    {"Agent", a->agent_name},
	    {"Agent id", a->agent_id},
	    {"Group", a->group},
	    {"Time", when},
	    {"Solution", a->solution},
	};
	int rc = html ? yw_strbuf_puts(b, "<html><body><h3>") : 0;
	if (!rc)
		rc = put_str(b, a->title, mode);
	if (!rc)
		rc = yw_strbuf_puts(b, html ? "</h3>\n<table>\n" : "\n\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows) && !rc; i++) {
		if (!rows[i].val)
			continue;
		rc = yw_strbuf_printf(b, html ? "<tr><th>%s</th><td>" : "%s: ", rows[i].label);
		if (!rc)
			rc = put_str(b, rows[i].val, mode);
		if (!rc)
			rc = yw_strbuf_puts(b, html ? "</td></tr>\n" : "\n");
	}
	if (!rc && a->ntags) {
		rc = yw_strbuf_puts(b, html ? "<tr><th>ATT&amp;CK</th><td>" : "ATT&CK: ");
		if (!rc)
			rc = put_tags(b, a, mode);
		if (!rc)
			rc = yw_strbuf_puts(b, html ? "</td></tr>\n" : "\n");
	}
	if (!rc)
		rc = yw_strbuf_puts(b, html ? "</table>\n<h4>Event</h4>\n<table>\n" : "\nEvent:\n");
	struct mail_ctx c = {b, html};
	if (!rc)
		rc = each_field(a->event_json, mail_field, &c);
	if (!rc && html)
		rc = yw_strbuf_puts(b, "</table>\n</body></html>\n");
	return rc;
}

static int render_email(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                        const char *dedup, struct yw_strbuf *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	int rc = yw_strbuf_printf(out, "From: %s\r\nTo: ", ch->from ? ch->from : "yiwang");
	for (size_t i = 0; i < ch->to.n && !rc; i++)
		rc = yw_strbuf_printf(out, "%s%s", i ? ", " : "", ch->to.v[i]);
	/* The dedup key is hex: safe in Message-ID and the MIME boundary. */
	if (!rc)
		rc = yw_strbuf_printf(out,
		                      "\r\nDate: %s\r\nMessage-ID: <%s@yiwang>\r\nMIME-Version: "
		                      "1.0\r\nContent-Type: multipart/alternative; "
		                      "boundary=\"yw-%s\"\r\n",
		                      date, dedup, dedup);
	struct yw_strbuf subj = YW_STRBUF_INIT, part = YW_STRBUF_INIT;
	if (!rc)
		rc = yw_strbuf_printf(&subj, "[yiwang %s] ", yw_level_name(a->level));
	if (!rc)
		rc = put_text(&subj, a->title, a->title ? strlen(a->title) : 0, 300, ESC_PLAIN);
	if (!rc)
		rc = put_subject(out, subj.data);
	for (int html = 0; html < 2 && !rc; html++) {
		yw_strbuf_reset(&part);
		rc = yw_strbuf_printf(out,
		                      "\r\n--yw-%s\r\nContent-Type: text/%s; charset=utf-8\r\n"
		                      "Content-Transfer-Encoding: base64\r\n\r\n",
		                      dedup, html ? "html" : "plain");
		if (!rc)
			rc = mail_body(a, html, &part);
		if (!rc)
			rc = put_base64_lines(out, part.data, part.len);
	}
	if (!rc)
		rc = yw_strbuf_printf(out, "\r\n--yw-%s--\r\n", dedup);
	yw_strbuf_free(&subj);
	yw_strbuf_free(&part);
	return rc;
}

int yw_notify_render(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                     const char *dedup, struct yw_strbuf *out)
{
	switch (ch->type) {
	case YW_NOTIFY_WEBHOOK:
		return render_json(a, dedup, out);
	case YW_NOTIFY_WECOM:
	case YW_NOTIFY_DINGTALK:
	case YW_NOTIFY_FEISHU:
		return render_chat(ch, a, out);
	case YW_NOTIFY_SYSLOG:
		if (ch->format && !strcmp(ch->format, "cef"))
			return render_cef(ch, a, dedup, out);
		return render_rfc5424(ch, a, dedup, out);
	case YW_NOTIFY_EMAIL:
		return render_email(ch, a, dedup, out);
	}
	return YW_EINVAL;
}
