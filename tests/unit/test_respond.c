/* Response actions, run for real: quarantine/restore in a temp directory, kill_process on
 * children this test spawns, lock/unlock on a user it creates, block_ip inside a network
 * namespace it creates; allowlist decisions, refusals, dry runs and audit records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <shadow.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/collectors/procfs.h"
#include "yiwang/error.h"
#include "yiwang/proto.h"
#include "yiwang/respond.h"

struct fx {
	char root[64], files[128], state[160], qdir[160];
	struct yw_strbuf audit; /* the last audit record */
	int naudit;
	struct yw_strbuf res;
	struct yw_responder *r;
};

static int audit_cb(void *ud, const char *json, size_t len)
{
	struct fx *f = ud;
	yw_strbuf_reset(&f->audit);
	yw_strbuf_append(&f->audit, json, len);
	f->naudit++;
	return 0;
}

static struct yw_responder *make(struct fx *f, const char *const *allow, size_t nallow,
                                 const char *const *actions, size_t nactions, bool enabled)
{
	const char *qpaths[] = {f->files};
	const char *protect[] = {f->state};
	struct yw_respond_opts o = {
	    .enabled = enabled,
	    .actions = actions,
	    .nactions = nactions,
	    .allow_ips = allow,
	    .nallow_ips = nallow,
	    .server_host = "198.51.100.1:1514",
	    .quarantine_dir = f->qdir,
	    .quarantine_paths = qpaths,
	    .nquarantine_paths = 1,
	    .protected_paths = protect,
	    .nprotected_paths = 1,
	    .timeout_ms = 5000,
	    .audit = audit_cb,
	    .audit_ud = f,
	};
	char err[256] = "";
	struct yw_responder *r = NULL;
	int rc = yw_respond_new(&o, &r, err, sizeof(err));
	if (rc)
		fprintf(stderr, "yw_respond_new: %s\n", err);
	assert_int_equal(rc, 0);
	return r;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/yw-respond.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->files, sizeof(f->files), "%s/files", f->root);
	snprintf(f->state, sizeof(f->state), "%s/files/state", f->root);
	snprintf(f->qdir, sizeof(f->qdir), "%s/files/state/quarantine", f->root);
	mkdir(f->files, 0755);
	mkdir(f->state, 0700);
	yw_strbuf_init(&f->audit, 0);
	yw_strbuf_init(&f->res, 0);
	f->r = make(f, NULL, 0, NULL, 0, true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	yw_respond_free(f->r);
	yw_strbuf_free(&f->audit);
	yw_strbuf_free(&f->res);
	free(f);
	return 0;
}

/* Runs name with args on f->r; returns the status, the result in f->res. */
static int run(struct fx *f, const char *name, const char *args)
{
	int st = yw_respond_run(f->r, 7, name, strlen(name), args, strlen(args), &f->res);
	json_error_t e;
	json_t *j = json_loadb(f->res.data, f->res.len, 0, &e);
	assert_non_null(j); /* the result is always one JSON object */
	assert_true(json_is_object(j));
	json_decref(j);
	return st;
}

