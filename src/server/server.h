/* yiwang-server internals: the daemon's context, handed to every part of it (no globals). */
#ifndef YIWANG_SERVER_H
#define YIWANG_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"
#include "yiwang/config.h"
#include "yiwang/log.h"
#include "yiwang/notify.h"
#include "yiwang/solution.h"
#include "yiwang/loop.h"
#include "yiwang/pki.h"
#include "yiwang/proto.h"
#include "yiwang/sigma.h"
#include "yiwang/store.h"

struct yw_server_config {
	char *data_dir;
	char *listen;          /* host:port for agents */
	char *advertise;       /* host:port agents are told to use (enrolment strings) */
	struct yw_strlist rules;       /* Sigma rule paths */
	struct yw_strlist cert_names;  /* extra names in the server certificate */
	int64_t heartbeat_ms;
	int64_t handshake_timeout_ms;
	int64_t idle_timeout_ms;
	int64_t max_agents;
	int64_t agent_eps;     /* per-agent events/s limit */
	int64_t queue_batches; /* pipeline queue length */
	int64_t workers;       /* pipeline threads; 0 = one per CPU */
	int64_t token_default_uses;
	int64_t token_default_ttl_ms;
	char *log_level;
	char *notify_channels; /* YAML file of notification channels; NULL = none */
	char *solutions;       /* solution library directory; NULL = the shipped one */
	char *respond_policies; /* YAML of automatic response policies; NULL = none */
	char *http_listen;     /* host:port of the HTTP API; NULL/"" = off (http/http.h) */
	bool http_tls;         /* HTTPS; plain HTTP is allowed on loopback only */
	int64_t http_session_ttl_ms; /* lifetime of a login session */
	int64_t http_rate_limit;     /* API requests per second per address; 0 = no limit */
	int64_t http_rate_burst;     /* ... and the burst allowed above it */
	bool http_metrics_public;    /* /metrics without a token, from loopback only */
};

extern const struct yw_opt yw_server_opts[];
extern const size_t yw_server_nopts;

struct yw_conn;

struct yw_server {
	struct yw_server_config cfg;
	struct yw_loop *loop;
	struct yw_store *store;
	struct yw_pki_ca *ca;
	struct yw_tls_ctx *tls;
	struct yw_ruleset *rules;
	struct yw_pipeline *pipe;
	struct yw_notify *notify;     /* NULL when no channel is configured */
	struct yw_solutions *sols;    /* NULL when the library cannot be found */
	struct yw_autorespond *autorespond; /* NULL when no policy file is configured */
	struct auto_cmd *auto_head;   /* commands from policies, for the loop thread */
	struct yw_server_responses *responses; /* respond.c: responses.db, opened on first use */
	struct yw_server_call *call_head; /* loopcall.c: calls from other threads, under done_mu */
	struct yw_http *http; /* http/http.c: the HTTP API; NULL when off */
	struct yw_live *live; /* live.h: counters for /metrics and the stream hub */
	/* Risk snapshots run on their own thread (server.c): at 10,000 terminals one costs most
	 * of a second, which the loop thread must not spend. */
	pthread_t risk_thread;
	pthread_mutex_t risk_mu;
	pthread_cond_t risk_cv;
	bool risk_started, risk_stop;
	struct yw_proto *proto; /* loop thread's codec */
	int listen_fd, api_fd;
	char api_path[4096];
	/* Connections by id (ids grow; the table is a small open hash). */
	struct yw_conn **conns;
	size_t nconns, capconns;
	uint64_t next_conn_id;
	/* Batches stored by the pipeline, waiting for the loop thread to send their ACKs. */
	struct done_item *done_head;
	void *done_mu; /* pthread_mutex_t */
	bool stopping;
	uint64_t accepted, rejected;
};

/* The local API on a Unix socket in the data directory (api_local.c). */
int yw_api_local_start(struct yw_server *s);
void yw_api_local_stop(struct yw_server *s);

/* Revokes an agent: store, then closes its live connections (server.c). */
int yw_server_revoke(struct yw_server *s, const char *agent_id);
/* Creates an enrolment token and writes the enrolment string (server.c). */
int yw_server_token_create(struct yw_server *s, const char *group, int64_t ttl_ms,
			   int64_t uses, char *out, size_t outsz);
/* The same, and the token's id into id_out[idsz] (YW_AGENT_ID_SIZE fits it). Any thread: it
 * touches only the store and what is fixed once the server runs. */
int yw_server_token_new(struct yw_server *s, const char *group, int64_t ttl_ms, int64_t uses,
			char *id_out, size_t idsz, char *out, size_t outsz);
/* Appends the solution for an alert's rule as JSON (both languages), or null without a
 * library. Read-only: safe from any thread once the server started. */
int yw_server_solution_json(struct yw_server *s, const char *rule_id, struct yw_strbuf *b);
/* Agents with a live, streaming connection. */
size_t yw_server_online_count(struct yw_server *s);
/* Whether an agent has a live connection. */
bool yw_server_agent_online(struct yw_server *s, const char *agent_id);
/* Sends m on the agent's live streaming connection: 0, YW_ENOENT (not connected), or the
 * send's error (the connection is then closed). */
int yw_server_send_to_agent(struct yw_server *s, const char *agent_id, const struct yw_msg *m);

/* Calls from other threads into the loop thread (loopcall.c). yw_server_call runs fn(s, ud) on
 * the loop thread and returns once it ran: 0, or YW_EAGAIN when the loop did not take it
 * within timeout_ms (it then never runs), YW_ENOMEM. Never call it from the loop thread. */
typedef void (*yw_server_call_fn)(struct yw_server *s, void *ud);
int yw_server_call(struct yw_server *s, yw_server_call_fn fn, void *ud, int64_t timeout_ms);
/* Loop thread: runs the calls queued so far (from the loop's wake-up). */
void yw_server_calls_run(struct yw_server *s);

#endif
