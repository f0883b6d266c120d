/* The agent's run loop: collectors put records into the spool; the sender streams unacked
 * records from the spool to the server over mutual TLS and drops them from the spool only when
 * the server acknowledges them. Reconnects with exponential backoff and jitter; a per-agent
 * events/s limit pauses collection (nothing is dropped: the sources are read later). */
#include <errno.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "privs.h"
#include "audit_check.h"
#include "whodata.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/log.h"
#include "yiwang/loop.h"
#include "yiwang/proto.h"
#include "yiwang/respond.h"
#include "yiwang/spool.h"
#include "yiwang/tls.h"

enum link_state { L_DOWN, L_WAIT_WELCOME, L_STREAM };

struct agent;

struct collector {
	const struct yw_collector_ops *ops;
	void *state;
	struct agent *a;
	int fd;      /* pollable descriptor, or -1 */
	bool paused; /* fd unwatched until the next tick: the sink refused records */
};

struct agent {
	struct yw_agent_config *cfg;
	struct yw_loop *loop;
	struct yw_spool *spool;
	struct collector coll[8];
	size_t ncoll;
	struct yw_whodata *whodata; /* FIM who-data shared by the file and FIM collectors */
	struct yw_tls_ctx *tls_ctx;
	struct yw_proto *proto;
	struct yw_responder *resp; /* NULL: commands are answered DENIED */
	char agent_id[YW_AGENT_ID_SIZE];
	char server[300];
	char host[256], os[512];
	/* link */
	int state;
	int fd;
	struct yw_tls_conn *tls;
	struct yw_frame_decoder *dec;
	struct yw_strbuf out;
	size_t out_off;
	bool want_write;
	uint64_t next_send; /* next seq to send */
	uint64_t acked;
	int64_t last_rx_ms, last_tx_ms;
	int heartbeat_s;
	int64_t backoff_ms;
	uint64_t reconnect_timer;
	/* batch assembly */
	struct yw_record *batch;
	size_t nbatch, capbatch;
	struct yw_strbuf batch_data;
	/* events/s budget */
	double tokens;
	int64_t tokens_ms;
	int64_t last_commit_ms;
	uint64_t collected;
	/* Time collection spent paused by eps_limit, reported once a minute as an event. */
	int64_t throttled_ms, throttle_since_ms, throttle_report_ms;
	bool sink_refused; /* during the current poll */
	bool refused;  /* the server refused the identity: stop */
	int write_err; /* of the last failed write */
};

static void link_down(struct agent *a, const char *why);
static void pump(struct agent *a);
static void refused(struct agent *a, const char *why);
static void write_failed(struct agent *a);

/* ---- configuration ---- */

static const char *const starts[] = {"end", "beginning", NULL};
static const char *const policies[] = {"block", "drop_oldest", NULL};
static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};
static const char *const journald_modes[] = {"auto", "on", "off", NULL};
static const char *const fim_hashes[] = {"sha256", "sm3", NULL};

