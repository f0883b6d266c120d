/* Golden tests of the bundled correlation rules (rules/sigma/correlation) over the real
 * ubuntu-ec2 auth.log, the scripted attack story in samples/auth.log, and written sudo lines.
 *
 * Expected alerts were derived independently of the engine: the log was decoded to JSON
 * (`yiwang decode --year 2026`) and a 40-line Python script replayed the rules' semantics over
 * it: for each source.ip, a list of "Failed" times; append, drop entries older than 5 min,
 * alert at >= 5 and clear (brute force); a dict user.name -> last time over Failed+Invalid
 * events, drop > 10 min, alert at >= 4 distinct and clear (spraying); brute-force alert times
 * (at their last failure) then an "Accepted" from the same source within 1 h (login after
 * brute force). On the real log that gives 103 brute-force alerts (24.151.103.17: 29,
 * 49.4.143.105: 8, 34.204.227.175: 8, 122.163.61.218: 6, 201.178.81.113: 6, ...), 13 spraying
 * alerts (91.197.232.109: 12, 181.26.186.35: 1), 1 login after brute force
 * (24.151.103.17, 2026-03-30), and none for the account or sudo rules (40 user_created
 * events but no group additions; no sudo failures). The story has 6 failures and 4 user
 * names (admin, oracle, root, deploy) from 203.0.113.45 within a minute, then deploy's
 * accepted login, and svc-backup created then added to sudo: one alert each. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/correlate.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"
#include "yiwang/sigma.h"

#define MAX_SEEN 256

struct seen {
	char title[80], group[80];
	unsigned n;
};

struct run {
	struct yw_ruleset *rs;
	struct yw_corr *c;
	struct seen v[MAX_SEEN];
	size_t nv;
	unsigned alerts;
	int64_t login_after_bf_ns;
};

static int on_alert(void *ud, const struct yw_corr_alert *a)
{
	struct run *r = ud;
	char group[80];
	snprintf(group, sizeof(group), "%s", a->ngroup ? a->group_values[0] : "");
	r->alerts++;
	if (!strcmp(a->rule->title, "SSH Login After Brute Force From The Same Source"))
		r->login_after_bf_ns = a->last_ns;
	for (size_t i = 0; i < r->nv; i++)
		if (!strcmp(r->v[i].title, a->rule->title) && !strcmp(r->v[i].group, group)) {
			r->v[i].n++;
			return 0;
		}
	assert_true(r->nv < MAX_SEEN);
	struct seen *s = &r->v[r->nv++];
	snprintf(s->title, sizeof(s->title), "%s", a->rule->title);
	snprintf(s->group, sizeof(s->group), "%s", group);
	s->n = 1;
	return 0;
}

static int on_match(void *ud, const struct yw_rule_info *rule, const struct yw_event *ev)
{
	struct run *r = ud;
	return yw_corr_feed(r->c, rule, ev, on_alert, r);
}

static int on_event(void *ud, struct yw_event *ev)
{
	struct run *r = ud;
	return yw_ruleset_match(r->rs, ev, on_match, r);
}

static unsigned count(const struct run *r, const char *title, const char *group)
{
	unsigned n = 0;
	for (size_t i = 0; i < r->nv; i++)
		if (!strcmp(r->v[i].title, title) && (!group || !strcmp(r->v[i].group, group)))
			n += r->v[i].n;
	return n;
}

static void run_file(struct run *r, FILE *f)
{
	memset(r, 0, sizeof(*r));
	struct yw_diags d = YW_DIAGS_INIT;
	assert_non_null(r->rs = yw_ruleset_new());
	assert_int_equal(yw_ruleset_add_path(r->rs, YW_SOURCE_DIR "/rules/sigma", &d), 0);
	assert_int_equal(yw_ruleset_compile(r->rs, &d), 0);
	assert_int_equal(yw_corr_new(r->rs, NULL, &d, &r->c), 0);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(yw_corr_count(r->c), 5);
	yw_diags_free(&d);
	struct yw_decode_opts o = {.default_year = 2026};
	struct yw_decoder *dec = NULL;
	assert_int_equal(yw_decoder_new("auto", &o, on_event, r, &dec), 0);
	assert_int_equal(yw_decoder_file(dec, f), 0);
	yw_decoder_free(dec);
	assert_int_equal(yw_corr_flush(r->c, on_alert, r), 0);
}

static void done(struct run *r)
{
	yw_corr_free(r->c);
	yw_ruleset_free(r->rs);
}

static const char BF[] = "SSH Brute Force From One Source";
static const char SPRAY[] = "SSH Password Spraying From One Source";
static const char BFLOGIN[] = "SSH Login After Brute Force From The Same Source";
static const char NEWADM[] = "New Local User Added To A Privileged Group";
static const char SUDO[] = "Repeated Sudo Failures By One User";

static void test_real_auth_log(void **state)
{
	(void)state;
	FILE *f = fopen(YW_SHARED_DIR "/corpus/auth/ubuntu-ec2-auth.log", "r");
	assert_non_null(f);
	struct run r;
	run_file(&r, f);
	fclose(f);
	assert_int_equal(count(&r, BF, NULL), 103);
	assert_int_equal(count(&r, BF, "24.151.103.17"), 29);
	assert_int_equal(count(&r, BF, "49.4.143.105"), 8);
	assert_int_equal(count(&r, BF, "34.204.227.175"), 8);
	assert_int_equal(count(&r, BF, "122.163.61.218"), 6);
	assert_int_equal(count(&r, BF, "201.178.81.113"), 6);
	assert_int_equal(count(&r, SPRAY, NULL), 13);
	assert_int_equal(count(&r, SPRAY, "91.197.232.109"), 12);
	assert_int_equal(count(&r, SPRAY, "181.26.186.35"), 1);
	assert_int_equal(count(&r, BFLOGIN, NULL), 1);
	assert_int_equal(count(&r, BFLOGIN, "24.151.103.17"), 1);
	/* 1774886496 = 2026-03-30T16:01:36Z, the accepted login after the guessing. */
	assert_int_equal(r.login_after_bf_ns / 1000000000, 1774886496);
	assert_int_equal(count(&r, NEWADM, NULL), 0);
	assert_int_equal(count(&r, SUDO, NULL), 0);
	assert_int_equal(r.alerts, 117);
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(st.dropped_late, 0);
	done(&r);
}

