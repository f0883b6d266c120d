/* journald collector: reads the systemd journal with sd-journal and turns each entry into a
 * syslog-style line the server's syslog decoder understands. Each record's cursor is the
 * entry's journal cursor (packed to fit the spool), so after a crash reading resumes right
 * after the last entry that reached the spool; commit also writes it to a state file, which
 * covers positions that produced no record (docs/agent.md). */
#ifdef YW_HAVE_SYSTEMD

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/fsutil.h"
#include "yiwang/error.h"
#include "yiwang/spool.h"

#define SOURCE     "journald"
#define SOURCE_LEN 8

/* Packed cursor: version u8, seqnum id [16], seqnum u64, boot id [16], monotonic u64, realtime
 * u64. The text cursor's xor hash is left out (it does not fit; seeking needs none of it). */
#define CURSOR_VERSION 1
#define CURSOR_LEN     57
_Static_assert(CURSOR_LEN <= YW_SPOOL_MAX_CURSOR, "a journald cursor must fit the spool");

/* "s=<32 hex>;i=<hex>;b=<32 hex>;m=<hex>;t=<hex>" and a NUL */
#define CURSOR_TEXT_MAX 128

#define STATE_MAGIC   0x534a5759u /* "YWJS" */
#define STATE_VERSION 1u
#define STATE_LEN     (4 + 4 + 1 + CURSOR_LEN + 8 + 4)

#define CUT_NOTE_MAX 64
#define PID_MAX      10 /* decimal digits of a pid */
#define HEADER_MAX   (8 + 40 + YW_JOURNALD_MAX_HOST + YW_MAX_SYSLOG_TAG + PID_MAX + 8)

/* Where reading stands. */
struct jpos {
	bool have; /* c names the last entry handled; else: before the journal's first entry */
	uint8_t c[CURSOR_LEN];
	uint64_t seq; /* seq of the last record at or before this position; 0 = none */
};