#define OPT(k, t, f, d, h) {k, t, offsetof(struct yw_agent_config, f), d, h, 0, 0, NULL}
#define OPTR(k, t, f, d, h, lo, hi) {k, t, offsetof(struct yw_agent_config, f), d, h, lo, hi, NULL}
const struct yw_opt yw_agent_opts[] = {
	OPT("state_dir", YW_OPT_STR, state_dir, "/var/lib/yiwang-agent",
	    "identity (key, certificate, pinned CA), spool and collector state (0700)"),
	OPT("server", YW_OPT_STR, server, NULL,
	    "server host:port (default: the address from the enrolment string)"),
	OPT("files", YW_OPT_LIST, files,
	    "/var/log/auth.log,/var/log/secure,/var/log/syslog,/var/log/messages,"
	    "/var/log/audit/audit.log",
	    "log files to follow (glob patterns)"),
	{"files_start", YW_OPT_ENUM, offsetof(struct yw_agent_config, files_start), "end",
	 "where a newly seen file is first read from", 0, 0, starts},
	OPTR("spool.max_size", YW_OPT_SIZE, spool_max, "256MiB",
	     "disk the spool may use while the server is unreachable", 1048576, 1LL << 40),
	{"spool.policy", YW_OPT_ENUM, offsetof(struct yw_agent_config, spool_policy), "block",
	 "when the spool is full: stop reading sources, or drop the oldest records (counted and "
	 "reported)",
	 0, 0, policies},
	OPTR("spool.sync", YW_OPT_DURATION, spool_sync_ms, "0ms",
	     "fdatasync the spool at most this often (0: before every batch is sent)", 0, 60000),
	OPTR("send.batch_records", YW_OPT_INT, batch_records, "2000", "records per batch", 1,
	     10000),
	OPTR("send.inflight_records", YW_OPT_INT, inflight_records, "20000",
	     "records sent but not yet acknowledged", 1, 1000000),
	OPTR("reconnect.min", YW_OPT_DURATION, reconnect_min_ms, "500ms",
	     "first reconnect delay (doubles up to reconnect.max, with jitter)", 10, 600000),
	OPTR("reconnect.max", YW_OPT_DURATION, reconnect_max_ms, "30s", "longest reconnect delay",
	     100, 3600000),
	OPTR("eps_limit", YW_OPT_INT, eps_limit, "0",
	     "records per second collected at most (0: no limit); sources wait, nothing is lost",
	     0, 10000000),
	OPTR("eps_report_interval", YW_OPT_DURATION, eps_report_ms, "60s",
	     "how often time paused by eps_limit is reported as an event", 1000, 86400000),
	OPT("process.enabled", YW_OPT_BOOL, process_enabled, "true",
	    "report process executions (kernel process connector; needs CAP_NET_ADMIN)"),
	OPT("process.ignore_exe", YW_OPT_LIST, process_ignore, NULL,
	    "executables (glob patterns) whose executions are not reported"),
	{"journald", YW_OPT_ENUM, offsetof(struct yw_agent_config, journald), "auto",
	 "follow the local systemd journal (auto: when journald runs and no syslog daemon writes "
	 "/var/log/syslog or /var/log/messages)",
	 0, 0, journald_modes},
	OPT("inventory.enabled", YW_OPT_BOOL, inventory_enabled, "true",
	    "send the host inventory at start and then its changes"),
	OPTR("inventory.interval", YW_OPT_DURATION, inventory_interval_ms, "1h",
	     "how often the inventory is compared", 10000, 604800000),
	OPT("sca.enabled", YW_OPT_BOOL, sca_enabled, "true", "run baseline (SCA) policies"),
	OPT("sca.policies", YW_OPT_LIST, sca_policies, NULL,
	    "policy files or globs (default: the shipped policies)"),
	OPTR("sca.interval", YW_OPT_DURATION, sca_interval_ms, "12h",
	     "how often the policies run", 10000, 604800000),
	OPT("audit.check", YW_OPT_BOOL, audit_check, "true",
	    "compare the kernel's audit rules with the recommended set at start-up"),
	OPT("fim.enabled", YW_OPT_BOOL, fim_enabled, "true", "watch files for changes (FIM)"),
	OPT("fim.paths", YW_OPT_LIST, fim_paths, "/etc,/usr/bin,/usr/sbin,/boot",
	    "files and directories watched (recursively)"),
	OPT("fim.realtime", YW_OPT_BOOL, fim_realtime, "true",
	    "report changes as they happen (inotify) besides the scheduled scans"),
	OPTR("fim.scan_interval", YW_OPT_DURATION, fim_scan_ms, "12h",
	     "how often every watched file is compared with the baseline", 0, 604800000),
	{"fim.hash", YW_OPT_ENUM, offsetof(struct yw_agent_config, fim_hash), "sha256",
	 "content hash (sm3 for deployments that require national algorithms)", 0, 0, fim_hashes},
	OPTR("fim.io_rate", YW_OPT_SIZE, fim_io_rate, "20MiB",
	     "bytes per second a scan may read for hashing (0: no limit)", 0, 1LL << 40),
	OPT("fim.whodata", YW_OPT_BOOL, fim_whodata, "true",
	    "add the user and process behind a realtime change from the audit log (needs the "
	    "yw_fim watch rules and the audit log among `files`)"),
	OPTR("fim.whodata_wait", YW_OPT_DURATION, fim_whodata_wait_ms, "500ms",
	     "how long a realtime change waits for its audit record (while audit is live)", 0,
	     5000),
	OPT("network.enabled", YW_OPT_BOOL, network_enabled, "true",
	    "report new listening sockets and outbound connections"),
	OPTR("network.interval", YW_OPT_DURATION, network_interval_ms, "2s",
	     "how often sockets are compared", 100, 3600000),
	OPT("respond.enabled", YW_OPT_BOOL, respond_enabled, "true",
	    "run response actions the server asks for (block_ip, kill_process, quarantine_file, "
	    "lock_account)"),
	OPT("respond.actions", YW_OPT_LIST, respond_actions, NULL,
	    "response actions allowed, with their inverses (default: all)"),
	OPT("respond.allow_ips", YW_OPT_LIST, respond_allow_ips, NULL,
	    "addresses or CIDRs never blocked, beyond loopback, this host's and the server's"),
	OPT("respond.quarantine_dir", YW_OPT_STR, respond_quarantine_dir, NULL,
	    "where quarantined files go (default: <state_dir>/quarantine; 0700)"),
	OPT("respond.quarantine_paths", YW_OPT_LIST, respond_quarantine_paths,
	    "/tmp,/var/tmp,/dev/shm,/home,/root,/srv,/var/www,/opt",
	    "only files under these directories may be quarantined"),
	OPT("respond.allow_system_accounts", YW_OPT_BOOL, respond_allow_system_accounts, "false",
	    "allow locking accounts below UID_MIN (root never)"),
	OPTR("respond.timeout", YW_OPT_DURATION, respond_timeout_ms, "10s",
	     "longest a response action may take", 1000, 60000),
	OPTR("poll_interval", YW_OPT_DURATION, poll_ms, "100ms", "how often sources are polled",
	     10, 10000),
	{"log_level", YW_OPT_ENUM, offsetof(struct yw_agent_config, log_level), "info",
	 "lowest level of log lines written", 0, 0, log_levels},
	OPT("agent.drop_privileges", YW_OPT_BOOL, drop_privileges, "true",
	    "after start-up keep only the capabilities the enabled collectors and response "
	    "actions need, and set no_new_privs (docs/agent.md, Privileges)"),
	OPT("agent.user", YW_OPT_STR, user, NULL,
	    "after start-up run as this user, keeping those capabilities (the state directory "
	    "must be writable by it)"),
};
const size_t yw_agent_nopts = sizeof(yw_agent_opts) / sizeof(yw_agent_opts[0]);

/* ---- collection ---- */

static bool over_budget(struct agent *a);

