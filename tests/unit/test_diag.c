/* Diagnostics: counting, storage and the file:line:col print format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/diag.h"
#include "yiwang/error.h"

static void test_add_and_print(void **state)
{
	struct yw_diags d = YW_DIAGS_INIT;
	yw_diags_add(&d, YW_DIAG_ERROR, "r.yml", 3, 7, "unknown modifier '%s'", "foo");
	yw_diags_add(&d, YW_DIAG_WARNING, "r.yml", 0, 0, "deprecated %s", "timeframe");
	yw_diags_add(&d, YW_DIAG_ERROR, NULL, 1, 0, "x");
	assert_int_equal(d.n, 3);
	assert_int_equal(d.nerrors, 2);
	assert_int_equal(d.nwarnings, 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	yw_diags_print(&d, f);
	fclose(f);
	assert_string_equal(buf, "r.yml:3:7: error: unknown modifier 'foo'\n"
				 "r.yml: warning: deprecated timeframe\n"
				 "-:1:1: error: x\n");
	free(buf);
	yw_diags_free(&d);
	assert_int_equal(d.n, 0);
	assert_null(d.v);
}

static void test_many(void **state)
{
	struct yw_diags d = YW_DIAGS_INIT;
	for (int i = 0; i < 1000; i++)
		yw_diags_add(&d, YW_DIAG_ERROR, "f", (unsigned)i + 1, 1, "n%d", i);
	assert_int_equal(d.n, 1000);
	assert_string_equal(d.v[999].msg, "n999");
	assert_int_equal(d.v[999].line, 1000);
	yw_diags_free(&d);
	assert_string_equal(yw_strerror(YW_ELIMIT), "limit exceeded");
	assert_string_equal(yw_strerror(12345), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_print),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
