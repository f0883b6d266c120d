/* `yiwang user`: users and API tokens of the HTTP API (docs/api.md). It writes the data
 * directory's api.db directly, so it works whether the server runs or not (SQLite serializes
 * the writers) and is as privileged as the data directory: only its owner (or root) can. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "cli.h"
#include "server/http/auth.h"
#include "yiwang/config.h"
#include "yiwang/error.h"
#include "yw_limits.h"

static void usage(FILE *out)
{
	fputs("usage: yiwang user add NAME --role viewer|analyst|admin [--data-dir DIR]\n"
	      "       yiwang user list [--data-dir DIR]\n"
	      "       yiwang user delete NAME [--data-dir DIR]\n"
	      "       yiwang user token NAME [--label TEXT] [--expires DURATION] [--data-dir DIR]\n"
	      "add reads the password from standard input (prompting without echo on a\n"
	      "terminal); token prints a new API token once: only its hash is kept.\n",
	      out);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One line of standard input without its newline; with echo off on a terminal. */
static int read_password(char *pw, size_t n)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fputs("password: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *r = fgets(pw, (int)n, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!r)
		return YW_EIO;
	size_t len = strlen(pw);
	if (len && pw[len - 1] == '\n')
		pw[--len] = 0;
	else if (len == n - 1)
		return YW_ELIMIT;
	if (len && pw[len - 1] == '\r')
		pw[--len] = 0;
	return 0;
}

static int print_user(void *ctx, const struct yw_auth_user *u)
{
	printf("%s\t%s\n", u->name, yw_auth_role_name(u->role));
	return 0;
}

int yw_cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"role", required_argument, NULL, 'r'},  {"data-dir", required_argument, NULL, 'd'},
	    {"label", required_argument, NULL, 'l'}, {"expires", required_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	const char *role_s = NULL, *dir = NULL, *label = NULL, *expires = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:d:l:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role_s = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'e':
			expires = optarg;
			break;
		case 'h':
			usage(stdout);
			return YW_EXIT_OK;
		default:
			usage(stderr);
			return YW_EXIT_USAGE;
		}
	}
	const char *sub = optind < argc ? argv[optind] : NULL;
	const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
	int need_name = sub && strcmp(sub, "list");
	if (!sub || (need_name && !name) || optind + 1 + need_name != argc) {
		usage(stderr);
		return YW_EXIT_USAGE;
	}
	int role = 0;
	int64_t exp_ms = 0;
	if (!strcmp(sub, "add") && (role = yw_auth_role_parse(role_s)) < 0) {
		fprintf(stderr, "yiwang: user add needs --role viewer, analyst or admin\n");
		return YW_EXIT_USAGE;
	}
	if (expires && yw_parse_duration_ms(expires, &exp_ms)) {
		fprintf(stderr, "yiwang: --expires: not a duration: %s\n", expires);
		return YW_EXIT_USAGE;
	}
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "delete") &&
	    strcmp(sub, "token")) {
		usage(stderr);
		return YW_EXIT_USAGE;
	}
	struct yw_auth *a = NULL;
	dir = yw_cli_data_dir(dir);
	int rc = yw_auth_open(dir, &a);
	if (rc) {
		fprintf(stderr, "yiwang: %s/api.db: %s\n", dir, yw_strerror(rc));
		return YW_EXIT_FAIL;
	}
	char pw[YW_HTTP_MAX_PASSWORD + 2], tok[YW_AUTH_TOKEN_TEXT];
	if (!strcmp(sub, "add")) {
		rc = read_password(pw, sizeof(pw));
		if (rc == 0 && (rc = yw_auth_user_add(a, name, pw, role, now_ns())) == YW_EEXIST)
			fprintf(stderr, "yiwang: user %s exists already\n", name);
		else if (rc == YW_EINVAL)
			fprintf(stderr,
			        "yiwang: a user name is 1..%d printable bytes without spaces;"
			        " a password at least %d bytes\n",
			        YW_HTTP_MAX_NAME, YW_HTTP_MIN_PASSWORD);
		else if (rc)
			fprintf(stderr, "yiwang: user add: %s\n", yw_strerror(rc));
		else
			printf("added user %s (%s)\n", name, yw_auth_role_name(role));
		explicit_bzero(pw, sizeof(pw));
	} else if (!strcmp(sub, "list")) {
		rc = yw_auth_user_list(a, print_user, NULL);
		if (rc)
			fprintf(stderr, "yiwang: user list: %s\n", yw_strerror(rc));
	} else if (!strcmp(sub, "delete")) {
		rc = yw_auth_user_delete(a, name);
		if (rc)
			fprintf(stderr, "yiwang: user delete %s: %s\n", name,
			        rc == YW_ENOENT ? "no such user" : yw_strerror(rc));
	} else {
		int64_t now = now_ns();
		rc = yw_auth_api_token_create(a, name, label, exp_ms ? now + exp_ms * 1000000LL : 0,
		                              now, tok, sizeof(tok));
		if (rc)
			fprintf(stderr, "yiwang: user token %s: %s\n", name,
			        rc == YW_ENOENT ? "no such user" : yw_strerror(rc));
		else
			printf("%s\n", tok);
		explicit_bzero(tok, sizeof(tok));
	}
	yw_auth_close(a);
	return rc ? YW_EXIT_FAIL : YW_EXIT_OK;
}
