/* Network collector: enumerates sockets every interval and compares them with the previous
 * scan. A new listening socket becomes a "network_listening" event, a new connection this
 * host initiated a Sigma network_connection event (network.initiated "true"); accepted
 * connections too when "inbound" is on. Sockets come from NETLINK_SOCK_DIAG (the kernel
 * filters by state; network_diag.c), or from /proc/net/{tcp,tcp6,udp,udp6} when sock_diag is
 * unavailable (chosen at init and logged). Owners are looked up for new sockets only
 * (network_owner.c). TCP connections that open and close between two scans are caught by the
 * kernel's socket-destroy notifications (network_closed.c) when the agent may subscribe: an
 * outbound one no scan saw is reported as the scan would have, marked yiwang.network.closed.
 * Listeners and UDP are sampled only. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "network.h"
#include "procfs.h"
#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/log.h"

enum { K_LISTEN, K_OUT, K_IN };
enum { P_TCP = YW_NET_TCP, P_UDP = YW_NET_UDP };
enum backend { B_AUTO, B_DIAG, B_PROC };

/* A TCP connection's identity across a scan and a destroy notification (whose inode is 0):
 * v6, local address and port, remote address and port. */
#define KEYLEN 37
typedef uint8_t net_key[KEYLEN];

struct net_col {
	int64_t interval_ms, next_ms;
	bool listening, outbound, inbound, ignore_self, closed;
	bool scanned; /* the first scan is the baseline: it reports nothing */
	enum backend backend;
	int diag; /* sock_diag socket, -1 = closed (reopened at the next scan) */
	pid_t self;
	uint64_t *prev; /* sorted inodes of the previous scan */
	size_t nprev;
	struct yw_net_table cur;  /* this scan */
	struct yw_net_sock *pend; /* new sockets to report; [pendpos, npend) not yet taken */
	size_t npend, pendpos, pendcap;
	struct yw_net_owners *owners;
	struct yw_strbuf out;
	char *cmd;
	struct yw_uid_cache users;
	/* socket-destroy notifications (-1: not subscribed) */
	int cfd;
	net_key *known; /* sorted keys of the TCP connections of the last scan */
	size_t nknown;
	uint32_t *lports; /* sorted TCP listening ports of the last scan */
	size_t nlports;
	/* The same of the scan before: a notification can arrive after the next scan no longer
	 * lists its connection (or its closed listener) and must still be recognised. */
	net_key *known_old;
	size_t nknown_old;
	uint32_t *lports_old;
	size_t nlports_old;
	struct yw_net_table lst;          /* listeners refreshed for closed connections */
	struct yw_net_sock *rd;           /* one read's connections, YW_NET_CLOSED_READS */
	struct yw_net_sock *cq;           /* closed connections to report: a ring of */
	size_t cqhead, cqn;               /* YW_NET_CLOSED_QUEUE */
	uint64_t lost_queue, lost_kernel; /* dropped, not yet reported */
};

#define CMD_CAP 8192

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Hex address as the kernel prints it: 32-bit words of the network-order bytes, each in host
 * order. */
static bool parse_addr(const char *h, size_t n, uint8_t out[16])
{
	if (n != 8 && n != 32)
		return false;
	for (size_t w = 0; w < n / 8; w++) {
		char word[9];
		memcpy(word, h + w * 8, 8);
		word[8] = 0;
		char *end;
		uint32_t v = (uint32_t)strtoul(word, &end, 16);
		if (*end)
			return false;
		memcpy(out + w * 4, &v, 4);
	}
	return true;
}

/* One line of /proc/net/{tcp,udp}[6]: "sl: local:port remote:port st ... uid timeout inode". */
static bool parse_line(const char *line, uint8_t proto, bool v6, struct yw_net_sock *s)
{
	char la[40], ra[40];
	unsigned lp, rp, st, uid;
	unsigned long long ino;
	if (sscanf(line,
	           " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u %*d "
	           "%llu",
	           la, &lp, ra, &rp, &st, &uid, &ino) != 7)
		return false;
	memset(s, 0, sizeof(*s));
	if (!parse_addr(la, strlen(la), s->laddr) || !parse_addr(ra, strlen(ra), s->raddr) ||
	    strlen(la) != (v6 ? 32u : 8u) || lp > 65535 || rp > 65535)
		return false;
	s->lport = (uint16_t)lp;
	s->rport = (uint16_t)rp;
	s->state = (uint8_t)st;
	s->uid = uid;
	s->inode = ino;
	s->proto = proto;
	s->v6 = v6;
	return true;
}

