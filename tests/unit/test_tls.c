/* Real TLS 1.3 handshakes between a server and an agent in one process over socketpair(). */
#include <limits.h>
#include "yw_limits.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "yiwang/error.h"
#include "yiwang/pki.h"
#include "yiwang/tls.h"

#define PUMP_MAX 2000

struct agent_files {
	char dir[PATH_MAX];
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	struct yw_pki_cert_info info;
};

struct fx {
	char root[64];
	char srv[PATH_MAX];
	char srv_cert[PATH_MAX], srv_key[PATH_MAX], srv_ca[PATH_MAX];
	struct yw_pki_ca *ca;
	struct yw_pki_ca *ca2; /* a stranger's CA */
	struct agent_files good, foreign;
	/* revocation callback state */
	char revoked_serial[YW_SERIAL_SIZE];
	char seen_id[YW_AGENT_ID_SIZE], seen_serial[YW_SERIAL_SIZE];
	int calls;
};

static void join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	assert_true(n > 0 && n < PATH_MAX);
}

/* Enrols an agent with ca the way the agent and server programs will, into dir. */
static void enrol(struct yw_pki_ca *ca, const char *dir, const char *id, struct agent_files *a)
{
	struct yw_pki_key *key = NULL;
	char *csr = NULL, *cert = NULL;
	size_t csr_len = 0;
	char err[512] = "";
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	assert_int_equal(yw_pki_agent_keygen(&key, &csr, &csr_len), 0);
	assert_int_equal(yw_pki_sign_csr(ca, csr, csr_len, id, 0, &cert, NULL, err, sizeof(err)),
	                 0);
	const char *ca_pem = yw_pki_ca_pem(ca);
	assert_int_equal(yw_pki_agent_store(dir, key, cert, strlen(cert), ca_pem, strlen(ca_pem),
	                                    yw_pki_ca_fingerprint(ca), &a->info, err, sizeof(err)),
	                 0);
	join(a->cert, dir, YW_PKI_AGENT_CERT);
	join(a->key, dir, YW_PKI_AGENT_KEY);
	join(a->ca, dir, YW_PKI_CA_CERT);
	free(csr);
	free(cert);
	yw_pki_key_free(key);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512] = "", d[PATH_MAX];
	snprintf(f->root, sizeof(f->root), "/tmp/yw-tls-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	join(f->srv, f->root, "srv");
	if (yw_pki_ca_load_or_create(f->srv, 0, &f->ca, err, sizeof(err)) ||
	    yw_pki_server_cert_ensure(f->ca, f->srv, NULL, 0, 0, NULL, err, sizeof(err)))
		return -1;
	join(f->srv_cert, f->srv, YW_PKI_SERVER_CERT);
	join(f->srv_key, f->srv, YW_PKI_SERVER_KEY);
	join(f->srv_ca, f->srv, YW_PKI_CA_CERT);
	join(d, f->root, "other-ca");
	if (yw_pki_ca_load_or_create(d, 0, &f->ca2, err, sizeof(err)))
		return -1;
	join(d, f->root, "agent");
	enrol(f->ca, d, "agent-000001", &f->good);
	join(d, f->root, "foreign");
	enrol(f->ca2, d, "agent-000001", &f->foreign);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	yw_pki_ca_free(f->ca);
	yw_pki_ca_free(f->ca2);
	free(f);
	return 0;
}

static bool is_revoked(void *ud, const char *agent_id, const char *serial)
{
	struct fx *f = ud;
	f->calls++;
	snprintf(f->seen_id, sizeof(f->seen_id), "%s", agent_id);
	snprintf(f->seen_serial, sizeof(f->seen_serial), "%s", serial);
	return strcmp(serial, f->revoked_serial) == 0;
}

static struct yw_tls_ctx *server_ctx(struct fx *f)
{
	struct yw_tls_server_opts o = {
	    .cert_file = f->srv_cert,
	    .key_file = f->srv_key,
	    .ca_file = f->srv_ca,
	    .request_client_cert = true,
	    .is_revoked = is_revoked,
	    .revoked_ud = f,
	};
	struct yw_tls_ctx *t = NULL;
	char err[512] = "";
	int rc = yw_tls_server_ctx_new(&o, &t, err, sizeof(err));
	if (rc)
		fprintf(stderr, "server ctx: %s\n", err);
	assert_int_equal(rc, 0);
	return t;
}

