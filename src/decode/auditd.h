/* auditd records: finding a record in a line, grouping the records of one event (one serial),
 * and turning a group into an event. Private to src/decode. decode_auditd.c */
#ifndef YIWANG_DECODE_AUDITD_H
#define YIWANG_DECODE_AUDITD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/event.h"

/* A finished group: its record lines joined by '\n', borrowed for the callback only. */
struct yw_audit_group {
	const char *text;
	size_t len;
	uint32_t nrec;
	bool truncated;   /* one of its lines was cut at YW_MAX_LINE */
	const char *note; /* why it was cut short (evicted, too many records), or NULL */
};

/* Receives each finished group; a non-zero return is passed back by feed/flush. */
typedef int (*yw_audit_group_fn)(void *ud, const struct yw_audit_group *g);

struct yw_audit;

/* Returns 0 and *out, or YW_ENOMEM. Caller frees with yw_audit_free(). */
int yw_audit_new(struct yw_audit **out);
void yw_audit_free(struct yw_audit *a);

/* Adds one record line (starting at "node=" or "type=") to its group and hands every group
 * that is now finished to fn, oldest first. A line without an audit header becomes a group
 * of its own at once. Returns 0, YW_ENOMEM or fn's value. */
int yw_audit_feed(struct yw_audit *a, const char *rec, size_t len, bool truncated,
                  yw_audit_group_fn fn, void *ud);

/* Hands every held group to fn, oldest first. */
int yw_audit_flush(struct yw_audit *a, yw_audit_group_fn fn, void *ud);

/* Where the audit record in a line starts ("node=" or "type=" followed by an audit(...)
 * header), or NULL when the line holds none. Finds records behind a syslog header too. */
const char *yw_audit_find(const char *line, size_t len);

/* Fills an empty event (a provides scratch memory only) from a group's text (records joined by
 * '\n'): auditd.* raw fields, ECS fields, @timestamp and the log source. Never rejects input.
 * Returns 0 or YW_ENOMEM. */
int yw_audit_decode(struct yw_audit *a, struct yw_event *ev, const char *text, size_t len);

#endif