/* Keeps LISTEN (TCP 0A; UDP 07 = bound, no peer) and ESTABLISHED (01) sockets. */
static bool interesting(const struct yw_net_sock *s)
{
	if (!s->inode)
		return false;
	if (s->state == YW_NET_ESTABLISHED)
		return true;
	if (s->proto == P_TCP)
		return s->state == YW_NET_LISTEN;
	return s->state == YW_NET_CLOSE && s->rport == 0;
}

static void read_table(struct yw_net_table *t, const char *path, uint8_t proto, bool v6)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return; /* no IPv6, or no such protocol: nothing to see */
	char line[512];
	bool first = true;
	while (fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);
		bool whole = l && line[l - 1] == '\n';
		if (!whole) { /* lines are ~150 bytes; drain anything longer */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		if (first) { /* header */
			first = false;
			continue;
		}
		struct yw_net_sock s;
		if (!parse_line(line, proto, v6, &s) || !interesting(&s))
			continue;
		if (t->truncated || yw_net_table_add(t, &s))
			break; /* a partial scan: the rest are seen next time */
	}
	fclose(f);
}

/* Connected sockets on a port that also listens were accepted (inbound); the rest initiated. */
static void classify(struct yw_net_table *t)
{
	uint32_t *ports = malloc((t->n ? t->n : 1) * sizeof(*ports));
	size_t np = 0;
	for (size_t i = 0; ports && i < t->n; i++)
		if (t->v[i].state != YW_NET_ESTABLISHED)
			ports[np++] = (uint32_t)t->v[i].proto << 16 | t->v[i].lport;
	if (ports)
		qsort(ports, np, sizeof(*ports), cmp_u32);
	for (size_t i = 0; i < t->n; i++) {
		struct yw_net_sock *s = &t->v[i];
		if (s->state != YW_NET_ESTABLISHED) {
			s->kind = K_LISTEN;
			continue;
		}
		uint32_t key = (uint32_t)s->proto << 16 | s->lport;
		s->kind = ports && bsearch(&key, ports, np, sizeof(*ports), cmp_u32) ? K_IN : K_OUT;
	}
	free(ports);
}

static void make_key(const struct yw_net_sock *s, uint8_t *k)
{
	memset(k, 0, KEYLEN);
	k[0] = s->v6;
	memcpy(k + 1, s->laddr, 16);
	k[17] = (uint8_t)(s->lport >> 8), k[18] = (uint8_t)s->lport;
	memcpy(k + 19, s->raddr, 16);
	k[35] = (uint8_t)(s->rport >> 8), k[36] = (uint8_t)s->rport;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, KEYLEN);
}

/* Remembers the last scan's TCP connections and listening ports: what the destroy path must
 * not report again, and what tells accepted from initiated. Kept as they were on ENOMEM. */
static void remember(struct net_col *nc, const struct yw_net_table *t)
{
	size_t nc_conn = 0, nc_lst = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].proto == P_TCP && t->v[i].state == YW_NET_LISTEN)
			nc_lst++;
		else if (t->v[i].proto == P_TCP)
			nc_conn++;
	net_key *k = malloc((nc_conn ? nc_conn : 1) * sizeof(*k));
	if (k) {
		free(nc->known_old);
		nc->known_old = nc->known;
		nc->nknown_old = nc->nknown;
		nc->known = k;
		nc->nknown = 0;
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i].proto == P_TCP && t->v[i].state == YW_NET_ESTABLISHED)
				make_key(&t->v[i], k[nc->nknown++]);
		qsort(k, nc->nknown, sizeof(*k), cmp_key);
	}
	uint32_t *p = malloc((nc_lst ? nc_lst : 1) * sizeof(*p));
	if (p) {
		free(nc->lports_old);
		nc->lports_old = nc->lports;
		nc->nlports_old = nc->nlports;
		nc->lports = p;
		nc->nlports = 0;
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i].proto == P_TCP && t->v[i].state == YW_NET_LISTEN)
				p[nc->nlports++] = t->v[i].lport;
		qsort(p, nc->nlports, sizeof(*p), cmp_u32);
	}
}