static struct yw_tls_ctx *client_ctx(const struct agent_files *a)
{
	struct yw_tls_ctx *t = NULL;
	char err[512] = "";
	int rc = yw_tls_client_ctx_new(a->cert, a->key, a->ca, &t, err, sizeof(err));
	if (rc)
		fprintf(stderr, "client ctx: %s\n", err);
	assert_int_equal(rc, 0);
	return t;
}

static bool retry(int rc)
{
	return rc == YW_EAGAIN || rc == YW_EWANTWRITE;
}

/* Runs both handshakes until each has finished or failed, within a bounded number of steps. */
static void pump(struct yw_tls_conn *s, struct yw_tls_conn *c, int *src, int *crc)
{
	*src = *crc = YW_EAGAIN;
	for (int i = 0; i < PUMP_MAX && (retry(*src) || retry(*crc)); i++) {
		if (retry(*src))
			*src = yw_tls_handshake(s);
		if (retry(*crc))
			*crc = yw_tls_handshake(c);
		/* A failed side has sent its alert; the other learns of it on its next step. */
		if ((*src < 0 && !retry(*src)) || (*crc < 0 && !retry(*crc))) {
			if (retry(*src))
				*src = yw_tls_handshake(s);
			if (retry(*crc))
				*crc = yw_tls_handshake(c);
			break;
		}
	}
}

struct pair {
	int sv[2];
	struct yw_tls_conn *s, *c;
};

static void pair_open(struct pair *p, struct yw_tls_ctx *sctx, struct yw_tls_ctx *cctx)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->sv),
	                 0);
	assert_int_equal(yw_tls_conn_new(sctx, p->sv[0], true, "test-agent", &p->s), 0);
	assert_int_equal(yw_tls_conn_new(cctx, p->sv[1], false, "test-server", &p->c), 0);
}

static void pair_close(struct pair *p)
{
	yw_tls_conn_free(p->s);
	yw_tls_conn_free(p->c);
	close(p->sv[0]);
	close(p->sv[1]);
}

/* Reads until n bytes arrived or a non-retry result. */
static ssize_t read_all(struct yw_tls_conn *c, char *buf, size_t n)
{
	size_t got = 0;
	for (int i = 0; i < PUMP_MAX && got < n; i++) {
		ssize_t r = yw_tls_read(c, buf + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else if (!retry((int)r))
			return r;
	}
	return (ssize_t)got;
}

static void test_mutual_ok(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&f->good);
	struct pair p;
	int src, crc;
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, 0);
	assert_int_equal(crc, 0);

	struct yw_tls_identity id;
	assert_int_equal(yw_tls_peer_identity(p.s, &id), 0);
	assert_true(id.has_cert);
	assert_string_equal(id.agent_id, "agent-000001");
	assert_string_equal(id.serial, f->good.info.serial);
	assert_string_equal(id.fingerprint, f->good.info.fingerprint);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->seen_id, "agent-000001");
	assert_string_equal(f->seen_serial, f->good.info.serial);
	/* The agent sees the server certificate. */
	assert_int_equal(yw_tls_peer_identity(p.c, &id), 0);
	assert_true(id.has_cert);
	assert_string_equal(id.agent_id, "yiwang-server");

	/* Data both ways, then a clean close. */
	char buf[16] = "";
	assert_int_equal(yw_tls_write(p.c, "ping", 4), 4);
	assert_int_equal(read_all(p.s, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(yw_tls_write(p.s, "pong!", 5), 5);
	assert_int_equal(read_all(p.c, buf, 5), 5);
	assert_memory_equal(buf, "pong!", 5);
	assert_int_equal(yw_tls_read(p.s, buf, sizeof(buf)), YW_EAGAIN);
	assert_int_equal(yw_tls_pending(p.s), 0);
	assert_int_equal(yw_tls_shutdown(p.c), 0);
	assert_int_equal(read_all(p.s, buf, sizeof(buf)), 0);
	pair_close(&p);

	/* The connection stays open to a close without close_notify: reported, not hidden. */
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, 0);
	close(p.sv[1]);
	p.sv[1] = -1;
	assert_int_equal(read_all(p.s, buf, sizeof(buf)), YW_EIO);
	assert_non_null(strstr(yw_tls_error(p.s), "test-agent"));
	pair_close(&p);

	yw_tls_ctx_free(sctx);
	yw_tls_ctx_free(cctx);
}

