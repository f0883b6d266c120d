/* Alert triage through the server's local API: `yiwang alert`, `incidents`, `suppress` and
 * `risk` (docs/cli.md; the store's rules in docs/storage.md, the score in docs/risk.md). */
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "cli.h"
#include "yiwang/config.h"
#include "yiwang/error.h"
#include "yiwang/strbuf.h"

/* The login name, for "by" when --by is not given. */
static const char *whoami(void)
{
	struct passwd *pw = getpwuid(geteuid());
	if (pw && pw->pw_name && *pw->pw_name)
		return pw->pw_name;
	const char *u = getenv("USER");
	return u && *u ? u : "unknown";
}

static const char *s_of(json_t *o, const char *k, const char *def)
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
		snprintf(out, n, "-");
		return;
	}
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Prints text a peer may control with control bytes escaped, cut at max bytes. */
static void put_safe(const char *s, size_t max)
{
	size_t i = 0;
	for (; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	if (s[i])
		fputs("...", stdout);
}

static int print_jsonl(void *ud, json_t *r)
{
	char *s = json_dumps(r, JSON_COMPACT);
	printf("%s\n", s ? s : "{}");
	free(s);
	return 0;
}

static void add_str(struct yw_strbuf *b, const char *k, const char *v)
{
	if (!v)
		return;
	yw_strbuf_printf(b, ",\"%s\":", k);
	yw_strbuf_json_str(b, v, strlen(v));
}

/* Sends the request in b (closing its object) and frees it. */
static int send_req(const char *dir, struct yw_strbuf *b, int (*row)(void *, json_t *), void *ud,
                    json_t **fin)
{
	int rc = yw_strbuf_putc(b, '}');
	if (rc == 0)
		rc = yw_cli_api_call(yw_cli_data_dir(dir), b->data, row, ud, fin);
	else
		fprintf(stderr, "yiwang: out of memory\n");
	yw_strbuf_free(b);
	return rc ? YW_EXIT_FAIL : YW_EXIT_OK;
}

enum {
	O_COMMENT = 'c',
	O_BY = 'b',
	O_DIR = 'd',
	O_OUT = 'o',
	O_OPEN = 'O',
	O_RULE = 'r',
	O_AGENT = 'a',
	O_FOR = 'f',
	O_WHY = 'w',
	O_FIELD = 'F',
	O_HELP = 'h'
};

static const struct option long_opts[] = {
    {"comment", required_argument, NULL, O_COMMENT},
    {"by", required_argument, NULL, O_BY},
    {"data-dir", required_argument, NULL, O_DIR},
    {"output", required_argument, NULL, O_OUT},
    {"open", no_argument, NULL, O_OPEN},
    {"rule", required_argument, NULL, O_RULE},
    {"agent", required_argument, NULL, O_AGENT},
    {"for", required_argument, NULL, O_FOR},
    {"why", required_argument, NULL, O_WHY},
    {"field", required_argument, NULL, O_FIELD},
    {"help", no_argument, NULL, O_HELP},
    {0},
};

struct args {
	const char *comment, *by, *dir, *rule, *agent, *why, *field;
	int64_t for_ms;
	bool jsonl, open, help;
	int nfree;
	char *free_args[4];
};

/* Options may come before or after the positional words. */
static int parse(int argc, char **argv, struct args *a)
{
	int c;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "-c:b:d:o:Or:a:f:w:F:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (a->nfree == 4) {
				fprintf(stderr, "yiwang: too many arguments\n");
				return -1;
			}
			a->free_args[a->nfree++] = optarg;
			break;
		case O_COMMENT:
			a->comment = optarg;
			break;
		case O_BY:
			a->by = optarg;
			break;
		case O_DIR:
			a->dir = optarg;
			break;
		case O_OUT:
			if (strcmp(optarg, "jsonl") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "yiwang: --output takes text or jsonl\n");
				return -1;
			}
			a->jsonl = !strcmp(optarg, "jsonl");
			break;
		case O_OPEN:
			a->open = true;
			break;
		case O_RULE:
			a->rule = optarg;
			break;
		case O_AGENT:
			a->agent = optarg;
			break;
		case O_FOR:
			if (yw_parse_duration_ms(optarg, &a->for_ms) || a->for_ms <= 0) {
				fprintf(stderr, "yiwang: bad duration '%s' (e.g. 30m, 2h, 7d)\n",
				        optarg);
				return -1;
			}
			break;
		case O_WHY:
			a->why = optarg;
			break;
		case O_FIELD:
			a->field = optarg;
			break;
		case O_HELP:
			a->help = true;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static int parse_id(const char *s, long long *id)
{
	char *end;
	*id = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || *id <= 0) {
		fprintf(stderr, "yiwang: '%s' is not an id\n", s ? s : "");
		return -1;
	}
	return 0;
}

