#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "yiwang/correlate.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"

static void usage(FILE *out)
{
	fputs(
	    "usage: yiwang hunt --rules PATH [--rules PATH]... [options] FILE...|-\n"
	    "\n"
	    "Decodes log files and runs Sigma rules over every event; prints each match.\n"
	    "Sigma correlation rules found in the same paths run over the matches and print\n"
	    "an alert per firing; rules a correlation refers to print only with `generate: true`.\n"
	    "  -r, --rules PATH         a rule file or a directory of rules (repeatable)\n"
	    "  -f, --format F           auto (default), syslog, auditd or json; with json, an\n"
	    "                           event without logsource.* is checked against every rule\n"
	    "  -o, --output O           text (default) or jsonl\n"
	    "  -l, --level L            only matches of level L or higher\n"
	    "                           (informational, low, medium, high, critical)\n"
	    "  -y, --year Y             year for syslog timestamps that carry none\n"
	    "      --mapping FILE       Sigma→ECS field mapping instead of the built-in one\n"
	    "      --placeholders FILE  values for the `expand` modifier\n"
	    "  -v, --verbose            print every rule diagnostic\n"
	    "  -h, --help               this text\n"
	    "\n"
	    "exit codes: 0 success (with or without matches), 1 failure, 2 usage error\n",
	    out);
}

static const char *const levels[] = {"informational", "low", "medium", "high", "critical"};

static int level_rank(const char *l)
{
	for (int i = 0; l && i < 5; i++)
		if (!strcasecmp(l, levels[i]))
			return i;
	return -1;
}

struct rule_hits {
	const struct yw_rule_info *rule;
	unsigned long long hits;
};

struct hunt {
	const struct yw_ruleset *rs;
	bool jsonl, colour;
	int min_level;
	struct yw_strbuf buf;
	struct rule_hits *hits; /* indexed like the ruleset */
	size_t nrules;
	unsigned long long events, matches, corr_alerts;
	struct yw_corr *corr;
};

/* Text output goes to a terminal: escape control bytes so a log line cannot drive it. */
static void put_safe(struct yw_strbuf *b, const char *s, size_t n, size_t max)
{
	size_t shown = 0;
	for (size_t i = 0; i < n && shown < max; i++, shown++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			yw_strbuf_printf(b, "\\x%02x", c);
		else
			yw_strbuf_putc(b, (char)c);
	}
	if (n > max)
		yw_strbuf_puts(b, "…");
}

static void put_field(struct yw_strbuf *b, const struct yw_event *ev, const char *name,
                      const char *label, size_t max)
{
	const struct yw_field *f = yw_event_get(ev, name);
	if (!f || f->len == 0)
		return;
	yw_strbuf_printf(b, "  %s=", label);
	put_safe(b, f->text, f->len, max);
}

static const char *level_colour(const char *l)
{
	switch (level_rank(l)) {
	case 4:
		return "\033[1;35m";
	case 3:
		return "\033[1;31m";
	case 2:
		return "\033[33m";
	case 1:
		return "\033[36m";
	default:
		return "\033[2m";
	}
}

static int write_text(struct hunt *h, const struct yw_rule_info *r, const struct yw_event *ev)
{
	struct yw_strbuf *b = &h->buf;
	const char *ts = yw_event_str(ev, "@timestamp");
	yw_strbuf_printf(b, "%-24s ", ts ? ts : "-");
	if (h->colour)
		yw_strbuf_puts(b, level_colour(r->level));
	yw_strbuf_printf(b, "%-14s", r->level ? r->level : "-");
	if (h->colour)
		yw_strbuf_puts(b, "\033[0m");
	put_safe(b, r->title, strlen(r->title), 100);
	put_field(b, ev, "host.name", "host", 64);
	put_field(b, ev, "user.name", "user", 64);
	put_field(b, ev, "source.ip", "src", 64);
	if (yw_event_get(ev, "process.command_line"))
		put_field(b, ev, "process.command_line", "cmd", 160);
	else
		put_field(b, ev, "message", "msg", 160);
	return yw_strbuf_putc(b, '\n');
}

