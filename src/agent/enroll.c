/* Enrolment: a fresh key and CSR on the terminal, a TLS connection that trusts the server only
 * if it shows the CA pinned in the enrolment string, ENROLL with the token, and the identity
 * (key, certificate, pinned CA, server address) stored 0600 in the state directory. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "yiwang/error.h"
#include "yiwang/loop.h"
#include "yiwang/pki.h"
#include "yiwang/proto.h"
#include "yiwang/tls.h"

void yw_agent_hostinfo(char *host, size_t hs, char *os, size_t os_size)
{
	if (gethostname(host, hs) != 0)
		snprintf(host, hs, "unknown");
	host[hs - 1] = '\0';
	struct utsname u;
	char pretty[600] = "";
	FILE *f = fopen("/etc/os-release", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "PRETTY_NAME=", 12)) {
				char *v = line + 12;
				v[strcspn(v, "\n")] = '\0';
				if (*v == '"') {
					v++;
					v[strcspn(v, "\"")] = '\0';
				}
				snprintf(pretty, sizeof(pretty), "%s", v);
			}
		}
		fclose(f);
	}
	if (uname(&u) == 0)
		snprintf(os, os_size, "%.200s%s%s %s %s", pretty, *pretty ? "; " : "", u.sysname,
			 u.release, u.machine);
	else
		snprintf(os, os_size, "%s", *pretty ? pretty : "Linux");
}

static int wait_fd(int fd, int rc, int64_t deadline)
{
	struct pollfd p = {fd, rc == YW_EWANTWRITE ? POLLOUT : POLLIN, 0};
	int64_t left = deadline - yw_mono_ms();
	if (left <= 0)
		return YW_EIO;
	return poll(&p, 1, (int)left) > 0 ? 0 : YW_EIO;
}

int yw_agent_dial(const char *addr, struct yw_tls_ctx *ctx, int64_t timeout_ms,
		  struct yw_tls_conn **tls, char *err, size_t errsz)
{
	char host[256], port[8];
	uint16_t p16;
	if (yw_enroll_addr_split(addr, host, sizeof(host), &p16) != 0) {
		snprintf(err, errsz, "'%s' is not host:port", addr);
		return YW_EINVAL;
	}
	snprintf(port, sizeof(port), "%u", p16);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		snprintf(err, errsz, "%s: %s", host, gai_strerror(g));
		return YW_EIO;
	}
	int64_t deadline = yw_mono_ms() + timeout_ms;
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
			close(fd);
			fd = -1;
			continue;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (wait_fd(fd, YW_EWANTWRITE, deadline) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
			snprintf(err, errsz, "connect to %s: %s", addr,
				 soerr ? strerror(soerr) : "timed out");
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		if (!*err)
			snprintf(err, errsz, "cannot connect to %s", addr);
		return YW_EIO;
	}
	int rc = yw_tls_conn_new(ctx, fd, false, addr, tls);
	while (rc == 0) {
		rc = yw_tls_handshake(*tls);
		if (rc == 0)
			return fd;
		if (rc != YW_EAGAIN && rc != YW_EWANTWRITE)
			break;
		rc = wait_fd(fd, rc, deadline);
		if (rc) {
			snprintf(err, errsz, "TLS handshake with %s timed out", addr);
			break;
		}
	}
	if (*tls && !*err)
		snprintf(err, errsz, "TLS with %s: %s", addr, yw_tls_error(*tls));
	yw_tls_conn_free(*tls);
	*tls = NULL;
	close(fd);
	return rc ? rc : YW_EIO;
}

/* Sends out[] fully and reads one frame's message into *m (borrowing from dec/p). */
static int exchange(int fd, struct yw_tls_conn *tls, struct yw_strbuf *out,
		    struct yw_frame_decoder *dec, struct yw_proto *p, struct yw_msg *m,
		    int64_t deadline)
{
	size_t off = 0;
	while (off < out->len) {
		ssize_t n = yw_tls_write(tls, out->data + off, out->len - off);
		if (n == YW_EAGAIN || n == YW_EWANTWRITE) {
			if (wait_fd(fd, (int)n, deadline))
				return YW_EIO;
			continue;
		}
		if (n < 0)
			return (int)n;
		off += (size_t)n;
	}
	for (;;) {
		struct yw_frame f;
		int rc = yw_frame_next(dec, &f);
		if (rc == 1)
			return yw_proto_decode(p, &f, m);
		if (rc < 0)
			return rc;
		uint8_t *buf;
		if ((rc = yw_frame_space(dec, 65536, &buf)) != 0)
			return rc;
		ssize_t n = yw_tls_read(tls, buf, 65536);
		if (n == YW_EAGAIN || n == YW_EWANTWRITE) {
			if (wait_fd(fd, (int)n, deadline))
				return YW_EIO;
			continue;
		}
		if (n <= 0)
			return n == 0 ? YW_EIO : (int)n;
		yw_frame_commit(dec, (size_t)n);
	}
}

