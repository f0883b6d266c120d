/* Load generator for the agent <-> server network: enrols N agents with one enrolment string
 * (a token made with --uses N), opens N mutual-TLS 1.3 connections from this one process (one
 * non-blocking event loop), and streams sshd-style log lines at R records/s per agent in BATCH
 * messages, like yiwang-agent does (one batch per agent per interval, a window of unacked
 * records). Reports connections, records offered/sent/acknowledged, loss, achieved records/s
 * and the time from a record's send to its ACK; with -p, the server's CPU and memory.
 * Run: bench_loadgen -n 1000 -r 10 -d 60 -e STRING -s DIR [-p SERVER_PID] (--help: all). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "yiwang/error.h"
#include "yiwang/loop.h"
#include "yiwang/pki.h"
#include "yiwang/proto.h"
#include "yiwang/tls.h"

#define TICK_MS      10
#define READ_CHUNK   65536
#define SOURCE       "file:/var/log/auth.log"
#define HIST_BUCKETS 1200 /* 2 % wide buckets from 1 us to beyond 10 minutes */

enum phase { P_CONNECT, P_HOLD, P_SEND, P_DRAIN, P_DONE };
enum ag_state { A_NEW, A_CONNECT, A_HANDSHAKE, A_WELCOME, A_STREAM, A_DEAD };

struct sent_mark { /* one BATCH frame: its last seq, record count and send time */
	uint64_t last_seq;
	uint32_t count;
	int64_t t_ns;
};

struct ag {
	struct lg *lg;
	int idx;
	int state;
	int fd;
	char id[YW_AGENT_ID_SIZE];
	struct yw_tls_ctx *ctx;
	struct yw_tls_conn *tls;
	struct yw_frame_decoder *dec;
	struct yw_strbuf out;
	size_t out_off;
	bool want_write;
	uint64_t base;      /* last_seq from WELCOME: what this run found stored */
	uint64_t next_seq;  /* next seq to assign */
	uint64_t acked;     /* highest seq acknowledged */
	uint64_t generated; /* records made this run */
	int64_t last_tx_ms;
	struct sent_mark *marks; /* ring of frames waiting for their ACK */
	size_t mhead, mlen, mcap;
};

#define MAX_THREADS 8

struct proc_sample {
	long rss_kb, hwm_kb;
	double cpu_s;
	int64_t t_ms;
	int ntids; /* the process's threads (the server: network thread, pipeline worker) */
	int tid[MAX_THREADS];
	double tid_cpu_s[MAX_THREADS];
};

struct lg {
	/* options */
	int n;
	double rate;  /* records/s per agent; 0 = as fast as the window allows */
	int duration; /* seconds of sending */
	int interval; /* ms between an agent's batches */
	long window;  /* records in flight per agent */
	long batch;   /* records per batch at most */
	int parallel; /* handshakes in progress at most */
	int hold;     /* seconds connected and idle before sending (memory settles) */
	int drain;    /* seconds to wait for the last ACKs */
	int server_pid;
	const char *state_dir;
	const char *enroll;
	const char *lines_path;
	/* state */
	struct yw_loop *loop;
	struct yw_proto *proto;
	struct ag *ags;
	struct addrinfo *ai;
	char addr[YW_ENROLL_ADDR_SIZE];
	int phase;
	int64_t phase_ms, t0_ms, t0_ns, progress_ms;
	int next_start, in_progress, connected, dead;
	uint64_t tick_no;
	int heartbeat_s;
	/* record text: lines split around their pid, "prefix[" COUNTER "]suffix" */
	char *text;
	size_t *pre_off, *pre_len, *suf_off, *suf_len, nlines, next_line;
	uint64_t counter;
	struct yw_record *recs;
	struct yw_strbuf scratch;
	/* results */
	uint64_t hist[HIST_BUCKETS];
	uint64_t lat_n;
	uint64_t acked_in_send; /* records acknowledged while the send phase ran */
	uint64_t errors_seen;
	struct proc_sample s_idle, s_conn, s_send0, s_send1, s_self0, s_self1;
	int64_t connect_ms;
};

/* ---- measurements ---- */

static int hist_bucket(int64_t ns)
{
	double us = (double)ns / 1000.0;
	if (us < 1)
		return 0;
	int b = (int)(log(us) / log(1.02)) + 1;
	return b >= HIST_BUCKETS ? HIST_BUCKETS - 1 : b;
}

static double hist_value_ms(int b)
{
	return b == 0 ? 0.001 : pow(1.02, b) / 1000.0; /* upper edge of the bucket */
}

static double hist_pct(const struct lg *g, double p)
{
	if (!g->lat_n)
		return 0;
	uint64_t want = (uint64_t)ceil(p / 100.0 * (double)g->lat_n), sum = 0;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		sum += g->hist[b];
		if (sum >= want)
			return hist_value_ms(b);
	}
	return hist_value_ms(HIST_BUCKETS - 1);
}

