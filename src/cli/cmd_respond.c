/* yiwang respond: asks a running server to have an agent run a response action, then waits
 * for the agent's result (polling the local API: the API answers each request at once). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "yiwang/config.h"
#include "yiwang/error.h"

static const char usage_text[] =
    "usage: yiwang respond ACTION --agent ID [action options] [--dry-run] [--wait DURATION]\n"
    "       yiwang respond --agent ID --undo TOKEN [--dry-run]\n"
    "       yiwang respond status COMMAND_ID\n"
    "\n"
    "actions and their options:\n"
    "  block_ip        --ip ADDRESS [--for DURATION]   (default 1h, at most 30d)\n"
    "  unblock_ip      --ip ADDRESS\n"
    "  kill_process    --pid N (--exe PATH | --start TIME | --force) [--grace DURATION]\n"
    "  quarantine_file --file PATH\n"
    "  restore_file    --id QUARANTINE_ID\n"
    "  lock_account    --user NAME\n"
    "  unlock_account  --user NAME\n"
    "\n"
    "The agent decides: addresses in its allowlist, files outside its quarantine paths, root\n"
    "and system accounts are refused (status denied). A successful action prints an undo\n"
    "token. Options: --data-dir DIR (default $YIWANG_DATA_DIR or /var/lib/yiwang), --output\n"
    "text|json, --wait DURATION (default 30s). Exit status: 0 ok, 1 not ok, 2 usage.\n";

static const char *data_dir(const char *opt)
{
	if (opt)
		return opt;
	const char *env = getenv("YIWANG_DATA_DIR");
	return env && *env ? env : "/var/lib/yiwang";
}

/* One request, one reply line, parsed into *reply (caller decrefs). 0 or YW_EIO. */
static int call(const char *dir, const char *request, json_t **reply)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/yiwang.sock", dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "yiwang respond: data directory path too long\n");
		return YW_EIO;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "yiwang respond: cannot reach the server at %s: %s\n", sa.sun_path,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return YW_EIO;
	}
	size_t len = strlen(request);
	FILE *f = NULL;
	if (write(fd, request, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    !(f = fdopen(fd, "r"))) {
		close(fd);
		return YW_EIO;
	}
	char *line = NULL;
	size_t cap = 0;
	json_error_t jerr;
	*reply = getline(&line, &cap, f) > 0 ? json_loads(line, 0, &jerr) : NULL;
	free(line);
	fclose(f);
	if (!*reply) {
		fprintf(stderr, "yiwang respond: no answer from the server\n");
		return YW_EIO;
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		const char *e = json_string_value(json_object_get(*reply, "error"));
		fprintf(stderr, "yiwang respond: server: %s\n", e ? e : "request failed");
		json_decref(*reply);
		*reply = NULL;
		return YW_EIO;
	}
	return 0;
}

/* Prints text a peer controls with control bytes escaped. */
static void put_safe(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static int show(json_t *row, bool as_json)
{
	const char *status = json_string_value(json_object_get(row, "status"));
	int rc = status && !strcmp(status, "ok") ? YW_EXIT_OK : YW_EXIT_FAIL;
	if (as_json) {
		json_object_del(row, "ok");
		char *s = json_dumps(row, JSON_COMPACT);
		printf("%s\n", s ? s : "{}");
		free(s);
		return rc;
	}
	json_t *res = json_object_get(row, "result");
	printf("command %lld ", (long long)json_integer_value(json_object_get(row, "id")));
	put_safe(json_string_value(json_object_get(res, "action"))
	             ? json_string_value(json_object_get(res, "action"))
	             : json_string_value(json_object_get(row, "action")));
	printf(" on agent ");
	put_safe(json_string_value(json_object_get(row, "agent")));
	printf(": %s%s\n", status ? status : "?",
	       json_is_true(json_object_get(res, "dry_run")) ? " (dry run: nothing changed)" : "");
	const char *k;
	json_t *v;
	json_object_foreach(res, k, v)
	{
		if (!strcmp(k, "action") || !strcmp(k, "dry_run") || !strcmp(k, "undo"))
			continue;
		char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
		printf("  %s: ", k);
		put_safe(s ? s : json_string_value(v));
		putchar('\n');
		free(s);
	}
	const char *undo = json_string_value(json_object_get(res, "undo"));
	if (undo) {
		printf("  undo: yiwang respond --agent ");
		put_safe(json_string_value(json_object_get(row, "agent")));
		printf(" --undo '");
		put_safe(undo);
		printf("'\n");
	}
	return rc;
}

/* Polls the command until it has a final status or the wait is over. */
static int wait_result(const char *dir, long long id, int64_t wait_ms, bool as_json)
{
	char req[96];
	snprintf(req, sizeof(req), "{\"op\":\"respond\",\"id\":%lld}", id);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_t *row = NULL;
		if (call(dir, req, &row) != 0)
			return YW_EXIT_FAIL;
		const char *st = json_string_value(json_object_get(row, "status"));
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (!st || strcmp(st, "sent") != 0 || el >= wait_ms) {
			if (st && !strcmp(st, "sent"))
				fprintf(stderr,
				        "yiwang respond: no result from the agent yet; "
				        "`yiwang respond status %lld` shows it later\n",
				        id);
			int rc = show(row, as_json);
			json_decref(row);
			return rc;
		}
		json_decref(row);
		nanosleep(&(struct timespec){0, 100000000}, NULL);
	}
}

