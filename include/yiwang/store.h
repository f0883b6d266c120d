/* The server's store: enrolment tokens, agents, events (stored exactly once per agent and
 * sequence number) and alerts, behind one interface. The embedded default is SQLite in WAL mode
 * in a data directory (src/store/sqlite.c); another backend (PostgreSQL) implements the same
 * struct yw_store_ops. docs/storage.md has the schema and the guarantees.
 *
 * Times are int64 nanoseconds since the epoch (UTC), as in struct yw_record; the caller passes
 * "now" so tests control the clock.
 *
 * Threads: every function may be called from any thread. Writes run one at a time on the
 * store's write connection; reads (lists, get, query, stats, backup) run on a separate read
 * connection and so proceed while a batch is being written. A callback given to a read
 * function must not call another read function of the same store (it would deadlock).
 *
 * Rows handed to a callback are borrowed: their strings live until the callback returns. A
 * callback returns 0 to go on; any other value stops the iteration and is returned as is.
 * Keep callbacks quick (copy out; do not wait on a network peer): while one runs, read calls
 * wait and the WAL cannot be checkpointed past its snapshot. */
#ifndef YIWANG_STORE_H
#define YIWANG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "yiwang/record.h"

/* Outcomes beyond the shared YW_E* codes (negative, out of their range). */
enum {
	YW_STORE_EEXPIRED = -64, /* the enrolment token has expired */
	YW_STORE_EUSEDUP = -65,  /* the enrolment token has no uses left */
	YW_STORE_EREVOKED = -66, /* the agent is revoked */
	YW_STORE_ESCHEMA = -67,  /* the database was written by a newer yiwang */
	YW_STORE_ESTATE = -68,   /* the alert's status does not allow this change */
};

/* Like yw_strerror(), and knows the YW_STORE_E* codes too. */
const char *yw_store_strerror(int err);

/* Alert levels, ordered, named as Sigma names them. */
enum yw_level {
	YW_LEVEL_INFORMATIONAL = 0,
	YW_LEVEL_LOW = 1,
	YW_LEVEL_MEDIUM = 2,
	YW_LEVEL_HIGH = 3,
	YW_LEVEL_CRITICAL = 4,
};
#define YW_LEVEL_COUNT 5

/* "high" -> YW_LEVEL_HIGH; YW_EINVAL for an unknown name or NULL. */
int yw_level_parse(const char *name);
/* YW_LEVEL_HIGH -> "high"; "unknown" out of range. Static text. */
const char *yw_level_name(int level);

#define YW_STORE_HASH_LEN 32 /* SHA-256 of an enrolment secret */

struct yw_store_token {
	const char *id;
	uint8_t
	    hash[YW_STORE_HASH_LEN]; /* the caller hashes the secret; the secret is never stored */
	const char *group;           /* agents enrolled with this token join this group */
	int64_t expires_at;          /* 0 = never */
	int64_t uses_left;           /* -1 = unlimited */
	int64_t created_at;
};

struct yw_store_agent {
	const char *id;
	const char *name; /* host name */
	const char *group;
	const char *os;
	const char *version;     /* agent version */
	const char *cert_serial; /* serial of the agent's current certificate */
	const char *addresses;   /* free text; the server stores a JSON array */
	int64_t enrolled_at;
	/* Below: kept by the store; ignored by yw_store_agent_add(). */
	int64_t last_seen;  /* 0 = never connected */
	int64_t revoked_at; /* 0 = not revoked */
	int online;
	uint64_t last_seq;        /* every seq <= last_seq is stored (or was skipped as lost) */
	uint64_t events_received; /* records stored */
	uint64_t events_lost;     /* records the agent reported lost (yw_store_agent_skip) */
};

/* One alert produced from one record of an ingest batch. */
struct yw_store_alert {
	size_t record; /* index of its record in the batch */
	const char *rule_id;
	const char *title;
	int level;         /* enum yw_level */
	const char *tags;  /* JSON array text; NULL = "[]" */
	const char *event; /* evidence: the event JSON; NULL = the record's decoded event */
	/* What makes two alerts of one rule on one agent the same thing happening again (an
	 * attacker's address, a user name). NULL = the default: the evidence's
	 * yiwang.correlation.group, else source.ip, else user.name, else "". Cut to
	 * YW_STORE_MAX_DEDUP_KEY bytes. */
	const char *dedup_key;
};

