/* Notification formats: WeCom's 4,096-byte markdown limit on a UTF-8 boundary, markdown
 * injection, CEF and RFC 5424 escaping, email HTML escaping and header injection, all with
 * attacker-controlled log content. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/error.h"
#include "yiwang/notify.h"
#include "yiwang/store.h"

static const char *const tags[] = {"attack.credential_access", "attack.t1110"};

static struct yw_notify_alert alert(const char *event_json)
{
	return (struct yw_notify_alert){
	    .rule_id = "rule-1",
	    .title = "SSH brute force",
	    .level = YW_LEVEL_HIGH,
	    .agent_id = "agent-1",
	    .agent_name = "web1",
	    .group = "plant-a",
	    .ts_ns = 1700000000123000000LL,
	    .tags = tags,
	    .ntags = 2,
	    .event_json = event_json,
	    .solution = "Block the source address",
	};
}

static struct yw_notify_channel chan(int type)
{
	return (struct yw_notify_channel){.name = "c", .type = type, .hostname = "siem-host"};
}

/* An event JSON with the given field values (NULL-terminated key, value pairs). */
static char *event(const char *k, ...)
{
	json_t *o = json_object();
	va_list ap;
	va_start(ap, k);
	for (; k; k = va_arg(ap, const char *))
		json_object_set_new(o, k, json_string(va_arg(ap, const char *)));
	va_end(ap);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static bool valid_utf8(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = p[i] < 0x80             ? 1
		           : (p[i] & 0xe0) == 0xc0 ? 2
		           : (p[i] & 0xf0) == 0xe0 ? 3
		           : (p[i] & 0xf8) == 0xf0 ? 4
		                                   : 0;
		if (!k || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

/* Renders and returns the markdown content of a chat body. */
static char *chat_content(int type, const struct yw_notify_alert *a)
{
	struct yw_notify_channel c = chan(type);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_notify_render(&c, a, "d1", &b), 0);
	json_error_t je;
	json_t *o = json_loads(b.data, 0, &je);
	assert_non_null(o);
	json_t *v;
	if (type == YW_NOTIFY_WECOM) {
		assert_string_equal(json_string_value(json_object_get(o, "msgtype")), "markdown");
		v = json_object_get(json_object_get(o, "markdown"), "content");
	} else if (type == YW_NOTIFY_DINGTALK) {
		v = json_object_get(json_object_get(o, "markdown"), "text");
		assert_non_null(json_object_get(json_object_get(o, "markdown"), "title"));
	} else {
		assert_string_equal(json_string_value(json_object_get(o, "msg_type")),
		                    "interactive");
		json_t *el =
		    json_array_get(json_object_get(json_object_get(o, "card"), "elements"), 0);
		v = json_object_get(el, "content");
	}
	assert_true(json_is_string(v));
	char *s = strdup(json_string_value(v));
	json_decref(o);
	yw_strbuf_free(&b);
	return s;
}

static void test_utf8_cut(void **state)
{
	(void)state;
	const char *s = "ab\xe4\xb8\xad\xf0\x9f\x98\x80"; /* ab 中 😀 */
	assert_int_equal(yw_notify_utf8_cut(s, 9, 100), 9);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 9), 9);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 8), 5);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 6), 5);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 5), 5);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 4), 2);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 2), 2);
	assert_int_equal(yw_notify_utf8_cut(s, 9, 0), 0);
}

/* A long event in 3- and 4-byte characters: WeCom's content is cut to at most 4,096 bytes,
 * on a character boundary, and says so. */