/* ---- alert ---- */

static const char alert_usage[] =
    "usage: yiwang alert ack|resolve|false-positive|reopen ID [--comment TEXT] [--by NAME]\n"
    "       yiwang alert history ID [--output text|jsonl]\n"
    "       (both take --data-dir DIR)\n\n"
    "Changes an alert's status: new -> acknowledged (ack); new or acknowledged ->\n"
    "resolved or false_positive; reopen takes any other status back to new. A\n"
    "resolved or false-positive alert changes only by reopen. Each change is kept in\n"
    "the alert's history with who (--by, default the login name), when and the\n"
    "comment.\n";

static int history_line(void *ud, json_t *r)
{
	char ts[32];
	fmt_time(i_of(r, "ts"), ts, sizeof(ts));
	printf("%-20s  %-14s %-14s -> %-14s by ", ts, s_of(r, "action", "-"), s_of(r, "from", "-"),
	       s_of(r, "to", "-"));
	put_safe(s_of(r, "by", "-"), 40);
	const char *c = s_of(r, "comment", NULL);
	if (c) {
		fputs("  ", stdout);
		put_safe(c, 200);
	}
	putchar('\n');
	return 0;
}

static int cmd_alert(int argc, char **argv)
{
	struct args a = {0};
	if (parse(argc, argv, &a))
		return YW_EXIT_USAGE;
	if (a.help) {
		fputs(alert_usage, stdout);
		return YW_EXIT_OK;
	}
	long long id;
	if (a.nfree != 2 || parse_id(a.free_args[1], &id)) {
		fputs(alert_usage, stderr);
		return YW_EXIT_USAGE;
	}
	struct yw_strbuf b = YW_STRBUF_INIT;
	const char *verb = a.free_args[0];
	if (!strcmp(verb, "history")) {
		yw_strbuf_printf(&b, "{\"op\":\"alert_history\",\"id\":%lld", id);
		return send_req(a.dir, &b, a.jsonl ? print_jsonl : history_line, NULL, NULL);
	}
	const char *action = !strcmp(verb, "ack")              ? "ack"
	                     : !strcmp(verb, "resolve")        ? "resolve"
	                     : !strcmp(verb, "false-positive") ? "false_positive"
	                     : !strcmp(verb, "reopen")         ? "reopen"
	                                                       : NULL;
	if (!action) {
		fprintf(stderr, "yiwang alert: unknown action '%s'\n", verb);
		fputs(alert_usage, stderr);
		return YW_EXIT_USAGE;
	}
	yw_strbuf_printf(&b, "{\"op\":\"alert_change\",\"id\":%lld,\"action\":\"%s\"", id, action);
	add_str(&b, "by", a.by ? a.by : whoami());
	add_str(&b, "comment", a.comment);
	int rc = send_req(a.dir, &b, NULL, NULL, NULL);
	if (rc == YW_EXIT_OK)
		printf("alert %lld: %s\n", id, action);
	return rc;
}

/* ---- incidents ---- */

static int incident_line(void *ud, json_t *r)
{
	char opened[32], updated[32];
	fmt_time(i_of(r, "opened_at"), opened, sizeof(opened));
	fmt_time(i_of(r, "updated_at"), updated, sizeof(updated));
	printf("%-6lld %-7s %-6s %-13s %6lld %6lld  %-20s  %-20s  ", i_of(r, "id"),
	       s_of(r, "kind", "-"), i_of(r, "closed_at") ? "closed" : "open",
	       s_of(r, "max_level", "-"), i_of(r, "alert_count"), i_of(r, "agents"), opened,
	       updated);
	put_safe(s_of(r, "key", "-"), 64);
	putchar('\n');
	return 0;
}

