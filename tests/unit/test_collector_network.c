/* The network collector on this machine: a new TCP listener on 127.0.0.1 and an outbound
 * connection to it are reported with this process as owner; the accepted side only when
 * "inbound" is on; sockets that existed at the first scan are not reported. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "yiwang/collector.h"
#include "yiwang/error.h"

#define MAX_SEEN 256

struct seen {
	json_t *ev[MAX_SEEN]; /* events owned by this process */
	size_t nev;
	int invalid;
	int full_every, calls;
};

static int sink(void *ud, struct yw_record *rec, const void *cur, size_t cl)
{
	struct seen *s = ud;
	(void)cur;
	(void)cl;
	if (s->full_every && ++s->calls % s->full_every == 0)
		return YW_SINK_FULL;
	json_error_t err;
	json_t *j = json_loadb(rec->data, rec->len, 0, &err);
	if (!j) {
		s->invalid++;
		return 0;
	}
	if (json_integer_value(json_object_get(j, "process.pid")) == getpid() &&
	    s->nev < MAX_SEEN) {
		s->ev[s->nev++] = j;
		return 0;
	}
	json_decref(j);
	return 0;
}

static void free_seen(struct seen *s)
{
	for (size_t i = 0; i < s->nev; i++)
		json_decref(s->ev[i]);
	s->nev = 0;
}

/* The event with the given action and local (source, or destination for accepted) port. */
static const json_t *find(const struct seen *s, const char *action, const char *key, int port)
{
	for (size_t i = 0; i < s->nev; i++) {
		const char *a = json_string_value(json_object_get(s->ev[i], "event.action"));
		if (a && strcmp(a, action) == 0 &&
		    json_integer_value(json_object_get(s->ev[i], key)) == port)
			return s->ev[i];
	}
	return NULL;
}

struct trio {
	int lfd, cfd, afd;
	int lport, cport;
};

static void open_trio(struct trio *t)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(t->lfd >= 0);
	assert_int_equal(bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(t->lfd, 4), 0);
	assert_int_equal(getsockname(t->lfd, (struct sockaddr *)&sa, &sl), 0);
	t->lport = ntohs(sa.sin_port);
	t->cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(t->cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	t->afd = accept(t->lfd, NULL, NULL);
	assert_true(t->afd >= 0);
	sl = sizeof(sa);
	assert_int_equal(getsockname(t->cfd, (struct sockaddr *)&sa, &sl), 0);
	t->cport = ntohs(sa.sin_port);
}

static void close_trio(struct trio *t)
{
	close(t->afd);
	close(t->cfd);
	close(t->lfd);
}

static void *start(const char *inbound)
{
	struct yw_collector_opt o[] = {
	    {"interval_ms", "0"}, {"ignore_self", "off"}, {"inbound", inbound}};
	void *col = NULL;
	assert_int_equal(yw_collector_network.init(NULL, o, 3, &col), 0);
	assert_int_equal(yw_collector_network.fd(col), -1);
	return col;
}