static bool wanted(const struct net_col *nc, const struct yw_net_sock *s)
{
	return (s->kind == K_LISTEN && nc->listening) || (s->kind == K_OUT && nc->outbound) ||
	       (s->kind == K_IN && nc->inbound);
}

/* Fills nc->cur from sock_diag, or /proc/net when sock_diag is not used or just failed. */
static void enumerate(struct net_col *nc)
{
	struct yw_net_table *t = &nc->cur;
	t->n = 0;
	t->truncated = false;
	if (nc->backend == B_DIAG) {
		int err_no = 0;
		if (nc->diag < 0)
			nc->diag = yw_net_diag_open(&err_no);
		int rc = nc->diag >= 0 ? yw_net_diag_scan(nc->diag, t) : nc->diag;
		if (rc == 0) {
			size_t k = 0; /* the kernel filtered by state; UDP also needs "no peer" */
			for (size_t i = 0; i < t->n; i++)
				if (interesting(&t->v[i]))
					t->v[k++] = t->v[i];
			t->n = k;
			return;
		}
		/* a dump may be half read: a fresh socket next time, /proc/net this time */
		yw_logf(YW_LOG_WARNING, "network: sock_diag scan failed (%s): /proc/net this time",
		        yw_strerror(rc));
		if (nc->diag >= 0)
			close(nc->diag);
		nc->diag = -1;
		t->n = 0;
		t->truncated = false;
	}
	read_table(t, "/proc/net/tcp", P_TCP, false);
	read_table(t, "/proc/net/tcp6", P_TCP, true);
	read_table(t, "/proc/net/udp", P_UDP, false);
	read_table(t, "/proc/net/udp6", P_UDP, true);
}

static void scan(struct net_col *nc)
{
	enumerate(nc);
	struct yw_net_table *t = &nc->cur;
	classify(t);

	nc->npend = nc->pendpos = 0;
	for (size_t i = 0; nc->scanned && i < t->n; i++) {
		const struct yw_net_sock *s = &t->v[i];
		if (!wanted(nc, s) ||
		    bsearch(&s->inode, nc->prev, nc->nprev, sizeof(uint64_t), cmp_u64))
			continue;
		if (nc->npend == nc->pendcap) {
			size_t cap = nc->pendcap ? nc->pendcap * 2 : 64;
			struct yw_net_sock *p = realloc(nc->pend, cap * sizeof(*p));
			if (!p)
				break;
			nc->pend = p;
			nc->pendcap = cap;
		}
		nc->pend[nc->npend++] = *s;
	}
	uint64_t *prev = realloc(nc->prev, (t->n ? t->n : 1) * sizeof(uint64_t));
	if (prev) {
		for (size_t i = 0; i < t->n; i++)
			prev[i] = t->v[i].inode;
		qsort(prev, t->n, sizeof(uint64_t), cmp_u64);
		nc->prev = prev;
		nc->nprev = t->n;
	}
	remember(nc, t);
	nc->scanned = true;
	if (nc->npend)
		yw_net_owners_find(nc->owners, nc->pend, nc->npend);
}

static bool listens(const struct net_col *nc, uint32_t port)
{
	if (bsearch(&port, nc->lports, nc->nlports, sizeof(uint32_t), cmp_u32) ||
	    (nc->lports_old &&
	     bsearch(&port, nc->lports_old, nc->nlports_old, sizeof(uint32_t), cmp_u32)))
		return true;
	for (size_t i = 0; i < nc->lst.n; i++)
		if (nc->lst.v[i].lport == port)
			return true;
	return false;
}

