/* Transports: HTTP(S) POST for the webhooks and chat robots and SMTP (libcurl), syslog over
 * TCP or TLS with octet-counted framing (RFC 6587 3.4.1, RFC 5425). One connection per
 * message: alerts are rare next to events, and a fresh connection never writes into a peer
 * that silently went away. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "notify_int.h"
#include "yiwang/error.h"
#include "yw_limits.h"

/* ---- HTTP ---- */

struct resp {
	char buf[YW_NOTIFY_MAX_RESPONSE + 1];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nmemb;
	size_t room = YW_NOTIFY_MAX_RESPONSE - r->len;
	size_t k = n < room ? n : room; /* the rest is read and dropped */
	memcpy(r->buf + r->len, p, k);
	r->len += k;
	return n;
}

static void tls_opts(CURL *h, const struct yw_notify_channel *ch)
{
	if (ch->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ch->ca_file);
	if (ch->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ch->timeout_ms);
}

/* WeCom and DingTalk answer {"errcode":0}, Feishu {"code":0} (older: "StatusCode"); any other
 * value means the message was refused even though HTTP said 200. */
static int robot_ok(const struct resp *r, char *err, size_t errlen)
{
	json_t *o = json_loadb(r->buf, r->len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(err, errlen, "response is not JSON");
		return YW_EIO;
	}
	static const char *const keys[] = {"errcode", "code", "StatusCode"};
	int rc = 0;
	for (size_t i = 0; i < 3 && !rc; i++) {
		json_t *v = json_object_get(o, keys[i]);
		if (v && (!json_is_integer(v) || json_integer_value(v) != 0)) {
			json_t *m = json_object_get(o, "errmsg");
			if (!m)
				m = json_object_get(o, "msg");
			snprintf(err, errlen, "%s %lld: %.100s", keys[i],
			         (long long)json_integer_value(v),
			         json_is_string(m) ? json_string_value(m) : "");
			rc = YW_EIO;
		}
	}
	json_decref(o);
	return rc;
}

static int send_http(const struct yw_notify_channel *ch, const char *dedup, const char *body,
                     size_t len, int64_t now, char *err, size_t errlen)
{
	CURL *h = curl_easy_init();
	struct resp *r = malloc(sizeof(*r));
	struct curl_slist *hdr = NULL;
	char *url = NULL;
	struct yw_strbuf fs = YW_STRBUF_INIT;
	int rc = YW_ENOMEM;
	if (!h || !r)
		goto out;
	r->len = 0;
	char line[256], sig[128];
	hdr = curl_slist_append(hdr, "Content-Type: application/json; charset=utf-8");
	snprintf(line, sizeof(line), "X-Yiwang-Delivery: %s", dedup);
	hdr = curl_slist_append(hdr, line);
	const char *u = ch->url;
	if (ch->type == YW_NOTIFY_WEBHOOK && ch->secret) {
		char ts[32];
		snprintf(ts, sizeof(ts), "%" PRId64, now / 1000);
		if ((rc = yw_notify_sign_webhook(ch->secret, ts, body, len, sig, sizeof(sig))))
			goto out;
		snprintf(line, sizeof(line), "X-Yiwang-Timestamp: %s", ts);
		hdr = curl_slist_append(hdr, line);
		snprintf(line, sizeof(line), "X-Yiwang-Signature: %s", sig);
		hdr = curl_slist_append(hdr, line);
	} else if (ch->type == YW_NOTIFY_DINGTALK && ch->secret) {
		if ((rc = yw_notify_sign_dingtalk(ch->secret, now, sig, sizeof(sig))))
			goto out;
		size_t ul = strlen(ch->url) + 64 + strlen(sig);
		if (!(url = malloc(ul)))
			goto out;
		snprintf(url, ul, "%s%ctimestamp=%" PRId64 "&sign=%s", ch->url,
		         strchr(ch->url, '?') ? '&' : '?', now, sig);
		u = url;
	} else if (ch->type == YW_NOTIFY_FEISHU && ch->secret) {
		if ((rc = yw_notify_sign_feishu(ch->secret, now / 1000, sig, sizeof(sig))))
			goto out;
		/* The signature goes in the body: {"timestamp":"..","sign":"..", + the rest. */
		if ((rc = yw_strbuf_printf(&fs, "{\"timestamp\":\"%" PRId64 "\",\"sign\":\"%s\",",
		                           now / 1000, sig)) ||
		    (rc = yw_strbuf_append(&fs, body + 1, len - 1)))
			goto out;
		body = fs.data;
		len = fs.len;
	}
	rc = YW_ENOMEM;
	if (!hdr)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "yiwang-notify");
	tls_opts(h, ch);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		rc = YW_EIO;
		goto out;
	}
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "HTTP %ld", status);
		rc = YW_EIO;
		goto out;
	}
	r->buf[r->len] = '\0';
	rc = ch->type == YW_NOTIFY_WEBHOOK ? 0 : robot_ok(r, err, errlen);
out:
	if (url)
		free(url);
	yw_strbuf_free(&fs);
	curl_slist_free_all(hdr);
	free(r);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

