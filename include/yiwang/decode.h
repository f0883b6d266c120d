/* Decoders: raw lines in, events out. A decoder is a stream because auditd records of one
 * event span several lines; every other format yields one event per line.
 * No line is ever dropped: one that no decoder understands becomes an event with its message,
 * whatever header could be parsed, and an anomaly note. */
#ifndef YIWANG_DECODE_H
#define YIWANG_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "yiwang/event.h"

/* Receives each decoded event. The event is borrowed for the duration of the call only.
 * A non-zero return stops decoding and is returned by the decoder call. */
typedef int (*yw_emit_fn)(void *ud, struct yw_event *ev);

struct yw_decode_opts {
	/* Year for syslog timestamps without one; 0 = the current year (UTC). */
	int default_year;
	/* host.name when the line names none; NULL = leave unset. */
	const char *default_host;
};

struct yw_decoder;

/* format: "auto", "syslog", "auditd" or "json" (see yw_decoder_formats()).
 * Returns 0 and *out, YW_ENOENT for an unknown format or YW_ENOMEM. opts may be NULL.
 * Caller frees with yw_decoder_free(). */
int yw_decoder_new(const char *format, const struct yw_decode_opts *opts, yw_emit_fn emit,
		   void *ud, struct yw_decoder **out);
void yw_decoder_free(struct yw_decoder *d);

/* Decodes one line (no trailing newline; may contain NUL bytes and invalid UTF-8).
 * Emits zero or more events. Returns 0, or the emit callback's non-zero value. */
int yw_decoder_line(struct yw_decoder *d, const char *line, size_t len);

/* Emits everything still held (grouped audit records). Call at end of input. */
int yw_decoder_flush(struct yw_decoder *d);

/* Reads f to its end line by line (limit YW_MAX_LINE: longer lines are cut and noted) and
 * decodes each, then flushes. Returns 0, YW_EIO or the callback's value. */
int yw_decoder_file(struct yw_decoder *d, FILE *f);

/* NULL-terminated list of format names. */
const char *const *yw_decoder_formats(void);

/* Lines seen and events emitted so far. */
uint64_t yw_decoder_lines(const struct yw_decoder *d);
uint64_t yw_decoder_events(const struct yw_decoder *d);

#endif
