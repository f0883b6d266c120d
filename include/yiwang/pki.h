/* The server's own certificate authority, agent certificates, enrolment tokens and the
 * enrolment string. Keys are ECDSA P-256; signatures SHA-256. Every function that can fail for
 * a reason an operator must see takes an optional (err, errsz) buffer that receives one line of
 * detail (OpenSSL's reason text, the file name); it may be NULL.
 *
 * Files in a PKI directory (the server uses <data dir>/pki, the agent its state dir):
 *   server: ca.key (0600), ca.crt (0644), server.key (0600), server.crt (0644)
 *   agent:  agent.key (0600), agent.crt (0600), ca.crt (0600, the pinned server CA)
 * Files are written atomically (temporary file in the same directory, fsync, rename); a key
 * file whose mode gives any access to group or others is refused when loaded. */
#ifndef YIWANG_PKI_H
#define YIWANG_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define YW_PKI_CA_KEY      "ca.key"
#define YW_PKI_CA_CERT     "ca.crt"
#define YW_PKI_SERVER_KEY  "server.key"
#define YW_PKI_SERVER_CERT "server.crt"
#define YW_PKI_AGENT_KEY   "agent.key"
#define YW_PKI_AGENT_CERT  "agent.crt"

/* "sha256:" + 64 lowercase hex digits + NUL. */
#define YW_FINGERPRINT_SIZE 72
/* Serial numbers as lowercase hex without leading zeros (at most 20 bytes) + NUL. */
#define YW_SERIAL_SIZE 41
/* Agent ids: 1..YW_MAX_AGENT_ID (64, limits.h) characters of [A-Za-z0-9._-] + NUL. */
#define YW_AGENT_ID_SIZE 65
/* An enrolment token: 32 random bytes as 64 lowercase hex digits + NUL. */
#define YW_TOKEN_SIZE 65
/* What the server stores for a token: "sha256:" + hex of SHA-256 of the 32 bytes + NUL. */
#define YW_TOKEN_HASH_SIZE 72
/* "host:port" of the server in an enrolment string (YW_MAX_ENROLL_ADDR, limits.h) + NUL. */
#define YW_ENROLL_ADDR_SIZE 256

/* Default validity periods in days. */
#define YW_PKI_CA_DAYS     3650
#define YW_PKI_SERVER_DAYS 825
#define YW_PKI_AGENT_DAYS  365

/* What a certificate says about its holder. */
struct yw_pki_cert_info {
	char common_name[YW_AGENT_ID_SIZE]; /* the agent id for agent certificates */
	char serial[YW_SERIAL_SIZE];
	char fingerprint[YW_FINGERPRINT_SIZE];
	int64_t not_before; /* Unix seconds */
	int64_t not_after;
};

/* ---- server side: CA ---- */

struct yw_pki_ca;

/* Loads dir/ca.key and dir/ca.crt, or creates both when neither exists (dir is created 0700
 * when missing). One file without the other, a key that does not match the certificate or a
 * key file readable by others is an error, never silently replaced. days <= 0 means
 * YW_PKI_CA_DAYS. *out is freed with yw_pki_ca_free. */
int yw_pki_ca_load_or_create(const char *dir, int days, struct yw_pki_ca **out, char *err,
                             size_t errsz);
/* Wipes the key. Accepts NULL. */
void yw_pki_ca_free(struct yw_pki_ca *ca);
/* SHA-256 fingerprint of the CA certificate; borrowed until yw_pki_ca_free. */
const char *yw_pki_ca_fingerprint(const struct yw_pki_ca *ca);
/* The CA certificate in PEM; borrowed until yw_pki_ca_free. */
const char *yw_pki_ca_pem(const struct yw_pki_ca *ca);

/* Makes sure dir/server.key and dir/server.crt exist, are signed by ca, are valid for at least
 * 30 more days and name every one of names (DNS names or IP addresses, IPv6 without brackets)
 * in their subjectAltName; otherwise issues a new key and certificate. names == NULL uses
 * localhost, 127.0.0.1, ::1 and the host name. days <= 0 means YW_PKI_SERVER_DAYS. *reissued
 * (may be NULL) tells whether new files were written. */
int yw_pki_server_cert_ensure(const struct yw_pki_ca *ca, const char *dir, const char *const *names,
                              size_t n_names, int days, bool *reissued, char *err, size_t errsz);

