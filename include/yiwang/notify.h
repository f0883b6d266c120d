/* Notifications: alerts sent to people and systems (webhook, WeCom, DingTalk, Feishu/Lark,
 * syslog to a SIEM, email) through a durable outbox. docs/notifications.md has the channel
 * options, the signatures, the formats and the delivery guarantees.
 *
 * yw_notify_alert() applies each channel's filters and writes one outbox row per matching
 * channel to notify.db in the data directory (SQLite, WAL) before it returns; a dispatcher
 * thread sends due rows, deletes them once the receiver accepted them, and schedules failed
 * ones again with exponential backoff and jitter, within each channel's rate limit. Rows still
 * in the outbox at yw_notify_free() are sent after the next start: delivery is at least once,
 * and every message carries a dedup key (the same on every retry) so a receiver can drop
 * repeats.
 *
 * Threads: yw_notify_alert() and yw_notify_stats() may be called from any thread. */
#ifndef YIWANG_NOTIFY_H
#define YIWANG_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/config.h"
#include "yiwang/diag.h"
#include "yiwang/strbuf.h"

enum yw_notify_type {
	YW_NOTIFY_WEBHOOK = 0,
	YW_NOTIFY_WECOM,
	YW_NOTIFY_DINGTALK,
	YW_NOTIFY_FEISHU,
	YW_NOTIFY_SYSLOG,
	YW_NOTIFY_EMAIL,
};

/* "wecom" -> YW_NOTIFY_WECOM; YW_EINVAL if unknown. */
int yw_notify_type_parse(const char *name);
const char *yw_notify_type_name(int type);

struct yw_notify_channel {
	char *name;
	int type;      /* enum yw_notify_type */
	char *url;     /* http(s):// (webhooks), tcp:// or tls:// host:port (syslog),
	                  smtp:// or smtps:// host:port (email) */
	char *secret;  /* webhook/DingTalk/Feishu signing secret, SMTP password; wiped on free */
	int min_level; /* enum yw_level; alerts below are not sent */
	struct yw_strlist groups; /* only alerts of agents in these groups (empty = all) */
	struct yw_strlist rules;  /* only alerts of these rule ids (empty = all) */
	int64_t rate_per_minute;  /* token bucket, burst = the same number; 0 = unlimited */
	int64_t timeout_ms;       /* one send attempt */
	int64_t max_attempts;     /* then the row is kept as failed and no longer sent */
	char *ca_file;            /* PEM CA bundle for https/tls/STARTTLS; NULL = system */
	bool insecure;            /* do not verify the peer certificate (tests only) */
	/* syslog */
	char *format;   /* "rfc5424" (default) or "cef" */
	char *hostname; /* HOSTNAME / CEF origin; NULL = gethostname() */
	/* email */
	char *from;
	struct yw_strlist to;
	char *username;
	bool starttls; /* require STARTTLS on smtp:// (default true) */
};

struct yw_notify_channels {
	struct yw_notify_channel *v; /* owned */
	size_t n;
};

/* Reads a `channels:` list from a YAML file, or from YAML text when the argument contains a
 * newline. `secret_file:` reads the secret from a file that must not be readable by group or
 * others. Every problem is a diagnostic (file:line:col); returns YW_EINVAL if there was any,
 * YW_ENOENT/YW_EIO if the file cannot be read. out is freed with yw_notify_channels_free. */
int yw_notify_load_channels(const char *path_or_yaml, struct yw_notify_channels *out,
                            struct yw_diags *d);
void yw_notify_channels_free(struct yw_notify_channels *c);

/* An alert to notify. Every pointer is borrowed for the call. Strings from log lines are
 * attacker-controlled: every format escapes them. */
struct yw_notify_alert {
	const char *rule_id;
	const char *title;
	int level; /* enum yw_level */
	const char *agent_id;
	const char *agent_name;
	const char *group;       /* the agent's group; NULL = none */
	int64_t ts_ns;           /* the event's time */
	const char *const *tags; /* Sigma tags (attack.t1110, ...) */
	size_t ntags;
	const char *event_json; /* flat dotted event object; key fields are picked from it */
	const char *solution;   /* what to do; NULL = none */
	const char *dedup_key;  /* NULL = derived from agent, rule, time and event */
};

