/* Notification internals shared by the files of src/server/notify/. */
#ifndef YIWANG_NOTIFY_INT_H
#define YIWANG_NOTIFY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "yiwang/notify.h"
#include "yiwang/strbuf.h"

/* Event fields shown in notifications, in display order. */
extern const char *const yw_notify_key_fields[];
extern const size_t yw_notify_nkey_fields;

/* Appends a JSON object of a->event_json's key fields (values as text, each cut at
 * YW_NOTIFY_MAX_FIELD); "{}" when there is no event or it is not an object. */
int yw_notify_pick_fields(const char *event_json, struct yw_strbuf *out);

/* Writes "2026-01-10T10:00:00.000Z" (25 bytes with NUL). */
void yw_notify_time(int64_t ts_ns, char out[32]);

/* base64 of in[0..n) into out (NUL-terminated); YW_ELIMIT if outsz is too small. */
int yw_notify_base64(const unsigned char *in, size_t n, char *out, size_t outsz);

/* Sends one rendered message over the channel's transport (send.c). err gets a short reason
 * for the log. Returns 0 when the receiver accepted it. */
int yw_notify_transport(const struct yw_notify_channel *ch, const char *dedup, const char *body,
                        size_t len, int64_t now_ms, char *err, size_t errlen);

/* ---- the outbox (outbox.c): one SQLite file, one connection behind a mutex ---- */

enum { YW_OUTBOX_PENDING = 0, YW_OUTBOX_SENT = 1, YW_OUTBOX_FAILED = 2 };

struct yw_outbox;
struct yw_outbox_row {
	int64_t id;
	int64_t attempts;
	char *dedup;   /* owned */
	char *payload; /* owned: the alert as JSON */
};

/* Opens or creates path (mode 0600). */
int yw_outbox_open(const char *path, bool sync_full, struct yw_outbox **out);
void yw_outbox_close(struct yw_outbox *ob);
/* Inserts one pending row per channel in one transaction; *added counts rows written (a row
 * with the same channel and dedup key already there is kept and not counted). */
int yw_outbox_put(struct yw_outbox *ob, const char *const *channels, size_t n, const char *dedup,
                  const char *payload, int64_t now_ms, size_t *added);
/* Pending rows of channel due at now_ms, oldest first, at most max. rows[i] strings are
 * freed with yw_outbox_rows_free. */
int yw_outbox_due(struct yw_outbox *ob, const char *channel, int64_t now_ms, size_t max,
                  struct yw_outbox_row *rows, size_t *n);
void yw_outbox_rows_free(struct yw_outbox_row *rows, size_t n);
/* Sets a row's state (SENT / FAILED / PENDING with next_at), attempts and last error. */
int yw_outbox_mark(struct yw_outbox *ob, int64_t id, int state, int64_t attempts, int64_t next_at,
                   const char *err, int64_t now_ms);
/* Earliest next_at of pending rows of channel (INT64_MAX if none). */
int yw_outbox_next(struct yw_outbox *ob, const char *channel, int64_t *next_at);
/* Rows in state. */
int yw_outbox_count(struct yw_outbox *ob, int state, uint64_t *n);
/* Deletes sent rows older than before_ms (kept until then to drop repeated enqueues). */
int yw_outbox_prune(struct yw_outbox *ob, int64_t before_ms);

#endif
