/* sudo: "  bob : [reason ; ]TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/ls -l".
 * PAM lines logged by sudo go to the PAM decoder instead. */
#include "syslog_progs.h"

static const char *failure_action(const char *r, const char *re)
{
	if (YW_SL_FIND(r, re, "incorrect password attempt"))
		return "sudo_auth_failure";
	if (YW_SL_FIND(r, re, "NOT in sudoers"))
		return "sudo_not_in_sudoers";
	if (YW_SL_FIND(r, re, "command not allowed"))
		return "sudo_command_not_allowed";
	return "sudo_denied";
}

void yw_sl_decode_sudo(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	while (p < end && *p == ' ')
		p++;
	const char *sep = YW_SL_FIND(p, end, " : ");
	if (!sep)
		return;
	const char *user = p, *reason = NULL, *reason_end = NULL;
	bool keys = false;
	p = sep + 3;
	while (p < end) {
		const char *e = YW_SL_FIND(p, end, " ; ");
		const char *q = p;
		if (YW_SL_EAT(&q, end, "COMMAND=")) {
			/* The command is last and may itself hold " ; ". */
			yw_sl_str(s, "process.command_line", q, (size_t)(end - q));
			keys = true;
			break;
		}
		if (!e)
			e = end;
		if (YW_SL_EAT(&q, e, "TTY="))
			yw_sl_str(s, "sudo.tty", q, (size_t)(e - q));
		else if (YW_SL_EAT(&q, e, "PWD="))
			yw_sl_str(s, "process.working_directory", q, (size_t)(e - q));
		else if (YW_SL_EAT(&q, e, "USER="))
			yw_sl_user(s, "user.effective.name", q, (size_t)(e - q));
		else if (YW_SL_EAT(&q, e, "GROUP="))
			yw_sl_user(s, "user.effective.group.name", q, (size_t)(e - q));
		else if (YW_SL_EAT(&q, e, "ENV="))
			yw_sl_str(s, "sudo.env", q, (size_t)(e - q));
		else if (!reason && !keys)
			reason = p, reason_end = e;
		if (q != p)
			keys = true;
		p = e == end ? end : e + 3;
	}
	yw_sl_user(s, "user.name", user, (size_t)(sep - user));
	if (!keys)
		return; /* a bare notice such as "unable to resolve host" */
	if (reason) {
		yw_sl_str(s, "sudo.error", reason, (size_t)(reason_end - reason));
		yw_sl_action(s, failure_action(reason, reason_end), "failure");
		yw_sl_append(s, "event.category", "process");
		yw_sl_append(s, "event.category", "authentication");
	} else {
		yw_sl_action(s, "sudo_command", "success");
		yw_sl_strz(s, "event.category", "process");
	}
}
