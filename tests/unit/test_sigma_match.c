/* Sigma value matching: every modifier of the appendix, escaping, null/empty, lists,
 * keywords, and the literal fragments exported for a prefilter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_match.h"
#include "yiwang/error.h"

#define S(x)                                                                                       \
	{                                                                                          \
		.kind = YW_SV_STR, .s = (x), .len = sizeof(x) - 1                                  \
	}
#define I(x)                                                                                       \
	{                                                                                          \
		.kind = YW_SV_INT, .s = #x, .len = sizeof(#x) - 1, .i = (x)                        \
	}
#define NUL                                                                                        \
	{                                                                                          \
		.kind = YW_SV_NULL                                                                 \
	}
#define SV(x) ((struct yw_sval){.kind = YW_SV_STR, .s = (x), .len = sizeof(x) - 1})
#define NV(a) (sizeof(a) / sizeof((a)[0]))

static char err[256];

/* Splits "a|b|c" into modifiers; "" gives none. */
static size_t split_mods(const char *spec, char *buf, const char **mods)
{
	size_t n = 0;
	if (!*spec)
		return 0;
	strcpy(buf, spec);
	for (char *p = strtok(buf, "|"); p; p = strtok(NULL, "|"))
		mods[n++] = p;
	return n;
}

static int compile(const char *spec, const struct yw_sval *v, size_t nv, int keyword,
                   const struct yw_placeholders *ph, struct yw_matcher **m)
{
	char buf[256];
	const char *mods[16] = {0};
	size_t nm = split_mods(spec, buf, mods);
	return yw_matcher_compile(mods, nm, v, nv, keyword, ph, m, err, sizeof(err));
}

static struct yw_matcher *mk(const char *spec, const struct yw_sval *v, size_t nv)
{
	struct yw_matcher *m = NULL;
	int rc = compile(spec, v, nv, 0, NULL, &m);
	if (rc)
		fail_msg("compile '%s' failed: %d %s", spec, rc, err);
	return m;
}

static struct yw_field sf(const char *s)
{
	struct yw_field f = {0};
	f.name = "f";
	f.type = YW_T_STR;
	f.text = s;
	f.len = (uint32_t)strlen(s);
	f.n = 1;
	return f;
}

static struct yw_field sfn(const char *s, size_t len)
{
	struct yw_field f = sf(s);
	f.len = (uint32_t)len;
	return f;
}

/* One string value with modifiers against one string field. */
static bool m1(const char *spec, const char *val, const char *text)
{
	struct yw_sval v = {.kind = YW_SV_STR, .s = val, .len = strlen(val)};
	struct yw_matcher *m = mk(spec, &v, 1);
	struct yw_field f = sf(text);
	bool r = yw_matcher_eval(m, &f, NULL, NULL);
	yw_matcher_free(m);
	return r;
}

static int errof(const char *spec, const struct yw_sval *v, size_t nv, int keyword)
{
	struct yw_matcher *m = NULL;
	int rc = compile(spec, v, nv, keyword, NULL, &m);
	assert_null(m);
	return rc;
}

static void test_plain_case_insensitive(void **st)
{
	(void)st;
	assert_true(
	    m1("", "C:\\Windows\\System32\\whoami.exe", "c:\\windows\\system32\\WHOAMI.EXE"));
	assert_false(m1("", "whoami.exe", "c:\\whoami.exe"));
	assert_false(m1("", "whoami", "whoami.exe"));
	assert_true(m1("cased", "Whoami", "Whoami"));
	assert_false(m1("cased", "Whoami", "whoami"));
	/* ASCII folding only: non-ASCII bytes compare exactly. */
	assert_true(m1("", "\xc3\xa9t\xc3\xa9", "\xc3\xa9T\xc3\xa9"));
	assert_false(m1("", "\xc3\xa9", "\xc3\x89"));
}

static void test_wildcards(void **st)
{
	(void)st;
	assert_true(m1("", "prog?.exe", "progA.exe"));
	assert_false(m1("", "prog?.exe", "prog.exe"));
	assert_false(m1("", "prog?.exe", "progAB.exe"));
	assert_true(m1("", "prog?.exe", "prog\xc3\xa9.exe")); /* `?` is one UTF-8 character */
	assert_true(m1("", "antivirus_V*.exe", "ANTIVIRUS_V21.2.1.exe"));
	assert_true(m1("", "antivirus_V*.exe", "antivirus_V.exe"));
	assert_false(m1("", "antivirus_V*.exe", "antivirus_V1.exe.bak"));
	assert_true(m1("", "*", ""));
	assert_true(m1("", "*", "anything"));
	assert_true(m1("", "a*b*c", "aXXbYYc"));
	assert_true(m1("", "a*b*c", "abc"));
	assert_false(m1("", "a*b*c", "acb"));
	assert_true(m1("", "*a?c*", "zzAbCzz"));
	assert_false(m1("", "*a?c", "abcd"));
	assert_true(m1("", "*a?c", "xxabc"));
	assert_true(m1("", "*?", "x"));
	assert_false(m1("", "*??", "x"));
	assert_true(m1("", "?*?", "ab"));
	assert_true(m1("", "a*?b",
	               "a\xe2\x80\x93"
	               "b"));
	assert_true(m1("cased", "A*b?", "AxxbZ"));
	assert_false(m1("cased", "A*b?", "axxbZ"));
	assert_false(m1("cased", "A*b?", "AxxBZ"));
}