/* A string field of the last result ("" when absent). Borrowed until the next call. */
static const char *res_str(struct fx *f, const char *k)
{
	static char buf[4096];
	json_error_t e;
	json_t *j = json_loadb(f->res.data, f->res.len, 0, &e);
	const char *v = json_string_value(json_object_get(j, k));
	snprintf(buf, sizeof(buf), "%s", v ? v : "");
	json_decref(j);
	return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

static int count_entries(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

static void quarantine_restore(void **state)
{
	struct fx *f = *state;
	char path[256], args[512], qfile[512];
	snprintf(path, sizeof(path), "%s/evil.sh", f->files);
	write_file(path, "hello\n", 0751);
	assert_int_equal(chown(path, 1, 2), 0);
	struct timespec times[2] = {{1000000000, 5}, {1234567890, 123456789}};
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);

	snprintf(args, sizeof(args), "{\"path\":\"%s\"}", path);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_OK);
	assert_string_equal(res_str(f, "sha256"),
	                    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	assert_int_equal(access(path, F_OK), -1);
	char id[128];
	snprintf(id, sizeof(id), "%s", res_str(f, "quarantine_id"));
	char undo[256];
	snprintf(undo, sizeof(undo), "%s", res_str(f, "undo"));
	assert_true(strncmp(undo, "restore_file:", 13) == 0);
	assert_string_equal(undo + 13, id);

	/* the quarantined file: unreadable to others, 0400, with a sidecar of its metadata */
	struct stat st;
	assert_int_equal(stat(f->qdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(qfile, sizeof(qfile), "%s/%s", f->qdir, id);
	assert_int_equal(stat(qfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0400);
	strcat(qfile, ".json");
	json_error_t e;
	json_t *side = json_load_file(qfile, 0, &e);
	assert_non_null(side);
	assert_string_equal(json_string_value(json_object_get(side, "path")), path);
	assert_int_equal(json_integer_value(json_object_get(side, "mode")), 0751);
	assert_int_equal(json_integer_value(json_object_get(side, "uid")), 1);
	assert_int_equal(json_integer_value(json_object_get(side, "gid")), 2);
	assert_int_equal(json_integer_value(json_object_get(side, "mtime_ns")),
	                 1234567890123456789LL);
	json_decref(side);
	assert_int_equal(stat(qfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* the audit record */
	assert_int_equal(f->naudit, 1);
	assert_non_null(strstr(f->audit.data, "\"event.action\":\"response_quarantine_file\""));
	assert_non_null(strstr(f->audit.data, "\"event.outcome\":\"success\""));
	assert_non_null(strstr(f->audit.data, "\"yiwang.response.args\":{\"path\":"));

	/* undo puts it back with its content, mode, owner and times */
	snprintf(args, sizeof(args), "{\"token\":\"%s\"}", undo);
	assert_int_equal(run(f, "undo", args), YW_CMD_OK);
	assert_string_equal(res_str(f, "action"), "restore_file");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(st.st_gid, 2);
	assert_int_equal(st.st_mtim.tv_sec, 1234567890);
	assert_int_equal(st.st_mtim.tv_nsec, 123456789);
	char buf[16] = "";
	FILE *fp = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "hello\n");
	assert_int_equal(count_entries(f->qdir), 0);
	assert_int_equal(f->naudit, 2);
	assert_non_null(strstr(f->audit.data, "\"event.action\":\"response_restore_file\""));
	/* restoring twice: nothing left to restore */
	assert_int_equal(run(f, "restore_file", "{\"id\":\"1-00\"}"), YW_CMD_FAILED);
}

static void quarantine_refusals(void **state)
{
	struct fx *f = *state;
	char p[256], args[512];
	/* a directory */
	snprintf(p, sizeof(p), "%s/dir", f->files);
	mkdir(p, 0755);
	snprintf(args, sizeof(args), "{\"path\":\"%s\"}", p);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_DENIED);
	/* a symbolic link (the link, not its target, would move) */
	snprintf(p, sizeof(p), "%s/link", f->files);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(args, sizeof(args), "{\"path\":\"%s\"}", p);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_DENIED);
	/* a FIFO */
	snprintf(p, sizeof(p), "%s/fifo", f->files);
	assert_int_equal(mkfifo(p, 0600), 0);
	snprintf(args, sizeof(args), "{\"path\":\"%s\"}", p);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_DENIED);
	/* outside the allowed prefixes, also through ".." and devices */
	assert_int_equal(run(f, "quarantine_file", "{\"path\":\"/etc/passwd\"}"), YW_CMD_DENIED);
	snprintf(args, sizeof(args), "{\"path\":\"%s/../../../etc/passwd\"}", f->files);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_DENIED);
	assert_int_equal(run(f, "quarantine_file", "{\"path\":\"/dev/null\"}"), YW_CMD_DENIED);
	assert_int_equal(access("/etc/passwd", F_OK), 0);
	/* the agent's own files (state directory) */
	snprintf(p, sizeof(p), "%s/agent.key", f->state);
	write_file(p, "secret", 0600);
	snprintf(args, sizeof(args), "{\"path\":\"%s\"}", p);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_DENIED);
	assert_int_equal(access(p, F_OK), 0);
	/* relative, missing, not a string */
	assert_int_equal(run(f, "quarantine_file", "{\"path\":\"evil.sh\"}"), YW_CMD_FAILED);
	snprintf(args, sizeof(args), "{\"path\":\"%s/none\"}", f->files);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_FAILED);
	assert_int_equal(run(f, "quarantine_file", "{\"path\":5}"), YW_CMD_FAILED);
	assert_non_null(strstr(f->audit.data, "\"event.outcome\":\"failure\""));

	/* restore: ids are never paths; an existing destination is not overwritten; a
	 * quarantined file that changed is not restored */
	assert_int_equal(run(f, "restore_file", "{\"id\":\"../../etc\"}"), YW_CMD_FAILED);
	snprintf(p, sizeof(p), "%s/twice", f->files);
	write_file(p, "one", 0644);
	snprintf(args, sizeof(args), "{\"path\":\"%s\"}", p);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_OK);
	char id[128], q[512];
	snprintf(id, sizeof(id), "%s", res_str(f, "quarantine_id"));
	write_file(p, "two", 0644);
	snprintf(args, sizeof(args), "{\"id\":\"%s\"}", id);
	assert_int_equal(run(f, "restore_file", args), YW_CMD_FAILED);
	assert_non_null(strstr(res_str(f, "error"), "exists"));
	unlink(p);
	snprintf(q, sizeof(q), "%s/%s", f->qdir, id);
	chmod(q, 0600);
	write_file(q, "tampered", 0400);
	assert_int_equal(run(f, "restore_file", args), YW_CMD_FAILED);
	assert_non_null(strstr(res_str(f, "error"), "SHA-256"));
	assert_int_equal(access(p, F_OK), -1);
}

