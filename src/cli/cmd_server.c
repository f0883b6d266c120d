/* Commands that talk to a running yiwang-server through its local API (a Unix socket in the
 * server's data directory): token, agents, alerts. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "cli.h"
#include "yiwang/config.h"
#include "yiwang/error.h"
#include "yiwang/strbuf.h"

static const char *s_or(json_t *o, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v && *v ? v : def;
}

static long long i_of(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void fmt_time(long long ns, char *out, size_t n)
{
	if (ns <= 0) {
		snprintf(out, n, "never");
		return;
	}
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prints text a peer controls with control bytes escaped. */
static void put_safe(FILE *f, const char *s, size_t max)
{
	size_t i = 0;
	for (; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	if (s[i])
		fputs("…", f);
}

/* put_safe, then spaces up to width columns (bytes; close enough for a listing). */
static void put_pad(FILE *f, const char *s, size_t width)
{
	put_safe(f, s, width);
	size_t n = strlen(s);
	for (size_t i = n; i < width; i++)
		fputc(' ', f);
}

/* ---- token ---- */

static int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"group", required_argument, NULL, 'g'}, {"expires", required_argument, NULL, 'e'},
	    {"uses", required_argument, NULL, 'u'},  {"data-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},        {0},
	};
	const char *group = "default", *dir = NULL;
	int64_t ttl = -1, uses = -2;
	int c;
	optind = 1;
	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		fputs("usage: yiwang token create [--group G] [--expires DURATION] [--uses N] "
		      "[--data-dir DIR]\n",
		      argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? YW_EXIT_OK : YW_EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "g:e:u:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			group = optarg;
			break;
		case 'e':
			if (yw_parse_duration_ms(optarg, &ttl)) {
				fprintf(stderr, "yiwang token: bad duration '%s'\n", optarg);
				return YW_EXIT_USAGE;
			}
			break;
		case 'u':
			uses = strtoll(optarg, NULL, 10);
			if (uses < 1) {
				fprintf(stderr, "yiwang token: --uses must be at least 1\n");
				return YW_EXIT_USAGE;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			puts(
			    "usage: yiwang token create [--group G] [--expires DURATION] [--uses "
			    "N] "
			    "[--data-dir DIR]\n\nPrints an enrolment string for `yiwang-agent "
			    "enroll`: "
			    "the server address,\na secret token and the server CA's fingerprint.\n"
			    "Defaults: group 'default', expires in 24h, 1 use.");
			return YW_EXIT_OK;
		default:
			return YW_EXIT_USAGE;
		}
	}
	struct yw_strbuf req = YW_STRBUF_INIT;
	yw_strbuf_puts(&req, "{\"op\":\"token_create\",\"group\":");
	yw_strbuf_json_str(&req, group, strlen(group));
	if (ttl >= 0)
		yw_strbuf_printf(&req, ",\"ttl_ms\":%lld", (long long)ttl);
	if (uses >= 1)
		yw_strbuf_printf(&req, ",\"uses\":%lld", (long long)uses);
	yw_strbuf_putc(&req, '}');
	json_t *fin = NULL;
	int rc = yw_cli_api_call(yw_cli_data_dir(dir), req.data, NULL, NULL, &fin);
	yw_strbuf_free(&req);
	if (rc)
		return YW_EXIT_FAIL;
	printf("%s\n", s_or(fin, "enroll", ""));
	json_decref(fin);
	return YW_EXIT_OK;
}

/* ---- agents ---- */

struct out {
	bool jsonl;
	FILE *f;
	long long last_id;
};