static void test_escaping(void **st)
{
	(void)st;
	/* \* is a literal star */
	assert_true(m1("", "a\\*b", "a*b"));
	assert_false(m1("", "a\\*b", "axb"));
	/* \? is a literal question mark */
	assert_true(m1("", "what\\?", "what?"));
	assert_false(m1("", "what\\?", "whatx"));
	/* \\* is a backslash then a wildcard */
	assert_true(m1("", "a\\\\*", "a\\xyz"));
	assert_true(m1("", "a\\\\*", "a\\"));
	assert_false(m1("", "a\\\\*", "axyz"));
	/* \\\* is a backslash then a literal star */
	assert_true(m1("", "a\\\\\\*", "a\\*"));
	assert_false(m1("", "a\\\\\\*", "a\\x"));
	/* \\\\ is two backslashes; \\ alone is one */
	assert_true(m1("", "a\\\\\\\\b", "a\\\\b"));
	assert_true(m1("", "a\\\\b", "a\\b"));
	assert_false(m1("", "a\\\\b", "a\\\\b"));
	/* a backslash before another character, and a trailing one, are plain */
	assert_true(m1("", "C:\\Windows\\", "C:\\Windows\\"));
	assert_true(m1("startswith", "C:\\Windows\\", "c:\\windows\\system32"));
	assert_false(m1("startswith", "C:\\Windows\\", "c:\\windowsX"));
	assert_true(m1("", "\\\\?\\GLOBALROOT", "\\?\\GLOBALROOT"));
}

static void test_contains_startswith_endswith(void **st)
{
	(void)st;
	assert_true(m1("contains", "mimikatz", "x MimiKatz.exe y"));
	assert_false(m1("contains", "mimikatz", "mimi katz"));
	assert_true(m1("startswith", "adm", "ADMIN"));
	assert_false(m1("startswith", "adm", "xadm"));
	assert_true(m1("endswith", "\\cmd.exe", "C:\\Windows\\CMD.EXE"));
	assert_false(m1("endswith", "\\cmd.exe", "cmd.exe"));
	assert_true(m1("contains", "a*c", "xxabbbcxx"));
	assert_true(m1("contains|cased", "Foo", "xFooy"));
	assert_false(m1("contains|cased", "Foo", "xfooy"));
	assert_true(m1("contains", "", "anything"));
	/* contains on a field longer than the fold buffer and the search chunk */
	size_t n = 20000;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	memcpy(big + 4090, "NeEdLe", 6); /* straddles the first 4 KiB chunk */
	assert_true(m1("contains", "needle", big));
	assert_false(m1("contains", "needles", big));
	assert_true(m1("contains", "a*needle*a", big));
	assert_true(m1("endswith", "aaa", big));
	memcpy(big + n - 3, "XyZ", 3);
	assert_true(m1("contains", "xyz", big));
	assert_true(m1("contains", "?needle?", big));
	free(big);
}

static void test_all(void **st)
{
	(void)st;
	struct yw_sval v[] = {S("-nop"), S("-enc")};
	struct yw_matcher *m = mk("contains|all", v, 2);
	struct yw_field a = sf("powershell -NoP -Enc AAAA"), b = sf("powershell -nop");
	assert_true(yw_matcher_eval(m, &a, NULL, NULL));
	assert_false(yw_matcher_eval(m, &b, NULL, NULL));
	assert_true(yw_matcher_is_all(m));
	/* list fields: each value may be found in a different item */
	struct yw_str items[] = {{"x -nop", 6}, {"y -enc", 6}};
	struct yw_field l = {.name = "f", .type = YW_T_LIST, .n = 2, .items = items};
	l.text = items[0].s;
	l.len = items[0].len;
	assert_true(yw_matcher_eval(m, &l, NULL, NULL));
	yw_matcher_free(m);
	m = mk("contains", v, 2);
	assert_false(yw_matcher_is_all(m));
	assert_true(yw_matcher_eval(m, &b, NULL, NULL));
	yw_matcher_free(m);
}

static void test_windash(void **st)
{
	(void)st;
	const char *texts[] = {"ping -n 1", "ping /n 1", "ping \xe2\x80\x93n 1",
	                       "ping \xe2\x80\x94n 1", "ping \xe2\x80\x95n 1"};
	for (size_t i = 0; i < NV(texts); i++) {
		assert_true(m1("contains|windash", " -n ", texts[i]));
		assert_true(m1("windash|contains", " /n ", texts[i]));
	}
	assert_false(m1("contains|windash", " -n ", "ping _n 1"));
	/* only a dash starting a word is expanded: "a-b" stays */
	assert_false(m1("contains|windash", "a-b", "a/b"));
	assert_true(m1("contains|windash", "a-b", "A-B"));
	/* two dashes: 25 combinations */
	assert_true(m1("contains|windash", "-a -b",
	               "/a \xe2\x80\x94"
	               "b"));
	assert_true(m1("endswith|windash", "-accepteula", "procdump /ACCEPTEULA"));
}

static void test_base64(void **st)
{
	(void)st;
	/* printf 'IEX' | base64 -> SUVY */
	assert_true(m1("base64", "IEX", "SUVY"));
	assert_true(m1("base64|contains", "IEX", "xxSUVYxx"));
	assert_false(m1("base64", "IEX", "IEX"));
	/* printf 'wget' | base64 -> d2dldA== */
	assert_true(m1("base64", "wget", "d2dldA=="));
	/* base64 of a wildcard value is refused */
	struct yw_sval w = S("a*b");
	assert_int_equal(errof("base64", &w, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "wildcard"));
}