static void test_sample_story(void **state)
{
	(void)state;
	FILE *f = fopen(YW_SOURCE_DIR "/samples/auth.log", "r");
	assert_non_null(f);
	struct run r;
	run_file(&r, f);
	fclose(f);
	assert_int_equal(count(&r, BF, "203.0.113.45"), 1);
	assert_int_equal(count(&r, SPRAY, "203.0.113.45"), 1);
	assert_int_equal(count(&r, BFLOGIN, "203.0.113.45"), 1);
	assert_int_equal(count(&r, NEWADM, "svc-backup"), 1);
	assert_int_equal(count(&r, SUDO, NULL), 0); /* one sudo failure line only */
	assert_int_equal(r.alerts, 4);
	done(&r);
}

static void test_sudo_failures(void **state)
{
	(void)state;
	static const char lines[] =
	    "Nov 26 02:00:00 h sudo:  mallory : 3 incorrect password attempts ; TTY=pts/2 ; "
	    "PWD=/home/mallory ; USER=root ; COMMAND=/bin/bash\n"
	    "Nov 26 02:01:00 h sudo:  bob : 3 incorrect password attempts ; TTY=pts/3 ; "
	    "PWD=/home/bob ; USER=root ; COMMAND=/bin/ls\n"
	    "Nov 26 02:03:00 h sudo:  mallory : user NOT in sudoers ; TTY=pts/2 ; "
	    "PWD=/home/mallory ; USER=root ; COMMAND=/bin/sh\n"
	    "Nov 26 02:20:00 h sudo:  bob : 3 incorrect password attempts ; TTY=pts/3 ; "
	    "PWD=/home/bob ; USER=root ; COMMAND=/bin/ls\n"
	    "Nov 26 02:05:00 h sudo:  mallory : 3 incorrect password attempts ; TTY=pts/2 ; "
	    "PWD=/home/mallory ; USER=root ; COMMAND=/usr/bin/id\n";
	/* bob: 2 failures 19 minutes apart -> none. mallory's third failure (02:05) arrives after
	 * bob's 02:20 line, 15 minutes behind the newest time: dropped as late (tolerance 60 s),
	 * so mallory has 2 -> none. */
	FILE *f = fmemopen((void *)lines, sizeof(lines) - 1, "r");
	assert_non_null(f);
	struct run r;
	run_file(&r, f);
	fclose(f);
	struct yw_corr_stats st;
	yw_corr_stats(r.c, &st);
	assert_int_equal(st.dropped_late, 1);
	assert_int_equal(count(&r, SUDO, NULL), 0);
	done(&r);

	static const char ordered[] =
	    "Nov 26 02:00:00 h sudo:  mallory : 3 incorrect password attempts ; TTY=pts/2 ; "
	    "PWD=/home/mallory ; USER=root ; COMMAND=/bin/bash\n"
	    "Nov 26 02:03:00 h sudo:  mallory : user NOT in sudoers ; TTY=pts/2 ; "
	    "PWD=/home/mallory ; USER=root ; COMMAND=/bin/sh\n"
	    "Nov 26 02:05:00 h sudo:  mallory : 3 incorrect password attempts ; TTY=pts/2 ; "
	    "PWD=/home/mallory ; USER=root ; COMMAND=/usr/bin/id\n";
	f = fmemopen((void *)ordered, sizeof(ordered) - 1, "r");
	assert_non_null(f);
	run_file(&r, f);
	fclose(f);
	assert_int_equal(count(&r, SUDO, "mallory"), 1);
	assert_int_equal(r.alerts, 1);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_auth_log),
	    cmocka_unit_test(test_sample_story),
	    cmocka_unit_test(test_sudo_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