static int sink(void *ud, struct yw_record *rec, const void *cursor, size_t cursor_len)
{
	struct agent *a = ud;
	/* Over the events/s budget the record is refused like a full spool: the collector
	 * offers it again on a later poll, so nothing is lost. */
	if (over_budget(a)) {
		if (!a->throttle_since_ms)
			a->throttle_since_ms = yw_mono_ms();
		a->sink_refused = true;
		return YW_SINK_FULL;
	}
	int rc = yw_spool_append(a->spool, rec, cursor, cursor_len);
	if (rc == YW_SPOOL_FULL)
		a->sink_refused = true;
	if (rc == 0) {
		a->collected++;
		a->tokens -= 1;
	}
	return rc;
}

static bool over_budget(struct agent *a)
{
	if (a->cfg->eps_limit <= 0)
		return false;
	int64_t now = yw_mono_ms();
	a->tokens += (double)(now - a->tokens_ms) * (double)a->cfg->eps_limit / 1000.0;
	if (a->tokens > (double)a->cfg->eps_limit)
		a->tokens = (double)a->cfg->eps_limit;
	a->tokens_ms = now;
	return a->tokens <= 0;
}

/* A loss the spool reported (drop_oldest, or corruption found at open) becomes an event. */
static void report_loss(struct agent *a)
{
	struct yw_spool_loss loss;
	yw_spool_take_loss(a->spool, &loss);
	if (!loss.records)
		return;
	char json[256];
	int n = snprintf(json, sizeof(json),
			 "{\"event.kind\":\"metric\",\"event.category\":\"host\","
			 "\"event.action\":\"agent_spool_loss\",\"yiwang.lost.records\":%llu,"
			 "\"yiwang.lost.first_seq\":%llu,\"yiwang.lost.last_seq\":%llu,"
			 "\"message\":\"agent spool dropped %llu records\"}",
			 (unsigned long long)loss.records, (unsigned long long)loss.first_seq,
			 (unsigned long long)loss.last_seq, (unsigned long long)loss.records);
	struct yw_record r = {.ts_ns = yw_wall_ns(), .kind = YW_REC_AGENT, .source = "agent",
			      .source_len = 5, .data = json, .len = (uint32_t)n};
	yw_logf(YW_LOG_WARNING, "spool full: %llu records dropped (seq %llu..%llu)",
		(unsigned long long)loss.records, (unsigned long long)loss.first_seq,
		(unsigned long long)loss.last_seq);
	yw_spool_append(a->spool, &r, NULL, 0);
}

/* The events/s limit holds sources back rather than dropping (nothing is lost), but an
 * operator must still see that it bites: every eps_report_interval, how long collection was
 * paused. */
static void report_throttle(struct agent *a)
{
	int64_t now = yw_mono_ms();
	if (a->throttle_since_ms && !over_budget(a)) {
		a->throttled_ms += now - a->throttle_since_ms;
		a->throttle_since_ms = 0;
	}
	if (now - a->throttle_report_ms < a->cfg->eps_report_ms || (!a->throttled_ms && !a->throttle_since_ms))
		return;
	int64_t ms = a->throttled_ms + (a->throttle_since_ms ? now - a->throttle_since_ms : 0);
	char json[256];
	int n = snprintf(json, sizeof(json),
			 "{\"event.kind\":\"metric\",\"event.category\":\"host\","
			 "\"event.action\":\"agent_eps_limited\",\"yiwang.throttled_ms\":%lld,"
			 "\"yiwang.eps_limit\":%lld,\"message\":\"collection paused %lld ms by "
			 "eps_limit\"}",
			 (long long)ms, (long long)a->cfg->eps_limit, (long long)ms);
	struct yw_record r = {.ts_ns = yw_wall_ns(), .kind = YW_REC_AGENT, .source = "agent",
			      .source_len = 5, .data = json, .len = (uint32_t)n};
	if (yw_spool_append(a->spool, &r, NULL, 0) == 0) {
		yw_logf(YW_LOG_WARNING, "eps_limit %lld paused collection for %lld ms",
			(long long)a->cfg->eps_limit, (long long)ms);
		a->throttled_ms = 0;
		if (a->throttle_since_ms)
			a->throttle_since_ms = now;
		a->throttle_report_ms = now;
	}
}

/* A collector with a descriptor (process connector, inotify) is polled as soon as it has
 * something, not only on the tick: kernel buffers stay short. */
static void on_collector_fd(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct collector *c = ud;
	c->a->sink_refused = false;
	int rc = over_budget(c->a) ? 0 : c->ops->poll(c->state, sink, c->a);
	if (rc < 0)
		yw_logf(YW_LOG_WARNING, "collector %s: %s", c->ops->name, yw_strerror(rc));
	/* Over budget or the spool full: the data waits in the kernel; stop watching until the
	 * next tick, or a level-triggered fd would spin. */
	if (over_budget(c->a) || c->a->sink_refused) {
		c->paused = true;
		yw_loop_watch(l, fd, 0, on_collector_fd, c);
	}
}

