/* `yiwang solution`: prints the solution of a rule (resolved as an alert would be) or of an
 * ATT&CK technique, in one language, or both as JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "cli.h"
#include "detect/sigma_rule.h"
#include "yiwang/error.h"
#include "yiwang/solution.h"


static void usage(FILE *out)
{
	fputs("usage: yiwang solution [--lang en|zh] [--json] [--solutions DIR]\n"
	      "                       (--rule-id ID --rules PATH... | --technique T1110)\n"
	      "\n"
	      "Prints the solution an alert of the rule would show (what happened, why it\n"
	      "matters, how to verify, fix and prevent it), or the solution of an ATT&CK\n"
	      "technique (falling back to its parent technique).\n"
	      "  --lang en|zh       language of the text (default en)\n"
	      "  --json             both languages as one JSON object instead of text\n"
	      "  --solutions DIR    solution library (default: the installed rules/solutions)\n"
	      "  --rule-id ID       the rule's id; needs --rules\n"
	      "  --rules PATH       Sigma rule file or directory (repeatable)\n"
	      "  --technique ID     an ATT&CK technique such as T1110 or T1110.001\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "exit codes: 0 printed, 1 unknown rule or technique, unreadable library or rules,\n"
	      "2 usage error\n",
	      out);
}

/* Detection and correlation rules alike: the ruleset keeps both as documents. */
static const struct yw_rule_info *find_rule(const struct yw_ruleset *rs, const char *id)
{
	for (size_t i = 0; i < yw_sigma_ruleset_ndocs(rs); i++) {
		const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(rs, i);
		if (r->kind != YW_SIGMA_FILTER && r->info.id && !strcasecmp(r->info.id, id))
			return &r->info;
	}
	return NULL;
}

int yw_cmd_solution(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"lang", required_argument, NULL, 'l'},
	    {"json", no_argument, NULL, 'j'},
	    {"solutions", required_argument, NULL, 's'},
	    {"rule-id", required_argument, NULL, 'i'},
	    {"rules", required_argument, NULL, 'r'},
	    {"technique", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *dir = NULL, *rule_id = NULL, *technique = NULL;
	char **rules = calloc((size_t)argc + 1, sizeof(*rules));
	size_t nrules = 0;
	int lang = YW_LANG_EN, json = 0, c, ret = YW_EXIT_USAGE;
	struct yw_solutions *lib = NULL;
	struct yw_ruleset *rs = NULL;
	struct yw_strbuf out = YW_STRBUF_INIT;
	if (!rules) {
		fputs("yiwang solution: out of memory\n", stderr);
		return YW_EXIT_FAIL;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lang = yw_sol_lang_parse(optarg);
			if (lang < 0) {
				fprintf(stderr, "yiwang solution: --lang must be en or zh\n");
				goto out;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 's':
			dir = optarg;
			break;
		case 'i':
			rule_id = optarg;
			break;
		case 'r':
			rules[nrules++] = optarg;
			break;
		case 't':
			technique = optarg;
			break;
		case 'h':
			usage(stdout);
			ret = YW_EXIT_OK;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc || !rule_id == !technique || (rule_id && !nrules) ||
	    (technique && nrules)) {
		usage(stderr);
		goto out;
	}
	ret = YW_EXIT_FAIL;
	char defdir[4096];
	if (!dir && !(dir = yw_solutions_default_dir(defdir, sizeof(defdir)))) {
		fputs("yiwang solution: no solution library found; use --solutions DIR\n", stderr);
		goto out;
	}
	struct yw_diags d = YW_DIAGS_INIT;
	int rc = yw_solutions_load(dir, &d, &lib);
	yw_diags_print(&d, stderr);
	yw_diags_free(&d);
	if (!lib) {
		fprintf(stderr, "yiwang solution: %s: %s\n", dir, yw_strerror(rc));
		goto out;
	}
	const struct yw_solution *s;
	int level = YW_SOL_TECHNIQUE;
	if (technique) {
		s = yw_solutions_technique(lib, technique);
		if (!s) {
			fprintf(stderr, "yiwang solution: no solution for technique '%s'\n",
			        technique);
			goto out;
		}
	} else {
		rs = yw_cli_load_rules(rules, nrules, NULL, NULL, 0);
		if (!rs)
			goto out;
		const struct yw_rule_info *r = find_rule(rs, rule_id);
		if (!r) {
			fprintf(stderr, "yiwang solution: no rule with id '%s'\n", rule_id);
			goto out;
		}
		s = yw_solutions_resolve(lib, r, &level);
		if (!s) {
			fprintf(stderr, "yiwang solution: the library has no solution for '%s'\n",
			        rule_id);
			goto out;
		}
	}
	rc = json ? yw_solution_json(s, level, &out) : yw_solution_text(s, level, lang, &out);
	if (json && !rc)
		rc = yw_strbuf_putc(&out, '\n');
	if (rc) {
		fprintf(stderr, "yiwang solution: %s\n", yw_strerror(rc));
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	ret = fflush(stdout) ? YW_EXIT_FAIL : YW_EXIT_OK;
out:
	yw_strbuf_free(&out);
	yw_ruleset_free(rs);
	yw_solutions_free(lib);
	free(rules);
	return ret;
}
