#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit_check.h"
#include <stdbool.h>

#include "yiwang/error.h"

#define AUDITCTL_TIMEOUT_MS 5000
#define AUDITCTL_MAX_OUTPUT (4 * 1024 * 1024)

static bool has_key(const char *list, const char *k, size_t n)
{
	const char *p = list;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && !memcmp(p, k, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static void add_key(struct yw_strbuf *keys, const char *k, size_t n, size_t *count)
{
	if (n == 0 || n > 64 || has_key(keys->data, k, n))
		return;
	if (keys->len)
		yw_strbuf_putc(keys, ',');
	yw_strbuf_append(keys, k, n);
	(*count)++;
}

size_t yw_audit_rule_keys(const char *text, size_t len, struct yw_strbuf *keys)
{
	size_t count = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = p;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		if (q < le && *q != '#') {
			/* "-k KEY" (auditctl syntax) and "key=KEY" (auditctl -l prints both forms). */
			for (const char *s = q; s < le; s++) {
				const char *v = NULL;
				if (s + 3 <= le && !memcmp(s, "-k ", 3) && (s == q || s[-1] == ' '))
					v = s + 3;
				else if (s + 4 <= le && !memcmp(s, "key=", 4) &&
					 (s == q || s[-1] == ' ' || s[-1] == '-'))
					v = s + 4;
				if (!v)
					continue;
				const char *ve = v;
				while (ve < le && *ve != ' ' && *ve != '\t' && *ve != ',')
					ve++;
				add_key(keys, v, (size_t)(ve - v), &count);
				s = ve - 1;
			}
		}
		p = le + 1;
	}
	return count;
}

size_t yw_audit_missing_keys(const char *wanted, const char *have, struct yw_strbuf *missing)
{
	size_t n = 0;
	const char *p = wanted;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (!has_key(have, p, l)) {
			if (missing->len)
				yw_strbuf_putc(missing, ',');
			yw_strbuf_append(missing, p, l);
			n++;
		}
		p = e ? e + 1 : NULL;
	}
	return n;
}

static int read_file(const char *path, struct yw_strbuf *out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return YW_ENOENT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (yw_strbuf_append(out, buf, n)) {
			fclose(f);
			return YW_ENOMEM;
		}
	fclose(f);
	return 0;
}

/* auditctl -l, without a shell, with a deadline. */
static int run_auditctl(struct yw_strbuf *out)
{
	static const char *const paths[] = {"/sbin/auditctl", "/usr/sbin/auditctl"};
	const char *exe = NULL;
	for (size_t i = 0; i < 2 && !exe; i++)
		if (access(paths[i], X_OK) == 0)
			exe = paths[i];
	if (!exe)
		return YW_ENOENT;
	int fd[2];
	if (pipe2(fd, O_CLOEXEC) != 0)
		return YW_EIO;
	pid_t pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return YW_EIO;
	}
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		char *const argv[] = {(char *)exe, "-l", NULL};
		char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
		execve(exe, argv, envp);
		_exit(127);
	}
	close(fd[1]);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = 0;
	for (;;) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = AUDITCTL_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
						   (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = {fd[0], POLLIN, 0};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			rc = YW_EIO;
			break;
		}
		char buf[4096];
		ssize_t n = read(fd[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (out->len + (size_t)n > AUDITCTL_MAX_OUTPUT || yw_strbuf_append(out, buf, (size_t)n)) {
			rc = YW_ELIMIT;
			break;
		}
	}
	close(fd[0]);
	if (rc)
		kill(pid, SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		rc = YW_EIO;
	return rc;
}

int yw_audit_check(const char *rules_file, struct yw_strbuf *missing)
{
	struct yw_strbuf want = YW_STRBUF_INIT, have = YW_STRBUF_INIT, wk = YW_STRBUF_INIT,
			 hk = YW_STRBUF_INIT;
	int rc = read_file(rules_file, &want);
	if (rc == 0)
		rc = run_auditctl(&have);
	if (rc == 0) {
		yw_audit_rule_keys(want.data ? want.data : "", want.len, &wk);
		yw_audit_rule_keys(have.data ? have.data : "", have.len, &hk);
		yw_audit_missing_keys(wk.data ? wk.data : "", hk.data ? hk.data : "", missing);
	}
	yw_strbuf_free(&want);
	yw_strbuf_free(&have);
	yw_strbuf_free(&wk);
	yw_strbuf_free(&hk);
	return rc;
}
