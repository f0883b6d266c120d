/* Golden test against another engine's pre-decoding (OSSEC ossec-logtest, corpus
 * ossec-logtesting/N/{log,res}): host.name, process.name and message must agree with its
 * hostname, program_name and log for every case. dotests.sh runs it on a host named
 * "melancia", which is what that engine reports for lines without a host; we pass the same
 * name as default_host. "(null)" program_name means no program.
 *
 * Exceptions, for one principled reason: that engine only accepts a day of month padded to two
 * characters ("May  4"), so for lines written "May 4 11:17:42 host prog[pid]: ..." it parses
 * no header at all and reports the whole line as the message. rsyslog, syslog-ng and journald
 * accept the unpadded form, and these are the lines (sshd failures, su, sudo, account changes)
 * a detector needs decoded. For them we assert the host and program read from the line and a
 * message equal to the text after "prog[pid]: " of that engine's log. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode_int.h"

#define DIR    YW_SHARED_DIR "/corpus/ossec-logtesting/"
#define NCASES 44

static const struct {
	int n;
	const char *host, *prog;
} unpadded[] = {
    {12, "niban", "su(pam_unix)"},
    {13, "niban", "su(pam_unix)"},
    {14, "niban", "su(pam_unix)"},
    {15, "niban", "su(pam_unix)"},
    {16, "lili", "su"},
    {17, "lili", "su"},
    {18, "lili", "su"},
    {22, "niban", "groupadd"},
    {23, "niban", "groupadd"},
    {24, "niban", "adduser"},
    {25, "nogan", "sudo"},
    {28, "niban", "sudo"},
    {29, "niban", "sudo"},
    {30, "niban", "sudo"},
    {40, "enigma", "sshd"},
    {41, "enigma", "sshd"},
    {44, "10.10.10.1", "%IPS-4-SIGNATURE"},
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 16);
	size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* Value of "       key: '...'" in a res file (up to the quote ending the line). */
static bool res_value(const char *res, size_t len, const char *key, const char **v, size_t *vn)
{
	char pat[64];
	int pn = snprintf(pat, sizeof(pat), "\n       %s: '", key);
	const char *p = memmem(res, len, pat, (size_t)pn);
	if (!p)
		return false;
	p += pn;
	const char *e = memchr(p, '\n', len - (size_t)(p - res));
	if (!e || e == p || e[-1] != '\'')
		return false;
	*v = p;
	*vn = (size_t)(e - 1 - p);
	return true;
}

static void expect(int n, const char *what, const char *want, size_t wn, const char *got, size_t gn)
{
	if (wn != gn || memcmp(want, got, wn) != 0)
		fail_msg("case %d %s: expected '%.*s', got '%.*s'", n, what, (int)wn, want, (int)gn,
		         got);
}

static void test_ossec(void **state)
{
	struct yw_event *ev = yw_event_new();
	assert_non_null(ev);
	struct yw_decode_opts opts = {.default_year = 2024, .default_host = "melancia"};
	int agreed = 0, excepted = 0;
	for (int n = 1; n <= NCASES; n++) {
		char path[512];
		size_t ll = 0, rl = 0;
		snprintf(path, sizeof(path), DIR "%d/log", n);
		char *log = slurp(path, &ll);
		snprintf(path, sizeof(path), DIR "%d/res", n);
		char *res = slurp(path, &rl);
		assert_non_null(log);
		assert_non_null(res);
		if (ll && log[ll - 1] == '\n')
			ll--;
		const char *host = NULL, *prog = NULL, *msg = NULL;
		size_t hn = 0, pn = 0, mn = 0;
		assert_true(res_value(res, rl, "hostname", &host, &hn));
		assert_true(res_value(res, rl, "program_name", &prog, &pn));
		assert_true(res_value(res, rl, "log", &msg, &mn));

		yw_event_clear(ev);
		assert_int_equal(yw_decode_syslog_line(ev, log, ll, &opts), 0);
		const struct yw_field *h = yw_event_get(ev, "host.name");
		const struct yw_field *p = yw_event_get(ev, "process.name");
		const struct yw_field *m = yw_event_get(ev, "message");
		assert_non_null(h);
		assert_non_null(m);
		const char *gp = p ? p->text : "(null)";
		size_t gpn = p ? p->len : 6;

		size_t x = 0;
		while (x < sizeof(unpadded) / sizeof(unpadded[0]) && unpadded[x].n != n)
			x++;
		if (x < sizeof(unpadded) / sizeof(unpadded[0])) {
			/* That engine saw no header: its log is the whole line. */
			expect(n, "their log", log, ll, msg, mn);
			expect(n, "host.name", unpadded[x].host, strlen(unpadded[x].host), h->text,
			       h->len);
			expect(n, "process.name", unpadded[x].prog, strlen(unpadded[x].prog), gp,
			       gpn);
			assert_true(m->len > 0 && m->len < mn);
			expect(n, "message suffix", msg + mn - m->len, m->len, m->text, m->len);
			const char *before = msg + mn - m->len - 2;
			assert_true(before[0] == ':' && before[1] == ' ');
			excepted++;
		} else {
			expect(n, "host.name", host, hn, h->text, h->len);
			expect(n, "process.name", prog, pn, gp, gpn);
			expect(n, "message", msg, mn, m->text, m->len);
			agreed++;
		}
		free(log);
		free(res);
	}
	assert_int_equal(agreed, 27);
	assert_int_equal(excepted, 17);
	yw_event_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ossec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