static int agent_line(void *ud, json_t *a)
{
	struct out *o = ud;
	if (o->jsonl) {
		char *s = json_dumps(a, JSON_COMPACT);
		fprintf(o->f, "%s\n", s ? s : "{}");
		free(s);
		return 0;
	}
	char seen[32];
	fmt_time(i_of(a, "last_seen"), seen, sizeof(seen));
	const char *status = i_of(a, "revoked_at") ? "revoked"
	                     : i_of(a, "online")   ? "online"
	                                           : "offline";
	fprintf(o->f, "%-36s  ", s_or(a, "id", "-"));
	put_pad(o->f, s_or(a, "name", "-"), 24);
	fprintf(o->f, "  %-10s %-8s %-20s %10lld  %-8s ", s_or(a, "group", "-"), status, seen,
	        i_of(a, "events_received"), s_or(a, "version", "-"));
	put_safe(o->f, s_or(a, "os", "-"), 30);
	fputs("  ", o->f);
	put_safe(o->f, s_or(a, "addresses", "-"), 60);
	fputc('\n', o->f);
	return 0;
}

static int cmd_agents(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *dir = NULL;
	struct out o = {false, stdout, 0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.jsonl = !strcmp(optarg, "jsonl");
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			puts("usage: yiwang agents [list] [--output text|jsonl] [--data-dir DIR]\n"
			     "       yiwang agents revoke ID [--data-dir DIR]\n\n"
			     "Lists enrolled terminals (id, name, group, status, last seen, "
			     "events,\n"
			     "OS, addresses) or revokes one: its connection is closed at once and\n"
			     "new ones are refused.");
			return YW_EXIT_OK;
		default:
			return YW_EXIT_USAGE;
		}
	}
	const char *sub = optind < argc ? argv[optind] : "list";
	if (!strcmp(sub, "revoke")) {
		if (optind + 1 >= argc) {
			fprintf(stderr, "yiwang agents revoke: an agent id is required\n");
			return YW_EXIT_USAGE;
		}
		struct yw_strbuf req = YW_STRBUF_INIT;
		yw_strbuf_puts(&req, "{\"op\":\"revoke\",\"id\":");
		yw_strbuf_json_str(&req, argv[optind + 1], strlen(argv[optind + 1]));
		yw_strbuf_putc(&req, '}');
		int rc = yw_cli_api_call(yw_cli_data_dir(dir), req.data, NULL, NULL, NULL);
		yw_strbuf_free(&req);
		if (rc == 0)
			printf("revoked %s\n", argv[optind + 1]);
		return rc ? YW_EXIT_FAIL : YW_EXIT_OK;
	}
	if (strcmp(sub, "list") != 0) {
		fprintf(stderr, "yiwang agents: unknown subcommand '%s'\n", sub);
		return YW_EXIT_USAGE;
	}
	if (!o.jsonl)
		printf("%-36s  %-24s  %-10s %-8s %-20s %10s  %-8s %s\n", "ID", "NAME", "GROUP",
		       "STATUS", "LAST SEEN", "EVENTS", "VERSION", "OS  ADDRESSES");
	return yw_cli_api_call(yw_cli_data_dir(dir), "{\"op\":\"agents\"}", agent_line, &o, NULL)
	           ? YW_EXIT_FAIL
	           : YW_EXIT_OK;
}

/* ---- alerts ---- */