static int collect(void *ud, size_t group, const char *lit, size_t len, unsigned flags)
{
	char *out = ud;
	size_t o = strlen(out);
	snprintf(out + o, 1024 - o, "%zu:%.*s:%u;", group, (int)len, lit, flags);
	return 0;
}

static void test_base64offset(void **st)
{
	(void)st;
	/* printf 'http://' | base64 = aHR0cDovLw==; ' http://' = IGh0dHA6Ly8=;
	 * '  http://' = ICBodHRwOi8v; the stable parts are cut 0/-3, 2/-2, 3/end. */
	struct yw_sval v = S("http://");
	struct yw_matcher *m = mk("base64offset|contains", &v, 1);
	char out[1024] = "";
	assert_int_equal(yw_matcher_literals(m, collect, out), 0);
	assert_string_equal(out, "0:ahr0cdovl:0;0:h0dha6ly:0;0:odhrwoi8v:0;");
	/* base64 of 'curl http://x', 'acurl http://x', 'abcurl http://x' */
	const char *enc[] = {
	    "Y3VybCBodHRwOi8veA==", "YWN1cmwgaHR0cDovL3g=", "YWJjdXJsIGh0dHA6Ly94"};
	for (size_t i = 0; i < NV(enc); i++) {
		struct yw_field f = sf(enc[i]);
		assert_true(yw_matcher_eval(m, &f, NULL, NULL));
	}
	struct yw_field f = sf("Y3VybA==");
	assert_false(yw_matcher_eval(m, &f, NULL, NULL));
	yw_matcher_free(m);
	assert_int_equal(errof("base64offset", &v, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "contains"));
}

static void test_utf16(void **st)
{
	(void)st;
	/* printf 'ping' | iconv -t UTF-16LE | base64 = cABpAG4AZwA= etc. */
	struct yw_sval v = S("ping");
	struct yw_matcher *m = mk("utf16le|base64offset|contains", &v, 1);
	char out[1024] = "";
	yw_matcher_literals(m, collect, out);
	assert_string_equal(out, "0:cabpag4azw:0;0:aaaqbuagca:0;0:wagkabgbna:0;");
	/* base64(utf16le("ping -n 1")), with "a" and "ab" in front */
	const char *enc[] = {"cABpAG4AZwAgAC0AbgAgADEA",
	                     "YQBwAGkAbgBnACAALQBuACAAMQA=", "YQBiAHAAaQBuAGcAIAAtAG4AIAAxAA=="};
	for (size_t i = 0; i < NV(enc); i++) {
		struct yw_field f = sf(enc[i]);
		assert_true(yw_matcher_eval(m, &f, NULL, NULL));
	}
	yw_matcher_free(m);
	m = mk("wide|base64offset|contains", &v, 1);
	struct yw_field f = sf(enc[1]);
	assert_true(yw_matcher_eval(m, &f, NULL, NULL));
	yw_matcher_free(m);
	/* printf 'whoami' | iconv -t UTF-16LE | base64 = dwBoAG8AYQBtAGkA */
	assert_true(m1("wide|base64", "whoami", "dwBoAG8AYQBtAGkA"));
	/* utf16be: 00 63 00 6d 00 64 -> AGMAbQBk; utf16 (BOM FF FE) -> //5jAG0AZAA= */
	assert_true(m1("utf16be|base64", "cmd", "AGMAbQBk"));
	assert_true(m1("utf16|base64", "cmd", "//5jAG0AZAA="));
	/* raw utf16le bytes compared against a binary field */
	struct yw_sval c = S("cmd");
	m = mk("utf16le", &c, 1);
	struct yw_field bin = sfn("c\0m\0d\0", 6);
	assert_true(yw_matcher_eval(m, &bin, NULL, NULL));
	struct yw_field bin2 = sfn("c\0m\0e\0", 6);
	assert_false(yw_matcher_eval(m, &bin2, NULL, NULL));
	yw_matcher_free(m);
	/* a wildcard `?` spans both bytes of a UTF-16 unit */
	struct yw_sval q = S("c?d");
	m = mk("utf16le", &q, 1);
	assert_true(yw_matcher_eval(m, &bin, NULL, NULL));
	yw_matcher_free(m);
	/* non-ASCII goes through a real UTF-16 encoding: U+00E9 -> E9 00 */
	struct yw_sval e = S("\xc3\xa9");
	m = mk("utf16le", &e, 1);
	struct yw_field ef = sfn("\xe9\0", 2);
	assert_true(yw_matcher_eval(m, &ef, NULL, NULL));
	yw_matcher_free(m);
	struct yw_sval bad = S("\xff");
	assert_int_equal(errof("utf16le", &bad, 1, 0), YW_EINVAL);
}

