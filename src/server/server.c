/* yiwang-server: accepts agents over mutual TLS 1.3, enrols new ones with tokens, and feeds
 * their record batches to the pipeline, acknowledging each batch once it is stored.
 *
 * One network thread runs the event loop (connections, local API, timers); the pipeline's
 * worker decodes, detects and stores, then hands acknowledgements back through a queue and a
 * loop wake-up. A connection's reading pauses while the pipeline is full (back-pressure) and
 * while the agent is over its events-per-second budget, so a flood from one agent slows that
 * agent only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "respond.h"
#include "autorespond.h"
#include "detect/sigma_rule.h"
#include "http/http.h"
#include "http/stream.h"
#include "live.h"
#include "server.h"
#include "yiwang/error.h"
#include "yiwang/tls.h"

#define SERVER_VERSION  "0.1.0"
#define READ_CHUNK      (64 * 1024)
#define MAX_OUT_BUFFER  (8 * 1024 * 1024)
#define RESUME_RETRY_MS 20
#define THROTTLE_LOG_MS 10000

enum conn_state {
	C_HANDSHAKE,
	C_ENROLL_ONLY, /* no client certificate: only ENROLL is allowed */
	C_WAIT_HELLO,
	C_STREAM,
	C_CLOSING, /* flush what is queued, then close */
};

struct yw_conn {
	uint64_t id;
	int fd;
	int state;
	struct yw_server *s;
	struct yw_tls_conn *tls;
	struct yw_tls_identity ident;
	char peer[64];
	char name[256]; /* host name from HELLO */
	struct yw_frame_decoder *dec;
	struct yw_strbuf out;
	size_t out_off;
	int64_t last_rx_ms;
	int64_t opened_ms;
	uint64_t timer;
	uint64_t acked;
	bool want_write;
	bool paused;
	uint64_t resume_timer;
	/* Token bucket for the per-agent events/s limit. */
	double tokens;
	int64_t tokens_ms;
	uint64_t throttled;
	int64_t throttle_logged_ms;
};

struct done_item {
	struct done_item *next;
	uint64_t conn;
	uint64_t ack;
	int rc;
};

/* ---- connection table ---- */

static int conn_add(struct yw_server *s, struct yw_conn *c)
{
	if (s->nconns == s->capconns) {
		size_t cap = s->capconns ? s->capconns * 2 : 64;
		struct yw_conn **v = realloc(s->conns, cap * sizeof(*v));
		if (!v)
			return YW_ENOMEM;
		s->conns = v;
		s->capconns = cap;
	}
	s->conns[s->nconns++] = c;
	return 0;
}

static struct yw_conn *conn_find(struct yw_server *s, uint64_t id)
{
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i]->id == id)
			return s->conns[i];
	return NULL;
}

size_t yw_server_online_count(struct yw_server *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nconns; i++)
		n += s->conns[i]->state == C_STREAM;
	return n;
}

bool yw_server_agent_online(struct yw_server *s, const char *agent_id)
{
	for (size_t i = 0; i < s->nconns; i++) {
		const struct yw_conn *c = s->conns[i];
		if (c->state == C_STREAM && !strcmp(c->ident.agent_id, agent_id))
			return true;
	}
	return false;
}

static void on_io(struct yw_loop *l, int fd, unsigned ev, void *ud);
static void live_agent(struct yw_conn *c, int online);

static void conn_close(struct yw_conn *c, const char *why)
{
	struct yw_server *s = c->s;
	if (why)
		yw_logf(c->state == C_STREAM ? YW_LOG_INFO : YW_LOG_WARNING, "%s%s%s: closed: %s",
		        c->peer, c->ident.has_cert ? " agent " : "",
		        c->ident.has_cert ? c->ident.agent_id : "", why);
	if (c->state == C_STREAM) {
		yw_store_agent_offline(s->store, c->ident.agent_id, yw_wall_ns());
		live_agent(c, 0);
	}
	for (size_t i = 0; i < s->nconns; i++) {
		if (s->conns[i] == c) {
			s->conns[i] = s->conns[--s->nconns];
			break;
		}
	}
	yw_loop_unwatch(s->loop, c->fd);
	if (c->timer)
		yw_loop_cancel(s->loop, c->timer);
	if (c->resume_timer)
		yw_loop_cancel(s->loop, c->resume_timer);
	yw_tls_conn_free(c->tls);
	close(c->fd);
	yw_frame_decoder_free(c->dec);
	yw_strbuf_free(&c->out);
	free(c);
}

static void conn_watch(struct yw_conn *c)
{
	unsigned ev = 0;
	if (!c->paused || c->state == C_HANDSHAKE)
		ev |= YW_LOOP_READ;
	if (c->want_write)
		ev |= YW_LOOP_WRITE;
	yw_loop_watch(c->s->loop, c->fd, ev, on_io, c);
}

/* Writes queued output. Returns 0, or negative when the connection must close. */
static int conn_flush(struct yw_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = yw_tls_write(c->tls, c->out.data + c->out_off, c->out.len - c->out_off);
		if (n == YW_EAGAIN || n == YW_EWANTWRITE) {
			c->want_write = true;
			conn_watch(c);
			return 0;
		}
		if (n < 0)
			return (int)n;
		c->out_off += (size_t)n;
	}
	yw_strbuf_reset(&c->out);
	c->out_off = 0;
	if (c->want_write) {
		c->want_write = false;
		conn_watch(c);
	}
	return 0;
}

static int conn_send(struct yw_conn *c, const struct yw_msg *m)
{
	if (c->out.len - c->out_off > MAX_OUT_BUFFER)
		return YW_ELIMIT; /* a peer that does not read its acks */
	int rc = yw_proto_encode(c->s->proto, m, &c->out);
	return rc ? rc : conn_flush(c);
}

int yw_server_send_to_agent(struct yw_server *s, const char *agent_id, const struct yw_msg *m)
{
	for (size_t i = 0; i < s->nconns; i++) {
		struct yw_conn *c = s->conns[i];
		if (c->state != C_STREAM || strcmp(c->ident.agent_id, agent_id))
			continue;
		int rc = conn_send(c, m);
		if (rc)
			conn_close(c, "write failed");
		return rc;
	}
	return YW_ENOENT;
}

static void conn_error(struct yw_conn *c, uint16_t code, const char *msg)
{
	struct yw_msg m = {.type = YW_MSG_ERROR};
	m.error.code = code;
	m.error.message = msg;
	m.error.message_len = (uint16_t)strlen(msg);
	if (c->state != C_HANDSHAKE && conn_send(c, &m) == 0)
		yw_tls_shutdown(c->tls);
	conn_close(c, msg);
}