static void test_wecom_limit(void **state)
{
	(void)state;
	char big[1500];
	size_t n = 0;
	/* "x" first so the 3- and 4-byte characters fall at every offset modulo 3 and 4. */
	big[n++] = 'x';
	while (n + 7 < sizeof(big)) {
		memcpy(big + n, "\xe4\xb8\xad\xf0\x9f\x98\x80", 7);
		n += 7;
	}
	big[n] = '\0';
	char *ev = event("message", big, "process.command_line", big, "file.path", big,
	                 "url.original", big, "user.name", big, NULL);
	for (int shift = 0; shift < 4; shift++) {
		/* Titles of different lengths move the cut across every byte of a character. */
		char title[8] = "T";
		for (int i = 0; i < shift; i++)
			title[i + 1] = 't';
		struct yw_notify_alert a = alert(ev);
		a.title = title;
		char *md = chat_content(YW_NOTIFY_WECOM, &a);
		size_t len = strlen(md);
		assert_true(len <= 4096);
		assert_true(len > 4000);
		assert_true(valid_utf8((const unsigned char *)md, len));
		assert_null(strstr(md, "\xef\xbf\xbd")); /* no broken character was replaced */
		assert_non_null(strstr(md, "(truncated)"));
		free(md);
	}
	/* A short alert is not cut. */
	struct yw_notify_alert a = alert(NULL);
	char *md = chat_content(YW_NOTIFY_WECOM, &a);
	assert_null(strstr(md, "(truncated)"));
	assert_non_null(strstr(md, "SSH brute force"));
	free(md);
	free(ev);
}

/* Log content cannot add links, images, mentions, HTML or headings to a chat message. */
static void test_markdown_injection(void **state)
{
	(void)state;
	char *ev = event("message", "[click](http://evil.example) ![i](http://x/y.png) <font>",
	                 "user.name", "**root**`x`_y_ <@all> @all", "host.name",
	                 "h\n### fake heading\n> quote", NULL);
	struct yw_notify_alert a = alert(ev);
	a.title = "Title](http://evil.example)";
	int types[] = {YW_NOTIFY_WECOM, YW_NOTIFY_DINGTALK, YW_NOTIFY_FEISHU};
	for (size_t t = 0; t < 3; t++) {
		char *md = chat_content(types[t], &a);
		assert_non_null(strstr(md, "evil.example"));
		assert_null(strstr(md, "[click]"));
		assert_null(strstr(md, "]("));
		assert_null(strstr(md, "!["));
		assert_null(strstr(md, "<font>"));
		assert_null(strstr(md, "<@all>"));
		assert_null(strstr(md, "**root**"));
		assert_null(strstr(md, "`x`"));
		assert_null(strstr(md, "\n### fake"));
		assert_null(strstr(md, "\n> quote"));
		/* Full-width forms keep the text readable. */
		assert_non_null(strstr(md, "\xef\xbc\xbb"
		                           "click\xef\xbc\xbd")); /* ［click］ */
		assert_non_null(strstr(md, "fake heading"));
		free(md);
	}
	free(ev);
}

/* The CEF header escapes | and \, extensions escape \ and = and encode newlines. */
static void test_cef(void **state)
{
	(void)state;
	char *ev = event("message", "x=y|z\\w\nnext\rline", "user.name", "a=b", "source.ip",
	                 "10.0.0.1", NULL);
	struct yw_notify_alert a = alert(ev);
	a.rule_id = "r|1";
	a.title = "Evil|Title\\x";
	a.agent_name = "web=1\\";
	struct yw_notify_channel c = chan(YW_NOTIFY_SYSLOG);
	c.format = "cef";
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_notify_render(&c, &a, "abc", &b), 0);
	const char *cef = strstr(b.data, "CEF:0|");
	assert_non_null(cef);
	assert_true(cef > b.data && !strncmp(b.data, "<83>1 2023-11-14T22:13:20.123Z siem-host ",
	                                     strlen("<83>1 2023-11-14T22:13:20.123Z siem-host ")));
	assert_non_null(strstr(cef, "CEF:0|yiwang|yiwang|"));
	assert_non_null(strstr(cef, "|r\\|1|Evil\\|Title\\\\x|8|"));
	assert_non_null(strstr(cef, " msg=x\\=y|z\\\\w\\nnext\\rline"));
	assert_non_null(strstr(cef, " suser=a\\=b"));
	assert_non_null(strstr(cef, " src=10.0.0.1"));
	assert_non_null(strstr(cef, " dvchost=web\\=1\\\\"));
	assert_non_null(strstr(cef, " externalId=abc"));
	assert_non_null(strstr(cef, "|8|rt=1700000000123 "));
	assert_null(strchr(b.data, '\n'));
	assert_null(strchr(b.data, '\r'));
	/* Exactly 7 unescaped '|' separate the 8 header fields. */
	int bars = 0;
	const char *ext = NULL;
	for (const char *p = cef; *p && bars < 7; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '|' && ++bars == 7)
			ext = p + 1;
	}
	assert_int_equal(bars, 7);
	assert_true(!strncmp(ext, "rt=", 3));
	yw_strbuf_free(&b);
	free(ev);
}