static void test_regex(void **st)
{
	(void)st;
	assert_true(
	    m1("re", "^C:\\\\Users\\\\[^\\\\]+\\\\NTUSER\\.DAT$", "C:\\Users\\bob\\NTUSER.DAT"));
	assert_false(
	    m1("re", "^C:\\\\Users\\\\[^\\\\]+\\\\NTUSER\\.DAT$", "c:\\users\\bob\\ntuser.dat"));
	assert_true(
	    m1("re|i", "^C:\\\\Users\\\\[^\\\\]+\\\\NTUSER\\.DAT$", "c:\\users\\bob\\ntuser.dat"));
	assert_true(m1("re|ignorecase", "abc", "xABCx"));
	/* a search, not a full match */
	assert_true(m1("re", "b.d", "abcde"));
	/* m: ^ and $ at line boundaries */
	assert_false(m1("re", "^second$", "first\nsecond\nthird"));
	assert_true(m1("re|m", "^second$", "first\nsecond\nthird"));
	/* s: dot matches newline */
	assert_false(m1("re", "a.b", "a\nb"));
	assert_true(m1("re|s", "a.b", "a\nb"));
	/* startswith / endswith anchor the search */
	assert_true(m1("re|startswith", "ab|x", "abc"));
	assert_false(m1("re|startswith", "ab|x", "cab"));
	assert_true(m1("re|endswith", "bc|y", "abc"));
	assert_false(m1("re|endswith", "bc|y", "bca"));
	/* invalid UTF-8 in the subject does not break matching */
	assert_true(m1("re", "ok", "\xff\xfeok"));
	struct yw_sval bad = S("ab(c");
	assert_int_equal(errof("re", &bad, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "invalid regex at offset 4"));
	struct yw_sval w = S("a");
	assert_int_equal(errof("re|cased", &w, 1, 0), YW_EINVAL);
	assert_int_equal(errof("re|windash", &w, 1, 0), YW_EINVAL);
	assert_int_equal(errof("i", &w, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "needs 're'"));
	char *huge = malloc(70000);
	assert_non_null(huge);
	memset(huge, 'a', 69999);
	huge[69999] = '\0';
	struct yw_sval h = {.kind = YW_SV_STR, .s = huge, .len = 69999};
	assert_int_equal(errof("re", &h, 1, 0), YW_ELIMIT);
	free(huge);
	/* a list field matches when any item does */
	struct yw_sval v = S("^-e(nc)?$");
	struct yw_matcher *m = mk("re", &v, 1);
	struct yw_str items[] = {{"powershell", 10}, {"-enc", 4}};
	struct yw_field l = {.name = "f", .type = YW_T_LIST, .n = 2, .items = items};
	assert_true(yw_matcher_eval(m, &l, NULL, NULL));
	l.n = 1;
	assert_false(yw_matcher_eval(m, &l, NULL, NULL));
	yw_matcher_free(m);
}

static struct yw_field ipf(const char *text)
{
	struct yw_field f = sf(text);
	f.type = YW_T_IP;
	if (strchr(text, ':')) {
		f.ip_family = 6;
		inet_pton(AF_INET6, text, f.ip);
	} else {
		f.ip_family = 4;
		inet_pton(AF_INET, text, f.ip);
	}
	return f;
}

static bool cidr(const char *net, const char *ip, bool typed)
{
	struct yw_sval v = {.kind = YW_SV_STR, .s = net, .len = strlen(net)};
	struct yw_matcher *m = mk("cidr", &v, 1);
	struct yw_field f = typed ? ipf(ip) : sf(ip);
	bool r = yw_matcher_eval(m, &f, NULL, NULL);
	yw_matcher_free(m);
	return r;
}

static void test_cidr(void **st)
{
	(void)st;
	for (int typed = 0; typed < 2; typed++) {
		assert_true(cidr("10.0.0.0/8", "10.200.3.4", typed));
		assert_false(cidr("10.0.0.0/8", "11.0.0.1", typed));
		assert_true(cidr("192.168.1.0/23", "192.168.0.255", typed));
		assert_false(cidr("192.168.1.0/23", "192.168.2.0", typed));
		assert_true(cidr("0.0.0.0/0", "8.8.8.8", typed));
		assert_false(cidr("0.0.0.0/0", "::1", typed));
		assert_true(cidr("1.2.3.4/32", "1.2.3.4", typed));
		assert_false(cidr("1.2.3.4/32", "1.2.3.5", typed));
		assert_true(cidr("1.2.3.4", "1.2.3.4", typed));
		assert_true(cidr("fe80::/10", "FE80::1:2", typed));
		assert_true(cidr("fe80::/10", "febf::1", typed));
		assert_false(cidr("fe80::/10", "fec0::1", typed));
		assert_true(cidr("::/0", "2001:db8::1", typed));
		assert_false(cidr("::/0", "127.0.0.1", typed));
		assert_true(cidr("2001:db8::1/128", "2001:db8::1", typed));
		assert_false(cidr("2001:db8::1/128", "2001:db8::2", typed));
		/* v4-mapped v6 addresses match v4 networks */
		assert_true(cidr("10.0.0.0/8", "::ffff:10.1.2.3", typed));
	}
	assert_false(cidr("10.0.0.0/8", "not an ip", false));
	assert_false(cidr("10.0.0.0/8", "10.0.0.1 ", false));
	const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0/8", "x", "10.0.0.0/", "10.0.0.0/a"};
	for (size_t i = 0; i < NV(bad); i++) {
		struct yw_sval v = {.kind = YW_SV_STR, .s = bad[i], .len = strlen(bad[i])};
		assert_int_equal(errof("cidr", &v, 1, 0), YW_EINVAL);
	}
	struct yw_sval v = S("10.0.0.0/8");
	assert_int_equal(errof("cidr|contains", &v, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "'cidr' cannot be combined with 'contains'"));
	/* neq: not in the network */
	struct yw_matcher *m = mk("cidr|neq", &v, 1);
	struct yw_field f = ipf("11.0.0.1");
	assert_true(yw_matcher_eval(m, &f, NULL, NULL));
	yw_matcher_free(m);
}