/* ---- enrolment ---- */

static int hex_to_bytes(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return YW_EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* The store keeps the raw SHA-256 of a token; pki formats it as "sha256:<hex>". */
static int token_digest(const char *token, uint8_t out[YW_STORE_HASH_LEN])
{
	char h[YW_TOKEN_HASH_SIZE];
	int rc = yw_token_hash(token, h);
	return rc ? rc : hex_to_bytes(h + 7, out, YW_STORE_HASH_LEN);
}

int yw_server_token_create(struct yw_server *s, const char *group, int64_t ttl_ms, int64_t uses,
                           char *out, size_t outsz)
{
	return yw_server_token_new(s, group, ttl_ms, uses, NULL, 0, out, outsz);
}

int yw_server_token_new(struct yw_server *s, const char *group, int64_t ttl_ms, int64_t uses,
                        char *id_out, size_t idsz, char *out, size_t outsz)
{
	struct yw_enroll_info info = {0};
	uint8_t hash[YW_STORE_HASH_LEN];
	char id[YW_AGENT_ID_SIZE];
	int rc = yw_token_generate(info.token);
	if (rc == 0)
		rc = token_digest(info.token, hash);
	if (rc == 0)
		rc = yw_pki_agent_id_new(id);
	if (rc)
		goto out;
	int64_t now = yw_wall_ns();
	struct yw_store_token t = {
	    .id = id,
	    .group = group,
	    .expires_at = ttl_ms > 0 ? now + ttl_ms * 1000000 : 0,
	    .uses_left = uses > 0 ? uses : -1,
	    .created_at = now,
	};
	memcpy(t.hash, hash, sizeof(hash));
	if ((rc = yw_store_token_add(s->store, &t)) != 0)
		goto out;
	snprintf(info.addr, sizeof(info.addr), "%s", s->cfg.advertise);
	snprintf(info.ca_fingerprint, sizeof(info.ca_fingerprint), "%s",
	         yw_pki_ca_fingerprint(s->ca));
	rc = yw_enroll_string_encode(&info, out, outsz);
	if (rc == 0 && id_out)
		snprintf(id_out, idsz, "%s", id);
	if (rc == 0)
		yw_logf(YW_LOG_INFO, "enrolment token %s created for group '%s'", id, group);
out:
	OPENSSL_cleanse(&info, sizeof(info));
	return rc;
}

static void handle_enroll(struct yw_conn *c, const struct yw_msg_enroll *e)
{
	struct yw_server *s = c->s;
	char token[YW_TOKEN_SIZE], group[128], id[YW_AGENT_ID_SIZE], err[256] = "";
	uint8_t hash[YW_STORE_HASH_LEN];
	char *cert = NULL;
	struct yw_pki_cert_info info;
	int rc;
	if (e->token_len != YW_TOKEN_SIZE - 1) {
		conn_error(c, YW_PERR_ENROLL, "enrolment token rejected");
		return;
	}
	memcpy(token, e->token, e->token_len);
	token[e->token_len] = '\0';
	rc = token_digest(token, hash);
	OPENSSL_cleanse(token, sizeof(token));
	if (rc == 0)
		rc = yw_store_token_use(s->store, hash, yw_wall_ns(), group, sizeof(group));
	if (rc) {
		char msg[128];
		snprintf(msg, sizeof(msg), "enrolment token rejected: %s", yw_store_strerror(rc));
		conn_error(c, YW_PERR_ENROLL, msg);
		return;
	}
	if ((rc = yw_pki_agent_id_new(id)) == 0)
		rc = yw_pki_sign_csr(s->ca, e->csr_pem, e->csr_pem_len, id, 0, &cert, &info, err,
		                     sizeof(err));
	if (rc) {
		yw_logf(YW_LOG_WARNING, "%s: enrolment: bad CSR: %s", c->peer, err);
		conn_error(c, YW_PERR_ENROLL, "certificate request rejected");
		return;
	}
	char name[256], os[256], ver[64], addr[96];
	snprintf(name, sizeof(name), "%.*s", (int)e->hostname_len, e->hostname);
	snprintf(os, sizeof(os), "%.*s", (int)e->os_len, e->os);
	snprintf(ver, sizeof(ver), "%.*s", (int)e->agent_version_len, e->agent_version);
	snprintf(addr, sizeof(addr), "[\"%s\"]", c->peer); /* a JSON array, as HELLO records */
	struct yw_store_agent a = {
	    .id = id,
	    .name = name,
	    .group = group,
	    .os = os,
	    .version = ver,
	    .cert_serial = info.serial,
	    .addresses = addr,
	    .enrolled_at = yw_wall_ns(),
	};
	rc = yw_store_agent_add(s->store, &a);
	if (rc) {
		free(cert);
		conn_error(c, YW_PERR_INTERNAL, "cannot record the agent");
		return;
	}
	struct yw_msg m = {.type = YW_MSG_ENROLLED};
	const char *ca = yw_pki_ca_pem(s->ca);
	m.enrolled.agent_id = id;
	m.enrolled.agent_id_len = (uint16_t)strlen(id);
	m.enrolled.cert_pem = cert;
	m.enrolled.cert_pem_len = (uint32_t)strlen(cert);
	m.enrolled.ca_pem = ca;
	m.enrolled.ca_pem_len = (uint32_t)strlen(ca);
	rc = conn_send(c, &m);
	free(cert);
	yw_logf(YW_LOG_INFO, "%s: enrolled agent %s (%s) in group '%s'", c->peer, id, name, group);
	if (rc == 0) {
		c->state = C_CLOSING;
		if (c->out.len == c->out_off)
			conn_close(c, NULL);
	} else {
		conn_close(c, "write failed");
	}
}

/* ---- streaming ---- */

static void handle_hello(struct yw_conn *c, const struct yw_msg_hello *h)
{
	struct yw_server *s = c->s;
	if (h->max_version < YW_PROTO_VERSION_MIN || h->min_version > YW_PROTO_VERSION) {
		conn_error(c, YW_PERR_VERSION, "no common protocol version");
		return;
	}
	if (h->agent_id_len != strlen(c->ident.agent_id) ||
	    memcmp(h->agent_id, c->ident.agent_id, h->agent_id_len) != 0) {
		conn_error(c, YW_PERR_AUTH, "HELLO names another agent than the certificate");
		return;
	}
	c->tokens = (double)s->cfg.agent_eps;
	c->tokens_ms = yw_mono_ms();
	/* One live connection per agent: a new one replaces the old (e.g. after a network cut
	 * the old socket may linger until its timeout). It inherits the old one's budget, so
	 * reconnecting does not refill it. */
	for (size_t i = 0; i < s->nconns; i++) {
		struct yw_conn *o = s->conns[i];
		if (o != c && o->state == C_STREAM &&
		    !strcmp(o->ident.agent_id, c->ident.agent_id)) {
			c->tokens = o->tokens;
			c->tokens_ms = o->tokens_ms;
			conn_close(o, "replaced by a new connection");
			break;
		}
	}
	snprintf(c->name, sizeof(c->name), "%.*s", (int)h->hostname_len, h->hostname);
	char ver[64], addr[96];
	snprintf(ver, sizeof(ver), "%.*s", (int)h->agent_version_len, h->agent_version);
	snprintf(addr, sizeof(addr), "[\"%s\"]", c->peer);
	yw_store_agent_seen(s->store, c->ident.agent_id, addr, ver, yw_wall_ns());
	live_agent(c, 1);
	/* Records below next_seq were dropped by the agent's spool: move past the gap. The call
	 * also reports what is stored, so the agent can drop it. */
	uint64_t last = 0;
	int rc = yw_store_agent_skip(s->store, c->ident.agent_id,
	                             h->next_seq > 1 ? h->next_seq - 1 : 0, &last);
	if (rc) {
		conn_error(c, YW_PERR_INTERNAL, "cannot read the agent's state");
		return;
	}
	struct yw_msg m = {.type = YW_MSG_WELCOME};
	m.welcome.version = h->max_version < YW_PROTO_VERSION ? h->max_version : YW_PROTO_VERSION;
	m.welcome.server_version = SERVER_VERSION;
	m.welcome.server_version_len = (uint16_t)strlen(SERVER_VERSION);
	m.welcome.heartbeat_s =
	    (uint16_t)(s->cfg.heartbeat_ms / 1000 ? s->cfg.heartbeat_ms / 1000 : 1);
	/* A batch is read whole, so one larger than a second's budget would pause the agent for
	 * several seconds, past its heartbeat timeout (it then reconnects, again and again). */
	m.welcome.max_batch_records =
	    s->cfg.agent_eps > 0 && s->cfg.agent_eps < 10000 ? (uint32_t)s->cfg.agent_eps : 10000;
	m.welcome.max_batch_bytes = 4 * 1024 * 1024;
	m.welcome.last_seq = last;
	c->acked = last;
	c->state = C_STREAM;
	if (conn_send(c, &m) != 0) {
		conn_close(c, "write failed");
		return;
	}
	yw_logf(YW_LOG_INFO, "%s: agent %s (%s) connected, resuming after seq %llu", c->peer,
	        c->ident.agent_id, c->name, (unsigned long long)last);
}

static void resume_cb(struct yw_loop *l, void *ud);

/* Pauses reading until the pipeline drains or the agent's budget refills. */
static void conn_pause(struct yw_conn *c, int64_t ms)
{
	if (!c->paused) {
		c->paused = true;
		conn_watch(c);
	}
	if (!c->resume_timer)
		c->resume_timer = yw_loop_after(c->s->loop, ms, resume_cb, c);
}

static bool over_budget(struct yw_conn *c)
{
	struct yw_server *s = c->s;
	if (s->cfg.agent_eps <= 0)
		return false;
	int64_t now = yw_mono_ms();
	c->tokens += (double)(now - c->tokens_ms) * (double)s->cfg.agent_eps / 1000.0;
	if (c->tokens > (double)s->cfg.agent_eps)
		c->tokens = (double)s->cfg.agent_eps;
	c->tokens_ms = now;
	return c->tokens < 0;
}

/* Counts a pause for the events/s budget; says so at most every THROTTLE_LOG_MS per
 * connection, so that a flood is visible in the log without flooding it. */
static void throttle(struct yw_conn *c)
{
	int64_t now = yw_mono_ms();
	c->throttled++;
	if (c->throttle_logged_ms && now - c->throttle_logged_ms < THROTTLE_LOG_MS)
		return;
	c->throttle_logged_ms = now;
	yw_logf(YW_LOG_WARNING, "%s agent %s: over agents.eps_limit (%lld events/s): throttled",
	        c->peer, c->ident.agent_id, (long long)c->s->cfg.agent_eps);
}

static bool pipeline_full(struct yw_server *s)
{
	return yw_pipeline_records(s->pipe) >= (size_t)s->cfg.queue_batches;
}

static int handle_batch(struct yw_conn *c, const struct yw_msg_batch *b)
{
	struct yw_server *s = c->s;
	int rc =
	    yw_pipeline_submit(s->pipe, c->id, c->ident.agent_id, c->name, b->records, b->count);
	if (rc) {
		conn_error(c, YW_PERR_INTERNAL, "server out of memory");
		return rc;
	}
	c->tokens -= b->count;
	return 0;
}

static int handle_frame(struct yw_conn *c, const struct yw_frame *f)
{
	struct yw_msg m;
	int rc = yw_proto_decode(c->s->proto, f, &m);
	if (rc) {
		char msg[96];
		snprintf(msg, sizeof(msg), "malformed %s message: %s", yw_proto_type_name(f->type),
		         yw_strerror(rc));
		conn_error(c, yw_proto_errcode(rc), msg);
		return rc;
	}
	if (!yw_proto_from_agent(m.type)) {
		conn_error(c, YW_PERR_PROTOCOL, "message not allowed from an agent");
		return YW_EPARSE;
	}
	switch (c->state) {
	case C_ENROLL_ONLY:
		if (m.type != YW_MSG_ENROLL) {
			conn_error(c, YW_PERR_AUTH, "a client certificate is required");
			return YW_EAUTH;
		}
		handle_enroll(c, &m.enroll);
		return 1; /* the connection is done */
	case C_WAIT_HELLO:
		if (m.type != YW_MSG_HELLO) {
			conn_error(c, YW_PERR_PROTOCOL, "expected HELLO");
			return YW_EPARSE;
		}
		handle_hello(c, &m.hello);
		return c->state == C_STREAM ? 0 : 1;
	case C_STREAM:
		break;
	default:
		return 0;
	}
	switch (m.type) {
	case YW_MSG_BATCH:
		return handle_batch(c, &m.batch);
	case YW_MSG_PING: {
		struct yw_msg p = {.type = YW_MSG_PONG};
		p.ping_nonce = m.ping_nonce;
		return conn_send(c, &p);
	}
	case YW_MSG_PONG:
		return 0;
	case YW_MSG_COMMAND_RESULT:
		yw_server_command_result(c->s, c->ident.agent_id, &m.command_result);
		return 0;
	case YW_MSG_BYE:
		conn_close(c, "agent said goodbye");
		return 1;
	case YW_MSG_ERROR: {
		char msg[160];
		snprintf(msg, sizeof(msg), "agent reported error %u: %.*s", m.error.code,
		         (int)m.error.message_len, m.error.message);
		conn_close(c, msg);
		return 1;
	}
	default:
		conn_error(c, YW_PERR_PROTOCOL, "unexpected message");
		return YW_EPARSE;
	}
}

/* Reads and handles frames until the socket would block, the connection pauses or closes.
 * Returns 1 when c was freed. */
static int conn_read(struct yw_conn *c)
{
	for (;;) {
		if (c->state == C_STREAM && (pipeline_full(c->s) || over_budget(c))) {
			if (over_budget(c))
				throttle(c);
			conn_pause(c, RESUME_RETRY_MS);
			return 0;
		}
		struct yw_frame f;
		int rc = yw_frame_next(c->dec, &f);
		if (rc == 1) {
			rc = handle_frame(c, &f);
			if (rc != 0)
				return 1; /* closed (error or end of enrolment) */
			continue;
		}
		if (rc < 0) {
			char msg[96];
			snprintf(msg, sizeof(msg), "bad frame: %s", yw_strerror(rc));
			conn_error(c, yw_proto_errcode(rc), msg);
			return 1;
		}
		uint8_t *p;
		if ((rc = yw_frame_space(c->dec, READ_CHUNK, &p)) != 0) {
			conn_error(c, YW_PERR_LIMIT, "frame buffer overflow");
			return 1;
		}
		ssize_t n = yw_tls_read(c->tls, p, READ_CHUNK);
		if (n == YW_EAGAIN)
			return 0;
		if (n == YW_EWANTWRITE) {
			c->want_write = true;
			conn_watch(c);
			return 0;
		}
		if (n == 0) {
			conn_close(c, "peer closed the connection");
			return 1;
		}
		if (n < 0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "read failed: %s", yw_tls_error(c->tls));
			conn_close(c, msg);
			return 1;
		}
		yw_frame_commit(c->dec, (size_t)n);
		c->last_rx_ms = yw_mono_ms();
	}
}

