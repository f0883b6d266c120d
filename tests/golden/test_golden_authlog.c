/* Golden test: a real Ubuntu auth.log (corpus/auth/ubuntu-ec2-auth.log). Every line must become
 * an event with process.name, and the counts below, derived with grep from the raw file, must
 * match what the decoders report:
 *   failed  = grep -cE 'sshd\[[0-9]+\]: (message repeated [0-9]+ times: \[ )?Failed
 * (password|publickey) ' invalid = grep -cE 'sshd\[[0-9]+\]: (Invalid user |input_userauth_request:
 * invalid user )' accepted= grep -cE 'sshd\[[0-9]+\]: Accepted ' sudo    = grep -cE 'sudo: +[^ ]+ :
 * TTY=[^;]*; PWD=[^;]*; USER=[^;]*; COMMAND=' pam     = grep -cE 'pam_unix\([a-z]+:auth\):
 * authentication failure;' top IPs = the failed lines' " from IP port" addresses, sorted by count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_int.h"

struct ipcount {
	char ip[48];
	int n;
};

struct tally {
	int lines, no_prog, anomalies;
	int failed, invalid, accepted, sudo_cmd, pam_fail, user_created, cron_open, logind_new;
	int svc_sshd, svc_sudo, svc_cron, svc_auth;
	struct ipcount ips[1024];
	int nips;
};

static bool is(const struct yw_event *ev, const char *name, const char *want)
{
	const char *v = yw_event_str(ev, name);
	return v && strcmp(v, want) == 0;
}

static void count_ip(struct tally *t, const char *ip)
{
	for (int i = 0; i < t->nips; i++) {
		if (strcmp(t->ips[i].ip, ip) == 0) {
			t->ips[i].n++;
			return;
		}
	}
	assert_true(t->nips < 1024);
	snprintf(t->ips[t->nips].ip, sizeof(t->ips[0].ip), "%s", ip);
	t->ips[t->nips++].n = 1;
}

static int by_count(const void *a, const void *b)
{
	const struct ipcount *x = a, *y = b;
	return y->n != x->n ? y->n - x->n : strcmp(x->ip, y->ip);
}

static void tally_event(struct tally *t, struct yw_event *ev)
{
	if (!yw_event_get(ev, "process.name"))
		t->no_prog++;
	t->anomalies += (int)yw_event_nanomalies(ev);
	bool fail = is(ev, "event.outcome", "failure");
	if (is(ev, "event.action", "ssh_login") && fail) {
		t->failed++;
		const char *ip = yw_event_str(ev, "source.ip");
		assert_non_null(ip);
		count_ip(t, ip);
	}
	if (is(ev, "event.action", "ssh_login") && is(ev, "event.outcome", "success"))
		t->accepted++;
	t->invalid += is(ev, "event.action", "ssh_invalid_user");
	t->sudo_cmd += is(ev, "event.action", "sudo_command");
	t->pam_fail += is(ev, "event.action", "pam_auth_failure");
	t->user_created += is(ev, "event.action", "user_created") && !fail;
	t->cron_open += is(ev, "event.action", "session_opened") && is(ev, "process.name", "CRON");
	t->logind_new += is(ev, "event.action", "logind_session_new");
	const char *svc = yw_event_logsource(ev)->service;
	assert_non_null(svc);
	t->svc_sshd += strcmp(svc, "sshd") == 0;
	t->svc_sudo += strcmp(svc, "sudo") == 0;
	t->svc_cron += strcmp(svc, "cron") == 0;
	t->svc_auth += strcmp(svc, "auth") == 0;
}

static void test_authlog(void **state)
{
	FILE *f = fopen(YW_SHARED_DIR "/corpus/auth/ubuntu-ec2-auth.log", "rb");
	assert_non_null(f);
	struct yw_event *ev = yw_event_new();
	struct tally *t = calloc(1, sizeof(*t));
	assert_non_null(ev);
	assert_non_null(t);
	struct yw_decode_opts opts = {.default_year = 2017};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		yw_event_clear(ev);
		assert_int_equal(yw_decode_syslog_line(ev, line, (size_t)n, &opts), 0);
		assert_non_null(yw_event_get(ev, "@timestamp"));
		t->lines++;
		tally_event(t, ev);
	}
	free(line);
	fclose(f);
	assert_int_equal(t->lines, 7121);
	assert_int_equal(t->no_prog, 0);
	assert_int_equal(t->anomalies, 0);
	assert_int_equal(t->failed, 717);
	assert_int_equal(t->invalid, 356);
	assert_int_equal(t->accepted, 226);
	assert_int_equal(t->sudo_cmd, 186);
	assert_int_equal(t->pam_fail, 343);
	assert_int_equal(t->user_created, 10);
	assert_int_equal(t->cron_open, 632);
	assert_int_equal(t->logind_new, 226);
	/* grep -c 'sshd\[' / 'sudo:' / 'CRON\[' lines */
	assert_int_equal(t->svc_sshd, 4095);
	assert_int_equal(t->svc_sudo, 557);
	assert_int_equal(t->svc_cron, 1264);

	qsort(t->ips, (size_t)t->nips, sizeof(t->ips[0]), by_count);
	static const struct ipcount top[] = {
	    {"24.151.103.17", 157}, {"34.204.227.175", 43}, {"49.4.143.105", 40},
	    {"201.178.81.113", 32}, {"122.163.61.218", 30}, {"181.26.186.35", 27},
	};
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		assert_string_equal(t->ips[i].ip, top[i].ip);
		assert_int_equal(t->ips[i].n, top[i].n);
	}
	free(t);
	yw_event_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_authlog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