/* What ingest did with each alert of a batch (yw_store_batch.outcomes). */
enum yw_store_outcome {
	YW_STORE_ALERT_NEW = 0,    /* stored as a new alert */
	YW_STORE_ALERT_REPEAT = 1, /* counted on an open alert of the same rule, agent and key */
	YW_STORE_ALERT_SUPPRESSED = 2, /* dropped by a suppression */
	YW_STORE_ALERT_REPLAY = 3,     /* its record was already stored: ignored */
};

/* A batch of records from one agent, stored in one transaction. */
struct yw_store_batch {
	const struct yw_record *records;
	size_t n;
	const char *const *events; /* NULL, or n decoded event JSON strings (entries may be NULL) */
	const struct yw_store_alert *alerts;
	size_t n_alerts;
	int64_t now; /* stored at, and the alerts' created_at; 0 = the clock */
	/* NULL, or n_alerts entries the store fills with enum yw_store_outcome, valid once ingest
	 * returned 0 (notify only the NEW ones). */
	unsigned char *outcomes;
};

/* An alert as stored; event_ts is its record's ts_ns. */
struct yw_store_alert_row {
	int64_t id;
	const char *agent_id;
	const char *agent_name;
	uint64_t seq;
	const char *rule_id;
	const char *title;
	int level;
	const char *tags;
	int64_t event_ts;
	int64_t created_at;
	const char *event;
	const char *status; /* "new", "acknowledged", "resolved", "false_positive" */
	/* Schema 3: de-duplication and the lifecycle. Strings are "" when unset, times 0. */
	const char *dedup_key;
	uint64_t count;     /* occurrences folded into this alert (1 = just the first) */
	int64_t first_seen; /* created_at of the first, arrival of the latest occurrence */
	int64_t last_seen;
	const char *ack_by; /* the last acknowledgement */
	int64_t ack_at;
	const char *ack_comment;
	const char *closed_by; /* resolved or marked a false positive */
	int64_t closed_at;
	const char *closed_comment;
};

/* Filters of yw_store_alerts(); zero/NULL fields do not filter. Rows come in id order. */
struct yw_store_alert_query {
	int64_t since;        /* created_at >= since */
	int min_level;        /* level >= min_level */
	const char *agent_id; /* of this agent only */
	int64_t after_id;     /* id > after_id: poll with the last id seen (--follow) */
	size_t limit;         /* at most this many rows; 0 = YW_STORE_DEFAULT_LIMIT */
	int newest;           /* the newest `limit` matches (still in id order), not the oldest */
	int64_t before_id;    /* id < before_id (paging back from the newest); 0 = no bound */
	int open;             /* 1: only new or acknowledged alerts */
};

struct yw_store_stats {
	uint64_t agents;
	uint64_t agents_online;
	uint64_t events; /* records stored, over all agents (pruned ones included) */
	uint64_t alerts;
	uint64_t alerts_by_level[YW_LEVEL_COUNT];
};

struct yw_store_opts {
	int sync_full;     /* 1: synchronous=FULL; 0: NORMAL (default, see docs/storage.md) */
	int schema_target; /* tests: migrate up to this version, then only close; 0 = latest */
	int64_t dedup_window_ns;    /* 0 = YW_STORE_DEDUP_WINDOW_NS; < 0 = no de-duplication */
	int64_t incident_window_ns; /* 0 = YW_STORE_INCIDENT_WINDOW_NS */
};

/* An open alert absorbs a repeat that arrives within this long of its last occurrence. */
#define YW_STORE_DEDUP_WINDOW_NS (3600LL * 1000000000LL)
/* An open incident idle for longer than this is closed and the next alert opens a new one. */
#define YW_STORE_INCIDENT_WINDOW_NS (24LL * 3600LL * 1000000000LL)

