/* CA, server and agent certificates, tokens and the enrolment string. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "yiwang/error.h"
#include "yiwang/pki.h"

struct fx {
	char dir[64];
	char err[512];
};

static void path_in(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	assert_true(n > 0 && n < PATH_MAX);
}

static int file_mode(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	path_in(p, dir, name);
	if (stat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static X509 *read_cert(const char *dir, const char *name)
{
	char p[PATH_MAX];
	path_in(p, dir, name);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/yw-pki-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void test_ca_create_modes_and_reload(void **state)
{
	struct fx *f = *state;
	char pki[PATH_MAX], p[PATH_MAX];
	struct yw_pki_ca *ca = NULL, *again = NULL;
	path_in(pki, f->dir, "pki");
	assert_int_equal(yw_pki_ca_load_or_create(pki, 0, &ca, f->err, sizeof(f->err)), 0);
	assert_int_equal(file_mode(f->dir, "pki"), 0700);
	assert_int_equal(file_mode(pki, "ca.key"), 0600);
	assert_int_equal(file_mode(pki, "ca.crt"), 0644);
	const char *fp = yw_pki_ca_fingerprint(ca);
	assert_int_equal(strlen(fp), YW_FINGERPRINT_SIZE - 1);
	assert_memory_equal(fp, "sha256:", 7);
	assert_non_null(strstr(yw_pki_ca_pem(ca), "BEGIN CERTIFICATE"));

	X509 *x = read_cert(pki, "ca.crt");
	assert_non_null(x);
	assert_true(X509_check_ca(x) >= 1);
	EVP_PKEY *pub = X509_get0_pubkey(x);
	assert_true(EVP_PKEY_is_a(pub, "EC"));
	assert_int_equal(X509_verify(x, pub), 1);
	X509_free(x);

	/* Idempotent: the same CA comes back. */
	assert_int_equal(yw_pki_ca_load_or_create(pki, 0, &again, f->err, sizeof(f->err)), 0);
	assert_string_equal(yw_pki_ca_fingerprint(again), fp);
	yw_pki_ca_free(again);
	again = NULL;

	/* A key readable by others is refused, not used. */
	path_in(p, pki, "ca.key");
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(yw_pki_ca_load_or_create(pki, 0, &again, f->err, sizeof(f->err)),
	                 YW_EINVAL);
	assert_non_null(strstr(f->err, "0644"));
	assert_int_equal(chmod(p, 0600), 0);

	/* Half a CA is an error, never silently replaced. */
	path_in(p, pki, "ca.crt");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(yw_pki_ca_load_or_create(pki, 0, &again, f->err, sizeof(f->err)),
	                 YW_EINVAL);
	assert_null(again);
	assert_int_equal(file_mode(pki, "ca.crt"), -1);
	yw_pki_ca_free(ca);
}

static bool has_ext_key_usage(X509 *x, uint32_t want)
{
	return (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
	       (X509_get_extended_key_usage(x) & want) == want;
}

static void test_server_cert_sans(void **state)
{
	struct fx *f = *state;
	struct yw_pki_ca *ca = NULL;
	bool re = false;
	assert_int_equal(yw_pki_ca_load_or_create(f->dir, 0, &ca, f->err, sizeof(f->err)), 0);
	const char *names[] = {"yw.example.org", "10.1.2.3", "fd00::7"};
	assert_int_equal(
	    yw_pki_server_cert_ensure(ca, f->dir, names, 3, 0, &re, f->err, sizeof(f->err)), 0);
	assert_true(re);
	assert_int_equal(file_mode(f->dir, "server.key"), 0600);
	assert_int_equal(file_mode(f->dir, "server.crt"), 0644);
	X509 *x = read_cert(f->dir, "server.crt");
	assert_non_null(x);
	assert_int_equal(X509_check_host(x, "yw.example.org", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "fd00::7", 0), 1);
	assert_int_not_equal(X509_check_host(x, "other.example.org", 0, 0, NULL), 1);
	assert_true(has_ext_key_usage(x, XKU_SSL_SERVER));
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ca(x), 0);
	X509_free(x);

	/* Second start: nothing to do. A new name: reissued. */
	assert_int_equal(
	    yw_pki_server_cert_ensure(ca, f->dir, names, 3, 0, &re, f->err, sizeof(f->err)), 0);
	assert_false(re);
	const char *more[] = {"yw.example.org", "10.1.2.3", "fd00::7", "new.example.org"};
	assert_int_equal(
	    yw_pki_server_cert_ensure(ca, f->dir, more, 4, 0, &re, f->err, sizeof(f->err)), 0);
	assert_true(re);

	/* Defaults cover local connections. */
	assert_int_equal(
	    yw_pki_server_cert_ensure(ca, f->dir, NULL, 0, 0, &re, f->err, sizeof(f->err)), 0);
	assert_true(re);
	x = read_cert(f->dir, "server.crt");
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	X509_free(x);

	/* Names cannot smuggle config syntax into the SAN. */
	const char *bad[] = {"a.example,IP:1.2.3.4"};
	assert_int_equal(
	    yw_pki_server_cert_ensure(ca, f->dir, bad, 1, 0, &re, f->err, sizeof(f->err)),
	    YW_EINVAL);
	yw_pki_ca_free(ca);
}

