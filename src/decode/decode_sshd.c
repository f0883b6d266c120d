/* OpenSSH sshd messages: every authentication outcome and the connection noise around it.
 * PAM lines logged by sshd ("pam_unix(sshd:auth): ...") go to the PAM decoder instead. */
#include "syslog_progs.h"

static void category(struct yw_sl *s, const char *cat)
{
	yw_sl_strz(s, "event.category", cat);
}

/* "ADDR[ port N]": sets source.address/ip and source.port. */
static void addr_port(struct yw_sl *s, const struct yw_sl_ep *ep, const char *p, const char *end)
{
	const char *a = yw_sl_tok(p, end), *q = a;
	size_t an = (size_t)(a - p);
	bool port = YW_SL_EAT(&q, end, " port ");
	/* Old form "Received disconnect from 1.2.3.4: 11: Bye" ends the address with ':'. */
	if (!port && an > 1 && (p[an - 1] == ':' || p[an - 1] == ','))
		an--;
	yw_sl_addr(s, ep, p, an);
	if (port)
		yw_sl_num(s, ep->port, q, yw_sl_digits(q, end));
}

/* "[invalid user |authenticating user |user ]X ADDR port N ..." or "ADDR port N ...". */
static void user_addr_port(struct yw_sl *s, const char *p, const char *end)
{
	const char *u = p;
	if (YW_SL_EAT(&u, end, "invalid user ") || YW_SL_EAT(&u, end, "authenticating user ") ||
	    YW_SL_EAT(&u, end, "user ")) {
		const char *port = YW_SL_RFIND(u, end, " port ");
		if (port) {
			const char *a = port;
			while (a > u && a[-1] != ' ')
				a--;
			if (a > u) {
				yw_sl_user(s, "user.name", u, (size_t)(a - 1 - u));
				addr_port(s, &yw_sl_source, a, end);
				return;
			}
		}
	}
	addr_port(s, &yw_sl_source, p, end);
}

/* "for [invalid user ]USER from ADDR port N ..." at p: user up to the last " from ". */
static bool user_from(struct yw_sl *s, const char *p, const char *end)
{
	if (!YW_SL_EAT(&p, end, "invalid user "))
		YW_SL_EAT(&p, end, "illegal user ");
	const char *from = YW_SL_RFIND(p, end, " from ");
	if (!from)
		return false;
	yw_sl_user(s, "user.name", p, (size_t)(from - p));
	addr_port(s, &yw_sl_source, from + 6, end);
	return true;
}

/* "Accepted|Failed|Postponed METHOD for [invalid user ]USER from ADDR port N ssh2[: SIG]" */
static bool login(struct yw_sl *s, const char *p, const char *end)
{
	const char *ev = p, *outcome;
	if (YW_SL_EAT(&p, end, "Accepted "))
		outcome = "success";
	else if (YW_SL_EAT(&p, end, "Failed "))
		outcome = "failure";
	else if (YW_SL_EAT(&p, end, "Postponed "))
		outcome = NULL;
	else
		return false;
	const char *m = p, *me = yw_sl_tok(p, end);
	p = me;
	if (!YW_SL_EAT(&p, end, " for "))
		return false;
	const char *from = YW_SL_RFIND(p, end, " from ");
	if (!from)
		return false;
	yw_sl_action(s, "ssh_login", outcome);
	category(s, "authentication");
	yw_sl_str(s, "system.auth.ssh.event", ev, (size_t)(m - 1 - ev));
	yw_sl_str(s, "system.auth.ssh.method", m, (size_t)(me - m));
	user_from(s, p, end);
	const char *sig = YW_SL_FIND(from, end, ": ");
	if (sig && sig + 2 < end)
		yw_sl_str(s, "system.auth.ssh.signature", sig + 2, (size_t)(end - sig - 2));
	return true;
}

/* Strips a trailing " [preauth]" (and similar bracketed notes). */
static const char *no_preauth(const char *p, const char *end)
{
	if (YW_SL_ENDS(p, end, " [preauth]"))
		return end - 10;
	if (YW_SL_ENDS(p, end, " [postauth]"))
		return end - 11;
	return end;
}

