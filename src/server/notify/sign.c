/* Request signatures of the webhook receivers (docs/notifications.md, "Signatures"). */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_int.h"
#include "yiwang/error.h"

int yw_notify_base64(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	if (n > (size_t)INT32_MAX / 2 || outsz < (n + 2) / 3 * 4 + 1)
		return YW_ELIMIT;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

static int hmac256(const void *key, size_t keylen, const void *msg, size_t len,
                   unsigned char mac[32])
{
	unsigned int maclen = 0;
	if (keylen > INT32_MAX)
		return YW_ELIMIT;
	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, len, mac, &maclen) || maclen != 32)
		return YW_ENOMEM;
	return 0;
}

int yw_notify_sign_dingtalk(const char *secret, int64_t ts_ms, char *out, size_t outsz)
{
	size_t slen = strlen(secret);
	char *msg = malloc(slen + 32);
	if (!msg)
		return YW_ENOMEM;
	int m = snprintf(msg, slen + 32, "%" PRId64 "\n%s", ts_ms, secret);
	unsigned char mac[32];
	char b64[48];
	int rc = hmac256(secret, slen, msg, (size_t)m, mac);
	OPENSSL_cleanse(msg, slen + 32);
	free(msg);
	if (!rc)
		rc = yw_notify_base64(mac, sizeof(mac), b64, sizeof(b64));
	if (rc)
		return rc;
	/* URL-encode: base64 uses '+', '/' and '=' besides letters and digits. */
	size_t o = 0;
	for (const char *p = b64; *p; p++) {
		if (o + 4 > outsz)
			return YW_ELIMIT;
		if (*p == '+' || *p == '/' || *p == '=')
			o += (size_t)snprintf(out + o, outsz - o, "%%%02X", (unsigned char)*p);
		else
			out[o++] = *p;
	}
	if (o >= outsz)
		return YW_ELIMIT;
	out[o] = '\0';
	return 0;
}

int yw_notify_sign_feishu(const char *secret, int64_t ts_s, char *out, size_t outsz)
{
	size_t slen = strlen(secret);
	char *key = malloc(slen + 32);
	if (!key)
		return YW_ENOMEM;
	int m = snprintf(key, slen + 32, "%" PRId64 "\n%s", ts_s, secret);
	unsigned char mac[32];
	/* Feishu keys the HMAC with the string to sign and signs an empty message. */
	int rc = hmac256(key, (size_t)m, "", 0, mac);
	OPENSSL_cleanse(key, slen + 32);
	free(key);
	return rc ? rc : yw_notify_base64(mac, sizeof(mac), out, outsz);
}

int yw_notify_sign_webhook(const char *secret, const char *ts, const char *body, size_t len,
                           char *out, size_t outsz)
{
	size_t tlen = strlen(ts);
	if (len > SIZE_MAX - tlen - 2)
		return YW_ELIMIT;
	char *msg = malloc(tlen + 1 + len + 1);
	if (!msg)
		return YW_ENOMEM;
	memcpy(msg, ts, tlen);
	msg[tlen] = '.';
	memcpy(msg + tlen + 1, body, len);
	unsigned char mac[32];
	int rc = hmac256(secret, strlen(secret), msg, tlen + 1 + len, mac);
	free(msg);
	if (rc)
		return rc;
	if (outsz < 7 + 64 + 1)
		return YW_ELIMIT;
	memcpy(out, "sha256=", 7);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
	return 0;
}
