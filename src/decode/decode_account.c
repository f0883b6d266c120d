/* Accounts and logins outside sshd: PAM module messages (whatever program logged them), su,
 * and the shadow-utils tools (useradd, usermod, userdel, groupadd, groupdel, groupmod, passwd,
 * chage, chpasswd, gpasswd). */
#include <strings.h>

#include "syslog_progs.h"

/* --- PAM --- */

/* logname= uid= euid= tty= ruser= rhost= user= of pam_unix's authentication failure. */
static void pam_kv(struct yw_sl *s, const char *p, const char *end)
{
	static const struct {
		const char *key, *field;
	} map[] = {
	    {"logname=", "yiwang.pam.logname"}, {"uid=", "process.real_user.id"},
	    {"euid=", "process.user.id"},       {"tty=", "yiwang.pam.tty"},
	    {"ruser=", "source.user.name"},
	};
	const char *v;
	size_t vn;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (yw_sl_kv(p, end, map[i].key, &v, &vn) && vn)
			yw_sl_str(s, map[i].field, v, vn);
	if (yw_sl_kv(p, end, "rhost=", &v, &vn))
		yw_sl_addr(s, &yw_sl_source, v, vn);
	if (yw_sl_kv(p, end, "user=", &v, &vn))
		yw_sl_user(s, "user.name", v, vn);
}

static void auth_failure(struct yw_sl *s, const char *action, const char *p, const char *end)
{
	yw_sl_action(s, action, "failure");
	yw_sl_strz(s, "event.category", "authentication");
	pam_kv(s, p, end);
}

/* "USER" or "USER(uid=N)": sets name and, when given, id. */
static void user_uid(struct yw_sl *s, const char *name_field, const char *id_field, const char *p,
                     const char *e)
{
	const char *par = memchr(p, '(', (size_t)(e - p));
	const char *ne = par ? par : e;
	yw_sl_user(s, name_field, p, (size_t)(ne - p));
	if (par && YW_SL_STARTS(par, e, "(uid=") && e[-1] == ')')
		yw_sl_num(s, id_field, par + 5, (size_t)(e - 1 - par - 5));
}

static void session(struct yw_sl *s, const char *p, const char *end, bool open)
{
	yw_sl_action(s, open ? "session_opened" : "session_closed", NULL);
	yw_sl_append(s, "event.category", "authentication");
	yw_sl_append(s, "event.category", "session");
	yw_sl_strz(s, "event.type", open ? "start" : "end");
	const char *u = p, *ue = yw_sl_tok(p, end);
	user_uid(s, "user.name", "user.id", u, ue);
	p = ue;
	if (YW_SL_EAT(&p, end, " by "))
		user_uid(s, "process.real_user.name", "process.real_user.id", p, end);
}

static void pam_text(struct yw_sl *s, const char *p, const char *end)
{
	const char *q = p;
	if (YW_SL_EAT(&q, end, "authentication failure;")) {
		auth_failure(s, "pam_auth_failure", q, end);
	} else if (YW_SL_EAT(&q, end, "check pass; user unknown")) {
		yw_sl_action(s, "pam_user_unknown", "failure");
		yw_sl_strz(s, "event.category", "authentication");
	} else if (YW_SL_EAT(&q, end, "session opened for user ")) {
		session(s, q, end, true);
	} else if (YW_SL_EAT(&q, end, "session closed for user ")) {
		session(s, q, end, false);
	} else if (YW_SL_EAT(&q, end, "password changed for ")) {
		yw_sl_action(s, "password_changed", "success");
		yw_sl_strz(s, "event.category", "iam");
		yw_sl_append(s, "event.type", "user");
		yw_sl_append(s, "event.type", "change");
		yw_sl_user(s, "user.name", q, (size_t)(yw_sl_tok(q, end) - q));
	} else if (YW_SL_EAT(&q, end, "user \"")) {
		/* chauthtok: user "bob" does not exist in /etc/passwd */
		const char *e = memchr(q, '"', (size_t)(end - q));
		if (!e || !YW_SL_FIND(e, end, " does not exist"))
			return;
		yw_sl_action(s, "pam_user_unknown", "failure");
		yw_sl_strz(s, "event.category", "authentication");
		yw_sl_user(s, "user.name", q, (size_t)(e - q));
	}
}