static void dry_run_changes_nothing(void **state)
{
	struct fx *f = *state;
	char p[256], args[512];
	snprintf(p, sizeof(p), "%s/keep", f->files);
	write_file(p, "hello\n", 0644);
	snprintf(args, sizeof(args), "{\"path\":\"%s\",\"dry_run\":true}", p);
	assert_int_equal(run(f, "quarantine_file", args), YW_CMD_OK);
	assert_string_equal(res_str(f, "sha256"),
	                    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	assert_string_equal(res_str(f, "undo"), "");
	assert_int_equal(access(p, F_OK), 0);
	assert_int_equal(count_entries(f->qdir), 0);
	assert_non_null(strstr(f->audit.data, "\"yiwang.response.dry_run\":true"));

	pid_t pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	snprintf(args, sizeof(args), "{\"pid\":%d,\"force\":true,\"dry_run\":true}", (int)pid);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_OK);
	usleep(100000);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still running */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* no nft is run: a blocked address would show in nft's table, which a dry run does not
	 * even need (an absent nft program is reported, not executed) */
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"203.0.113.1\",\"dry_run\":true}"),
	                 access("/usr/sbin/nft", X_OK) == 0 ? YW_CMD_OK : YW_CMD_FAILED);
	assert_string_equal(res_str(f, "undo"), "");
	assert_int_equal(run(f, "lock_account", "{\"user\":\"root\",\"dry_run\":true}"),
	                 YW_CMD_DENIED);
	assert_int_equal(run(f, "kill_process", "{\"pid\":1,\"force\":true,\"dry_run\":1}"),
	                 YW_CMD_FAILED); /* dry_run must be a boolean: no guessing */
}

static void allowlist(void **state)
{
	struct fx *f = *state;
	const char *allow[] = {"10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "172.16.0.0/12"};
	yw_respond_free(f->r);
	f->r = make(f, allow, 4, NULL, 0, true);
	static const struct {
		const char *ip;
		int st;
	} cases[] = {
	    {"10.1.2.3", YW_CMD_DENIED},
	    {"11.0.0.1", YW_CMD_OK},
	    {"127.0.0.5", YW_CMD_DENIED},
	    {"::1", YW_CMD_DENIED},
	    {"2001:db8::5", YW_CMD_DENIED},
	    {"2001:db9::1", YW_CMD_OK},
	    {"192.0.2.7", YW_CMD_DENIED},
	    {"192.0.2.8", YW_CMD_OK},
	    {"172.31.255.255", YW_CMD_DENIED},
	    {"172.32.0.0", YW_CMD_OK},
	    {"198.51.100.1", YW_CMD_DENIED},    /* the server */
	    {"::ffff:10.0.0.1", YW_CMD_DENIED}, /* IPv4-mapped */
	    {"0.0.0.0", YW_CMD_DENIED},
	    {"not-an-ip", YW_CMD_FAILED},
	    {"1.2.3.4 } ; flush ruleset", YW_CMD_FAILED},
	    {"10.0.0.0/8", YW_CMD_FAILED},
	};
	bool nft = access("/usr/sbin/nft", X_OK) == 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char args[256];
		snprintf(args, sizeof(args), "{\"ip\":\"%s\",\"dry_run\":true}", cases[i].ip);
		int want = cases[i].st == YW_CMD_OK && !nft ? YW_CMD_FAILED : cases[i].st;
		int got = run(f, "block_ip", args);
		if (got != want)
			fail_msg("%s: status %d, want %d (%s)", cases[i].ip, got, want,
			         f->res.data);
	}
	assert_non_null(strstr(f->res.data, "error"));
	/* a bad configured CIDR is refused when the responder is made */
	const char *bad[] = {"10.0.0.0/33"};
	struct yw_respond_opts o = {.enabled = true, .allow_ips = bad, .nallow_ips = 1};
	struct yw_responder *r = NULL;
	char err[256] = "";
	assert_int_equal(yw_respond_new(&o, &r, err, sizeof(err)), YW_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "10.0.0.0/33"));
}