static void tick(struct yw_loop *l, void *ud)
{
	struct agent *a = ud;
	report_throttle(a);
	for (size_t i = 0; i < a->ncoll; i++) {
		struct collector *c = &a->coll[i];
		if (c->paused && !over_budget(a)) {
			c->paused = false;
			yw_loop_watch(l, c->fd, YW_LOOP_READ, on_collector_fd, c);
		}
	}
	for (size_t i = 0; i < a->ncoll && !over_budget(a); i++) {
		int rc = a->coll[i].ops->poll(a->coll[i].state, sink, a);
		if (rc < 0)
			yw_logf(YW_LOG_WARNING, "collector %s: %s", a->coll[i].ops->name,
				yw_strerror(rc));
	}
	report_loss(a);
	int64_t now = yw_mono_ms();
	if (now - a->last_commit_ms >= 2000) {
		/* Positions are durable in the spool already; the state files just shorten the
		 * next start-up. */
		if (yw_spool_sync(a->spool) == 0)
			for (size_t i = 0; i < a->ncoll; i++)
				a->coll[i].ops->commit(a->coll[i].state);
		a->last_commit_ms = now;
	}
	if (a->state == L_STREAM && a->heartbeat_s > 0) {
		if (now - a->last_rx_ms > 3000LL * a->heartbeat_s) {
			link_down(a, "server silent for three heartbeats");
		} else if (now - a->last_tx_ms > 1000LL * a->heartbeat_s) {
			struct yw_msg m = {.type = YW_MSG_PING};
			m.ping_nonce = (uint64_t)now;
			if (yw_proto_encode(a->proto, &m, &a->out) == 0)
				a->last_tx_ms = now;
		}
	}
	pump(a);
	yw_loop_after(l, a->cfg->poll_ms, tick, a);
}

/* ---- the link to the server ---- */

static void on_io(struct yw_loop *l, int fd, unsigned ev, void *ud);

static void watch(struct agent *a)
{
	yw_loop_watch(a->loop, a->fd, YW_LOOP_READ | (a->want_write ? YW_LOOP_WRITE : 0), on_io,
		      a);
}

static void reconnect_cb(struct yw_loop *l, void *ud);

static void schedule_reconnect(struct agent *a)
{
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	/* Full jitter over the upper half: a fleet that lost the server does not return in
	 * lock-step. */
	int64_t d = a->backoff_ms / 2 + (int64_t)(r % (uint32_t)(a->backoff_ms / 2 + 1));
	a->backoff_ms *= 2;
	if (a->backoff_ms > a->cfg->reconnect_max_ms)
		a->backoff_ms = a->cfg->reconnect_max_ms;
	a->reconnect_timer = yw_loop_after(a->loop, d, reconnect_cb, a);
}

static void link_down(struct agent *a, const char *why)
{
	if (a->fd >= 0) {
		yw_logf(YW_LOG_WARNING, "connection to %s lost: %s", a->server, why);
		yw_loop_unwatch(a->loop, a->fd);
		yw_tls_conn_free(a->tls);
		close(a->fd);
	}
	a->fd = -1;
	a->tls = NULL;
	a->state = L_DOWN;
	yw_frame_decoder_free(a->dec);
	a->dec = NULL;
	yw_strbuf_reset(&a->out);
	a->out_off = 0;
	a->want_write = false;
	/* Everything not acknowledged is sent again on the next connection. */
	a->next_send = a->acked + 1;
	if (!a->reconnect_timer)
		schedule_reconnect(a);
}

static int flush_out(struct agent *a)
{
	while (a->out_off < a->out.len) {
		ssize_t n = yw_tls_write(a->tls, a->out.data + a->out_off, a->out.len - a->out_off);
		if (n == YW_EAGAIN || n == YW_EWANTWRITE) {
			if (!a->want_write) {
				a->want_write = true;
				watch(a);
			}
			return 0;
		}
		if (n < 0)
			return a->write_err = (int)n;
		a->out_off += (size_t)n;
		a->last_tx_ms = yw_mono_ms();
	}
	yw_strbuf_reset(&a->out);
	a->out_off = 0;
	if (a->want_write) {
		a->want_write = false;
		watch(a);
	}
	return 0;
}

static int copy_record(void *ud, const struct yw_record *rec)
{
	struct agent *a = ud;
	if (a->nbatch == a->capbatch) {
		size_t cap = a->capbatch ? a->capbatch * 2 : 256;
		struct yw_record *v = realloc(a->batch, cap * sizeof(*v));
		if (!v)
			return YW_ENOMEM;
		a->batch = v;
		a->capbatch = cap;
	}
	/* Offsets into batch_data, fixed up to pointers once the buffer stops moving. */
	size_t off = a->batch_data.len;
	if (yw_strbuf_append(&a->batch_data, rec->source, rec->source_len) ||
	    yw_strbuf_append(&a->batch_data, rec->data, rec->len))
		return YW_ENOMEM;
	struct yw_record r = *rec;
	r.source = (const char *)(uintptr_t)off;
	r.data = (const char *)(uintptr_t)(off + rec->source_len);
	a->batch[a->nbatch++] = r;
	return 0;
}

/* Sends spool records while the window allows. */
static void pump(struct agent *a)
{
	if (a->state != L_STREAM)
		return;
	while (a->next_send - 1 - a->acked < (uint64_t)a->cfg->inflight_records &&
	       a->out.len - a->out_off < 4 * 1024 * 1024) {
		a->nbatch = 0;
		yw_strbuf_reset(&a->batch_data);
		int n = yw_spool_read(a->spool, a->next_send, (size_t)a->cfg->batch_records,
				      4 * 1024 * 1024, copy_record, a);
		if (n <= 0) {
			if (n < 0)
				yw_logf(YW_LOG_ERROR, "spool read: %s", yw_strerror(n));
			break;
		}
		for (size_t i = 0; i < a->nbatch; i++) {
			a->batch[i].source = a->batch_data.data + (uintptr_t)a->batch[i].source;
			a->batch[i].data = a->batch_data.data + (uintptr_t)a->batch[i].data;
		}
		size_t done = 0;
		while (done < a->nbatch) {
			size_t taken = 0;
			int rc = yw_proto_encode_batch(a->proto, a->batch + done, a->nbatch - done,
						       &a->out, &taken);
			if (rc || taken == 0) {
				yw_logf(YW_LOG_ERROR, "cannot encode record seq %llu: %s",
					(unsigned long long)a->batch[done].seq, yw_strerror(rc));
				/* An unsendable record would block the stream forever. */
				taken = 1;
			}
			done += taken;
		}
		a->next_send = a->batch[a->nbatch - 1].seq + 1;
		if (flush_out(a) != 0) {
			write_failed(a);
			return;
		}
	}
	if (flush_out(a) != 0)
		write_failed(a);
}

