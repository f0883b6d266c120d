/* Program decoders behind the syslog header: sshd, sudo, su, PAM, account tools, cron,
 * systemd, systemd-logind and kernel netfilter lines. Each case lists exact field values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "decode/decode_int.h"

#define H "Mar 27 13:06:56 host1 "

struct kv {
	const char *name;
	const char *want; /* NULL: absent; "[a,b]": a list; "logsource.service" is special */
};

struct tcase {
	const char *line;
	struct kv kv[16];
};

static struct yw_event *ev;

static int setup(void **state)
{
	ev = yw_event_new();
	return ev ? 0 : -1;
}

static int teardown(void **state)
{
	yw_event_free(ev);
	return 0;
}

static void value_of(const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	if (strcmp(name, "logsource.service") == 0) {
		const char *s = yw_event_logsource(ev)->service;
		snprintf(out, cap, "%s", s ? s : "(null)");
		return;
	}
	const struct yw_field *f = yw_event_get(ev, name);
	if (!f) {
		snprintf(out, cap, "(absent)");
		return;
	}
	if (f->type != YW_T_LIST) {
		snprintf(out, cap, "%s", f->text);
		return;
	}
	size_t n = (size_t)snprintf(out, cap, "[");
	for (uint32_t i = 0; i < f->n && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", f->items[i].s);
	if (n < cap)
		snprintf(out + n, cap - n, "]");
}

static void run(const struct tcase *cases, size_t n)
{
	struct yw_decode_opts opts = {.default_year = 2024};
	char got[1024];
	for (size_t i = 0; i < n; i++) {
		const struct tcase *c = &cases[i];
		yw_event_clear(ev);
		assert_int_equal(yw_decode_syslog_line(ev, c->line, strlen(c->line), &opts), 0);
		for (const struct kv *k = c->kv; k->name; k++) {
			value_of(k->name, got, sizeof(got));
			const char *want = k->want ? k->want : "(absent)";
			if (strcmp(got, want) != 0)
				fail_msg("line %s\n  %s: expected \"%s\", got \"%s\"", c->line,
				         k->name, want, got);
		}
	}
}

#define RUN(cases) run(cases, sizeof(cases) / sizeof(cases[0]))

static void test_sshd_auth(void **state)
{
	static const struct tcase cases[] = {
	    {H "sshd[1]: Accepted publickey for ubuntu from 85.245.107.41 port 54259 ssh2: RSA "
	       "SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg",
	     {{"event.action", "ssh_login"},
	      {"event.outcome", "success"},
	      {"event.category", "authentication"},
	      {"user.name", "ubuntu"},
	      {"source.ip", "85.245.107.41"},
	      {"source.address", "85.245.107.41"},
	      {"source.port", "54259"},
	      {"system.auth.ssh.method", "publickey"},
	      {"system.auth.ssh.event", "Accepted"},
	      {"system.auth.ssh.signature",
	       "RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg"},
	      {"logsource.service", "sshd"}}},
	    {H "sshd[1]: Failed password for invalid user ss7 from 65.202.215.2 port 18546 ssh2",
	     {{"event.action", "ssh_login"},
	      {"event.outcome", "failure"},
	      {"user.name", "ss7"},
	      {"source.ip", "65.202.215.2"},
	      {"source.port", "18546"},
	      {"system.auth.ssh.method", "password"},
	      {"system.auth.ssh.event", "Failed"},
	      {"system.auth.ssh.signature", NULL}}},
	    {H "sshd[1]: Failed password for invalid user  from 1.2.3.4 port 5 ssh2",
	     {{"event.action", "ssh_login"}, {"user.name", NULL}, {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: Accepted keyboard-interactive/pam for bob from 2001:db8::1 port 22 ssh2",
	     {{"system.auth.ssh.method", "keyboard-interactive/pam"},
	      {"source.ip", "2001:db8::1"},
	      {"user.name", "bob"}}},
	    {H "sshd[1]: Accepted hostbased for bob from example.org port 22 ssh2",
	     {{"system.auth.ssh.method", "hostbased"},
	      {"source.ip", NULL},
	      {"source.address", "example.org"}}},
	    {H "sshd[1]: Accepted gssapi-with-mic for a from user from 1.2.3.4 port 1 ssh2",
	     {{"system.auth.ssh.method", "gssapi-with-mic"}, {"user.name", "a from user"}}},
	    {H "sshd[1]: Invalid user admin from 1.2.3.4 port 40000",
	     {{"event.action", "ssh_invalid_user"},
	      {"event.outcome", "failure"},
	      {"system.auth.ssh.event", "Invalid"},
	      {"user.name", "admin"},
	      {"source.ip", "1.2.3.4"},
	      {"source.port", "40000"}}},
	    {H "sshd[1]: Invalid user oracle from 1.2.3.4",
	     {{"user.name", "oracle"}, {"source.ip", "1.2.3.4"}, {"source.port", NULL}}},
	    {H "sshd[1]: input_userauth_request: invalid user test [preauth]",
	     {{"event.action", "ssh_invalid_user"}, {"user.name", "test"}}},
	    {H "sshd[1]: ROOT LOGIN REFUSED FROM 1.2.3.4 port 22",
	     {{"event.action", "ssh_root_login_refused"},
	      {"event.outcome", "failure"},
	      {"user.name", "root"},
	      {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: error: maximum authentication attempts exceeded for invalid user x from "
	       "1.2.3.4 port 5 ssh2 [preauth]",
	     {{"event.action", "ssh_max_auth_attempts"},
	      {"event.outcome", "failure"},
	      {"user.name", "x"},
	      {"source.ip", "1.2.3.4"},
	      {"source.port", "5"}}},
	    {H "sshd[1]: Disconnecting: Too many authentication failures [preauth]",
	     {{"event.action", "ssh_max_auth_attempts"}, {"source.ip", NULL}}},
	    {H "sshd[1]: Disconnecting authenticating user root 1.2.3.4 port 9: Too many "
	       "authentication failures [preauth]",
	     {{"event.action", "ssh_max_auth_attempts"},
	      {"user.name", "root"},
	      {"source.ip", "1.2.3.4"},
	      {"source.port", "9"}}},
	    {H "sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
	       "tty=ssh ruser= rhost=1.2.3.4  user=root",
	     {{"event.action", "pam_auth_failure"},
	      {"event.outcome", "failure"},
	      {"event.category", "authentication"},
	      {"user.name", "root"},
	      {"source.ip", "1.2.3.4"},
	      {"yiwang.pam.module", "pam_unix"},
	      {"yiwang.pam.service", "sshd"},
	      {"yiwang.pam.type", "auth"},
	      {"yiwang.pam.tty", "ssh"},
	      {"process.real_user.id", "0"},
	      {"logsource.service", "sshd"}}},
	    {H "sshd[1]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh "
	       "ruser= rhost=1.2.3.4  user=root",
	     {{"event.action", "pam_more_auth_failures"},
	      {"yiwang.pam.failures", "5"},
	      {"user.name", "root"},
	      {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: pam_unix(sshd:session): session opened for user bob by (uid=0)",
	     {{"event.action", "session_opened"},
	      {"event.category", "[authentication,session]"},
	      {"event.type", "start"},
	      {"user.name", "bob"},
	      {"process.real_user.name", NULL},
	      {"process.real_user.id", "0"}}},
	    {H "sshd[1]: pam_unix(sshd:session): session closed for user bob",
	     {{"event.action", "session_closed"},
	      {"event.category", "[authentication,session]"},
	      {"event.type", "end"},
	      {"user.name", "bob"}}},
	};
	RUN(cases);
}

static void test_sshd_noise(void **state)
{
	static const struct tcase cases[] = {
	    {H "sshd[1]: Disconnected from invalid user x 1.2.3.4 port 5 [preauth]",
	     {{"event.action", "ssh_disconnect"},
	      {"event.category", "network"},
	      {"event.outcome", NULL},
	      {"user.name", "x"},
	      {"source.ip", "1.2.3.4"},
	      {"source.port", "5"}}},
	    {H "sshd[1]: Disconnected from authenticating user root 1.2.3.4 port 5 [preauth]",
	     {{"user.name", "root"}, {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: Disconnected from 1.2.3.4 port 5",
	     {{"event.action", "ssh_disconnect"}, {"user.name", NULL}, {"source.port", "5"}}},
	    {H "sshd[1]: Received disconnect from 1.2.3.4 port 5:11: disconnected by user",
	     {{"event.action", "ssh_disconnect"}, {"source.ip", "1.2.3.4"}, {"source.port", "5"}}},
	    {H "sshd[1]: Received disconnect from 1.2.3.4: 11: Bye Bye",
	     {{"source.ip", "1.2.3.4"}, {"source.address", "1.2.3.4"}}},
	    {H "sshd[1]: Connection closed by 1.2.3.4 port 5 [preauth]",
	     {{"event.action", "ssh_connection_closed"}, {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: Connection closed by invalid user a 1.2.3.4 port 5 [preauth]",
	     {{"user.name", "a"}, {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: Did not receive identification string from 1.2.3.4",
	     {{"event.action", "ssh_no_identification"}, {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: Bad protocol version identification 'GET / HTTP/1.1' from 1.2.3.4 port 5",
	     {{"event.action", "ssh_bad_protocol"},
	      {"source.ip", "1.2.3.4"},
	      {"source.port", "5"}}},
	    {H "sshd[1]: reverse mapping checking getaddrinfo for bad.example [1.2.3.4] failed - "
	       "POSSIBLE BREAK-IN ATTEMPT!",
	     {{"event.action", "ssh_reverse_mapping_failed"},
	      {"source.ip", "1.2.3.4"},
	      {"source.domain", "bad.example"}}},
	    {H "sshd[1]: Address 1.2.3.4 maps to x.example, but this does not map back to the "
	       "address - POSSIBLE BREAK-IN ATTEMPT!",
	     {{"event.action", "ssh_reverse_mapping_failed"},
	      {"source.ip", "1.2.3.4"},
	      {"source.domain", "x.example"}}},
	    {H "sshd[1]: Server listening on :: port 22.",
	     {{"event.action", "ssh_server_listening"},
	      {"server.ip", "::"},
	      {"server.port", "22"}}},
	    {H "sshd[1]: Received signal 15; terminating.",
	     {{"event.action", "ssh_signal"}, {"yiwang.ssh.signal", "15"}}},
	    {H "sshd[1]: Connection from 1.2.3.4 port 5 on 10.0.0.1 port 22",
	     {{"event.action", "ssh_connection"},
	      {"source.ip", "1.2.3.4"},
	      {"destination.ip", "10.0.0.1"},
	      {"destination.port", "22"}}},
	    {H "sshd[1]: fatal: Unable to negotiate with 1.2.3.4 port 5: no matching cipher",
	     {{"event.action", "ssh_negotiation_failed"}, {"source.ip", "1.2.3.4"}}},
	    {H "sshd[1]: refused connect from accsys.elink.net.au (203.31.101.11)",
	     {{"event.action", "ssh_connection_refused"},
	      {"source.address", "accsys.elink.net.au"},
	      {"source.ip", "203.31.101.11"}}},
	    {H "sshd[1]: Starting session: shell on pts/0 for bob from 1.2.3.4 port 5 id 0",
	     {{"event.action", "ssh_session_start"}, {"user.name", "bob"}}},
	    {H "sshd[1]: PAM service(sshd) ignoring max retries; 6 > 3",
	     {{"event.action", "pam_max_retries_ignored"}}},
	    {H "sshd[1]: error: Bad prime description in line 73",
	     {{"event.action", NULL}, {"message", "error: Bad prime description in line 73"}}},
	};
	RUN(cases);
}

static void test_sudo(void **state)
{
	static const struct tcase cases[] = {
	    {H "sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ; COMMAND=/usr/bin/vim "
	       "/etc/hosts ; echo",
	     {{"event.action", "sudo_command"},
	      {"event.outcome", "success"},
	      {"event.category", "process"},
	      {"user.name", "ubuntu"},
	      {"user.effective.name", "root"},
	      {"process.working_directory", "/home/ubuntu"},
	      {"process.command_line", "/usr/bin/vim /etc/hosts ; echo"},
	      {"sudo.tty", "pts/0"},
	      {"logsource.service", "sudo"}}},
	    {H "sudo: dcid : 3 incorrect password attempts ; TTY=ttyp0 ; PWD=/home/dcid ; "
	       "USER=root ; COMMAND=/bin/ls",
	     {{"event.action", "sudo_auth_failure"},
	      {"event.outcome", "failure"},
	      {"event.category", "[process,authentication]"},
	      {"user.name", "dcid"},
	      {"sudo.error", "3 incorrect password attempts"},
	      {"process.command_line", "/bin/ls"}}},
	    {H "sudo: bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
	     {{"event.action", "sudo_not_in_sudoers"},
	      {"event.outcome", "failure"},
	      {"user.name", "bob"},
	      {"sudo.tty", "pts/1"}}},
	    {H "sudo: pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 "
	       "tty=/dev/pts/1 ruser=bob rhost=  user=bob",
	     {{"event.action", "pam_auth_failure"},
	      {"event.outcome", "failure"},
	      {"user.name", "bob"},
	      {"source.user.name", "bob"},
	      {"yiwang.pam.logname", "bob"},
	      {"process.real_user.id", "1000"},
	      {"process.user.id", "0"},
	      {"source.address", NULL},
	      {"logsource.service", "sudo"}}},
	    {H "sudo: pam_unix(sudo:session): session opened for user root by ubuntu(uid=0)",
	     {{"event.action", "session_opened"},
	      {"user.name", "root"},
	      {"process.real_user.name", "ubuntu"},
	      {"process.real_user.id", "0"}}},
	};
	RUN(cases);
}

static void test_su_pam(void **state)
{
	static const struct tcase cases[] = {
	    {H "su[1]: (to root) bob on pts/0",
	     {{"event.action", "su_login"},
	      {"event.outcome", "success"},
	      {"event.category", "authentication"},
	      {"user.name", "bob"},
	      {"user.effective.name", "root"},
	      {"yiwang.su.tty", "pts/0"},
	      {"logsource.service", "auth"}}},
	    {H "su[1]: FAILED SU (to root) bob on pts/0",
	     {{"event.action", "su_login"},
	      {"event.outcome", "failure"},
	      {"user.name", "bob"},
	      {"user.effective.name", "root"}}},
	    {H "su: ericx to root on /dev/ttyu0",
	     {{"event.outcome", "success"},
	      {"user.name", "ericx"},
	      {"user.effective.name", "root"},
	      {"yiwang.su.tty", "/dev/ttyu0"}}},
	    {H "su[9]: Successful su for root by ubuntu",
	     {{"event.outcome", "success"},
	      {"user.name", "ubuntu"},
	      {"user.effective.name", "root"}}},
	    {H "su[9]: + /dev/pts/1 ubuntu:root",
	     {{"event.outcome", "success"},
	      {"user.name", "ubuntu"},
	      {"user.effective.name", "root"},
	      {"yiwang.su.tty", "/dev/pts/1"}}},
	    {H "su[2614]: - pts/6 dcid-root",
	     {{"event.outcome", "failure"},
	      {"user.name", "dcid"},
	      {"user.effective.name", "root"}}},
	    {H "su[1]: pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 "
	       "tty=pts/0 ruser=bob rhost=  user=root",
	     {{"event.action", "pam_auth_failure"},
	      {"event.outcome", "failure"},
	      {"user.name", "root"},
	      {"logsource.service", "auth"}}},
	    {H "su(pam_unix)[2298]: authentication failure; logname= uid=1342 euid=0 tty= "
	       "ruser=dcid rhost= user=root",
	     {{"process.name", "su(pam_unix)"},
	      {"event.action", "pam_auth_failure"},
	      {"user.name", "root"},
	      {"source.user.name", "dcid"},
	      {"logsource.service", "auth"}}},
	    {H "vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 "
	       "tty= ruser= rhost=1.2.3.4",
	     {{"event.action", "pam_auth_failure"},
	      {"source.ip", "1.2.3.4"},
	      {"user.name", NULL},
	      {"logsource.service", "auth"}}},
	    {H "sshd[1]: pam_unix(sshd:auth): check pass; user unknown",
	     {{"event.action", "pam_user_unknown"}, {"event.outcome", "failure"}}},
	    {H "runuser: pam_unix(runuser:session): session opened for user root(uid=0) by "
	       "(uid=0)",
	     {{"event.action", "session_opened"}, {"user.name", "root"}, {"user.id", "0"}}},
	};
	RUN(cases);
}

static void test_account(void **state)
{
	static const struct tcase cases[] = {
	    {H "useradd[1]: new user: name=bob, UID=1001, GID=1002, home=/home/bob, "
	       "shell=/bin/bash",
	     {{"event.action", "user_created"},
	      {"event.category", "iam"},
	      {"event.type", "[user,creation]"},
	      {"event.outcome", "success"},
	      {"user.name", "bob"},
	      {"user.id", "1001"},
	      {"group.id", "1002"},
	      {"yiwang.user.home", "/home/bob"},
	      {"yiwang.user.shell", "/bin/bash"},
	      {"logsource.service", "auth"}}},
	    {H "useradd[1]: new group: name=bob, GID=1001",
	     {{"event.action", "group_created"},
	      {"event.type", "[group,creation]"},
	      {"group.name", "bob"},
	      {"group.id", "1001"},
	      {"user.name", NULL}}},
	    {H "groupadd[1]: group added to /etc/group: name=ops, GID=1005",
	     {{"event.action", "group_entry_added"},
	      {"file.path", "/etc/group"},
	      {"group.name", "ops"},
	      {"group.id", "1005"}}},
	    {H "usermod[1]: add 'bob' to group 'sudo'",
	     {{"event.action", "user_added_to_group"},
	      {"event.type", "[group,change]"},
	      {"user.name", "bob"},
	      {"group.name", "sudo"}}},
	    {H "usermod[1]: add 'bob' to shadow group 'sudo'",
	     {{"event.action", "user_added_to_shadow_group"}, {"group.name", "sudo"}}},
	    {H "userdel[1]: delete user 'bob'",
	     {{"event.action", "user_deleted"},
	      {"event.type", "[user,deletion]"},
	      {"user.name", "bob"}}},
	    {H "userdel[1]: removed group 'bob' owned by 'bob'",
	     {{"event.action", "group_deleted"}, {"group.name", "bob"}}},
	    {H "groupdel[1]: group 'ops' removed",
	     {{"event.action", "group_deleted"}, {"group.name", "ops"}}},
	    {H "usermod[1]: change user 'bob' password",
	     {{"event.action", "password_changed"},
	      {"event.type", "[user,change]"},
	      {"user.name", "bob"}}},
	    {H "usermod[1]: change user name 'bob' to 'rob'",
	     {{"event.action", "user_changed"},
	      {"user.name", "bob"},
	      {"user.changes.name", "rob"}}},
	    {H "passwd[1]: password changed for bob",
	     {{"event.action", "password_changed"}, {"user.name", "bob"}}},
	    {H "passwd[1]: pam_unix(passwd:chauthtok): password changed for bob",
	     {{"event.action", "password_changed"},
	      {"user.name", "bob"},
	      {"event.category", "iam"}}},
	    {H "chage[1]: changed password expiry for bob",
	     {{"event.action", "password_expiry_changed"}, {"user.name", "bob"}}},
	    {H "useradd[1]: failed adding user 'x', data deleted",
	     {{"event.action", "user_created"}, {"event.outcome", "failure"}, {"user.name", "x"}}},
	    {H "gpasswd[1]: user bob added by root to group docker",
	     {{"event.action", "user_added_to_group"},
	      {"user.name", "bob"},
	      {"group.name", "docker"},
	      {"process.real_user.name", "root"}}},
	    {H "chpasswd[1]: pam_unix(chpasswd:chauthtok): user \"nobody1\" does not exist in "
	       "/etc/passwd",
	     {{"event.action", "pam_user_unknown"}, {"user.name", "nobody1"}}},
	};
	RUN(cases);
}

static void test_cron_systemd(void **state)
{
	static const struct tcase cases[] = {
	    {H "CRON[5]: (root) CMD (cd / && run-parts --report /etc/cron.hourly)",
	     {{"event.action", "cron_command"},
	      {"user.name", "root"},
	      {"process.command_line", "cd / && run-parts --report /etc/cron.hourly"},
	      {"logsource.service", "cron"}}},
	    {H "CRON[5]: pam_unix(cron:session): session opened for user root by (uid=0)",
	     {{"event.action", "session_opened"},
	      {"user.name", "root"},
	      {"logsource.service", "cron"}}},
	    {H "crontab[5]: (bob) REPLACE (bob)",
	     {{"event.action", NULL}, {"logsource.service", "syslog"}}},
	    {H "cron[5]: (bob) REPLACE (bob)",
	     {{"event.action", "cron_crontab_replaced"}, {"user.name", "bob"}}},
	    {H "systemd[1]: Started Session 12 of user bob.",
	     {{"event.action", "unit_started"},
	      {"systemd.unit", "Session 12 of user bob"},
	      {"logsource.service", "syslog"}}},
	    {H "systemd[1]: Started nginx.service - A high performance web server.",
	     {{"event.action", "unit_started"}, {"systemd.unit", "nginx.service"}}},
	    {H "systemd[1]: Stopped Daily apt.",
	     {{"event.action", "unit_stopped"}, {"systemd.unit", "Daily apt"}}},
	    {H "systemd[1]: Starting Daily apt...",
	     {{"event.action", "unit_starting"}, {"systemd.unit", "Daily apt"}}},
	    {H "systemd[1]: foo.service: Failed with result 'exit-code'.",
	     {{"event.action", "unit_failed"},
	      {"event.outcome", "failure"},
	      {"systemd.unit", "foo.service"},
	      {"systemd.result", "exit-code"}}},
	    {H "systemd[1]: foo.service: Main process exited, code=exited, status=1/FAILURE",
	     {{"event.action", "unit_process_exited"},
	      {"event.outcome", "failure"},
	      {"systemd.unit", "foo.service"},
	      {"systemd.exit_code", "exited"},
	      {"systemd.exit_status", "1/FAILURE"}}},
	    {H "systemd[1]: Reloading.", {{"event.action", "systemd_reloading"}}},
	    {H "systemd-logind[9]: New session 12 of user bob.",
	     {{"event.action", "logind_session_new"},
	      {"event.category", "session"},
	      {"event.type", "start"},
	      {"user.name", "bob"},
	      {"systemd.session", "12"},
	      {"logsource.service", "auth"}}},
	    {H "systemd-logind[9]: Removed session 12.",
	     {{"event.action", "logind_session_removed"}, {"systemd.session", "12"}}},
	    {H "systemd-logind[9]: Session 12 logged out. Waiting for processes to exit.",
	     {{"event.action", "logind_session_logout"}, {"systemd.session", "12"}}},
	};
	RUN(cases);
}

static void test_kernel(void **state)
{
	static const struct tcase cases[] = {
	    {H "kernel: [12345.6789] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:"
	       "aa:bb:08:00 SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=49 ID=1 DF "
	       "PROTO=TCP SPT=1234 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0",
	     {{"process.name", "kernel"},
	      {"event.action", "UFW BLOCK"},
	      {"event.category", "network"},
	      {"source.ip", "1.2.3.4"},
	      {"destination.ip", "5.6.7.8"},
	      {"source.port", "1234"},
	      {"destination.port", "22"},
	      {"network.transport", "tcp"},
	      {"observer.ingress.interface.name", "eth0"},
	      {"observer.egress.interface.name", NULL},
	      {"logsource.service", "syslog"}}},
	    {H "kernel: DROP-IN: IN=ens3 OUT=ens4 SRC=2001:db8::1 DST=2001:db8::2 LEN=8 "
	       "PROTO=UDP SPT=53 DPT=5353",
	     {{"event.action", "DROP-IN:"},
	      {"source.ip", "2001:db8::1"},
	      {"network.transport", "udp"},
	      {"observer.egress.interface.name", "ens4"}}},
	    {H "kernel: IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=ICMP TYPE=8 CODE=0",
	     {{"event.action", "netfilter_log"},
	      {"network.transport", "icmp"},
	      {"source.port", NULL}}},
	    {H "kernel: [    1.000000] Linux version 6.1.0",
	     {{"process.name", "kernel"},
	      {"event.action", NULL},
	      {"message", "[    1.000000] Linux version 6.1.0"}}},
	};
	RUN(cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sshd_auth), cmocka_unit_test(test_sshd_noise),
	    cmocka_unit_test(test_sudo),      cmocka_unit_test(test_su_pam),
	    cmocka_unit_test(test_account),   cmocka_unit_test(test_cron_systemd),
	    cmocka_unit_test(test_kernel),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