static int cmd_incidents(int argc, char **argv)
{
	struct args a = {0};
	if (parse(argc, argv, &a))
		return YW_EXIT_USAGE;
	if (a.help || a.nfree) {
		fputs("usage: yiwang incidents [--open] [--output text|jsonl] [--data-dir DIR]\n\n"
		      "Lists incidents, newest first: the alerts of one terminal (kind agent,\n"
		      "key = agent id) or of one attacking address across terminals (kind\n"
		      "source, key = source.ip). An incident closes when its last open alert is\n"
		      "resolved or marked a false positive.\n",
		      a.help ? stdout : stderr);
		return a.help ? YW_EXIT_OK : YW_EXIT_USAGE;
	}
	struct yw_strbuf b = YW_STRBUF_INIT;
	yw_strbuf_printf(&b, "{\"op\":\"incidents\",\"open\":%d", a.open ? 1 : 0);
	if (!a.jsonl)
		printf("%-6s %-7s %-6s %-13s %6s %6s  %-20s  %-20s  %s\n", "ID", "KIND", "STATE",
		       "MAX LEVEL", "ALERTS", "AGENTS", "OPENED", "UPDATED", "KEY");
	return send_req(a.dir, &b, a.jsonl ? print_jsonl : incident_line, NULL, NULL);
}

/* ---- suppress ---- */

static const char suppress_usage[] =
    "usage: yiwang suppress add [--rule ID] [--agent ID] [--field NAME=VALUE]\n"
    "                           [--for DURATION] --why TEXT [--by NAME]\n"
    "       yiwang suppress list [--output text|jsonl]\n"
    "       yiwang suppress delete ID\n"
    "       (all take --data-dir DIR)\n\n"
    "New alerts matching every criterion given (at least one) are dropped when the\n"
    "server stores them, and counted on the suppression, until it expires (--for;\n"
    "default: never) or is deleted. --field matches a field of the alert's event,\n"
    "e.g. --field source.ip=192.0.2.9.\n";

static int suppression_line(void *ud, json_t *r)
{
	char exp[32];
	fmt_time(i_of(r, "expires_at"), exp, sizeof(exp));
	long long now = (long long)time(NULL) * 1000000000LL;
	long long e = i_of(r, "expires_at");
	printf("%-6lld %-8s %-20s %8lld  ", i_of(r, "id"), e && e <= now ? "expired" : "active",
	       e ? exp : "never", i_of(r, "hits"));
	printf("rule=");
	put_safe(s_of(r, "rule_id", "*"), 60);
	printf(" agent=");
	put_safe(s_of(r, "agent_id", "*"), 40);
	if (s_of(r, "field", NULL)) {
		putchar(' ');
		put_safe(s_of(r, "field", ""), 40);
		putchar('=');
		put_safe(s_of(r, "value", ""), 60);
	}
	printf("  by ");
	put_safe(s_of(r, "by", "-"), 40);
	printf(": ");
	put_safe(s_of(r, "why", ""), 120);
	putchar('\n');
	return 0;
}

static int cmd_suppress(int argc, char **argv)
{
	struct args a = {0};
	if (parse(argc, argv, &a))
		return YW_EXIT_USAGE;
	if (a.help) {
		fputs(suppress_usage, stdout);
		return YW_EXIT_OK;
	}
	const char *sub = a.nfree ? a.free_args[0] : "";
	struct yw_strbuf b = YW_STRBUF_INIT;
	if (!strcmp(sub, "list") && a.nfree == 1) {
		yw_strbuf_puts(&b, "{\"op\":\"suppress_list\"");
		if (!a.jsonl)
			printf("%-6s %-8s %-20s %8s  %s\n", "ID", "STATE", "EXPIRES", "HITS",
			       "MATCH  BY: WHY");
		return send_req(a.dir, &b, a.jsonl ? print_jsonl : suppression_line, NULL, NULL);
	}
	if (!strcmp(sub, "delete") && a.nfree == 2) {
		long long id;
		if (parse_id(a.free_args[1], &id))
			return YW_EXIT_USAGE;
		yw_strbuf_printf(&b, "{\"op\":\"suppress_delete\",\"id\":%lld", id);
		int rc = send_req(a.dir, &b, NULL, NULL, NULL);
		if (rc == YW_EXIT_OK)
			printf("deleted suppression %lld\n", id);
		return rc;
	}
	if (strcmp(sub, "add") != 0 || a.nfree != 1) {
		fputs(suppress_usage, stderr);
		return YW_EXIT_USAGE;
	}
	const char *eq = a.field ? strchr(a.field, '=') : NULL;
	if ((a.field && (!eq || eq == a.field)) || (!a.rule && !a.agent && !a.field) || !a.why) {
		fprintf(stderr, "yiwang suppress add: needs --why and at least one of --rule, "
		                "--agent, --field NAME=VALUE\n");
		return YW_EXIT_USAGE;
	}
	yw_strbuf_puts(&b, "{\"op\":\"suppress_add\"");
	add_str(&b, "rule", a.rule);
	add_str(&b, "agent", a.agent);
	if (eq) {
		yw_strbuf_puts(&b, ",\"field\":");
		yw_strbuf_json_str(&b, a.field, (size_t)(eq - a.field));
		add_str(&b, "value", eq + 1);
	}
	if (a.for_ms > 0)
		yw_strbuf_printf(&b, ",\"for_ms\":%lld", (long long)a.for_ms);
	add_str(&b, "by", a.by ? a.by : whoami());
	add_str(&b, "why", a.why);
	json_t *fin = NULL;
	int rc = send_req(a.dir, &b, NULL, NULL, &fin);
	if (rc == YW_EXIT_OK) {
		char exp[32];
		fmt_time(i_of(fin, "expires_at"), exp, sizeof(exp));
		printf("suppression %lld added, expires %s\n", i_of(fin, "id"),
		       i_of(fin, "expires_at") ? exp : "never");
		json_decref(fin);
	}
	return rc;
}