static void resume_cb(struct yw_loop *l, void *ud)
{
	struct yw_conn *c = ud;
	c->resume_timer = 0;
	if (pipeline_full(c->s) || over_budget(c)) {
		c->resume_timer = yw_loop_after(l, RESUME_RETRY_MS, resume_cb, c);
		return;
	}
	c->paused = false;
	conn_watch(c);
	conn_read(c);
}

static void on_io(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct yw_conn *c = ud;
	struct yw_server *s = c->s;
	if (c->state == C_HANDSHAKE) {
		int rc = yw_tls_handshake(c->tls);
		if (rc == YW_EAGAIN || rc == YW_EWANTWRITE) {
			c->want_write = rc == YW_EWANTWRITE;
			conn_watch(c);
			return;
		}
		if (rc) {
			char msg[300];
			snprintf(msg, sizeof(msg), "TLS handshake failed: %s",
			         yw_tls_error(c->tls));
			s->rejected++;
			conn_close(c, msg);
			return;
		}
		yw_tls_peer_identity(c->tls, &c->ident);
		if (c->ident.has_cert &&
		    yw_store_agent_is_revoked(s->store, c->ident.agent_id, c->ident.serial) != 0) {
			s->rejected++;
			c->state = C_WAIT_HELLO;
			conn_error(c, YW_PERR_AUTH, "agent unknown or revoked");
			return;
		}
		c->state = c->ident.has_cert ? C_WAIT_HELLO : C_ENROLL_ONLY;
		c->want_write = false;
		conn_watch(c);
	}
	if ((ev & YW_LOOP_WRITE) && c->out.len > c->out_off) {
		if (conn_flush(c) != 0) {
			conn_close(c, "write failed");
			return;
		}
		if (c->state == C_CLOSING && c->out.len == 0) {
			yw_tls_shutdown(c->tls);
			conn_close(c, NULL);
			return;
		}
	} else if ((ev & YW_LOOP_WRITE) && c->want_write) {
		c->want_write = false;
		conn_watch(c);
	}
	if (c->state != C_CLOSING && !c->paused)
		conn_read(c);
}

