/* Network collector internals (src/agent/collectors/network*.c): the socket table both
 * enumeration back ends fill, and the owner lookup. */
#ifndef YIWANG_COLLECTORS_NETWORK_H
#define YIWANG_COLLECTORS_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { YW_NET_TCP, YW_NET_UDP };

/* TCP states as the kernel numbers them (also UDP: 07 bound without a peer, 01 connected). */
enum { YW_NET_ESTABLISHED = 0x01, YW_NET_CLOSE = 0x07, YW_NET_LISTEN = 0x0A };

struct yw_net_sock {
	uint64_t inode;
	uint32_t uid;
	pid_t pid; /* owner; 0 = not found */
	uint16_t lport, rport;
	uint8_t proto, kind, state;
	bool v6;
	bool closed; /* from a socket-destroy notification: already gone when reported */
	uint8_t laddr[16], raddr[16]; /* network byte order; IPv4 in the first 4 */
};

/* A growing table of the sockets of one scan, at most YW_NET_MAX_SOCKETS. */
struct yw_net_table {
	struct yw_net_sock *v;
	size_t n, cap;
	bool truncated; /* YW_NET_MAX_SOCKETS reached: the rest were not kept */
};

/* Appends s (copied). 0, or YW_ENOMEM (the scan is partial; the rest are seen next time). */
int yw_net_table_add(struct yw_net_table *t, const struct yw_net_sock *s);

/* Opens a NETLINK_SOCK_DIAG socket and checks with one dump that the kernel answers it.
 * Returns the descriptor, or a negative YW_E* (YW_EIO, YW_EUNSUP when the kernel has no
 * sock_diag for inet sockets); *err_no is the errno seen. */
int yw_net_diag_open(int *err_no);

/* Adds the listening / bound-without-peer and established TCP and UDP sockets, IPv4 and IPv6,
 * to t. The kernel filters by state. 0 or a negative YW_E* (the socket should then be
 * reopened: a dump may have been left half read). */
int yw_net_diag_scan(int fd, struct yw_net_table *t);

/* Lists the TCP listeners (IPv4 and IPv6) into t: the listening ports that tell an accepted
 * connection from an initiated one. 0 or a negative YW_E* (reopen the socket, as for a scan). */
int yw_net_diag_listeners(int fd, struct yw_net_table *t);

/* Opens a non-blocking NETLINK_SOCK_DIAG socket subscribed to the kernel's TCP socket-destroy
 * notifications (IPv4 and IPv6). Joining needs CAP_NET_ADMIN at this call only. Returns the
 * descriptor (caller closes), or YW_EUNSUP with *err_no set (no permission, kernel < 4.9). */
int yw_net_closed_open(int *err_no);

/* Reads at most max notifications from fd and stores in out[0..*n) the TCP connections among
 * them (a peer address and port, and an RTT sample when the kernel sends tcp_info: connects
 * that were never answered are left out), with closed set and usually inode 0 (orphaned).
 * Returns 0 when fd is drained, 1 when max reads were done (more may wait), YW_EIO on a
 * socket error; *overruns counts kernel receive-buffer overflows (notifications lost). */
int yw_net_closed_read(int fd, struct yw_net_sock *out, size_t max, size_t *n, uint64_t *overruns);

/* Bounded inode -> (pid, fd) memory of socket descriptors seen in earlier owner walks, and
 * the pids that most recently owned new sockets (looked at first). */
struct yw_net_owners;
struct yw_net_owners *yw_net_owners_new(void);
void yw_net_owners_free(struct yw_net_owners *o);

/* Sets pid of each of socks[0..n) whose pid is 0, when its owner can be found: first the
 * remembered descriptors (checked with one readlink each), then the recent owners' fd
 * directories, then one walk over /proc/<pid>/fd bounded by YW_NET_MAX_FD_SCAN descriptors.
 * Returns the number of descriptors examined by readlink (for tests and measurements). */
size_t yw_net_owners_find(struct yw_net_owners *o, struct yw_net_sock *socks, size_t n);

#endif