static pid_t spawn(bool ignore_term)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (ignore_term)
			signal(SIGTERM, SIG_IGN);
		for (;;)
			pause();
	}
	usleep(50000); /* the child has set its disposition */
	return pid;
}

static void kill_process(void **state)
{
	struct fx *f = *state;
	char args[4300], exe[4096], comm[64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';

	/* exe matches: SIGTERM ends it */
	pid_t pid = spawn(false);
	snprintf(args, sizeof(args), "{\"pid\":%d,\"exe\":\"%s\"}", (int)pid, exe);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_OK);
	assert_string_equal(res_str(f, "signal"), "SIGTERM");
	int ws = 0;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM);

	/* start time matches, SIGTERM ignored: SIGKILL after the grace */
	pid = spawn(true);
	int64_t start = 0;
	assert_int_equal(yw_procfs_stat(pid, yw_procfs_boot_ns(), comm, sizeof(comm), &start), 0);
	snprintf(args, sizeof(args), "{\"pid\":%d,\"start_time\":%lld,\"grace_ms\":200}", (int)pid,
	         (long long)start);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_OK);
	assert_string_equal(res_str(f, "signal"), "SIGKILL");
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

	/* another start time (a recycled pid), another executable, or no evidence: refused,
	 * and the process lives */
	pid = spawn(false);
	snprintf(args, sizeof(args), "{\"pid\":%d,\"start_time\":\"2001-09-09T01:46:40.000Z\"}",
	         (int)pid);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_FAILED);
	assert_non_null(strstr(res_str(f, "error"), "reused"));
	snprintf(args, sizeof(args), "{\"pid\":%d,\"exe\":\"/usr/bin/sshd\"}", (int)pid);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_FAILED);
	snprintf(args, sizeof(args), "{\"pid\":%d}", (int)pid);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_FAILED);
	usleep(50000);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	/* the RFC 3339 form of the process collector's process.start works too */
	struct yw_strbuf t = YW_STRBUF_INIT;
	assert_int_equal(yw_procfs_stat(pid, yw_procfs_boot_ns(), comm, sizeof(comm), &start), 0);
	yw_procfs_ktime(&t, "s", start); /* ,"s":"…" */
	snprintf(args, sizeof(args), "{\"pid\":%d,\"start_time\":%s}", (int)pid,
	         strchr(t.data, ':') + 1);
	yw_strbuf_free(&t);
	assert_int_equal(run(f, "kill_process", args), YW_CMD_OK);
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws));

	/* never init or the agent itself; gone processes fail */
	assert_int_equal(run(f, "kill_process", "{\"pid\":1,\"force\":true}"), YW_CMD_DENIED);
	snprintf(args, sizeof(args), "{\"pid\":%d,\"force\":true}", (int)getpid());
	assert_int_equal(run(f, "kill_process", args), YW_CMD_DENIED);
	snprintf(args, sizeof(args), "{\"pid\":%d,\"force\":true}", (int)pid); /* reaped */
	assert_int_equal(run(f, "kill_process", args), YW_CMD_FAILED);
	assert_int_equal(run(f, "kill_process", "{\"pid\":-4,\"force\":true}"), YW_CMD_FAILED);
}

static bool shadow_of(const char *user, char *pw, size_t n, long *expire)
{
	struct spwd *sp = getspnam(user);
	if (!sp)
		return false;
	snprintf(pw, n, "%s", sp->sp_pwdp);
	*expire = sp->sp_expire;
	return true;
}

