/* TLS 1.3 contexts and non-blocking connections (see yiwang/tls.h for the trust model). */
#include <limits.h>
#include "yw_limits.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "yiwang/error.h"
#include "yiwang/tls.h"
#include "pki_int.h"

/* X25519 first (fast, constant time), P-256 for peers restricted to NIST curves. */
#define TLS_GROUPS "X25519:P-256"
/* Leaf + our CA: one level of CA is all this PKI ever has; 2 leaves slack for nothing else. */
#define TLS_VERIFY_DEPTH 2

enum ctx_kind { CTX_SERVER, CTX_CLIENT, CTX_ENROLL };

struct yw_tls_ctx {
	SSL_CTX *ssl;
	BIO_METHOD *bio_method; /* our socket BIO, see sock_write */
	enum ctx_kind kind;
	yw_tls_revoked_fn is_revoked;
	void *revoked_ud;
	char pin[YW_FINGERPRINT_SIZE];
};

struct yw_tls_conn {
	SSL *ssl;
	struct yw_tls_ctx *ctx;
	int fd;
	bool eof;
	char peer[64];
	char reject[256]; /* why a verify callback refused the peer's certificate */
	char err[768];
};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	if (!err || errsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static void ossl_reason(char *buf, size_t bufsz)
{
	unsigned long e = ERR_peek_error();
	if (e)
		ERR_error_string_n(e, buf, bufsz);
	else
		snprintf(buf, bufsz, "no detail");
	ERR_clear_error();
}

static int ctx_fail(char *err, size_t errsz, const char *what, const char *file)
{
	char reason[256];
	ossl_reason(reason, sizeof(reason));
	set_err(err, errsz, "%s%s%s: %s", what, file ? " " : "", file ? file : "", reason);
	return YW_ETLS;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int common_setup(SSL_CTX *s, char *err, size_t errsz)
{
	if (!SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) ||
	    !SSL_CTX_set1_groups_list(s, TLS_GROUPS))
		return ctx_fail(err, errsz, "configuring TLS", NULL);
	SSL_CTX_set_options(s, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
	                           SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* No resumption: every connection does a full handshake and so a full revocation
	 * check of the agent's certificate. */
	SSL_CTX_set_num_tickets(s, 0);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	/* Release the 16 KiB read and write buffers of idle connections: a server holds thousands. */
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			       SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_max_cert_list(s, YW_TLS_MAX_CERT_LIST);
	SSL_CTX_set_verify_depth(s, TLS_VERIFY_DEPTH);
	SSL_CTX_set_default_passwd_cb(s, no_passphrase);
	return 0;
}

static int use_cert_key(SSL_CTX *s, const char *cert_file, const char *key_file, char *err,
                        size_t errsz)
{
	struct stat st;
	if (stat(key_file, &st) != 0) {
		set_err(err, errsz, "%s: %s", key_file, strerror(errno));
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	}
	if (st.st_mode & 077) {
		set_err(err, errsz,
		        "%s: mode %04o gives others access to a private key (want 0600)", key_file,
		        (unsigned)(st.st_mode & 07777));
		return YW_EINVAL;
	}
	if (SSL_CTX_use_certificate_file(s, cert_file, SSL_FILETYPE_PEM) != 1)
		return ctx_fail(err, errsz, "loading certificate", cert_file);
	if (SSL_CTX_use_PrivateKey_file(s, key_file, SSL_FILETYPE_PEM) != 1)
		return ctx_fail(err, errsz, "loading private key", key_file);
	if (SSL_CTX_check_private_key(s) != 1)
		return ctx_fail(err, errsz, "certificate and key do not match:", cert_file);
	return 0;
}

static struct yw_tls_conn *conn_of(X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	return ssl ? SSL_get_app_data(ssl) : NULL;
}

/* "CN=... serial=..." of any certificate, made safe for a log line. */
static void describe(X509 *x, char *out, size_t outsz)
{
	char cn[YW_AGENT_ID_SIZE] = "";
	struct yw_pki_cert_info info;
	if (!x) {
		snprintf(out, outsz, "no certificate");
		return;
	}
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	for (char *p = cn; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '"')
			*p = '?';
	}
	if (yw_pki_x509_info(x, &info) != 0)
		snprintf(info.serial, sizeof(info.serial), "?");
	snprintf(out, outsz, "certificate CN=\"%s\" serial=%s", cn, info.serial);
}

static void note_reject(struct yw_tls_conn *c, X509 *x, const char *why)
{
	char who[160];
	describe(x, who, sizeof(who));
	snprintf(c->reject, sizeof(c->reject), "%s rejected: %s", who, why);
}

/* Server side: the chain has been checked against the CA by OpenSSL; we add the agent rules. */
static int server_verify_cb(int ok, X509_STORE_CTX *xs)
{
	struct yw_tls_conn *c = conn_of(xs);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	if (!c)
		return 0;
	if (!ok) {
		note_reject(c, leaf, X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(xs) != 0)
		return 1;
	struct yw_pki_cert_info info;
	if (yw_pki_x509_info(leaf, &info) != 0 || !info.common_name[0]) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		note_reject(c, leaf, "no valid agent id in the subject CN");
		return 0;
	}
	if (c->ctx->is_revoked &&
	    c->ctx->is_revoked(c->ctx->revoked_ud, info.common_name, info.serial)) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REVOKED);
		note_reject(c, leaf, "certificate revoked");
		return 0;
	}
	return 1;
}