static int handle(struct agent *a, const struct yw_msg *m)
{
	switch (m->type) {
	case YW_MSG_WELCOME:
		if (a->state != L_WAIT_WELCOME)
			return YW_EPARSE;
		a->heartbeat_s = m->welcome.heartbeat_s;
		yw_proto_set_batch_limits(a->proto, m->welcome.max_batch_records,
					  m->welcome.max_batch_bytes);
		if (m->welcome.last_seq > a->acked) {
			yw_spool_ack(a->spool, m->welcome.last_seq);
			a->acked = m->welcome.last_seq;
		}
		a->next_send = a->acked + 1;
		a->state = L_STREAM;
		a->backoff_ms = a->cfg->reconnect_min_ms;
		yw_logf(YW_LOG_INFO, "connected to %s as %s; server has everything up to seq %llu",
			a->server, a->agent_id, (unsigned long long)m->welcome.last_seq);
		pump(a);
		return 0;
	case YW_MSG_ACK:
		if (m->ack_seq > a->acked) {
			yw_spool_ack(a->spool, m->ack_seq);
			a->acked = m->ack_seq;
			if (a->next_send <= a->acked)
				a->next_send = a->acked + 1;
		}
		pump(a);
		return 0;
	case YW_MSG_PING: {
		struct yw_msg p = {.type = YW_MSG_PONG};
		p.ping_nonce = m->ping_nonce;
		return yw_proto_encode(a->proto, &p, &a->out);
	}
	case YW_MSG_PONG:
	case YW_MSG_CONFIG:
		return 0;
	case YW_MSG_COMMAND:
		return yw_respond_command(a->resp, &m->command, a->proto, &a->out);
	case YW_MSG_ERROR:
		yw_logf(YW_LOG_WARNING, "server error %u: %.*s", m->error.code,
			(int)m->error.message_len, m->error.message);
		/* AUTH is final (unknown or revoked agent); anything else is worth a retry. */
		return m->error.code == YW_PERR_AUTH ? YW_EAUTH : YW_EIO;
	case YW_MSG_BYE:
		return YW_EIO;
	default:
		return YW_EPARSE;
	}
}

static void on_io(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct agent *a = ud;
	if ((ev & YW_LOOP_WRITE) && flush_out(a) != 0) {
		write_failed(a);
		return;
	}
	for (;;) {
		struct yw_frame f;
		int rc = yw_frame_next(a->dec, &f);
		if (rc == 1) {
			struct yw_msg m;
			rc = yw_proto_decode(a->proto, &f, &m);
			if (rc == 0)
				rc = handle(a, &m);
			if (rc == YW_EAUTH) {
				refused(a, "the server refused this agent");
				return;
			}
			if (rc) {
				link_down(a, rc == YW_EIO ? "closed by the server"
							  : "protocol error");
				return;
			}
			continue;
		}
		if (rc < 0) {
			link_down(a, "bad frame from the server");
			return;
		}
		uint8_t *p;
		if (yw_frame_space(a->dec, 65536, &p) != 0) {
			link_down(a, "frame buffer overflow");
			return;
		}
		ssize_t n = yw_tls_read(a->tls, p, 65536);
		if (n == YW_EAGAIN)
			break;
		if (n == YW_EWANTWRITE) {
			a->want_write = true;
			watch(a);
			break;
		}
		if (n == YW_EAUTH) {
			refused(a, yw_tls_error(a->tls));
			return;
		}
		if (n <= 0) {
			link_down(a, n == 0 ? "server closed the connection" : yw_tls_error(a->tls));
			return;
		}
		yw_frame_commit(a->dec, (size_t)n);
		a->last_rx_ms = yw_mono_ms();
	}
	if (flush_out(a) != 0)
		write_failed(a);
}

/* The server refused this agent's identity (revoked or unknown): retrying cannot help, so the
 * agent stops (exit status 1) instead of knocking forever. The spool keeps what it holds. */
static void refused(struct agent *a, const char *why)
{
	yw_logf(YW_LOG_ERROR, "refused by %s: %s; stopping (enrol this agent again with "
			      "`yiwang-agent enroll`)",
		a->server, why);
	link_down(a, "refused by the server");
	if (a->reconnect_timer) {
		yw_loop_cancel(a->loop, a->reconnect_timer);
		a->reconnect_timer = 0;
	}
	a->refused = true;
	yw_loop_stop(a->loop);
}

/* A server that refuses the certificate says so with an alert after the client's side of the
 * TLS 1.3 handshake is done, and closes: the first write then fails, the alert waits unread. */
static void write_failed(struct agent *a)
{
	int rc = a->write_err;
	if (rc != YW_EAUTH && a->state == L_WAIT_WELCOME) {
		uint8_t scratch[512];
		rc = (int)yw_tls_read(a->tls, scratch, sizeof(scratch));
	}
	if (rc == YW_EAUTH)
		refused(a, yw_tls_error(a->tls));
	else
		link_down(a, "write failed");
}