/* utime + stime of a /proc stat file, in seconds. */
static int stat_cpu(const char *path, double *cpu_s)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	if (!f)
		return YW_EIO;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is field 3, utime 14. */
	char *p = strrchr(line, ')');
	unsigned long ut = 0, st = 0;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return YW_EPARSE;
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static int proc_sample(int pid, struct proc_sample *s)
{
	char path[64], line[1024];
	memset(s, 0, sizeof(*s));
	s->t_ms = yw_mono_ms();
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && s->ntids < MAX_THREADS) {
		int tid = atoi(e->d_name);
		char tp[96];
		snprintf(tp, sizeof(tp), "/proc/%d/task/%d/stat", pid, tid);
		if (tid > 0 && stat_cpu(tp, &s->tid_cpu_s[s->ntids]) == 0)
			s->tid[s->ntids++] = tid;
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return YW_EIO;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			s->rss_kb = atol(line + 6);
		else if (!strncmp(line, "VmHWM:", 6))
			s->hwm_kb = atol(line + 6);
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_cpu(path, &s->cpu_s);
}

/* CPU % of one core of each thread between two samples; the server's first thread is its
 * network thread, the next its pipeline worker. */
static void thread_cpu(const struct proc_sample *a, const struct proc_sample *b, char *out,
                       size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < b->ntids && len + 32 < n; i++)
		for (int j = 0; j < a->ntids; j++)
			if (a->tid[j] == b->tid[i] && b->t_ms > a->t_ms)
				len += (size_t)snprintf(
				    out + len, n - len, "%s%d:%.0f", len ? "," : "", b->tid[i],
				    100.0 * (b->tid_cpu_s[i] - a->tid_cpu_s[j]) * 1000.0 /
				        (double)(b->t_ms - a->t_ms));
}

static void sample_server(struct lg *g, struct proc_sample *s)
{
	if (g->server_pid > 0 && proc_sample(g->server_pid, s) != 0)
		fprintf(stderr, "bench_loadgen: cannot read /proc/%d\n", g->server_pid);
}

static double cpu_pct(const struct proc_sample *a, const struct proc_sample *b)
{
	int64_t ms = b->t_ms - a->t_ms;
	return ms > 0 ? 100.0 * (b->cpu_s - a->cpu_s) * 1000.0 / (double)ms : 0;
}

/* ---- record text ---- */

/* Keeps lines shaped "... prog[PID]: ..." so that each record can carry a unique number as its
 * pid: the text stays a realistic syslog line the server's decoders parse as usual. */
static int load_lines(struct lg *g)
{
	FILE *f = fopen(g->lines_path, "r");
	if (!f) {
		fprintf(stderr, "bench_loadgen: %s: %s\n", g->lines_path, strerror(errno));
		return YW_EIO;
	}
	struct yw_strbuf t = YW_STRBUF_INIT;
	size_t cap = 0;
	char line[2048];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");
		line[len] = '\0';
		char *colon = strstr(line, "]: ");
		char *open = colon ? colon : NULL;
		while (open && open > line && open[-1] != '[')
			open--;
		if (!colon || !open || open == line || open == colon ||
		    strspn(open, "0123456789") != (size_t)(colon - open))
			continue;
		if (g->nlines == cap) {
			cap = cap ? cap * 2 : 1024;
			size_t **arrs[] = {&g->pre_off, &g->pre_len, &g->suf_off, &g->suf_len};
			for (size_t i = 0; i < 4; i++) {
				size_t *v = realloc(*arrs[i], cap * sizeof(size_t));
				if (!v) {
					rc = YW_ENOMEM;
					break;
				}
				*arrs[i] = v;
			}
			if (rc)
				break;
		}
		g->pre_off[g->nlines] = t.len;
		g->pre_len[g->nlines] = (size_t)(open - line);
		g->suf_off[g->nlines] = t.len + (size_t)(open - line);
		g->suf_len[g->nlines] = len - (size_t)(colon - line);
		rc = yw_strbuf_append(&t, line, (size_t)(open - line));
		if (rc == 0)
			rc = yw_strbuf_append(&t, colon, len - (size_t)(colon - line));
		g->nlines++;
	}
	fclose(f);
	g->text = t.data;
	if (rc == 0 && g->nlines == 0) {
		fprintf(stderr, "bench_loadgen: %s: no 'prog[pid]: ' lines\n", g->lines_path);
		rc = YW_EINVAL;
	}
	return rc;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* ---- connections ---- */

static void on_io(struct yw_loop *l, int fd, unsigned ev, void *ud);
static void launch(struct lg *g);

static void ag_watch(struct ag *a)
{
	yw_loop_watch(a->lg->loop, a->fd, YW_LOOP_READ | (a->want_write ? YW_LOOP_WRITE : 0), on_io,
	              a);
}