static bool reverse_mapping(struct yw_sl *s, const char *p, const char *end)
{
	const char *q = p;
	if (YW_SL_EAT(&q, end, "reverse mapping checking getaddrinfo for ")) {
		const char *h = q, *he = yw_sl_tok(q, end);
		q = he;
		if (!YW_SL_EAT(&q, end, " ["))
			return false;
		const char *ip = q;
		while (q < end && *q != ']')
			q++;
		yw_sl_action(s, "ssh_reverse_mapping_failed", NULL);
		category(s, "network");
		yw_sl_addr(s, &yw_sl_source, ip, (size_t)(q - ip));
		yw_sl_str(s, "source.domain", h, (size_t)(he - h));
		return true;
	}
	if (YW_SL_EAT(&q, end, "Address ")) {
		const char *ip = q, *ipe = yw_sl_tok(q, end);
		q = ipe;
		if (!YW_SL_EAT(&q, end, " maps to "))
			return false;
		const char *h = q;
		while (q < end && *q != ',' && *q != ' ')
			q++;
		yw_sl_action(s, "ssh_reverse_mapping_failed", NULL);
		category(s, "network");
		yw_sl_addr(s, &yw_sl_source, ip, (size_t)(ipe - ip));
		yw_sl_str(s, "source.domain", h, (size_t)(q - h));
		return true;
	}
	return false;
}