static void conn_timer(struct yw_loop *l, void *ud)
{
	struct yw_conn *c = ud;
	int64_t now = yw_mono_ms();
	c->timer = 0;
	if (c->state == C_HANDSHAKE || c->state == C_ENROLL_ONLY || c->state == C_WAIT_HELLO) {
		if (now - c->opened_ms >= c->s->cfg.handshake_timeout_ms) {
			conn_close(c, "no handshake or HELLO in time");
			return;
		}
	} else if (!c->paused && now - c->last_rx_ms >= c->s->cfg.idle_timeout_ms) {
		conn_close(c, "idle: no data or heartbeat");
		return;
	}
	c->timer = yw_loop_after(l, 1000, conn_timer, c);
}

static void on_accept(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct yw_server *s = ud;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int cfd = accept4(fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		char host[INET6_ADDRSTRLEN] = "?", serv[8] = "?";
		getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), serv, sizeof(serv),
		            NI_NUMERICHOST | NI_NUMERICSERV);
		if ((int64_t)s->nconns >= s->cfg.max_agents) {
			yw_logf(YW_LOG_WARNING, "%s:%s: refused: %zu connections (max_agents)",
			        host, serv, s->nconns);
			close(cfd);
			continue;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct yw_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->s = s;
		c->fd = cfd;
		c->id = ++s->next_conn_id;
		snprintf(c->peer, sizeof(c->peer), "%s:%s", host, serv);
		c->opened_ms = c->last_rx_ms = yw_mono_ms();
		yw_strbuf_init(&c->out, 0);
		c->dec = yw_frame_decoder_new();
		if (!c->dec || yw_tls_conn_new(s->tls, cfd, true, c->peer, &c->tls) != 0 ||
		    conn_add(s, c) != 0) {
			yw_frame_decoder_free(c->dec);
			yw_tls_conn_free(c->tls);
			close(cfd);
			free(c);
			continue;
		}
		s->accepted++;
		c->timer = yw_loop_after(l, 1000, conn_timer, c);
		conn_watch(c);
	}
}

/* ---- pipeline completions ---- */

