/* The server's pipeline: batches of records from agents are decoded into events, matched
 * against the Sigma rules (and correlation rules), and stored with their alerts in one
 * transaction per batch; then the batch's acknowledgement is handed back to the network thread.
 *
 * Threads: yw_pipeline_submit() is called from the network thread; decoding, detection and
 * the store write happen on worker threads, which call the done callback. Each agent is served
 * by one worker (chosen by a hash of its id), so its events keep their order and correlation
 * rules see all of one agent's events; a correlation whose groups span agents (e.g. one source
 * address attacking many terminals) counts per worker. */
#ifndef YIWANG_SERVER_PIPELINE_H
#define YIWANG_SERVER_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "yiwang/record.h"
#include "yiwang/sigma.h"
#include "yiwang/store.h"

struct yw_pipeline;
struct yw_live_counters;

/* Runs on the worker thread after a batch is stored (rc 0, ack = highest stored seq) or
 * failed (rc < 0). conn identifies the connection that submitted it. */
typedef void (*yw_pipeline_done_fn)(void *ud, uint64_t conn, const char *agent_id, uint64_t ack,
				    int rc);

/* One alert as the pipeline raises it (all borrowed for the callback). */
struct yw_pipeline_alert {
	const char *agent_id, *agent_name;
	const struct yw_rule_info *rule; /* detection or correlation rule */
	const char *event_json;          /* the evidence as stored */
	int64_t ts_ns;                   /* the event's @timestamp, else when it was collected */
	uint64_t seq;                    /* the record it came from */
};

/* Runs on a worker thread for every alert the store kept as new, after its batch is stored
 * (repeats folded into an open alert, suppressed alerts and replays are not passed on). */
typedef void (*yw_pipeline_alert_fn)(void *ud, const struct yw_pipeline_alert *a);

struct yw_pipeline_opts {
	size_t workers;            /* decode+detect threads; agents are spread by id (0 = 1) */
	size_t max_queued;         /* batches waiting per worker; submit fails with YW_ELIMIT beyond */
	yw_pipeline_done_fn done;
	yw_pipeline_alert_fn on_alert; /* may be NULL */
	void *ud;
	struct yw_live_counters *ctr; /* server/live.h: counted into; may be NULL */
};

/* rs (compiled) and st are borrowed and must outlive the pipeline. Starts the worker. */
int yw_pipeline_new(const struct yw_pipeline_opts *o, struct yw_store *st,
		    const struct yw_ruleset *rs, struct yw_pipeline **out);
/* Stops the worker after the batches already queued, then frees. */
void yw_pipeline_free(struct yw_pipeline *p);

/* Queues a copy of records[0..n) from agent_id (name is its host name, for events that lack
 * one). YW_ELIMIT when the queue is full (back-pressure: stop reading that connection),
 * YW_ENOMEM. */
int yw_pipeline_submit(struct yw_pipeline *p, uint64_t conn, const char *agent_id,
		       const char *agent_name, const struct yw_record *records, size_t n);

/* Batches waiting or in progress, and the records in them. */
size_t yw_pipeline_depth(struct yw_pipeline *p);
size_t yw_pipeline_records(struct yw_pipeline *p);
/* Workers, and the batches waiting or in progress at worker i (for /metrics). */
size_t yw_pipeline_workers(struct yw_pipeline *p);
size_t yw_pipeline_worker_depth(struct yw_pipeline *p, size_t i);

struct yw_pipeline_stats {
	uint64_t batches, records, events, alerts, errors;
};
void yw_pipeline_stats(struct yw_pipeline *p, struct yw_pipeline_stats *s);

#endif