static void test_large_transfer(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&f->good);
	struct pair p;
	int src, crc;
	size_t n = 1 << 20, sent = 0, got = 0;
	char *out = malloc(n), *in = malloc(n);
	for (size_t i = 0; i < n; i++)
		out[i] = (char)(i * 31 + 7);
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, 0);
	/* Nobody reads: the socket buffer fills and the write must report YW_EWANTWRITE. */
	bool blocked = false;
	for (int i = 0; i < 100000 && !blocked && sent < n; i++) {
		ssize_t w = yw_tls_write(p.c, out + sent, n - sent);
		if (w > 0)
			sent += (size_t)w;
		else
			blocked = w == YW_EWANTWRITE;
	}
	assert_true(blocked);
	assert_true(sent < n);
	/* Then it resumes as the reader drains. */
	for (int i = 0; i < 100000 && got < n; i++) {
		if (sent < n) {
			ssize_t w = yw_tls_write(p.c, out + sent, n - sent);
			if (w > 0)
				sent += (size_t)w;
			else
				assert_int_equal(w, YW_EWANTWRITE);
		}
		ssize_t r = yw_tls_read(p.s, in + got, n - got);
		if (r > 0)
			got += (size_t)r;
		else
			assert_int_equal(r, YW_EAGAIN);
	}
	assert_int_equal(got, n);
	assert_memory_equal(in, out, n);
	pair_close(&p);
	free(in);
	free(out);
	yw_tls_ctx_free(sctx);
	yw_tls_ctx_free(cctx);
}

/* The whole enrolment: no certificate, CA pinned by fingerprint, then a mutual connection
 * with the stored identity. */
static void test_enrol_without_cert(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *sctx = server_ctx(f), *ectx = NULL;
	char err[512] = "";
	struct pair p;
	int src, crc;
	assert_int_equal(
	    yw_tls_enroll_ctx_new(yw_pki_ca_fingerprint(f->ca), &ectx, err, sizeof(err)), 0);
	pair_open(&p, sctx, ectx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, 0);
	assert_int_equal(crc, 0);
	struct yw_tls_identity id;
	assert_int_equal(yw_tls_peer_identity(p.s, &id), 0);
	assert_false(id.has_cert);
	assert_string_equal(id.agent_id, "");
	assert_int_equal(f->calls, 0);

	char *ca_pem = NULL;
	size_t ca_len = 0;
	assert_int_equal(yw_tls_peer_ca_pem(p.c, &ca_pem, &ca_len), 0);
	assert_int_equal(ca_len, strlen(yw_pki_ca_pem(f->ca)));
	assert_string_equal(ca_pem, yw_pki_ca_pem(f->ca));
	/* Not available on a normal connection. */
	assert_int_equal(yw_tls_peer_ca_pem(p.s, &ca_pem, &ca_len), YW_EINVAL);

	/* Server side of ENROLL: sign the agent's CSR; agent stores what it got. */
	struct yw_pki_key *key = NULL;
	char *csr = NULL, *cert = NULL, dir[PATH_MAX];
	size_t csr_len = 0;
	struct yw_pki_cert_info info;
	assert_int_equal(yw_pki_agent_keygen(&key, &csr, &csr_len), 0);
	assert_int_equal(
	    yw_pki_sign_csr(f->ca, csr, csr_len, "agent-000042", 0, &cert, &info, NULL, 0), 0);
	join(dir, f->root, "enrolled");
	assert_int_equal(yw_pki_agent_store(dir, key, cert, strlen(cert), ca_pem, ca_len,
	                                    yw_pki_ca_fingerprint(f->ca), NULL, err, sizeof(err)),
	                 0);
	pair_close(&p);

	struct agent_files a;
	join(a.cert, dir, YW_PKI_AGENT_CERT);
	join(a.key, dir, YW_PKI_AGENT_KEY);
	join(a.ca, dir, YW_PKI_CA_CERT);
	struct yw_tls_ctx *cctx = client_ctx(&a);
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, 0);
	assert_int_equal(crc, 0);
	assert_int_equal(yw_tls_peer_identity(p.s, &id), 0);
	assert_string_equal(id.agent_id, "agent-000042");
	assert_string_equal(id.serial, info.serial);
	pair_close(&p);

	free(ca_pem);
	free(csr);
	free(cert);
	yw_pki_key_free(key);
	yw_tls_ctx_free(cctx);
	yw_tls_ctx_free(ectx);
	yw_tls_ctx_free(sctx);
}