static int alert_line(void *ud, json_t *a)
{
	struct out *o = ud;
	o->last_id = i_of(a, "id");
	if (o->jsonl) {
		char *s = json_dumps(a, JSON_COMPACT);
		fprintf(o->f, "%s\n", s ? s : "{}");
		free(s);
		return 0;
	}
	char ts[32];
	fmt_time(i_of(a, "event_ts"), ts, sizeof(ts));
	fprintf(o->f, "%-20s  %-13s ", ts, s_or(a, "level", "-"));
	put_safe(o->f, s_or(a, "title", "-"), 80);
	fputs("  agent=", o->f);
	put_safe(o->f, s_or(a, "agent_name", s_or(a, "agent_id", "-")), 40);
	json_t *ev = json_object_get(a, "event");
	const char *keys[] = {"user.name", "source.ip", "process.command_line", "message"};
	const char *labels[] = {"user", "src", "cmd", "msg"};
	for (int i = 0; i < 4; i++) {
		const char *v = s_or(ev, keys[i], NULL);
		if (!v || (i == 3 && json_object_get(ev, "process.command_line")))
			continue;
		fprintf(o->f, "  %s=", labels[i]);
		put_safe(o->f, v, i >= 2 ? 120 : 60);
	}
	fputc('\n', o->f);
	/* Every alert comes with what to do about it: its solution's first line. */
	json_t *sol = json_object_get(a, "solution");
	const char *lang = getenv("LANG");
	const char *l = lang && !strncmp(lang, "zh", 2) ? "zh" : "en";
	const char *what = json_string_value(json_object_get(json_object_get(sol, "what"), l));
	if (what) {
		fprintf(o->f, "    %s: ", l[0] == 'z' ? "处置" : "solution");
		put_safe(o->f, what, 200);
		fputc('\n', o->f);
	}
	return 0;
}

static volatile sig_atomic_t stop_follow;

static void on_sigint(int sig)
{
	stop_follow = 1;
}

static int parse_since(const char *s, long long *ns)
{
	int64_t ms;
	if (yw_parse_duration_ms(s, &ms) == 0 && strpbrk(s, "smhdw")) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		*ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec - (long long)ms * 1000000;
		return 0;
	}
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return YW_EINVAL;
	*ns = (long long)timegm(&tm) * 1000000000LL;
	return 0;
}

