/* The decoder stream: a bounded line reader, per-line format detection and dispatch, and the
 * hand-over of grouped audit events. One event object is reused for every emitted event.
 *
 * Auto-detection, per line: '{' after optional blanks -> JSON; a line starting with "type=" or
 * "node=", or holding "type=... audit(" behind a syslog header (audispd, "kernel: audit:") ->
 * auditd, fed from "node="/"type=" on (the syslog header itself is not decoded); else syslog.
 * Empty and blank-only lines are counted but yield no event. */
#include <stdlib.h>
#include <string.h>

#include "auditd.h"
#include "decode_int.h"
#include "yw_limits.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"

enum fmt { F_AUTO, F_SYSLOG, F_AUDITD, F_JSON };

static const char *const formats[] = {"auto", "syslog", "auditd", "json", NULL};

struct yw_decoder {
	enum fmt fmt;
	struct yw_decode_opts opts;
	char *default_host;
	yw_emit_fn emit;
	void *ud;
	struct yw_event *ev;
	struct yw_audit *audit;
	uint64_t lines, events;
	char *rbuf;            /* yw_decoder_file's read chunk */
	struct yw_strbuf line; /* a line spanning read chunks */
};

const char *const *yw_decoder_formats(void)
{
	return formats;
}

int yw_decoder_new(const char *format, const struct yw_decode_opts *opts, yw_emit_fn emit, void *ud,
                   struct yw_decoder **out)
{
	int f = -1;
	for (int i = 0; formats[i]; i++)
		if (format && strcmp(format, formats[i]) == 0)
			f = i;
	if (f < 0)
		return YW_ENOENT;
	struct yw_decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return YW_ENOMEM;
	d->fmt = (enum fmt)f;
	d->emit = emit;
	d->ud = ud;
	if (opts)
		d->opts = *opts;
	if (opts && opts->default_host) {
		d->default_host = strdup(opts->default_host);
		if (!d->default_host)
			goto fail;
	}
	d->opts.default_host = d->default_host;
	d->ev = yw_event_new();
	if (!d->ev || yw_audit_new(&d->audit) != 0)
		goto fail;
	yw_strbuf_init(&d->line, YW_MAX_LINE);
	*out = d;
	return 0;
fail:
	yw_decoder_free(d);
	return YW_ENOMEM;
}

void yw_decoder_free(struct yw_decoder *d)
{
	if (!d)
		return;
	yw_event_free(d->ev);
	yw_audit_free(d->audit);
	yw_strbuf_free(&d->line);
	free(d->rbuf);
	free(d->default_host);
	free(d);
}

uint64_t yw_decoder_lines(const struct yw_decoder *d)
{
	return d->lines;
}

uint64_t yw_decoder_events(const struct yw_decoder *d)
{
	return d->events;
}

/* Common last steps for every event: raw text, notes, default host, then the callback. */
static int finish(struct yw_decoder *d, const char *raw, size_t len, bool truncated)
{
	struct yw_event *ev = d->ev;
	int rc = yw_event_set_raw(ev, raw, len);
	if (rc)
		return rc;
	if (truncated)
		yw_event_anomaly(ev, "line truncated at %d bytes", YW_MAX_LINE);
	if (d->default_host && !yw_event_get(ev, "host.name") &&
	    yw_event_set_strz(ev, "host.name", d->default_host) == YW_ENOMEM)
		return YW_ENOMEM;
	d->events++;
	return d->emit ? d->emit(d->ud, ev) : 0;
}

static int on_group(void *ud, const struct yw_audit_group *g)
{
	struct yw_decoder *d = ud;
	yw_event_clear(d->ev);
	int rc = yw_audit_decode(d->audit, d->ev, g->text, g->len);
	if (rc)
		return rc;
	if (g->note)
		yw_event_anomaly(d->ev, "%s", g->note);
	return finish(d, g->text, g->len, g->truncated);
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static int one_line(struct yw_decoder *d, const char *line, size_t len, bool truncated)
{
	if (len > YW_MAX_LINE) {
		len = YW_MAX_LINE;
		truncated = true;
	}
	d->lines++;
	if (blank(line, len))
		return 0;
	enum fmt f = d->fmt;
	const char *rec = NULL;
	if (f == F_AUTO) {
		size_t i = 0;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < len && line[i] == '{')
			f = F_JSON;
		else if ((rec = yw_audit_find(line, len)) != NULL)
			f = F_AUDITD;
		else
			f = F_SYSLOG;
	}
	if (f == F_AUDITD) {
		if (!rec)
			rec = yw_audit_find(line, len);
		if (!rec)
			rec = line;
		return yw_audit_feed(d->audit, rec, len - (size_t)(rec - line), truncated, on_group,
		                     d);
	}
	yw_event_clear(d->ev);
	int rc = f == F_JSON ? yw_decode_json_line(d->ev, line, len)
	                     : yw_decode_syslog_line(d->ev, line, len, &d->opts);
	if (rc)
		return rc;
	return finish(d, line, len, truncated);
}

int yw_decoder_line(struct yw_decoder *d, const char *line, size_t len)
{
	return one_line(d, line, len, false);
}

int yw_decoder_flush(struct yw_decoder *d)
{
	return yw_audit_flush(d->audit, on_group, d);
}

/* A complete physical line: strip "\r" of "\r\n" and decode it. */
static int end_line(struct yw_decoder *d, const char *s, size_t n, bool truncated)
{
	if (!truncated && n && s[n - 1] == '\r')
		n--;
	return one_line(d, s, n, truncated);
}

int yw_decoder_file(struct yw_decoder *d, FILE *f)
{
	if (!d->rbuf) {
		d->rbuf = malloc(YW_DECODE_READ_CHUNK);
		if (!d->rbuf)
			return YW_ENOMEM;
	}
	struct yw_strbuf *lb = &d->line;
	bool cut = false; /* the current line passed YW_MAX_LINE: skip up to its newline */
	int rc = 0;
	yw_strbuf_reset(lb);
	for (;;) {
		size_t got = fread(d->rbuf, 1, YW_DECODE_READ_CHUNK, f);
		const char *p = d->rbuf, *end = d->rbuf + got;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			size_t n = (size_t)(le - p);
			if (!cut && lb->len == 0 && nl && n <= YW_MAX_LINE) {
				rc = end_line(d, p, n, false); /* the usual case: no copy */
			} else if (!cut) {
				size_t room = YW_MAX_LINE - lb->len;
				if (n > room) {
					n = room;
					cut = true;
				}
				rc = yw_strbuf_append(lb, p, n);
				if (rc == 0 && (cut || nl)) {
					rc = end_line(d, lb->data, lb->len, cut);
					yw_strbuf_reset(lb);
				}
			}
			if (rc)
				return rc;
			if (nl)
				cut = false;
			p = nl ? nl + 1 : end;
		}
		if (got < YW_DECODE_READ_CHUNK) {
			if (ferror(f))
				return YW_EIO;
			break;
		}
	}
	if (lb->len) {
		rc = end_line(d, lb->data, lb->len, false);
		yw_strbuf_reset(lb);
		if (rc)
			return rc;
	}
	return yw_decoder_flush(d);
}
