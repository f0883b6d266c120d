#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/error.h"
#include "yiwang/strbuf.h"

void yw_strbuf_init(struct yw_strbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void yw_strbuf_free(struct yw_strbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void yw_strbuf_reset(struct yw_strbuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int yw_strbuf_reserve(struct yw_strbuf *b, size_t extra)
{
	if (extra > SIZE_MAX / 2 - b->len - 1)
		return YW_ELIMIT;
	size_t need = b->len + extra + 1;
	if (b->max && need > b->max + 1)
		return YW_ELIMIT;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return YW_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int yw_strbuf_append(struct yw_strbuf *b, const char *s, size_t n)
{
	int rc = yw_strbuf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int yw_strbuf_puts(struct yw_strbuf *b, const char *s)
{
	return yw_strbuf_append(b, s, strlen(s));
}

int yw_strbuf_putc(struct yw_strbuf *b, char c)
{
	return yw_strbuf_append(b, &c, 1);
}

int yw_strbuf_printf(struct yw_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return YW_EINVAL;
	if ((size_t)n < sizeof(small))
		return yw_strbuf_append(b, small, (size_t)n);
	int rc = yw_strbuf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes are not valid UTF-8.
 * Rejects overlongs, surrogates and code points above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;
		if (c == 0xed && s[1] >= 0xa0)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int yw_strbuf_json_str(struct yw_strbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	int rc = yw_strbuf_reserve(b, n + 2);
	if (rc)
		return rc;
	b->data[b->len++] = '"';
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		/* Copy runs of plain printable ASCII in one go. */
		while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		if (run > i) {
			if ((rc = yw_strbuf_append(b, s + i, run - i)))
				return rc;
			i = run;
			continue;
		}
		unsigned char c = p[i];
		char esc[7];
		const char *out = esc;
		size_t outn = 2;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
		} else if (c == '\n') {
			out = "\\n";
		} else if (c == '\r') {
			out = "\\r";
		} else if (c == '\t') {
			out = "\\t";
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			outn = 6;
		} else {
			size_t k = utf8_seq(p + i, n - i);
			if (k == 0) {
				out = "\xef\xbf\xbd"; /* U+FFFD for an invalid byte */
				outn = 3;
			} else {
				out = s + i;
				outn = k;
				if ((rc = yw_strbuf_append(b, out, outn)))
					return rc;
				i += k;
				continue;
			}
		}
		if ((rc = yw_strbuf_append(b, out, outn)))
			return rc;
		i++;
	}
	return yw_strbuf_putc(b, '"');
}