static void test_listen_and_connect(void **st)
{
	(void)st;
	void *col = start("off");
	struct seen s = {0};
	struct trio before;
	open_trio(&before);
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0); /* baseline */
	assert_int_equal(s.nev, 0);

	struct trio t;
	open_trio(&t);
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	assert_int_equal(s.invalid, 0);

	const json_t *l = find(&s, "listening", "source.port", t.lport);
	assert_non_null(l);
	assert_string_equal(json_string_value(json_object_get(l, "logsource.category")),
	                    "network_listening");
	assert_string_equal(json_string_value(json_object_get(l, "source.ip")), "127.0.0.1");
	assert_string_equal(json_string_value(json_object_get(l, "network.transport")), "tcp");
	assert_null(json_object_get(l, "destination.ip"));

	const json_t *c = find(&s, "connected", "source.port", t.cport);
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "logsource.category")),
	                    "network_connection");
	assert_string_equal(json_string_value(json_object_get(c, "logsource.product")), "linux");
	assert_string_equal(json_string_value(json_object_get(c, "network.initiated")), "true");
	assert_string_equal(json_string_value(json_object_get(c, "network.type")), "ipv4");
	assert_string_equal(json_string_value(json_object_get(c, "destination.ip")), "127.0.0.1");
	assert_int_equal(json_integer_value(json_object_get(c, "destination.port")), t.lport);
	assert_string_equal(json_string_value(json_object_get(c, "user.name")), "root");
	const char *exe = json_string_value(json_object_get(c, "process.executable"));
	assert_non_null(exe);
	assert_non_null(strstr(exe, "test_collector_network"));
	assert_string_equal(json_string_value(json_object_get(c, "process.name")),
	                    "test_collector_network");
	assert_null(json_object_get(c, "yiwang.anomaly"));

	/* the accepted side is not outbound; inbound is off */
	assert_null(find(&s, "accepted", "destination.port", t.lport));
	/* sockets of the baseline scan are not reported */
	assert_null(find(&s, "listening", "source.port", before.lport));
	assert_null(find(&s, "connected", "source.port", before.cport));

	/* nothing new: nothing reported again */
	free_seen(&s);
	assert_int_equal(yw_collector_network.poll(col, sink, &s), 0);
	assert_int_equal(s.nev, 0);
	close_trio(&t);
	close_trio(&before);
	yw_collector_network.exit(col);
}

static void test_inbound_and_full_sink(void **st)
{
	(void)st;
	void *col = start("on");
	struct seen s = {.full_every = 2};
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	struct trio t;
	open_trio(&t);
	/* the sink refuses every other offer: the refused event is offered again */
	for (int i = 0; i < 20; i++)
		assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	assert_non_null(find(&s, "listening", "source.port", t.lport));
	assert_non_null(find(&s, "connected", "source.port", t.cport));
	const json_t *a = find(&s, "accepted", "destination.port", t.lport);
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "network.initiated")), "false");
	assert_int_equal(json_integer_value(json_object_get(a, "source.port")), t.cport);
	/* each once */
	size_t n = 0;
	for (size_t i = 0; i < s.nev; i++) {
		json_int_t sp = json_integer_value(json_object_get(s.ev[i], "source.port"));
		json_int_t dp = json_integer_value(json_object_get(s.ev[i], "destination.port"));
		n += sp == t.lport || sp == t.cport || dp == t.lport;
	}
	assert_int_equal(n, 3);
	free_seen(&s);
	close_trio(&t);
	yw_collector_network.exit(col);
}

static void test_options(void **st)
{
	(void)st;
	void *col = NULL;
	struct yw_collector_opt bad[][1] = {
	    {{"interval_ms", "-1"}}, {{"listening", "maybe"}}, {{"colour", "x"}}};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(yw_collector_network.init(NULL, bad[i], 1, &col), YW_EINVAL);
		assert_null(col);
	}
	/* listening off, outbound off: a new listener and connection give nothing */
	struct yw_collector_opt o[] = {{"interval_ms", "0"},
	                               {"ignore_self", "off"},
	                               {"listening", "off"},
	                               {"outbound", "off"}};
	assert_int_equal(yw_collector_network.init(NULL, o, 4, &col), 0);
	struct seen s = {0};
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	struct trio t;
	open_trio(&t);
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	assert_int_equal(s.nev, 0);
	close_trio(&t);
	yw_collector_network.exit(col);
	/* ignore_self (the default) hides this process's own sockets */
	struct yw_collector_opt d[] = {{"interval_ms", "0"}};
	assert_int_equal(yw_collector_network.init(NULL, d, 1, &col), 0);
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	open_trio(&t);
	assert_true(yw_collector_network.poll(col, sink, &s) >= 0);
	assert_int_equal(s.nev, 0);
	close_trio(&t);
	yw_collector_network.exit(col);
	yw_collector_network.exit(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_and_connect),
	    cmocka_unit_test(test_inbound_and_full_sink),
	    cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