static void test_enrol_wrong_pin(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *sctx = server_ctx(f), *ectx = NULL;
	struct pair p;
	int src, crc;
	/* The fingerprint of another CA: a man in the middle, or a typo. */
	assert_int_equal(yw_tls_enroll_ctx_new(yw_pki_ca_fingerprint(f->ca2), &ectx, NULL, 0), 0);
	pair_open(&p, sctx, ectx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(crc, YW_EAUTH);
	assert_non_null(strstr(yw_tls_error(p.c), "pinned"));
	assert_int_not_equal(src, 0);
	pair_close(&p);
	assert_int_equal(yw_tls_enroll_ctx_new("sha256:abc", &ectx, NULL, 0), YW_EINVAL);
	yw_tls_ctx_free(ectx);
	yw_tls_ctx_free(sctx);
}

/* A server that shows the pinned CA in its chain but whose certificate that CA did not sign:
 * copying the public CA certificate is not enough to pass the pin. */
static void test_enrol_pinned_ca_without_its_signature(void **state)
{
	struct fx *f = *state;
	char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	join(dir, f->root, "other-ca");
	assert_int_equal(yw_pki_server_cert_ensure(f->ca2, dir, NULL, 0, 0, NULL, NULL, 0), 0);
	join(cert, dir, YW_PKI_SERVER_CERT);
	join(key, dir, YW_PKI_SERVER_KEY);
	struct yw_tls_server_opts o = {
	    .cert_file = cert,
	    .key_file = key,
	    .ca_file = f->srv_ca, /* the genuine CA certificate, sent in the chain */
	    .request_client_cert = true,
	};
	struct yw_tls_ctx *sctx = NULL, *ectx = NULL;
	assert_int_equal(yw_tls_server_ctx_new(&o, &sctx, NULL, 0), 0);
	assert_int_equal(yw_tls_enroll_ctx_new(yw_pki_ca_fingerprint(f->ca), &ectx, NULL, 0), 0);
	struct pair p;
	int src, crc;
	pair_open(&p, sctx, ectx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(crc, YW_EAUTH);
	assert_int_not_equal(src, 0);
	char *pem = NULL;
	size_t len = 0;
	assert_int_equal(yw_tls_peer_ca_pem(p.c, &pem, &len), YW_EINVAL);
	pair_close(&p);
	yw_tls_ctx_free(ectx);
	yw_tls_ctx_free(sctx);
}

static void test_foreign_ca_rejected(void **state)
{
	struct fx *f = *state;
	/* A certificate from another CA, trusting our CA so that only the server can object. */
	struct agent_files a = f->foreign;
	snprintf(a.ca, sizeof(a.ca), "%s", f->good.ca);
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&a);
	struct pair p;
	int src, crc;
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, YW_EAUTH);
	const char *e = yw_tls_error(p.s);
	assert_non_null(strstr(e, "test-agent"));
	assert_non_null(strstr(e, "CN=\"agent-000001\""));
	assert_non_null(strstr(e, f->foreign.info.serial));
	assert_int_equal(f->calls, 0);
	/* TLS 1.3: the client finished first and learns of the refusal when it reads. */
	char buf[8];
	if (crc == 0)
		crc = (int)read_all(p.c, buf, sizeof(buf));
	assert_true(crc < 0 && !retry(crc));
	pair_close(&p);
	yw_tls_ctx_free(cctx);
	yw_tls_ctx_free(sctx);
}

static void test_server_from_foreign_ca_rejected(void **state)
{
	struct fx *f = *state;
	/* The agent pins CA2; the server presents a certificate from CA1. */
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&f->foreign);
	struct pair p;
	int src, crc;
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(crc, YW_EAUTH);
	assert_non_null(strstr(yw_tls_error(p.c), "test-server"));
	assert_int_not_equal(src, 0);
	pair_close(&p);
	yw_tls_ctx_free(cctx);
	yw_tls_ctx_free(sctx);
}

static void test_server_cert_as_client_rejected(void **state)
{
	struct fx *f = *state;
	/* The server's own certificate is signed by the right CA but only for serverAuth. */
	struct agent_files a;
	snprintf(a.cert, sizeof(a.cert), "%s", f->srv_cert);
	snprintf(a.key, sizeof(a.key), "%s", f->srv_key);
	snprintf(a.ca, sizeof(a.ca), "%s", f->srv_ca);
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&a);
	struct pair p;
	int src, crc;
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, YW_EAUTH);
	assert_non_null(strstr(yw_tls_error(p.s), "purpose"));
	pair_close(&p);
	yw_tls_ctx_free(cctx);
	yw_tls_ctx_free(sctx);
}

