/* The HTTP API's authentication (src/server/http/auth.c): password hashes, tokens, users,
 * sessions, the audit log and the login-failure limiter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/http/auth.h"
#include "yiwang/error.h"
#include "yw_limits.h"

#define SEC 1000000000LL

static void test_password_hash_verify(void **state)
{
	char a[YW_AUTH_HASH_TEXT], b[YW_AUTH_HASH_TEXT];
	assert_int_equal(yw_auth_password_hash("s3cret-pass", 1000, a, sizeof(a)), 0);
	assert_int_equal(yw_auth_password_hash("s3cret-pass", 1000, b, sizeof(b)), 0);
	assert_true(!strncmp(a, "pbkdf2-sha256$1000$", 19));
	assert_string_not_equal(a, b); /* a fresh salt each time */
	assert_int_equal(yw_auth_password_verify("s3cret-pass", a), 0);
	assert_int_equal(yw_auth_password_verify("s3cret-pass", b), 0);
	assert_int_equal(yw_auth_password_verify("s3cret-pasS", a), YW_EAUTH);
	assert_int_equal(yw_auth_password_verify("", a), YW_EAUTH);
	assert_int_equal(yw_auth_password_hash("x", 1000, a, 10), YW_EINVAL);
}

/* A hash made by another implementation (Python's hashlib.pbkdf2_hmac) verifies. */
static void test_password_known_vector(void **state)
{
	const char *enc = "pbkdf2-sha256$1000$00112233445566778899aabbccddeeff$"
	                  "4c5805526868c915a4cba43d75ec6b0a07152bb7b9ca30501c96ea0f91886829";
	assert_int_equal(yw_auth_password_verify("correct horse", enc), 0);
	assert_int_equal(yw_auth_password_verify("correct horsf", enc), YW_EAUTH);
}

static void test_password_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "plain",
	    "bcrypt$10$abc",
	    "pbkdf2-sha256$$00112233445566778899aabbccddeeff$00",
	    "pbkdf2-sha256$0$00112233445566778899aabbccddeeff$"
	    "4c5805526868c915a4cba43d75ec6b0a07152bb7b9ca30501c96ea0f91886829",
	    "pbkdf2-sha256$99999999999$00112233445566778899aabbccddeeff$"
	    "4c5805526868c915a4cba43d75ec6b0a07152bb7b9ca30501c96ea0f91886829",
	    "pbkdf2-sha256$1000$0011$"
	    "4c5805526868c915a4cba43d75ec6b0a07152bb7b9ca30501c96ea0f91886829",
	    "pbkdf2-sha256$1000$00112233445566778899aabbccddeeff$4c58",
	    "pbkdf2-sha256$1000$0011223344556677889XAABBCCDDEEFF$"
	    "4c5805526868c915a4cba43d75ec6b0a07152bb7b9ca30501c96ea0f91886829",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(yw_auth_password_verify("correct horse", bad[i]), YW_EINVAL);
	assert_int_equal(yw_auth_password_verify(NULL, bad[1]), YW_EINVAL);
}

static void test_token_new(void **state)
{
	char t1[YW_AUTH_TOKEN_TEXT], t2[YW_AUTH_TOKEN_TEXT];
	uint8_t h1[32], h2[32], h[32];
	assert_int_equal(yw_auth_token_new('a', t1, sizeof(t1), h1), 0);
	assert_int_equal(yw_auth_token_new('a', t2, sizeof(t2), h2), 0);
	assert_int_equal(strlen(t1), YW_AUTH_TOKEN_TEXT - 1);
	assert_true(!strncmp(t1, "ywa_", 4));
	assert_int_equal(strspn(t1 + 4, "0123456789abcdef"), 64);
	assert_string_not_equal(t1, t2);
	yw_auth_token_hash(t1, h);
	assert_memory_equal(h, h1, 32);
	assert_memory_not_equal(h1, h2, 32);
	assert_int_equal(yw_auth_token_new('a', t1, 10, h1), YW_EINVAL);
}

static void test_roles(void **state)
{
	assert_int_equal(yw_auth_role_parse("viewer"), YW_ROLE_VIEWER);
	assert_int_equal(yw_auth_role_parse("analyst"), YW_ROLE_ANALYST);
	assert_int_equal(yw_auth_role_parse("admin"), YW_ROLE_ADMIN);
	assert_int_equal(yw_auth_role_parse("root"), YW_EINVAL);
	assert_int_equal(yw_auth_role_parse(NULL), YW_EINVAL);
	assert_string_equal(yw_auth_role_name(YW_ROLE_ANALYST), "analyst");
	assert_string_equal(yw_auth_role_name(7), "unknown");
}