/* Current listeners, once per batch of closed connections whose port the last scan did not see
 * listen: a server started after that scan accepts connections that close before the next. */
static void refresh_listeners(struct net_col *nc)
{
	nc->lst.n = 0;
	nc->lst.truncated = false;
	if (nc->backend != B_DIAG || nc->diag < 0)
		return; /* /proc/net: the last scan's listeners only */
	int rc = yw_net_diag_listeners(nc->diag, &nc->lst);
	if (rc) { /* a half-read dump: a fresh socket at the next scan */
		close(nc->diag);
		nc->diag = -1;
		nc->lst.n = 0;
	}
}

/* Reads destroy notifications (bounded) and queues the outbound connections no scan reported.
 * Before the first scan they are read and discarded: the baseline reports nothing either. */
static void read_closed(struct net_col *nc)
{
	size_t n = 0;
	int rc = yw_net_closed_read(nc->cfd, nc->rd, YW_NET_CLOSED_READS, &n, &nc->lost_kernel);
	if (rc < 0) {
		yw_logf(YW_LOG_WARNING,
		        "network: socket-destroy notifications failed (%s): scans only from now",
		        strerror(errno));
		close(nc->cfd);
		nc->cfd = -1;
	}
	bool refreshed = false;
	for (size_t i = 0; nc->scanned && nc->outbound && i < n; i++) {
		struct yw_net_sock *s = &nc->rd[i];
		net_key k;
		make_key(s, k);
		if (bsearch(k, nc->known, nc->nknown, sizeof(net_key), cmp_key) ||
		    (nc->known_old &&
		     bsearch(k, nc->known_old, nc->nknown_old, sizeof(net_key), cmp_key)))
			continue; /* a scan saw it open: reported already, or not wanted */
		if (!listens(nc, s->lport) && !refreshed) {
			refresh_listeners(nc);
			refreshed = true;
		}
		if (listens(nc, s->lport))
			continue; /* accepted: inbound connections stay scan-based */
		s->kind = K_OUT;
		if (nc->cqn == YW_NET_CLOSED_QUEUE) {
			nc->lost_queue++;
			continue;
		}
		nc->cq[(nc->cqhead + nc->cqn++) % YW_NET_CLOSED_QUEUE] = *s;
	}
	nc->lst.n = 0;
	/* the inode is 0 once the socket is orphaned, which it nearly always is by now */
	for (size_t i = 0; i < nc->cqn; i++) {
		struct yw_net_sock *s = &nc->cq[(nc->cqhead + i) % YW_NET_CLOSED_QUEUE];
		if (s->inode && !s->pid)
			yw_net_owners_find(nc->owners, s, 1);
	}
}

/* The report of closed connections that could not be kept (queue full, kernel overrun). */
static int build_lost(struct net_col *nc, int64_t wall_ns)
{
	struct yw_strbuf *o = &nc->out;
	yw_strbuf_reset(o);
	int rc = yw_strbuf_printf(
	    o,
	    "{\"event.kind\":\"metric\",\"event.category\":\"host\",\"event.action\":"
	    "\"agent_network_events_lost\",\"yiwang.lost.closed\":%llu,\"yiwang.lost.overruns\":"
	    "%llu,\"message\":\"network: %llu closed connections dropped (queue full), %llu "
	    "destroy-notification buffer overruns\"",
	    (unsigned long long)nc->lost_queue, (unsigned long long)nc->lost_kernel,
	    (unsigned long long)nc->lost_queue, (unsigned long long)nc->lost_kernel);
	if (!rc)
		rc = yw_procfs_ktime(o, "@timestamp", wall_ns);
	if (!rc)
		rc = yw_strbuf_putc(o, '}');
	return rc;
}

/* An address as text; an IPv4-mapped IPv6 address as IPv4 (what rules expect). */
static bool addr_text(const struct yw_net_sock *s, const uint8_t a[16], char *buf)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!s->v6)
		return inet_ntop(AF_INET, a, buf, INET6_ADDRSTRLEN) != NULL;
	if (memcmp(a, mapped, 12) == 0)
		return inet_ntop(AF_INET, a + 12, buf, INET6_ADDRSTRLEN) != NULL;
	inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
	return true;
}