struct jd_col {
	sd_journal *j;
	int fd;
	bool pending; /* the read pointer is on an entry not yet handed to the sink */
	struct jpos pos;
	bool dirty;
	char *state_path;
	char host[YW_JOURNALD_MAX_HOST + 1]; /* for entries without _HOSTNAME */
	char *line;
	size_t line_cap;
};

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- cursors ---- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool parse_id(const char *v, size_t n, uint8_t *out)
{
	if (n != 32)
		return false;
	for (size_t i = 0; i < 16; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool parse_hex64(const char *v, size_t n, uint64_t *out)
{
	if (n < 1 || n > 16)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval(v[i]);
		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*out = x;
	return true;
}

/* Packs sd_journal_get_cursor's text ("s=..;i=..;b=..;m=..;t=..;x=.."). */
static bool pack_cursor(const char *text, uint8_t *c)
{
	unsigned seen = 0;
	uint64_t v;
	memset(c, 0, CURSOR_LEN);
	c[0] = CURSOR_VERSION;
	for (const char *p = text; *p;) {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		if (n < 2 || p[1] != '=')
			return false;
		const char *val = p + 2;
		size_t vn = n - 2;
		switch (p[0]) {
		case 's':
			if (!parse_id(val, vn, c + 1))
				return false;
			seen |= 1;
			break;
		case 'i':
			if (!parse_hex64(val, vn, &v))
				return false;
			put_le(c + 17, v, 8);
			seen |= 2;
			break;
		case 'b':
			if (!parse_id(val, vn, c + 25))
				return false;
			seen |= 4;
			break;
		case 'm':
			if (!parse_hex64(val, vn, &v))
				return false;
			put_le(c + 41, v, 8);
			seen |= 8;
			break;
		case 't':
			if (!parse_hex64(val, vn, &v))
				return false;
			put_le(c + 49, v, 8);
			seen |= 16;
			break;
		default:
			break; /* x= and anything newer: not needed to seek */
		}
		if (!semi)
			break;
		p = semi + 1;
	}
	return seen == 31;
}

static void unpack_cursor(const uint8_t *c, char *text)
{
	static const char hex[] = "0123456789abcdef";
	char s[33], b[33];
	for (int i = 0; i < 16; i++) {
		s[2 * i] = hex[c[1 + i] >> 4];
		s[2 * i + 1] = hex[c[1 + i] & 15];
		b[2 * i] = hex[c[25 + i] >> 4];
		b[2 * i + 1] = hex[c[25 + i] & 15];
	}
	s[32] = b[32] = 0;
	snprintf(text, CURSOR_TEXT_MAX, "s=%s;i=%" PRIx64 ";b=%s;m=%" PRIx64 ";t=%" PRIx64, s,
	         get_le(c + 17, 8), b, get_le(c + 41, 8), get_le(c + 49, 8));
}

/* ---- state file ---- */

/* magic u32, version u32, flags u8 (1: a cursor follows), cursor [57], seq u64, crc32c u32.
 * A damaged file is ignored: the spool's cursor still covers every entry that made a record. */
static int load_state(const char *path, struct jpos *out, bool *found)
{
	*found = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : YW_EIO;
	uint8_t b[STATE_LEN + 1];
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	if (n != STATE_LEN || get_le(b, 4) != STATE_MAGIC || get_le(b + 4, 4) != STATE_VERSION ||
	    yw_crc32c(0, b, STATE_LEN - 4) != get_le(b + STATE_LEN - 4, 4) || b[8] > 1 ||
	    (b[8] && b[9] != CURSOR_VERSION))
		return 0;
	out->have = b[8] == 1;
	memcpy(out->c, b + 9, CURSOR_LEN);
	out->seq = get_le(b + 9 + CURSOR_LEN, 8);
	*found = true;
	return 0;
}

static int jd_commit(void *state)
{
	struct jd_col *jc = state;
	if (!jc->state_path || !jc->dirty)
		return 0;
	uint8_t b[STATE_LEN] = {0};
	put_le(b, STATE_MAGIC, 4);
	put_le(b + 4, STATE_VERSION, 4);
	b[8] = jc->pos.have;
	if (jc->pos.have)
		memcpy(b + 9, jc->pos.c, CURSOR_LEN);
	put_le(b + 9 + CURSOR_LEN, jc->pos.seq, 8);
	put_le(b + STATE_LEN - 4, yw_crc32c(0, b, STATE_LEN - 4), 4);

	int rc = yw_write_file_atomic(jc->state_path, b, sizeof(b), 0600);
	if (rc == 0)
		jc->dirty = false;
	return rc;
}

/* ---- one entry to one line ---- */

/* The value of field name (with its "NAME=" prefix) of the current entry, or false. The
 * pointer is valid until the next sd_journal_get_data call. */
static bool field(sd_journal *j, const char *name, const char **v, size_t *n)
{
	const void *d;
	size_t len;
	size_t nl = strlen(name);
	if (sd_journal_get_data(j, name, &d, &len) < 0 || len <= nl || memcmp(d, name, nl) != 0 ||
	    ((const char *)d)[nl] != '=')
		return false;
	*v = (const char *)d + nl + 1;
	*n = len - nl - 1;
	return true;
}

/* Copies a header token: printable ASCII only, bytes that would break the syslog header
 * (space, and for the identifier ':' '[' ']') become '_'. */
static size_t copy_token(char *dst, size_t max, const char *s, size_t n, bool tag)
{
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool bad =
		    ch <= ' ' || ch >= 0x7f || (tag && (ch == ':' || ch == '[' || ch == ']'));
		dst[i] = bad ? '_' : (char)ch;
	}
	dst[n] = 0;
	return n;
}

static bool parse_dec(const char *s, size_t n, size_t maxdig, uint64_t *out)
{
	if (n < 1 || n > maxdig)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t min, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends the message to out (which has room for cap bytes), escaping bytes that are not
 * well-formed UTF-8 and control characters other than tab as "\xNN": a record is one line of
 * valid text whatever a program wrote. Returns the bytes written; *cut when it stopped
 * early. */
static size_t put_message(char *out, size_t cap, const char *msg, size_t n, bool *cut)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)msg;
	size_t o = 0, i = 0;
	*cut = false;
	while (i < n) {
		unsigned char ch = s[i];
		if (ch >= 0x20 && ch < 0x7f) {
			/* the common case: a run of printable ASCII */
			size_t k = i + 1;
			while (k < n && s[k] >= 0x20 && s[k] < 0x7f)
				k++;
			size_t take = k - i;
			if (take > cap - o) {
				take = cap - o;
				*cut = true;
			}
			memcpy(out + o, msg + i, take);
			o += take;
			i += take;
			if (*cut)
				return o;
			continue;
		}
		size_t ul = ch == '\t' ? 1 : ch < 0x80 ? 0 : utf8_len(s + i, n - i);
		if (ul) {
			if (cap - o < ul) {
				*cut = true;
				return o;
			}
			memcpy(out + o, msg + i, ul);
			o += ul;
			i += ul;
		} else {
			if (cap - o < 4) {
				*cut = true;
				return o;
			}
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
			i++;
		}
	}
	return o;
}