static void reconnect_cb(struct yw_loop *l, void *ud)
{
	struct agent *a = ud;
	char err[512] = "";
	a->reconnect_timer = 0;
	/* A blocking dial with a short timeout keeps the loop simple; collection pauses for at
	 * most that long, and the spool keeps everything meanwhile. */
	int fd = yw_agent_dial(a->server, a->tls_ctx, 5000, &a->tls, err, sizeof(err));
	if (fd < 0) {
		yw_logf(YW_LOG_WARNING, "cannot reach %s: %s", a->server, err);
		schedule_reconnect(a);
		return;
	}
	a->fd = fd;
	a->dec = yw_frame_decoder_new();
	struct yw_spool_stats st;
	yw_spool_stats(a->spool, &st);
	a->acked = st.acked;
	struct yw_msg m = {.type = YW_MSG_HELLO};
	m.hello.min_version = YW_PROTO_VERSION_MIN;
	m.hello.max_version = YW_PROTO_VERSION;
	m.hello.agent_id = a->agent_id;
	m.hello.agent_id_len = (uint16_t)strlen(a->agent_id);
	m.hello.agent_version = YW_AGENT_VERSION;
	m.hello.agent_version_len = (uint16_t)strlen(YW_AGENT_VERSION);
	m.hello.hostname = a->host;
	m.hello.hostname_len = (uint16_t)strlen(a->host);
	m.hello.os = a->os;
	m.hello.os_len = (uint16_t)strlen(a->os);
	/* The oldest record still held: anything older was acknowledged or lost. */
	m.hello.next_seq = st.acked + 1;
	a->state = L_WAIT_WELCOME;
	a->last_rx_ms = a->last_tx_ms = yw_mono_ms();
	if (!a->dec || yw_proto_encode(a->proto, &m, &a->out) != 0) {
		link_down(a, "out of memory");
		return;
	}
	watch(a);
	if (flush_out(a) != 0)
		write_failed(a);
}

/* ---- start and stop ---- */

static int spool_cursor(void *ud, const char *source, size_t len, const void **cursor,
			size_t *clen, uint64_t *seq)
{
	return yw_spool_cursor(ud, source, len, cursor, clen, seq);
}

/* A shipped file: installed, or beside the build tree when run from it (rel is relative to
 * the repository's root). */
static int shipped_path(const char *installed, const char *rel, char *out, size_t n)
{
	char exe[4096];
	if (access(installed, R_OK) == 0) {
		snprintf(out, n, "%s", installed);
		return 0;
	}
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return YW_ENOENT;
	exe[len] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	int w = snprintf(out, n, "%s/../%s", exe, rel);
	return w < 0 || (size_t)w >= n ? YW_ELIMIT : 0;
}

static int sca_default_policies(char *out, size_t n)
{
	char dir[4096];
	int rc = shipped_path(YW_SCA_DIR, "rules/sca", dir, sizeof(dir));
	if (rc == 0)
		snprintf(out, n, "%.4000s/*.yml", dir);
	return rc;
}

/* Compares the kernel's audit rules with the recommended set at start-up: a missing key means
 * the auditd Sigma rules cannot see that activity. Reported as an event and a log line. */
static void check_audit_rules(struct agent *a)
{
	char path[4200];
	struct yw_strbuf missing = YW_STRBUF_INIT;
	if (shipped_path(YW_AUDIT_RULES, "rules/audit/yiwang.rules", path, sizeof(path)) != 0)
		return;
	int rc = yw_audit_check(path, &missing);
	if (rc == YW_ENOENT) {
		yw_logf(YW_LOG_INFO, "auditd is not installed here: audit rules not checked");
	} else if (rc) {
		yw_logf(YW_LOG_WARNING, "cannot list the kernel's audit rules: %s", yw_strerror(rc));
	} else if (missing.len) {
		yw_logf(YW_LOG_WARNING, "audit rules missing from the kernel (keys): %s; see %s",
			missing.data, path);
		struct yw_strbuf j = YW_STRBUF_INIT;
		yw_strbuf_puts(&j, "{\"event.kind\":\"state\",\"event.category\":\"configuration\","
				   "\"event.action\":\"audit_rules_missing\",\"yiwang.audit.missing\":");
		yw_strbuf_json_str(&j, missing.data, missing.len);
		yw_strbuf_puts(&j, ",\"message\":\"recommended audit rules are not loaded\"}");
		struct yw_record r = {.ts_ns = yw_wall_ns(), .kind = YW_REC_AGENT, .source = "agent",
				      .source_len = 5, .data = j.data, .len = (uint32_t)j.len};
		yw_spool_append(a->spool, &r, NULL, 0);
		yw_strbuf_free(&j);
	} else {
		yw_logf(YW_LOG_INFO, "the kernel has the recommended audit rules");
	}
	yw_strbuf_free(&missing);
}

/* Starts one collector; a collector the machine cannot support (e.g. no process connector)
 * is logged and left out, the others run. state_file is relative to the state directory. */