struct fx {
	char dir[64];
	struct yw_auth *a;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/yw-auth.XXXXXX");
	if (!mkdtemp(f->dir) || yw_auth_open(f->dir, &f->a))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	yw_auth_close(f->a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void test_db_mode(void **state)
{
	struct fx *f = *state;
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/api.db", f->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_users_and_sessions(void **state)
{
	struct yw_auth *a = ((struct fx *)*state)->a;
	char tok[YW_AUTH_TOKEN_TEXT], tok2[YW_AUTH_TOKEN_TEXT], user[YW_HTTP_MAX_NAME + 1];
	int role = -1;
	int64_t now = 1000 * SEC;
	assert_int_equal(yw_auth_user_add(a, "alice", "alice-password", YW_ROLE_ANALYST, now), 0);
	assert_int_equal(yw_auth_user_add(a, "alice", "other-password", YW_ROLE_ADMIN, now),
	                 YW_EEXIST);
	assert_int_equal(yw_auth_user_add(a, "bob", "short", YW_ROLE_VIEWER, now), YW_EINVAL);
	assert_int_equal(yw_auth_user_add(a, "b ob", "long-enough", YW_ROLE_VIEWER, now),
	                 YW_EINVAL);
	assert_int_equal(yw_auth_user_add(a, "", "long-enough", YW_ROLE_VIEWER, now), YW_EINVAL);
	assert_int_equal(yw_auth_user_add(a, "bob", "long-enough", 3, now), YW_EINVAL);

	assert_int_equal(
	    yw_auth_login(a, "alice", "wrong-password", now, 60 * SEC, tok, sizeof(tok), &role),
	    YW_EAUTH);
	assert_int_equal(
	    yw_auth_login(a, "mallory", "alice-password", now, 60 * SEC, tok, sizeof(tok), &role),
	    YW_EAUTH);
	assert_int_equal(
	    yw_auth_login(a, "alice", "alice-password", now, 60 * SEC, tok, sizeof(tok), &role), 0);
	assert_int_equal(role, YW_ROLE_ANALYST);
	assert_true(!strncmp(tok, "yws_", 4));

	role = -1;
	assert_int_equal(yw_auth_check(a, tok, now + 59 * SEC, user, sizeof(user), &role), 0);
	assert_string_equal(user, "alice");
	assert_int_equal(role, YW_ROLE_ANALYST);
	/* Expired at now + ttl. */
	assert_int_equal(yw_auth_check(a, tok, now + 60 * SEC, user, sizeof(user), &role),
	                 YW_EAUTH);
	/* A token one character off, a truncated one, garbage. */
	memcpy(tok2, tok, sizeof(tok));
	tok2[10] = tok2[10] == 'a' ? 'b' : 'a';
	assert_int_equal(yw_auth_check(a, tok2, now, user, sizeof(user), &role), YW_EAUTH);
	tok2[20] = 0;
	assert_int_equal(yw_auth_check(a, tok2, now, user, sizeof(user), &role), YW_EAUTH);
	assert_int_equal(yw_auth_check(a, "", now, user, sizeof(user), &role), YW_EAUTH);
	assert_int_equal(yw_auth_check(a, NULL, now, user, sizeof(user), &role), YW_EAUTH);

	/* Logout ends the session. */
	assert_int_equal(yw_auth_revoke(a, tok), 0);
	assert_int_equal(yw_auth_check(a, tok, now, user, sizeof(user), &role), YW_EAUTH);
	assert_int_equal(yw_auth_revoke(a, tok), YW_ENOENT);
}

static void test_api_tokens(void **state)
{
	struct yw_auth *a = ((struct fx *)*state)->a;
	char t1[YW_AUTH_TOKEN_TEXT], t2[YW_AUTH_TOKEN_TEXT], user[YW_HTTP_MAX_NAME + 1];
	int role = -1;
	int64_t now = 1000 * SEC;
	assert_int_equal(yw_auth_user_add(a, "carol", "carol-password", YW_ROLE_VIEWER, now), 0);
	assert_int_equal(yw_auth_api_token_create(a, "nobody", "x", 0, now, t1, sizeof(t1)),
	                 YW_ENOENT);
	assert_int_equal(yw_auth_api_token_create(a, "carol", "ci", 0, now, t1, sizeof(t1)), 0);
	assert_int_equal(yw_auth_api_token_create(a, "carol", NULL, now + SEC, now, t2, sizeof(t2)),
	                 0);
	assert_true(!strncmp(t1, "ywa_", 4));
	/* Never expires, even far in the future. */
	assert_int_equal(yw_auth_check(a, t1, now + 1000000 * SEC, user, sizeof(user), &role), 0);
	assert_string_equal(user, "carol");
	assert_int_equal(role, YW_ROLE_VIEWER);
	assert_int_equal(yw_auth_check(a, t2, now + SEC / 2, user, sizeof(user), &role), 0);
	assert_int_equal(yw_auth_check(a, t2, now + SEC, user, sizeof(user), &role), YW_EAUTH);
	/* Deleting the user takes its tokens away. */
	assert_int_equal(yw_auth_user_delete(a, "carol"), 0);
	assert_int_equal(yw_auth_check(a, t1, now, user, sizeof(user), &role), YW_EAUTH);
	assert_int_equal(yw_auth_user_delete(a, "carol"), YW_ENOENT);
}

static int count_user(void *ctx, const struct yw_auth_user *u)
{
	(*(int *)ctx)++;
	return 0;
}

static int collect_audit(void *ctx, const struct yw_auth_audit_row *r)
{
	struct yw_auth_audit_row *out = ctx;
	out[r->id - 1] = *r;
	out[r->id - 1].path = strlen(r->path) == YW_HTTP_MAX_AUDIT_TEXT ? "cut" : "whole";
	out[r->id - 1].user = !strcmp(r->user, "dave") ? "dave" : "?";
	return 0;
}

static void test_audit_and_list(void **state)
{
	struct yw_auth *a = ((struct fx *)*state)->a;
	char longpath[2000];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(yw_auth_user_add(a, "dave", "dave-password", YW_ROLE_ADMIN, 1), 0);
	int n = 0;
	assert_int_equal(yw_auth_user_list(a, count_user, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(yw_auth_audit(a, 5, "dave", "127.0.0.1", "POST", "/api/v1/x", 200), 0);
	assert_int_equal(yw_auth_audit(a, 6, NULL, "::1", "POST", longpath, 401), 0);
	struct yw_auth_audit_row rows[2];
	memset(rows, 0, sizeof(rows));
	assert_int_equal(yw_auth_audit_list(a, 0, 10, collect_audit, rows), 0);
	assert_int_equal(rows[0].ts, 5);
	assert_int_equal(rows[0].status, 200);
	assert_string_equal(rows[0].user, "dave");
	assert_string_equal(rows[0].path, "whole");
	assert_int_equal(rows[1].status, 401);
	assert_string_equal(rows[1].path, "cut");
	/* after_id skips what was seen. */
	memset(rows, 0, sizeof(rows));
	assert_int_equal(yw_auth_audit_list(a, 1, 10, collect_audit, rows), 0);
	assert_int_equal(rows[0].ts, 0);
	assert_int_equal(rows[1].ts, 6);
}

static void test_login_limiter(void **state)
{
	struct yw_auth *a = ((struct fx *)*state)->a;
	int64_t now = 5000 * SEC;
	int retry = 0;
	for (int i = 0; i < YW_HTTP_LOGIN_FAILS; i++) {
		assert_int_equal(yw_auth_limit_check(a, "192.0.2.1", now, &retry), 0);
		yw_auth_limit_fail(a, "192.0.2.1", now + i);
	}
	assert_int_equal(yw_auth_limit_check(a, "192.0.2.1", now + SEC, &retry), YW_ELIMIT);
	assert_true(retry > 0 && retry <= YW_HTTP_LOGIN_WINDOW_NS / SEC + 1);
	/* Another address is not affected. */
	assert_int_equal(yw_auth_limit_check(a, "192.0.2.2", now + SEC, &retry), 0);
	/* The window ends. */
	assert_int_equal(yw_auth_limit_check(a, "192.0.2.1", now + YW_HTTP_LOGIN_WINDOW_NS, &retry),
	                 0);
	/* A success resets the count. */
	for (int i = 0; i < YW_HTTP_LOGIN_FAILS - 1; i++)
		yw_auth_limit_fail(a, "192.0.2.3", now);
	yw_auth_limit_reset(a, "192.0.2.3");
	yw_auth_limit_fail(a, "192.0.2.3", now);
	assert_int_equal(yw_auth_limit_check(a, "192.0.2.3", now, &retry), 0);
	/* More addresses than tracked: the table reuses the oldest entries, never grows. */
	char addr[32];
	for (int i = 0; i < YW_HTTP_LOGIN_TRACKED + 10; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		yw_auth_limit_fail(a, addr, now + i);
	}
	assert_int_equal(yw_auth_limit_check(a, "10.0.0.0", now, &retry), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_password_hash_verify),
	    cmocka_unit_test(test_password_known_vector),
	    cmocka_unit_test(test_password_malformed),
	    cmocka_unit_test(test_token_new),
	    cmocka_unit_test(test_roles),
	    cmocka_unit_test_setup_teardown(test_db_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_users_and_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_and_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_limiter, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
