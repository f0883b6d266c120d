/* The bounded reader and the writers: round trips, and no read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "yiwang/buf.h"
#include "yiwang/error.h"

static void test_round_trip(void **state)
{
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_put_u8(&b, 0xab), 0);
	assert_int_equal(yw_put_u16(&b, 0x1234), 0);
	assert_int_equal(yw_put_u32(&b, 0xdeadbeef), 0);
	assert_int_equal(yw_put_u64(&b, 0x0102030405060708ULL), 0);
	assert_int_equal(yw_put_str16(&b, "abc", 3), 0);
	assert_int_equal(yw_put_str32(&b, "hello", 5), 0);
	assert_int_equal(b.len, 1 + 2 + 4 + 8 + 5 + 9);
	assert_memory_equal(b.data + 1, "\x12\x34\xde\xad\xbe\xef", 6);

	struct yw_reader r;
	yw_reader_init(&r, b.data, b.len);
	uint8_t a;
	uint16_t c;
	uint32_t d, n32;
	uint64_t e;
	const char *s;
	uint16_t n16;
	assert_int_equal(yw_get_u8(&r, &a), 0);
	assert_int_equal(a, 0xab);
	assert_int_equal(yw_get_u16(&r, &c), 0);
	assert_int_equal(c, 0x1234);
	assert_int_equal(yw_get_u32(&r, &d), 0);
	assert_int_equal(d, 0xdeadbeef);
	assert_int_equal(yw_get_u64(&r, &e), 0);
	assert_true(e == 0x0102030405060708ULL);
	assert_int_equal(yw_get_str16(&r, &s, &n16), 0);
	assert_int_equal(n16, 3);
	assert_memory_equal(s, "abc", 3);
	assert_int_equal(yw_get_str32(&r, &s, &n32, 5), 0);
	assert_memory_equal(s, "hello", 5);
	assert_int_equal(r.len, 0);
	assert_int_equal(yw_get_u8(&r, &a), YW_EPARSE);
	yw_strbuf_free(&b);
}

static void test_truncated_and_limits(void **state)
{
	/* A length prefix that claims more than is there fails and consumes nothing usable. */
	const uint8_t claim[] = {0x00, 0x10, 'a', 'b'};
	struct yw_reader r;
	const char *s;
	uint16_t n16;
	uint32_t n32;
	yw_reader_init(&r, claim, sizeof(claim));
	assert_int_equal(yw_get_str16(&r, &s, &n16), YW_EPARSE);
	const uint8_t big[] = {0x00, 0x00, 0x00, 0x09, 'x'};
	yw_reader_init(&r, big, sizeof(big));
	assert_int_equal(yw_get_str32(&r, &s, &n32, 8), YW_ELIMIT);
	yw_reader_init(&r, big, 3);
	uint32_t v;
	assert_int_equal(yw_get_u32(&r, &v), YW_EPARSE);
	struct yw_strbuf b;
	yw_strbuf_init(&b, 4);
	assert_int_equal(yw_put_u32(&b, 1), 0);
	assert_int_equal(yw_put_u8(&b, 1), YW_ELIMIT);
	static char huge[70000];
	assert_int_equal(yw_put_str16(&b, huge, sizeof(huge)), YW_ELIMIT);
	yw_strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