static void test_exists_null_empty(void **st)
{
	(void)st;
	struct yw_sval t = {.kind = YW_SV_BOOL, .b = true, .s = "true", .len = 4};
	struct yw_sval fl = {.kind = YW_SV_BOOL, .b = false, .s = "false", .len = 5};
	struct yw_field e = sf(""), x = sf("x"), nul = {.name = "f", .type = YW_T_NULL, .text = ""};
	struct yw_matcher *m = mk("exists", &t, 1);
	assert_true(yw_matcher_wants_absent(m));
	assert_false(yw_matcher_eval(m, NULL, NULL, NULL));
	assert_true(yw_matcher_eval(m, &e, NULL, NULL));
	assert_true(yw_matcher_eval(m, &nul, NULL, NULL));
	yw_matcher_free(m);
	m = mk("exists", &fl, 1);
	assert_true(yw_matcher_eval(m, NULL, NULL, NULL));
	assert_false(yw_matcher_eval(m, &x, NULL, NULL));
	yw_matcher_free(m);
	struct yw_sval s = S("yes");
	assert_int_equal(errof("exists", &s, 1, 0), YW_EINVAL);
	assert_int_equal(errof("exists|contains", &t, 1, 0), YW_EINVAL);
	assert_int_equal(errof("exists", &t, 1, 1), YW_EINVAL);

	struct yw_sval n = NUL;
	m = mk("", &n, 1);
	assert_true(yw_matcher_wants_absent(m));
	assert_true(yw_matcher_eval(m, NULL, NULL, NULL));
	assert_true(yw_matcher_eval(m, &e, NULL, NULL));
	assert_true(yw_matcher_eval(m, &nul, NULL, NULL));
	assert_false(yw_matcher_eval(m, &x, NULL, NULL));
	yw_matcher_free(m);
	assert_int_equal(errof("contains", &n, 1, 0), YW_EINVAL);

	struct yw_sval em = S("");
	m = mk("", &em, 1);
	assert_false(yw_matcher_wants_absent(m));
	assert_true(yw_matcher_eval(m, &e, NULL, NULL));
	assert_false(yw_matcher_eval(m, NULL, NULL, NULL));
	assert_false(yw_matcher_eval(m, &nul, NULL, NULL));
	assert_false(yw_matcher_eval(m, &x, NULL, NULL));
	yw_matcher_free(m);
	/* '*' needs a value: not absent, not JSON null */
	struct yw_sval star = S("*");
	m = mk("", &star, 1);
	assert_true(yw_matcher_eval(m, &e, NULL, NULL));
	assert_false(yw_matcher_eval(m, &nul, NULL, NULL));
	assert_false(yw_matcher_eval(m, NULL, NULL, NULL));
	yw_matcher_free(m);
	/* mixed list: null or a value */
	struct yw_sval mix[] = {NUL, S("-")};
	m = mk("", mix, 2);
	struct yw_field dash = sf("-");
	assert_true(yw_matcher_eval(m, NULL, NULL, NULL));
	assert_true(yw_matcher_eval(m, &dash, NULL, NULL));
	assert_false(yw_matcher_eval(m, &x, NULL, NULL));
	yw_matcher_free(m);
}

static struct yw_field intf(int64_t v, const char *text)
{
	struct yw_field f = sf(text);
	f.type = YW_T_INT;
	f.num = v;
	return f;
}

static void test_numbers(void **st)
{
	(void)st;
	struct yw_sval v = I(4624);
	struct yw_matcher *m = mk("", &v, 1);
	struct yw_field fi = intf(4624, "4624"), fs = sf("4624"), fo = sf("4625");
	assert_true(yw_matcher_eval(m, &fi, NULL, NULL));
	assert_true(yw_matcher_eval(m, &fs, NULL, NULL));
	assert_false(yw_matcher_eval(m, &fo, NULL, NULL));
	yw_matcher_free(m);
	/* an integer written with a leading zero still equals the integer field */
	struct yw_sval z = {.kind = YW_SV_INT, .s = "04624", .len = 5, .i = 4624};
	m = mk("", &z, 1);
	assert_true(yw_matcher_eval(m, &fi, NULL, NULL));
	assert_false(yw_matcher_eval(m, &fs, NULL, NULL));
	yw_matcher_free(m);
	struct yw_sval b = {.kind = YW_SV_BOOL, .b = true, .s = "True", .len = 4};
	m = mk("", &b, 1);
	struct yw_field fb = sf("true");
	fb.type = YW_T_BOOL;
	fb.num = 1;
	assert_true(yw_matcher_eval(m, &fb, NULL, NULL));
	yw_matcher_free(m);
	struct yw_sval fv = {.kind = YW_SV_FLOAT, .s = "1.5", .len = 3, .d = 1.5};
	m = mk("", &fv, 1);
	struct yw_field f15 = sf("1.5");
	assert_true(yw_matcher_eval(m, &f15, NULL, NULL));
	yw_matcher_free(m);
	/* contains on a number compares text */
	struct yw_sval c = I(46);
	m = mk("contains", &c, 1);
	assert_true(yw_matcher_eval(m, &fi, NULL, NULL));
	yw_matcher_free(m);
}

static bool num(const char *spec, struct yw_sval v, const struct yw_field *f)
{
	struct yw_matcher *m = mk(spec, &v, 1);
	bool r = yw_matcher_eval(m, f, NULL, NULL);
	yw_matcher_free(m);
	return r;
}