typedef int (*yw_store_token_cb)(void *ctx, const struct yw_store_token *t);
typedef int (*yw_store_agent_cb)(void *ctx, const struct yw_store_agent *a);
typedef int (*yw_store_alert_cb)(void *ctx, const struct yw_store_alert_row *a);

/* ---- lifecycle, incidents, suppressions, risk (schema 3) ---- */

/* Changes of an alert's status. Allowed (anything else is YW_STORE_ESTATE):
 *   ack             new -> acknowledged
 *   resolve         new | acknowledged -> resolved
 *   false_positive  new | acknowledged -> false_positive
 *   reopen          acknowledged | resolved | false_positive -> new
 * A closed alert (resolved, false_positive) changes only by reopen, so a verdict is never
 * overwritten silently. */
enum yw_alert_action {
	YW_ALERT_ACK = 0,
	YW_ALERT_RESOLVE = 1,
	YW_ALERT_FALSE_POSITIVE = 2,
	YW_ALERT_REOPEN = 3,
};
/* "ack", "resolve", "false_positive" (or "false-positive"), "reopen"; YW_EINVAL otherwise. */
int yw_alert_action_parse(const char *name);

struct yw_store_alert_change {
	int64_t id;          /* the alert */
	int action;          /* enum yw_alert_action */
	const char *by;      /* who (required) */
	const char *comment; /* NULL = none */
	int64_t now;         /* 0 = the clock */
};

/* One row of an alert's audit trail. */
struct yw_store_alert_event {
	int64_t id;
	int64_t alert_id;
	int64_t ts;
	const char *action; /* "ack", "resolve", ... */
	const char *from;   /* status before */
	const char *to;     /* status after */
	const char *by;
	const char *comment; /* "" when none */
};

/* An incident: the open alerts of one agent ("agent", key = agent id), or of one attacking
 * address across agents ("source", key = source.ip). */
struct yw_store_incident {
	int64_t id;
	const char *kind; /* "agent" or "source" */
	const char *key;
	int64_t opened_at;
	int64_t updated_at; /* the last alert or repeat */
	int64_t closed_at;  /* 0 = open */
	uint64_t alert_count;
	int max_level;
	uint64_t agents; /* distinct agents among its alerts */
};

/* A suppression: alerts matching every criterion given are dropped at ingest until it
 * expires. At least one of rule_id, agent_id, field must be set; field needs value. */
struct yw_store_suppression {
	int64_t id; /* set by the store */
	const char *rule_id;
	const char *agent_id;
	const char *field;  /* an evidence field, e.g. "source.ip" */
	const char *value;  /* its value as text */
	int64_t expires_at; /* 0 = never */
	int64_t created_at;
	const char *by;
	const char *why;
	uint64_t hits; /* alerts dropped; kept by the store */
};

/* Per-agent risk (docs/risk.md); from yw_store_risk(). */
struct yw_store_risk_row {
	const char *agent_id;
	const char *agent_name;
	double score; /* 0..100 */
	double alert_points, sca_points, exposure_points;
	uint64_t open_alerts;
	uint64_t open_by_level[YW_LEVEL_COUNT];
	int sca_score;  /* the latest yiwang.sca.score, -1 = none yet */
	uint64_t ports; /* listening ports reachable from other hosts */
};

struct yw_store_risk_point {
	int64_t ts;
	const char *scope; /* "fleet" or an agent id */
	double score;
};

typedef int (*yw_store_alert_event_cb)(void *ctx, const struct yw_store_alert_event *e);
typedef int (*yw_store_incident_cb)(void *ctx, const struct yw_store_incident *i);
typedef int (*yw_store_suppression_cb)(void *ctx, const struct yw_store_suppression *s);
typedef int (*yw_store_risk_cb)(void *ctx, const struct yw_store_risk_row *r);
typedef int (*yw_store_risk_point_cb)(void *ctx, const struct yw_store_risk_point *p);

struct yw_store_ingest_item;

/* ---- detail queries of the HTTP API (src/store/sqlite_query.c) ---- */