static int line_reserve(struct jd_col *jc, size_t need)
{
	if (need <= jc->line_cap)
		return 0;
	size_t cap = jc->line_cap ? jc->line_cap : 4096;
	while (cap < need)
		cap *= 2;
	char *n = realloc(jc->line, cap);
	if (!n)
		return YW_ENOMEM;
	jc->line = n;
	jc->line_cap = cap;
	return 0;
}

/* Writes "<PRI>" (when the entry has a PRIORITY) and the ISO 8601 UTC time. */
static size_t put_time_pri(sd_journal *j, char *out)
{
	size_t o = 0;
	const char *v;
	size_t n;
	uint64_t prio, fac = 1; /* no facility: LOG_USER, as journald forwards to syslog */
	if (field(j, "PRIORITY", &v, &n) && parse_dec(v, n, 1, &prio) && prio <= 7) {
		uint64_t f;
		if (field(j, "SYSLOG_FACILITY", &v, &n) && parse_dec(v, n, 2, &f) && f <= 23)
			fac = f;
		o += (size_t)sprintf(out, "<%u>", (unsigned)(fac * 8 + prio));
	}
	/* the time the program logged it, as journalctl shows it; else when journald got it */
	uint64_t usec = 0;
	if (!field(j, "_SOURCE_REALTIME_TIMESTAMP", &v, &n) || !parse_dec(v, n, 19, &usec) ||
	    usec > 253402300799999999ULL) /* 9999-12-31T23:59:59.999999 */
		usec = 0;
	if (!usec && sd_journal_get_realtime_usec(j, &usec) < 0)
		usec = 0;
	if (usec > 253402300799999999ULL)
		usec = 0;
	time_t secs = (time_t)(usec / 1000000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	o += (size_t)sprintf(out + o, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+00:00 ",
	                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                     tm.tm_sec, (unsigned)(usec % 1000000));
	return o;
}

/* Formats the current entry into jc->line. Returns its length, 0 for an entry without a
 * MESSAGE (nothing to send), or a negative error. */
static int64_t format_entry(struct jd_col *jc)
{
	sd_journal *j = jc->j;
	char hdr[HEADER_MAX];
	size_t h = put_time_pri(j, hdr);
	const char *v;
	size_t n;
	if (field(j, "_HOSTNAME", &v, &n) && n)
		h += copy_token(hdr + h, YW_JOURNALD_MAX_HOST, v, n, false);
	else
		h += copy_token(hdr + h, YW_JOURNALD_MAX_HOST, jc->host, strlen(jc->host), false);
	hdr[h++] = ' ';
	if ((field(j, "SYSLOG_IDENTIFIER", &v, &n) && n) || (field(j, "_COMM", &v, &n) && n))
		h += copy_token(hdr + h, YW_MAX_SYSLOG_TAG, v, n, true);
	else
		h += copy_token(hdr + h, YW_MAX_SYSLOG_TAG, "unknown", 7, true);
	uint64_t pid;
	if ((field(j, "_PID", &v, &n) && parse_dec(v, n, PID_MAX, &pid)) ||
	    (field(j, "SYSLOG_PID", &v, &n) && parse_dec(v, n, PID_MAX, &pid)))
		h += (size_t)sprintf(hdr + h, "[%" PRIu64 "]", pid);
	hdr[h++] = ':';
	hdr[h++] = ' ';

	/* last: the pointer stays valid only until the next sd_journal_get_data */
	if (!field(j, "MESSAGE", &v, &n))
		return 0;
	size_t want = h + (n > YW_MAX_LINE / 4 ? YW_MAX_LINE : 4 * n);
	if (want > YW_MAX_LINE)
		want = YW_MAX_LINE;
	if (line_reserve(jc, want) != 0)
		return YW_ENOMEM;
	memcpy(jc->line, hdr, h);
	bool cut;
	size_t m = put_message(jc->line + h, want - h, v, n, &cut);
	if (cut) {
		/* keep the head and say so in the line itself, like the file collector; the
		 * second pass stops on a whole character or escape before the note */
		char note[CUT_NOTE_MAX];
		int nl = snprintf(note, sizeof(note), " [yiwang: message cut, %zu bytes]", n);
		m = put_message(jc->line + h, want - h - (size_t)nl, v, n, &cut);
		memcpy(jc->line + h + m, note, (size_t)nl);
		m += (size_t)nl;
	}
	return (int64_t)(h + m);
}

/* Hands the current entry to the sink. Returns 0 (taken, or nothing to send), YW_SINK_FULL or
 * an error. *bytes grows by the payload size. */
static int emit_entry(struct jd_col *jc, int64_t ts, yw_record_sink sink, void *ud, int *count,
                      size_t *bytes)
{
	char *text = NULL;
	uint8_t c[CURSOR_LEN];
	bool have_c = sd_journal_get_cursor(jc->j, &text) >= 0 && pack_cursor(text, c);
	free(text);
	int64_t len = format_entry(jc);
	if (len < 0)
		return (int)len;
	if (len > 0) {
		struct yw_record rec = {.ts_ns = ts,
		                        .kind = YW_REC_LOG,
		                        .source = SOURCE,
		                        .source_len = SOURCE_LEN,
		                        .data = jc->line,
		                        .len = (uint32_t)len};
		/* without a cursor (an unreadable entry header) the record still goes, and the
		 * position stays at the previous entry */
		int rc = sink(ud, &rec, have_c ? c : NULL, have_c ? CURSOR_LEN : 0);
		if (rc)
			return rc;
		jc->pos.seq = rec.seq;
		(*count)++;
		*bytes += (size_t)len;
	}
	if (have_c) {
		memcpy(jc->pos.c, c, CURSOR_LEN);
		jc->pos.have = true;
	}
	jc->dirty = true;
	return 0;
}

static int jd_poll(void *state, yw_record_sink sink, void *ud)
{
	struct jd_col *jc = state;
	int64_t ts = real_ns();
	int count = 0;
	size_t bytes = 0;
	if (jc->fd >= 0)
		sd_journal_process(jc->j); /* drains the inotify queue, picks up new files */
	for (int k = 0; k < YW_JOURNALD_POLL_ENTRIES && bytes < YW_JOURNALD_POLL_BYTES; k++) {
		if (!jc->pending) {
			int r = sd_journal_next(jc->j);
			if (r < 0)
				return count ? count : YW_EIO;
			if (r == 0)
				break;
			jc->pending = true;
		}
		int rc = emit_entry(jc, ts, sink, ud, &count, &bytes);
		if (rc == YW_SINK_FULL)
			return count; /* the same entry is offered again next poll */
		if (rc)
			return rc;
		jc->pending = false;
	}
	return count;
}

static int jd_fd(void *state)
{
	return ((struct jd_col *)state)->fd;
}

static void jd_exit(void *state)
{
	struct jd_col *jc = state;
	if (!jc)
		return;
	if (jc->j)
		sd_journal_close(jc->j);
	free(jc->state_path);
	free(jc->line);
	free(jc);
}

/* ---- init ---- */

/* "FIELD=value": FIELD is upper-case letters, digits and '_', as journald requires. */
static bool valid_match(const char *m)
{
	const char *eq = strchr(m, '=');
	if (!eq || eq == m)
		return false;
	for (const char *p = m; p < eq; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* The newer of the state file's position and the spool's newest cursor (by record seq; the
 * state file on a tie, as it may have moved past entries that made no record). */
static bool find_saved(struct jd_col *jc, const struct yw_collector_env *env, struct jpos *out)
{
	bool have = false;
	if (jc->state_path && load_state(jc->state_path, out, &have) != 0)
		have = false;
	const void *cv;
	size_t cl;
	uint64_t seq;
	if (env && env->cursor &&
	    env->cursor(env->cursor_ud, SOURCE, SOURCE_LEN, &cv, &cl, &seq) == 0 &&
	    cl == CURSOR_LEN && ((const uint8_t *)cv)[0] == CURSOR_VERSION &&
	    (!have || seq > out->seq)) {
		memcpy(out->c, cv, CURSOR_LEN);
		out->have = true;
		out->seq = seq;
		have = true;
	}
	return have;
}

/* Puts the read pointer where reading resumes. */
static int position(struct jd_col *jc, const struct jpos *saved, bool beginning)
{
	sd_journal *j = jc->j;
	if (saved && saved->have) {
		jc->pos = *saved;
		char text[CURSOR_TEXT_MAX];
		unpack_cursor(saved->c, text);
		if (sd_journal_seek_cursor(j, text) < 0)
			return YW_EIO;
		int r = sd_journal_next(j);
		if (r < 0)
			return YW_EIO;
		/* on the entry itself: it was sent. Past it (the entry is gone, vacuumed): the
		 * entry we are on is the first one not sent. */
		if (r > 0 && sd_journal_test_cursor(j, text) <= 0)
			jc->pending = true;
		return 0;
	}
	if (saved) {
		/* the journal was empty when the position was taken: read it whole */
		jc->pos = *saved;
		return sd_journal_seek_head(j) < 0 ? YW_EIO : 0;
	}
	jc->dirty = true;
	if (beginning)
		return sd_journal_seek_head(j) < 0 ? YW_EIO : 0;
	if (sd_journal_seek_tail(j) < 0)
		return YW_EIO;
	int r = sd_journal_previous(j);
	if (r < 0)
		return YW_EIO;
	if (r == 0)
		return sd_journal_seek_head(j) < 0 ? YW_EIO : 0; /* empty: all of it is new */
	char *text = NULL;
	if (sd_journal_get_cursor(j, &text) >= 0 && pack_cursor(text, jc->pos.c))
		jc->pos.have = true;
	free(text);
	return 0;
}

static int jd_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                   size_t nopts, void **state)
{
	*state = NULL;
	struct jd_col *jc = calloc(1, sizeof(*jc));
	if (!jc)
		return YW_ENOMEM;
	jc->fd = -1;
	const char *dir = NULL;
	const char **files = calloc(nopts + 1, sizeof(char *));
	size_t nfiles = 0, nmatch = 0;
	bool beginning = false;
	int rc = YW_ENOMEM;
	if (!files)
		goto fail;
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		rc = YW_EINVAL;
		if (!k || !v)
			goto fail;
		if (strcmp(k, "start") == 0) {
			if (strcmp(v, "end") != 0 && strcmp(v, "beginning") != 0)
				goto fail;
			beginning = strcmp(v, "beginning") == 0;
		} else if (strcmp(k, "directory") == 0) {
			if (dir || !*v)
				goto fail;
			dir = v;
		} else if (strcmp(k, "file") == 0) {
			if (!*v)
				goto fail;
			rc = YW_ELIMIT;
			if (nfiles >= YW_JOURNALD_MAX_FILES)
				goto fail;
			files[nfiles++] = v;
		} else if (strcmp(k, "match") == 0) {
			if (!valid_match(v))
				goto fail;
			rc = YW_ELIMIT;
			if (++nmatch > YW_JOURNALD_MAX_MATCHES)
				goto fail;
		} else {
			goto fail;
		}
	}
	rc = YW_EINVAL;
	if (dir && nfiles)
		goto fail;

	rc = YW_EIO;
	int r;
	if (dir)
		r = sd_journal_open_directory(&jc->j, dir, 0);
	else if (nfiles)
		r = sd_journal_open_files(&jc->j, files, 0);
	else
		r = sd_journal_open(&jc->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		jc->j = NULL;
		goto fail;
	}
	sd_journal_set_data_threshold(jc->j, YW_JOURNALD_DATA_THRESHOLD);
	for (size_t i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "match") != 0)
			continue;
		rc = YW_EINVAL;
		if (sd_journal_add_match(jc->j, opts[i].value, 0) < 0)
			goto fail;
	}
	/* also sets up the inotify watches that let a poll see new files */
	jc->fd = sd_journal_get_fd(jc->j);
	if (jc->fd < 0)
		jc->fd = -1;
	if (gethostname(jc->host, sizeof(jc->host) - 1) != 0 || !jc->host[0])
		strcpy(jc->host, "localhost");

	if (env && env->state_path) {
		rc = YW_ENOMEM;
		if (!(jc->state_path = strdup(env->state_path)))
			goto fail;
	}
	struct jpos saved = {0};
	bool have = find_saved(jc, env, &saved);
	if ((rc = position(jc, have ? &saved : NULL, beginning)) != 0)
		goto fail;
	free(files);
	*state = jc;
	return 0;
fail:
	free(files);
	jd_exit(jc);
	return rc;
}

const struct yw_collector_ops yw_collector_journald = {
    .name = "journald",
    .init = jd_init,
    .fd = jd_fd,
    .poll = jd_poll,
    .commit = jd_commit,
    .exit = jd_exit,
};

#endif