static void test_sign_csr(void **state)
{
	struct fx *f = *state;
	struct yw_pki_ca *ca = NULL;
	struct yw_pki_key *key = NULL;
	struct yw_pki_cert_info info, info2;
	char *csr = NULL, *cert = NULL;
	size_t csr_len = 0;
	char id[YW_AGENT_ID_SIZE];
	assert_int_equal(yw_pki_ca_load_or_create(f->dir, 0, &ca, f->err, sizeof(f->err)), 0);
	assert_int_equal(yw_pki_agent_keygen(&key, &csr, &csr_len), 0);
	assert_non_null(strstr(csr, "BEGIN CERTIFICATE REQUEST"));
	assert_int_equal(yw_pki_agent_id_new(id), 0);
	assert_int_equal(
	    yw_pki_sign_csr(ca, csr, csr_len, id, 30, &cert, &info, f->err, sizeof(f->err)), 0);
	assert_string_equal(info.common_name, id);
	assert_int_equal(strlen(info.serial), 32);
	assert_true(info.not_after - info.not_before >= 30 * 86400);
	assert_true(info.not_after - info.not_before <= 30 * 86400 + 600);
	assert_int_equal(yw_pki_cert_info_pem(cert, strlen(cert), &info2), 0);
	assert_string_equal(info2.serial, info.serial);
	assert_string_equal(info2.fingerprint, info.fingerprint);

	BIO *bio = BIO_new_mem_buf(cert, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	assert_true(has_ext_key_usage(x, XKU_SSL_CLIENT));
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_ca(x), 0);
	X509_free(x);
	free(cert);
	cert = NULL;

	/* Two signings never share a serial. */
	assert_int_equal(yw_pki_sign_csr(ca, csr, csr_len, id, 0, &cert, &info2, NULL, 0), 0);
	assert_string_not_equal(info2.serial, info.serial);
	assert_true(info2.not_after - info2.not_before >= 365 * 86400);
	free(cert);
	cert = NULL;

	/* Bad ids, a tampered CSR, an oversized one. */
	assert_int_equal(yw_pki_sign_csr(ca, csr, csr_len, "../etc", 0, &cert, NULL, NULL, 0),
	                 YW_EINVAL);
	assert_int_equal(yw_pki_sign_csr(ca, csr, csr_len, "", 0, &cert, NULL, NULL, 0), YW_EINVAL);
	char *tampered = strdup(csr);
	char *body = strstr(tampered, "-----\n") + 6 + 120; /* inside the public key bits */
	*body = *body == 'A' ? 'B' : 'A';
	assert_int_not_equal(
	    yw_pki_sign_csr(ca, tampered, csr_len, "agent-1", 0, &cert, NULL, NULL, 0), 0);
	assert_null(cert);
	free(tampered);
	char *huge = calloc(1, YW_MAX_CSR_PEM + 2);
	memset(huge, 'A', YW_MAX_CSR_PEM + 1);
	assert_int_equal(
	    yw_pki_sign_csr(ca, huge, YW_MAX_CSR_PEM + 1, "agent-1", 0, &cert, NULL, NULL, 0),
	    YW_ELIMIT);
	free(huge);
	assert_int_equal(yw_pki_sign_csr(ca, "junk", 4, "agent-1", 0, &cert, NULL, NULL, 0),
	                 YW_EPARSE);

	/* Another key type is refused. */
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	X509_REQ *req = X509_REQ_new();
	X509_REQ_set_pubkey(req, p384);
	X509_REQ_sign(req, p384, EVP_sha256());
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509_REQ(bio, req);
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	assert_int_equal(yw_pki_sign_csr(ca, p, (size_t)n, "agent-1", 0, &cert, NULL, NULL, 0),
	                 YW_EUNSUP);
	BIO_free(bio);
	X509_REQ_free(req);
	EVP_PKEY_free(p384);

	free(csr);
	yw_pki_key_free(key);
	yw_pki_ca_free(ca);
}

