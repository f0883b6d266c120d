/* Enrolment tokens and the enrolment string: one copy-pasteable line that tells an agent where
 * the server is, the secret that admits it once, and which CA to pin. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "yw_limits.h"
#include "yiwang/error.h"
#include "yiwang/pki.h"

#define TOKEN_BYTES  32
#define FP_BYTES     32
#define PREFIX       "yw1:"
#define PREFIX_LEN   4
#define PAYLOAD_MAX  (1 + YW_MAX_ENROLL_ADDR + TOKEN_BYTES + FP_BYTES)
#define FP_PREFIX    "sha256:"
#define FP_PREFIX_LN 7

_Static_assert(YW_ENROLL_ADDR_SIZE == YW_MAX_ENROLL_ADDR + 1, "address buffer size");
_Static_assert(PREFIX_LEN + (PAYLOAD_MAX * 4 + 2) / 3 <= YW_MAX_ENROLL_STRING,
               "largest enrolment string fits the limit");

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 2*n hex digits followed by NUL. */
static int hex_decode(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(s[2 * i]);
		int lo = hi < 0 ? -1 : hex_val(s[2 * i + 1]);
		if (lo < 0)
			return YW_EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return s[2 * n] == '\0' ? 0 : YW_EINVAL;
}

static size_t b64url_encode(const unsigned char *p, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64url[v >> 18];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
	}
	return o;
}

static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Strict: no padding, no white space, unused trailing bits must be zero (one encoding per
 * payload). */
static int b64url_decode(const char *s, size_t n, unsigned char *out, size_t outmax, size_t *outlen)
{
	if (n % 4 == 1)
		return YW_EPARSE;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > outmax)
		return YW_ELIMIT;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val(s[i]);
		if (v < 0)
			return YW_EPARSE;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return YW_EPARSE;
	*outlen = o;
	return 0;
}

int yw_token_generate(char out[YW_TOKEN_SIZE])
{
	unsigned char raw[TOKEN_BYTES];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return YW_EIO;
	hex_encode(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int yw_token_hash(const char *token, char out[YW_TOKEN_HASH_SIZE])
{
	unsigned char raw[TOKEN_BYTES], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = hex_decode(token, raw, sizeof(raw));
	if (rc == 0 && EVP_Digest(raw, sizeof(raw), md, &mdlen, EVP_sha256(), NULL) != 1)
		rc = YW_ENOMEM;
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc)
		return rc;
	memcpy(out, FP_PREFIX, FP_PREFIX_LN);
	hex_encode(md, mdlen, out + FP_PREFIX_LN);
	return 0;
}

bool yw_token_verify(const char *token, const char *stored_hash)
{
	char h[YW_TOKEN_HASH_SIZE];
	if (yw_token_hash(token, h) != 0 || strlen(stored_hash) != strlen(h))
		return false;
	return CRYPTO_memcmp(h, stored_hash, strlen(h)) == 0;
}

static bool dns_name_valid(const char *h, size_t n)
{
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!isalnum(c) && c != '-' && c != '.')
			return false;
	}
	return true;
}