/* Agent side: only records why the server was refused. */
static int client_verify_cb(int ok, X509_STORE_CTX *xs)
{
	struct yw_tls_conn *c = conn_of(xs);
	if (!ok && c)
		note_reject(c, X509_STORE_CTX_get_current_cert(xs),
		            X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	return ok;
}

static X509 *find_pinned(STACK_OF(X509) * chain, const char *pin)
{
	char fp[YW_FINGERPRINT_SIZE];
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		if (yw_pki_x509_fingerprint(x, fp) == 0 && strcmp(fp, pin) == 0 &&
		    X509_check_ca(x) >= 1)
			return x;
	}
	return NULL;
}

/* Enrolment: replaces OpenSSL's chain verification. The trust anchor is the CA certificate in
 * the server's own chain whose hash is the pinned one; the leaf must verify against it alone. */
static int enroll_verify(X509_STORE_CTX *xs, void *arg)
{
	struct yw_tls_ctx *t = arg;
	struct yw_tls_conn *c = conn_of(xs);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(xs);
	X509 *ca = find_pinned(chain, t->pin);
	if (!ca) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_UNTRUSTED);
		if (c)
			note_reject(c, leaf, "server's CA does not match the pinned fingerprint");
		return 0;
	}
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *v = X509_STORE_CTX_new();
	int ok = store && v && X509_STORE_add_cert(store, ca) &&
	         X509_STORE_CTX_init(v, store, leaf, chain) &&
	         X509_STORE_CTX_set_purpose(v, X509_PURPOSE_SSL_SERVER) && X509_verify_cert(v) == 1;
	if (!ok) {
		int e = v ? X509_STORE_CTX_get_error(v) : X509_V_ERR_OUT_OF_MEM;
		X509_STORE_CTX_set_error(xs, e != X509_V_OK ? e : X509_V_ERR_UNSPECIFIED);
		if (c)
			note_reject(c, leaf, X509_verify_cert_error_string(e));
	}
	X509_STORE_CTX_free(v);
	X509_STORE_free(store);
	return ok;
}

/* A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own writes with write(2), and the alert
 * it sends when a peer vanishes would raise SIGPIPE and kill a process that does not ignore
 * it. The BIO's data is the connection (fd and EOF state). */