void yw_sl_decode_pam(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	s->pam = true;
	if (YW_SL_STARTS(p, end, "pam_")) {
		/* pam_unix(sshd:auth): text */
		const char *par = memchr(p, '(', (size_t)(end - p));
		const char *close = par ? memchr(par, ')', (size_t)(end - par)) : NULL;
		if (!close || !YW_SL_STARTS(close, end, "): "))
			return;
		yw_sl_str(s, "yiwang.pam.module", p, (size_t)(par - p));
		const char *colon = memchr(par, ':', (size_t)(close - par));
		if (colon) {
			yw_sl_str(s, "yiwang.pam.service", par + 1, (size_t)(colon - par - 1));
			yw_sl_str(s, "yiwang.pam.type", colon + 1, (size_t)(close - colon - 1));
		}
		p = close + 3;
	}
	pam_text(s, p, end);
}

void yw_sl_decode_pam_more(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	s->pam = true;
	if (!YW_SL_EAT(&p, end, "PAM "))
		return;
	const char *n = p;
	size_t nd = yw_sl_digits(p, end);
	p += nd;
	if (!YW_SL_EAT(&p, end, " more authentication failure"))
		return;
	auth_failure(s, "pam_more_auth_failures", p, end);
	yw_sl_num(s, "yiwang.pam.failures", n, nd);
}

/* --- su --- */

static void su_result(struct yw_sl *s, bool ok, const char *user, size_t un, const char *target,
                      size_t tn, const char *tty, size_t ttyn)
{
	yw_sl_action(s, "su_login", ok ? "success" : "failure");
	yw_sl_strz(s, "event.category", "authentication");
	yw_sl_user(s, "user.name", user, un);
	yw_sl_user(s, "user.effective.name", target, tn);
	yw_sl_user(s, "yiwang.su.tty", tty, ttyn);
}

/* "[FAILED SU ](to root) bob on pts/0" and BSD's "[BAD SU ]bob to root on /dev/ttyu0". */
static bool su_to(struct yw_sl *s, const char *p, const char *end, bool ok)
{
	const char *t = NULL, *te = NULL, *u, *ue;
	if (YW_SL_EAT(&p, end, "(to ")) {
		t = p;
		while (p < end && *p != ')')
			p++;
		te = p;
		if (!YW_SL_EAT(&p, end, ") "))
			return false;
		u = p;
		ue = yw_sl_tok(p, end);
	} else {
		u = p;
		ue = yw_sl_tok(p, end);
		const char *q = ue;
		if (!YW_SL_EAT(&q, end, " to "))
			return false;
		t = q;
		te = yw_sl_tok(q, end);
	}
	const char *on = YW_SL_FIND(ue, end, " on ");
	const char *tty = on ? on + 4 : end;
	su_result(s, ok, u, (size_t)(ue - u), t, (size_t)(te - t), tty, (size_t)(end - tty));
	return true;
}

void yw_sl_decode_su(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	if (YW_SL_EAT(&p, end, "FAILED SU ") || YW_SL_EAT(&p, end, "BAD SU ")) {
		su_to(s, p, end, false);
		return;
	}
	if (YW_SL_EAT(&p, end, "Successful su for ") || YW_SL_EAT(&p, end, "FAILED su for ")) {
		bool ok = msg[0] == 'S';
		const char *t = p, *te = yw_sl_tok(p, end), *q = te;
		if (YW_SL_EAT(&q, end, " by "))
			su_result(s, ok, q, (size_t)(end - q), t, (size_t)(te - t), NULL, 0);
		return;
	}
	if (len > 2 && (p[0] == '+' || p[0] == '-') && p[1] == ' ') {
		/* "+ /dev/pts/1 root:root" (util-linux) or "+ pts/4 dcid-root" (shadow): from-to */
		bool ok = p[0] == '+';
		const char *tty = p + 2, *ttye = yw_sl_tok(tty, end);
		if (ttye == end)
			return;
		const char *u = ttye + 1;
		const char *sep = memchr(u, ':', (size_t)(end - u));
		if (!sep)
			sep = yw_sl_rfind(u, end, "-", 1);
		if (!sep)
			return;
		su_result(s, ok, u, (size_t)(sep - u), sep + 1, (size_t)(end - sep - 1), tty,
		          (size_t)(ttye - tty));
		return;
	}
	if (YW_SL_EAT(&p, end, "Authentication failed for ")) {
		su_result(s, false, NULL, 0, p, (size_t)(end - p), NULL, 0);
		return;
	}
	su_to(s, p, end, true);
}