static int cmd_alerts(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"since", required_argument, NULL, 's'},
	    {"level", required_argument, NULL, 'l'},
	    {"agent", required_argument, NULL, 'a'},
	    {"output", required_argument, NULL, 'o'},
	    {"limit", required_argument, NULL, 'n'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char *const levels[] = {"informational", "low", "medium", "high", "critical"};
	const char *dir = NULL, *agent = NULL;
	long long since = 0, limit = 100;
	int min_level = 0, c;
	bool follow = false;
	struct out o = {false, stdout, 0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "fs:l:a:o:n:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 's':
			if (parse_since(optarg, &since)) {
				fprintf(stderr, "yiwang alerts: --since takes a duration (1h) or a "
				                "time (2026-11-26T08:00:00Z)\n");
				return YW_EXIT_USAGE;
			}
			break;
		case 'l':
			min_level = -1;
			for (int i = 0; i < 5; i++)
				if (!strcmp(optarg, levels[i]))
					min_level = i;
			if (min_level < 0) {
				fprintf(stderr, "yiwang alerts: unknown level '%s'\n", optarg);
				return YW_EXIT_USAGE;
			}
			break;
		case 'a':
			agent = optarg;
			break;
		case 'o':
			o.jsonl = !strcmp(optarg, "jsonl");
			break;
		case 'n':
			limit = strtoll(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			puts(
			    "usage: yiwang alerts [--follow] [--since T] [--level L] [--agent ID]\n"
			    "                     [--limit N] [--output text|jsonl] [--data-dir "
			    "DIR]\n\n"
			    "Prints stored alerts, newest last. --since takes a duration (30m, "
			    "2h)\n"
			    "or a UTC time; --level the lowest level shown; --follow keeps "
			    "printing\n"
			    "new alerts as they arrive (Ctrl-C stops).");
			return YW_EXIT_OK;
		default:
			return YW_EXIT_USAGE;
		}
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	bool first = true;
	do {
		struct yw_strbuf req = YW_STRBUF_INIT;
		yw_strbuf_printf(
		    &req,
		    "{\"op\":\"alerts\",\"since\":%lld,\"min_level\":%d,\"after_id\":%lld,"
		    "\"limit\":%lld,\"newest\":%d",
		    since, min_level, o.last_id, limit, first ? 1 : 0);
		if (agent) {
			yw_strbuf_puts(&req, ",\"agent\":");
			yw_strbuf_json_str(&req, agent, strlen(agent));
		}
		yw_strbuf_putc(&req, '}');
		int rc = yw_cli_api_call(yw_cli_data_dir(dir), req.data, alert_line, &o, NULL);
		yw_strbuf_free(&req);
		fflush(o.f);
		if (rc)
			return YW_EXIT_FAIL;
		first = false;
		for (int i = 0; follow && i < 5 && !stop_follow; i++)
			usleep(100000);
	} while (follow && !stop_follow);
	return YW_EXIT_OK;
}

/* ---- inventory ---- */

static int inventory_line(void *ud, json_t *r)
{
	struct out *o = ud;
	if (o->jsonl) {
		char *s = json_dumps(r, JSON_COMPACT);
		fprintf(o->f, "%s\n", s ? s : "{}");
		free(s);
		return 0;
	}
	json_t *item = json_object_get(r, "item");
	const char *action = s_or(r, "action", NULL);
	if (action) {
		char ts[32];
		fmt_time(i_of(r, "ts"), ts, sizeof(ts));
		fprintf(o->f, "%-20s  %-20s ", ts, action);
	}
	fprintf(o->f, "%-11s ", s_or(r, "dataset", "-"));
	put_pad(o->f, s_or(r, "key", "-"), 40);
	const char *extra = s_or(item, "package.version", NULL);
	if (!extra)
		extra = s_or(item, "process.name", NULL);
	if (!extra)
		extra = s_or(item, "host.os.full", NULL);
	if (extra) {
		fputs("  ", o->f);
		put_safe(o->f, extra, 60);
	}
	fputc('\n', o->f);
	return 0;
}

static int cmd_inventory(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dataset", required_argument, NULL, 'D'}, {"history", no_argument, NULL, 'H'},
		{"output", required_argument, NULL, 'o'},  {"data-dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},          {0},
	};
	const char *dir = NULL, *dataset = NULL;
	bool history = false;
	struct out o = {false, stdout, 0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "D:Ho:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			dataset = optarg;
			break;
		case 'H':
			history = true;
			break;
		case 'o':
			o.jsonl = !strcmp(optarg, "jsonl");
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			puts("usage: yiwang inventory AGENT [--dataset D] [--history] [--output text|jsonl]\n"
			     "                        [--data-dir DIR]\n\n"
			     "The terminal's current inventory as the server keeps it (packages, users,\n"
			     "groups, ports, interfaces, services, os, hostname, hardware), or with\n"
			     "--history the changes it reported (package installed, user added, ...).");
			return YW_EXIT_OK;
		default:
			return YW_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "yiwang inventory: an agent id is required\n");
		return YW_EXIT_USAGE;
	}
	struct yw_strbuf req = YW_STRBUF_INIT;
	yw_strbuf_puts(&req, "{\"op\":\"inventory\",\"agent\":");
	yw_strbuf_json_str(&req, argv[optind], strlen(argv[optind]));
	if (dataset) {
		yw_strbuf_puts(&req, ",\"dataset\":");
		yw_strbuf_json_str(&req, dataset, strlen(dataset));
	}
	if (history)
		yw_strbuf_puts(&req, ",\"history\":true");
	yw_strbuf_putc(&req, '}');
	int rc = yw_cli_api_call(yw_cli_data_dir(dir), req.data, inventory_line, &o, NULL);
	yw_strbuf_free(&req);
	return rc ? YW_EXIT_FAIL : YW_EXIT_OK;
}

int yw_cmd_server_api(const char *cmd, int argc, char **argv)
{
	if (!strcmp(cmd, "inventory"))
		return cmd_inventory(argc, argv);
	if (!strcmp(cmd, "token"))
		return cmd_token(argc, argv);
	if (!strcmp(cmd, "agents"))
		return cmd_agents(argc, argv);
	return cmd_alerts(argc, argv);
}