static int sock_write(BIO *b, const char *buf, int len)
{
	struct yw_tls_conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
	struct yw_tls_conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(c->fd, buf, (size_t)len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	else if (n == 0)
		c->eof = true;
	return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct yw_tls_conn *c = BIO_get_data(b);
	(void)num;
	switch (cmd) {
	case BIO_CTRL_EOF:
		return c->eof;
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = c->fd;
		return c->fd;
	default:
		return 0;
	}
}

static int ctx_alloc(enum ctx_kind kind, struct yw_tls_ctx **out, char *err, size_t errsz)
{
	struct yw_tls_ctx *t = calloc(1, sizeof(*t));
	if (!t)
		return YW_ENOMEM;
	t->kind = kind;
	t->ssl = SSL_CTX_new(kind == CTX_SERVER ? TLS_server_method() : TLS_client_method());
	t->bio_method = BIO_meth_new(BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "yiwang socket");
	if (!t->ssl || !t->bio_method || !BIO_meth_set_write(t->bio_method, sock_write) ||
	    !BIO_meth_set_read(t->bio_method, sock_read) ||
	    !BIO_meth_set_ctrl(t->bio_method, sock_ctrl)) {
		yw_tls_ctx_free(t);
		return ctx_fail(err, errsz, "creating TLS context", NULL);
	}
	int rc = common_setup(t->ssl, err, errsz);
	if (rc) {
		yw_tls_ctx_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int yw_tls_server_ctx_new(const struct yw_tls_server_opts *o, struct yw_tls_ctx **out, char *err,
                          size_t errsz)
{
	struct yw_tls_ctx *t = NULL;
	X509 *ca = NULL;
	BIO *bio = NULL;
	int rc;
	if (!o->cert_file || !o->key_file || !o->ca_file)
		return YW_EINVAL;
	if ((rc = ctx_alloc(CTX_SERVER, &t, err, errsz)))
		return rc;
	t->is_revoked = o->is_revoked;
	t->revoked_ud = o->revoked_ud;
	if ((rc = use_cert_key(t->ssl, o->cert_file, o->key_file, err, errsz)))
		goto out;
	/* The CA travels in the chain so that an enrolling agent can match its pin. */
	bio = BIO_new_file(o->ca_file, "r");
	ca = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
	if (!ca || !SSL_CTX_add1_chain_cert(t->ssl, ca)) {
		rc = ctx_fail(err, errsz, "loading CA certificate", o->ca_file);
		goto out;
	}
	if (o->request_client_cert) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
		if (!names || SSL_CTX_load_verify_locations(t->ssl, o->ca_file, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			rc = ctx_fail(err, errsz, "loading CA certificate", o->ca_file);
			goto out;
		}
		SSL_CTX_set_client_CA_list(t->ssl, names);
		SSL_CTX_set_purpose(t->ssl, X509_PURPOSE_SSL_CLIENT);
		/* Without FAIL_IF_NO_PEER_CERT: an enrolling agent has no certificate yet. */
		SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER, server_verify_cb);
	}
	*out = t;
	t = NULL;
out:
	X509_free(ca);
	BIO_free(bio);
	yw_tls_ctx_free(t);
	ERR_clear_error();
	return rc;
}

int yw_tls_client_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                          struct yw_tls_ctx **out, char *err, size_t errsz)
{
	struct yw_tls_ctx *t = NULL;
	int rc;
	if (!cert_file || !key_file || !ca_file)
		return YW_EINVAL;
	if ((rc = ctx_alloc(CTX_CLIENT, &t, err, errsz)))
		return rc;
	if ((rc = use_cert_key(t->ssl, cert_file, key_file, err, errsz)))
		goto out;
	/* Only the pinned CA: never the system trust store. */
	if (SSL_CTX_load_verify_locations(t->ssl, ca_file, NULL) != 1) {
		rc = ctx_fail(err, errsz, "loading CA certificate", ca_file);
		goto out;
	}
	SSL_CTX_set_purpose(t->ssl, X509_PURPOSE_SSL_SERVER);
	SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER, client_verify_cb);
	*out = t;
	t = NULL;
out:
	yw_tls_ctx_free(t);
	ERR_clear_error();
	return rc;
}

int yw_tls_enroll_ctx_new(const char *ca_fingerprint, struct yw_tls_ctx **out, char *err,
                          size_t errsz)
{
	struct yw_tls_ctx *t = NULL;
	int rc;
	size_t n = strlen(ca_fingerprint);
	if (n != YW_FINGERPRINT_SIZE - 1 || strncmp(ca_fingerprint, "sha256:", 7) != 0) {
		set_err(err, errsz, "CA fingerprint must be sha256:<64 hex digits>");
		return YW_EINVAL;
	}
	if ((rc = ctx_alloc(CTX_ENROLL, &t, err, errsz)))
		return rc;
	for (size_t i = 0; i < n; i++) /* compare in the case we print */
		t->pin[i] = (char)(ca_fingerprint[i] >= 'A' && ca_fingerprint[i] <= 'F'
		                       ? ca_fingerprint[i] - 'A' + 'a'
		                       : ca_fingerprint[i]);
	SSL_CTX_set_verify(t->ssl, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(t->ssl, enroll_verify, t);
	*out = t;
	return 0;
}

void yw_tls_ctx_free(struct yw_tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ssl);
	BIO_meth_free(t->bio_method);
	free(t);
}

int yw_tls_conn_new(struct yw_tls_ctx *t, int fd, bool server_side, const char *peer_name,
                    struct yw_tls_conn **out)
{
	if (server_side != (t->kind == CTX_SERVER) || fd < 0)
		return YW_EINVAL;
	struct yw_tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return YW_ENOMEM;
	c->ctx = t;
	snprintf(c->peer, sizeof(c->peer), "%s", peer_name ? peer_name : "peer");
	c->fd = fd;
	c->ssl = SSL_new(t->ssl);
	BIO *bio = BIO_new(t->bio_method);
	if (!c->ssl || !bio) {
		BIO_free(bio);
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return YW_ENOMEM;
	}
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio); /* one reference, owned by the SSL */
	SSL_set_app_data(c->ssl, c);
	if (server_side)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	*out = c;
	return 0;
}

