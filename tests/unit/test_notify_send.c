/* Real transports against local receivers (tests/unit/notify_receivers.py on 127.0.0.1): the
 * HTTP receiver checks the webhook, DingTalk and Feishu signatures on its own (python hmac),
 * the SMTP sink offers STARTTLS with a certificate made here by the openssl CLI, the syslog
 * listener reads octet-counted frames over TCP and TLS. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/notify.h"
#include "yiwang/store.h"

#define RECEIVERS YW_SOURCE_DIR "/tests/unit/notify_receivers.py"

struct env {
	char dir[64];
	char cert[128], key[128];
	bool have_tls;
};

struct receiver {
	pid_t pid;
	int port;
	char out[160];
};

/* Starts the receiver script; its first stdout line is the port. */
static int start(struct env *e, struct receiver *r, const char *kind, const char *a3,
                 const char *a4, const char *a5)
{
	snprintf(r->out, sizeof(r->out), "%s/%s-%s.jsonl", e->dir, kind, a3);
	for (char *p = r->out + strlen(e->dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	int fds[2];
	if (pipe(fds))
		return -1;
	r->pid = fork();
	if (r->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", RECEIVERS, kind, r->out, a3, a4, a5, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* Up to the newline: the port may come in more than one write. */
	struct pollfd p = {fds[0], POLLIN, 0};
	char buf[32] = "";
	size_t n = 0;
	while (n < sizeof(buf) - 1 && !memchr(buf, '\n', n) && poll(&p, 1, 15000) == 1) {
		ssize_t k = read(fds[0], buf + n, sizeof(buf) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fds[0]);
	buf[n] = '\0';
	if (!strchr(buf, '\n')) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
		return -1;
	}
	r->port = atoi(buf);
	return r->port > 0 ? 0 : -1;
}

static void stop(struct receiver *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
}

/* The receiver's records, as a JSON array. */
static json_t *records(const struct receiver *r)
{
	json_t *a = json_array();
	FILE *f = fopen(r->out, "r");
	if (!f)
		return a;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0)
		json_array_append_new(a, json_loads(line, 0, NULL));
	free(line);
	fclose(f);
	return a;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/yw-notify-send-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->cert, sizeof(e->cert), "%s/cert.pem", e->dir);
	snprintf(e->key, sizeof(e->key), "%s/key.pem", e->dir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout %s -out %s -days 1 -subj /CN=localhost "
	         "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
	         e->key, e->cert);
	e->have_tls = system(cmd) == 0;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd))
		return -1;
	free(e);
	return 0;
}

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct yw_notify *open_real(struct env *e, const char *yaml)
{
	struct yw_notify_channels ch;
	struct yw_diags d = YW_DIAGS_INIT;
	int rc = yw_notify_load_channels(yaml, &ch, &d);
	if (rc)
		yw_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	yw_diags_free(&d);
	struct yw_notify_opts o = {.no_thread = true};
	struct yw_notify *n;
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/data-XXXXXX", e->dir);
	assert_non_null(mkdtemp(sub));
	assert_int_equal(yw_notify_new_opts(sub, &ch, &o, &n), 0);
	return n;
}

static const char *const tags[] = {"attack.t1110"};

static void send_alert(struct yw_notify *n)
{
	struct yw_notify_alert a = {
	    .rule_id = "rule-ssh",
	    .title = "SSH brute force <b>",
	    .level = YW_LEVEL_HIGH,
	    .agent_id = "agent-1",
	    .agent_name = "web1",
	    .group = "plant-a",
	    .ts_ns = real_ms() * 1000000,
	    .tags = tags,
	    .ntags = 1,
	    .event_json = "{\"source.ip\":\"203.0.113.9\",\"message\":\"Failed password "
	                  "[x](http://evil)\"}",
	    .solution = "Block 203.0.113.9",
	};
	assert_int_equal(yw_notify_alert(n, &a), 0);
}

