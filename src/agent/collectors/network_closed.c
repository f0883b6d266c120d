/* Socket-destroy notifications: a NETLINK_SOCK_DIAG socket bound to the multicast groups
 * SKNLGRP_INET_TCP_DESTROY and SKNLGRP_INET6_TCP_DESTROY. The kernel sends one inet_diag_msg
 * per TCP socket it frees, so connections that open and close between two scans are still
 * seen. By then the socket is orphaned: the inode is 0 (no owner can be looked up), the state
 * CLOSE; addresses, ports and the uid remain. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "network.h"
#include "yw_limits.h"
#include "yiwang/error.h"

int yw_net_closed_open(int *err_no)
{
	*err_no = 0;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		*err_no = errno;
		return YW_EUNSUP;
	}
	/* slack for bursts between two polls; FORCE (CAP_NET_ADMIN, held now) passes rmem_max */
	int rb = YW_NET_CLOSED_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	/* joining the groups needs CAP_NET_ADMIN; the membership outlives dropping it */
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
	                         .nl_groups = 1u << (SKNLGRP_INET_TCP_DESTROY - 1) |
	                                      1u << (SKNLGRP_INET6_TCP_DESTROY - 1)};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		*err_no = errno;
		close(fd);
		return YW_EUNSUP; /* EPERM without CAP_NET_ADMIN; EINVAL on kernels before 4.9 */
	}
	return fd;
}

/* A socket that never got an answer (a refused or timed-out connect) has no RTT sample: the
 * scan would never have seen it established. Without tcp_info in the message, assume it was. */
static bool was_established(const struct nlmsghdr *h, const struct inet_diag_msg *m)
{
	size_t off = NLMSG_LENGTH(sizeof(*m));
	int len = (int)(h->nlmsg_len - off);
	for (const struct rtattr *a = (const struct rtattr *)((const char *)h + off);
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != INET_DIAG_INFO)
			continue;
		/* tcpi_rtt sits well inside the oldest tcp_info the kernel sends */
		size_t need = offsetof(struct tcp_info, tcpi_rtt) + sizeof(uint32_t);
		if (RTA_PAYLOAD(a) < need)
			return true;
		uint32_t rtt;
		memcpy(&rtt, (const char *)RTA_DATA(a) + offsetof(struct tcp_info, tcpi_rtt),
		       sizeof(rtt));
		return rtt != 0;
	}
	return true;
}

static bool zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

int yw_net_closed_read(int fd, struct yw_net_sock *out, size_t max, size_t *n, uint64_t *overruns)
{
	*n = 0;
	/* one message per datagram (~400 bytes); room for a larger tcp_info in newer kernels */
	char buf[2048] __attribute__((aligned(NLMSG_ALIGNTO)));
	for (size_t reads = 0; reads < max; reads++) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) { /* the kernel dropped notifications */
				(*overruns)++;
				continue;
			}
			return YW_EIO;
		}
		if (fl != sizeof(from) || from.nl_pid != 0)
			continue; /* only the kernel sends these */
		size_t len = (size_t)r;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				continue;
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
				continue;
			struct yw_net_sock s = {0};
			s.inode = m->idiag_inode;
			s.uid = m->idiag_uid;
			s.state = m->idiag_state;
			s.proto = YW_NET_TCP;
			s.v6 = m->idiag_family == AF_INET6;
			s.lport = ntohs(m->id.idiag_sport);
			s.rport = ntohs(m->id.idiag_dport);
			memcpy(s.laddr, m->id.idiag_src, s.v6 ? 16 : 4);
			memcpy(s.raddr, m->id.idiag_dst, s.v6 ? 16 : 4);
			s.closed = true;
			/* a listener or a never-connected socket has no peer */
			if (!s.rport || zero(s.raddr, 16) || !was_established(h, m))
				continue;
			if (*n < max)
				out[(*n)++] = s;
		}
	}
	return 1;
}
