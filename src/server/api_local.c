/* The local API: one JSON request line in, JSON lines out, over a Unix socket in the data
 * directory. Only the server's own user (or root) may connect: the socket is 0600 inside a
 * 0700 directory, and the peer's uid is checked with SO_PEERCRED as well.
 *
 * Requests:  {"op":"agents"}  {"op":"revoke","id":"…"}
 *            {"op":"token_create","group":"…","ttl_ms":N,"uses":N}
 *            {"op":"alerts","since":NS,"min_level":L,"agent":"…","after_id":N,"limit":N}
 *            {"op":"stats"}
 *            {"op":"respond",...} (respond.c: send a response action, or read one by id)
 *            alert triage (lifecycle, incidents, suppressions, risk): api_triage.h
 * Replies:   zero or more {"…"} rows, then {"ok":true,…} or {"ok":false,"error":"…"}. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api_triage.h"
#include "respond.h"
#include "detect/sigma_rule.h"
#include "server.h"
#include "yiwang/error.h"

#define API_MAX_REQUEST 65536
#define API_MAX_ROWS    10000

static int json_kv_str(struct yw_strbuf *b, const char *k, const char *v, int comma)
{
	int rc = comma ? yw_strbuf_putc(b, ',') : 0;
	if (rc == 0)
		rc = yw_strbuf_json_str(b, k, strlen(k));
	if (rc == 0)
		rc = yw_strbuf_putc(b, ':');
	if (rc)
		return rc;
	if (!v)
		return yw_strbuf_puts(b, "null");
	return yw_strbuf_json_str(b, v, strlen(v));
}

static int json_kv_int(struct yw_strbuf *b, const char *k, long long v)
{
	int rc = yw_strbuf_putc(b, ',');
	if (rc == 0)
		rc = yw_strbuf_json_str(b, k, strlen(k));
	return rc ? rc : yw_strbuf_printf(b, ":%lld", v);
}

struct rows {
	struct yw_server *s;
	struct yw_strbuf *out;
	size_t n;
	int64_t last_id;
};

static int agent_row(void *ud, const struct yw_store_agent *a)
{
	struct rows *r = ud;
	struct yw_strbuf *b = r->out;
	int rc = yw_strbuf_putc(b, '{');
	rc = rc ? rc : json_kv_str(b, "id", a->id, 0);
	rc = rc ? rc : json_kv_str(b, "name", a->name, 1);
	rc = rc ? rc : json_kv_str(b, "group", a->group, 1);
	rc = rc ? rc : json_kv_str(b, "os", a->os, 1);
	rc = rc ? rc : json_kv_str(b, "version", a->version, 1);
	rc = rc ? rc : json_kv_str(b, "addresses", a->addresses, 1);
	rc = rc ? rc : json_kv_int(b, "enrolled_at", a->enrolled_at);
	rc = rc ? rc : json_kv_int(b, "last_seen", a->last_seen);
	rc = rc ? rc : json_kv_int(b, "revoked_at", a->revoked_at);
	rc = rc ? rc : json_kv_int(b, "online", yw_server_agent_online(r->s, a->id));
	rc = rc ? rc : json_kv_int(b, "last_seq", (long long)a->last_seq);
	rc = rc ? rc : json_kv_int(b, "events_received", (long long)a->events_received);
	rc = rc ? rc : json_kv_int(b, "events_lost", (long long)a->events_lost);
	rc = rc ? rc : yw_strbuf_puts(b, "}\n");
	r->n++;
	return rc;
}

static int alert_row(void *ud, const struct yw_store_alert_row *a)
{
	struct rows *r = ud;
	struct yw_strbuf *b = r->out;
	int rc = yw_strbuf_printf(b, "{\"id\":%lld", (long long)a->id);
	rc = rc ? rc : json_kv_str(b, "agent_id", a->agent_id, 1);
	rc = rc ? rc : json_kv_str(b, "agent_name", a->agent_name, 1);
	rc = rc ? rc : json_kv_int(b, "seq", (long long)a->seq);
	rc = rc ? rc : json_kv_str(b, "rule_id", a->rule_id, 1);
	rc = rc ? rc : json_kv_str(b, "title", a->title, 1);
	rc = rc ? rc : json_kv_str(b, "level", yw_level_name(a->level), 1);
	/* tags and event are JSON already (written by the server itself). */
	rc = rc ? rc : yw_strbuf_printf(b, ",\"tags\":%s", a->tags ? a->tags : "[]");
	rc = rc ? rc : json_kv_int(b, "event_ts", a->event_ts);
	rc = rc ? rc : json_kv_int(b, "created_at", a->created_at);
	rc = rc ? rc : json_kv_str(b, "status", a->status, 1);
	rc = rc ? rc : json_kv_int(b, "count", (long long)a->count);
	rc = rc ? rc : json_kv_int(b, "first_seen", a->first_seen);
	rc = rc ? rc : json_kv_int(b, "last_seen", a->last_seen);
	rc = rc ? rc : json_kv_str(b, "dedup_key", a->dedup_key, 1);
	rc = rc ? rc : json_kv_str(b, "ack_by", a->ack_by, 1);
	rc = rc ? rc : json_kv_int(b, "ack_at", a->ack_at);
	rc = rc ? rc : json_kv_str(b, "ack_comment", a->ack_comment, 1);
	rc = rc ? rc : json_kv_str(b, "closed_by", a->closed_by, 1);
	rc = rc ? rc : json_kv_int(b, "closed_at", a->closed_at);
	rc = rc ? rc : json_kv_str(b, "closed_comment", a->closed_comment, 1);
	rc = rc ? rc : yw_strbuf_puts(b, ",\"solution\":");
	rc = rc ? rc : yw_server_solution_json(r->s, a->rule_id, b);
	rc = rc ? rc : yw_strbuf_printf(b, ",\"event\":%s}\n", a->event ? a->event : "null");
	r->n++;
	r->last_id = a->id;
	return rc;
}