/* --- shadow-utils --- */

static void iam(struct yw_sl *s, const char *action, const char *type, const char *change, bool ok)
{
	yw_sl_action(s, action, ok ? "success" : "failure");
	yw_sl_strz(s, "event.category", "iam");
	yw_sl_append(s, "event.type", type);
	yw_sl_append(s, "event.type", change);
}

/* "name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash" (keys in either case). */
static void comma_kv(struct yw_sl *s, const char *p, const char *end, bool group)
{
	while (p < end) {
		const char *e = YW_SL_FIND(p, end, ", ");
		if (!e)
			e = end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		if (eq) {
			size_t kn = (size_t)(eq - p), vn = (size_t)(e - eq - 1);
			const char *v = eq + 1;
			if (kn == 4 && strncasecmp(p, "name", 4) == 0)
				yw_sl_user(s, group ? "group.name" : "user.name", v, vn);
			else if (kn == 3 && strncasecmp(p, "uid", 3) == 0)
				yw_sl_num(s, "user.id", v, vn);
			else if (kn == 3 && strncasecmp(p, "gid", 3) == 0)
				yw_sl_num(s, "group.id", v, vn);
			else if (kn == 4 && strncasecmp(p, "home", 4) == 0)
				yw_sl_str(s, "yiwang.user.home", v, vn);
			else if (kn == 5 && strncasecmp(p, "shell", 5) == 0)
				yw_sl_str(s, "yiwang.user.shell", v, vn);
		}
		p = e == end ? end : e + 2;
	}
}

/* 'quoted' at p: sets [*v, *vn) and advances past the closing quote. */
static bool quoted(const char **p, const char *end, const char **v, size_t *vn)
{
	if (*p >= end || **p != '\'')
		return false;
	const char *q = memchr(*p + 1, '\'', (size_t)(end - *p - 1));
	if (!q)
		return false;
	*v = *p + 1;
	*vn = (size_t)(q - *v);
	*p = q + 1;
	return true;
}

/* "add 'bob' to [shadow ]group 'sudo'" / "delete 'bob' from [shadow ]group 'sudo'" */
static bool membership(struct yw_sl *s, const char *p, const char *end, bool add)
{
	const char *u, *g;
	size_t un, gn;
	if (!quoted(&p, end, &u, &un))
		return false;
	if (!(add ? YW_SL_EAT(&p, end, " to ") : YW_SL_EAT(&p, end, " from ")))
		return false;
	bool shadow = YW_SL_EAT(&p, end, "shadow ");
	if (!YW_SL_EAT(&p, end, "group ") || !quoted(&p, end, &g, &gn))
		return false;
	const char *action =
	    add ? (shadow ? "user_added_to_shadow_group" : "user_added_to_group")
	        : (shadow ? "user_removed_from_shadow_group" : "user_removed_from_group");
	iam(s, action, "group", "change", true);
	yw_sl_user(s, "user.name", u, un);
	yw_sl_user(s, "group.name", g, gn);
	return true;
}

/* gpasswd: "user bob added by root to group sudo", "user bob removed by root from group x" */
static bool gpasswd_member(struct yw_sl *s, const char *p, const char *end)
{
	const char *u = p, *ue = yw_sl_tok(p, end), *q = ue;
	bool add;
	if (YW_SL_EAT(&q, end, " added by "))
		add = true;
	else if (YW_SL_EAT(&q, end, " removed by "))
		add = false;
	else
		return false;
	const char *by = q, *bye = yw_sl_tok(q, end);
	q = bye;
	if (!(add ? YW_SL_EAT(&q, end, " to group ") : YW_SL_EAT(&q, end, " from group ")))
		return false;
	iam(s, add ? "user_added_to_group" : "user_removed_from_group", "group", "change", true);
	yw_sl_user(s, "user.name", u, (size_t)(ue - u));
	yw_sl_user(s, "group.name", q, (size_t)(yw_sl_tok(q, end) - q));
	yw_sl_user(s, "process.real_user.name", by, (size_t)(bye - by));
	return true;
}