static void test_agent_store(void **state)
{
	struct fx *f = *state;
	char srv[PATH_MAX], agent[PATH_MAX];
	struct yw_pki_ca *ca = NULL, *ca2 = NULL;
	struct yw_pki_key *key = NULL, *other = NULL;
	struct yw_pki_cert_info info;
	char *csr = NULL, *csr2 = NULL, *cert = NULL;
	size_t csr_len = 0, csr2_len = 0;
	path_in(srv, f->dir, "srv");
	path_in(agent, f->dir, "agent");
	assert_int_equal(yw_pki_ca_load_or_create(srv, 0, &ca, NULL, 0), 0);
	assert_int_equal(yw_pki_agent_keygen(&key, &csr, &csr_len), 0);
	assert_int_equal(yw_pki_sign_csr(ca, csr, csr_len, "agent-000001", 0, &cert, NULL, NULL, 0),
	                 0);
	const char *ca_pem = yw_pki_ca_pem(ca);

	/* Wrong pin: nothing is written. */
	char wrong[YW_FINGERPRINT_SIZE];
	snprintf(wrong, sizeof(wrong), "%s", yw_pki_ca_fingerprint(ca));
	wrong[10] = wrong[10] == '0' ? '1' : '0';
	assert_int_equal(yw_pki_agent_store(agent, key, cert, strlen(cert), ca_pem, strlen(ca_pem),
	                                    wrong, &info, f->err, sizeof(f->err)),
	                 YW_EAUTH);
	assert_int_equal(file_mode(agent, "agent.key"), -1);

	/* A certificate for somebody else's key. */
	assert_int_equal(yw_pki_agent_keygen(&other, &csr2, &csr2_len), 0);
	assert_int_equal(yw_pki_agent_store(agent, other, cert, strlen(cert), ca_pem,
	                                    strlen(ca_pem), yw_pki_ca_fingerprint(ca), &info,
	                                    f->err, sizeof(f->err)),
	                 YW_EAUTH);

	/* A CA that matches its own pin but did not sign the certificate. */
	char srv2[PATH_MAX];
	path_in(srv2, f->dir, "srv2");
	assert_int_equal(yw_pki_ca_load_or_create(srv2, 0, &ca2, NULL, 0), 0);
	assert_int_equal(yw_pki_agent_store(agent, key, cert, strlen(cert), yw_pki_ca_pem(ca2),
	                                    strlen(yw_pki_ca_pem(ca2)), yw_pki_ca_fingerprint(ca2),
	                                    &info, f->err, sizeof(f->err)),
	                 YW_EAUTH);

	assert_int_equal(yw_pki_agent_store(agent, key, cert, strlen(cert), ca_pem, strlen(ca_pem),
	                                    yw_pki_ca_fingerprint(ca), &info, f->err,
	                                    sizeof(f->err)),
	                 0);
	assert_string_equal(info.common_name, "agent-000001");
	assert_int_equal(file_mode(f->dir, "agent"), 0700);
	assert_int_equal(file_mode(agent, "agent.key"), 0600);
	assert_int_equal(file_mode(agent, "agent.crt"), 0600);
	assert_int_equal(file_mode(agent, "ca.crt"), 0600);
	char p[PATH_MAX];
	struct yw_pki_cert_info fi;
	path_in(p, agent, "ca.crt");
	assert_int_equal(yw_pki_cert_info_file(p, &fi), 0);
	assert_string_equal(fi.fingerprint, yw_pki_ca_fingerprint(ca));
	path_in(p, agent, "agent.crt");
	assert_int_equal(yw_pki_cert_info_file(p, &fi), 0);
	assert_string_equal(fi.serial, info.serial);
	path_in(p, agent, "nope.crt");
	assert_int_equal(yw_pki_cert_info_file(p, &fi), YW_ENOENT);

	free(cert);
	free(csr);
	free(csr2);
	yw_pki_key_free(key);
	yw_pki_key_free(other);
	yw_pki_ca_free(ca);
	yw_pki_ca_free(ca2);
}

