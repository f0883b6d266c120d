/* The event model: typed fields named after the Elastic Common Schema, the raw message,
 * a Sigma log source and anomaly notes. See docs/events.md.
 *
 * Field names are flat dotted strings ("source.ip"). Every field also has a text form, so
 * string matching never formats on the hot path. All memory belongs to the event's arena:
 * pointers returned by getters are borrowed until yw_event_clear() or yw_event_free(). */
#ifndef YIWANG_EVENT_H
#define YIWANG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/strbuf.h"

enum yw_type {
	YW_T_STR = 1,
	YW_T_INT,  /* num holds the value */
	YW_T_IP,   /* ip/ip_family hold the address; text is the canonical form */
	YW_T_TIME, /* num holds nanoseconds since the Unix epoch (UTC) */
	YW_T_BOOL, /* num is 0 or 1; text is "false"/"true" */
	YW_T_NULL, /* JSON null: present, no value; text is "" */
	YW_T_LIST, /* items[0..n) hold text values; text/len are those of items[0] */
};

struct yw_str {
	const char *s; /* NUL-terminated */
	uint32_t len;
};

struct yw_field {
	const char *name; /* NUL-terminated */
	uint32_t name_len;
	uint32_t hash;
	uint8_t type;      /* enum yw_type */
	uint8_t ip_family; /* 4 or 6 for YW_T_IP */
	uint8_t ip[16];    /* network order; IPv4 in the first 4 bytes */
	uint32_t n;        /* items in a list; 1 for scalars */
	const char *text;  /* NUL-terminated text form */
	uint32_t len;
	int64_t num;
	const struct yw_str *items; /* lists only */
};

struct yw_logsource {
	const char *product; /* NULL when unknown */
	const char *service;
	const char *category;
};

struct yw_event;

/* Returns a new empty event or NULL. Caller frees with yw_event_free(). */
struct yw_event *yw_event_new(void);
void yw_event_free(struct yw_event *ev);
/* Empties the event for reuse, keeping its memory. Invalidates every borrowed pointer. */
void yw_event_clear(struct yw_event *ev);

/* Setters copy their arguments. Setting an existing name replaces its value.
 * They return 0, YW_ENOMEM, YW_ELIMIT (too many fields / bytes) or YW_EINVAL (bad value). */
int yw_event_set_str(struct yw_event *ev, const char *name, const char *val, size_t len);
int yw_event_set_strz(struct yw_event *ev, const char *name, const char *val);
int yw_event_set_int(struct yw_event *ev, const char *name, int64_t v);
int yw_event_set_bool(struct yw_event *ev, const char *name, bool v);
int yw_event_set_null(struct yw_event *ev, const char *name);
/* Fails with YW_EINVAL unless text is an IPv4 or IPv6 address (an IPv6 zone is rejected). */
int yw_event_set_ip(struct yw_event *ev, const char *name, const char *text, size_t len);
/* ns: nanoseconds since the epoch, UTC. Text form is RFC 3339 with milliseconds, "Z". */
int yw_event_set_time(struct yw_event *ev, const char *name, int64_t ns);
int yw_event_set_list(struct yw_event *ev, const char *name, const struct yw_str *items,
		      size_t n);
/* Appends one item to a list field, creating it (or converting a scalar) as needed. */
int yw_event_append(struct yw_event *ev, const char *name, const char *val, size_t len);
/* Removes a field; returns YW_ENOENT when absent. */
int yw_event_remove(struct yw_event *ev, const char *name);

/* Returns the field or NULL. The _n variant takes a name that need not be NUL-terminated. */
const struct yw_field *yw_event_get(const struct yw_event *ev, const char *name);
const struct yw_field *yw_event_get_n(const struct yw_event *ev, const char *name, size_t len);
/* Text of a field, or NULL when absent. */
const char *yw_event_str(const struct yw_event *ev, const char *name);

size_t yw_event_nfields(const struct yw_event *ev);
/* Fields in insertion order; i < yw_event_nfields(). */
const struct yw_field *yw_event_field(const struct yw_event *ev, size_t i);

/* The raw line(s) the event came from: printed as "event.original". */
int yw_event_set_raw(struct yw_event *ev, const char *raw, size_t len);
const char *yw_event_raw(const struct yw_event *ev, size_t *len);

/* Log source used to route Sigma rules. Strings are copied; NULL leaves a part unknown. */
int yw_event_set_logsource(struct yw_event *ev, const char *product, const char *service,
			   const char *category);
const struct yw_logsource *yw_event_logsource(const struct yw_event *ev);

/* Notes something odd about the input (truncated, bad UTF-8, unknown format, ...).
 * Printed as the list "yiwang.anomaly". Never fails the decode. */
void yw_event_anomaly(struct yw_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
size_t yw_event_nanomalies(const struct yw_event *ev);

/* Copies a NUL-terminated string into the event's arena; NULL on failure. Decoders use it for
 * scratch text that lives as long as the event. */
char *yw_event_strdup(struct yw_event *ev, const char *s, size_t len);

/* Appends the event as one JSON object (no newline): "@timestamp" first, then fields in
 * insertion order, then logsource.*, event.original and yiwang.anomaly. */
int yw_event_to_json(const struct yw_event *ev, struct yw_strbuf *out);

/* FNV-1a hash used for field names; exported so compiled rules can pre-hash names. */
uint32_t yw_hash(const char *s, size_t len);

#endif
