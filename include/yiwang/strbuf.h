/* Growable byte buffer for building output. Always NUL-terminated. */
#ifndef YIWANG_STRBUF_H
#define YIWANG_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct yw_strbuf {
	char *data; /* owned; NUL-terminated when cap > 0 */
	size_t len;
	size_t cap;
	size_t max; /* 0 = no limit; appending past it fails with YW_ELIMIT */
};

#define YW_STRBUF_INIT {0}

void yw_strbuf_init(struct yw_strbuf *b, size_t max);
void yw_strbuf_free(struct yw_strbuf *b);
void yw_strbuf_reset(struct yw_strbuf *b);
int yw_strbuf_reserve(struct yw_strbuf *b, size_t extra);
int yw_strbuf_append(struct yw_strbuf *b, const char *s, size_t n);
int yw_strbuf_puts(struct yw_strbuf *b, const char *s);
int yw_strbuf_putc(struct yw_strbuf *b, char c);
int yw_strbuf_printf(struct yw_strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (with quotes). Invalid UTF-8 bytes become U+FFFD;
 * control characters are escaped. */
int yw_strbuf_json_str(struct yw_strbuf *b, const char *s, size_t n);

#endif