static void ag_fail(struct ag *a, const char *why)
{
	struct lg *g = a->lg;
	if (a->state == A_DEAD)
		return;
	fprintf(stderr, "bench_loadgen: agent %d (%s): %s\n", a->idx, a->id, why);
	if (a->state >= A_CONNECT && a->state <= A_WELCOME)
		g->in_progress--;
	else if (a->state == A_STREAM)
		g->connected--;
	if (a->fd >= 0) {
		yw_loop_unwatch(g->loop, a->fd);
		yw_tls_conn_free(a->tls);
		close(a->fd);
	}
	a->tls = NULL;
	a->fd = -1;
	a->state = A_DEAD;
	g->dead++;
	g->errors_seen++;
}

static int ag_flush(struct ag *a)
{
	while (a->out_off < a->out.len) {
		ssize_t n = yw_tls_write(a->tls, a->out.data + a->out_off, a->out.len - a->out_off);
		if (n == YW_EAGAIN || n == YW_EWANTWRITE) {
			if (!a->want_write) {
				a->want_write = true;
				ag_watch(a);
			}
			return 0;
		}
		if (n < 0)
			return (int)n;
		a->out_off += (size_t)n;
		a->last_tx_ms = yw_mono_ms();
	}
	yw_strbuf_reset(&a->out);
	a->out_off = 0;
	if (a->want_write) {
		a->want_write = false;
		ag_watch(a);
	}
	return 0;
}

static int mark_push(struct ag *a, uint64_t last_seq, uint32_t count, int64_t t_ns)
{
	if (a->mlen == a->mcap) {
		size_t cap = a->mcap ? a->mcap * 2 : 16;
		struct sent_mark *m = malloc(cap * sizeof(*m));
		if (!m)
			return YW_ENOMEM;
		for (size_t i = 0; i < a->mlen; i++)
			m[i] = a->marks[(a->mhead + i) % a->mcap];
		free(a->marks);
		a->marks = m;
		a->mhead = 0;
		a->mcap = cap;
	}
	a->marks[(a->mhead + a->mlen++) % a->mcap] = (struct sent_mark){last_seq, count, t_ns};
	return 0;
}

/* Records this agent owes: what the rate asks for so far, less what it made. */
static uint64_t owed(const struct lg *g, const struct ag *a)
{
	if (g->phase != P_SEND)
		return 0;
	if (g->rate <= 0)
		return UINT64_MAX;
	int64_t ms = yw_mono_ms() - g->t0_ms;
	if (ms > (int64_t)g->duration * 1000)
		ms = (int64_t)g->duration * 1000;
	uint64_t target = (uint64_t)(g->rate * (double)ms / 1000.0);
	return target > a->generated ? target - a->generated : 0;
}

/* Sends what the agent owes, as far as its window allows, in batches of at most g->batch. */
static void pump(struct ag *a)
{
	struct lg *g = a->lg;
	if (a->state != A_STREAM)
		return;
	uint64_t want = owed(g, a);
	while (want > 0) {
		uint64_t inflight = a->next_seq - 1 - a->acked;
		if (inflight >= (uint64_t)g->window)
			break;
		uint64_t k = want;
		if (k > (uint64_t)g->window - inflight)
			k = (uint64_t)g->window - inflight;
		if (k > (uint64_t)g->batch)
			k = (uint64_t)g->batch;
		yw_strbuf_reset(&g->scratch);
		if (yw_strbuf_reserve(&g->scratch, k * (2048 + 24)) != 0) {
			ag_fail(a, "out of memory");
			return;
		}
		int64_t now_ns = yw_wall_ns();
		for (uint64_t i = 0; i < k; i++) {
			size_t L = g->next_line++ % g->nlines;
			char *p = g->scratch.data + g->scratch.len, *q = p;
			memcpy(q, g->text + g->pre_off[L], g->pre_len[L]);
			q = put_u64(q + g->pre_len[L], ++g->counter);
			memcpy(q, g->text + g->suf_off[L], g->suf_len[L]);
			q += g->suf_len[L];
			g->scratch.len += (size_t)(q - p);
			g->recs[i] = (struct yw_record){
			    .seq = a->next_seq + i,
			    .ts_ns = now_ns,
			    .kind = YW_REC_LOG,
			    .source = SOURCE,
			    .source_len = (uint16_t)strlen(SOURCE),
			    .data = p,
			    .len = (uint32_t)(q - p),
			};
		}
		size_t done = 0;
		while (done < k) {
			size_t taken = 0;
			int rc = yw_proto_encode_batch(g->proto, g->recs + done, k - done, &a->out,
			                               &taken);
			if (rc || taken == 0 ||
			    mark_push(a, g->recs[done + taken - 1].seq, (uint32_t)taken, now_ns)) {
				ag_fail(a, "cannot encode a batch");
				return;
			}
			done += taken;
		}
		a->next_seq += k;
		a->generated += k;
		want -= k;
		if (ag_flush(a) != 0) {
			ag_fail(a, "write failed");
			return;
		}
		if (a->out.len - a->out_off > 4 * 1024 * 1024)
			break; /* the socket is full: wait for it */
	}
}