static int write_json(struct hunt *h, const struct yw_rule_info *r, const struct yw_event *ev)
{
	struct yw_strbuf *b = &h->buf;
	yw_strbuf_puts(b, "{\"rule\":{\"id\":");
	if (r->id)
		yw_strbuf_json_str(b, r->id, strlen(r->id));
	else
		yw_strbuf_puts(b, "null");
	yw_strbuf_puts(b, ",\"title\":");
	yw_strbuf_json_str(b, r->title, strlen(r->title));
	yw_strbuf_puts(b, ",\"level\":");
	if (r->level)
		yw_strbuf_json_str(b, r->level, strlen(r->level));
	else
		yw_strbuf_puts(b, "null");
	yw_strbuf_puts(b, ",\"tags\":[");
	for (size_t i = 0; i < r->ntags; i++) {
		if (i)
			yw_strbuf_putc(b, ',');
		yw_strbuf_json_str(b, r->tags[i], strlen(r->tags[i]));
	}
	yw_strbuf_puts(b, "],\"file\":");
	yw_strbuf_json_str(b, r->file ? r->file : "", r->file ? strlen(r->file) : 0);
	yw_strbuf_puts(b, "},\"event\":");
	int rc = yw_event_to_json(ev, b);
	if (rc)
		return rc;
	return yw_strbuf_puts(b, "}\n");
}

static void put_time(struct yw_strbuf *b, int64_t ns)
{
	struct yw_event *e = yw_event_new();
	const char *t =
	    e && !yw_event_set_time(e, "@timestamp", ns) ? yw_event_str(e, "@timestamp") : NULL;
	yw_strbuf_puts(b, t ? t : "-");
	yw_event_free(e);
}

static void put_value(struct yw_strbuf *b, double v)
{
	if (v == (double)(long long)v)
		yw_strbuf_printf(b, "%lld", (long long)v);
	else
		yw_strbuf_printf(b, "%.3f", v);
}

static void put_json_opt(struct yw_strbuf *b, const char *s)
{
	if (s)
		yw_strbuf_json_str(b, s, strlen(s));
	else
		yw_strbuf_puts(b, "null");
}

static int write_alert_text(struct hunt *h, const struct yw_corr_alert *a)
{
	struct yw_strbuf *b = &h->buf;
	struct yw_strbuf ts = YW_STRBUF_INIT;
	put_time(&ts, a->last_ns);
	yw_strbuf_printf(b, "%-24s ", ts.data ? ts.data : "-");
	yw_strbuf_free(&ts);
	if (h->colour)
		yw_strbuf_puts(b, level_colour(a->rule->level));
	yw_strbuf_printf(b, "%-14s", a->rule->level ? a->rule->level : "-");
	if (h->colour)
		yw_strbuf_puts(b, "\033[0m");
	put_safe(b, a->rule->title, strlen(a->rule->title), 100);
	yw_strbuf_printf(b, "  [%s", a->type);
	for (size_t i = 0; i < a->ngroup; i++) {
		yw_strbuf_printf(b, " %s=", a->group_by[i]);
		put_safe(b, a->group_values[i], strlen(a->group_values[i]), 64);
	}
	/* value_count -> distinct(user.name)=4, value_sum -> sum(bytes)=..., else value=N */
	static const char *const agg[][2] = {{"value_count", "distinct"},
	                                     {"value_sum", "sum"},
	                                     {"value_avg", "avg"},
	                                     {"value_percentile", "share%"}};
	const char *label = NULL;
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(a->type, agg[i][0]))
			label = agg[i][1];
	if (label && a->field) {
		yw_strbuf_printf(b, " %s(", label);
		put_safe(b, a->field, strlen(a->field), 64);
		yw_strbuf_puts(b, ")=");
	} else {
		yw_strbuf_puts(b, " value=");
	}
	put_value(b, a->value);
	yw_strbuf_puts(b, " since=");
	put_time(b, a->first_ns);
	return yw_strbuf_puts(b, "]\n");
}