static int build(struct net_col *nc, const struct yw_net_sock *s, int64_t wall_ns)
{
	struct yw_strbuf *o = &nc->out;
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN], uid[16];
	bool v4 = addr_text(s, s->laddr, la);
	addr_text(s, s->raddr, ra);
	yw_strbuf_reset(o);
	int rc = yw_strbuf_puts(o, "{\"event.kind\":\"event\"");
	if (!rc)
		rc = yw_procfs_ktime(o, "@timestamp", wall_ns);
	if (!rc)
		rc = yw_strbuf_printf(
		    o,
		    ",\"event.category\":\"network\",\"event.type\":\"start\",\"event.action\":"
		    "\"%s\",\"logsource.product\":\"linux\",\"logsource.category\":\"%s\","
		    "\"network.transport\":\"%s\",\"network.type\":\"%s\"",
		    s->kind == K_LISTEN ? "listening"
		    : s->kind == K_OUT  ? "connected"
		                        : "accepted",
		    s->kind == K_LISTEN ? "network_listening" : "network_connection",
		    s->proto == P_TCP ? "tcp" : "udp", v4 ? "ipv4" : "ipv6");
	/* ECS: source is the side that initiated; a listener has only its own address */
	const char *src = la, *dst = ra;
	unsigned sp = s->lport, dp = s->rport;
	if (s->kind == K_IN) {
		src = ra, dst = la;
		sp = s->rport, dp = s->lport;
	}
	if (!rc)
		rc = yw_procfs_kstr(o, "source.ip", src, strlen(src));
	if (!rc)
		rc = yw_procfs_kint(o, "source.port", sp);
	if (!rc && s->kind != K_LISTEN) {
		rc = yw_strbuf_printf(o, ",\"network.initiated\":\"%s\"",
		                      s->kind == K_OUT ? "true" : "false");
		if (!rc)
			rc = yw_procfs_kstr(o, "destination.ip", dst, strlen(dst));
		if (!rc)
			rc = yw_procfs_kint(o, "destination.port", dp);
	}
	int ul = snprintf(uid, sizeof(uid), "%u", s->uid);
	if (!rc)
		rc = yw_procfs_kstr(o, "user.id", uid, (size_t)ul);
	const char *uname = yw_procfs_user(&nc->users, s->uid);
	if (!rc && uname)
		rc = yw_procfs_kstr(o, "user.name", uname, strlen(uname));
	bool gone = !s->pid;
	if (!rc && s->pid)
		rc = yw_procfs_put_process(o, "process", s->pid, nc->cmd, CMD_CAP, &gone);
	if (!rc && s->closed) /* no owner is expected: the anomaly would say nothing new */
		rc = yw_strbuf_puts(o, ",\"yiwang.network.closed\":true");
	if (s->closed)
		gone = false;
	if (!rc && (gone || (!s->closed && nc->cur.truncated))) {
		rc = yw_strbuf_puts(o, ",\"yiwang.anomaly\":[");
		if (!rc && gone)
			rc =
			    yw_strbuf_puts(o, "\"network: owning process not found (exited, or its "
			                      "/proc not readable)\"");
		if (!rc && !s->closed && nc->cur.truncated)
			rc = yw_strbuf_printf(o, "%s\"network: more than %d sockets, scan cut\"",
			                      gone ? "," : "", YW_NET_MAX_SOCKETS);
		if (!rc)
			rc = yw_strbuf_putc(o, ']');
	}
	if (!rc)
		rc = yw_strbuf_putc(o, '}');
	return rc;
}

/* Offers queued closed connections after the scan's events, within the poll's budget. */
/* Hands the event built in nc->out to the sink; the sink's answer. */
static int send_out(struct net_col *nc, yw_record_sink sink, void *ud, int64_t wall)
{
	struct yw_record rec = {.ts_ns = wall,
	                        .kind = YW_REC_EVENT,
	                        .source = "network",
	                        .source_len = 7,
	                        .data = nc->out.data,
	                        .len = (uint32_t)nc->out.len};
	return sink(ud, &rec, NULL, 0);
}