static void on_ack(struct ag *a, uint64_t seq)
{
	struct lg *g = a->lg;
	if (seq <= a->acked)
		return;
	int64_t now = yw_wall_ns();
	while (a->mlen && a->marks[a->mhead].last_seq <= seq) {
		const struct sent_mark *m = &a->marks[a->mhead];
		g->hist[hist_bucket(now - m->t_ns)] += m->count;
		g->lat_n += m->count;
		a->mhead = (a->mhead + 1) % a->mcap;
		a->mlen--;
	}
	if (g->phase == P_SEND)
		g->acked_in_send += seq - (a->acked > a->base ? a->acked : a->base);
	a->acked = seq;
	pump(a);
}

static int handle(struct ag *a, const struct yw_msg *m)
{
	struct lg *g = a->lg;
	switch (m->type) {
	case YW_MSG_WELCOME:
		if (a->state != A_WELCOME)
			return YW_EPARSE;
		/* One codec for all agents: the server gives each the same limits. */
		yw_proto_set_batch_limits(g->proto, m->welcome.max_batch_records,
		                          m->welcome.max_batch_bytes);
		g->heartbeat_s = m->welcome.heartbeat_s;
		a->base = a->acked = m->welcome.last_seq;
		a->next_seq = a->base + 1;
		a->state = A_STREAM;
		g->in_progress--;
		g->connected++;
		return 0;
	case YW_MSG_ACK:
		if (a->state != A_STREAM)
			return YW_EPARSE;
		on_ack(a, m->ack_seq);
		return 0;
	case YW_MSG_PING: {
		struct yw_msg p = {.type = YW_MSG_PONG};
		p.ping_nonce = m->ping_nonce;
		return yw_proto_encode(g->proto, &p, &a->out);
	}
	case YW_MSG_PONG:
	case YW_MSG_CONFIG:
	case YW_MSG_COMMAND:
		return 0;
	case YW_MSG_ERROR:
		fprintf(stderr, "bench_loadgen: agent %d: server error %u: %.*s\n", a->idx,
		        m->error.code, (int)m->error.message_len, m->error.message);
		return YW_EAUTH;
	default:
		return YW_EPARSE;
	}
}

static int send_hello(struct ag *a)
{
	char host[64];
	snprintf(host, sizeof(host), "loadgen-%04d", a->idx);
	struct yw_msg m = {.type = YW_MSG_HELLO};
	m.hello.min_version = YW_PROTO_VERSION_MIN;
	m.hello.max_version = YW_PROTO_VERSION;
	m.hello.agent_id = a->id;
	m.hello.agent_id_len = (uint16_t)strlen(a->id);
	m.hello.agent_version = YW_AGENT_VERSION;
	m.hello.agent_version_len = (uint16_t)strlen(YW_AGENT_VERSION);
	m.hello.hostname = host;
	m.hello.hostname_len = (uint16_t)strlen(host);
	m.hello.os = "Linux (bench_loadgen)";
	m.hello.os_len = (uint16_t)strlen(m.hello.os);
	/* Nothing is spooled here: WELCOME's last_seq says where this run starts. */
	m.hello.next_seq = 1;
	int rc = yw_proto_encode(a->lg->proto, &m, &a->out);
	return rc ? rc : ag_flush(a);
}

static void on_io(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct ag *a = ud;
	struct lg *g = a->lg;
	if (a->state == A_CONNECT) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
			ag_fail(a, soerr ? strerror(soerr) : "connect failed");
			launch(g);
			return;
		}
		a->state = A_HANDSHAKE;
	}
	if (a->state == A_HANDSHAKE) {
		int rc = yw_tls_handshake(a->tls);
		if (rc == YW_EAGAIN || rc == YW_EWANTWRITE) {
			a->want_write = rc == YW_EWANTWRITE;
			ag_watch(a);
			return;
		}
		if (rc) {
			char msg[300];
			snprintf(msg, sizeof(msg), "TLS: %s", yw_tls_error(a->tls));
			ag_fail(a, msg);
			launch(g);
			return;
		}
		a->state = A_WELCOME;
		a->want_write = false;
		ag_watch(a);
		if (send_hello(a) != 0) {
			ag_fail(a, "cannot send HELLO");
			launch(g);
			return;
		}
	}
	if ((ev & YW_LOOP_WRITE) && ag_flush(a) != 0) {
		ag_fail(a, "write failed");
		return;
	}
	for (;;) {
		struct yw_frame f;
		int rc = yw_frame_next(a->dec, &f);
		if (rc == 1) {
			struct yw_msg m;
			int was = a->state;
			rc = yw_proto_decode(g->proto, &f, &m);
			if (rc == 0)
				rc = handle(a, &m);
			if (rc) {
				ag_fail(a, rc == YW_EAUTH ? "refused by the server"
				                          : "protocol error");
				launch(g);
				return;
			}
			if (was == A_WELCOME && a->state == A_STREAM)
				launch(g);
			if (a->state == A_DEAD)
				return;
			continue;
		}
		if (rc < 0) {
			ag_fail(a, "bad frame from the server");
			return;
		}
		uint8_t *p;
		if (yw_frame_space(a->dec, READ_CHUNK, &p) != 0) {
			ag_fail(a, "frame buffer overflow");
			return;
		}
		ssize_t n = yw_tls_read(a->tls, p, READ_CHUNK);
		if (n == YW_EAGAIN)
			break;
		if (n == YW_EWANTWRITE) {
			a->want_write = true;
			ag_watch(a);
			break;
		}
		if (n <= 0) {
			ag_fail(a, n == 0 ? "server closed the connection" : yw_tls_error(a->tls));
			return;
		}
		yw_frame_commit(a->dec, (size_t)n);
	}
	if (ag_flush(a) != 0)
		ag_fail(a, "write failed");
}