static int write_alert_json(struct hunt *h, const struct yw_corr_alert *a)
{
	struct yw_strbuf *b = &h->buf;
	const struct yw_rule_info *r = a->rule;
	yw_strbuf_puts(b, "{\"rule\":{\"id\":");
	put_json_opt(b, r->id);
	yw_strbuf_puts(b, ",\"name\":");
	put_json_opt(b, r->name);
	yw_strbuf_puts(b, ",\"title\":");
	yw_strbuf_json_str(b, r->title, strlen(r->title));
	yw_strbuf_puts(b, ",\"level\":");
	put_json_opt(b, r->level);
	yw_strbuf_puts(b, ",\"tags\":[");
	for (size_t i = 0; i < r->ntags; i++) {
		if (i)
			yw_strbuf_putc(b, ',');
		yw_strbuf_json_str(b, r->tags[i], strlen(r->tags[i]));
	}
	yw_strbuf_puts(b, "],\"file\":");
	yw_strbuf_json_str(b, r->file ? r->file : "", r->file ? strlen(r->file) : 0);
	yw_strbuf_puts(b, "},\"correlation\":{\"type\":");
	yw_strbuf_json_str(b, a->type, strlen(a->type));
	yw_strbuf_puts(b, ",\"group\":{");
	for (size_t i = 0; i < a->ngroup; i++) {
		if (i)
			yw_strbuf_putc(b, ',');
		yw_strbuf_json_str(b, a->group_by[i], strlen(a->group_by[i]));
		yw_strbuf_putc(b, ':');
		yw_strbuf_json_str(b, a->group_values[i], strlen(a->group_values[i]));
	}
	yw_strbuf_puts(b, "},\"field\":");
	put_json_opt(b, a->field);
	yw_strbuf_puts(b, ",\"value\":");
	put_value(b, a->value);
	yw_strbuf_puts(b, ",\"first\":\"");
	put_time(b, a->first_ns);
	yw_strbuf_puts(b, "\",\"last\":\"");
	put_time(b, a->last_ns);
	yw_strbuf_puts(b, "\",\"rules\":[");
	for (size_t i = 0; i < a->nbase; i++) {
		if (i)
			yw_strbuf_putc(b, ',');
		yw_strbuf_puts(b, "{\"id\":");
		put_json_opt(b, a->base[i]->id);
		yw_strbuf_puts(b, ",\"title\":");
		yw_strbuf_json_str(b, a->base[i]->title, strlen(a->base[i]->title));
		yw_strbuf_putc(b, '}');
	}
	return yw_strbuf_puts(b, "]}}\n");
}

static int on_alert(void *ud, const struct yw_corr_alert *a)
{
	struct hunt *h = ud;
	if (h->min_level > 0 && level_rank(a->rule->level) < h->min_level)
		return 0;
	h->corr_alerts++;
	yw_strbuf_reset(&h->buf);
	int rc = h->jsonl ? write_alert_json(h, a) : write_alert_text(h, a);
	if (rc)
		return rc;
	if (fwrite(h->buf.data, 1, h->buf.len, stdout) != h->buf.len)
		return YW_EIO;
	return 0;
}

static int report_match(struct hunt *h, const struct yw_rule_info *r, const struct yw_event *ev)
{
	if (!yw_corr_rule_reported(h->corr, r))
		return 0;
	if (h->min_level > 0 && level_rank(r->level) < h->min_level)
		return 0;
	if (r->index < h->nrules)
		h->hits[r->index].hits++;
	h->matches++;
	yw_strbuf_reset(&h->buf);
	int rc = h->jsonl ? write_json(h, r, ev) : write_text(h, r, ev);
	if (rc)
		return rc;
	if (fwrite(h->buf.data, 1, h->buf.len, stdout) != h->buf.len)
		return YW_EIO;
	return 0;
}

/* The match is printed before the correlation alerts it completes. */
static int on_match(void *ud, const struct yw_rule_info *r, const struct yw_event *ev)
{
	struct hunt *h = ud;
	int rc = report_match(h, r, ev);
	return rc ? rc : yw_corr_feed(h->corr, r, ev, on_alert, h);
}

static int on_event(void *ud, struct yw_event *ev)
{
	struct hunt *h = ud;
	h->events++;
	return yw_ruleset_match(h->rs, ev, on_match, h);
}

static int cmp_hits(const void *a, const void *b)
{
	const struct rule_hits *x = a, *y = b;
	if (x->hits != y->hits)
		return x->hits < y->hits ? 1 : -1;
	return strcmp(x->rule->title, y->rule->title);
}

static void summary(struct hunt *h)
{
	FILE *out = h->jsonl ? stderr : stdout;
	qsort(h->hits, h->nrules, sizeof(*h->hits), cmp_hits);
	size_t matched = 0;
	for (size_t i = 0; i < h->nrules && h->hits[i].hits; i++)
		matched++;
	if (!h->jsonl && matched) {
		fprintf(out, "\nhits by rule:\n");
		for (size_t i = 0; i < matched; i++) {
			const struct yw_rule_info *r = h->hits[i].rule;
			struct yw_strbuf line = YW_STRBUF_INIT;
			put_safe(&line, r->title, strlen(r->title), 100);
			fprintf(out, "  %8llu  %-14s%s\n", h->hits[i].hits,
			        r->level ? r->level : "-", line.data ? line.data : "");
			yw_strbuf_free(&line);
		}
	}
	fprintf(out, "%llu events, %llu matches, %zu of %zu rules matched\n", h->events, h->matches,
	        matched, h->nrules);
	if (!h->corr || yw_corr_count(h->corr) == 0)
		return;
	struct yw_corr_stats st;
	yw_corr_stats(h->corr, &st);
	fprintf(out, "%llu correlation alerts from %zu correlation rules", h->corr_alerts,
	        st.correlations);
	if (st.evicted || st.dropped_late)
		fprintf(out, " (%llu groups evicted at the cap, %llu late matches dropped)",
		        (unsigned long long)st.evicted, (unsigned long long)st.dropped_late);
	fputc('\n', out);
}