/* "host:port" with host a DNS name or IPv4 address, or "[v6]:port". */
static int addr_parse(const char *a, size_t n, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon = NULL;
	const char *h = a;
	size_t hn;
	if (n == 0 || n > YW_MAX_ENROLL_ADDR || memchr(a, '\0', n))
		return YW_EPARSE;
	if (a[0] == '[') {
		const char *end = memchr(a, ']', n);
		if (!end || end + 1 >= a + n || end[1] != ':')
			return YW_EPARSE;
		h = a + 1;
		hn = (size_t)(end - h);
		colon = end + 1;
		char v6[INET6_ADDRSTRLEN];
		unsigned char bin[16];
		if (hn == 0 || hn >= sizeof(v6))
			return YW_EPARSE;
		memcpy(v6, h, hn);
		v6[hn] = '\0';
		if (inet_pton(AF_INET6, v6, bin) != 1)
			return YW_EPARSE;
	} else {
		for (size_t i = n; i > 0; i--) {
			if (a[i - 1] == ':') {
				colon = a + i - 1;
				break;
			}
		}
		if (!colon)
			return YW_EPARSE;
		hn = (size_t)(colon - a);
		if (!dns_name_valid(a, hn))
			return YW_EPARSE;
	}
	const char *p = colon + 1;
	size_t pn = n - (size_t)(p - a);
	if (pn == 0 || pn > 5 || p[0] == '0')
		return YW_EPARSE;
	unsigned v = 0;
	for (size_t i = 0; i < pn; i++) {
		if (p[i] < '0' || p[i] > '9')
			return YW_EPARSE;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return YW_EPARSE;
	if (host) {
		if (hn >= hostsz)
			return YW_ELIMIT;
		memcpy(host, h, hn);
		host[hn] = '\0';
	}
	if (port)
		*port = (uint16_t)v;
	return 0;
}

int yw_enroll_addr_split(const char *addr, char *host, size_t hostsz, uint16_t *port)
{
	return addr_parse(addr, strnlen(addr, YW_MAX_ENROLL_ADDR + 1), host, hostsz, port);
}

int yw_enroll_string_encode(const struct yw_enroll_info *in, char *out, size_t outsz)
{
	unsigned char payload[PAYLOAD_MAX];
	size_t alen = strnlen(in->addr, sizeof(in->addr));
	int rc = YW_EINVAL;
	if (alen >= sizeof(in->addr) || addr_parse(in->addr, alen, NULL, 0, NULL) != 0)
		return YW_EINVAL;
	if (strncmp(in->ca_fingerprint, FP_PREFIX, FP_PREFIX_LN) != 0)
		return YW_EINVAL;
	payload[0] = (unsigned char)alen;
	memcpy(payload + 1, in->addr, alen);
	size_t off = 1 + alen;
	if (hex_decode(in->token, payload + off, TOKEN_BYTES) != 0)
		goto out;
	off += TOKEN_BYTES;
	if (hex_decode(in->ca_fingerprint + FP_PREFIX_LN, payload + off, FP_BYTES) != 0)
		goto out;
	off += FP_BYTES;
	size_t need = PREFIX_LEN + (off * 4 + 2) / 3 + 1;
	if (need > outsz) {
		rc = YW_ELIMIT;
		goto out;
	}
	memcpy(out, PREFIX, PREFIX_LEN);
	size_t n = b64url_encode(payload, off, out + PREFIX_LEN);
	out[PREFIX_LEN + n] = '\0';
	rc = 0;
out:
	OPENSSL_cleanse(payload, sizeof(payload));
	return rc;
}

int yw_enroll_string_decode(const char *s, size_t len, struct yw_enroll_info *out)
{
	unsigned char payload[PAYLOAD_MAX];
	size_t plen = 0;
	int rc;
	while (len > 0 && isspace((unsigned char)s[0])) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len > YW_MAX_ENROLL_STRING)
		return YW_ELIMIT;
	if (len < PREFIX_LEN || memcmp(s, "yw", 2) != 0)
		return YW_EPARSE;
	if (memcmp(s, PREFIX, PREFIX_LEN) != 0) {
		/* A later version ("yw2:") deserves a clearer message than "malformed". */
		size_t i = 2;
		while (i < len && i < 6 && isdigit((unsigned char)s[i]))
			i++;
		return i > 2 && i < len && s[i] == ':' ? YW_EUNSUP : YW_EPARSE;
	}
	rc = b64url_decode(s + PREFIX_LEN, len - PREFIX_LEN, payload, sizeof(payload), &plen);
	if (rc)
		goto out;
	rc = YW_EPARSE;
	if (plen < 1 || plen != 1 + (size_t)payload[0] + TOKEN_BYTES + FP_BYTES)
		goto out;
	size_t alen = payload[0];
	if (addr_parse((const char *)payload + 1, alen, NULL, 0, NULL) != 0)
		goto out;
	memset(out, 0, sizeof(*out));
	memcpy(out->addr, payload + 1, alen);
	hex_encode(payload + 1 + alen, TOKEN_BYTES, out->token);
	memcpy(out->ca_fingerprint, FP_PREFIX, FP_PREFIX_LN);
	hex_encode(payload + 1 + alen + TOKEN_BYTES, FP_BYTES, out->ca_fingerprint + FP_PREFIX_LN);
	rc = 0;
out:
	OPENSSL_cleanse(payload, sizeof(payload));
	return rc;
}
