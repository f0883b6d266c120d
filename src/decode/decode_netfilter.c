/* Kernel messages; netfilter LOG/NFLOG target lines (iptables -j LOG, UFW, firewalld):
 * "[12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=... SRC=1.2.3.4 DST=5.6.7.8 ... PROTO=TCP
 * SPT=1234 DPT=22 ...". The text before IN= is the rule's --log-prefix. */
#include "syslog_progs.h"

/* A kernel "[ 12345.678901] " uptime stamp at p, or p itself. */
static const char *skip_uptime(const char *p, const char *end)
{
	const char *q = p;
	if (!YW_SL_EAT(&q, end, "["))
		return p;
	while (q < end && *q == ' ')
		q++;
	size_t nd = yw_sl_digits(q, end);
	if (nd == 0)
		return p;
	q += nd;
	if (!YW_SL_EAT(&q, end, "."))
		return p;
	q += yw_sl_digits(q, end);
	if (!YW_SL_EAT(&q, end, "]"))
		return p;
	YW_SL_EAT(&q, end, " ");
	return q;
}

static void kv_field(struct yw_sl *s, const char *p, const char *end, const char *key,
                     const char *field, bool ip)
{
	const char *v;
	size_t vn;
	if (!yw_sl_kv(p, end, key, &v, &vn) || vn == 0)
		return;
	if (ip) {
		if (!s->err && yw_event_set_ip(s->ev, field, v, vn) == YW_ENOMEM)
			s->err = YW_ENOMEM;
	} else {
		yw_sl_str(s, field, v, vn);
	}
}

void yw_sl_decode_kernel(struct yw_sl *s, const char *msg, size_t len)
{
	const char *end = msg + len, *p = skip_uptime(msg, end);
	const char *in = YW_SL_STARTS(p, end, "IN=") ? p : YW_SL_FIND(p, end, " IN=");
	if (!in)
		return;
	if (*in == ' ')
		in++;
	if (!YW_SL_FIND(in, end, " SRC=") && !YW_SL_FIND(in, end, " PROTO="))
		return;
	/* The log prefix, trimmed and without UFW-style brackets. */
	const char *a = p;
	size_t plen = (size_t)(in - p);
	while (plen && a[plen - 1] == ' ')
		plen--;
	if (plen >= 2 && a[0] == '[' && a[plen - 1] == ']') {
		a++;
		plen -= 2;
	}
	if (plen)
		yw_sl_str(s, "event.action", a, plen);
	else
		yw_sl_strz(s, "event.action", "netfilter_log");
	yw_sl_strz(s, "event.category", "network");
	kv_field(s, in, end, "IN=", "observer.ingress.interface.name", false);
	kv_field(s, in, end, "OUT=", "observer.egress.interface.name", false);
	kv_field(s, in, end, "SRC=", "source.ip", true);
	kv_field(s, in, end, "DST=", "destination.ip", true);
	const char *v;
	size_t vn;
	if (yw_sl_kv(in, end, "SPT=", &v, &vn))
		yw_sl_num(s, "source.port", v, vn);
	if (yw_sl_kv(in, end, "DPT=", &v, &vn))
		yw_sl_num(s, "destination.port", v, vn);
	if (yw_sl_kv(in, end, "PROTO=", &v, &vn) && vn > 0 && vn <= 16) {
		char t[16];
		for (size_t i = 0; i < vn; i++)
			t[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
		yw_sl_str(s, "network.transport", t, vn);
	}
}
