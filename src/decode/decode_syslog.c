/* Syslog headers (RFC 3164 in its real-world variants, rsyslog/journald ISO timestamps,
 * RFC 5424) and the dispatch of the message to a program decoder chosen by process.name. */
#include <stdio.h>
#include <time.h>

#include "decode_int.h"
#include "yw_limits.h"
#include "syslog_progs.h"

/* Chosen by exact process.name. Services follow Sigma's linux log sources. */
static const struct yw_sl_prog progs[] = {
    {"sshd", "sshd", yw_sl_decode_sshd},
    {"sudo", "sudo", yw_sl_decode_sudo},
    {"su", "auth", yw_sl_decode_su},
    {"CRON", "cron", yw_sl_decode_cron},
    {"cron", "cron", yw_sl_decode_cron},
    {"crond", "cron", yw_sl_decode_cron},
    {"useradd", "auth", yw_sl_decode_account},
    {"adduser", "auth", yw_sl_decode_account},
    {"usermod", "auth", yw_sl_decode_account},
    {"userdel", "auth", yw_sl_decode_account},
    {"deluser", "auth", yw_sl_decode_account},
    {"groupadd", "auth", yw_sl_decode_account},
    {"groupdel", "auth", yw_sl_decode_account},
    {"groupmod", "auth", yw_sl_decode_account},
    {"passwd", "auth", yw_sl_decode_account},
    {"chage", "auth", yw_sl_decode_account},
    {"chpasswd", "auth", yw_sl_decode_account},
    {"gpasswd", "auth", yw_sl_decode_account},
    {"systemd", "syslog", yw_sl_decode_systemd},
    {"systemd-logind", "auth", yw_sl_decode_logind},
    {"kernel", "syslog", yw_sl_decode_kernel},
};

/* A parsed timestamp before conversion. */
struct ts {
	int year, mon, day, hour, min, sec;
	int64_t nsec;
	int off; /* seconds east of UTC */
	bool has_year;
};

/* The header as found; pointers into the line. */
struct hdr {
	const char *host, *prog, *pid, *msg;
	size_t host_len, prog_len, pid_len;
};

const struct yw_sl_ep yw_sl_source = {"source.address", "source.ip", "source.port"};
const struct yw_sl_ep yw_sl_destination = {"destination.address", "destination.ip",
                                           "destination.port"};
const struct yw_sl_ep yw_sl_server = {"server.address", "server.ip", "server.port"};

void yw_sl_addr(struct yw_sl *s, const struct yw_sl_ep *ep, const char *v, size_t n)
{
	if (n == 0)
		return;
	yw_sl_str(s, ep->address, v, n);
	if (!s->err && yw_event_set_ip(s->ev, ep->ip, v, n) == YW_ENOMEM)
		s->err = YW_ENOMEM;
}

void yw_sl_num(struct yw_sl *s, const char *name, const char *p, size_t n)
{
	int64_t v;
	if (yw_sl_uint(p, n, &v))
		yw_sl_int(s, name, v);
}

bool yw_sl_kv(const char *p, const char *end, const char *key, const char **v, size_t *vn)
{
	size_t kn = strlen(key);
	const char *q = p;
	while ((q = yw_sl_find(q, end, key, kn)) != NULL) {
		if (q == p || q[-1] == ' ') {
			const char *b = q + kn, *e = b;
			while (e < end && *e != ' ' && *e != ';')
				e++;
			*v = b;
			*vn = (size_t)(e - b);
			return true;
		}
		q++;
	}
	return false;
}

