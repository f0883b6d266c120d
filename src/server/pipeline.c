#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "pipeline.h"
#include "yiwang/correlate.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"
#include "yiwang/loop.h"

/* A worker takes up to this many queued batches (and records) at once and stores them in one
 * transaction: many agents sending small batches would otherwise cost one commit each. */
#define GROUP_JOBS    64
#define GROUP_RECORDS 20000

struct job {
	struct job *next;
	uint64_t conn;
	char *agent_id, *agent_name; /* point into this allocation */
	struct yw_record *records;   /* point into this allocation */
	size_t n;
	int64_t arrived_ns; /* monotonic: the detection latency counts from here */
};

/* Per-batch working state of the worker thread, reused across batches. */
struct work {
	struct yw_strbuf *events; /* one JSON text per record, reused */
	const char **event_ptrs;
	size_t cap;
	struct yw_store_alert *alerts;
	/* Per alert, for the notification after the store decided whether it is new. */
	struct pending_alert {
		const struct yw_rule_info *rule;
		int64_t ts_ns;
		size_t record;
	} *pending;
	unsigned char *outcomes;
	size_t nalerts, capalerts;
	struct yw_strbuf alert_text; /* tags and titles of this batch's alerts */
	size_t cur;                  /* record being decoded */
	uint64_t nevents;            /* events decoded in this batch */
	const struct job *job;
	int err;
};

struct worker {
	struct yw_pipeline_opts o;
	struct yw_store *st;
	const struct yw_ruleset *rs;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	size_t depth;
	size_t queued_records;
	bool stopping;
	struct yw_pipeline_stats stats;
	/* Working state of the jobs of one group commit; cw is the one being decoded. */
	struct work works[GROUP_JOBS];
	struct work *cw;
	struct yw_decoder *dec_log, *dec_json;
	struct yw_corr *corr; /* Sigma correlation rules; NULL when none are loaded */
	bool started;
};