static int inventory_row(void *ud, const struct yw_store_inventory_row *i)
{
	struct rows *r = ud;
	struct yw_strbuf *b = r->out;
	int rc = yw_strbuf_putc(b, '{');
	rc = rc ? rc : json_kv_str(b, "dataset", i->dataset, 0);
	rc = rc ? rc : json_kv_str(b, "key", i->key, 1);
	rc = rc ? rc : json_kv_int(b, "updated_at", i->updated_at);
	/* data is the item's event as the server stored it: JSON already. */
	rc = rc ? rc : yw_strbuf_printf(b, ",\"item\":%s}\n", i->data ? i->data : "null");
	r->n++;
	return rc;
}

static int inventory_change(void *ud, const struct yw_store_inventory_change *c)
{
	struct rows *r = ud;
	struct yw_strbuf *b = r->out;
	int rc = yw_strbuf_printf(b, "{\"id\":%lld", (long long)c->id);
	rc = rc ? rc : json_kv_int(b, "ts", c->ts);
	rc = rc ? rc : json_kv_str(b, "dataset", c->dataset, 1);
	rc = rc ? rc : json_kv_str(b, "key", c->key, 1);
	rc = rc ? rc : json_kv_str(b, "action", c->action, 1);
	rc = rc ? rc : yw_strbuf_printf(b, ",\"item\":%s}\n", c->data ? c->data : "null");
	r->n++;
	r->last_id = c->id;
	return rc;
}