static int ag_connect(struct ag *a)
{
	struct lg *g = a->lg;
	struct addrinfo *ai = g->ai;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return YW_EIO;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		close(fd);
		return YW_EIO;
	}
	a->fd = fd;
	if (yw_tls_conn_new(a->ctx, fd, false, g->addr, &a->tls) != 0 ||
	    !(a->dec = yw_frame_decoder_new())) {
		yw_tls_conn_free(a->tls);
		a->tls = NULL;
		close(fd);
		a->fd = -1;
		return YW_ENOMEM;
	}
	a->state = A_CONNECT;
	a->want_write = true; /* connect completes when the socket becomes writable */
	ag_watch(a);
	return 0;
}

/* Starts connections while fewer than g->parallel are in their handshake. */
static void launch(struct lg *g)
{
	while (g->next_start < g->n && g->in_progress < g->parallel) {
		struct ag *a = &g->ags[g->next_start++];
		if (ag_connect(a) != 0) {
			a->state = A_CONNECT;
			g->in_progress++;
			ag_fail(a, "cannot open a socket");
			continue;
		}
		g->in_progress++;
	}
}

/* ---- phases ---- */

static void progress(struct lg *g, int64_t now)
{
	uint64_t sent = 0, acked = 0, backlog = 0;
	for (int i = 0; i < g->n; i++) {
		const struct ag *a = &g->ags[i];
		sent += a->generated;
		acked += a->acked > a->base ? a->acked - a->base : 0;
		uint64_t o = a->state == A_STREAM && g->rate > 0 ? owed(g, a) : 0;
		backlog += o;
	}
	fprintf(stderr,
	        "bench_loadgen: t=%llds connected %d sent %llu acked %llu in flight %llu backlog "
	        "%llu\n",
	        (long long)((now - g->t0_ms) / 1000), g->connected, (unsigned long long)sent,
	        (unsigned long long)acked, (unsigned long long)(sent - acked),
	        (unsigned long long)backlog);
}

static bool all_acked(const struct lg *g)
{
	for (int i = 0; i < g->n; i++)
		if (g->ags[i].state == A_STREAM && g->ags[i].acked + 1 < g->ags[i].next_seq)
			return false;
	return true;
}

static void tick(struct yw_loop *l, void *ud)
{
	struct lg *g = ud;
	int64_t now = yw_mono_ms();
	g->tick_no++;
	switch (g->phase) {
	case P_CONNECT:
		launch(g);
		if (g->connected + g->dead == g->n || now - g->phase_ms > 120000) {
			g->connect_ms = now - g->phase_ms;
			fprintf(stderr,
			        "bench_loadgen: %d agents connected in %.1f s (%d failed)\n",
			        g->connected, (double)g->connect_ms / 1000.0, g->dead);
			g->phase = P_HOLD;
			g->phase_ms = now;
		}
		break;
	case P_HOLD:
		if (now - g->phase_ms >= (int64_t)g->hold * 1000) {
			sample_server(g, &g->s_conn);
			g->s_send0 = g->s_conn;
			proc_sample(getpid(), &g->s_self0);
			g->phase = P_SEND;
			g->phase_ms = g->t0_ms = g->progress_ms = now;
			g->t0_ns = yw_wall_ns();
		}
		break;
	case P_SEND: {
		/* Each agent sends once per interval; agents are spread over the interval's
		 * ticks so that the server sees a steady stream, not a pulse. */
		int slots = g->interval / TICK_MS > 0 ? g->interval / TICK_MS : 1;
		for (int i = (int)(g->tick_no % (uint64_t)slots); i < g->n; i += slots)
			pump(&g->ags[i]);
		if (now - g->progress_ms >= 10000) {
			g->progress_ms = now;
			progress(g, now);
		}
		if (now - g->t0_ms >= (int64_t)g->duration * 1000) {
			/* The last interval's records for the agents whose slot did not come. */
			for (int i = 0; i < g->n; i++)
				pump(&g->ags[i]);
			sample_server(g, &g->s_send1);
			proc_sample(getpid(), &g->s_self1);
			g->phase = P_DRAIN;
			g->phase_ms = now;
		}
		break;
	}
	case P_DRAIN:
		if (all_acked(g) || now - g->phase_ms > (int64_t)g->drain * 1000) {
			g->phase = P_DONE;
			yw_loop_stop(l);
			return;
		}
		break;
	}
	/* Keep idle links alive as yiwang-agent does. */
	if (g->heartbeat_s > 0 && g->tick_no % 100 == 0) {
		for (int i = 0; i < g->n; i++) {
			struct ag *a = &g->ags[i];
			if (a->state != A_STREAM || now - a->last_tx_ms < 1000LL * g->heartbeat_s)
				continue;
			struct yw_msg m = {.type = YW_MSG_PING};
			m.ping_nonce = (uint64_t)now;
			if (yw_proto_encode(g->proto, &m, &a->out) != 0 || ag_flush(a) != 0)
				ag_fail(a, "cannot send PING");
		}
	}
	yw_loop_after(l, TICK_MS, tick, g);
}