static int worker_submit(struct worker *p, uint64_t conn, const char *agent_id,
			 const char *agent_name, const struct yw_record *records, size_t n)
{
	size_t idl = strlen(agent_id) + 1, nml = strlen(agent_name ? agent_name : "") + 1;
	size_t bytes = sizeof(struct job) + n * sizeof(struct yw_record) + idl + nml;
	for (size_t i = 0; i < n; i++)
		bytes += records[i].len + records[i].source_len;
	pthread_mutex_lock(&p->mu);
	bool full = p->depth >= p->o.max_queued;
	pthread_mutex_unlock(&p->mu);
	if (full)
		return YW_ELIMIT;
	struct job *j = malloc(bytes);
	if (!j)
		return YW_ENOMEM;
	j->next = NULL;
	j->arrived_ns = yw_live_now_ns();
	j->conn = conn;
	j->n = n;
	j->records = (struct yw_record *)(j + 1);
	char *q = (char *)(j->records + n);
	j->agent_id = memcpy(q, agent_id, idl);
	q += idl;
	j->agent_name = memcpy(q, agent_name ? agent_name : "", nml);
	q += nml;
	for (size_t i = 0; i < n; i++) {
		j->records[i] = records[i];
		j->records[i].data = memcpy(q, records[i].data, records[i].len);
		q += records[i].len;
		j->records[i].source = memcpy(q, records[i].source, records[i].source_len);
		q += records[i].source_len;
	}
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->depth++;
	p->queued_records += n;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static size_t worker_depth(struct worker *p)
{
	pthread_mutex_lock(&p->mu);
	size_t d = p->depth;
	pthread_mutex_unlock(&p->mu);
	return d;
}

static void worker_stats(struct worker *p, struct yw_pipeline_stats *s)
{
	pthread_mutex_lock(&p->mu);
	s->batches += p->stats.batches;
	s->records += p->stats.records;
	s->events += p->stats.events;
	s->alerts += p->stats.alerts;
	s->errors += p->stats.errors;
	pthread_mutex_unlock(&p->mu);
}

static int work_reserve(struct work *w, size_t n)
{
	if (n <= w->cap)
		return 0;
	struct yw_strbuf *ev = realloc(w->events, n * sizeof(*ev));
	if (!ev)
		return YW_ENOMEM;
	for (size_t i = w->cap; i < n; i++)
		yw_strbuf_init(&ev[i], 0);
	w->events = ev;
	const char **ptrs = realloc(w->event_ptrs, n * sizeof(*ptrs));
	if (!ptrs) {
		w->cap = n; /* the strbufs exist; keep them owned */
		return YW_ENOMEM;
	}
	w->event_ptrs = ptrs;
	w->cap = n;
	return 0;
}

struct match_ctx {
	struct worker *p;
	const char *event_json;
	int64_t ts_ns; /* @timestamp of the event, 0 when it has none */
};

/* Records an alert on the current record. extra, when given, is JSON members (without
 * braces) put in front of the event's own fields in the stored evidence. */
static int add_alert(struct match_ctx *m, const struct yw_rule_info *r, const char *extra)
{
	struct work *w = m->p->cw;
	if (w->nalerts == w->capalerts) {
		size_t cap = w->capalerts ? w->capalerts * 2 : 64;
		struct yw_store_alert *a = realloc(w->alerts, cap * sizeof(*a));
		if (!a)
			return YW_ENOMEM;
		w->alerts = a;
		struct pending_alert *pa = realloc(w->pending, cap * sizeof(*pa));
		if (!pa)
			return YW_ENOMEM;
		w->pending = pa;
		unsigned char *o = realloc(w->outcomes, cap);
		if (!o)
			return YW_ENOMEM;
		w->outcomes = o;
		w->capalerts = cap;
	}
	/* Tags as a JSON array, kept as an offset until the batch's text buffer stops moving. */
	size_t off = w->alert_text.len;
	int rc = yw_strbuf_putc(&w->alert_text, '[');
	for (size_t i = 0; rc == 0 && i < r->ntags; i++) {
		if (i)
			rc = yw_strbuf_putc(&w->alert_text, ',');
		if (rc == 0)
			rc = yw_strbuf_json_str(&w->alert_text, r->tags[i], strlen(r->tags[i]));
	}
	if (rc == 0)
		rc = yw_strbuf_putc(&w->alert_text, ']');
	if (rc == 0)
		rc = yw_strbuf_putc(&w->alert_text, '\0');
	if (rc)
		return rc;
	/* Evidence: the event's JSON, its own copy since the record's text may be replaced. */
	size_t ev_off = w->alert_text.len;
	if (extra) {
		rc = yw_strbuf_putc(&w->alert_text, '{');
		if (rc == 0)
			rc = yw_strbuf_puts(&w->alert_text, extra);
		if (rc == 0 && m->event_json[1] != '}')
			rc = yw_strbuf_putc(&w->alert_text, ',');
		if (rc == 0)
			rc = yw_strbuf_puts(&w->alert_text, m->event_json + 1);
	} else {
		rc = yw_strbuf_puts(&w->alert_text, m->event_json);
	}
	if (rc == 0)
		rc = yw_strbuf_putc(&w->alert_text, '\0');
	if (rc)
		return rc;
	int level = yw_level_parse(r->level);
	w->alerts[w->nalerts++] = (struct yw_store_alert){
		.record = w->cur,
		.rule_id = r->id ? r->id : r->title,
		.title = r->title,
		.level = level < 0 ? YW_LEVEL_INFORMATIONAL : level,
		/* offsets, turned into pointers once alert_text stops moving */
		.tags = (const char *)(uintptr_t)off,
		.event = (const char *)(uintptr_t)ev_off,
	};
	const struct yw_record *rec = &w->job->records[w->cur];
	w->pending[w->nalerts - 1] = (struct pending_alert){r, m->ts_ns ? m->ts_ns : rec->ts_ns,
							    w->cur};
	return 0;
}

static int on_corr(void *ud, const struct yw_corr_alert *a)
{
	struct match_ctx *m = ud;
	struct yw_strbuf x = YW_STRBUF_INIT;
	int rc = yw_strbuf_puts(&x, "\"yiwang.correlation.type\":");
	rc = rc ? rc : yw_strbuf_json_str(&x, a->type, strlen(a->type));
	rc = rc ? rc : yw_strbuf_printf(&x, ",\"yiwang.correlation.value\":%.15g", a->value);
	rc = rc ? rc : yw_strbuf_puts(&x, ",\"yiwang.correlation.group\":{");
	for (size_t i = 0; rc == 0 && i < a->ngroup; i++) {
		if (i)
			rc = yw_strbuf_putc(&x, ',');
		rc = rc ? rc : yw_strbuf_json_str(&x, a->group_by[i], strlen(a->group_by[i]));
		rc = rc ? rc : yw_strbuf_putc(&x, ':');
		rc = rc ? rc : yw_strbuf_json_str(&x, a->group_values[i], strlen(a->group_values[i]));
	}
	rc = rc ? rc : yw_strbuf_printf(&x, "},\"yiwang.correlation.first_ns\":%lld,"
					    "\"yiwang.correlation.last_ns\":%lld",
					(long long)a->first_ns, (long long)a->last_ns);
	if (rc == 0)
		rc = add_alert(m, a->rule, x.data);
	yw_strbuf_free(&x);
	return rc;
}

static int on_match(void *ud, const struct yw_rule_info *r, const struct yw_event *ev)
{
	struct match_ctx *m = ud;
	struct yw_corr *c = m->p->corr;
	int rc = 0;
	if (!c || yw_corr_rule_reported(c, r))
		rc = add_alert(m, r, NULL);
	if (rc == 0 && c)
		rc = yw_corr_feed(c, r, ev, on_corr, m);
	return rc;
}

/* Decoder callback: one event from the current record. */
static int on_event(void *ud, struct yw_event *ev)
{
	struct worker *p = ud;
	struct work *w = p->cw;
	const struct job *j = w->job;
	if (!yw_event_get(ev, "host.name") && j->agent_name[0])
		yw_event_set_strz(ev, "host.name", j->agent_name);
	yw_event_set_strz(ev, "agent.id", j->agent_id);
	if (j->agent_name[0])
		yw_event_set_strz(ev, "agent.name", j->agent_name);
	struct yw_strbuf *out = &w->events[w->cur];
	/* A record normally makes one event; a second (rare: a flushed audit group) replaces the
	 * stored text but its alerts still count. */
	yw_strbuf_reset(out);
	int rc = yw_event_to_json(ev, out);
	if (rc)
		return rc;
	w->nevents++;
	const struct yw_field *ts = yw_event_get(ev, "@timestamp");
	struct match_ctx m = {p, out->data, ts && ts->type == YW_T_TIME ? ts->num : 0};
	return yw_ruleset_match(p->rs, ev, on_match, &m);
}

/* Decodes and matches one job into p->cw and fills *b for the store. */
static int run_job(struct worker *p, const struct job *j, struct yw_store_batch *b)
{
	struct work *w = p->cw;
	int rc = work_reserve(w, j->n);
	if (rc)
		return rc;
	w->job = j;
	w->nalerts = 0;
	w->nevents = 0;
	yw_strbuf_reset(&w->alert_text);
	for (size_t i = 0; i < j->n; i++) {
		const struct yw_record *r = &j->records[i];
		w->cur = i;
		yw_strbuf_reset(&w->events[i]);
		struct yw_decoder *d = r->kind == YW_REC_LOG ? p->dec_log : p->dec_json;
		rc = yw_decoder_line(d, r->data, r->len);
		/* Audit records of one event arrive together; flushing per record keeps each
		 * event tied to a stored record at the price of splitting an audit group that
		 * straddles two records only when its lines are separate records. */
		if (rc == 0 && r->kind == YW_REC_LOG && i + 1 == j->n)
			rc = yw_decoder_flush(d);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < j->n; i++)
		w->event_ptrs[i] = w->events[i].len ? w->events[i].data : NULL;
	for (size_t i = 0; i < w->nalerts; i++) {
		w->alerts[i].tags = w->alert_text.data + (uintptr_t)w->alerts[i].tags;
		w->alerts[i].event = w->alert_text.data + (uintptr_t)w->alerts[i].event;
	}
	*b = (struct yw_store_batch){
		.records = j->records,
		.n = j->n,
		.events = w->event_ptrs,
		.alerts = w->alerts,
		.n_alerts = w->nalerts,
		.now = yw_wall_ns(),
		.outcomes = w->outcomes,
	};
	return 0;
}

/* Counts a stored job into the live counters (lock-free: this is the hot path). */
static void count_stored(struct worker *p, struct work *w, const struct job *j, int64_t now)
{
	struct yw_live_counters *c = p->o.ctr;
	if (!c)
		return;
	atomic_fetch_add_explicit(&c->events_stored, j->n, memory_order_relaxed);
	for (size_t i = 0; i < w->nalerts; i++) {
		if (w->outcomes[i] != YW_STORE_ALERT_NEW)
			continue;
		int lv = w->alerts[i].level;
		if (lv >= 0 && lv < YW_LEVEL_COUNT)
			atomic_fetch_add_explicit(&c->alerts[lv], 1, memory_order_relaxed);
		yw_live_hist_observe(&c->detect, now - j->arrived_ns);
	}
}

/* After the store: notify only what it kept as a new alert — not repeats folded into an open
 * one, not suppressed ones, not replays of a batch stored before. */
static void notify_new(struct worker *p, struct work *w, const struct job *j)
{
	for (size_t i = 0; p->o.on_alert && i < w->nalerts; i++) {
		if (w->outcomes[i] != YW_STORE_ALERT_NEW)
			continue;
		const struct pending_alert *pa = &w->pending[i];
		struct yw_pipeline_alert al = {
			.agent_id = j->agent_id,
			.agent_name = j->agent_name,
			.rule = pa->rule,
			.event_json = w->alerts[i].event,
			.ts_ns = pa->ts_ns,
			.seq = j->records[pa->record].seq,
		};
		p->o.on_alert(p->o.ud, &al);
	}
}

static void *worker(void *arg)
{
	struct worker *p = arg;
	struct job *group[GROUP_JOBS];
	struct yw_store_batch batches[GROUP_JOBS];
	struct yw_store_ingest_item items[GROUP_JOBS];
	int rcs[GROUP_JOBS];
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		size_t n = 0, records = 0;
		while (p->head && n < GROUP_JOBS && (n == 0 || records + p->head->n <= GROUP_RECORDS)) {
			struct job *j = p->head;
			p->head = j->next;
			records += j->n;
			group[n++] = j;
		}
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		if (n == 0)
			break;

		size_t nitems = 0;
		for (size_t i = 0; i < n; i++) {
			p->cw = &p->works[i];
			rcs[i] = run_job(p, group[i], &batches[i]);
			if (rcs[i] == 0)
				items[nitems++] = (struct yw_store_ingest_item){group[i]->agent_id,
										&batches[i], 0, 0};
		}
		int64_t t0 = yw_live_now_ns();
		yw_store_ingest_many(p->st, items, nitems);
		int64_t t1 = yw_live_now_ns();
		if (p->o.ctr && nitems)
			yw_live_hist_observe(&p->o.ctr->commit, t1 - t0);
		size_t k = 0;
		uint64_t events = 0, stored = 0, alerts = 0, errors = 0;
		for (size_t i = 0; i < n; i++) {
			struct job *j = group[i];
			uint64_t ack = 0;
			int rc = rcs[i];
			if (rc == 0) {
				rc = items[k].rc;
				ack = items[k].ack;
				k++;
			}
			events += p->works[i].nevents;
			if (rc) {
				errors++;
			} else {
				stored += j->n;
				alerts += p->works[i].nalerts;
				count_stored(p, &p->works[i], j, t1);
				notify_new(p, &p->works[i], j);
			}
			p->o.done(p->o.ud, j->conn, j->agent_id, ack, rc);
		}
		pthread_mutex_lock(&p->mu);
		p->depth -= n;
		for (size_t i = 0; i < n; i++)
			p->queued_records -= group[i]->n;
		p->stats.batches += n;
		p->stats.events += events;
		p->stats.records += stored;
		p->stats.alerts += alerts;
		p->stats.errors += errors;
		pthread_mutex_unlock(&p->mu);
		for (size_t i = 0; i < n; i++)
			free(group[i]);
	}
	return NULL;
}