int yw_agent_enroll(const char *state_dir, const char *enroll_string)
{
	struct yw_enroll_info info;
	struct yw_tls_ctx *ctx = NULL;
	struct yw_tls_conn *tls = NULL;
	struct yw_pki_key *key = NULL;
	struct yw_frame_decoder *dec = NULL;
	struct yw_proto *p = NULL;
	struct yw_strbuf out = YW_STRBUF_INIT;
	char *csr = NULL, *ca_pem = NULL, *cert = NULL;
	size_t csr_len = 0, ca_len = 0;
	char err[512] = "";
	int fd = -1;
	int rc = yw_enroll_string_decode(enroll_string, strlen(enroll_string), &info);
	if (rc) {
		fprintf(stderr, "yiwang-agent: not a valid enrolment string (%s)\n", yw_strerror(rc));
		return rc;
	}
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "yiwang-agent: %s: %s\n", state_dir, strerror(errno));
		rc = YW_EIO;
		goto out;
	}
	if ((rc = yw_pki_agent_keygen(&key, &csr, &csr_len)) != 0 ||
	    (rc = yw_tls_enroll_ctx_new(info.ca_fingerprint, &ctx, err, sizeof(err))) != 0)
		goto fail;
	fd = yw_agent_dial(info.addr, ctx, 15000, &tls, err, sizeof(err));
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	char host[256], os[512];
	yw_agent_hostinfo(host, sizeof(host), os, sizeof(os));
	struct yw_msg m = {.type = YW_MSG_ENROLL};
	m.enroll.token = info.token;
	m.enroll.token_len = (uint16_t)strlen(info.token);
	m.enroll.csr_pem = csr;
	m.enroll.csr_pem_len = (uint32_t)csr_len;
	m.enroll.hostname = host;
	m.enroll.hostname_len = (uint16_t)strlen(host);
	m.enroll.os = os;
	m.enroll.os_len = (uint16_t)strlen(os);
	m.enroll.agent_version = YW_AGENT_VERSION;
	m.enroll.agent_version_len = (uint16_t)strlen(YW_AGENT_VERSION);
	if (!(p = yw_proto_new()) || !(dec = yw_frame_decoder_new())) {
		rc = YW_ENOMEM;
		goto fail;
	}
	if ((rc = yw_proto_encode(p, &m, &out)) != 0)
		goto fail;
	struct yw_msg r;
	rc = exchange(fd, tls, &out, dec, p, &r, yw_mono_ms() + 15000);
	if (rc)
		goto fail;
	if (r.type == YW_MSG_ERROR) {
		snprintf(err, sizeof(err), "the server refused: %.*s", (int)r.error.message_len,
			 r.error.message);
		rc = YW_EAUTH;
		goto fail;
	}
	if (r.type != YW_MSG_ENROLLED) {
		snprintf(err, sizeof(err), "unexpected %s from the server",
			 yw_proto_type_name(r.type));
		rc = YW_EPARSE;
		goto fail;
	}
	/* The CA is the one the handshake verified against the pin; ENROLLED's copy must agree
	 * (yw_pki_agent_store checks it against the fingerprint again). */
	if ((rc = yw_tls_peer_ca_pem(tls, &ca_pem, &ca_len)) != 0)
		goto fail;
	struct yw_pki_cert_info ci;
	rc = yw_pki_agent_store(state_dir, key, r.enrolled.cert_pem, r.enrolled.cert_pem_len,
				ca_pem, ca_len, info.ca_fingerprint, &ci, err, sizeof(err));
	if (rc)
		goto fail;
	char path[4096];
	snprintf(path, sizeof(path), "%s/server.addr", state_dir);
	if ((rc = yw_pki_write_file(path, info.addr, strlen(info.addr), 0600)) != 0)
		goto fail;
	printf("enrolled as agent %s with %s\n", ci.common_name, info.addr);
	yw_tls_shutdown(tls);
	goto out;
fail:
	fprintf(stderr, "yiwang-agent: enrolment failed: %s\n", *err ? err : yw_strerror(rc));
out:
	OPENSSL_cleanse(&info, sizeof(info));
	if (out.data)
		OPENSSL_cleanse(out.data, out.cap); /* held the token */
	yw_strbuf_free(&out);
	yw_frame_decoder_free(dec);
	yw_proto_free(p);
	yw_tls_conn_free(tls);
	if (fd >= 0)
		close(fd);
	yw_tls_ctx_free(ctx);
	yw_pki_key_free(key);
	free(csr);
	free(ca_pem);
	free(cert);
	return rc;
}
