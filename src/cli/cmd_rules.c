#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "yiwang/error.h"

static void usage(FILE *out)
{
	fputs("usage: yiwang rules check [--mapping FILE] [--placeholders FILE] PATH...\n"
	      "\n"
	      "Loads and compiles Sigma rules (files or directories) and prints one line per\n"
	      "problem as file:line:col: level: message, then a summary.\n"
	      "  --mapping FILE       Sigma→ECS field mapping instead of the built-in one\n"
	      "  --placeholders FILE  values for the `expand` modifier\n"
	      "  -q, --quiet          print only problems, no summary\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "exit codes: 0 every rule is valid, 1 some rule is invalid or a path unreadable,\n"
	      "2 usage error\n",
	      out);
}

static int check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mapping", required_argument, NULL, 'M'},
		{"placeholders", required_argument, NULL, 'P'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *mapping = NULL, *placeholders = NULL;
	int quiet = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'M':
			mapping = optarg;
			break;
		case 'P':
			placeholders = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return YW_EXIT_OK;
		default:
			usage(stderr);
			return YW_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return YW_EXIT_USAGE;
	}
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	int status = YW_EXIT_OK, rc;
	if (!rs)
		return YW_EXIT_FAIL;
	if (mapping && yw_ruleset_load_mapping(rs, mapping, &d) != 0)
		status = YW_EXIT_FAIL;
	if (placeholders && yw_ruleset_load_placeholders(rs, placeholders, &d) != 0)
		status = YW_EXIT_FAIL;
	for (int i = optind; i < argc; i++) {
		if ((rc = yw_ruleset_add_path(rs, argv[i], &d)) != 0) {
			fprintf(stdout, "%s: error: %s\n", argv[i], yw_strerror(rc));
			status = YW_EXIT_FAIL;
		}
	}
	if (yw_ruleset_compile(rs, &d) != 0)
		status = YW_EXIT_FAIL;
	yw_diags_print(&d, stdout);
	struct yw_ruleset_stats st;
	yw_ruleset_stats(rs, &st);
	if (st.invalid || d.nerrors)
		status = YW_EXIT_FAIL;
	if (!quiet)
		printf("%zu files, %zu documents: %zu rules, %zu correlations, %zu filters, "
		       "%zu invalid; %zu errors, %zu warnings\n",
		       st.files, st.documents, st.rules, st.correlations, st.filters, st.invalid,
		       d.nerrors, d.nwarnings);
	yw_diags_free(&d);
	yw_ruleset_free(rs);
	return status;
}

int yw_cmd_rules(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return check(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return YW_EXIT_OK;
	}
	fprintf(stderr, "yiwang rules: expected 'check'\n");
	usage(stderr);
	return YW_EXIT_USAGE;
}