/* A stored event (a record and its decoded form). */
struct yw_store_event_row {
	int64_t id;
	uint64_t seq;
	int64_t ts; /* the record's ts_ns */
	int kind;   /* enum yw_rec_kind */
	const char *source;
	const char *data; /* the raw record: data_len bytes, not NUL-terminated, maybe not UTF-8 */
	size_t data_len;
	const char *event; /* the decoded event JSON, NULL when none */
};
/* Which events of one agent yw_store_agent_events() hands out. */
struct yw_store_event_query {
	const char *agent_id;
	int64_t before_id;  /* only events older (lower seq) than this event of the agent; 0 = none */
	const char *source; /* NULL = any; else only this source (source_prefix: starting with it) */
	int source_prefix;
	size_t max_scan; /* rows looked at, matching or not; 0 = YW_STORE_DEFAULT_LIMIT */
};
typedef int (*yw_store_event_cb)(void *ctx, const struct yw_store_event_row *e);

struct yw_store;

/* One incident, as yw_store_incidents() lists them; YW_ENOENT if unknown. */
int yw_store_incident_get(struct yw_store *st, int64_t id, yw_store_incident_cb cb, void *ctx);
/* The alerts of incident id, in id order, at most limit (0 = YW_STORE_DEFAULT_LIMIT);
 * YW_ENOENT if the incident is unknown. */
int yw_store_incident_alerts(struct yw_store *st, int64_t id, size_t limit, yw_store_alert_cb cb,
                             void *ctx);
/* The events of q->agent_id newest first: by the agent's sequence number (the order it
 * produced them), walking the (agent, seq) index down from before_id, so the cost is the rows
 * looked at (at most max_scan), not the size of the table. *last_id (may be NULL): when the
 * walk stopped after max_scan rows (more may follow), the id of the last row looked at,
 * matching or not: where a next call goes on; else 0. YW_ENOENT unknown agent; YW_EINVAL
 * before_id is not an event of this agent (or was pruned). */
int yw_store_agent_events(struct yw_store *st, const struct yw_store_event_query *q,
                          yw_store_event_cb cb, void *ctx, int64_t *last_id);

/* An item of a terminal's current inventory (docs/inventory.md): data is its latest event. */
struct yw_store_inventory_row {
	const char *dataset; /* packages, users, groups, ports, interfaces, services, os, ... */
	const char *key;
	const char *data;
	int64_t updated_at;
};
/* One change of a terminal's inventory (an item added, changed or removed). */
struct yw_store_inventory_change {
	int64_t id, ts;
	const char *dataset, *key, *action, *data;
};
typedef int (*yw_store_inventory_cb)(void *ctx, const struct yw_store_inventory_row *r);
typedef int (*yw_store_inventory_change_cb)(void *ctx, const struct yw_store_inventory_change *c);

/* ---- the situation screen and rule hit counts (schema 5; docs/api.md, sqlite_situation.c) ---- */

#define YW_SITUATION_GROUPS  20  /* groups shown by name; the others sum into "(other)" */
#define YW_SITUATION_OS      20  /* operating systems shown by name; likewise */
#define YW_SITUATION_TOP     10  /* top rules, riskiest terminals */
#define YW_SITUATION_TACTICS 14  /* the ATT&CK Enterprise tactics */
#define YW_SITUATION_TREND   288 /* fleet risk points over 24 h: one per 5 minutes */
#define YW_SITUATION_DAYS    7
#define YW_SITUATION_HOURS   24