static int start_collector(struct agent *a, const struct yw_collector_ops *ops,
			   const char *state_file, const struct yw_collector_opt *o, size_t n)
{
	char path[4200];
	if (a->ncoll == sizeof(a->coll) / sizeof(a->coll[0]))
		return YW_ELIMIT;
	if (state_file)
		snprintf(path, sizeof(path), "%s/%s", a->cfg->state_dir, state_file);
	struct yw_collector_env env = {state_file ? path : NULL, spool_cursor, a->spool,
				       a->whodata};
	void *st = NULL;
	int rc = ops->init(&env, o, n, &st);
	if (rc) {
		yw_logf(rc == YW_EINVAL ? YW_LOG_ERROR : YW_LOG_WARNING, "collector %s: %s%s",
			ops->name, yw_strerror(rc), rc == YW_EINVAL ? "" : "; running without it");
		return rc == YW_EINVAL ? rc : 0;
	}
	a->coll[a->ncoll++] = (struct collector){ops, st, a, ops->fd(st), false};
	yw_logf(YW_LOG_INFO, "collector %s started", ops->name);
	return 0;
}

static struct yw_loop *volatile running;

static void on_signal(int sig)
{
	if (running)
		yw_loop_stop(running);
}

static int read_small(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return YW_ENOENT;
	size_t got = fread(out, 1, n - 1, f);
	fclose(f);
	out[got] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return got ? 0 : YW_EINVAL;
}


