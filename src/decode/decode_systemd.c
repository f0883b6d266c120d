/* systemd (PID 1 and user managers) unit life cycle, and systemd-logind sessions. */
#include "syslog_progs.h"

/* Sets systemd.unit from "X" in "Started X." (newer systemd: "foo.service - Description."). */
static void unit_from(struct yw_sl *s, const char *p, const char *end)
{
	const char *dash = YW_SL_FIND(p, end, " - ");
	if (dash) {
		end = dash;
	} else {
		while (end > p && end[-1] == '.')
			end--;
	}
	if (end > p)
		yw_sl_str(s, "systemd.unit", p, (size_t)(end - p));
}

static void unit_event(struct yw_sl *s, const char *action, const char *outcome)
{
	yw_sl_action(s, action, outcome);
	yw_sl_strz(s, "event.category", "process");
}

void yw_sl_decode_systemd(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	static const struct {
		const char *prefix, *action, *outcome;
	} lead[] = {
	    {"Started ", "unit_started", NULL},
	    {"Starting ", "unit_starting", NULL},
	    {"Stopped ", "unit_stopped", NULL},
	    {"Stopping ", "unit_stopping", NULL},
	    {"Reloaded ", "unit_reloaded", NULL},
	    {"Failed to start ", "unit_start_failed", "failure"},
	    {"Reached target ", "target_reached", NULL},
	};
	if (YW_SL_STARTS(p, end, "Reloading")) {
		unit_event(s, "systemd_reloading", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++) {
		const char *q = p;
		if (yw_sl_eat(&q, end, lead[i].prefix, strlen(lead[i].prefix))) {
			unit_event(s, lead[i].action, lead[i].outcome);
			unit_from(s, q, end);
			return;
		}
	}
	/* "UNIT: text", the unit being one token */
	const char *colon = YW_SL_FIND(p, end, ": ");
	if (!colon || colon == p || memchr(p, ' ', (size_t)(colon - p)))
		return;
	const char *q = colon + 2;
	if (YW_SL_EAT(&q, end, "Failed with result '")) {
		const char *r = q;
		while (q < end && *q != '\'')
			q++;
		unit_event(s, "unit_failed", "failure");
		yw_sl_str(s, "systemd.result", r, (size_t)(q - r));
	} else if (YW_SL_EAT(&q, end, "Main process exited, ")) {
		/* "code=exited, status=1/FAILURE" */
		const char *c = NULL, *st = NULL;
		size_t cn = 0, stn = 0;
		if (yw_sl_kv(q, end, "code=", &c, &cn) && cn && c[cn - 1] == ',')
			cn--;
		if (yw_sl_kv(q, end, "status=", &st, &stn) && stn && st[stn - 1] == ',')
			stn--;
		bool ok = stn >= 2 && st[0] == '0' && st[1] == '/';
		unit_event(s, "unit_process_exited", ok ? "success" : "failure");
		if (cn)
			yw_sl_str(s, "systemd.exit_code", c, cn);
		if (stn)
			yw_sl_str(s, "systemd.exit_status", st, stn);
	} else if (YW_SL_STARTS(q, end, "Succeeded.") ||
	           YW_SL_STARTS(q, end, "Deactivated successfully.")) {
		unit_event(s, "unit_succeeded", "success");
	} else {
		return;
	}
	yw_sl_str(s, "systemd.unit", p, (size_t)(colon - p));
}

static void logind_session(struct yw_sl *s, const char *action, const char *type, const char *p,
                           const char *end)
{
	yw_sl_action(s, action, NULL);
	yw_sl_strz(s, "event.category", "session");
	yw_sl_strz(s, "event.type", type);
	const char *e = yw_sl_tok(p, end);
	if (e > p && e[-1] == '.')
		e--;
	yw_sl_str(s, "systemd.session", p, (size_t)(e - p));
}

void yw_sl_decode_logind(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	if (YW_SL_EAT(&p, end, "New session ")) {
		/* "New session 12 of user bob." */
		logind_session(s, "logind_session_new", "start", p, end);
		const char *of = YW_SL_FIND(p, end, " of user ");
		if (of) {
			const char *u = of + 9, *e = end;
			if (e > u && e[-1] == '.')
				e--;
			yw_sl_user(s, "user.name", u, (size_t)(e - u));
		}
	} else if (YW_SL_EAT(&p, end, "Removed session ")) {
		logind_session(s, "logind_session_removed", "end", p, end);
	} else if (YW_SL_EAT(&p, end, "Session ") && YW_SL_FIND(p, end, " logged out")) {
		logind_session(s, "logind_session_logout", "end", p, end);
	}
}
