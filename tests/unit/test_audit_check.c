/* The audit rules check: keys of the shipped set and of `auditctl -l` output, and the missing
 * ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/audit_check.h"

static void test_keys_and_missing(void **state)
{
	/* auditctl -l prints rules in this form. */
	const char *loaded = "-a always,exit -F arch=b64 -S execve,execveat -F key=yw_exec\n"
			     "-w /etc/passwd -p wa -k yw_identity\n"
			     "-a always,exit -F arch=b32 -S execve -F key=yw_exec\n"
			     "# -w /etc/shadow -p wa -k commented\n"
			     "-w /etc/sudoers -p wa -k other_key\n";
	struct yw_strbuf have = YW_STRBUF_INIT, want = YW_STRBUF_INIT, miss = YW_STRBUF_INIT;
	assert_int_equal(yw_audit_rule_keys(loaded, strlen(loaded), &have), 3);
	assert_string_equal(have.data, "yw_exec,yw_identity,other_key");

	/* The shipped file: every rule has a key, and the check lists what the kernel lacks. */
	FILE *f = fopen(YW_SOURCE_DIR "/rules/audit/yiwang.rules", "r");
	assert_non_null(f);
	char *text = calloc(1, 1 << 16);
	size_t n = fread(text, 1, (1 << 16) - 1, f);
	fclose(f);
	size_t nkeys = yw_audit_rule_keys(text, n, &want);
	assert_true(nkeys >= 15);
	assert_non_null(strstr(want.data, "yw_exec"));
	size_t m = yw_audit_missing_keys(want.data, have.data, &miss);
	assert_int_equal(m, nkeys - 2);
	assert_null(strstr(miss.data, "yw_exec"));
	assert_non_null(strstr(miss.data, "yw_sudoers"));
	/* Every non-comment rule line of the shipped set carries a key. */
	int lines = 0, keyed = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		lines++;
		keyed += strstr(line, " -k yw_") != NULL;
	}
	assert_int_equal(lines, keyed);
	yw_strbuf_reset(&miss);
	assert_int_equal(yw_audit_missing_keys(want.data, want.data, &miss), 0);
	free(text);
	yw_strbuf_free(&have);
	yw_strbuf_free(&want);
	yw_strbuf_free(&miss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys_and_missing)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