static const char *jstr(json_t *req, const char *k)
{
	json_t *v = json_object_get(req, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long jint(json_t *req, const char *k, long long def)
{
	json_t *v = json_object_get(req, k);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

static void fail(struct yw_strbuf *out, const char *msg)
{
	yw_strbuf_puts(out, "{\"ok\":false,\"error\":");
	yw_strbuf_json_str(out, msg, strlen(msg));
	yw_strbuf_puts(out, "}\n");
}

static void handle(struct yw_server *s, const char *line, size_t len, struct yw_strbuf *out)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr);
	const char *op = req ? jstr(req, "op") : NULL;
	struct rows r = {s, out, 0, 0};
	int rc = 0;
	if (!op) {
		fail(out, "request must be a JSON object with \"op\"");
	} else if (!strcmp(op, "agents")) {
		rc = yw_store_agent_list(s->store, agent_row, &r);
		if (rc == 0)
			yw_strbuf_printf(out, "{\"ok\":true,\"count\":%zu}\n", r.n);
	} else if (!strcmp(op, "revoke")) {
		const char *id = jstr(req, "id");
		rc = id ? yw_server_revoke(s, id) : YW_EINVAL;
		if (rc == 0)
			yw_strbuf_puts(out, "{\"ok\":true}\n");
	} else if (!strcmp(op, "token_create")) {
		char str[1024];
		const char *group = jstr(req, "group");
		rc = yw_server_token_create(s, group ? group : "default",
					    jint(req, "ttl_ms", s->cfg.token_default_ttl_ms),
					    jint(req, "uses", s->cfg.token_default_uses), str,
					    sizeof(str));
		if (rc == 0) {
			yw_strbuf_puts(out, "{\"ok\":true,\"enroll\":");
			yw_strbuf_json_str(out, str, strlen(str));
			yw_strbuf_puts(out, "}\n");
		}
	} else if (!strcmp(op, "alerts")) {
		struct yw_store_alert_query q = {
			.since = jint(req, "since", 0),
			.min_level = (int)jint(req, "min_level", 0),
			.agent_id = jstr(req, "agent"),
			.after_id = jint(req, "after_id", 0),
			.limit = (size_t)jint(req, "limit", 100),
			.newest = (int)jint(req, "newest", 0),
			.open = (int)jint(req, "open", 0),
		};
		if (q.limit == 0 || q.limit > API_MAX_ROWS)
			q.limit = API_MAX_ROWS;
		rc = yw_store_alerts(s->store, &q, alert_row, &r);
		if (rc == 0)
			yw_strbuf_printf(out, "{\"ok\":true,\"count\":%zu,\"last_id\":%lld}\n", r.n,
					 (long long)r.last_id);
	} else if (!strcmp(op, "inventory")) {
		const char *agent = jstr(req, "agent");
		if (!agent)
			rc = YW_EINVAL;
		else if (json_is_true(json_object_get(req, "history")))
			rc = yw_store_inventory_history(s->store, agent, jint(req, "after_id", 0),
							(size_t)jint(req, "limit", 1000),
							inventory_change, &r);
		else
			rc = yw_store_inventory(s->store, agent, jstr(req, "dataset"), inventory_row,
						&r);
		if (rc == 0)
			yw_strbuf_printf(out, "{\"ok\":true,\"count\":%zu,\"last_id\":%lld}\n", r.n,
					 (long long)r.last_id);
	} else if (!strcmp(op, "stats")) {
		struct yw_store_stats st;
		struct yw_pipeline_stats ps;
		rc = yw_store_stats(s->store, &st);
		yw_pipeline_stats(s->pipe, &ps);
		if (rc == 0)
			yw_strbuf_printf(out,
					 "{\"ok\":true,\"agents\":%llu,\"agents_online\":%zu,"
					 "\"events\":%llu,\"alerts\":%llu,\"pipeline_depth\":%zu,"
					 "\"batches\":%llu,\"rules\":%zu}\n",
					 (unsigned long long)st.agents, yw_server_online_count(s),
					 (unsigned long long)st.events, (unsigned long long)st.alerts,
					 yw_pipeline_depth(s->pipe), (unsigned long long)ps.batches,
					 yw_ruleset_count(s->rules));
	} else if (yw_api_triage_op(op)) {
		rc = yw_api_triage(s, op, req, out);
	} else if (!strcmp(op, "respond")) {
		yw_server_respond_api(s, req, out);
	} else {
		fail(out, "unknown op");
	}
	if (rc)
		fail(out, yw_store_strerror(rc));
	json_decref(req);
}

/* A local client: non-blocking, so a client that connects and says nothing holds up no
 * agent; it is dropped after API_CLIENT_TIMEOUT_MS. */
#define API_CLIENT_TIMEOUT_MS 5000

struct client {
	struct yw_server *s;
	int fd;
	struct yw_strbuf in, out;
	size_t off;
	uint64_t timer;
};

static void client_close(struct client *c)
{
	yw_loop_unwatch(c->s->loop, c->fd);
	if (c->timer)
		yw_loop_cancel(c->s->loop, c->timer);
	close(c->fd);
	yw_strbuf_free(&c->in);
	yw_strbuf_free(&c->out);
	free(c);
}

static void client_timeout(struct yw_loop *l, void *ud)
{
	struct client *c = ud;
	c->timer = 0;
	client_close(c);
}

static void on_client(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct client *c = ud;
	if (c->out.len == 0) {
		char buf[4096];
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (n <= 0 || yw_strbuf_append(&c->in, buf, (size_t)n) != 0) {
				client_close(c); /* closed early, or a request over the limit */
				return;
			}
			if (memchr(buf, '\n', (size_t)n))
				break;
		}
		handle(c->s, c->in.data, c->in.len, &c->out);
		if (c->out.len == 0) {
			client_close(c);
			return;
		}
		yw_loop_watch(l, fd, YW_LOOP_WRITE, on_client, c);
	}
	while (c->off < c->out.len) {
		ssize_t n = write(fd, c->out.data + c->off, c->out.len - c->off);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
		c->off += (size_t)n;
	}
	client_close(c);
}

static void on_accept(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct yw_server *s = ud;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			return;
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			yw_logf(YW_LOG_WARNING, "local API: refused uid %d", (int)cred.uid);
			close(c);
			continue;
		}
		struct client *k = calloc(1, sizeof(*k));
		if (!k) {
			close(c);
			continue;
		}
		k->s = s;
		k->fd = c;
		yw_strbuf_init(&k->in, API_MAX_REQUEST);
		yw_strbuf_init(&k->out, 0);
		k->timer = yw_loop_after(l, API_CLIENT_TIMEOUT_MS, client_timeout, k);
		if (yw_loop_watch(l, c, YW_LOOP_READ, on_client, k) != 0)
			client_close(k);
	}
}

int yw_api_local_start(struct yw_server *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(s->api_path, sizeof(s->api_path), "%s/yiwang.sock", s->cfg.data_dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		yw_logf(YW_LOG_ERROR, "data directory path too long for a Unix socket");
		return YW_ELIMIT;
	}
	memcpy(sa.sun_path, s->api_path, (size_t)n + 1);
	unlink(s->api_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return YW_EIO;
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, 16) != 0) {
		yw_logf(YW_LOG_ERROR, "local API %s: %s", s->api_path, strerror(errno));
		close(fd);
		return YW_EIO;
	}
	s->api_fd = fd;
	return yw_loop_watch(s->loop, fd, YW_LOOP_READ, on_accept, s);
}

void yw_api_local_stop(struct yw_server *s)
{
	if (s->api_fd >= 0) {
		yw_loop_unwatch(s->loop, s->api_fd);
		close(s->api_fd);
		unlink(s->api_path);
		s->api_fd = -1;
	}
}