/* ---- SMTP ---- */

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;
	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static int send_smtp(const struct yw_notify_channel *ch, const char *body, size_t len, char *err,
                     size_t errlen)
{
	CURL *h = curl_easy_init();
	struct curl_slist *rcpt = NULL;
	int rc = YW_ENOMEM;
	if (!h)
		goto out;
	char addr[512];
	for (size_t i = 0; i < ch->to.n; i++) {
		snprintf(addr, sizeof(addr), "<%s>", ch->to.v[i]);
		struct curl_slist *t = curl_slist_append(rcpt, addr);
		if (!t)
			goto out;
		rcpt = t;
	}
	snprintf(addr, sizeof(addr), "<%s>", ch->from);
	struct upload up = {body, len};
	curl_easy_setopt(h, CURLOPT_URL, ch->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* STARTTLS is required, not attempted: a stripped STARTTLS fails the send. */
	if (ch->starttls)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	if (ch->username) {
		curl_easy_setopt(h, CURLOPT_USERNAME, ch->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, ch->secret ? ch->secret : "");
	}
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	tls_opts(h, ch);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		rc = YW_EIO;
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(rcpt);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

/* ---- syslog over TCP / TLS ---- */

static int split_hostport(const char *hp, char *host, size_t hostsz, char *port, size_t portsz)
{
	const char *colon;
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (!end || end[1] != ':')
			return YW_EINVAL;
		if ((size_t)(end - hp - 1) >= hostsz)
			return YW_ELIMIT;
		memcpy(host, hp + 1, (size_t)(end - hp - 1));
		host[end - hp - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon || (size_t)(colon - hp) >= hostsz)
			return YW_EINVAL;
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = '\0';
	}
	if (snprintf(port, portsz, "%s", colon + 1) >= (int)portsz || !port[0])
		return YW_EINVAL;
	return 0;
}

static int tcp_connect(const char *host, const char *port, int64_t timeout_ms, char *err,
                       size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g) {
		snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(g));
		return YW_EIO;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int c = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (c && errno != EINPROGRESS) {
			close(fd);
			fd = -1;
		} else if (c) {
			struct pollfd p = {fd, POLLOUT, 0};
			int e = 0;
			socklen_t el = sizeof(e);
			if (poll(&p, 1, (int)timeout_ms) != 1 ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) || e) {
				close(fd);
				fd = -1;
			}
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s", host, port);
		return YW_EIO;
	}
	/* Blocking from here, with the timeout on every read and write. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int write_all(int fd, SSL *ssl, const char *p, size_t n)
{
	while (n) {
		ssize_t w;
		if (ssl) {
			size_t done = 0;
			w = SSL_write_ex(ssl, p, n, &done) ? (ssize_t)done : -1;
		} else {
			w = send(fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return YW_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_syslog(const struct yw_notify_channel *ch, const char *body, size_t len, char *err,
                       size_t errlen)
{
	bool tls = !strncmp(ch->url, "tls://", 6);
	char host[256], port[16];
	if (split_hostport(ch->url + 6, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "bad syslog url");
		return YW_EINVAL;
	}
	int fd = tcp_connect(host, port, ch->timeout_ms, err, errlen);
	if (fd < 0)
		return fd;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int rc = YW_ETLS;
	if (tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			goto out;
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		if (!ch->insecure) {
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
			if (ch->ca_file ? !SSL_CTX_load_verify_locations(ctx, ch->ca_file, NULL)
			                : !SSL_CTX_set_default_verify_paths(ctx)) {
				snprintf(err, errlen, "cannot load CA %s",
				         ch->ca_file ? ch->ca_file : "(system)");
				goto out;
			}
		}
		if (!(ssl = SSL_new(ctx)) || !SSL_set_fd(ssl, fd))
			goto out;
		unsigned char ip[16];
		bool is_ip =
		    inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
		if (!is_ip)
			SSL_set_tlsext_host_name(ssl, host); /* SNI takes names only */
		if (!ch->insecure &&
		    !(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
		            : SSL_set1_host(ssl, host)))
			goto out;
		if (SSL_connect(ssl) != 1) {
			unsigned long e = ERR_get_error();
			snprintf(err, errlen, "TLS to %s:%s: %s", host, port,
			         e ? ERR_reason_error_string(e) : "handshake failed");
			goto out;
		}
	}
	char frame[32];
	int fl = snprintf(frame, sizeof(frame), "%zu ", len);
	rc = write_all(fd, ssl, frame, (size_t)fl);
	if (!rc)
		rc = write_all(fd, ssl, body, len);
	if (rc)
		snprintf(err, errlen, "write to %s:%s failed", host, port);
	else if (ssl)
		SSL_shutdown(ssl);
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return rc;
}

int yw_notify_transport(const struct yw_notify_channel *ch, const char *dedup, const char *body,
                        size_t len, int64_t now_ms, char *err, size_t errlen)
{
	switch (ch->type) {
	case YW_NOTIFY_WEBHOOK:
	case YW_NOTIFY_WECOM:
	case YW_NOTIFY_DINGTALK:
	case YW_NOTIFY_FEISHU:
		return send_http(ch, dedup, body, len, now_ms, err, errlen);
	case YW_NOTIFY_SYSLOG:
		return send_syslog(ch, body, len, err, errlen);
	case YW_NOTIFY_EMAIL:
		return send_smtp(ch, body, len, err, errlen);
	}
	return YW_EINVAL;
}