/* ---- risk ---- */

static int risk_line(void *ud, json_t *r)
{
	bool *header = ud;
	if (!*header) {
		printf("%6s  %-24s  %-36s %-12s  %s\n", "SCORE", "NAME", "AGENT", "OPEN C/H/M/L",
		       "INPUTS");
		*header = true;
	}
	json_t *lv = json_object_get(r, "open_by_level");
	printf("%6.1f  ", json_number_value(json_object_get(r, "score")));
	put_safe(s_of(r, "agent_name", "-"), 24);
	printf("  %-36s %4lld/%lld/%lld/%lld  ", s_of(r, "agent_id", "-"),
	       (long long)json_integer_value(json_array_get(lv, 4)),
	       (long long)json_integer_value(json_array_get(lv, 3)),
	       (long long)json_integer_value(json_array_get(lv, 2)),
	       (long long)json_integer_value(json_array_get(lv, 1)));
	long long sca = i_of(r, "sca_score");
	if (sca >= 0)
		printf("sca=%lld%% ", sca);
	else
		printf("sca=-   ");
	printf("ports=%lld  points: alerts %.1f, baseline %.1f, exposure %.1f\n", i_of(r, "ports"),
	       json_number_value(json_object_get(r, "alert_points")),
	       json_number_value(json_object_get(r, "sca_points")),
	       json_number_value(json_object_get(r, "exposure_points")));
	return 0;
}

static int cmd_risk(int argc, char **argv)
{
	struct args a = {0};
	if (parse(argc, argv, &a))
		return YW_EXIT_USAGE;
	if (a.help || a.nfree) {
		fputs("usage: yiwang risk [--agent ID] [--output text|jsonl] [--data-dir DIR]\n\n"
		      "Risk scores 0-100 of every terminal (or one) and of the fleet, from open\n"
		      "alerts by level (fading with a 24 h half-life), failing baseline checks\n"
		      "and listening ports; docs/risk.md has the formula. Open alerts are shown\n"
		      "as critical/high/medium/low.\n",
		      a.help ? stdout : stderr);
		return a.help ? YW_EXIT_OK : YW_EXIT_USAGE;
	}
	struct yw_strbuf b = YW_STRBUF_INIT;
	yw_strbuf_puts(&b, "{\"op\":\"risk\"");
	add_str(&b, "agent", a.agent);
	json_t *fin = NULL;
	bool header = false;
	int rc = send_req(a.dir, &b, a.jsonl ? print_jsonl : risk_line, &header, &fin);
	if (rc == YW_EXIT_OK) {
		double fleet = json_number_value(json_object_get(fin, "fleet"));
		if (a.jsonl)
			printf("{\"fleet\":%.1f}\n", fleet);
		else if (!a.agent)
			printf("fleet score: %.1f\n", fleet);
		json_decref(fin);
	}
	return rc;
}

int yw_cmd_alert(int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	if (!strcmp(cmd, "incidents"))
		return cmd_incidents(argc, argv);
	if (!strcmp(cmd, "suppress"))
		return cmd_suppress(argc, argv);
	if (!strcmp(cmd, "risk"))
		return cmd_risk(argc, argv);
	return cmd_alert(argc, argv);
}