int yw_cmd_hunt(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rules", required_argument, NULL, 'r'},
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"level", required_argument, NULL, 'l'},
	    {"year", required_argument, NULL, 'y'},
	    {"mapping", required_argument, NULL, 'M'},
	    {"placeholders", required_argument, NULL, 'P'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char **rules = calloc((size_t)argc, sizeof(*rules));
	size_t nrules = 0;
	const char *format = "auto", *mapping = NULL, *placeholders = NULL;
	struct yw_decode_opts dopts = {0};
	struct hunt h = {0};
	int verbose = 0, c, status = YW_EXIT_OK;
	if (!rules)
		return YW_EXIT_FAIL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:f:o:l:y:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules[nrules++] = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "jsonl") || !strcmp(optarg, "json")) {
				h.jsonl = true;
			} else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "yiwang hunt: unknown output '%s'\n", optarg);
				status = YW_EXIT_USAGE;
				goto out;
			}
			break;
		case 'l':
			h.min_level = level_rank(optarg);
			if (h.min_level < 0) {
				fprintf(stderr, "yiwang hunt: unknown level '%s'\n", optarg);
				status = YW_EXIT_USAGE;
				goto out;
			}
			break;
		case 'y':
			dopts.default_year = atoi(optarg);
			break;
		case 'M':
			mapping = optarg;
			break;
		case 'P':
			placeholders = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			goto out;
		default:
			usage(stderr);
			status = YW_EXIT_USAGE;
			goto out;
		}
	}
	if (nrules == 0 || optind >= argc) {
		fprintf(stderr, "yiwang hunt: %s\n",
		        nrules ? "no input files" : "at least one --rules PATH is required");
		usage(stderr);
		status = YW_EXIT_USAGE;
		goto out;
	}
	struct yw_ruleset *rs = yw_cli_load_rules(rules, nrules, mapping, placeholders, verbose);
	if (!rs) {
		status = YW_EXIT_FAIL;
		goto out;
	}
	h.rs = rs;
	h.nrules = yw_ruleset_count(rs);
	h.hits = calloc(h.nrules ? h.nrules : 1, sizeof(*h.hits));
	if (!h.hits) {
		yw_ruleset_free(rs);
		status = YW_EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < h.nrules; i++)
		h.hits[i].rule = yw_ruleset_rule(rs, i);
	struct yw_diags cd = YW_DIAGS_INIT;
	int crc = yw_corr_new(rs, NULL, &cd, &h.corr);
	if (verbose || cd.nerrors)
		yw_diags_print(&cd, stderr);
	yw_diags_free(&cd);
	if (crc) {
		fprintf(stderr, "yiwang hunt: correlations: %s\n", yw_strerror(crc));
		free(h.hits);
		yw_ruleset_free(rs);
		status = YW_EXIT_FAIL;
		goto out;
	}
	h.colour = !h.jsonl && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	yw_strbuf_init(&h.buf, 0);
	for (int i = optind; i < argc && status == YW_EXIT_OK; i++) {
		struct yw_decoder *d = NULL;
		int rc = yw_decoder_new(format, &dopts, on_event, &h, &d);
		if (rc) {
			fprintf(stderr, "yiwang hunt: %s '%s'\n",
			        rc == YW_ENOENT ? "unknown format" : yw_strerror(rc), format);
			status = rc == YW_ENOENT ? YW_EXIT_USAGE : YW_EXIT_FAIL;
			break;
		}
		FILE *f = yw_cli_open(argv[i]);
		if (f) {
			rc = yw_decoder_file(d, f);
			if (rc) {
				fprintf(stderr, "yiwang hunt: %s: %s\n", argv[i], yw_strerror(rc));
				status = YW_EXIT_FAIL;
			}
			yw_cli_close(f);
		} else {
			status = YW_EXIT_FAIL;
		}
		yw_decoder_free(d);
	}
	if (status == YW_EXIT_OK) {
		yw_strbuf_reset(&h.buf);
		int rc = yw_corr_flush(h.corr, on_alert, &h);
		if (rc) {
			fprintf(stderr, "yiwang hunt: %s\n", yw_strerror(rc));
			status = YW_EXIT_FAIL;
		}
	}
	fflush(stdout);
	summary(&h);
	yw_corr_free(h.corr);
	yw_strbuf_free(&h.buf);
	free(h.hits);
	yw_ruleset_free(rs);
out:
	free(rules);
	return status;
}