/* ---- set-up ---- */

/* yw_agent_enroll prints one line per agent; a thousand of them would bury the report. */
static int enrol_quietly(const char *dir, const char *enroll)
{
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *null = fopen("/dev/null", "w");
	if (saved < 0 || !null) {
		if (saved >= 0)
			close(saved);
		if (null)
			fclose(null);
		return YW_EIO;
	}
	dup2(fileno(null), STDOUT_FILENO);
	int rc = yw_agent_enroll(dir, enroll);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fclose(null);
	return rc;
}

/* Enrols agents that have no identity in state_dir/aNNNN yet, then loads every identity. */
static int setup_agents(struct lg *g)
{
	char dir[4096], cert[4200], key[4200], ca[4200], err[512];
	int enrolled = 0;
	int64_t t = yw_mono_ms();
	if (mkdir(g->state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "bench_loadgen: %s: %s\n", g->state_dir, strerror(errno));
		return YW_EIO;
	}
	for (int i = 0; i < g->n; i++) {
		struct ag *a = &g->ags[i];
		a->lg = g;
		a->idx = i;
		a->fd = -1;
		yw_strbuf_init(&a->out, 0);
		snprintf(dir, sizeof(dir), "%s/a%04d", g->state_dir, i);
		snprintf(cert, sizeof(cert), "%s/%s", dir, YW_PKI_AGENT_CERT);
		snprintf(key, sizeof(key), "%s/%s", dir, YW_PKI_AGENT_KEY);
		snprintf(ca, sizeof(ca), "%s/%s", dir, YW_PKI_CA_CERT);
		struct yw_pki_cert_info ci;
		if (yw_pki_cert_info_file(cert, &ci) != 0) {
			if (!g->enroll) {
				fprintf(stderr, "bench_loadgen: %s: not enrolled and no -e given\n",
				        dir);
				return YW_EINVAL;
			}
			int rc = enrol_quietly(dir, g->enroll);
			if (rc)
				return rc;
			if ((rc = yw_pki_cert_info_file(cert, &ci)) != 0)
				return rc;
			enrolled++;
		}
		snprintf(a->id, sizeof(a->id), "%s", ci.common_name);
		int rc = yw_tls_client_ctx_new(cert, key, ca, &a->ctx, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "bench_loadgen: agent %d: TLS: %s\n", i, err);
			return rc;
		}
	}
	fprintf(stderr, "bench_loadgen: %d agents ready (%d enrolled now) in %.1f s\n", g->n,
	        enrolled, (double)(yw_mono_ms() - t) / 1000.0);
	return 0;
}

static int resolve(struct lg *g)
{
	char host[256], port[8];
	uint16_t p16;
	if (!g->enroll) {
		/* Reusing identities: the address saved at enrolment. */
		char path[4200];
		snprintf(path, sizeof(path), "%s/a0000/server.addr", g->state_dir);
		FILE *f = fopen(path, "r");
		if (!f || !fgets(g->addr, sizeof(g->addr), f)) {
			if (f)
				fclose(f);
			fprintf(stderr, "bench_loadgen: no -e and no %s\n", path);
			return YW_EINVAL;
		}
		fclose(f);
		g->addr[strcspn(g->addr, "\r\n")] = '\0';
	} else {
		struct yw_enroll_info info;
		if (yw_enroll_string_decode(g->enroll, strlen(g->enroll), &info) != 0) {
			fprintf(stderr, "bench_loadgen: not a valid enrolment string\n");
			return YW_EINVAL;
		}
		snprintf(g->addr, sizeof(g->addr), "%s", info.addr);
	}
	if (yw_enroll_addr_split(g->addr, host, sizeof(host), &p16) != 0)
		return YW_EINVAL;
	snprintf(port, sizeof(port), "%u", p16);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	int rc = getaddrinfo(host, port, &hints, &g->ai);
	if (rc) {
		fprintf(stderr, "bench_loadgen: %s: %s\n", host, gai_strerror(rc));
		return YW_EIO;
	}
	return 0;
}

