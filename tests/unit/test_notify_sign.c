/* Signatures of the notification receivers against answers computed independently with
 * `openssl dgst -sha256 -hmac` and python's hmac module (see the comment of each). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "yiwang/error.h"
#include "yiwang/notify.h"

/* printf '1700000000000\nSEC0123456789abcdef' |
 *   openssl dgst -sha256 -hmac 'SEC0123456789abcdef' -binary | base64, then URL-encoded */
static void test_dingtalk(void **state)
{
	(void)state;
	char out[128];
	assert_int_equal(
	    yw_notify_sign_dingtalk("SEC0123456789abcdef", 1700000000000LL, out, sizeof(out)), 0);
	assert_string_equal(out, "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
	/* A timestamp whose signature has '+', '/' and '=': all three percent-encoded. */
	assert_int_equal(
	    yw_notify_sign_dingtalk("SEC0123456789abcdef", 1700000000002LL, out, sizeof(out)), 0);
	assert_string_equal(out, "VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D");
	/* The timestamp is part of the signed text. */
	assert_int_equal(
	    yw_notify_sign_dingtalk("SEC0123456789abcdef", 1700000000001LL, out, sizeof(out)), 0);
	assert_string_not_equal(out, "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
	assert_int_equal(yw_notify_sign_dingtalk("SEC0123456789abcdef", 1700000000000LL, out, 20),
	                 YW_ELIMIT);
}

/* printf '' | openssl dgst -sha256 -mac HMAC
 *   -macopt key:"$(printf '1700000000\nfeishu-secret')" -binary | base64 */
static void test_feishu(void **state)
{
	(void)state;
	char out[128];
	assert_int_equal(yw_notify_sign_feishu("feishu-secret", 1700000000LL, out, sizeof(out)), 0);
	assert_string_equal(out, "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=");
	assert_int_equal(yw_notify_sign_feishu("feishu-secret", 1700000000LL, out, 40), YW_ELIMIT);
}

/* printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac hook-secret */
static void test_webhook(void **state)
{
	(void)state;
	char out[128];
	const char *body = "{\"a\":1}";
	assert_int_equal(yw_notify_sign_webhook("hook-secret", "1700000000", body, strlen(body),
	                                        out, sizeof(out)),
	                 0);
	assert_string_equal(
	    out, "sha256=2ca9484d0c409cd2998fd115eb688d50af3c4591f30a5124d6262b43877ed809");
	/* A different body or timestamp gives a different signature. */
	assert_int_equal(yw_notify_sign_webhook("hook-secret", "1700000001", body, strlen(body),
	                                        out, sizeof(out)),
	                 0);
	assert_string_not_equal(
	    out, "sha256=2ca9484d0c409cd2998fd115eb688d50af3c4591f30a5124d6262b43877ed809");
	assert_int_equal(
	    yw_notify_sign_webhook("hook-secret", "1700000000", body, strlen(body), out, 70),
	    YW_ELIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dingtalk),
	    cmocka_unit_test(test_feishu),
	    cmocka_unit_test(test_webhook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