/* Strings are the struct's own (yw_store_situation_free frees them). */
struct yw_situation_bucket {
	int64_t t; /* start of the hour or local day, ns */
	uint64_t n[YW_LEVEL_COUNT];
};
struct yw_situation_count {
	char *name; /* group, operating system or tactic */
	uint64_t n;
	uint64_t online; /* groups only */
};
struct yw_situation_rule {
	char *rule_id, *title;
	int level;
	uint64_t count; /* occurrences, repeats included */
};
struct yw_situation_terminal {
	char *id, *name, *group;
	double score;
	int online;
};
/* What the big screen shows (docs/api.md, "Situation"). Terminals are non-revoked agents. */
struct yw_store_situation {
	int64_t generated_at;
	uint64_t total, online, offline, revoked;
	struct yw_situation_count groups[YW_SITUATION_GROUPS + 1];
	size_t n_groups;
	uint64_t today[YW_LEVEL_COUNT]; /* alerts created since local midnight */
	uint64_t open_alerts;
	double fleet_score; /* the latest recorded fleet score, 0 before the first */
	struct yw_store_risk_point trend[YW_SITUATION_TREND]; /* scope is NULL */
	size_t n_trend;
	struct yw_situation_bucket hours[YW_SITUATION_HOURS]; /* alerts created, oldest first */
	struct yw_situation_bucket days[YW_SITUATION_DAYS];
	struct yw_situation_rule rules[YW_SITUATION_TOP];
	size_t n_rules;
	struct yw_situation_terminal riskiest[YW_SITUATION_TOP];
	size_t n_riskiest;
	struct yw_situation_count tactics[YW_SITUATION_TACTICS];
	size_t n_tactics;
	struct yw_situation_count os[YW_SITUATION_OS + 1];
	size_t n_os;
};

/* One rule that has alerts (yw_store_rule_hits). */
struct yw_store_rule_hit {
	const char *rule_id;
	uint64_t count_7d;    /* occurrences in the last 168 hours (this one included) */
	uint64_t count_total; /* occurrences ever */
	int64_t last_seen;
};
typedef int (*yw_store_rule_hit_cb)(void *ctx, const struct yw_store_rule_hit *h);

/* A backend. Every entry has the meaning of the yw_store_* wrapper of the same name. */
struct yw_store;
struct yw_store_ops {
	const char *name;
	void (*close)(struct yw_store *st);
	int (*token_add)(struct yw_store *st, const struct yw_store_token *t);
	int (*token_use)(struct yw_store *st, const uint8_t hash[YW_STORE_HASH_LEN], int64_t now,
	                 char *group, size_t group_size);
	int (*token_list)(struct yw_store *st, yw_store_token_cb cb, void *ctx);
	int (*token_delete)(struct yw_store *st, const char *id);
	int (*agent_add)(struct yw_store *st, const struct yw_store_agent *a);
	int (*agent_seen)(struct yw_store *st, const char *id, const char *addresses,
	                  const char *version, int64_t now);
	int (*agent_offline)(struct yw_store *st, const char *id, int64_t now);
	int (*agent_revoke)(struct yw_store *st, const char *id, int64_t now);
	int (*agent_is_revoked)(struct yw_store *st, const char *id, const char *cert_serial);
	int (*agent_list)(struct yw_store *st, yw_store_agent_cb cb, void *ctx);
	int (*agent_get)(struct yw_store *st, const char *id, yw_store_agent_cb cb, void *ctx);
	int (*agent_skip)(struct yw_store *st, const char *id, uint64_t seq, uint64_t *ack);
	int (*ingest)(struct yw_store *st, const char *agent_id, const struct yw_store_batch *b,
	              uint64_t *ack);
	int (*ingest_many)(struct yw_store *st, struct yw_store_ingest_item *items, size_t n);
	int (*inventory)(struct yw_store *st, const char *agent_id, const char *dataset,
	                 yw_store_inventory_cb cb, void *ctx);
	int (*inventory_history)(struct yw_store *st, const char *agent_id, int64_t after_id,
	                         size_t limit, yw_store_inventory_change_cb cb, void *ctx);
	int (*alerts)(struct yw_store *st, const struct yw_store_alert_query *q,
	              yw_store_alert_cb cb, void *ctx);
	int (*stats)(struct yw_store *st, struct yw_store_stats *s);
	int (*prune)(struct yw_store *st, int64_t before, uint64_t *deleted);
	int (*backup)(struct yw_store *st, const char *path);
	int (*alert_change)(struct yw_store *st, const struct yw_store_alert_change *c);
	int (*alert_history)(struct yw_store *st, int64_t alert_id, yw_store_alert_event_cb cb,
	                     void *ctx);
	int (*incidents)(struct yw_store *st, int open_only, yw_store_incident_cb cb, void *ctx);
	int (*suppress_add)(struct yw_store *st, const struct yw_store_suppression *s, int64_t *id);
	int (*suppress_list)(struct yw_store *st, yw_store_suppression_cb cb, void *ctx);
	int (*suppress_delete)(struct yw_store *st, int64_t id);
	int (*risk)(struct yw_store *st, int64_t now, const char *agent_id, yw_store_risk_cb cb,
	            void *ctx, double *fleet);
	int (*risk_snapshot)(struct yw_store *st, int64_t now);
	int (*risk_history)(struct yw_store *st, const char *scope, int64_t since,
	                    yw_store_risk_point_cb cb, void *ctx);
	/* situation screen, rule hits (schema 5) */
	int (*situation)(struct yw_store *st, int64_t now, int tz_min,
	                 struct yw_store_situation *out);
	int (*rule_hits)(struct yw_store *st, int64_t now, yw_store_rule_hit_cb cb, void *ctx);
	/* Detail queries of the HTTP API (src/store/sqlite_query.c). */
	int (*incident_get)(struct yw_store *st, int64_t id, yw_store_incident_cb cb, void *ctx);
	int (*incident_alerts)(struct yw_store *st, int64_t id, size_t limit, yw_store_alert_cb cb,
	                       void *ctx);
	int (*agent_events)(struct yw_store *st, const struct yw_store_event_query *q,
	                    yw_store_event_cb cb, void *ctx, int64_t *last_id);
	/* Live stream counters (src/store/sqlite_live.c). */
	int (*alert_count)(struct yw_store *st, int64_t since, uint64_t *n);
};