/* Test hooks. NULL opts = the defaults (real clock, real senders, a dispatcher thread). */
typedef int64_t (*yw_notify_clock_fn)(void *ud); /* milliseconds since the epoch */
/* Replaces the network send: body is the rendered message. Returns 0 when delivered. */
typedef int (*yw_notify_send_fn)(void *ud, const struct yw_notify_channel *ch,
                                 const char *dedup_key, const char *body, size_t len);
struct yw_notify_opts {
	yw_notify_clock_fn clock;
	yw_notify_send_fn send;
	void *ud;
	bool no_thread;          /* no dispatcher thread: the caller drives yw_notify_dispatch() */
	int64_t base_backoff_ms; /* first retry delay (default 5 s), doubled per attempt */
	int64_t max_backoff_ms;  /* cap (default 1 h) */
	bool sync_full; /* fsync each enqueue (power-loss safe); default survives a crash */
};

struct yw_notify;

/* Opens (creating, mode 0600) data_dir/notify.db and starts the dispatcher. On success the
 * channels are moved into *out (channels is left empty); on failure they stay with the
 * caller. Rows of channels no longer configured stay in the outbox untouched. */
int yw_notify_new(const char *data_dir, struct yw_notify_channels *channels,
                  struct yw_notify **out);
int yw_notify_new_opts(const char *data_dir, struct yw_notify_channels *channels,
                       const struct yw_notify_opts *opts, struct yw_notify **out);
/* Stops the dispatcher (an attempt in progress ends within its timeout) and frees; NULL ok. */
void yw_notify_free(struct yw_notify *n);

/* Enqueues a for every channel whose filters accept it (durable when it returns 0). Alerts no
 * channel wants cost no write. YW_ENOMEM, YW_EIO. */
int yw_notify_alert(struct yw_notify *n, const struct yw_notify_alert *a);

/* One dispatcher pass at time now_ms: sends every due row the rate limits allow. Returns how
 * many were delivered, or a negative error. For no_thread mode (tests, tools). */
int yw_notify_dispatch(struct yw_notify *n, int64_t now_ms);

struct yw_notify_stats {
	uint64_t enqueued;   /* outbox rows written */
	uint64_t filtered;   /* (alert, channel) pairs a filter dropped */
	uint64_t duplicates; /* enqueues dropped as already in the outbox (same dedup key) */
	uint64_t sent;
	uint64_t retries;      /* failed attempts scheduled again */
	uint64_t failed;       /* rows that used up max_attempts */
	uint64_t rate_limited; /* due rows held back by a rate limit */
	uint64_t pending;      /* rows waiting in the outbox now */
};
void yw_notify_stats(struct yw_notify *n, struct yw_notify_stats *s);

/* ---- pieces exposed for tests (sign.c, format.c) ---- */

/* DingTalk: urlencode(base64(HMAC-SHA256(key=secret, timestamp_ms "\n" secret))). */
int yw_notify_sign_dingtalk(const char *secret, int64_t ts_ms, char *out, size_t outsz);
/* Feishu/Lark: base64(HMAC-SHA256(key=timestamp_s "\n" secret, message="")). */
int yw_notify_sign_feishu(const char *secret, int64_t ts_s, char *out, size_t outsz);
/* Generic webhook: "sha256=" hex(HMAC-SHA256(key=secret, timestamp "." body)). */
int yw_notify_sign_webhook(const char *secret, const char *ts, const char *body, size_t len,
                           char *out, size_t outsz);

/* The longest prefix of s[0..len) of at most max bytes that does not split a UTF-8
 * sequence. */
size_t yw_notify_utf8_cut(const char *s, size_t len, size_t max);

/* Renders a (its key fields already picked) as the channel type sends it: the HTTP body for
 * webhook/WeCom/DingTalk/Feishu (without signature fields), the syslog line (RFC 5424 or CEF,
 * without framing), or the email's text. dedup is the message id. Appends to out. */
int yw_notify_render(const struct yw_notify_channel *ch, const struct yw_notify_alert *a,
                     const char *dedup, struct yw_strbuf *out);

#endif