static void test_http(void **state)
{
	struct env *e = *state;
	struct receiver r = {0};
	if (start(e, &r, "http", "hook-secret", "SECding", "feishu-secret"))
		skip();
	char yaml[2048];
	snprintf(yaml, sizeof(yaml),
	         "channels:\n"
	         "  - {name: hook, type: webhook, url: 'http://127.0.0.1:%d/webhook',"
	         " secret: hook-secret}\n"
	         "  - {name: wecom, type: wecom, url: 'http://127.0.0.1:%d/wecom?key=k'}\n"
	         "  - {name: ding, type: dingtalk, secret: SECding,"
	         " url: 'http://127.0.0.1:%d/dingtalk?access_token=t'}\n"
	         "  - {name: feishu, type: feishu, secret: feishu-secret,"
	         " url: 'http://127.0.0.1:%d/feishu'}\n"
	         /* Wrong secrets: the receiver refuses, so these are retried, not sent. */
	         "  - {name: hook-bad, type: webhook, secret: nope,"
	         " url: 'http://127.0.0.1:%d/webhook'}\n"
	         "  - {name: ding-bad, type: dingtalk, secret: nope,"
	         " url: 'http://127.0.0.1:%d/dingtalk?access_token=t'}\n"
	         "  - {name: feishu-bad, type: feishu, secret: nope,"
	         " url: 'http://127.0.0.1:%d/feishu'}\n"
	         /* HTTP 200 with a robot error code is a failure too. */
	         "  - {name: limited, type: wecom, url: 'http://127.0.0.1:%d/wecom-limited'}\n"
	         "  - {name: down, type: webhook, url: 'http://127.0.0.1:%d/fail'}\n",
	         r.port, r.port, r.port, r.port, r.port, r.port, r.port, r.port, r.port);
	struct yw_notify *n = open_real(e, yaml);
	send_alert(n);
	assert_int_equal(yw_notify_dispatch(n, real_ms()), 4);
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_int_equal(s.sent, 4);
	assert_int_equal(s.retries, 5);
	assert_int_equal(s.pending, 5);
	yw_notify_free(n);
	stop(&r);

	json_t *recs = records(&r);
	assert_int_equal(json_array_size(recs), 4);
	int seen = 0;
	for (size_t i = 0; i < json_array_size(recs); i++) {
		json_t *x = json_array_get(recs, i);
		assert_true(json_is_true(json_object_get(x, "verified")));
		const char *path = json_string_value(json_object_get(x, "path"));
		json_t *body = json_loads(json_string_value(json_object_get(x, "body")), 0, NULL);
		assert_non_null(body);
		if (!strcmp(path, "/webhook")) {
			seen |= 1;
			assert_string_equal(json_string_value(json_object_get(body, "title")),
			                    "SSH brute force <b>");
			assert_string_equal(json_string_value(json_object_get(x, "delivery")),
			                    json_string_value(json_object_get(body, "id")));
		} else if (!strcmp(path, "/wecom")) {
			seen |= 2;
			const char *md = json_string_value(
			    json_object_get(json_object_get(body, "markdown"), "content"));
			assert_non_null(strstr(md, "203.0.113.9"));
			assert_null(strstr(md, "[x]"));
		} else if (!strcmp(path, "/dingtalk")) {
			seen |= 4;
		} else if (!strcmp(path, "/feishu")) {
			seen |= 8;
			assert_non_null(json_object_get(body, "card"));
		}
		json_decref(body);
	}
	assert_int_equal(seen, 15);
	json_decref(recs);
}