static int raise_fd_limit(int need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return YW_EIO;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
		fprintf(stderr,
		        "bench_loadgen: %d agents need %d file descriptors; the limit is %llu\n",
		        need - 64, need, (unsigned long long)rl.rlim_cur);
		return YW_ELIMIT;
	}
	return 0;
}

/* ---- report ---- */

/* Prints the figures; true when every agent connected and every record was acknowledged. */
static bool report(struct lg *g)
{
	uint64_t sent = 0, acked = 0;
	for (int i = 0; i < g->n; i++) {
		const struct ag *a = &g->ags[i];
		sent += a->generated;
		acked += a->acked > a->base ? a->acked - a->base : 0;
	}
	double d = (double)g->duration;
	uint64_t offered = g->rate > 0 ? (uint64_t)(g->rate * d) * (uint64_t)g->connected : 0;
	printf("agents connected          %d of %d (connect phase %.1f s)\n", g->connected, g->n,
	       (double)g->connect_ms / 1000.0);
	if (g->rate > 0)
		printf("records offered           %llu (%.0f/s per agent for %d s)\n",
		       (unsigned long long)offered, g->rate, g->duration);
	printf("records sent              %llu\n", (unsigned long long)sent);
	printf("records acknowledged      %llu\n", (unsigned long long)acked);
	printf("unacknowledged (loss)     %llu\n", (unsigned long long)(sent - acked));
	printf("sent/s                    %.0f\n", (double)sent / d);
	printf("acked/s during the send   %.0f\n", (double)g->acked_in_send / d);
	printf("ACK latency ms            p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	       hist_pct(g, 50), hist_pct(g, 90), hist_pct(g, 99), hist_pct(g, 99.9),
	       hist_pct(g, 100));
	printf("loadgen CPU               %.0f %% of one core\n",
	       cpu_pct(&g->s_self0, &g->s_self1));
	double per_agent = 0;
	char threads[256] = "";
	thread_cpu(&g->s_send0, &g->s_send1, threads, sizeof(threads));
	if (g->server_pid > 0) {
		per_agent = g->connected ? (double)(g->s_conn.rss_kb - g->s_idle.rss_kb) /
		                               (double)g->connected
		                         : 0;
		printf("server RSS idle           %.1f MiB\n", (double)g->s_idle.rss_kb / 1024.0);
		printf("server RSS connected      %.1f MiB (%.1f KiB per agent)\n",
		       (double)g->s_conn.rss_kb / 1024.0, per_agent);
		printf("server RSS after sending  %.1f MiB (peak %.1f MiB)\n",
		       (double)g->s_send1.rss_kb / 1024.0, (double)g->s_send1.hwm_kb / 1024.0);
		printf("server CPU while sending  %.0f %% of one core (threads tid:%%: %s)\n",
		       cpu_pct(&g->s_send0, &g->s_send1), threads);
	}
	printf("RESULT agents=%d connected=%d offered=%llu sent=%llu acked=%llu loss=%llu "
	       "sent_per_s=%.0f acked_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f "
	       "server_rss_idle_kb=%ld server_rss_conn_kb=%ld server_rss_end_kb=%ld "
	       "server_hwm_kb=%ld server_cpu_pct=%.0f rss_per_agent_kb=%.1f loadgen_cpu_pct=%.0f "
	       "connect_s=%.1f server_threads_pct=%s\n",
	       g->n, g->connected, (unsigned long long)offered, (unsigned long long)sent,
	       (unsigned long long)acked, (unsigned long long)(sent - acked), (double)sent / d,
	       (double)g->acked_in_send / d, hist_pct(g, 50), hist_pct(g, 99), hist_pct(g, 100),
	       g->s_idle.rss_kb, g->s_conn.rss_kb, g->s_send1.rss_kb, g->s_send1.hwm_kb,
	       cpu_pct(&g->s_send0, &g->s_send1), per_agent, cpu_pct(&g->s_self0, &g->s_self1),
	       (double)g->connect_ms / 1000.0, *threads ? threads : "-");
	return g->connected == g->n && sent == acked;
}