/* Opens (creating if needed) the SQLite store in dir: dir is created 0700 (an existing one is
 * narrowed to 0700), the database file "yiwang.db" and its WAL files are 0600. Migrates the
 * schema to the latest version; YW_STORE_ESCHEMA if the file is newer than this program.
 * opts may be NULL. On success *st is the store (free with yw_store_close). */
int yw_store_open_sqlite(const char *dir, const struct yw_store_opts *opts, struct yw_store **st);

/* Closes the store and frees it; NULL is fine. No call may be running on it. */
void yw_store_close(struct yw_store *st);

/* The backend's name ("sqlite"). */
const char *yw_store_backend(const struct yw_store *st);

/* The schema version this program writes. */
#define YW_STORE_SCHEMA_VERSION 5

/* Rows yw_store_alerts() returns when the query sets no limit. */
#define YW_STORE_DEFAULT_LIMIT 100

/* ---- tokens ---- */

/* Adds a token. YW_EEXIST if its id or hash is taken; YW_ELIMIT if a text is too long. */
int yw_store_token_add(struct yw_store *st, const struct yw_store_token *t);

/* Consumes one use of the token with this hash, atomically, and copies its group into group
 * (NUL-terminated). YW_ENOENT unknown, YW_STORE_EEXPIRED (expires_at <= now),
 * YW_STORE_EUSEDUP (no use left), YW_ELIMIT if group_size is too small (nothing consumed). */
int yw_store_token_use(struct yw_store *st, const uint8_t hash[YW_STORE_HASH_LEN], int64_t now,
                       char *group, size_t group_size);

/* Every token, by creation time. */
int yw_store_token_list(struct yw_store *st, yw_store_token_cb cb, void *ctx);

/* YW_ENOENT if there is no such token. */
int yw_store_token_delete(struct yw_store *st, const char *id);

/* ---- agents ---- */

/* Adds an enrolled agent (offline, never seen). YW_EEXIST if the id is taken. */
int yw_store_agent_add(struct yw_store *st, const struct yw_store_agent *a);

/* On connect: sets online, last_seen = now, and addresses/version when not NULL. */
int yw_store_agent_seen(struct yw_store *st, const char *id, const char *addresses,
                        const char *version, int64_t now);

/* On disconnect: sets offline, last_seen = now. id NULL: every agent offline, last_seen kept
 * (at server start). */