int yw_cmd_respond(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"agent", required_argument, NULL, 'a'},    {"ip", required_argument, NULL, 'i'},
	    {"for", required_argument, NULL, 'f'},      {"pid", required_argument, NULL, 'p'},
	    {"exe", required_argument, NULL, 'e'},      {"start", required_argument, NULL, 's'},
	    {"grace", required_argument, NULL, 'g'},    {"force", no_argument, NULL, 'F'},
	    {"file", required_argument, NULL, 'P'},     {"id", required_argument, NULL, 'I'},
	    {"user", required_argument, NULL, 'u'},     {"dry-run", no_argument, NULL, 'n'},
	    {"undo", required_argument, NULL, 'U'},     {"wait", required_argument, NULL, 'w'},
	    {"data-dir", required_argument, NULL, 'd'}, {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},           {0},
	};
	const char *agent = NULL, *dir = NULL, *undo = NULL, *action = NULL;
	int64_t wait_ms = 30000, ms;
	bool as_json = false;
	json_t *args = json_object();
	int c, rc = YW_EXIT_USAGE;
	if (!args)
		return YW_EXIT_FAIL;
	/* ACTION (or "status ID") comes first; options may follow in any order */
	if (argc >= 2 && argv[1][0] != '-') {
		action = argv[1];
		argc--;
		argv++;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:i:f:p:e:s:g:FP:I:u:nU:w:d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			agent = optarg;
			break;
		case 'i':
			json_object_set_new(args, "ip", json_string(optarg));
			break;
		case 'f':
		case 'g':
		case 'w':
			if (yw_parse_duration_ms(optarg, &ms) || ms < 0) {
				fprintf(stderr, "yiwang respond: bad duration '%s'\n", optarg);
				goto out;
			}
			if (c == 'f')
				json_object_set_new(args, "timeout_s",
				                    json_integer((ms + 999) / 1000));
			else if (c == 'g')
				json_object_set_new(args, "grace_ms", json_integer(ms));
			else
				wait_ms = ms;
			break;
		case 'p': {
			char *end;
			long long pid = strtoll(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "yiwang respond: bad pid '%s'\n", optarg);
				goto out;
			}
			json_object_set_new(args, "pid", json_integer(pid));
			break;
		}
		case 'e':
			json_object_set_new(args, "exe", json_string(optarg));
			break;
		case 's': {
			/* ns since the epoch, or RFC 3339 as the process events' process.start */
			char *end;
			long long ns = strtoll(optarg, &end, 10);
			json_object_set_new(args, "start_time",
			                    *end || end == optarg ? json_string(optarg)
			                                          : json_integer(ns));
			break;
		}
		case 'F':
			json_object_set_new(args, "force", json_true());
			break;
		case 'P':
			json_object_set_new(args, "path", json_string(optarg));
			break;
		case 'I':
			json_object_set_new(args, "id", json_string(optarg));
			break;
		case 'u':
			json_object_set_new(args, "user", json_string(optarg));
			break;
		case 'n':
			json_object_set_new(args, "dry_run", json_true());
			break;
		case 'U':
			undo = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				fprintf(stderr, "yiwang respond: --output is text or json\n");
				goto out;
			}
			as_json = !strcmp(optarg, "json");
			break;
		case 'h':
			fputs(usage_text, stdout);
			rc = YW_EXIT_OK;
			goto out;
		default:
			goto out;
		}
	}
	if (action && !strcmp(action, "status")) {
		char *end;
		long long id = optind < argc ? strtoll(argv[optind], &end, 10) : 0;
		if (id <= 0 || *end) {
			fputs(usage_text, stderr);
			goto out;
		}
		rc = wait_result(data_dir(dir), id, 0, as_json);
		goto out;
	}
	if (optind < argc || !agent || (!action && !undo) || (action && undo)) {
		fputs(usage_text, stderr);
		goto out;
	}
	if (undo) {
		action = "undo";
		json_object_set_new(args, "token", json_string(undo));
	}
	struct passwd *pw = getpwuid(getuid());
	json_t *req =
	    json_pack("{s:s, s:s, s:s, s:O, s:s}", "op", "respond", "agent", agent, "action",
	              action, "args", args, "requested_by", pw ? pw->pw_name : "?");
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	json_t *reply = NULL;
	rc = YW_EXIT_FAIL;
	if (text && call(data_dir(dir), text, &reply) == 0) {
		long long id = json_integer_value(json_object_get(reply, "id"));
		json_decref(reply);
		rc = wait_result(data_dir(dir), id, wait_ms, as_json);
	}
	free(text);
out:
	json_decref(args);
	return rc;
}