static void test_numeric_modifiers(void **st)
{
	(void)st;
	struct yw_field f10 = intf(10, "10"), s10 = sf("10"), sneg = sf("-3"), sf2 = sf("2.5"),
	                nan = sf("ten"), hex = sf("0x10");
	struct yw_sval i10 = I(10), i5 = I(5);
	assert_true(num("lt", i10, &sneg));
	assert_false(num("lt", i10, &f10));
	assert_true(num("lte", i10, &f10));
	assert_true(num("lte", i10, &s10));
	assert_true(num("gt", i5, &f10));
	assert_false(num("gt", i10, &s10));
	assert_true(num("gte", i10, &s10));
	assert_false(num("gte", i10, &sneg));
	struct yw_sval d = {.kind = YW_SV_FLOAT, .s = "2.25", .len = 4, .d = 2.25};
	assert_true(num("gt", d, &sf2));
	assert_false(num("lt", d, &sf2));
	assert_true(num("lt", d, &sneg));
	/* non-numeric text never matches */
	assert_false(num("lt", i10, &nan));
	assert_false(num("gt", i5, &nan));
	assert_false(num("lt", i10, &hex));
	/* a quoted number is accepted */
	struct yw_sval q = S("7");
	assert_true(num("gt", q, &f10));
	assert_false(num("gt", i5, NULL));
	struct yw_sval bad = S("abc");
	assert_int_equal(errof("gt", &bad, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "'gt' needs a number"));
	assert_int_equal(errof("gt|contains", &i5, 1, 0), YW_EINVAL);
	assert_int_equal(errof("gt|lt", &i5, 1, 0), YW_EINVAL);
	/* neq: numbers and strings, absent fields count as different */
	assert_true(num("neq", i5, &f10));
	assert_false(num("neq", i10, &f10));
	assert_true(num("neq", i10, NULL));
	struct yw_sval sv[] = {S("system"), S("local service")};
	struct yw_matcher *m = mk("neq", sv, 2);
	assert_true(yw_matcher_wants_absent(m));
	struct yw_field u1 = sf("SYSTEM"), u2 = sf("bob");
	assert_false(yw_matcher_eval(m, &u1, NULL, NULL));
	assert_true(yw_matcher_eval(m, &u2, NULL, NULL));
	yw_matcher_free(m);
	assert_false(num("contains|neq", SV("sys"), &u1));
}

static const struct yw_field *lookup(void *ud, const char *name)
{
	const struct yw_field *fs = ud;
	for (size_t i = 0; fs[i].name; i++)
		if (strcmp(fs[i].name, name) == 0)
			return &fs[i];
	return NULL;
}

static void test_fieldref(void **st)
{
	(void)st;
	struct yw_field ev[3] = {sf("C:\\Windows\\cmd.exe"), sf("cmd.exe"), {0}};
	ev[0].name = "ParentImage";
	ev[1].name = "Short";
	struct yw_field img = sf("c:\\windows\\CMD.exe");
	struct yw_sval v = S("ParentImage");
	struct yw_matcher *m = mk("fieldref", &v, 1);
	assert_true(yw_matcher_eval(m, &img, lookup, ev));
	struct yw_field other = sf("c:\\x.exe");
	assert_false(yw_matcher_eval(m, &other, lookup, ev));
	assert_false(yw_matcher_eval(m, NULL, lookup, ev));
	assert_false(yw_matcher_eval(m, &img, NULL, NULL));
	yw_matcher_free(m);
	m = mk("fieldref|cased", &v, 1);
	assert_false(yw_matcher_eval(m, &img, lookup, ev));
	yw_matcher_free(m);
	struct yw_sval s = S("Short");
	m = mk("fieldref|endswith", &s, 1);
	assert_true(yw_matcher_eval(m, &img, lookup, ev));
	yw_matcher_free(m);
	m = mk("fieldref|contains", &s, 1);
	struct yw_field mid = sf("run CMD.EXE now");
	assert_true(yw_matcher_eval(m, &mid, lookup, ev));
	assert_false(yw_matcher_eval(m, &other, lookup, ev));
	yw_matcher_free(m);
	m = mk("fieldref|startswith", &s, 1);
	assert_true(yw_matcher_eval(m, &ev[1], lookup, ev));
	assert_false(yw_matcher_eval(m, &mid, lookup, ev));
	yw_matcher_free(m);
	m = mk("fieldref|neq", &v, 1);
	assert_false(yw_matcher_eval(m, &img, lookup, ev));
	assert_true(yw_matcher_eval(m, &other, lookup, ev));
	yw_matcher_free(m);
	struct yw_sval missing = S("Nope");
	m = mk("fieldref", &missing, 1);
	assert_false(yw_matcher_eval(m, &img, lookup, ev));
	yw_matcher_free(m);
	struct yw_sval w = S("Parent*");
	assert_int_equal(errof("fieldref", &w, 1, 0), YW_EINVAL);
	assert_int_equal(errof("fieldref", &v, 1, 1), YW_EINVAL);
}