static void test_revoked_rejected(void **state)
{
	struct fx *f = *state;
	snprintf(f->revoked_serial, sizeof(f->revoked_serial), "%s", f->good.info.serial);
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&f->good);
	struct pair p;
	int src, crc;
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, YW_EAUTH);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->seen_id, "agent-000001");
	assert_non_null(strstr(yw_tls_error(p.s), "revoked"));
	assert_non_null(strstr(yw_tls_error(p.s), "agent-000001"));
	char buf[8];
	if (crc == 0)
		crc = (int)read_all(p.c, buf, sizeof(buf));
	assert_int_equal(crc, YW_EAUTH); /* the "certificate revoked" alert */
	pair_close(&p);

	/* Another serial is still fine. */
	snprintf(f->revoked_serial, sizeof(f->revoked_serial), "1234");
	pair_open(&p, sctx, cctx);
	pump(p.s, p.c, &src, &crc);
	assert_int_equal(src, 0);
	assert_int_equal(crc, 0);
	pair_close(&p);
	yw_tls_ctx_free(cctx);
	yw_tls_ctx_free(sctx);
}

static void test_tls12_client_rejected(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *sctx = server_ctx(f);
	SSL_CTX *old = SSL_CTX_new(TLS_client_method());
	assert_non_null(old);
	assert_int_equal(SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION), 1);
	SSL_CTX_set_verify(old, SSL_VERIFY_NONE, NULL);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct yw_tls_conn *s = NULL;
	assert_int_equal(yw_tls_conn_new(sctx, sv[0], true, "old-client", &s), 0);
	SSL *c = SSL_new(old);
	SSL_set_fd(c, sv[1]);
	SSL_set_connect_state(c);
	int src = YW_EAGAIN, cr = -1;
	for (int i = 0; i < PUMP_MAX && retry(src); i++) {
		cr = SSL_do_handshake(c);
		src = yw_tls_handshake(s);
	}
	assert_int_equal(src, YW_ETLS);
	assert_non_null(strstr(yw_tls_error(s), "protocol"));
	cr = SSL_do_handshake(c);
	assert_int_not_equal(cr, 1);
	SSL_free(c);
	SSL_CTX_free(old);
	yw_tls_conn_free(s);
	close(sv[0]);
	close(sv[1]);
	yw_tls_ctx_free(sctx);
}

static void test_ctx_errors(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *t = NULL;
	char err[512] = "";
	assert_int_equal(chmod(f->good.key, 0640), 0);
	assert_int_equal(
	    yw_tls_client_ctx_new(f->good.cert, f->good.key, f->good.ca, &t, err, sizeof(err)),
	    YW_EINVAL);
	assert_non_null(strstr(err, "0640"));
	assert_int_equal(chmod(f->good.key, 0600), 0);
	/* A key that does not belong to the certificate. */
	assert_int_not_equal(
	    yw_tls_client_ctx_new(f->good.cert, f->foreign.key, f->good.ca, &t, err, sizeof(err)),
	    0);
	assert_null(t);
	assert_int_equal(yw_tls_client_ctx_new(f->good.cert, "/nonexistent/key", f->good.ca, &t,
	                                       err, sizeof(err)),
	                 YW_ENOENT);
	/* A server context cannot make client connections and vice versa. */
	struct yw_tls_ctx *s = server_ctx(f);
	struct yw_tls_conn *c = NULL;
	assert_int_equal(yw_tls_conn_new(s, 0, false, NULL, &c), YW_EINVAL);
	yw_tls_ctx_free(s);
	yw_tls_ctx_free(NULL);
	yw_tls_conn_free(NULL);
}

/* Not a pass/fail criterion: prints how many mutual handshakes per second one core does. */
static void test_handshake_rate(void **state)
{
	struct fx *f = *state;
	struct yw_tls_ctx *sctx = server_ctx(f), *cctx = client_ctx(&f->good);
	const int n = 200;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		struct pair p;
		int src, crc;
		pair_open(&p, sctx, cctx);
		pump(p.s, p.c, &src, &crc);
		assert_int_equal(src, 0);
		assert_int_equal(crc, 0);
		pair_close(&p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("mutual TLS 1.3 handshakes (both sides, one thread): %.0f/s\n", n / s);
	yw_tls_ctx_free(cctx);
	yw_tls_ctx_free(sctx);
}

int main(void)
{
	/* A peer that hangs up must give an error, not a SIGPIPE that kills the process, even
	 * in a program that did not ignore the signal. */
	signal(SIGPIPE, SIG_DFL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mutual_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_transfer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enrol_without_cert, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enrol_wrong_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enrol_pinned_ca_without_its_signature, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_ca_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_from_foreign_ca_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_cert_as_client_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls12_client_rejected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctx_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_rate, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