/* Parses one SD-ELEMENT at *p ("[id name="value"...]"), unescaping values; returns the value
 * of param want (malloc'd) or NULL, and advances *p past the ']'. Fails the test on bad
 * syntax. */
static char *sd_element(const char **p, const char *want_id, const char *want)
{
	const char *s = *p;
	assert_int_equal(*s, '[');
	s++;
	size_t idn = strcspn(s, " ]");
	assert_int_equal(idn, strlen(want_id));
	assert_memory_equal(s, want_id, idn);
	s += idn;
	char *found = NULL;
	while (*s == ' ') {
		s++;
		size_t nn = strcspn(s, "= ]\"");
		assert_true(nn > 0 && nn <= 32);
		assert_int_equal(s[nn], '=');
		assert_int_equal(s[nn + 1], '"');
		bool match = strlen(want) == nn && !memcmp(s, want, nn);
		s += nn + 2;
		char val[4096];
		size_t vn = 0;
		for (; *s != '"'; s++) {
			assert_true(*s != '\0');
			assert_true(*s != ']'); /* must be escaped */
			if (*s == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == ']'))
				s++;
			val[vn++] = *s;
		}
		val[vn] = '\0';
		s++;
		if (match)
			found = strdup(val);
	}
	assert_int_equal(*s, ']');
	*p = s + 1;
	return found;
}

static void test_rfc5424(void **state)
{
	(void)state;
	const char *evil = "a\"b]c\\d] [x@1 y=\"z\"]";
	char *ev = event("user.name", evil, "message", "line1\nline2", NULL);
	struct yw_notify_alert a = alert(ev);
	a.agent_name = evil;
	a.title = "Title\nwith newline";
	struct yw_notify_channel c = chan(YW_NOTIFY_SYSLOG);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_notify_render(&c, &a, "0123abcd", &b), 0);
	assert_null(strchr(b.data, '\n'));
	/* <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD */
	const char *hdr = "<83>1 2023-11-14T22:13:20.123Z siem-host yiwang - alert ";
	assert_true(!strncmp(b.data, hdr, strlen(hdr)));
	const char *p = b.data + strlen(hdr);
	char *agent = sd_element(&p, "yiwang@32473", "agent");
	assert_non_null(agent);
	assert_string_equal(agent, evil);
	free(agent);
	const char *p2 = b.data + strlen(hdr);
	char *id = sd_element(&p2, "yiwang@32473", "id");
	assert_string_equal(id, "0123abcd");
	free(id);
	char *user = sd_element(&p, "fields@32473", "user.name");
	assert_non_null(user);
	assert_string_equal(user, evil);
	free(user);
	/* The fields element was the last one: MSG follows with a BOM. */
	assert_true(!strncmp(p, " \xef\xbb\xbfTitle with newline", 22));
	yw_strbuf_free(&b);

	/* Severity follows the level: critical = 2, informational = 6 (facility 10). */
	a.level = YW_LEVEL_CRITICAL;
	assert_int_equal(yw_notify_render(&c, &a, "x", &b), 0);
	assert_true(!strncmp(b.data, "<82>1 ", 6));
	yw_strbuf_reset(&b);
	a.level = YW_LEVEL_INFORMATIONAL;
	assert_int_equal(yw_notify_render(&c, &a, "x", &b), 0);
	assert_true(!strncmp(b.data, "<86>1 ", 6));
	yw_strbuf_free(&b);
	free(ev);
}