static void test_expand(void **st)
{
	(void)st;
	struct yw_placeholders *ph = yw_placeholders_new();
	assert_non_null(ph);
	assert_int_equal(yw_placeholders_add(ph, "Workstations", "ws-*"), 0);
	assert_int_equal(yw_placeholders_add(ph, "Workstations", "laptop01"), 0);
	assert_int_equal(yw_placeholders_add(ph, "DC-MACHINE-NAME", "dc01$"), 0);
	assert_int_equal(yw_placeholders_add(ph, "dom", "corp"), 0);
	assert_int_equal(yw_placeholders_add(ph, "dom", "lab"), 0);
	assert_int_equal(yw_placeholders_add(ph, "nets", "10.0.0.0/8"), 0);
	struct yw_matcher *m = NULL;
	struct yw_sval v = S("%Workstations%");
	assert_int_equal(compile("expand", &v, 1, 0, ph, &m), 0);
	struct yw_field a = sf("WS-0042"), b = sf("laptop01"), c = sf("server1");
	assert_true(yw_matcher_eval(m, &a, NULL, NULL));
	assert_true(yw_matcher_eval(m, &b, NULL, NULL));
	assert_false(yw_matcher_eval(m, &c, NULL, NULL));
	yw_matcher_free(m);
	/* two placeholders: every combination; `\%` is a plain percent */
	struct yw_sval two = S("\\%%dom%\\\\%DC-MACHINE-NAME%");
	assert_int_equal(compile("expand", &two, 1, 0, ph, &m), 0);
	struct yw_field p1 = sf("%corp\\dc01$"), p2 = sf("%lab\\dc01$"), p3 = sf("%dom%\\dc01$");
	assert_true(yw_matcher_eval(m, &p1, NULL, NULL));
	assert_true(yw_matcher_eval(m, &p2, NULL, NULL));
	assert_false(yw_matcher_eval(m, &p3, NULL, NULL));
	yw_matcher_free(m);
	/* an escaped percent does not open a placeholder */
	struct yw_sval esc = S("\\%dom%");
	assert_int_equal(compile("expand", &esc, 1, 0, ph, &m), 0);
	struct yw_field lit = sf("%dom%");
	assert_true(yw_matcher_eval(m, &lit, NULL, NULL));
	yw_matcher_free(m);
	/* without expand, %x% is literal */
	assert_true(m1("", "%dom%", "%DOM%"));
	struct yw_sval cv = S("%userdomain%");
	assert_int_equal(compile("contains|expand", &cv, 1, 0, ph, &m), YW_EINVAL);
	assert_null(m);
	assert_non_null(strstr(err, "unknown placeholder 'userdomain'"));
	assert_int_equal(compile("expand", &cv, 1, 0, NULL, &m), YW_EINVAL);
	struct yw_sval nv = S("%nets%");
	assert_int_equal(compile("cidr|expand", &nv, 1, 0, ph, &m), 0);
	struct yw_field ip = sf("10.9.9.9");
	assert_true(yw_matcher_eval(m, &ip, NULL, NULL));
	yw_matcher_free(m);
	struct yw_sval rv = S("^%dom%-");
	assert_int_equal(compile("re|expand", &rv, 1, 0, ph, &m), 0);
	struct yw_field r1 = sf("lab-1");
	assert_true(yw_matcher_eval(m, &r1, NULL, NULL));
	yw_matcher_free(m);
	assert_int_equal(yw_placeholders_add(ph, "", "x"), YW_EINVAL);
	yw_placeholders_free(ph);
	yw_placeholders_free(NULL);
}

static void test_time(void **st)
{
	(void)st;
	/* 2024-03-05T14:07:09Z = 1709647629 s; ISO week 10 */
	struct yw_field t = sf("2024-03-05T14:07:09.000Z");
	t.type = YW_T_TIME;
	t.num = 1709647629LL * 1000000000LL;
	struct yw_field ts = sf("2024-03-05 14:07:09");
	struct yw_field *fs[] = {&t, &ts};
	for (size_t i = 0; i < 2; i++) {
		assert_true(num("minute", (struct yw_sval)I(7), fs[i]));
		assert_true(num("hour", (struct yw_sval)I(14), fs[i]));
		assert_false(num("hour", (struct yw_sval)I(15), fs[i]));
		assert_true(num("day", (struct yw_sval)I(5), fs[i]));
		assert_true(num("week", (struct yw_sval)I(10), fs[i]));
		assert_true(num("month", (struct yw_sval)I(3), fs[i]));
		assert_true(num("year", (struct yw_sval)I(2024), fs[i]));
		assert_true(num("hour|neq", (struct yw_sval)I(3), fs[i]));
	}
	/* ISO weeks at the year edges: 2021-01-03 is week 53 of 2020, 2024-12-30 week 1 */
	struct yw_field w1 = sf("2021-01-03"), w2 = sf("2024-12-30"), w3 = sf("2020-12-31");
	assert_true(num("week", (struct yw_sval)I(53), &w1));
	assert_true(num("week", (struct yw_sval)I(1), &w2));
	assert_true(num("week", (struct yw_sval)I(53), &w3));
	/* no clock in the text: hour cannot match; garbage never does */
	struct yw_field d = sf("2024-03-05"), g = sf("yesterday");
	assert_false(num("hour", (struct yw_sval)I(0), &d));
	assert_false(num("year", (struct yw_sval)I(2024), &g));
	struct yw_sval fl = {.kind = YW_SV_FLOAT, .s = "1.5", .len = 3, .d = 1.5};
	assert_int_equal(errof("hour", &fl, 1, 0), YW_EINVAL);
	assert_int_equal(errof("hour|gt", &fl, 1, 0), YW_EINVAL);
}