static int emit_closed(struct net_col *nc, yw_record_sink sink, void *ud, int64_t wall, int taken)
{
	while (nc->cqn && taken < YW_NET_POLL_EVENTS) {
		const struct yw_net_sock *s = &nc->cq[nc->cqhead];
		/* YW_ELIMIT cannot happen with CMD_CAP; never stall on one socket */
		int rc = nc->ignore_self && s->pid == nc->self ? YW_ELIMIT : build(nc, s, wall);
		if (!rc) {
			rc = send_out(nc, sink, ud, wall);
			if (rc == YW_SINK_FULL)
				break;
			if (rc)
				return rc;
			taken++;
		} else if (rc != YW_ELIMIT) {
			return rc;
		}
		nc->cqhead = (nc->cqhead + 1) % YW_NET_CLOSED_QUEUE;
		nc->cqn--;
	}
	return taken;
}

static int net_poll(void *state, yw_record_sink sink, void *ud)
{
	struct net_col *nc = state;
	/* before a scan: a connection the last scan saw must be judged against that scan */
	if (nc->cfd >= 0)
		read_closed(nc);
	int64_t now = clock_ms(CLOCK_MONOTONIC);
	/* no new scan while events of the last one wait for the sink */
	if (nc->pendpos == nc->npend && (!nc->scanned || now >= nc->next_ms)) {
		scan(nc);
		nc->next_ms = now + nc->interval_ms;
	}
	int taken = 0;
	int64_t wall = clock_ms(CLOCK_REALTIME) * 1000000;
	if (nc->lost_queue || nc->lost_kernel) {
		int rc = build_lost(nc, wall);
		if (rc)
			return rc;
		struct yw_record rec = {.ts_ns = wall,
		                        .kind = YW_REC_AGENT,
		                        .source = "network",
		                        .source_len = 7,
		                        .data = nc->out.data,
		                        .len = (uint32_t)nc->out.len};
		rc = sink(ud, &rec, NULL, 0);
		if (rc == YW_SINK_FULL)
			return 0;
		if (rc)
			return rc;
		nc->lost_queue = nc->lost_kernel = 0;
		taken++;
	}
	while (nc->pendpos < nc->npend && taken < YW_NET_POLL_EVENTS) {
		const struct yw_net_sock *s = &nc->pend[nc->pendpos];
		if (nc->ignore_self && s->pid == nc->self) {
			nc->pendpos++;
			continue;
		}
		int rc = build(nc, s, wall);
		if (rc == YW_ELIMIT) { /* cannot happen with CMD_CAP; never stall on one socket */
			nc->pendpos++;
			continue;
		}
		if (rc)
			return rc;
		rc = send_out(nc, sink, ud, wall);
		if (rc == YW_SINK_FULL)
			break;
		if (rc)
			return rc;
		nc->pendpos++;
		taken++;
	}
	if (nc->pendpos < nc->npend)
		return taken;
	return emit_closed(nc, sink, ud, wall, taken);
}

/* The destroy-notification socket: the loop polls as soon as connections close, so the
 * kernel buffer stays short. Scans still run from the tick. */
static int net_fd(void *state)
{
	const struct net_col *nc = state;
	return nc->cfd;
}

static int net_commit(void *state)
{
	(void)state; /* sockets are rescanned at start: no position to keep */
	return 0;
}

static void net_exit(void *state)
{
	struct net_col *nc = state;
	if (!nc)
		return;
	free(nc->prev);
	free(nc->cur.v);
	if (nc->diag >= 0)
		close(nc->diag);
	if (nc->cfd >= 0)
		close(nc->cfd);
	free(nc->known);
	free(nc->lports);
	free(nc->known_old);
	free(nc->lports_old);
	free(nc->lst.v);
	free(nc->rd);
	free(nc->cq);
	yw_net_owners_free(nc->owners);
	free(nc->pend);
	free(nc->cmd);
	yw_strbuf_free(&nc->out);
	free(nc);
}

static int parse_onoff(const char *v, bool *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
		*out = false;
	else
		return YW_EINVAL;
	return 0;
}