static void test_agent_ids(void **state)
{
	(void)state;
	char a[YW_AGENT_ID_SIZE], b[YW_AGENT_ID_SIZE];
	assert_int_equal(yw_pki_agent_id_new(a), 0);
	assert_int_equal(yw_pki_agent_id_new(b), 0);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '4');
	assert_string_not_equal(a, b);
	assert_true(yw_pki_agent_id_valid(a));
	assert_true(yw_pki_agent_id_valid("agent-000001"));
	assert_true(yw_pki_agent_id_valid("web_01.prod"));
	assert_false(yw_pki_agent_id_valid(""));
	assert_false(yw_pki_agent_id_valid("../x"));
	assert_false(yw_pki_agent_id_valid("-rf"));
	assert_false(yw_pki_agent_id_valid("a b"));
	assert_false(yw_pki_agent_id_valid("a\nb"));
	char longid[80];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_false(yw_pki_agent_id_valid(longid));
	longid[YW_AGENT_ID_SIZE - 1] = '\0';
	assert_true(yw_pki_agent_id_valid(longid));
}

static void test_tokens(void **state)
{
	(void)state;
	char t1[YW_TOKEN_SIZE], t2[YW_TOKEN_SIZE], h[YW_TOKEN_HASH_SIZE], h2[YW_TOKEN_HASH_SIZE];
	assert_int_equal(yw_token_generate(t1), 0);
	assert_int_equal(yw_token_generate(t2), 0);
	assert_int_equal(strlen(t1), 64);
	assert_int_equal(strspn(t1, "0123456789abcdef"), 64);
	assert_string_not_equal(t1, t2);
	assert_int_equal(yw_token_hash(t1, h), 0);
	assert_int_equal(yw_token_hash(t1, h2), 0);
	assert_string_equal(h, h2);
	assert_memory_equal(h, "sha256:", 7);
	assert_int_equal(strlen(h), YW_TOKEN_HASH_SIZE - 1);
	assert_true(yw_token_verify(t1, h));
	assert_false(yw_token_verify(t2, h));
	assert_false(yw_token_verify(t1, "sha256:00"));
	/* SHA-256 of 32 zero bytes: a fixed value pins the definition of the hash. */
	char zero[65];
	memset(zero, '0', 64);
	zero[64] = '\0';
	assert_int_equal(yw_token_hash(zero, h), 0);
	assert_string_equal(
	    h, "sha256:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
	assert_int_equal(yw_token_hash("abc", h), YW_EINVAL);
	zero[3] = 'g';
	assert_int_equal(yw_token_hash(zero, h), YW_EINVAL);
}

static struct yw_enroll_info sample_info(const char *addr)
{
	struct yw_enroll_info in;
	memset(&in, 0, sizeof(in));
	snprintf(in.addr, sizeof(in.addr), "%s", addr);
	for (int i = 0; i < 64; i++)
		in.token[i] = "0123456789abcdef"[(i * 7) % 16];
	snprintf(in.ca_fingerprint, sizeof(in.ca_fingerprint), "sha256:");
	for (int i = 0; i < 64; i++)
		in.ca_fingerprint[7 + i] = "0123456789abcdef"[(i * 5 + 3) % 16];
	return in;
}

static void test_enroll_string_roundtrip(void **state)
{
	(void)state;
	const char *addrs[] = {"server.example.org:7443", "10.0.0.1:1", "[::1]:65535",
	                       "[fd00::1:2]:7443", "localhost:443"};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct yw_enroll_info in = sample_info(addrs[i]), out;
		char s[YW_MAX_ENROLL_STRING + 1];
		assert_int_equal(yw_enroll_string_encode(&in, s, sizeof(s)), 0);
		assert_memory_equal(s, "yw1:", 4);
		assert_int_equal(strspn(s + 4,
		                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                        "0123456789-_"),
		                 strlen(s) - 4);
		assert_int_equal(yw_enroll_string_decode(s, strlen(s), &out), 0);
		assert_string_equal(out.addr, in.addr);
		assert_string_equal(out.token, in.token);
		assert_string_equal(out.ca_fingerprint, in.ca_fingerprint);
		/* Pasted with a trailing newline and leading blanks. */
		char padded[YW_MAX_ENROLL_STRING + 8];
		snprintf(padded, sizeof(padded), "  %s\n", s);
		assert_int_equal(yw_enroll_string_decode(padded, strlen(padded), &out), 0);
		assert_string_equal(out.addr, in.addr);
	}
	char host[256];
	uint16_t port = 0;
	assert_int_equal(yw_enroll_addr_split("[fd00::1:2]:7443", host, sizeof(host), &port), 0);
	assert_string_equal(host, "fd00::1:2");
	assert_int_equal(port, 7443);
	assert_int_equal(yw_enroll_addr_split("srv.local:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "srv.local");
	assert_int_equal(port, 80);

	/* The longest address fits YW_MAX_ENROLL_STRING. */
	char addr[YW_MAX_ENROLL_ADDR + 1];
	memset(addr, 'a', YW_MAX_ENROLL_ADDR - 6);
	memcpy(addr + YW_MAX_ENROLL_ADDR - 6, ":65535", 7);
	struct yw_enroll_info big = sample_info(addr), out;
	char s[YW_MAX_ENROLL_STRING + 1];
	assert_int_equal(yw_enroll_string_encode(&big, s, sizeof(s)), 0);
	assert_int_equal(yw_enroll_string_decode(s, strlen(s), &out), 0);
	assert_string_equal(out.addr, addr);
	assert_int_equal(yw_enroll_string_encode(&big, s, 40), YW_ELIMIT);
}

/* Encodes raw payload bytes the way the encoder would, to build malformed strings. */
static void raw_string(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char b64[1024];
	int len = EVP_EncodeBlock(b64, p, (int)n);
	size_t o = (size_t)snprintf(out, outsz, "yw1:");
	for (int i = 0; i < len && b64[i] != '='; i++) {
		char c = (char)b64[i];
		c = c == '+' ? '-' : c == '/' ? '_' : c;
		assert_non_null(strchr(al, c));
		out[o++] = c;
	}
	out[o] = '\0';
}

static void test_enroll_string_strict(void **state)
{
	(void)state;
	struct yw_enroll_info in = sample_info("srv.example:7443"), out;
	char s[YW_MAX_ENROLL_STRING + 1], bad[YW_MAX_ENROLL_STRING * 2];
	assert_int_equal(yw_enroll_string_encode(&in, s, sizeof(s)), 0);
	size_t n = strlen(s);

	assert_int_equal(yw_enroll_string_decode("", 0, &out), YW_EPARSE);
	snprintf(bad, sizeof(bad), "xx1:%s", s + 4);
	assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), YW_EPARSE);
	snprintf(bad, sizeof(bad), "YW1:%s", s + 4);
	assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), YW_EPARSE);
	snprintf(bad, sizeof(bad), "yw2:%s", s + 4);
	assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), YW_EUNSUP);
	/* Characters outside base64url, padding, inner white space. */
	snprintf(bad, sizeof(bad), "%s", s);
	bad[10] = '+';
	assert_int_equal(yw_enroll_string_decode(bad, n, &out), YW_EPARSE);
	bad[10] = ' ';
	assert_int_equal(yw_enroll_string_decode(bad, n, &out), YW_EPARSE);
	snprintf(bad, sizeof(bad), "%s=", s);
	assert_int_equal(yw_enroll_string_decode(bad, n + 1, &out), YW_EPARSE);
	/* Truncated: fields missing. */
	assert_int_not_equal(yw_enroll_string_decode(s, n - 4, &out), 0);
	assert_int_not_equal(yw_enroll_string_decode(s, 4, &out), 0);
	assert_int_not_equal(yw_enroll_string_decode(s, 8, &out), 0);
	/* One character more: extra data or a length of 4k+1. */
	snprintf(bad, sizeof(bad), "%sA", s);
	assert_int_not_equal(yw_enroll_string_decode(bad, n + 1, &out), 0);
	snprintf(bad, sizeof(bad), "%sAAAA", s);
	assert_int_equal(yw_enroll_string_decode(bad, n + 4, &out), YW_EPARSE);
	/* Overlong input. */
	memset(bad, 'A', sizeof(bad) - 1);
	memcpy(bad, "yw1:", 4);
	assert_int_equal(yw_enroll_string_decode(bad, sizeof(bad) - 1, &out), YW_ELIMIT);

	/* Hand-made payloads: bad ports, a NUL in the address, a length past the end. */
	unsigned char p[400];
	const char *addrs[] = {"h:0", "h:65536", "h:abc",   "h:",      ":80",
	                       "h",   "h:080",   "[::1:80", "[zz]:80", "a b:80"};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		size_t al = strlen(addrs[i]);
		p[0] = (unsigned char)al;
		memcpy(p + 1, addrs[i], al);
		memset(p + 1 + al, 0x11, 64);
		raw_string(p, 1 + al + 64, bad, sizeof(bad));
		assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), YW_EPARSE);
	}
	memcpy(p, "\x06h\0x:80", 7);
	memset(p + 7, 0x11, 64);
	raw_string(p, 71, bad, sizeof(bad));
	assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), YW_EPARSE);
	memcpy(p, "\xf0h:80", 5);
	memset(p + 5, 0x11, 64);
	raw_string(p, 69, bad, sizeof(bad));
	assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), YW_EPARSE);
	/* The valid hand-made one decodes, proving the cases above fail for their reason. */
	memcpy(p, "\x04h:80", 5);
	raw_string(p, 69, bad, sizeof(bad));
	assert_int_equal(yw_enroll_string_decode(bad, strlen(bad), &out), 0);
	assert_string_equal(out.addr, "h:80");

	/* Non-canonical trailing bits: same bytes, different spelling. */
	snprintf(bad, sizeof(bad), "%s", s);
	if ((n - 4) % 4 != 0) {
		char *last = &bad[n - 1];
		*last = *last == 'A' ? 'B' : (char)(*last + 1);
		assert_int_equal(yw_enroll_string_decode(bad, n, &out), YW_EPARSE);
	}

	/* The encoder refuses what the decoder would refuse. */
	struct yw_enroll_info e = sample_info("no-port");
	assert_int_equal(yw_enroll_string_encode(&e, s, sizeof(s)), YW_EINVAL);
	e = sample_info("h:1");
	e.token[5] = 'x';
	assert_int_equal(yw_enroll_string_encode(&e, s, sizeof(s)), YW_EINVAL);
	e = sample_info("h:1");
	e.ca_fingerprint[0] = 'm';
	assert_int_equal(yw_enroll_string_encode(&e, s, sizeof(s)), YW_EINVAL);
}

static void test_write_file_atomic(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	path_in(p, f->dir, "x.key");
	assert_int_equal(yw_pki_write_file(p, "one", 3, 0600), 0);
	assert_int_equal(file_mode(f->dir, "x.key"), 0600);
	assert_int_equal(yw_pki_write_file(p, "second", 6, 0644), 0);
	assert_int_equal(file_mode(f->dir, "x.key"), 0644);
	FILE *fp = fopen(p, "r");
	char buf[16] = "";
	assert_int_equal(fread(buf, 1, sizeof(buf), fp), 6);
	fclose(fp);
	assert_string_equal(buf, "second");
	/* No temporary file is left behind. */
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "test $(ls '%s' | wc -l) -eq 1", f->dir);
	assert_int_equal(system(cmd), 0);
	path_in(p, f->dir, "missing/x");
	assert_int_equal(yw_pki_write_file(p, "x", 1, 0600), YW_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ca_create_modes_and_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_cert_sans, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_csr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_store, setup, teardown),
	    cmocka_unit_test(test_agent_ids),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_enroll_string_roundtrip),
	    cmocka_unit_test(test_enroll_string_strict),
	    cmocka_unit_test_setup_teardown(test_write_file_atomic, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