static void lock_account(void **state)
{
	struct fx *f = *state;
	if (getuid() != 0 || access("/usr/sbin/useradd", X_OK) != 0) {
		skip();
		return;
	}
	char user[32], cmd[128], args[256], pw[256];
	long expire;
	snprintf(user, sizeof(user), "yw-test-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "useradd -M -p 'xyzhash' '%s'", user);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof(args), "{\"user\":\"%s\"}", user);
	int st = run(f, "lock_account", args);
	assert_true(shadow_of(user, pw, sizeof(pw), &expire));
	char undo[128];
	snprintf(undo, sizeof(undo), "%s", res_str(f, "undo"));
	int st2 = YW_CMD_FAILED;
	char pw2[256] = "";
	long expire2 = 0;
	if (st == YW_CMD_OK) {
		snprintf(args, sizeof(args), "{\"token\":\"%s\"}", undo);
		st2 = run(f, "undo", args);
		shadow_of(user, pw2, sizeof(pw2), &expire2);
	}
	snprintf(cmd, sizeof(cmd), "userdel '%s'", user);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(st, YW_CMD_OK);
	assert_string_equal(pw, "!xyzhash");
	assert_int_equal(expire, 1);
	assert_string_equal(undo + strlen("unlock_account:"), user);
	assert_int_equal(st2, YW_CMD_OK);
	assert_string_equal(pw2, "xyzhash");
	assert_int_equal(expire2, -1);

	/* root and system accounts are refused; names are never options; unknown users fail */
	assert_int_equal(run(f, "lock_account", "{\"user\":\"root\"}"), YW_CMD_DENIED);
	assert_int_equal(run(f, "lock_account", "{\"user\":\"daemon\"}"), YW_CMD_DENIED);
	assert_int_equal(run(f, "lock_account", "{\"user\":\"-R/tmp\"}"), YW_CMD_FAILED);
	assert_int_equal(run(f, "lock_account", "{\"user\":\"yw-nobody-here\"}"), YW_CMD_FAILED);
	assert_non_null(strstr(f->audit.data, "response_lock_account"));
}

static bool set_has(const char *set, const char *ip)
{
	char cmd[128], line[512];
	snprintf(cmd, sizeof(cmd), "nft list set inet yiwang %s 2>/dev/null", set);
	FILE *p = popen(cmd, "r");
	bool found = false;
	while (p && fgets(line, sizeof(line), p))
		if (strstr(line, ip))
			found = true;
	if (p)
		pclose(p);
	return found;
}

static void block_ip(void **state)
{
	struct fx *f = *state;
	if (access("/usr/sbin/nft", X_OK) != 0) {
		fprintf(stderr, "block_ip: nft is not installed, skipped\n");
		skip();
		return;
	}
	/* from here on this test process has a network namespace of its own */
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "block_ip: cannot create a network namespace, skipped\n");
		skip();
		return;
	}
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"203.0.113.9\",\"timeout_s\":600}"),
	                 YW_CMD_OK);
	assert_string_equal(res_str(f, "undo"), "unblock_ip:203.0.113.9");
	assert_true(set_has("block4", "203.0.113.9"));
	FILE *p = popen("nft list chain inet yiwang input", "r");
	char line[512];
	bool rule = false;
	while (fgets(line, sizeof(line), p))
		rule |= strstr(line, "ip saddr @block4 drop") != NULL;
	pclose(p);
	assert_true(rule);
	/* again: refreshed, not an error, and the chain keeps one rule per family */
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"203.0.113.9\",\"timeout_s\":60}"),
	                 YW_CMD_OK);
	assert_int_equal(system("test $(nft list chain inet yiwang input | grep -c drop) -eq 2"),
	                 0);
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"2001:DB8::9\"}"), YW_CMD_OK);
	assert_true(set_has("block6", "2001:db8::9"));
	assert_int_equal(run(f, "unblock_ip", "{\"ip\":\"203.0.113.9\"}"), YW_CMD_OK);
	assert_false(set_has("block4", "203.0.113.9"));
	assert_int_equal(run(f, "unblock_ip", "{\"ip\":\"203.0.113.9\"}"), YW_CMD_FAILED);
	assert_non_null(strstr(res_str(f, "error"), "not blocked"));
	assert_int_equal(run(f, "undo", "{\"token\":\"unblock_ip:2001:db8::9\"}"), YW_CMD_OK);
	assert_false(set_has("block6", "2001:db8::9"));
	/* out-of-range durations */
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"203.0.113.9\",\"timeout_s\":0}"),
	                 YW_CMD_FAILED);
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"203.0.113.9\",\"timeout_s\":99999999}"),
	                 YW_CMD_FAILED);
	assert_non_null(strstr(f->audit.data, "response_block_ip"));
}

