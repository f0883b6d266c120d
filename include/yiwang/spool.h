/* The agent's crash-safe spool: every record is appended here (and numbered) before it is sent,
 * and leaves only when the server has acknowledged it. A directory of append-only segment files
 * plus a small state file; see docs/agent.md for the formats and the guarantees.
 *
 * Records may carry a collector "cursor" (opaque bytes: where the collector stands after this
 * record). Because the cursor is written in the same CRC-checked frame as the record, a restart
 * after kill -9 or power loss resumes each source exactly after the last record that survived:
 * nothing repeated, nothing skipped.
 *
 * Not thread-safe: one thread owns a spool. */
#ifndef YIWANG_SPOOL_H
#define YIWANG_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "yiwang/record.h"

/* yw_spool_append's "try again later" result under the block policy: not an error, nothing was
 * written. Same value as YW_SINK_FULL (collector.h), so a sink may return append's result. */
#define YW_SPOOL_FULL 1

enum yw_spool_policy {
	YW_SPOOL_BLOCK = 0,   /* when full, append returns YW_SPOOL_FULL: loss-free back-pressure */
	YW_SPOOL_DROP_OLDEST, /* when full, the oldest segment goes; the loss is counted */
};

struct yw_spool_opts {
	uint64_t max_bytes;     /* 0 = YW_SPOOL_DEFAULT_MAX_BYTES; at least 4 segments */
	uint32_t segment_bytes; /* 0 = YW_SPOOL_DEFAULT_SEGMENT; clamped to max_bytes / 4 */
	enum yw_spool_policy policy;
	/* Durability of what yw_spool_read returns:
	 *   0  read first fdatasyncs any record it is about to return (every batch; default)
	 *  >0  read returns only records already synced, and syncs when the oldest unsynced
	 *      record is at least sync_ms old (yw_spool_sync_timeout tells the loop when)
	 *  <0  never fdatasync: survives a crash of the agent, not of the machine */
	int sync_ms;
};

struct yw_spool;

struct yw_spool_stats {
	uint64_t next_seq; /* seq the next append gets */
	uint64_t acked;    /* everything <= acked is acknowledged (or dropped) */
	uint64_t pending;  /* records appended and neither acked nor dropped */
	uint64_t bytes;    /* bytes of segment files on disk (+ unflushed buffer) */
	uint64_t segments;
	uint64_t dropped; /* records lost to drop_oldest or corruption, since open */
	uint64_t refused; /* appends answered YW_SPOOL_FULL, since open */
	uint64_t syncs;   /* fdatasync calls, since open */
};

/* A loss not yet reported: `records` records in seq first..last (the range may include records
 * that were already acked before the loss; `records` counts only lost ones). */
struct yw_spool_loss {
	uint64_t records;
	uint64_t first_seq;
	uint64_t last_seq;
};

/* Opens (creating if needed) the spool in dir and recovers it: a torn tail is truncated, the
 * next seq and the collector cursors are rebuilt. opts may be NULL for defaults. The caller frees
 * *out with yw_spool_close. Fails with YW_EIO (errno set) or YW_EPARSE (not a spool). */
int yw_spool_open(const char *dir, const struct yw_spool_opts *opts, struct yw_spool **out);

/* Flushes, syncs (unless sync_ms < 0), persists the state and frees. Accepts NULL. */
void yw_spool_close(struct yw_spool *sp);

/* Appends rec, assigning rec->seq. cursor (may be NULL, cursor_len <= YW_SPOOL_MAX_CURSOR) is
 * remembered as the position of rec->source after this record (yw_spool_cursor). The record is
 * buffered: it reaches the file on the next flush, read, sync or when the buffer fills.
 * Returns 0, YW_SPOOL_FULL (block policy, nothing written, rec->seq untouched), YW_ELIMIT
 * (record larger than YW_SPOOL_MAX_RECORD), YW_EIO. */
int yw_spool_append(struct yw_spool *sp, struct yw_record *rec, const void *cursor,
                    size_t cursor_len);

/* Writes buffered records to the file and fdatasyncs it (unless sync_ms < 0). */
int yw_spool_sync(struct yw_spool *sp);

/* Milliseconds until yw_spool_read would sync on its own (sync_ms > 0 with unsynced records),
 * 0 if due now, -1 if nothing is waiting: a poll(2) timeout for the agent's loop. */
int yw_spool_sync_timeout(struct yw_spool *sp);

/* Called by yw_spool_read for each record; rec and its strings are borrowed until it returns.
 * Return 0 to continue, > 0 to stop after this record, < 0 to stop with that error. */
typedef int (*yw_spool_read_cb)(void *ud, const struct yw_record *rec);

/* Delivers records with seq >= from_seq (records already acked or dropped are skipped), at
 * most max_records and about max_bytes of data (at least one record), in seq order. Records not
 * yet durable are synced first or held back according to sync_ms. Returns the number of
 * records delivered (0: nothing to send), or a negative error (including the callback's). */
int yw_spool_read(struct yw_spool *sp, uint64_t from_seq, size_t max_records, size_t max_bytes,
                  yw_spool_read_cb cb, void *ud);

/* The server acknowledged everything <= seq: fully acked segments are deleted and the acked
 * seq is persisted (at once when a segment goes, else at most once a second). */
int yw_spool_ack(struct yw_spool *sp, uint64_t seq);

/* The cursor of the newest record of this source still known (in the spool or in its last
 * checkpoint): *cursor is borrowed until the next append/ack/close. Returns 0 or YW_ENOENT. */
int yw_spool_cursor(struct yw_spool *sp, const char *source, size_t source_len, const void **cursor,
                    size_t *cursor_len, uint64_t *seq);

/* Moves the pending loss into *loss (records == 0: none) and clears it; the agent turns it into
 * a YW_REC_AGENT record. A loss is persisted until taken, so it is reported at least once. */
void yw_spool_take_loss(struct yw_spool *sp, struct yw_spool_loss *loss);

void yw_spool_stats(const struct yw_spool *sp, struct yw_spool_stats *st);

/* CRC-32C (Castagnoli) of p[0..n), continuing from crc (start with 0). */
uint32_t yw_crc32c(uint32_t crc, const void *p, size_t n);

#endif