static int worker_start(struct worker *p, const struct yw_pipeline_opts *o, struct yw_store *st,
			const struct yw_ruleset *rs)
{
	p->o = *o;
	if (!p->o.max_queued)
		p->o.max_queued = 256;
	p->st = st;
	p->rs = rs;
	for (size_t i = 0; i < GROUP_JOBS; i++)
		yw_strbuf_init(&p->works[i].alert_text, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	struct yw_diags d = YW_DIAGS_INIT;
	int rc = yw_corr_new(rs, NULL, &d, &p->corr);
	yw_diags_free(&d);
	if (rc == 0 && yw_corr_count(p->corr) == 0) {
		yw_corr_free(p->corr);
		p->corr = NULL;
	}
	if (rc == 0)
		rc = yw_decoder_new("auto", NULL, on_event, p, &p->dec_log);
	if (rc == 0)
		rc = yw_decoder_new("json", NULL, on_event, p, &p->dec_json);
	if (rc == 0 && pthread_create(&p->thread, NULL, worker, p) != 0)
		rc = YW_ENOMEM;
	if (rc) {
		yw_corr_free(p->corr);
		yw_decoder_free(p->dec_log);
		yw_decoder_free(p->dec_json);
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		return rc;
	}
	p->started = true;
	return 0;
}

static void worker_stop(struct worker *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	yw_corr_free(p->corr);
	yw_decoder_free(p->dec_log);
	yw_decoder_free(p->dec_json);
	for (size_t k = 0; k < GROUP_JOBS; k++) {
		struct work *w = &p->works[k];
		for (size_t i = 0; i < w->cap; i++)
			yw_strbuf_free(&w->events[i]);
		free(w->events);
		free(w->event_ptrs);
		free(w->alerts);
		free(w->pending);
		free(w->outcomes);
		yw_strbuf_free(&w->alert_text);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

/* ---- the pipeline: workers, each owning the agents that hash to it ---- */

struct yw_pipeline {
	struct worker *w;
	size_t n;
};

int yw_pipeline_new(const struct yw_pipeline_opts *o, struct yw_store *st,
		    const struct yw_ruleset *rs, struct yw_pipeline **out)
{
	struct yw_pipeline *p = calloc(1, sizeof(*p));
	size_t n = o->workers ? o->workers : 1;
	if (!p || !(p->w = calloc(n, sizeof(*p->w)))) {
		free(p);
		return YW_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = worker_start(&p->w[i], o, st, rs);
		if (rc) {
			p->n = i;
			yw_pipeline_free(p);
			return rc;
		}
		p->n = i + 1;
	}
	*out = p;
	return 0;
}

void yw_pipeline_free(struct yw_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		worker_stop(&p->w[i]);
	free(p->w);
	free(p);
}

int yw_pipeline_submit(struct yw_pipeline *p, uint64_t conn, const char *agent_id,
		       const char *agent_name, const struct yw_record *records, size_t n)
{
	/* One agent always goes to the same worker: its events stay in order, and its
	 * correlation state lives in one place. */
	struct worker *w = &p->w[yw_hash(agent_id, strlen(agent_id)) % p->n];
	int rc = worker_submit(w, conn, agent_id, agent_name, records, n);
	if (rc == 0 && w->o.ctr)
		atomic_fetch_add_explicit(&w->o.ctr->events_received, n, memory_order_relaxed);
	return rc;
}

size_t yw_pipeline_workers(struct yw_pipeline *p)
{
	return p->n;
}

size_t yw_pipeline_worker_depth(struct yw_pipeline *p, size_t i)
{
	return i < p->n ? worker_depth(&p->w[i]) : 0;
}

size_t yw_pipeline_records(struct yw_pipeline *p)
{
	size_t r = 0;
	for (size_t i = 0; i < p->n; i++) {
		pthread_mutex_lock(&p->w[i].mu);
		r += p->w[i].queued_records;
		pthread_mutex_unlock(&p->w[i].mu);
	}
	return r;
}

size_t yw_pipeline_depth(struct yw_pipeline *p)
{
	size_t d = 0;
	for (size_t i = 0; i < p->n; i++)
		d += worker_depth(&p->w[i]);
	return d;
}

void yw_pipeline_stats(struct yw_pipeline *p, struct yw_pipeline_stats *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < p->n; i++)
		worker_stats(&p->w[i], s);
}