static void policy(void **state)
{
	struct fx *f = *state;
	assert_int_equal(run(f, "format_disk", "{}"), YW_CMD_UNKNOWN);
	assert_non_null(strstr(f->audit.data, "\"event.action\":\"response_unknown\""));
	assert_int_equal(run(f, "block_ip", "{not json"), YW_CMD_FAILED);
	assert_int_equal(run(f, "block_ip", "[1]"), YW_CMD_FAILED);
	assert_int_equal(run(f, "undo", "{\"token\":\"format_disk:/\"}"), YW_CMD_FAILED);
	assert_int_equal(run(f, "undo", "{\"token\":\"kill_process:1\"}"), YW_CMD_FAILED);
	/* only block_ip enabled: its inverse is allowed, other actions are not */
	const char *acts[] = {"block_ip"};
	yw_respond_free(f->r);
	f->r = make(f, NULL, 0, acts, 1, true);
	assert_int_equal(run(f, "kill_process", "{\"pid\":1,\"force\":true}"), YW_CMD_DENIED);
	assert_int_equal(run(f, "lock_account", "{\"user\":\"x\",\"dry_run\":true}"),
	                 YW_CMD_DENIED);
	assert_int_not_equal(run(f, "unblock_ip", "{\"ip\":\"203.0.113.1\",\"dry_run\":true}"),
	                     YW_CMD_DENIED);
	/* disabled: everything is refused */
	yw_respond_free(f->r);
	f->r = make(f, NULL, 0, NULL, 0, false);
	assert_int_equal(run(f, "block_ip", "{\"ip\":\"203.0.113.1\",\"dry_run\":true}"),
	                 YW_CMD_DENIED);
	assert_non_null(strstr(res_str(f, "error"), "disabled"));
	/* an unknown configured action is a configuration error */
	const char *bad[] = {"reboot"};
	struct yw_respond_opts o = {.enabled = true, .actions = bad, .nactions = 1};
	struct yw_responder *r = NULL;
	char err[128] = "";
	assert_int_equal(yw_respond_new(&o, &r, err, sizeof(err)), YW_EINVAL);
	assert_non_null(strstr(err, "reboot"));
}

/* COMMAND in, COMMAND_RESULT frame out, through the real codec. */
static void command_frame(void **state)
{
	struct fx *f = *state;
	struct yw_proto *p = yw_proto_new();
	struct yw_strbuf out = YW_STRBUF_INIT;
	struct yw_msg_command cmd = {
	    .id = 42, .name = "nope", .name_len = 4, .args_json = "{}", .args_json_len = 2};
	assert_int_equal(yw_respond_command(f->r, &cmd, p, &out), 0);
	cmd.id = 43;
	assert_int_equal(yw_respond_command(NULL, &cmd, p, &out), 0);
	struct yw_frame_decoder *d = yw_frame_decoder_new();
	assert_int_equal(yw_frame_feed(d, out.data, out.len), 0);
	struct yw_frame fr;
	struct yw_msg m;
	assert_int_equal(yw_frame_next(d, &fr), 1);
	assert_int_equal(yw_proto_decode(p, &fr, &m), 0);
	assert_int_equal(m.type, YW_MSG_COMMAND_RESULT);
	assert_int_equal(m.command_result.id, 42);
	assert_int_equal(m.command_result.status, YW_CMD_UNKNOWN);
	assert_int_equal(yw_frame_next(d, &fr), 1);
	assert_int_equal(yw_proto_decode(p, &fr, &m), 0);
	assert_int_equal(m.command_result.id, 43);
	assert_int_equal(m.command_result.status, YW_CMD_DENIED);
	yw_frame_decoder_free(d);
	yw_strbuf_free(&out);
	yw_proto_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(quarantine_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(quarantine_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(dry_run_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(allowlist, setup, teardown),
	    cmocka_unit_test_setup_teardown(kill_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(lock_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(command_frame, setup, teardown),
	    /* last: it moves the process into a network namespace of its own */
	    cmocka_unit_test_setup_teardown(block_ip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