/* Signs an agent's CSR (PEM, at most YW_MAX_CSR_PEM bytes). The CSR must carry a P-256 key
 * and a valid self-signature (proof that the agent holds the key); its subject and extensions
 * are ignored: the certificate gets CN = agent_id, a fresh random 128-bit serial,
 * EKU clientAuth only, and days of validity (<= 0: YW_PKI_AGENT_DAYS). *cert_pem is a
 * NUL-terminated PEM string the caller frees with free(); info (may be NULL) receives the
 * serial and fingerprint for the server to record. */
int yw_pki_sign_csr(const struct yw_pki_ca *ca, const char *csr_pem, size_t csr_len,
                    const char *agent_id, int days, char **cert_pem, struct yw_pki_cert_info *info,
                    char *err, size_t errsz);

/* A new agent id: a random (version 4) UUID, lowercase. */
int yw_pki_agent_id_new(char out[YW_AGENT_ID_SIZE]);
/* Whether id is an acceptable agent id (see YW_AGENT_ID_SIZE). */
bool yw_pki_agent_id_valid(const char *id);

/* ---- agent side ---- */

struct yw_pki_key;

/* Makes a P-256 key in memory and a CSR for it (PEM, NUL-terminated, caller frees with free()).
 * Nothing is written: the key goes to disk only with yw_pki_agent_store once enrolment worked,
 * so a failed enrolment leaves an earlier identity intact. */
int yw_pki_agent_keygen(struct yw_pki_key **key, char **csr_pem, size_t *csr_len);
/* Wipes and frees the key. Accepts NULL. */
void yw_pki_key_free(struct yw_pki_key *key);

/* Checks what the server sent back and stores the agent's identity in dir (created 0700 when
 * missing): ca_pem must hash to ca_fingerprint (the pinned one from the enrolment string),
 * cert_pem must be for key and verify against that CA as a TLS client certificate. Then writes
 * ca.crt, agent.crt and agent.key, all 0600. info (may be NULL) receives the agent id (CN),
 * serial and validity. */
int yw_pki_agent_store(const char *dir, const struct yw_pki_key *key, const char *cert_pem,
                       size_t cert_len, const char *ca_pem, size_t ca_len,
                       const char *ca_fingerprint, struct yw_pki_cert_info *info, char *err,
                       size_t errsz);

/* ---- certificates and files ---- */

/* Reads a PEM certificate (from memory or a file) and describes it. */
int yw_pki_cert_info_pem(const char *pem, size_t len, struct yw_pki_cert_info *info);
int yw_pki_cert_info_file(const char *path, struct yw_pki_cert_info *info);

/* Writes data to path atomically with the given mode (temporary file + fsync + rename + fsync
 * of the directory). The file never exists with a wider mode than asked. */
int yw_pki_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* ---- enrolment tokens (enroll_string.c) ---- */

/* 32 bytes from the OpenSSL CSPRNG as 64 lowercase hex digits. */
int yw_token_generate(char out[YW_TOKEN_SIZE]);
/* "sha256:<hex>" of the token's 32 bytes; YW_EINVAL unless token is exactly 64 hex digits. */
int yw_token_hash(const char *token, char out[YW_TOKEN_HASH_SIZE]);
/* Whether token hashes to stored_hash, compared in constant time. */
bool yw_token_verify(const char *token, const char *stored_hash);

/* ---- the enrolment string (enroll_string.c) ----
 * "yw1:" + base64url (no padding) of: u8 address length, address ("host:port"), 32 token
 * bytes, 32 bytes of the CA certificate's SHA-256. Parsing is strict: exact length, canonical
 * base64url, a valid address and port; surrounding ASCII white space (from copy and paste) is
 * ignored. */
struct yw_enroll_info {
	char addr[YW_ENROLL_ADDR_SIZE];           /* "host:port", "[v6addr]:port" */
	char token[YW_TOKEN_SIZE];                /* 64 hex digits */
	char ca_fingerprint[YW_FINGERPRINT_SIZE]; /* "sha256:<hex>" */
};

/* Writes the NUL-terminated string to out; YW_ELIMIT if outsz is too small
 * (YW_MAX_ENROLL_STRING + 1 always suffices), YW_EINVAL for an invalid field. */
int yw_enroll_string_encode(const struct yw_enroll_info *in, char *out, size_t outsz);
/* Parses s (len bytes, need not be NUL-terminated). YW_EPARSE for a malformed string,
 * YW_EUNSUP for an unknown version prefix ("ywN:"), YW_ELIMIT if overlong. */
int yw_enroll_string_decode(const char *s, size_t len, struct yw_enroll_info *out);
/* Splits "host:port" / "[v6]:port" (as validated by the decoder) for connecting. */
int yw_enroll_addr_split(const char *addr, char *host, size_t hostsz, uint16_t *port);

#endif
