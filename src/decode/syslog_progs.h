/* Private to the syslog decoders: the program-decoder interface and the bounded scanning helpers
 * they share. Every helper takes a [p, end) range and never reads outside it. */
#ifndef YIWANG_SYSLOG_PROGS_H
#define YIWANG_SYSLOG_PROGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "yiwang/error.h"
#include "yiwang/event.h"

/* Decoding state with a sticky error, so decoders set fields without checking each call.
 * err keeps the first failure (YW_ENOMEM or YW_ELIMIT). */
struct yw_sl {
	struct yw_event *ev;
	int err;
	const char *msg_end; /* end of the line */
	bool pam; /* the message was a PAM module's: the log source service becomes auth */
};

/* A program decoder reads the message (text after "prog[pid]: ") and adds fields. */
typedef void (*yw_sl_decode_fn)(struct yw_sl *s, const char *msg, size_t len);

struct yw_sl_prog {
	const char *name;    /* exact process.name */
	const char *service; /* Sigma logsource service */
	yw_sl_decode_fn decode;
};

void yw_sl_decode_sshd(struct yw_sl *s, const char *msg, size_t len);
void yw_sl_decode_sudo(struct yw_sl *s, const char *msg, size_t len);
void yw_sl_decode_su(struct yw_sl *s, const char *msg, size_t len);
/* pam_MODULE(service:type): text, whatever program logged it. decode_account.c */
void yw_sl_decode_pam(struct yw_sl *s, const char *msg, size_t len);
/* PAM's "N more authentication failures; logname=..." summary. decode_account.c */
void yw_sl_decode_pam_more(struct yw_sl *s, const char *msg, size_t len);
/* useradd, usermod, userdel, groupadd, groupdel, groupmod, passwd, chage, chpasswd, gpasswd. */
void yw_sl_decode_account(struct yw_sl *s, const char *msg, size_t len);
void yw_sl_decode_cron(struct yw_sl *s, const char *msg, size_t len);
void yw_sl_decode_systemd(struct yw_sl *s, const char *msg, size_t len);
void yw_sl_decode_logind(struct yw_sl *s, const char *msg, size_t len);
void yw_sl_decode_kernel(struct yw_sl *s, const char *msg, size_t len);

/* Field setters that record the first error in s->err and do nothing after one. */
static inline void yw_sl_str(struct yw_sl *s, const char *name, const char *v, size_t n)
{
	if (!s->err)
		s->err = yw_event_set_str(s->ev, name, v, n);
}

static inline void yw_sl_strz(struct yw_sl *s, const char *name, const char *v)
{
	yw_sl_str(s, name, v, strlen(v));
}

static inline void yw_sl_int(struct yw_sl *s, const char *name, int64_t v)
{
	if (!s->err)
		s->err = yw_event_set_int(s->ev, name, v);
}

static inline void yw_sl_append(struct yw_sl *s, const char *name, const char *v)
{
	if (!s->err)
		s->err = yw_event_append(s->ev, name, v, strlen(v));
}

/* Sets event.action, and event.outcome unless outcome is NULL. */
static inline void yw_sl_action(struct yw_sl *s, const char *action, const char *outcome)
{
	yw_sl_strz(s, "event.action", action);
	if (outcome)
		yw_sl_strz(s, "event.outcome", outcome);
}

/* Sets a non-empty user name. */
static inline void yw_sl_user(struct yw_sl *s, const char *name, const char *v, size_t n)
{
	if (n)
		yw_sl_str(s, name, v, n);
}

/* The fields of one end of a connection, named once so the hot path never formats names. */
struct yw_sl_ep {
	const char *address, *ip, *port;
};
extern const struct yw_sl_ep yw_sl_source, yw_sl_destination, yw_sl_server;

/* ep->address as written, plus ep->ip when the text is an IP address. */
void yw_sl_addr(struct yw_sl *s, const struct yw_sl_ep *ep, const char *v, size_t n);

/* Sets name to the decimal number in [p, p+n) when it is one (at most 18 digits). */
void yw_sl_num(struct yw_sl *s, const char *name, const char *p, size_t n);

/* Parses an unsigned decimal of 1..18 digits filling all of [p, p+n). */
static inline bool yw_sl_uint(const char *p, size_t n, int64_t *out)
{
	if (n == 0 || n > 18)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* Number of leading decimal digits in [p, end). */
static inline size_t yw_sl_digits(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return (size_t)(q - p);
}

/* True and *p advanced past lit when [*p, end) starts with it. */
static inline bool yw_sl_eat(const char **p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}
#define YW_SL_EAT(p, end, lit) yw_sl_eat((p), (end), (lit), sizeof(lit) - 1)

static inline bool yw_sl_starts(const char *p, const char *end, const char *lit, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}
#define YW_SL_STARTS(p, end, lit) yw_sl_starts((p), (end), (lit), sizeof(lit) - 1)

static inline bool yw_sl_ends(const char *p, const char *end, const char *lit, size_t n)
{
	return (size_t)(end - p) >= n && memcmp(end - n, lit, n) == 0;
}
#define YW_SL_ENDS(p, end, lit) yw_sl_ends((p), (end), (lit), sizeof(lit) - 1)

/* First / last occurrence of lit in [p, end), or NULL. */
static inline const char *yw_sl_find(const char *p, const char *end, const char *lit, size_t n)
{
	if (p >= end)
		return NULL;
	return memmem(p, (size_t)(end - p), lit, n);
}
#define YW_SL_FIND(p, end, lit) yw_sl_find((p), (end), (lit), sizeof(lit) - 1)

static inline const char *yw_sl_rfind(const char *p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - p) < n)
		return NULL;
	for (const char *q = end - n; q >= p; q--) {
		if (*q == lit[0] && memcmp(q, lit, n) == 0)
			return q;
		if (q == p)
			break;
	}
	return NULL;
}
#define YW_SL_RFIND(p, end, lit) yw_sl_rfind((p), (end), (lit), sizeof(lit) - 1)

/* End of the token starting at p: the first space or end. */
static inline const char *yw_sl_tok(const char *p, const char *end)
{
	while (p < end && *p != ' ')
		p++;
	return p;
}

/* Value of "key=" (key given with its '=') in a space separated list: the text up to the next
 * space or ';'. The key must start the text or follow a space. False when absent. */
bool yw_sl_kv(const char *p, const char *end, const char *key, const char **v, size_t *vn);

#endif