/* Messages after an optional "error: " / "fatal: " prefix. */
static bool known(struct yw_sl *s, const char *p, const char *end)
{
	const char *q = p;
	if (login(s, p, end))
		return true;
	if (YW_SL_EAT(&q, end, "Invalid user ") || YW_SL_EAT(&q, end, "Illegal user ")) {
		yw_sl_action(s, "ssh_invalid_user", "failure");
		category(s, "authentication");
		yw_sl_strz(s, "system.auth.ssh.event", "Invalid");
		const char *from = YW_SL_RFIND(q, end, " from ");
		if (from) {
			yw_sl_user(s, "user.name", q, (size_t)(from - q));
			addr_port(s, &yw_sl_source, from + 6, end);
		} else {
			yw_sl_user(s, "user.name", q, (size_t)(end - q));
		}
		return true;
	}
	if (YW_SL_EAT(&q, end, "input_userauth_request: invalid user ") ||
	    YW_SL_EAT(&q, end, "input_userauth_request: illegal user ")) {
		yw_sl_action(s, "ssh_invalid_user", "failure");
		category(s, "authentication");
		yw_sl_strz(s, "system.auth.ssh.event", "Invalid");
		yw_sl_user(s, "user.name", q, (size_t)(no_preauth(q, end) - q));
		return true;
	}
	if (YW_SL_EAT(&q, end, "maximum authentication attempts exceeded for ")) {
		yw_sl_action(s, "ssh_max_auth_attempts", "failure");
		category(s, "authentication");
		user_from(s, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Disconnecting: Too many authentication failures")) {
		yw_sl_action(s, "ssh_max_auth_attempts", "failure");
		category(s, "authentication");
		return true;
	}
	if (YW_SL_EAT(&q, end, "Disconnecting ") && YW_SL_FIND(q, end, "Too many authentication")) {
		yw_sl_action(s, "ssh_max_auth_attempts", "failure");
		category(s, "authentication");
		user_addr_port(s, q, end);
		return true;
	}
	q = p;
	if (YW_SL_EAT(&q, end, "PAM: Authentication failure for ")) {
		yw_sl_action(s, "ssh_login", "failure");
		category(s, "authentication");
		yw_sl_strz(s, "system.auth.ssh.event", "Failed");
		user_from(s, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "ROOT LOGIN REFUSED FROM ")) {
		yw_sl_action(s, "ssh_root_login_refused", "failure");
		category(s, "authentication");
		yw_sl_strz(s, "user.name", "root");
		addr_port(s, &yw_sl_source, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Disconnected from ") ||
	    YW_SL_EAT(&q, end, "Received disconnect from ")) {
		yw_sl_action(s, "ssh_disconnect", NULL);
		category(s, "network");
		user_addr_port(s, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Connection closed by ") ||
	    YW_SL_EAT(&q, end, "Connection reset by ")) {
		yw_sl_action(s, "ssh_connection_closed", NULL);
		category(s, "network");
		user_addr_port(s, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Did not receive identification string from ")) {
		yw_sl_action(s, "ssh_no_identification", NULL);
		category(s, "network");
		addr_port(s, &yw_sl_source, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Bad protocol version identification ")) {
		const char *from = YW_SL_RFIND(q, end, " from ");
		yw_sl_action(s, "ssh_bad_protocol", NULL);
		category(s, "network");
		if (from)
			addr_port(s, &yw_sl_source, from + 6, end);
		return true;
	}
	if (reverse_mapping(s, p, end))
		return true;
	if (YW_SL_EAT(&q, end, "Connection from ")) {
		yw_sl_action(s, "ssh_connection", NULL);
		category(s, "network");
		addr_port(s, &yw_sl_source, q, end);
		const char *on = YW_SL_FIND(q, end, " on ");
		if (on)
			addr_port(s, &yw_sl_destination, on + 4, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Unable to negotiate with ")) {
		yw_sl_action(s, "ssh_negotiation_failed", "failure");
		category(s, "network");
		addr_port(s, &yw_sl_source, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "refused connect from ")) {
		yw_sl_action(s, "ssh_connection_refused", "failure");
		category(s, "network");
		const char *h = q, *he = yw_sl_tok(q, end);
		yw_sl_addr(s, &yw_sl_source, h, (size_t)(he - h));
		q = he;
		if (YW_SL_EAT(&q, end, " (") && end - q > 1 && end[-1] == ')' &&
		    yw_event_set_ip(s->ev, "source.ip", q, (size_t)(end - 1 - q)) == YW_ENOMEM)
			s->err = YW_ENOMEM;
		return true;
	}
	if (YW_SL_EAT(&q, end, "Starting session: ")) {
		const char *f = YW_SL_FIND(q, end, " for ");
		yw_sl_action(s, "ssh_session_start", NULL);
		yw_sl_append(s, "event.category", "authentication");
		yw_sl_append(s, "event.category", "session");
		yw_sl_strz(s, "event.type", "start");
		if (f)
			user_from(s, f + 5, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Close session: user ")) {
		yw_sl_action(s, "ssh_session_close", NULL);
		yw_sl_append(s, "event.category", "authentication");
		yw_sl_append(s, "event.category", "session");
		yw_sl_strz(s, "event.type", "end");
		user_from(s, q, end);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Server listening on ")) {
		yw_sl_action(s, "ssh_server_listening", NULL);
		const char *e = end;
		if (e > q && e[-1] == '.')
			e--;
		addr_port(s, &yw_sl_server, q, e);
		return true;
	}
	if (YW_SL_EAT(&q, end, "Received signal ")) {
		yw_sl_action(s, "ssh_signal", NULL);
		yw_sl_num(s, "yiwang.ssh.signal", q, yw_sl_digits(q, end));
		return true;
	}
	if (YW_SL_EAT(&q, end, "PAM service(")) {
		yw_sl_action(s, "pam_max_retries_ignored", NULL);
		return true;
	}
	if (YW_SL_EAT(&q, end, "User child is on pid ")) {
		yw_sl_action(s, "ssh_user_child", NULL);
		return true;
	}
	return false;
}

void yw_sl_decode_sshd(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	if (YW_SL_STARTS(p, end, "PAM ") && len > 4 && p[4] >= '0' && p[4] <= '9') {
		yw_sl_decode_pam_more(s, msg, len);
		return;
	}
	if (known(s, p, end))
		return;
	if (YW_SL_EAT(&p, end, "error: ") || YW_SL_EAT(&p, end, "fatal: "))
		known(s, p, end);
}
