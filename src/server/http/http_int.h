/* Internals shared by the files of the HTTP API (http.c routes and serves; the other files
 * add endpoints through routers). Not for use outside src/server/http. */
#ifndef YIWANG_HTTP_INT_H
#define YIWANG_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth.h"
#include "yiwang/strbuf.h"
#include "yw_limits.h"

struct yw_server;

struct yw_http {
	struct yw_server *s;
	struct yw_auth *auth;
	struct MHD_Daemon *d;
	char *cert, *key; /* PEM, kept for the daemon's life */
	size_t keylen;
	struct sockaddr_storage addr;
	struct yw_ratelimit *rl; /* ratelimit.h: per-address limit of /api requests; NULL = off */
	/* Open live streams per user (stream.c), so one account cannot take every slot. */
	pthread_mutex_t stream_mu;
	struct yw_stream_user {
		char user[YW_HTTP_MAX_NAME + 1];
		unsigned n;
	} stream_users[YW_LIVE_MAX_STREAMS];
};

/* One request: its body, gathered over the calls MHD makes. */
struct req {
	struct yw_strbuf body;
	int too_big;
};

/* What a handler answers (JSON unless content_type says otherwise). */
struct resp {
	int status;
	struct yw_strbuf b;
	int retry_after;          /* seconds; 0 = no header */
	const char *content_type; /* static text; NULL = JSON */
	/* For pages (static.c): a body served in place (static data, not copied) instead of b,
	 * and headers (static text) that replace the API's of the same name. */
	const void *fixed;
	size_t fixed_len;
	const char *hdr[YW_HTTP_RESP_HEADERS][2];
	/* A handler's own MHD response (the live stream), queued instead of b; send_resp takes
	 * it over. */
	struct MHD_Response *mhd;
};

/* The authenticated caller. */
struct who {
	char user[YW_HTTP_MAX_NAME + 1];
	int role;
};

/* A JSON list being written by row callbacks. */
struct list {
	struct yw_server *s; /* alerts: for their solutions */
	struct yw_strbuf *b;
	size_t n, max;
	const char *status; /* alerts: keep only this status */
	int64_t first_id;   /* alerts: the first id scanned */
	int64_t last_id;    /* alerts: the last id scanned */
	size_t scanned;     /* alerts: rows scanned */
};

/* Replaces the answer with {"error":msg} and status; 0 or YW_ENOMEM. */
int yw_http_error(struct resp *r, int status, const char *msg);
/* "k":"v" (null for NULL) with a leading comma unless first. */
int yw_http_kv_str(struct yw_strbuf *b, const char *k, const char *v, int first);
/* ,"k":v */
int yw_http_kv_int(struct yw_strbuf *b, const char *k, long long v);
/* Query parameter k: 0 absent (*v untouched), 1 set, -1 malformed or out of [lo, hi]. */
int yw_http_q_int(struct MHD_Connection *c, const char *k, long long lo, long long hi,
                  long long *v);
/* Query parameter k, NULL when absent or empty. */
const char *yw_http_q_str(struct MHD_Connection *c, const char *k);
/* A comma before every item of l but the first. */
int yw_http_sep(struct list *l);
/* The HTTP status for a store error code. */
int yw_http_store_status(int rc);
/* Starts {"items":[ */
int yw_http_list_open(struct resp *r);
/* The request body as a JSON object, or NULL (malformed, not an object). decref it. */
json_t *yw_http_body_object(struct req *q);
/* o[k] when a string, else NULL. */
const char *yw_http_j_str(json_t *o, const char *k);

struct yw_store_alert_row;
struct yw_store_agent;
struct yw_store_incident;
struct yw_store_risk_row;
/* Row writers of http.c's lists (ud: a struct list; each writes one closed JSON object). */
int yw_http_agent_row(void *ud, const struct yw_store_agent *a);
int yw_http_incident_row(void *ud, const struct yw_store_incident *i); /* stops at l->max */
int yw_http_risk_row(void *ud, const struct yw_store_risk_row *r);
/* The store action (enum yw_alert_action) that takes an alert to status ("acknowledged",
 * "resolved", "false_positive", "new"), or YW_EINVAL. */
int yw_http_alert_action(const char *status);
/* An alert as the API shows it (docs/api.md): its fields, its solution, its evidence. */
int yw_http_alert_json(struct yw_server *s, struct yw_strbuf *b,
                       const struct yw_store_alert_row *a);

/* An endpoint family in its own file. Called for every authenticated request whose path
 * (after /api/v1) none of http.c's own routes took, in the order of http.c's table. Returns 1
 * when it answered (r filled, errors included), 0 when the path is not its own, or a
 * negative YW_E* (answered as 500). Role checks are the router's. */
typedef int (*yw_http_router)(struct yw_http *h, struct MHD_Connection *c, const char *path,
                              const char *method, const struct who *w, struct req *q,
                              struct resp *r);

/* static.c: the web pages, GET / and /ui/<file> (docs/dashboard.md); an outside router. */
int yw_http_route_static(struct yw_http *h, struct MHD_Connection *c, const char *path,
                         const char *method, const struct who *w, struct req *q, struct resp *r);

/* api_detail.c: one alert, incident and agent, a terminal's baseline, file changes and
 * timeline, bulk triage, enrolment tokens, response actions (docs/api.md). */
int yw_http_route_detail(struct yw_http *h, struct MHD_Connection *c, const char *path,
                         const char *method, const struct who *w, struct req *q, struct resp *r);

/* api_situation.c: the big screen, GET /situation and GET /rules/hits (docs/api.md). */
int yw_http_route_situation(struct yw_http *h, struct MHD_Connection *c, const char *path,
                            const char *method, const struct who *w, struct req *q,
                            struct resp *r);

/* stream.c: GET /api/v1/stream, the live Server-Sent Events (docs/api.md "Live stream"). */
int yw_http_route_stream(struct yw_http *h, struct MHD_Connection *c, const char *path,
                         const char *method, const struct who *w, struct req *q, struct resp *r);
/* Ends the open streams (yw_http_stop calls it before stopping the daemon, which must not have
 * suspended connections). */
void yw_http_stream_close(struct yw_http *h);

/* metrics.c: GET /metrics (Prometheus), an outside router (docs/api.md "Metrics"). */
int yw_http_route_metrics(struct yw_http *h, struct MHD_Connection *c, const char *path,
                          const char *method, const struct who *w, struct req *q,
                          struct resp *r);

#endif