static void pipeline_done(void *ud, uint64_t conn, const char *agent_id, uint64_t ack, int rc)
{
	struct yw_server *s = ud;
	struct done_item *d = malloc(sizeof(*d));
	if (!d)
		return; /* the agent resends: nothing is lost, only this ACK */
	d->conn = conn;
	d->ack = ack;
	d->rc = rc;
	pthread_mutex_lock(s->done_mu);
	d->next = s->done_head;
	s->done_head = d;
	pthread_mutex_unlock(s->done_mu);
	yw_loop_wake(s->loop);
}

static void send_auto(struct yw_server *s);

static void on_wake(struct yw_loop *l, void *ud)
{
	struct yw_server *s = ud;
	send_auto(s);
	yw_server_calls_run(s);
	pthread_mutex_lock(s->done_mu);
	struct done_item *d = s->done_head;
	s->done_head = NULL;
	pthread_mutex_unlock(s->done_mu);
	while (d) {
		struct done_item *next = d->next;
		struct yw_conn *c = conn_find(s, d->conn);
		if (c && c->state == C_STREAM) {
			if (d->rc) {
				yw_logf(YW_LOG_ERROR, "agent %s: storing a batch failed: %s",
				        c->ident.agent_id, yw_store_strerror(d->rc));
				conn_error(c, YW_PERR_INTERNAL, "storing failed; resend later");
			} else if (d->ack > c->acked) {
				struct yw_msg m = {.type = YW_MSG_ACK};
				m.ack_seq = d->ack;
				c->acked = d->ack;
				if (conn_send(c, &m) != 0)
					conn_close(c, "write failed");
			}
		}
		free(d);
		d = next;
	}
}

/* ---- notifications ---- */

struct group_ctx {
	char group[128];
};

static int agent_group(void *ud, const struct yw_store_agent *a)
{
	struct group_ctx *g = ud;
	snprintf(g->group, sizeof(g->group), "%s", a->group ? a->group : "");
	return 0;
}

/* A terminal connected or left: the live stream's "agent" event. */
static void live_agent(struct yw_conn *c, int online)
{
	struct group_ctx g = {""};
	yw_store_agent_get(c->s->store, c->ident.agent_id, agent_group, &g);
	int rc =
	    yw_live_agent(c->s->live, c->ident.agent_id, c->name, g.group, online, yw_wall_ns());
	if (rc)
		yw_logf(YW_LOG_WARNING, "live stream: agent %s: %s", c->ident.agent_id,
		        yw_strerror(rc));
}

/* Runs on pipeline workers: queue the alert for every channel whose filters it passes, with
 * the solution (Chinese first: the operators' language) attached. */
struct auto_cmd {
	struct auto_cmd *next;
	char *agent, *action, *args, *by;
};

/* Worker thread: a policy matched; the command goes out from the loop thread, which owns the
 * connections. */
static void queue_auto(void *ud, const char *agent_id, const char *action, const char *args,
                       const char *by)
{
	struct yw_server *s = ud;
	struct auto_cmd *c = calloc(1, sizeof(*c));
	if (!c || !(c->agent = strdup(agent_id)) || !(c->action = strdup(action)) ||
	    !(c->args = strdup(args)) || !(c->by = strdup(by))) {
		if (c) {
			free(c->agent);
			free(c->action);
			free(c->args);
		}
		free(c);
		yw_logf(YW_LOG_ERROR, "automatic %s for agent %s dropped: out of memory", action,
		        agent_id);
		return;
	}
	pthread_mutex_lock(s->done_mu);
	c->next = s->auto_head;
	s->auto_head = c;
	pthread_mutex_unlock(s->done_mu);
	yw_loop_wake(s->loop);
}

static void send_auto(struct yw_server *s)
{
	pthread_mutex_lock(s->done_mu);
	struct auto_cmd *c = s->auto_head;
	s->auto_head = NULL;
	pthread_mutex_unlock(s->done_mu);
	while (c) {
		struct auto_cmd *next = c->next;
		uint64_t id = 0;
		int rc = yw_server_command(s, c->agent, c->action, c->args, c->by, &id);
		if (rc)
			yw_logf(YW_LOG_WARNING, "automatic %s for agent %s (%s) not sent: %s",
			        c->action, c->agent, c->by, yw_strerror(rc));
		else
			yw_logf(YW_LOG_INFO,
			        "automatic %s %s sent to agent %s as command %llu (%s)", c->action,
			        c->args, c->agent, (unsigned long long)id, c->by);
		free(c->agent);
		free(c->action);
		free(c->args);
		free(c->by);
		free(c);
		c = next;
	}
}

static void pipeline_alert(void *ud, const struct yw_pipeline_alert *a)
{
	struct yw_server *s = ud;
	if (s->autorespond)
		yw_autorespond_alert(s->autorespond, a->agent_id, a->rule, a->event_json,
		                     yw_wall_ns() / 1000000, queue_auto, s);
	if (!s->notify)
		return;
	struct group_ctx g = {""};
	yw_store_agent_get(s->store, a->agent_id, agent_group, &g);
	struct yw_strbuf sol = YW_STRBUF_INIT;
	int level = 0;
	const struct yw_solution *so =
	    s->sols ? yw_solutions_resolve(s->sols, a->rule, &level) : NULL;
	if (so)
		yw_solution_text(so, level, YW_LANG_ZH, &sol);
	int lv = yw_level_parse(a->rule->level);
	struct yw_notify_alert na = {
	    .rule_id = a->rule->id ? a->rule->id : a->rule->title,
	    .title = a->rule->title,
	    .level = lv < 0 ? YW_LEVEL_INFORMATIONAL : lv,
	    .agent_id = a->agent_id,
	    .agent_name = a->agent_name,
	    .group = g.group[0] ? g.group : NULL,
	    .ts_ns = a->ts_ns,
	    .tags = a->rule->tags,
	    .ntags = a->rule->ntags,
	    .event_json = a->event_json,
	    .solution = sol.len ? sol.data : NULL,
	};
	int rc = yw_notify_alert(s->notify, &na);
	if (rc)
		yw_logf(YW_LOG_WARNING, "notification of '%s' not queued: %s", a->rule->title,
		        yw_strerror(rc));
	yw_strbuf_free(&sol);
}

/* ---- solutions ---- */

/* The solution for an alert's rule: every alert is shown with one (docs/solutions.md). The
 * rule is looked up among the loaded documents (detection and correlation rules). */