/* Decodes the base64 body of the MIME part with the given content type. */
static char *mime_part(const char *msg, const char *type)
{
	const char *p = strstr(msg, type);
	assert_non_null(p);
	p = strstr(p, "\r\n\r\n");
	assert_non_null(p);
	p += 4;
	const char *end = strstr(p, "\r\n--");
	assert_non_null(end);
	char *b64 = malloc((size_t)(end - p) + 1);
	size_t n = 0;
	for (const char *q = p; q < end; q++)
		if (*q != '\r' && *q != '\n')
			b64[n++] = *q;
	unsigned char *out = malloc(n + 1);
	int k = EVP_DecodeBlock(out, (unsigned char *)b64, (int)n);
	assert_true(k >= 0);
	while (k > 0 && n > 0 && b64[n - 1] == '=') {
		k--;
		n--;
	}
	out[k] = '\0';
	free(b64);
	return (char *)out;
}

static void test_email(void **state)
{
	(void)state;
	char *ev = event("message", "<img src=x onerror=alert(1)> & \"q\"", NULL);
	struct yw_notify_alert a = alert(ev);
	a.title = "<script>alert(1)</script>\r\nBcc: victim@example.org";
	struct yw_notify_channel c = chan(YW_NOTIFY_EMAIL);
	char *to[] = {"soc@example.org", "oncall@example.org"};
	c.from = "yiwang@example.org";
	c.to = (struct yw_strlist){to, 2};
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_notify_render(&c, &a, "feedbeef", &b), 0);
	/* Headers end at the first blank line; no header comes from the title. */
	char *hend = strstr(b.data, "\r\n\r\n");
	assert_non_null(hend);
	*hend = '\0';
	assert_null(strstr(b.data, "\nBcc:"));
	assert_null(strstr(b.data, "<script>"));
	assert_non_null(strstr(b.data, "\r\nSubject: =?UTF-8?B?"));
	assert_non_null(strstr(b.data, "To: soc@example.org, oncall@example.org\r\n"));
	assert_non_null(strstr(b.data, "Message-ID: <feedbeef@yiwang>"));
	/* Every header line is short (folded encoded words). */
	for (const char *l = b.data; l;) {
		const char *e = strstr(l, "\r\n");
		assert_true((size_t)(e ? e - l : (long)strlen(l)) <= 998);
		l = e ? e + 2 : NULL;
	}
	*hend = '\r';
	char *html = mime_part(b.data, "text/html");
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, "<img"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"));
	char *text = mime_part(b.data, "text/plain");
	assert_non_null(strstr(text, "<script>alert(1)</script>  Bcc: victim@example.org"));
	assert_non_null(strstr(text, "Solution: Block the source address"));
	free(html);
	free(text);
	yw_strbuf_free(&b);
	free(ev);
}

static void test_webhook_json(void **state)
{
	(void)state;
	char *ev = event("message", "ctl \x01 byte \"quoted\"", "source.ip", "1.2.3.4",
	                 "not.a.key.field", "hidden", NULL);
	struct yw_notify_alert a = alert(ev);
	struct yw_notify_channel c = chan(YW_NOTIFY_WEBHOOK);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_notify_render(&c, &a, "k1", &b), 0);
	json_t *o = json_loads(b.data, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "k1");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "high");
	assert_string_equal(json_string_value(json_object_get(o, "time")),
	                    "2023-11-14T22:13:20.123Z");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "agent"), "group")), "plant-a");
	assert_int_equal(json_array_size(json_object_get(o, "tags")), 2);
	json_t *f = json_object_get(o, "fields");
	assert_string_equal(json_string_value(json_object_get(f, "source.ip")), "1.2.3.4");
	assert_null(json_object_get(f, "not.a.key.field"));
	assert_non_null(strstr(json_string_value(json_object_get(f, "message")), "\"quoted\""));
	assert_string_equal(json_string_value(json_object_get(o, "solution")),
	                    "Block the source address");
	json_decref(o);
	yw_strbuf_free(&b);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_cut),
	    cmocka_unit_test(test_wecom_limit),
	    cmocka_unit_test(test_markdown_injection),
	    cmocka_unit_test(test_cef),
	    cmocka_unit_test(test_rfc5424),
	    cmocka_unit_test(test_email),
	    cmocka_unit_test(test_webhook_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