static void usage(FILE *out)
{
	fputs(
	    "usage: bench_loadgen -s DIR [-e STRING] [-n AGENTS] [-r RATE] [-d SECONDS]\n"
	    "                     [-p SERVER_PID] [-i MS] [-w RECORDS] [-b RECORDS] [-c N]\n"
	    "                     [-H SECONDS] [-D SECONDS] [-l FILE]\n"
	    "  -s DIR   agent identities (DIR/aNNNN); agents missing one are enrolled\n"
	    "  -e STR   enrolment string (a token created with --uses AGENTS)\n"
	    "  -n N     agents (100)             -r R  records/s per agent, 0 = unthrottled (10)\n"
	    "  -d S     seconds of sending (10)  -p PID server process, for its CPU and RSS\n"
	    "  -i MS    ms between an agent's batches (100, as yiwang-agent polls)\n"
	    "  -w N     records in flight per agent (20000)  -b N  records per batch (2000)\n"
	    "  -c N     handshakes at once (64)  -H S  idle seconds once connected (3)\n"
	    "  -D S     seconds to wait for the last ACKs (30)\n"
	    "  -l FILE  log lines to send (shared corpus auth/ubuntu-ec2-auth.log)\n"
	    "Exit status 0 when every agent connected and every record sent was acknowledged,\n"
	    "3 otherwise, 1 on a set-up failure.\n",
	    out);
}

int main(int argc, char **argv)
{
	static struct lg g = {
	    .n = 100,
	    .rate = 10,
	    .duration = 10,
	    .interval = 100,
	    .window = 20000,
	    .batch = 2000,
	    .parallel = 64,
	    .hold = 3,
	    .drain = 30,
	    .lines_path = YW_SHARED_DIR "/corpus/auth/ubuntu-ec2-auth.log",
	};
	int c, rc;
	static const struct option lopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	while ((c = getopt_long(argc, argv, "s:e:n:r:d:p:i:w:b:c:H:D:l:h", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			g.state_dir = optarg;
			break;
		case 'e':
			g.enroll = optarg;
			break;
		case 'n':
			g.n = atoi(optarg);
			break;
		case 'r':
			g.rate = atof(optarg);
			break;
		case 'd':
			g.duration = atoi(optarg);
			break;
		case 'p':
			g.server_pid = atoi(optarg);
			break;
		case 'i':
			g.interval = atoi(optarg);
			break;
		case 'w':
			g.window = atol(optarg);
			break;
		case 'b':
			g.batch = atol(optarg);
			break;
		case 'c':
			g.parallel = atoi(optarg);
			break;
		case 'H':
			g.hold = atoi(optarg);
			break;
		case 'D':
			g.drain = atoi(optarg);
			break;
		case 'l':
			g.lines_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!g.state_dir || g.n < 1 || g.n > 100000 || g.rate < 0 || g.duration < 1 ||
	    g.interval < TICK_MS || g.window < 1 || g.batch < 1 || g.batch > 10000 ||
	    g.parallel < 1 || g.hold < 0 || g.drain < 0) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rc = raise_fd_limit(g.n + 64)) != 0)
		return 1;
	if (!(g.ags = calloc((size_t)g.n, sizeof(*g.ags))) ||
	    !(g.recs = calloc((size_t)g.batch, sizeof(*g.recs))) || !(g.proto = yw_proto_new())) {
		fprintf(stderr, "bench_loadgen: out of memory\n");
		return 1;
	}
	yw_strbuf_init(&g.scratch, 0);
	if ((rc = load_lines(&g)) != 0 || (rc = resolve(&g)) != 0 || (rc = setup_agents(&g)) != 0 ||
	    (rc = yw_loop_new(&g.loop)) != 0) {
		fprintf(stderr, "bench_loadgen: set-up failed: %s\n", yw_strerror(rc));
		return 1;
	}
	sample_server(&g, &g.s_idle);
	g.phase = P_CONNECT;
	g.phase_ms = yw_mono_ms();
	launch(&g);
	yw_loop_after(g.loop, TICK_MS, tick, &g);
	rc = yw_loop_run(g.loop);
	bool complete = report(&g);
	for (int i = 0; i < g.n; i++) {
		struct ag *a = &g.ags[i];
		if (a->state == A_STREAM) {
			struct yw_msg m = {.type = YW_MSG_BYE};
			if (yw_proto_encode(g.proto, &m, &a->out) == 0)
				ag_flush(a);
			yw_tls_shutdown(a->tls);
		}
		if (a->fd >= 0)
			close(a->fd);
		yw_tls_conn_free(a->tls);
		yw_tls_ctx_free(a->ctx);
		yw_frame_decoder_free(a->dec);
		yw_strbuf_free(&a->out);
		free(a->marks);
	}
	yw_loop_free(g.loop);
	yw_proto_free(g.proto);
	freeaddrinfo(g.ai);
	free(g.ags);
	free(g.recs);
	free(g.text);
	free(g.pre_off);
	free(g.pre_len);
	free(g.suf_off);
	free(g.suf_len);
	yw_strbuf_free(&g.scratch);
	return rc == 0 && complete ? 0 : 3;
}