int yw_server_solution_json(struct yw_server *s, const char *rule_id, struct yw_strbuf *b)
{
	if (!s->sols)
		return yw_strbuf_puts(b, "null");
	const struct yw_rule_info *info = NULL;
	size_t n = yw_sigma_ruleset_ndocs(s->rules);
	for (size_t i = 0; i < n && !info; i++) {
		const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(s->rules, i);
		if (r->info.id && rule_id && !strcmp(r->info.id, rule_id))
			info = &r->info;
	}
	int level = 0;
	const struct yw_solution *so =
	    info ? yw_solutions_resolve(s->sols, info, &level)
	         : yw_solutions_get(s->sols, YW_SOL_RULE, rule_id ? rule_id : "");
	if (!so && !info) {
		struct yw_rule_info none = {.title = ""};
		so = yw_solutions_resolve(s->sols, &none, &level);
	} else if (so && !info) {
		level = YW_SOL_RULE;
	}
	return so ? yw_solution_json(so, level, b) : yw_strbuf_puts(b, "null");
}

/* ---- risk history ---- */

/* A snapshot every 5 minutes, and within a minute of new alerts (so the big screen's fleet risk
 * follows an attack in progress), but not more than once a minute: at 10,000 terminals one
 * costs most of a second, spent on this thread of its own. */
#define RISK_SNAPSHOT_MS (5 * 60 * 1000)
#define RISK_EARLY_MS    (60 * 1000)
#define RISK_CHECK_MS    (15 * 1000)
#define RISK_FIRST_MS    (10 * 1000)

static uint64_t alerts_stored(struct yw_server *s)
{
	uint64_t n = 0;
	struct yw_live_counters *c = yw_live_counters(s->live);
	for (int i = 0; i < YW_LEVEL_COUNT; i++)
		n += atomic_load_explicit(&c->alerts[i], memory_order_relaxed);
	return n;
}

/* Waits ms or until the stop; false once stopping. */
static bool risk_wait(struct yw_server *s, int64_t ms)
{
	struct timespec ts = yw_mono_deadline(ms);
	pthread_mutex_lock(&s->risk_mu);
	while (!s->risk_stop && pthread_cond_timedwait(&s->risk_cv, &s->risk_mu, &ts) == 0)
		;
	bool go = !s->risk_stop;
	pthread_mutex_unlock(&s->risk_mu);
	return go;
}

static void *risk_main(void *ud)
{
	struct yw_server *s = ud;
	int64_t last = 0;  /* monotonic ms of the last snapshot */
	uint64_t seen = 0; /* alerts stored at that snapshot */
	for (int64_t wait = RISK_FIRST_MS; risk_wait(s, wait); wait = RISK_CHECK_MS) {
		int64_t now = yw_live_now_ns() / 1000000;
		uint64_t alerts = alerts_stored(s);
		int64_t since = last ? now - last : INT64_MAX;
		if (since < RISK_SNAPSHOT_MS && (alerts == seen || since < RISK_EARLY_MS))
			continue;
		int rc = yw_store_risk_snapshot(s->store, yw_wall_ns());
		if (rc)
			yw_logf(YW_LOG_WARNING, "risk snapshot: %s", yw_store_strerror(rc));
		last = now;
		seen = alerts;
	}
	return NULL;
}

static int risk_start(struct yw_server *s)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int err = pthread_cond_init(&s->risk_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (err)
		return YW_ENOMEM;
	pthread_mutex_init(&s->risk_mu, NULL);
	s->risk_stop = false;
	if (pthread_create(&s->risk_thread, NULL, risk_main, s) != 0) {
		pthread_cond_destroy(&s->risk_cv);
		pthread_mutex_destroy(&s->risk_mu);
		return YW_ENOMEM;
	}
	s->risk_started = true;
	return 0;
}

static void risk_stop(struct yw_server *s)
{
	if (!s->risk_started)
		return;
	pthread_mutex_lock(&s->risk_mu);
	s->risk_stop = true;
	pthread_cond_signal(&s->risk_cv);
	pthread_mutex_unlock(&s->risk_mu);
	pthread_join(s->risk_thread, NULL); /* a snapshot in progress finishes first */
	pthread_cond_destroy(&s->risk_cv);
	pthread_mutex_destroy(&s->risk_mu);
	s->risk_started = false;
}

/* ---- revocation ---- */

static bool tls_is_revoked(void *ud, const char *agent_id, const char *serial)
{
	struct yw_server *s = ud;
	return yw_store_agent_is_revoked(s->store, agent_id, serial) != 0;
}

int yw_server_revoke(struct yw_server *s, const char *agent_id)
{
	int rc = yw_store_agent_revoke(s->store, agent_id, yw_wall_ns());
	if (rc)
		return rc;
	for (size_t i = 0; i < s->nconns;) {
		struct yw_conn *c = s->conns[i];
		if (c->ident.has_cert && !strcmp(c->ident.agent_id, agent_id))
			conn_error(c, YW_PERR_AUTH, "agent revoked");
		else
			i++;
	}
	yw_logf(YW_LOG_WARNING, "agent %s revoked", agent_id);
	return 0;
}

/* ---- configuration ---- */

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};

#define OPT(k, t, f, d, h)                                                                         \
	{                                                                                          \
		k, t, offsetof(struct yw_server_config, f), d, h, 0, 0, NULL                       \
	}
#define OPTR(k, t, f, d, h, lo, hi)                                                                \
	{                                                                                          \
		k, t, offsetof(struct yw_server_config, f), d, h, lo, hi, NULL                     \
	}