void yw_sl_decode_account(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len, *v, *e;
	size_t vn;
	if (YW_SL_EAT(&p, end, "new user: ")) {
		iam(s, "user_created", "user", "creation", true);
		comma_kv(s, p, end, false);
	} else if (YW_SL_EAT(&p, end, "new group: ")) {
		iam(s, "group_created", "group", "creation", true);
		comma_kv(s, p, end, true);
	} else if (YW_SL_EAT(&p, end, "group added to ") && (e = YW_SL_FIND(p, end, ": "))) {
		iam(s, "group_entry_added", "group", "creation", true);
		yw_sl_str(s, "file.path", p, (size_t)(e - p));
		comma_kv(s, e + 2, end, true);
	} else if (YW_SL_EAT(&p, end, "add ")) {
		membership(s, p, end, true);
	} else if (YW_SL_EAT(&p, end, "delete user ")) {
		if (quoted(&p, end, &v, &vn)) {
			iam(s, "user_deleted", "user", "deletion", true);
			yw_sl_user(s, "user.name", v, vn);
		}
	} else if (YW_SL_EAT(&p, end, "delete ")) {
		membership(s, p, end, false);
	} else if (YW_SL_EAT(&p, end, "removed group ") ||
	           YW_SL_EAT(&p, end, "removed shadow group ")) {
		if (quoted(&p, end, &v, &vn)) {
			iam(s, msg[8] == 's' ? "shadow_group_deleted" : "group_deleted", "group",
			    "deletion", true);
			yw_sl_user(s, "group.name", v, vn);
		}
	} else if (YW_SL_EAT(&p, end, "group ")) {
		/* groupdel: "group 'bob' removed" / "group 'bob' removed from /etc/group" */
		if (quoted(&p, end, &v, &vn) && YW_SL_EAT(&p, end, " removed")) {
			bool entry = YW_SL_EAT(&p, end, " from ");
			iam(s, entry ? "group_entry_removed" : "group_deleted", "group", "deletion",
			    true);
			yw_sl_user(s, "group.name", v, vn);
			if (entry)
				yw_sl_str(s, "file.path", p, (size_t)(end - p));
		} else if (YW_SL_EAT(&p, end, "changed in ")) {
			iam(s, "group_changed", "group", "change", true);
		}
	} else if (YW_SL_EAT(&p, end, "change user ")) {
		if (YW_SL_EAT(&p, end, "name ") && quoted(&p, end, &v, &vn)) {
			iam(s, "user_changed", "user", "change", true);
			yw_sl_user(s, "user.name", v, vn);
			if (YW_SL_EAT(&p, end, " to ") && quoted(&p, end, &v, &vn))
				yw_sl_user(s, "user.changes.name", v, vn);
		} else if (quoted(&p, end, &v, &vn)) {
			bool pw = YW_SL_STARTS(p, end, " password");
			iam(s, pw ? "password_changed" : "user_changed", "user", "change", true);
			yw_sl_user(s, "user.name", v, vn);
		}
	} else if (YW_SL_EAT(&p, end, "lock user ") || YW_SL_EAT(&p, end, "unlock user ")) {
		if (quoted(&p, end, &v, &vn)) {
			iam(s, "user_changed", "user", "change", true);
			yw_sl_user(s, "user.name", v, vn);
		}
	} else if (YW_SL_EAT(&p, end, "password changed for ")) {
		iam(s, "password_changed", "user", "change", true);
		yw_sl_user(s, "user.name", p, (size_t)(yw_sl_tok(p, end) - p));
	} else if (YW_SL_EAT(&p, end, "changed password expiry for ")) {
		iam(s, "password_expiry_changed", "user", "change", true);
		e = end;
		if (e > p && e[-1] == '.')
			e--;
		yw_sl_user(s, "user.name", p, (size_t)(e - p));
	} else if (YW_SL_EAT(&p, end, "failed adding user ")) {
		if (quoted(&p, end, &v, &vn)) {
			iam(s, "user_created", "user", "creation", false);
			yw_sl_user(s, "user.name", v, vn);
		}
	} else if (YW_SL_EAT(&p, end, "user ")) {
		gpasswd_member(s, p, end);
	} else if (YW_SL_EAT(&p, end, "members of group ")) {
		iam(s, "group_changed", "group", "change", true);
		yw_sl_user(s, "group.name", p, (size_t)(yw_sl_tok(p, end) - p));
	}
}