void yw_tls_conn_free(struct yw_tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	free(c);
}

static bool auth_reason(int reason)
{
	switch (reason) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* Maps a failed SSL_* call to our codes and fills c->err for the log line. */
static int io_result(struct yw_tls_conn *c, int r, const char *op)
{
	int e = SSL_get_error(c->ssl, r);
	char reason[256];
	int rc;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return YW_EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		return YW_EWANTWRITE;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(c->err, sizeof(c->err), "%s with %s: peer closed the connection", op,
		         c->peer);
		return 0;
	case SSL_ERROR_SYSCALL:
		snprintf(c->err, sizeof(c->err), "%s with %s: %s", op, c->peer,
		         errno ? strerror(errno) : "connection closed");
		ERR_clear_error();
		return YW_EIO;
	default:
		break;
	}
	unsigned long code = ERR_peek_error();
	ossl_reason(reason, sizeof(reason));
	if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
	    ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		snprintf(c->err, sizeof(c->err), "%s with %s: closed without close_notify", op,
		         c->peer);
		return YW_EIO;
	}
	rc = c->reject[0] || (ERR_GET_LIB(code) == ERR_LIB_SSL && auth_reason(ERR_GET_REASON(code)))
	         ? YW_EAUTH
	         : YW_ETLS;
	snprintf(c->err, sizeof(c->err), "%s with %s: %s%s%s", op, c->peer, reason,
	         c->reject[0] ? ": " : "", c->reject);
	return rc;
}

int yw_tls_handshake(struct yw_tls_conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1)
		return 0;
	r = io_result(c, r, "TLS handshake");
	return r == 0 ? YW_EIO : r;
}

ssize_t yw_tls_read(struct yw_tls_conn *c, void *buf, size_t len)
{
	size_t n = 0;
	if (len == 0)
		return YW_EINVAL;
	ERR_clear_error();
	if (SSL_read_ex(c->ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	return io_result(c, 0, "TLS read");
}

ssize_t yw_tls_write(struct yw_tls_conn *c, const void *buf, size_t len)
{
	size_t n = 0;
	if (len == 0)
		return YW_EINVAL;
	ERR_clear_error();
	if (SSL_write_ex(c->ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	int r = io_result(c, 0, "TLS write");
	return r == 0 ? YW_EIO : r;
}

int yw_tls_shutdown(struct yw_tls_conn *c)
{
	ERR_clear_error();
	int r = SSL_shutdown(c->ssl);
	if (r >= 0)
		return 0;
	r = io_result(c, r, "TLS shutdown");
	return r;
}

size_t yw_tls_pending(const struct yw_tls_conn *c)
{
	int n = SSL_pending(c->ssl);
	return n > 0 ? (size_t)n : 0;
}

const char *yw_tls_error(const struct yw_tls_conn *c)
{
	return c->err;
}

int yw_tls_peer_identity(const struct yw_tls_conn *c, struct yw_tls_identity *id)
{
	struct yw_pki_cert_info info;
	memset(id, 0, sizeof(*id));
	if (!SSL_is_init_finished(c->ssl))
		return YW_EINVAL;
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	if (!x)
		return 0;
	/* The handshake refuses unverified certificates; this keeps it true if that changes. */
	if (SSL_get_verify_result(c->ssl) != X509_V_OK)
		return YW_EAUTH;
	int rc = yw_pki_x509_info(x, &info);
	if (rc)
		return rc;
	if (!info.common_name[0])
		return YW_EAUTH;
	id->has_cert = true;
	memcpy(id->agent_id, info.common_name, sizeof(id->agent_id));
	memcpy(id->serial, info.serial, sizeof(id->serial));
	memcpy(id->fingerprint, info.fingerprint, sizeof(id->fingerprint));
	return 0;
}

int yw_tls_peer_ca_pem(const struct yw_tls_conn *c, char **pem, size_t *len)
{
	if (c->ctx->kind != CTX_ENROLL || !SSL_is_init_finished(c->ssl) ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)
		return YW_EINVAL;
	X509 *ca = find_pinned(SSL_get_peer_cert_chain(c->ssl), c->ctx->pin);
	if (!ca)
		return YW_ENOENT;
	return yw_pki_x509_pem(ca, pem, len);
}