const struct yw_opt yw_server_opts[] = {
    OPT("data_dir", YW_OPT_STR, data_dir, "/var/lib/yiwang",
        "directory for the database, the CA and the local API socket (created 0700)"),
    OPT("listen", YW_OPT_STR, listen, "0.0.0.0:1514", "address agents connect to"),
    OPT("advertise", YW_OPT_STR, advertise, NULL,
        "host:port written into enrolment strings (default: this host's name and the listen "
        "port)"),
    OPT("rules", YW_OPT_LIST, rules, NULL,
        "Sigma rule files or directories (default: the bundled rules)"),
    OPT("tls.cert_names", YW_OPT_LIST, cert_names, NULL,
        "extra DNS names or addresses for the server certificate"),
    OPTR("agents.heartbeat", YW_OPT_DURATION, heartbeat_ms, "30s",
         "how often an idle agent sends a heartbeat", 1000, 3600000),
    OPTR("agents.handshake_timeout", YW_OPT_DURATION, handshake_timeout_ms, "10s",
         "time allowed for TLS and HELLO", 1000, 600000),
    OPTR("agents.idle_timeout", YW_OPT_DURATION, idle_timeout_ms, "90s",
         "close a connection silent for this long", 2000, 86400000),
    OPTR("agents.max", YW_OPT_INT, max_agents, "20000", "most simultaneous connections", 1,
         1000000),
    OPTR("agents.eps_limit", YW_OPT_INT, agent_eps, "5000",
         "events per second one agent may send; beyond, reading it pauses (0 = no limit)", 0,
         10000000),
    OPTR("pipeline.workers", YW_OPT_INT, workers, "0",
         "decode and detection threads; each agent is served by one (0 = one per CPU)", 0, 256),
    OPTR("pipeline.queue", YW_OPT_INT, queue_batches, "100000",
         "records waiting for detection before agents are slowed down", 1000, 10000000),
    OPTR("tokens.default_uses", YW_OPT_INT, token_default_uses, "1",
         "uses of a new enrolment token unless --uses says otherwise", 1, 1000000),
    OPTR("tokens.default_ttl", YW_OPT_DURATION, token_default_ttl_ms, "24h",
         "lifetime of a new enrolment token unless --expires says otherwise", 60000, 31536000000LL),
    OPT("notify.channels", YW_OPT_STR, notify_channels, NULL,
        "YAML file of notification channels (docs/notifications.md); none by default"),
    OPT("respond.policies", YW_OPT_STR, respond_policies, NULL,
        "YAML file of automatic response policies (docs/respond.md); none by default"),
    OPT("solutions", YW_OPT_STR, solutions, NULL,
        "solution library directory (default: the shipped rules/solutions)"),
    OPT("http.listen", YW_OPT_STR, http_listen, "127.0.0.1:8443",
        "address of the HTTP API /api/v1 (docs/api.md); empty = off"),
    OPT("http.tls", YW_OPT_BOOL, http_tls, "true",
        "HTTPS with the server certificate; off is allowed on loopback only"),
    OPTR("http.session_ttl", YW_OPT_DURATION, http_session_ttl_ms, "8h",
         "lifetime of an HTTP API login session", 60000, 30LL * 24 * 3600 * 1000),
    OPTR("http.rate_limit", YW_OPT_INT, http_rate_limit, "20",
         "HTTP API requests per second one client address may make sustained; beyond, 429"
         " (0 = no limit)",
         0, 1000000),
    OPTR("http.rate_burst", YW_OPT_INT, http_rate_burst, "100",
         "HTTP API requests one client address may make at once above http.rate_limit", 1, 1000000),
    OPT("http.metrics_public", YW_OPT_BOOL, http_metrics_public, "false",
        "serve /metrics without a token, to loopback clients only"),
    {"log_level", YW_OPT_ENUM, offsetof(struct yw_server_config, log_level), "info",
     "lowest level of log lines written", 0, 0, log_levels},
};
const size_t yw_server_nopts = sizeof(yw_server_opts) / sizeof(yw_server_opts[0]);

/* ---- start and stop ---- */

static int split_hostport(const char *hp, char *host, size_t hs, char *port, size_t ps)
{
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp || !colon[1])
		return YW_EINVAL;
	const char *h = hp;
	size_t hl = (size_t)(colon - hp);
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= hs || strlen(colon + 1) >= ps)
		return YW_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, ps, "%s", colon + 1);
	return 0;
}

static int listen_on(const char *hp)
{
	char host[256], port[16];
	if (split_hostport(hp, host, sizeof(host), port, sizeof(port)))
		return YW_EINVAL;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return YW_EINVAL;
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd >= 0 ? fd : YW_EIO;
}

int yw_server_start(struct yw_server *s);
void yw_server_stop(struct yw_server *s);

