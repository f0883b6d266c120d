/* TLS 1.3 over non-blocking sockets, OpenSSL 3 underneath. Three kinds of context:
 *  - server: presents server.crt (with the CA in its chain), asks agents for a certificate but
 *    lets a connection without one finish the handshake (an enrolling agent has none yet: the
 *    server must check yw_tls_peer_identity and allow only ENROLL then). A certificate that is
 *    sent must verify against the CA, be a TLS client certificate, carry a valid agent id as CN
 *    and not be revoked according to the server's callback; otherwise the handshake fails.
 *  - client (agent): presents agent.crt and trusts only the pinned CA file.
 *  - enrol (agent, before it has a CA file): no client certificate; accepts the server only if
 *    the chain it sends contains a CA certificate with the pinned SHA-256 fingerprint and the
 *    server certificate verifies against that CA (yw_tls_peer_ca_pem then hands it out).
 * Only TLS 1.3; no session tickets or resumption (a resumed session would skip the revocation
 * check); no compression. Contexts must outlive their connections. Functions that fail with
 * detail for a log line write it to (err, errsz) or yw_tls_error(); err may be NULL. */
#ifndef YIWANG_TLS_H
#define YIWANG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "yiwang/pki.h"

struct yw_tls_ctx;
struct yw_tls_conn;

/* Called during the handshake for an agent certificate that verified against the CA; returns
 * true to refuse it. Runs on the thread doing the handshake; must not block for long. */
typedef bool (*yw_tls_revoked_fn)(void *ud, const char *agent_id, const char *serial);

struct yw_tls_server_opts {
	const char *cert_file;        /* server.crt */
	const char *key_file;         /* server.key (mode 0600 enforced) */
	const char *ca_file;          /* ca.crt: sent in the chain; trust anchor for agents */
	bool request_client_cert;     /* false for a plain HTTPS listener */
	yw_tls_revoked_fn is_revoked; /* may be NULL */
	void *revoked_ud;
};

int yw_tls_server_ctx_new(const struct yw_tls_server_opts *opts, struct yw_tls_ctx **out, char *err,
                          size_t errsz);
/* The agent's context for normal operation. */
int yw_tls_client_ctx_new(const char *cert_file, const char *key_file, const char *ca_file,
                          struct yw_tls_ctx **out, char *err, size_t errsz);
/* The agent's context for enrolment; ca_fingerprint is "sha256:<64 hex>". */
int yw_tls_enroll_ctx_new(const char *ca_fingerprint, struct yw_tls_ctx **out, char *err,
                          size_t errsz);
/* Accepts NULL. */
void yw_tls_ctx_free(struct yw_tls_ctx *ctx);

/* Wraps a connected non-blocking socket. The fd stays the caller's: yw_tls_conn_free does not
 * close it. peer_name (may be NULL, e.g. "10.0.0.5:41234") is only used in error texts. */
int yw_tls_conn_new(struct yw_tls_ctx *ctx, int fd, bool server_side, const char *peer_name,
                    struct yw_tls_conn **out);
/* Accepts NULL. Does not send close_notify (use yw_tls_shutdown first for a clean close). */
void yw_tls_conn_free(struct yw_tls_conn *c);

/* Each of the following returns YW_EAGAIN when the fd must become readable and YW_EWANTWRITE
 * when it must become writable before the same call is repeated (with the same arguments for
 * write). Failures: YW_EAUTH (peer certificate rejected: unknown CA, revoked, wrong pin),
 * YW_ETLS (protocol failure, e.g. a TLS 1.2-only peer), YW_EIO (socket error or the peer
 * closed without close_notify); yw_tls_error() then has the reason. */

/* 0 once the handshake is complete. */
int yw_tls_handshake(struct yw_tls_conn *c);
/* Bytes read (> 0), 0 when the peer closed cleanly, or a negative code. */
ssize_t yw_tls_read(struct yw_tls_conn *c, void *buf, size_t len);
/* Bytes written (> 0, possibly fewer than len), or a negative code. */
ssize_t yw_tls_write(struct yw_tls_conn *c, const void *buf, size_t len);
/* Sends close_notify; 0 when sent (the peer's reply is not awaited). */
int yw_tls_shutdown(struct yw_tls_conn *c);
/* Decrypted bytes buffered inside TLS: read them before waiting on the fd again. */
size_t yw_tls_pending(const struct yw_tls_conn *c);
/* The last failure's reason (OpenSSL's text, the verify error, the peer), "" if none.
 * Borrowed until the next call on c. */
const char *yw_tls_error(const struct yw_tls_conn *c);

/* Who the peer is, after the handshake. */
struct yw_tls_identity {
	bool has_cert;                   /* false: an agent without a certificate (enrol) */
	char agent_id[YW_AGENT_ID_SIZE]; /* CN of the peer's certificate */
	char serial[YW_SERIAL_SIZE];     /* as yw_pki_cert_info reports it */
	char fingerprint[YW_FINGERPRINT_SIZE];
};
int yw_tls_peer_identity(const struct yw_tls_conn *c, struct yw_tls_identity *id);

/* Enrol context only, after the handshake: the pinned CA certificate as the server sent it, in
 * PEM (NUL-terminated; caller frees with free()), for yw_pki_agent_store. */
int yw_tls_peer_ca_pem(const struct yw_tls_conn *c, char **pem, size_t *len);

#endif
