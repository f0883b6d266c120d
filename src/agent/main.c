/* yiwang-agent enroll STRING [--state-dir DIR]
 * yiwang-agent [--config FILE] [--state-dir DIR] [--server HOST:PORT] [--file GLOB]... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "yiwang/error.h"

static void usage(FILE *out)
{
	fputs("usage: yiwang-agent enroll STRING [--state-dir DIR]\n"
	      "       yiwang-agent [--config FILE] [--state-dir DIR] [--server HOST:PORT]\n"
	      "                    [--file GLOB]... [--from-beginning] [--print-config]\n"
	      "\n"
	      "`enroll` joins the server named in the enrolment string (from `yiwang token\n"
	      "create`): it makes this terminal's key, pins the server's CA and stores the\n"
	      "identity (0600) in the state directory. Without a command the agent runs: it\n"
	      "follows the configured log files, keeps every record in a crash-safe spool and\n"
	      "streams it to the server over mutual TLS 1.3 until the server acknowledges it.\n"
	      "  --file GLOB         follow these files instead of the configured ones\n"
	      "  --from-beginning    read files seen for the first time from their start\n"
	      "  --print-config      print the reference of every configuration option\n"
	      "Stops cleanly on SIGINT/SIGTERM. See docs/agent.md and docs/configuration.md.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"state-dir", required_argument, NULL, 's'},
		{"server", required_argument, NULL, 'S'},
		{"file", required_argument, NULL, 'f'},
		{"from-beginning", no_argument, NULL, 'B'},
		{"print-config", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct yw_agent_config cfg;
	const char *config = NULL;
	char err[256];
	int c;
	if (yw_config_defaults(yw_agent_opts, yw_agent_nopts, &cfg) != 0)
		return 1;
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		if (c == 'c') {
			config = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else if (c == 'P') {
			yw_config_doc(yw_agent_opts, yw_agent_nopts, stdout);
			return 0;
		} else if (c == '?') {
			usage(stderr);
			return 2;
		}
	}
	if (config) {
		struct yw_diags d = YW_DIAGS_INIT;
		int rc = yw_config_load(yw_agent_opts, yw_agent_nopts, &cfg, config, &d);
		yw_diags_print(&d, stderr);
		yw_diags_free(&d);
		if (rc)
			return 2;
	}
	optind = 1;
	bool files_given = false;
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		int rc = 0;
		if (c == 's')
			rc = yw_config_set(yw_agent_opts, yw_agent_nopts, &cfg, "state_dir", optarg,
					   err, sizeof(err));
		else if (c == 'S')
			rc = yw_config_set(yw_agent_opts, yw_agent_nopts, &cfg, "server", optarg, err,
					   sizeof(err));
		else if (c == 'B')
			rc = yw_config_set(yw_agent_opts, yw_agent_nopts, &cfg, "files_start",
					   "beginning", err, sizeof(err));
		else if (c == 'f') {
			if (!files_given) {
				for (size_t i = 0; i < cfg.files.n; i++)
					free(cfg.files.v[i]);
				cfg.files.n = 0;
				files_given = true;
			}
			rc = yw_config_set(yw_agent_opts, yw_agent_nopts, &cfg, "files", optarg, err,
					   sizeof(err));
		}
		if (rc) {
			fprintf(stderr, "yiwang-agent: %s\n", err);
			return 2;
		}
	}
	int rc;
	if (optind < argc && !strcmp(argv[optind], "enroll")) {
		if (optind + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		rc = yw_agent_enroll(cfg.state_dir, argv[optind + 1]);
	} else if (optind < argc) {
		fprintf(stderr, "yiwang-agent: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	} else {
		rc = yw_agent_run(&cfg);
	}
	yw_config_free(yw_agent_opts, yw_agent_nopts, &cfg);
	return rc ? 1 : 0;
}