int yw_server_start(struct yw_server *s)
{
	char err[512] = "", path[4096];
	int rc;
	s->listen_fd = s->api_fd = -1;
	yw_log_set_level(yw_log_level_parse(s->cfg.log_level));
	if (mkdir(s->cfg.data_dir, 0700) != 0 && errno != EEXIST) {
		yw_logf(YW_LOG_ERROR, "data directory %s: %s", s->cfg.data_dir, strerror(errno));
		return YW_EIO;
	}
	chmod(s->cfg.data_dir, 0700);
	if ((rc = yw_store_open_sqlite(s->cfg.data_dir, NULL, &s->store)) != 0) {
		yw_logf(YW_LOG_ERROR, "store in %s: %s", s->cfg.data_dir, yw_store_strerror(rc));
		return rc;
	}
	yw_store_agent_offline(s->store, NULL, yw_wall_ns());
	snprintf(path, sizeof(path), "%s/pki", s->cfg.data_dir);
	if ((rc = yw_pki_ca_load_or_create(path, 0, &s->ca, err, sizeof(err))) != 0) {
		yw_logf(YW_LOG_ERROR, "CA: %s", err);
		return rc;
	}
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	const char *names[64];
	size_t nn = 0;
	names[nn++] = "localhost";
	names[nn++] = "127.0.0.1";
	names[nn++] = "::1";
	names[nn++] = host;
	char adv_host[256], adv_port[16], lport[16], lhost[256];
	if (split_hostport(s->cfg.listen, lhost, sizeof(lhost), lport, sizeof(lport))) {
		yw_logf(YW_LOG_ERROR, "listen: '%s' is not host:port", s->cfg.listen);
		return YW_EINVAL;
	}
	if (!s->cfg.advertise) {
		char buf[300];
		snprintf(buf, sizeof(buf), "%s:%s", host, lport);
		s->cfg.advertise = strdup(buf);
	}
	if (s->cfg.advertise && split_hostport(s->cfg.advertise, adv_host, sizeof(adv_host),
	                                       adv_port, sizeof(adv_port)) == 0)
		names[nn++] = adv_host;
	for (size_t i = 0; i < s->cfg.cert_names.n && nn < 64; i++)
		names[nn++] = s->cfg.cert_names.v[i];
	if ((rc = yw_pki_server_cert_ensure(s->ca, path, names, nn, 0, NULL, err, sizeof(err)))) {
		yw_logf(YW_LOG_ERROR, "server certificate: %s", err);
		return rc;
	}
	char certf[4200], keyf[4200], caf[4200];
	snprintf(certf, sizeof(certf), "%s/%s", path, YW_PKI_SERVER_CERT);
	snprintf(keyf, sizeof(keyf), "%s/%s", path, YW_PKI_SERVER_KEY);
	snprintf(caf, sizeof(caf), "%s/%s", path, YW_PKI_CA_CERT);
	struct yw_tls_server_opts to = {certf, keyf, caf, true, tls_is_revoked, s};
	if ((rc = yw_tls_server_ctx_new(&to, &s->tls, err, sizeof(err))) != 0) {
		yw_logf(YW_LOG_ERROR, "TLS: %s", err);
		return rc;
	}
	/* Rules: the configured paths, else the bundled ones next to the program. */
	struct yw_diags d = YW_DIAGS_INIT;
	s->rules = yw_ruleset_new();
	if (!s->rules)
		return YW_ENOMEM;
	if (s->cfg.rules.n == 0) {
		/* The bundled rules: installed, or beside the build tree when run from it. */
		char exe[4096], cand[4200];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/../rules/sigma", exe);
		const char *dir = access(YW_RULES_DIR, R_OK) == 0 ? YW_RULES_DIR : cand;
		yw_config_set(yw_server_opts, yw_server_nopts, &s->cfg, "rules", dir, err,
		              sizeof(err));
	}
	for (size_t i = 0; i < s->cfg.rules.n; i++) {
		if ((rc = yw_ruleset_add_path(s->rules, s->cfg.rules.v[i], &d)) != 0)
			yw_logf(YW_LOG_ERROR, "rules %s: %s", s->cfg.rules.v[i], yw_strerror(rc));
	}
	if ((rc = yw_ruleset_compile(s->rules, &d)) != 0) {
		yw_diags_free(&d);
		return rc;
	}
	if (d.nerrors)
		yw_logf(YW_LOG_WARNING,
		        "%zu rule documents skipped (`yiwang rules check` lists "
		        "them)",
		        d.nerrors);
	yw_diags_free(&d);
	yw_logf(YW_LOG_INFO, "%zu Sigma rules loaded", yw_ruleset_count(s->rules));

	if (!(s->proto = yw_proto_new()))
		return YW_ENOMEM;
	if ((rc = yw_loop_new(&s->loop)) != 0)
		return rc;
	static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
	s->done_mu = &done_mu;
	yw_loop_on_wake(s->loop, on_wake, s);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char sdir[4096];
	const char *soldir =
	    s->cfg.solutions ? s->cfg.solutions : yw_solutions_default_dir(sdir, sizeof(sdir));
	if (soldir) {
		struct yw_diags sd = YW_DIAGS_INIT;
		rc = yw_solutions_load(soldir, &sd, &s->sols);
		if (rc && rc != YW_EINVAL)
			yw_logf(YW_LOG_WARNING, "solutions %s: %s", soldir, yw_strerror(rc));
		else if (sd.nerrors)
			yw_logf(YW_LOG_WARNING, "solutions %s: %zu entries skipped", soldir,
			        sd.nerrors);
		yw_diags_free(&sd);
	}
	if (s->cfg.respond_policies) {
		struct yw_diags ad = YW_DIAGS_INIT;
		rc = yw_autorespond_load(s->cfg.respond_policies, &ad, &s->autorespond);
		yw_diags_print(&ad, stderr);
		yw_diags_free(&ad);
		if (rc) {
			yw_logf(YW_LOG_ERROR, "response policies %s: %s", s->cfg.respond_policies,
			        yw_strerror(rc));
			return rc;
		}
	}
	if (s->cfg.notify_channels) {
		struct yw_notify_channels chs = {0};
		struct yw_diags nd = YW_DIAGS_INIT;
		rc = yw_notify_load_channels(s->cfg.notify_channels, &chs, &nd);
		yw_diags_print(&nd, stderr);
		yw_diags_free(&nd);
		if (rc == 0)
			rc = yw_notify_new(s->cfg.data_dir, &chs, &s->notify);
		yw_notify_channels_free(&chs);
		if (rc) {
			yw_logf(YW_LOG_ERROR, "notifications: %s", yw_strerror(rc));
			return rc;
		}
	}
	struct yw_live_opts lo = {
	    .ping_ns = 15 * 1000000000LL,
	    .tick_ns = YW_LIVE_POLL_MS * 1000000LL,
	    .tick = yw_http_stream_tick,
	    .ud = s,
	};
	if ((rc = yw_live_new(&lo, &s->live)) != 0)
		return rc;
	struct yw_pipeline_opts po = {
	    .workers = s->cfg.workers > 0 ? (size_t)s->cfg.workers : (size_t)(ncpu > 0 ? ncpu : 1),
	    .max_queued = SIZE_MAX,
	    .done = pipeline_done,
	    .on_alert = pipeline_alert,
	    .ud = s,
	    .ctr = yw_live_counters(s->live),
	};
	if ((rc = yw_pipeline_new(&po, s->store, s->rules, &s->pipe)) != 0)
		return rc;
	s->listen_fd = listen_on(s->cfg.listen);
	if (s->listen_fd < 0) {
		yw_logf(YW_LOG_ERROR, "cannot listen on %s: %s", s->cfg.listen, strerror(errno));
		return YW_EIO;
	}
	if ((rc = yw_loop_watch(s->loop, s->listen_fd, YW_LOOP_READ, on_accept, s)) != 0)
		return rc;
	if ((rc = yw_api_local_start(s)) != 0)
		return rc;
	/* A taken port leaves the agents served (logged); a bad address or clear text on a
	 * public address stops the start. */
	if ((rc = yw_http_start(s)) != 0 && rc != YW_EIO)
		return rc;
	/* The first snapshot soon after start: the screen shows a fleet score from the start. */
	if ((rc = risk_start(s)) != 0)
		return rc;
	yw_logf(YW_LOG_INFO, "listening on %s for agents (advertised as %s); CA %s", s->cfg.listen,
	        s->cfg.advertise, yw_pki_ca_fingerprint(s->ca));
	return 0;
}

void yw_server_stop(struct yw_server *s)
{
	while (s->nconns) {
		struct yw_conn *c = s->conns[0];
		if (c->state == C_STREAM)
			conn_error(c, YW_PERR_SHUTDOWN, "server shutting down");
		else
			conn_close(c, NULL);
	}
	yw_http_stop(s);
	risk_stop(s);
	yw_live_stop(s->live); /* its tick reads the store and the solutions */
	if (s->loop)
		yw_api_local_stop(s);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	/* The pipeline finishes what is queued; ACKs for it are not sent (agents resend, the
	 * store drops the duplicates). */
	yw_pipeline_free(s->pipe);
	yw_live_free(s->live); /* after the pipeline, which counts into it */
	yw_notify_free(s->notify);
	yw_solutions_free(s->sols);
	yw_autorespond_free(s->autorespond);
	while (s->auto_head) {
		struct auto_cmd *c = s->auto_head;
		s->auto_head = c->next;
		free(c->agent);
		free(c->action);
		free(c->args);
		free(c->by);
		free(c);
	}
	if (s->loop)
		on_wake(s->loop, s);
	yw_loop_free(s->loop);
	yw_proto_free(s->proto);
	yw_ruleset_free(s->rules);
	yw_tls_ctx_free(s->tls);
	yw_pki_ca_free(s->ca);
	yw_server_responses_close(s);
	yw_store_close(s->store);
	free(s->conns);
}