int yw_store_agent_offline(struct yw_store *st, const char *id, int64_t now);

/* Sets revoked_at = now (once; a second call keeps the first time) and offline. */
int yw_store_agent_revoke(struct yw_store *st, const char *id, int64_t now);

/* 0 if the agent exists, is not revoked and cert_serial is its current certificate's serial;
 * 1 if it is revoked or the serial differs; YW_ENOENT if unknown. Deny on anything but 0. */
int yw_store_agent_is_revoked(struct yw_store *st, const char *id, const char *cert_serial);

/* Every agent, by name then id. */
int yw_store_agent_list(struct yw_store *st, yw_store_agent_cb cb, void *ctx);

/* One agent; YW_ENOENT if unknown. */
int yw_store_agent_get(struct yw_store *st, const char *id, yw_store_agent_cb cb, void *ctx);

/* The agent reports that its records up to seq are lost (its spool overflowed): last_seq
 * moves to at least seq, so acknowledgements go on past the gap; the lost count grows by the
 * sequence numbers skipped that were never stored. *ack is the new last_seq. */
int yw_store_agent_skip(struct yw_store *st, const char *id, uint64_t seq, uint64_t *ack);

/* ---- events and alerts ---- */

/* Stores a batch from one agent in one transaction, exactly once per (agent, seq): a record
 * whose seq is already stored, or <= the agent's last_seq, or repeated in the batch, is
 * ignored, and so are the alerts of that record. Updates last_seq (the highest seq below which
 * everything is stored) and events_received, commits, then sets *ack = last_seq: the agent may
 * drop records up to *ack from its spool. Send the ACK only after this returns 0.
 * YW_EINVAL (seq 0, an alert's record index out of range; nothing stored), YW_ENOENT (unknown
 * agent), YW_STORE_EREVOKED.
 * Each alert of a new record is then, in order (docs/storage.md, "Alerts"): dropped if an
 * unexpired suppression matches (its hits grow); else folded into the open alert with the same
 * (rule, agent, dedup key) whose last occurrence is within the de-duplication window (count
 * and last_seen grow); else stored as a new alert and linked to the agent's open incident and,
 * when its evidence has source.ip, to that address's open incident (each opened if needed).
 * Events with event.action sca_summary (yiwang.sca.score) and the inventory's listening ports
 * keep the per-agent inputs of the risk score. */
int yw_store_ingest(struct yw_store *st, const char *agent_id, const struct yw_store_batch *b,
                    uint64_t *ack);

/* One batch of a group commit. */
struct yw_store_ingest_item {
	const char *agent_id;
	const struct yw_store_batch *batch;
	uint64_t ack; /* out: as yw_store_ingest's *ack */
	int rc;       /* out: as yw_store_ingest's return value, for this batch alone */
};

/* Group commit: stores several batches (of any agents) in one transaction, each with
 * yw_store_ingest's meaning and guarantees; a batch that fails is rolled back alone (its rc
 * says why) and the others are kept. One commit instead of n: what lets a server take many
 * small batches from many agents. Returns 0, or an error that failed every batch (e.g. the
 * commit itself), which is then also in each rc. */
int yw_store_ingest_many(struct yw_store *st, struct yw_store_ingest_item *items, size_t n);

/* The current inventory of a terminal, kept from its inventory events at ingest (a full
 * snapshot replaces it; changes update it), optionally one dataset only; by dataset and key. */
int yw_store_inventory(struct yw_store *st, const char *agent_id, const char *dataset,
                       yw_store_inventory_cb cb, void *ctx);
/* The changes of a terminal's inventory after after_id, oldest first, at most limit rows
 * (0 = YW_STORE_DEFAULT_LIMIT). Full snapshots are not changes. */
int yw_store_inventory_history(struct yw_store *st, const char *agent_id, int64_t after_id,
                               size_t limit, yw_store_inventory_change_cb cb, void *ctx);

/* Calls cb for each alert matching q, in id order. */
int yw_store_alerts(struct yw_store *st, const struct yw_store_alert_query *q, yw_store_alert_cb cb,
                    void *ctx);