static void test_keywords(void **st)
{
	(void)st;
	struct yw_sval kw[] = {S("event::clear"), S("event::drop")};
	struct yw_matcher *m = NULL;
	assert_int_equal(compile("", kw, 2, 1, NULL, &m), 0);
	struct yw_field msg = sf("mimikatz # EVENT::Drop done"), other = sf("nothing here");
	assert_true(yw_matcher_eval(m, &msg, NULL, NULL));
	assert_false(yw_matcher_eval(m, &other, NULL, NULL));
	yw_matcher_free(m);
	struct yw_sval all[] = {S("OabVirtualDirectory"), S(" -ExternalUrl ")};
	assert_int_equal(compile("all", all, 2, 1, NULL, &m), 0);
	struct yw_field both = sf("Set-OabVirtualDirectory -ExternalUrl http://x"),
	                one = sf("Set-OabVirtualDirectory");
	assert_true(yw_matcher_eval(m, &both, NULL, NULL));
	assert_false(yw_matcher_eval(m, &one, NULL, NULL));
	yw_matcher_free(m);
	/* wildcards inside a keyword */
	struct yw_sval wk = S("failed password for * from");
	assert_int_equal(compile("", &wk, 1, 1, NULL, &m), 0);
	struct yw_field ssh = sf("sshd[1]: Failed password for root from 1.2.3.4");
	assert_true(yw_matcher_eval(m, &ssh, NULL, NULL));
	yw_matcher_free(m);
	/* base64offset is allowed on keywords (implicit contains) */
	struct yw_sval h = S("http://");
	assert_int_equal(compile("base64offset", &h, 1, 1, NULL, &m), 0);
	struct yw_field enc = sf("YWN1cmwgaHR0cDovL3g=");
	assert_true(yw_matcher_eval(m, &enc, NULL, NULL));
	yw_matcher_free(m);
}

static void test_list_fields(void **st)
{
	(void)st;
	struct yw_str items[] = {{"/bin/sh", 7}, {"-c", 2}, {"curl x|sh", 9}};
	struct yw_field l = {.name = "f", .type = YW_T_LIST, .n = 3, .items = items};
	l.text = items[0].s;
	l.len = items[0].len;
	assert_true(num("contains", SV("CURL"), &l));
	assert_true(num("", SV("-c"), &l));
	assert_false(num("", SV("-x"), &l));
	assert_true(num("endswith", SV("/sh"), &l));
	assert_false(num("neq", SV("-c"), &l));
	struct yw_field empty = {
	    .name = "f", .type = YW_T_LIST, .n = 0, .items = items, .text = ""};
	assert_true(num("", (struct yw_sval)NUL, &empty));
	assert_false(num("", SV("*"), &empty));
}

static void test_errors(void **st)
{
	(void)st;
	struct yw_sval v = S("x");
	assert_int_equal(errof("foo", &v, 1, 0), YW_EINVAL);
	assert_string_equal(err, "unknown modifier 'foo'");
	assert_int_equal(errof("contains|foo", &v, 1, 0), YW_EINVAL);
	assert_string_equal(err, "unknown modifier 'foo'");
	assert_int_equal(errof("contains|contains", &v, 1, 0), YW_EINVAL);
	assert_non_null(strstr(err, "duplicate"));
	assert_int_equal(errof("contains|startswith", &v, 1, 0), YW_EINVAL);
	assert_int_equal(errof("base64|base64offset|contains", &v, 1, 0), YW_EINVAL);
	assert_int_equal(errof("utf16le|utf16be", &v, 1, 0), YW_EINVAL);
	assert_int_equal(errof("", &v, 0, 0), YW_EINVAL);
	struct yw_sval w = S("-a -b -c -d -e -f -g");
	assert_int_equal(errof("windash", &w, 1, 0), YW_ELIMIT);
	struct yw_sval one = S("x");
	assert_int_equal(errof("base64offset|contains", &one, 1, 0), YW_EINVAL);
	/* NULL err buffer is tolerated */
	const char *mods[] = {"nope"};
	struct yw_matcher *m = NULL;
	assert_int_equal(yw_matcher_compile(mods, 1, &v, 1, 0, NULL, &m, NULL, 0), YW_EINVAL);
	yw_matcher_free(NULL);
}

static void test_literals(void **st)
{
	(void)st;
	char out[1024] = "";
	/* `\*` is an escaped star: one literal run; `\\*` a backslash then a wildcard */
	struct yw_sval v[] = {S("*\\Temp\\*.ps1"), S("*\\Temp\\\\*.ps1"), S("x?yzzz*"), S("*")};
	struct yw_matcher *m = mk("", v, 4);
	assert_int_equal(yw_matcher_literals(m, collect, out), 0);
	assert_string_equal(out, "0:\\temp*.ps1:0;1:\\temp\\:0;2:yzzz:0;3::1;");
	yw_matcher_free(m);
	out[0] = '\0';
	struct yw_sval c = S("-Enc");
	m = mk("contains|windash|cased", &c, 1);
	yw_matcher_literals(m, collect, out);
	assert_string_equal(out, "0:-Enc:2;0:/Enc:2;0:\xe2\x80\x93"
	                         "Enc:2;0:\xe2\x80\x94"
	                         "Enc:2;0:\xe2\x80\x95"
	                         "Enc:2;");
	yw_matcher_free(m);
	out[0] = '\0';
	struct yw_sval mix[] = {NUL, S("abc")};
	m = mk("neq", mix, 2);
	yw_matcher_literals(m, collect, out);
	assert_string_equal(out, "0::1;1:abc:1;");
	yw_matcher_free(m);
	out[0] = '\0';
	struct yw_sval r = S("a+b");
	m = mk("re", &r, 1);
	yw_matcher_literals(m, collect, out);
	assert_string_equal(out, "0::1;");
	yw_matcher_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_case_insensitive),
	    cmocka_unit_test(test_wildcards),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_contains_startswith_endswith),
	    cmocka_unit_test(test_all),
	    cmocka_unit_test(test_windash),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_base64offset),
	    cmocka_unit_test(test_utf16),
	    cmocka_unit_test(test_regex),
	    cmocka_unit_test(test_cidr),
	    cmocka_unit_test(test_exists_null_empty),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_numeric_modifiers),
	    cmocka_unit_test(test_fieldref),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_keywords),
	    cmocka_unit_test(test_list_fields),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_literals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