static int net_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                    size_t nopts, void **state)
{
	(void)env;
	*state = NULL;
	struct net_col *nc = calloc(1, sizeof(*nc));
	if (!nc)
		return YW_ENOMEM;
	nc->interval_ms = YW_NET_DEFAULT_INTERVAL_MS;
	nc->listening = nc->outbound = nc->ignore_self = nc->closed = true;
	nc->self = getpid();
	nc->diag = nc->cfd = -1;
	yw_strbuf_init(&nc->out, YW_MAX_RECORD_DATA);
	int rc = YW_EINVAL;
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		if (!k || !v)
			goto fail;
		if (strcmp(k, "interval_ms") == 0) {
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			if (errno || end == v || *end || x < 0 || x > 86400000)
				goto fail;
			nc->interval_ms = x;
		} else if (strcmp(k, "listening") == 0) {
			if (parse_onoff(v, &nc->listening))
				goto fail;
		} else if (strcmp(k, "outbound") == 0) {
			if (parse_onoff(v, &nc->outbound))
				goto fail;
		} else if (strcmp(k, "inbound") == 0) {
			if (parse_onoff(v, &nc->inbound))
				goto fail;
		} else if (strcmp(k, "ignore_self") == 0) {
			if (parse_onoff(v, &nc->ignore_self))
				goto fail;
		} else if (strcmp(k, "closed") == 0) {
			if (parse_onoff(v, &nc->closed))
				goto fail;
		} else if (strcmp(k, "backend") == 0) {
			if (strcmp(v, "auto") == 0)
				nc->backend = B_AUTO;
			else if (strcmp(v, "sock_diag") == 0)
				nc->backend = B_DIAG;
			else if (strcmp(v, "procfs") == 0)
				nc->backend = B_PROC;
			else
				goto fail;
		} else {
			goto fail;
		}
	}
	rc = YW_ENOMEM;
	if (!(nc->cmd = malloc(CMD_CAP)) || !(nc->owners = yw_net_owners_new()))
		goto fail;
	if (nc->backend != B_PROC) {
		int err_no = 0;
		nc->diag = yw_net_diag_open(&err_no);
		if (nc->diag < 0 && nc->backend == B_DIAG) {
			yw_logf(YW_LOG_ERROR, "network: sock_diag unavailable: %s",
			        strerror(err_no));
			rc = YW_EUNSUP;
			goto fail;
		}
		if (nc->diag < 0)
			yw_logf(YW_LOG_WARNING,
			        "network: sock_diag unavailable (%s): reading /proc/net instead",
			        strerror(err_no));
		nc->backend = nc->diag >= 0 ? B_DIAG : B_PROC;
	}
	if (nc->backend == B_DIAG)
		yw_logf(YW_LOG_INFO, "network: sockets enumerated with netlink sock_diag");
	else
		yw_logf(YW_LOG_INFO, "network: sockets enumerated from /proc/net");
	if (nc->closed && nc->outbound) {
		rc = YW_ENOMEM;
		if (!(nc->rd = malloc(YW_NET_CLOSED_READS * sizeof(*nc->rd))) ||
		    !(nc->cq = malloc(YW_NET_CLOSED_QUEUE * sizeof(*nc->cq))))
			goto fail;
		/* now, while the agent still holds CAP_NET_ADMIN (dropped after start-up) */
		int err_no = 0;
		nc->cfd = yw_net_closed_open(&err_no);
		if (nc->cfd < 0)
			yw_logf(YW_LOG_WARNING,
			        "network: socket-destroy notifications unavailable (%s): short TCP "
			        "connections between two scans are missed",
			        strerror(err_no));
		else
			yw_logf(YW_LOG_INFO,
			        "network: TCP socket-destroy notifications subscribed");
	}
	*state = nc;
	return 0;
fail:
	net_exit(nc);
	return rc;
}

const struct yw_collector_ops yw_collector_network = {
    .name = "network",
    .init = net_init,
    .fd = net_fd,
    .poll = net_poll,
    .commit = net_commit,
    .exit = net_exit,
};