int yw_store_stats(struct yw_store *st, struct yw_store_stats *s);

/* Deletes raw events stored before `before` (hour granularity: events stored in an hour that
 * ends at or before `before`), in chunks so ingest is not blocked for long. Alerts and the
 * exactly-once guarantee stay (see docs/storage.md). *deleted (may be NULL) gets the count. */
int yw_store_prune(struct yw_store *st, int64_t before, uint64_t *deleted);

/* Writes a consistent copy of the database to path (which must not exist), mode 0600, while
 * the store stays in use (writes go on; other reads wait until the copy is done). */
int yw_store_backup(struct yw_store *st, const char *path);

/* ---- alert lifecycle ---- */

/* Applies c (see enum yw_alert_action) and writes a row of the audit trail in the same
 * transaction. YW_ENOENT unknown alert, YW_STORE_ESTATE not allowed from its status,
 * YW_EINVAL no `by`, YW_ELIMIT a text over YW_MAX_STORE_TEXT. Closing an alert closes each
 * incident it belongs to that has no other open alert. */
int yw_store_alert_change(struct yw_store *st, const struct yw_store_alert_change *c);

/* The audit trail of one alert, oldest first. */
int yw_store_alert_history(struct yw_store *st, int64_t alert_id, yw_store_alert_event_cb cb,
                           void *ctx);

/* ---- incidents ---- */

/* Incidents, newest first (open_only: closed_at == 0). */
int yw_store_incidents(struct yw_store *st, int open_only, yw_store_incident_cb cb, void *ctx);

/* ---- suppressions ---- */

/* Adds s (id, hits ignored); *id (may be NULL) gets its id. YW_EINVAL no criterion, field
 * without value, or no `by`; YW_ELIMIT a text too long. */
int yw_store_suppress_add(struct yw_store *st, const struct yw_store_suppression *s, int64_t *id);
/* Every suppression, expired ones included, by id. */
int yw_store_suppress_list(struct yw_store *st, yw_store_suppression_cb cb, void *ctx);
/* YW_ENOENT if there is no such suppression. */
int yw_store_suppress_delete(struct yw_store *st, int64_t id);

/* ---- risk (formula: docs/risk.md, src/server/risk.c) ---- */

/* The risk of each agent (agent_id NULL) or one (YW_ENOENT if unknown) at time now, by
 * agent name; *fleet (may be NULL) gets the fleet score over every non-revoked agent. */
int yw_store_risk(struct yw_store *st, int64_t now, const char *agent_id, yw_store_risk_cb cb,
                  void *ctx, double *fleet);

/* Records the fleet score and every non-revoked agent's score at now in risk_history. The
 * server calls it every few minutes. */
int yw_store_risk_snapshot(struct yw_store *st, int64_t now);

/* Recorded scores of scope ("fleet" or an agent id) at or after since, oldest first. */
int yw_store_risk_history(struct yw_store *st, const char *scope, int64_t since,
                          yw_store_risk_point_cb cb, void *ctx);

/* ---- the situation screen, rule hits (schema 5) ---- */

/* Fills *out (overwritten; free with yw_store_situation_free) with what the big screen shows
 * at now, local days per tz_min (minutes east of UTC, -720..840; YW_EINVAL outside). Counts
 * come from rollups kept at ingest, risk from the latest yw_store_risk_snapshot. */
int yw_store_situation(struct yw_store *st, int64_t now, int tz_min,
                       struct yw_store_situation *out);
/* Frees out's strings (not out); NULL is fine. */
void yw_store_situation_free(struct yw_store_situation *out);

/* Every rule that has alerts, by rule id, with its occurrences over the 168 hours up to now
 * and ever. */
int yw_store_rule_hits(struct yw_store *st, int64_t now, yw_store_rule_hit_cb cb, void *ctx);

/* ---- live stream counters (src/store/sqlite_live.c) ---- */

/* *n = alerts created at or after since (an index range count: cheap enough to call every
 * few seconds). */
int yw_store_alert_count(struct yw_store *st, int64_t since, uint64_t *n);

#endif