int yw_agent_run(struct yw_agent_config *cfg)
{
	static struct agent a;
	char path[4200], cert[4200], key[4200], ca[4200], err[512] = "";
	int rc;
	a.cfg = cfg;
	a.fd = -1;
	a.backoff_ms = cfg->reconnect_min_ms;
	a.tokens_ms = yw_mono_ms();
	yw_log_set_level(yw_log_level_parse(cfg->log_level));
	yw_strbuf_init(&a.out, 0);
	yw_strbuf_init(&a.batch_data, 0);
	yw_agent_hostinfo(a.host, sizeof(a.host), a.os, sizeof(a.os));
	snprintf(cert, sizeof(cert), "%s/%s", cfg->state_dir, YW_PKI_AGENT_CERT);
	snprintf(key, sizeof(key), "%s/%s", cfg->state_dir, YW_PKI_AGENT_KEY);
	snprintf(ca, sizeof(ca), "%s/%s", cfg->state_dir, YW_PKI_CA_CERT);
	struct yw_pki_cert_info ci;
	if (yw_pki_cert_info_file(cert, &ci) != 0) {
		yw_logf(YW_LOG_ERROR, "not enrolled: %s missing (run `yiwang-agent enroll STRING`)",
			cert);
		return YW_ENOENT;
	}
	snprintf(a.agent_id, sizeof(a.agent_id), "%s", ci.common_name);
	if (cfg->server) {
		snprintf(a.server, sizeof(a.server), "%s", cfg->server);
	} else {
		snprintf(path, sizeof(path), "%s/server.addr", cfg->state_dir);
		if (read_small(path, a.server, sizeof(a.server)) != 0) {
			yw_logf(YW_LOG_ERROR, "no server address: set `server` or enrol again");
			return YW_ENOENT;
		}
	}
	if ((rc = yw_tls_client_ctx_new(cert, key, ca, &a.tls_ctx, err, sizeof(err))) != 0) {
		yw_logf(YW_LOG_ERROR, "TLS: %s", err);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/spool", cfg->state_dir);
	struct yw_spool_opts so = {
		.max_bytes = (uint64_t)cfg->spool_max,
		.policy = !strcmp(cfg->spool_policy, "drop_oldest") ? YW_SPOOL_DROP_OLDEST
								    : YW_SPOOL_BLOCK,
		.sync_ms = (int)cfg->spool_sync_ms,
	};
	if ((rc = yw_spool_open(path, &so, &a.spool)) != 0) {
		yw_logf(YW_LOG_ERROR, "spool %s: %s", path, yw_strerror(rc));
		goto out;
	}
	if (cfg->respond_enabled)
		yw_respond_new_agent(cfg, a.server, a.spool, &a.resp);
	if (cfg->audit_check)
		check_audit_rules(&a);
	/* One loop thread runs every collector: the cache needs no lock. Without it (no memory)
	 * FIM events simply carry no who-data. */
	if (cfg->fim_enabled && cfg->fim_whodata && cfg->fim_realtime &&
	    yw_whodata_new(&a.whodata) != 0)
		yw_logf(YW_LOG_WARNING, "fim: no memory for the who-data cache; running without it");
	/* The file collector, with every configured pattern. */
	if (cfg->files.n) {
		struct yw_collector_opt *o = calloc(cfg->files.n + 1, sizeof(*o));
		if (!o) {
			rc = YW_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < cfg->files.n; i++)
			o[i] = (struct yw_collector_opt){"path", cfg->files.v[i]};
		o[cfg->files.n] = (struct yw_collector_opt){"start", cfg->files_start};
		rc = start_collector(&a, &yw_collector_file, "files.state", o, cfg->files.n + 1);
		free(o);
		if (rc)
			goto out;
	}
	if (cfg->process_enabled) {
		struct yw_collector_opt o[65];
		size_t n = 0;
		for (size_t i = 0; i < cfg->process_ignore.n && n < 64; i++)
			o[n++] = (struct yw_collector_opt){"ignore_exe", cfg->process_ignore.v[i]};
		start_collector(&a, &yw_collector_process, NULL, o, n);
	}
#ifdef YW_HAVE_SYSTEMD
	/* auto: the journal when journald runs and no syslog daemon writes the classic files,
	 * which would otherwise deliver every line twice. */
	bool jd = !strcmp(cfg->journald, "on") ||
		  (!strcmp(cfg->journald, "auto") && access("/run/systemd/journal", F_OK) == 0 &&
		   access("/var/log/syslog", F_OK) != 0 && access("/var/log/messages", F_OK) != 0);
	if (jd) {
		struct yw_collector_opt o[] = {{"start", cfg->files_start}};
		start_collector(&a, &yw_collector_journald, "journald.state", o, 1);
	}
#endif
	if (cfg->inventory_enabled) {
		char ms[32];
		snprintf(ms, sizeof(ms), "%lld", (long long)cfg->inventory_interval_ms);
		struct yw_collector_opt o[] = {{"interval_ms", ms}};
		start_collector(&a, &yw_collector_inventory, "inventory.state", o, 1);
	}
	if (cfg->sca_enabled) {
		char ms[32], dflt[4200];
		struct yw_collector_opt o[33];
		size_t n = 0;
		snprintf(ms, sizeof(ms), "%lld", (long long)cfg->sca_interval_ms);
		o[n++] = (struct yw_collector_opt){"interval_ms", ms};
		for (size_t i = 0; i < cfg->sca_policies.n && n < 33; i++)
			o[n++] = (struct yw_collector_opt){"policy", cfg->sca_policies.v[i]};
		if (!cfg->sca_policies.n && sca_default_policies(dflt, sizeof(dflt)) == 0)
			o[n++] = (struct yw_collector_opt){"policy", dflt};
		if (n > 1)
			start_collector(&a, &yw_collector_sca, "sca.state", o, n);
		else
			yw_logf(YW_LOG_WARNING, "collector sca: no policies found; running without it");
	}
	if (cfg->fim_enabled && cfg->fim_paths.n) {
		char ms[32], rate[32], wait[32];
		struct yw_collector_opt o[73];
		size_t n = 0;
		snprintf(wait, sizeof(wait), "%lld", (long long)cfg->fim_whodata_wait_ms);
		o[n++] = (struct yw_collector_opt){"whodata_wait_ms", wait};
		snprintf(ms, sizeof(ms), "%lld", (long long)cfg->fim_scan_ms);
		snprintf(rate, sizeof(rate), "%lld", (long long)cfg->fim_io_rate);
		o[n++] = (struct yw_collector_opt){"scan_interval_ms", ms};
		o[n++] = (struct yw_collector_opt){"io_rate", rate};
		o[n++] = (struct yw_collector_opt){"hash", cfg->fim_hash};
		o[n++] = (struct yw_collector_opt){"realtime", cfg->fim_realtime ? "on" : "off"};
		for (size_t i = 0; i < cfg->fim_paths.n && n < 73; i++)
			o[n++] = (struct yw_collector_opt){"path", cfg->fim_paths.v[i]};
		start_collector(&a, &yw_collector_fim, "fim.state", o, n);
	}
	if (cfg->network_enabled) {
		char ms[32];
		snprintf(ms, sizeof(ms), "%lld", (long long)cfg->network_interval_ms);
		struct yw_collector_opt o[] = {{"interval_ms", ms}};
		start_collector(&a, &yw_collector_network, NULL, o, 1);
	}
	if (!(a.proto = yw_proto_new()) || (rc = yw_loop_new(&a.loop)) != 0) {
		rc = rc ? rc : YW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < a.ncoll; i++)
		if (a.coll[i].fd >= 0)
			yw_loop_watch(a.loop, a.coll[i].fd, YW_LOOP_READ, on_collector_fd, &a.coll[i]);
	/* Everything that needs more is open now (collectors, identity, spool). */
	if (cfg->drop_privileges &&
	    (rc = yw_privs_drop(yw_privs_needed(cfg), cfg->user)) != 0)
		goto out;
	struct yw_spool_stats st;
	yw_spool_stats(a.spool, &st);
	a.acked = st.acked;
	a.next_send = st.acked + 1;
	yw_logf(YW_LOG_INFO, "agent %s starting: server %s, %zu file patterns, %llu records "
			     "waiting in the spool",
		a.agent_id, a.server, cfg->files.n, (unsigned long long)st.pending);
	running = a.loop;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	reconnect_cb(a.loop, &a);
	yw_loop_after(a.loop, 0, tick, &a);
	rc = yw_loop_run(a.loop);
	running = NULL;
	if (rc == 0 && a.refused)
		rc = YW_EAUTH;
	yw_logf(YW_LOG_INFO, "stopping: %llu records collected this run",
		(unsigned long long)a.collected);
	if (a.state == L_STREAM) {
		struct yw_msg m = {.type = YW_MSG_BYE};
		if (yw_proto_encode(a.proto, &m, &a.out) == 0)
			flush_out(&a);
		yw_tls_shutdown(a.tls);
	}
	if (yw_spool_sync(a.spool) == 0)
		for (size_t i = 0; i < a.ncoll; i++)
			a.coll[i].ops->commit(a.coll[i].state);
out:
	if (a.fd >= 0) {
		yw_tls_conn_free(a.tls);
		close(a.fd);
	}
	yw_frame_decoder_free(a.dec);
	for (size_t i = 0; i < a.ncoll; i++)
		a.coll[i].ops->exit(a.coll[i].state);
	yw_whodata_free(a.whodata);
	a.whodata = NULL;
	yw_respond_free(a.resp);
	yw_spool_close(a.spool);
	yw_loop_free(a.loop);
	yw_proto_free(a.proto);
	yw_tls_ctx_free(a.tls_ctx);
	yw_strbuf_free(&a.out);
	yw_strbuf_free(&a.batch_data);
	free(a.batch);
	return rc;
}
