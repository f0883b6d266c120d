/* Socket enumeration over NETLINK_SOCK_DIAG (what ss(8) uses): one SOCK_DIAG_BY_FAMILY dump
 * per family and protocol, filtered by state in the kernel, so an idle scan costs four short
 * request/answer exchanges instead of formatting and parsing every socket of /proc/net. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "network.h"
#include "yw_limits.h"
#include "yiwang/error.h"

int yw_net_table_add(struct yw_net_table *t, const struct yw_net_sock *s)
{
	if (t->n >= YW_NET_MAX_SOCKETS) {
		t->truncated = true;
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct yw_net_sock *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return YW_ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *s;
	return 0;
}

static int send_dump(int fd, uint8_t family, uint8_t proto, uint32_t states, uint32_t seq)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
	    .nh = {.nlmsg_len = sizeof(req),
	           .nlmsg_type = SOCK_DIAG_BY_FAMILY,
	           .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
	           .nlmsg_seq = seq},
	    .r = {.sdiag_family = family, .sdiag_protocol = proto, .idiag_states = states},
	};
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	ssize_t w = sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k));
	return w == (ssize_t)sizeof(req) ? 0 : YW_EIO;
}

static void to_sock(const struct inet_diag_msg *m, uint8_t proto, struct yw_net_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->inode = m->idiag_inode;
	s->uid = m->idiag_uid;
	s->state = m->idiag_state;
	s->proto = proto;
	s->v6 = m->idiag_family == AF_INET6;
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	memcpy(s->laddr, m->id.idiag_src, s->v6 ? 16 : 4);
	memcpy(s->raddr, m->id.idiag_dst, s->v6 ? 16 : 4);
}

static int read_dgrams(int fd, uint32_t seq, uint8_t proto, struct yw_net_table *t, int *err_no,
                       char *buf);

/* Reads one dump's answer to its end. t NULL: only checks that the kernel answers. Returns 0,
 * or a negative YW_E* with *err_no set from the kernel's NLMSG_ERROR or the failed call. */
static int read_dump(int fd, uint32_t seq, uint8_t proto, struct yw_net_table *t, int *err_no)
{
	/* The kernel sizes dump datagrams by the reader's buffer, up to 32 KiB (~200 sockets).
	 * Heap, not stack: the agent's loop runs on a normal thread stack. */
	char *buf = malloc(YW_NET_DIAG_BUF);
	if (!buf)
		return YW_ENOMEM;
	int rc = read_dgrams(fd, seq, proto, t, err_no, buf);
	free(buf);
	return rc;
}

static int read_dgrams(int fd, uint32_t seq, uint8_t proto, struct yw_net_table *t, int *err_no,
                       char *buf)
{
	int rc = 0;
	/* each datagram holds at least one socket or ends the dump: a dump that does not end
	 * within YW_NET_DIAG_MAX_DGRAMS is given up (the caller reopens the socket) */
	for (size_t dgrams = 0; dgrams < YW_NET_DIAG_MAX_DGRAMS; dgrams++) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n =
		    recvfrom(fd, buf, YW_NET_DIAG_BUF, MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err_no = errno;
			return YW_EIO;
		}
		if (n > YW_NET_DIAG_BUF) {
			*err_no = EMSGSIZE;
			return YW_ELIMIT;
		}
		if (from.nl_pid != 0)
			continue; /* only the kernel answers a sock_diag request */
		size_t len = (size_t)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue; /* left over from an earlier, abandoned dump */
			if (h->nlmsg_type == NLMSG_DONE)
				return rc;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return YW_EPARSE;
				*err_no = -e->error;
				return e->error == -ENOENT || e->error == -EOPNOTSUPP ||
				               e->error == -EPROTONOSUPPORT
				           ? YW_EUNSUP
				           : YW_EIO;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			if (!t || rc)
				continue;
			struct yw_net_sock s;
			to_sock(NLMSG_DATA(h), proto, &s);
			if (s.inode) /* 0: a TIME_WAIT or orphaned socket, owned by no one */
				rc = yw_net_table_add(t, &s);
		}
	}
	*err_no = EMSGSIZE;
	return YW_ELIMIT; /* never ended: the caller reopens the socket */
}

int yw_net_diag_open(int *err_no)
{
	*err_no = 0;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		*err_no = errno;
		return errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT ? YW_EUNSUP : YW_EIO;
	}
	/* the kernel answers at once; the time-out only guards against a kernel that never does */
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int rc = send_dump(fd, AF_INET, IPPROTO_TCP, 1u << YW_NET_LISTEN, 1);
	if (rc) {
		*err_no = errno;
	} else {
		rc = read_dump(fd, 1, YW_NET_TCP, NULL, err_no);
	}
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

struct query {
	uint8_t family, proto, ours;
	uint32_t states;
};

static int dumps(int fd, const struct query *q, size_t nq, struct yw_net_table *t)
{
	for (size_t i = 0; i < nq; i++) {
		uint32_t seq = (uint32_t)i + 2;
		int err_no = 0;
		int rc = send_dump(fd, q[i].family, q[i].proto, q[i].states, seq);
		if (!rc)
			rc = read_dump(fd, seq, q[i].ours, t, &err_no);
		if (rc == YW_EUNSUP)
			continue; /* no IPv6 or no UDP diag in this kernel: nothing to see there */
		if (rc)
			return rc;
	}
	return 0;
}

int yw_net_diag_listeners(int fd, struct yw_net_table *t)
{
	static const struct query q[] = {
	    {AF_INET, IPPROTO_TCP, YW_NET_TCP, 1u << YW_NET_LISTEN},
	    {AF_INET6, IPPROTO_TCP, YW_NET_TCP, 1u << YW_NET_LISTEN},
	};
	return dumps(fd, q, sizeof(q) / sizeof(q[0]), t);
}

int yw_net_diag_scan(int fd, struct yw_net_table *t)
{
	static const struct query q[] = {
	    {AF_INET, IPPROTO_TCP, YW_NET_TCP, 1u << YW_NET_LISTEN | 1u << YW_NET_ESTABLISHED},
	    {AF_INET6, IPPROTO_TCP, YW_NET_TCP, 1u << YW_NET_LISTEN | 1u << YW_NET_ESTABLISHED},
	    {AF_INET, IPPROTO_UDP, YW_NET_UDP, 1u << YW_NET_CLOSE | 1u << YW_NET_ESTABLISHED},
	    {AF_INET6, IPPROTO_UDP, YW_NET_UDP, 1u << YW_NET_CLOSE | 1u << YW_NET_ESTABLISHED},
	};
	return dumps(fd, q, sizeof(q) / sizeof(q[0]), t);
}
