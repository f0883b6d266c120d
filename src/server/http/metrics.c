/* GET /metrics: the server's counters in the Prometheus text format 0.0.4 (docs/api.md,
 * "Metrics"). Outside /api/v1, so it checks the caller itself: any user's bearer token, or
 * nothing from a loopback address when http.metrics_public is on. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_int.h"
#include "server/live.h"
#include "server/server.h"
#include "yiwang/error.h"

/* A router answered (r filled): 1, or the error of filling it. */
static int answered(int rc)
{
	return rc ? rc : 1;
}

static int from_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return 0;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ci->client_addr;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ci->client_addr;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

static int authorized(struct yw_http *h, struct MHD_Connection *c)
{
	if (h->s->cfg.http_metrics_public && from_loopback(c))
		return 1;
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!v || strncasecmp(v, "Bearer ", 7))
		return 0;
	v += 7;
	while (*v == ' ')
		v++;
	char user[YW_HTTP_MAX_NAME + 1];
	int role = -1;
	return yw_auth_check(h->auth, v, yw_wall_ns(), user, sizeof(user), &role) == 0 &&
	       role >= YW_ROLE_VIEWER;
}

int yw_http_route_metrics(struct yw_http *h, struct MHD_Connection *c, const char *path,
                          const char *method, const struct who *w, struct req *q, struct resp *r)
{
	if (strcmp(path, "/metrics"))
		return 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return answered(
		    yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed"));
	if (!authorized(h, c))
		return answered(
		    yw_http_error(r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required"));
	struct yw_server *s = h->s;
	struct yw_live_counters *ctr = yw_live_counters(s->live);
	if (!ctr)
		return answered(yw_http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "no counters"));
	struct yw_live_gauges g = {.notify_pending = -1,
	                           .stream_clients = yw_live_subscribers(s->live)};
	struct yw_store_stats st;
	if (yw_store_stats(s->store, &st) == 0)
		g.agents_enrolled = st.agents;
	size_t depth[YW_LIVE_MAX_WORKERS];
	if (s->pipe) {
		g.workers = yw_pipeline_workers(s->pipe);
		if (g.workers > YW_LIVE_MAX_WORKERS)
			g.workers = YW_LIVE_MAX_WORKERS;
		for (size_t i = 0; i < g.workers; i++)
			depth[i] = yw_pipeline_worker_depth(s->pipe, i);
		g.queue_depth = depth;
	}
	if (s->notify) {
		struct yw_notify_stats ns;
		yw_notify_stats(s->notify, &ns);
		g.notify_pending = (int64_t)ns.pending;
	}
	yw_live_process(&g.rss_bytes, &g.cpu_seconds);
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	int rc = yw_live_expose(&r->b, ctr, &g);
	return rc ? rc : 1;
}
