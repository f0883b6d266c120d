/* yiwang-server [--config FILE] [--data-dir DIR] [--listen HOST:PORT] [--rules PATH]... */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "yiwang/error.h"

int yw_server_start(struct yw_server *s);
void yw_server_stop(struct yw_server *s);

static struct yw_loop *volatile running;

static void on_signal(int sig)
{
	if (running)
		yw_loop_stop(running);
}

static void usage(FILE *out)
{
	fputs("usage: yiwang-server [--config FILE] [--data-dir DIR] [--listen HOST:PORT]\n"
	      "                     [--advertise HOST:PORT] [--rules PATH]... [--print-config]\n"
	      "\n"
	      "Accepts yiwang agents over mutual TLS 1.3, enrols them with tokens, detects\n"
	      "threats in their events with Sigma rules and stores events and alerts.\n"
	      "Options given on the command line override the configuration file.\n"
	      "  --print-config   print the reference of every configuration option and exit\n"
	      "See docs/configuration.md. Stops cleanly on SIGINT/SIGTERM.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"advertise", required_argument, NULL, 'a'},
		{"rules", required_argument, NULL, 'r'},
		{"print-config", no_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	static struct yw_server s;
	const char *config = NULL;
	char err[256];
	int c;
	if (yw_config_defaults(yw_server_opts, yw_server_nopts, &s.cfg) != 0)
		return 1;
	/* First pass: the config file, so that flags override it. */
	while ((c = getopt_long(argc, argv, "c:d:l:a:r:h", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'h') {
			usage(stdout);
			return 0;
		} else if (c == 'P') {
			yw_config_doc(yw_server_opts, yw_server_nopts, stdout);
			return 0;
		} else if (c == '?') {
			usage(stderr);
			return 2;
		}
	}
	if (config) {
		struct yw_diags d = YW_DIAGS_INIT;
		int rc = yw_config_load(yw_server_opts, yw_server_nopts, &s.cfg, config, &d);
		yw_diags_print(&d, stderr);
		yw_diags_free(&d);
		if (rc)
			return 2;
	}
	optind = 1;
	bool rules_given = false;
	while ((c = getopt_long(argc, argv, "c:d:l:a:r:h", opts, NULL)) != -1) {
		const char *key = c == 'd'   ? "data_dir"
				  : c == 'l' ? "listen"
				  : c == 'a' ? "advertise"
				  : c == 'r' ? "rules"
					     : NULL;
		if (!key)
			continue;
		if (c == 'r' && !rules_given && config) {
			/* --rules replaces the file's list rather than adding to it. */
			struct yw_strlist *l = &s.cfg.rules;
			for (size_t i = 0; i < l->n; i++)
				free(l->v[i]);
			l->n = 0;
		}
		rules_given |= c == 'r';
		if (yw_config_set(yw_server_opts, yw_server_nopts, &s.cfg, key, optarg, err,
				  sizeof(err))) {
			fprintf(stderr, "yiwang-server: %s\n", err);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = yw_server_start(&s);
	if (rc == 0) {
		running = s.loop;
		struct sigaction sa = {.sa_handler = on_signal};
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		rc = yw_loop_run(s.loop);
		yw_logf(YW_LOG_INFO, "shutting down");
		running = NULL;
	}
	yw_server_stop(&s);
	yw_config_free(yw_server_opts, yw_server_nopts, &s.cfg);
	return rc ? 1 : 0;
}