static int two(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

static int month_of(const char *p, const char *end)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (end - p < 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (memcmp(p, names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* "hh:mm:ss" with an optional fraction of any length (the first 9 digits count). */
static bool parse_hms(const char **pp, const char *end, struct ts *t)
{
	const char *p = *pp;
	if (end - p < 8 || p[2] != ':' || p[5] != ':')
		return false;
	t->hour = two(p);
	t->min = two(p + 3);
	t->sec = two(p + 6);
	if (t->hour < 0 || t->hour > 23 || t->min < 0 || t->min > 59 || t->sec < 0 || t->sec > 60)
		return false;
	p += 8;
	t->nsec = 0;
	if (p + 1 < end && (*p == '.' || *p == ',') && p[1] >= '0' && p[1] <= '9') {
		p++;
		int64_t scale = 100000000;
		while (p < end && *p >= '0' && *p <= '9') {
			t->nsec += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	*pp = p;
	return true;
}

static bool parse_year(const char *p, const char *end, int *year)
{
	int64_t v;
	if (end - p < 4 || !yw_sl_uint(p, 4, &v))
		return false;
	*year = (int)v;
	return true;
}

/* "Mmm dd hh:mm:ss[.frac][ yyyy]" or "Mmm dd yyyy hh:mm:ss"; the day may be " d", "d", "dd". */
static bool parse_bsd(const char **pp, const char *end, struct ts *t)
{
	const char *p = *pp;
	t->mon = month_of(p, end);
	if (!t->mon)
		return false;
	p += 3;
	if (p == end || *p != ' ')
		return false;
	p++;
	if (p < end && *p == ' ')
		p++;
	size_t nd = yw_sl_digits(p, end);
	if (nd < 1 || nd > 2)
		return false;
	t->day = nd == 1 ? p[0] - '0' : two(p);
	if (t->day < 1 || t->day > 31)
		return false;
	p += nd;
	if (p == end || *p != ' ')
		return false;
	p++;
	t->has_year = false;
	if (parse_year(p, end, &t->year) && p + 4 < end && p[4] == ' ') {
		t->has_year = true;
		p += 5;
	}
	if (!parse_hms(&p, end, t))
		return false;
	if (!t->has_year && p < end && *p == ' ' && parse_year(p + 1, end, &t->year) &&
	    (p + 5 == end || p[5] == ' ' || p[5] == ']')) {
		t->has_year = true;
		p += 5;
	}
	t->off = 0;
	*pp = p;
	return true;
}

/* "yyyy-mm-dd[T ]hh:mm:ss[.frac][Z|+hh:mm|+hhmm]". */
static bool parse_iso(const char **pp, const char *end, struct ts *t)
{
	const char *p = *pp;
	if (end - p < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' '))
		return false;
	if (!parse_year(p, end, &t->year))
		return false;
	t->mon = two(p + 5);
	t->day = two(p + 8);
	if (t->mon < 1 || t->mon > 12 || t->day < 1 || t->day > 31)
		return false;
	p += 11;
	if (!parse_hms(&p, end, t))
		return false;
	t->has_year = true;
	t->off = 0;
	size_t left = (size_t)(end - p);
	if (left && *p == 'Z') {
		p++;
	} else if (left >= 5 && (*p == '+' || *p == '-')) {
		int sign = *p == '-' ? -1 : 1;
		int hh = two(p + 1), mm;
		const char *q = p + 3;
		if (*q == ':') {
			if (end - q < 3)
				return false;
			q++;
		}
		mm = two(q);
		if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
			return false;
		t->off = sign * (hh * 3600 + mm * 60);
		p = q + 2;
	}
	*pp = p;
	return true;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int current_year(void)
{
	time_t now = time(NULL);
	struct tm tm;
	if (!gmtime_r(&now, &tm))
		return 1970;
	return tm.tm_year + 1900;
}

static void set_time(struct yw_sl *s, struct ts *t, const struct yw_decode_opts *opts)
{
	if (!t->has_year)
		t->year = opts && opts->default_year ? opts->default_year : current_year();
	/* Nanoseconds since 1970 fit int64 only between 1678 and 2262. */
	if (t->year < 1680 || t->year > 2260) {
		yw_event_anomaly(s->ev, "syslog timestamp year %d out of range", t->year);
		return;
	}
	int64_t secs = days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 +
	               t->min * 60 + t->sec - t->off;
	if (!s->err)
		s->err = yw_event_set_time(s->ev, "@timestamp", secs * 1000000000 + t->nsec);
}

/* "prog[pid]: " or "prog: " at p; the colon must end the token. Sets prog/pid/msg. */
static bool parse_tag(const char *p, const char *end, struct hdr *h)
{
	const char *q = p;
	while (q < end && *q != ' ' && *q != ':' && *q != '[' && q - p < YW_MAX_SYSLOG_TAG)
		q++;
	if (q == p || q == end || (*q != ':' && *q != '['))
		return false;
	const char *name_end = q, *pid = NULL;
	if (*q == '[') {
		pid = ++q;
		while (q < end && *q != ']' && *q != ' ' && q - pid < YW_MAX_SYSLOG_PID)
			q++;
		if (q == end || *q != ']')
			return false;
		q++;
	}
	if (q == end || *q != ':' || (q + 1 < end && q[1] != ' '))
		return false;
	h->prog = p;
	h->prog_len = (size_t)(name_end - p);
	h->pid = pid;
	h->pid_len = pid ? (size_t)(q - 1 - pid) : 0;
	q++;
	if (q < end)
		q++; /* exactly one space: what follows belongs to the message */
	h->msg = q;
	return true;
}

static bool repeated_notice(const char *p, const char *end)
{
	return YW_SL_STARTS(p, end, "last message repeated ") ||
	       YW_SL_STARTS(p, end, "--- last message repeated ");
}

/* After a 3164 timestamp: "[host ]prog[pid]: msg", "host msg" or "last message repeated". */
static void parse_3164_rest(const char *p, const char *end, struct hdr *h)
{
	while (p < end && *p == ' ')
		p++;
	h->msg = p;
	if (repeated_notice(p, end) || parse_tag(p, end, h))
		return;
	const char *t = yw_sl_tok(p, end);
	h->host = p;
	h->host_len = (size_t)(t - p);
	p = t;
	if (p < end)
		p++;
	h->msg = p;
	if (repeated_notice(p, end))
		return;
	parse_tag(p, end, h);
}

/* Optional "<PRI>": returns the value or -1, advancing p past it. */
static int parse_pri(const char **pp, const char *end)
{
	const char *p = *pp;
	if (p == end || *p != '<')
		return -1;
	size_t nd = yw_sl_digits(p + 1, end);
	int64_t v;
	if (nd < 1 || nd > 3 || p + 1 + nd == end || p[1 + nd] != '>' ||
	    !yw_sl_uint(p + 1, nd, &v) || v > 191)
		return -1;
	*pp = p + 2 + nd;
	return (int)v;
}

/* RFC 5424 after "<PRI>VERSION ": returns false (with msg set to what is left) when the
 * structure breaks, so the caller notes it. */
static bool parse_5424(struct yw_sl *s, const char *p, const char *end, struct hdr *h,
                       const struct yw_decode_opts *opts)
{
	struct ts t;
	const char *f[4];
	size_t fn[4];
	h->msg = p;
	if (YW_SL_EAT(&p, end, "-")) {
		/* nil timestamp */
	} else if (!parse_iso(&p, end, &t)) {
		return false;
	} else {
		set_time(s, &t, opts);
	}
	/* HOSTNAME APP-NAME PROCID MSGID */
	for (int i = 0; i < 4; i++) {
		if (p == end || *p != ' ')
			return false;
		p++;
		f[i] = p;
		p = yw_sl_tok(p, end);
		fn[i] = (size_t)(p - f[i]);
		h->msg = p;
		if (fn[i] == 0)
			return false;
	}
	bool nil[4];
	for (int i = 0; i < 4; i++)
		nil[i] = fn[i] == 1 && f[i][0] == '-';
	if (!nil[0]) {
		h->host = f[0];
		h->host_len = fn[0];
	}
	if (!nil[1]) {
		h->prog = f[1];
		h->prog_len = fn[1];
	}
	if (!nil[2]) {
		h->pid = f[2];
		h->pid_len = fn[2];
	}
	if (!nil[3])
		yw_sl_str(s, "log.syslog.msgid", f[3], fn[3]);
	if (p == end || *p != ' ')
		return false;
	p++;
	h->msg = p;
	const char *sd = p;
	if (YW_SL_EAT(&p, end, "-")) {
		sd = NULL;
	} else {
		while (p < end && *p == '[') {
			bool quoted = false;
			p++;
			while (p < end && (quoted || *p != ']')) {
				if (quoted && *p == '\\' && p + 1 < end)
					p++;
				else if (*p == '"')
					quoted = !quoted;
				p++;
			}
			if (p == end)
				return false;
			p++;
		}
		if (p == sd)
			return false;
		yw_sl_str(s, "log.syslog.structured_data", sd, (size_t)(p - sd));
	}
	if (p < end) {
		if (*p != ' ')
			return false;
		p++;
	}
	YW_SL_EAT(&p, end, "\xEF\xBB\xBF");
	h->msg = p;
	return true;
}

/* Solaris syslogd inserts "[ID 295310 daemon.notice] " before the message. */
static const char *solaris_id(struct yw_sl *s, const char *p, const char *end)
{
	const char *q = p;
	if (!YW_SL_EAT(&q, end, "[ID "))
		return p;
	const char *id = q;
	size_t nd = yw_sl_digits(q, end);
	if (nd == 0)
		return p;
	q += nd;
	if (q == end || *q != ' ')
		return p;
	const char *fac = ++q;
	while (q < end && *q != '.' && *q != ' ' && *q != ']')
		q++;
	if (q == end || *q != '.')
		return p;
	const char *fac_end = q++, *sev = q;
	while (q < end && *q != ' ' && *q != ']')
		q++;
	if (q == end || *q != ']' || q == sev)
		return p;
	yw_sl_str(s, "log.syslog.msgid", id, nd);
	yw_sl_str(s, "log.syslog.facility.name", fac, (size_t)(fac_end - fac));
	yw_sl_str(s, "log.syslog.severity.name", sev, (size_t)(q - sev));
	q++;
	if (q < end && *q == ' ')
		q++;
	return q;
}

/* "message repeated N times: [ inner]" (rsyslog's reduction): returns the inner text. */
static bool rsyslog_repeat(struct yw_sl *s, const char **msg, size_t *len)
{
	const char *p = *msg, *end = *msg + *len;
	if (!YW_SL_EAT(&p, end, "message repeated "))
		return false;
	size_t nd = yw_sl_digits(p, end);
	const char *n = p;
	p += nd;
	if (nd == 0 || !YW_SL_EAT(&p, end, " times: [") || end == p || end[-1] != ']')
		return false;
	YW_SL_EAT(&p, end, " ");
	yw_sl_num(s, "yiwang.syslog.repeated", n, nd);
	*msg = p;
	*len = (size_t)(end - 1 - p);
	return true;
}

/* "[Tue Sep 12 10:38:15 2006] " (Apache httpd error log): a time and no host or program. */
static bool bracketed_time(const char **pp, const char *end, struct ts *t)
{
	const char *p = *pp;
	if (end - p < 6 || *p != '[' || p[4] != ' ')
		return false;
	p += 5;
	if (!parse_bsd(&p, end, t) || !t->has_year || p == end || *p != ']')
		return false;
	p++;
	if (p < end && *p == ' ')
		p++;
	*pp = p;
	return true;
}

static const struct yw_sl_prog *find_prog(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (strlen(progs[i].name) == n && memcmp(progs[i].name, name, n) == 0)
			return &progs[i];
	return NULL;
}

static bool is_pam_prefix(const char *p, const char *end)
{
	if (!YW_SL_STARTS(p, end, "pam_"))
		return false;
	for (const char *q = p + 4; q < end && q - p < 64; q++) {
		if (*q == '(')
			return true;
		if (*q == ' ' || *q == ':')
			return false;
	}
	return false;
}

static void dispatch(struct yw_sl *s, const struct hdr *h)
{
	const char *msg = h->msg;
	size_t len = (size_t)(s->msg_end - msg);
	const struct yw_sl_prog *pr = h->prog ? find_prog(h->prog, h->prog_len) : NULL;
	const char *service = pr ? pr->service : "syslog";

	if (!h->prog) {
		const char *p = msg, *end = msg + len;
		YW_SL_EAT(&p, end, "--- ");
		if (YW_SL_EAT(&p, end, "last message repeated ")) {
			size_t nd = yw_sl_digits(p, end);
			yw_sl_num(s, "yiwang.syslog.repeated", p, nd);
			yw_sl_action(s, "syslog_repeated", NULL);
		}
	} else {
		rsyslog_repeat(s, &msg, &len);
		if (is_pam_prefix(msg, msg + len)) {
			yw_sl_decode_pam(s, msg, len);
		} else if (pr) {
			pr->decode(s, msg, len);
		} else if (YW_SL_ENDS(h->prog, h->prog + h->prog_len, "(pam_unix)")) {
			/* Old Red Hat style: "su(pam_unix)[2298]: authentication failure; ..." */
			yw_sl_decode_pam(s, msg, len);
		}
	}
	if (s->pam && strcmp(service, "syslog") == 0)
		service = "auth";
	if (!s->err)
		s->err = yw_event_set_logsource(s->ev, "linux", service, NULL);
}

int yw_decode_syslog_line(struct yw_event *ev, const char *line, size_t len,
                          const struct yw_decode_opts *opts)
{
	struct yw_sl s = {.ev = ev, .msg_end = line + len};
	struct hdr h = {0};
	struct ts t;
	const char *p = line, *end = line + len;
	bool ok = true, rfc5424 = false;
	int version = 0;

	int pri = parse_pri(&p, end);
	if (pri >= 0 && end - p >= 2 && p[0] >= '1' && p[0] <= '9' &&
	    (p[1] == ' ' || (p[1] >= '0' && p[1] <= '9' && end - p >= 3 && p[2] == ' '))) {
		rfc5424 = true;
		version = p[1] == ' ' ? p[0] - '0' : two(p);
		p += p[1] == ' ' ? 2 : 3;
	}
	if (rfc5424) {
		ok = parse_5424(&s, p, end, &h, opts);
	} else if (parse_bsd(&p, end, &t) || parse_iso(&p, end, &t)) {
		set_time(&s, &t, opts);
		parse_3164_rest(p, end, &h);
	} else if (bracketed_time(&p, end, &t)) {
		set_time(&s, &t, opts);
		h.msg = p;
	} else {
		/* No timestamp: after a PRI a bare "prog: msg" still counts; else all is message.
		 */
		h.msg = p;
		if (pri >= 0)
			parse_tag(p, end, &h);
		ok = false;
	}

	if (h.host)
		yw_sl_str(&s, "host.name", h.host, h.host_len);
	else if (opts && opts->default_host)
		yw_sl_strz(&s, "host.name", opts->default_host);
	if (h.prog)
		yw_sl_str(&s, "process.name", h.prog, h.prog_len);
	if (h.pid) {
		int64_t pid;
		if (yw_sl_uint(h.pid, h.pid_len, &pid))
			yw_sl_int(&s, "process.pid", pid);
		else
			yw_sl_str(&s, "log.syslog.procid", h.pid, h.pid_len);
	}
	if (pri >= 0) {
		yw_sl_int(&s, "log.syslog.priority", pri);
		yw_sl_int(&s, "log.syslog.facility.code", pri / 8);
		yw_sl_int(&s, "log.syslog.severity.code", pri % 8);
	}
	if (rfc5424)
		yw_sl_int(&s, "log.syslog.version", version);
	h.msg = solaris_id(&s, h.msg, end);
	yw_sl_str(&s, "message", h.msg, (size_t)(end - h.msg));
	if (!ok)
		yw_event_anomaly(ev, rfc5424 ? "malformed RFC 5424 header"
		                             : "syslog header not recognised");
	dispatch(&s, &h);
	if (s.err == YW_ELIMIT) {
		yw_event_anomaly(ev, "event size limit reached while decoding syslog line");
		return 0;
	}
	return s.err == YW_ENOMEM ? YW_ENOMEM : 0;
}