static void test_smtp(void **state)
{
	struct env *e = *state;
	if (!e->have_tls)
		skip();
	struct receiver r = {0}, plain = {0};
	if (start(e, &r, "smtp", e->cert, e->key, "x") || start(e, &plain, "smtp", "-", "-", "x"))
		skip();
	char yaml[2048];
	snprintf(yaml, sizeof(yaml),
	         "channels:\n"
	         "  - name: mail\n"
	         "    type: email\n"
	         "    url: smtp://127.0.0.1:%d\n"
	         "    ca_file: %s\n"
	         "    from: yiwang@example.org\n"
	         "    to: [soc@example.org, oncall@example.org]\n"
	         "    username: yiwang\n"
	         "    secret: mail-password\n"
	         /* A server without STARTTLS: refused rather than sent in clear. */
	         "  - name: mail-plain\n"
	         "    type: email\n"
	         "    url: smtp://127.0.0.1:%d\n"
	         "    from: yiwang@example.org\n"
	         "    to: soc@example.org\n"
	         "    timeout: 5s\n",
	         r.port, e->cert, plain.port);
	struct yw_notify *n = open_real(e, yaml);
	send_alert(n);
	assert_int_equal(yw_notify_dispatch(n, real_ms()), 1);
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_int_equal(s.retries, 1);
	yw_notify_free(n);
	stop(&r);
	stop(&plain);
	json_t *recs = records(&r);
	assert_int_equal(json_array_size(recs), 1);
	json_t *m = json_array_get(recs, 0);
	assert_true(json_is_true(json_object_get(m, "tls")));
	assert_string_equal(json_string_value(json_object_get(m, "from")), "<yiwang@example.org>");
	assert_int_equal(json_array_size(json_object_get(m, "rcpt")), 2);
	assert_string_equal(json_string_value(json_object_get(m, "auth")), "yiwang");
	assert_string_equal(json_string_value(json_object_get(m, "password")), "mail-password");
	const char *data = json_string_value(json_object_get(m, "data"));
	assert_non_null(strstr(data, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(data, "Content-Type: text/html; charset=utf-8"));
	json_decref(recs);
	assert_int_equal(json_array_size((recs = records(&plain))), 0);
	json_decref(recs);
}

static void test_syslog(void **state)
{
	struct env *e = *state;
	struct receiver tcp = {0}, tls = {0};
	if (start(e, &tcp, "syslog", "-", "-", "x"))
		skip();
	bool with_tls = e->have_tls && !start(e, &tls, "syslog", e->cert, e->key, "x");
	char yaml[2048];
	int len = snprintf(yaml, sizeof(yaml),
	                   "channels:\n"
	                   "  - {name: siem, type: syslog, url: 'tcp://127.0.0.1:%d',"
	                   " hostname: yw-test}\n"
	                   "  - {name: siem-cef, type: syslog, format: cef,"
	                   " url: 'tcp://127.0.0.1:%d'}\n",
	                   tcp.port, tcp.port);
	if (with_tls)
		snprintf(yaml + len, sizeof(yaml) - (size_t)len,
		         "  - {name: siem-tls, type: syslog, url: 'tls://127.0.0.1:%d',"
		         " ca_file: '%s'}\n"
		         /* Not the CA that signed the listener's certificate: refused. */
		         "  - {name: siem-untrusted, type: syslog, url: 'tls://127.0.0.1:%d',"
		         " ca_file: '/etc/ssl/certs/ca-certificates.crt', timeout: 5s}\n",
		         tls.port, e->cert, tls.port);
	struct yw_notify *n = open_real(e, yaml);
	send_alert(n);
	assert_int_equal(yw_notify_dispatch(n, real_ms()), with_tls ? 3 : 2);
	struct yw_notify_stats s;
	yw_notify_stats(n, &s);
	assert_int_equal(s.retries, with_tls ? 1 : 0);
	yw_notify_free(n);
	usleep(200000); /* the listener records after reading the whole frame */
	stop(&tcp);
	stop(&tls);
	json_t *recs = records(&tcp);
	assert_int_equal(json_array_size(recs), 2);
	int seen = 0;
	for (size_t i = 0; i < 2; i++) {
		json_t *x = json_array_get(recs, i);
		const char *msg = json_string_value(json_object_get(x, "msg"));
		if (strstr(msg, "CEF:0|yiwang|yiwang|")) {
			seen |= 1;
			assert_non_null(strstr(msg, "|rule-ssh|SSH brute force <b>|8|"));
		} else {
			seen |= 2;
			assert_true(!strncmp(msg, "<83>1 ", 6));
			assert_non_null(strstr(msg, " yw-test yiwang - alert [yiwang@32473 id=\""));
		}
	}
	assert_int_equal(seen, 3);
	json_decref(recs);
	if (with_tls) {
		recs = records(&tls);
		assert_int_equal(json_array_size(recs), 1);
		assert_true(json_is_true(json_object_get(json_array_get(recs, 0), "tls")));
		json_decref(recs);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_smtp),
	    cmocka_unit_test(test_syslog),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
