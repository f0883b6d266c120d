/* Subcommands of the `yiwang` command line. Each takes argc/argv after the command name
 * (argv[0] is the command) and returns the process exit code (see docs/cli.md). */
#ifndef YIWANG_CLI_H
#define YIWANG_CLI_H

#include <stdio.h>

#include "yiwang/sigma.h"

enum {
	YW_EXIT_OK = 0,
	YW_EXIT_FAIL = 1,  /* runtime failure: unreadable input, invalid rules for `rules check` */
	YW_EXIT_USAGE = 2, /* bad command line */
};

int yw_cmd_decode(int argc, char **argv);
int yw_cmd_hunt(int argc, char **argv);
int yw_cmd_rules(int argc, char **argv);
/* The solution for a rule or an ATT&CK technique (cmd_solution.c). */
int yw_cmd_solution(int argc, char **argv);
/* alert, incidents, suppress, risk: triage through the server's local API (cmd_alert.c). */
int yw_cmd_alert(int argc, char **argv);
/* Users and API tokens of the HTTP API (cmd_user.c). */
int yw_cmd_user(int argc, char **argv);
/* Response actions on an agent (cmd_respond.c). */
int yw_cmd_respond(int argc, char **argv);
/* token, agents, alerts: through the server's local API (cmd_server.c). */
int yw_cmd_server_api(const char *cmd, int argc, char **argv);

/* Opens path for reading ("-" = stdin). Prints an error and returns NULL on failure. */
FILE *yw_cli_open(const char *path);
void yw_cli_close(FILE *f);

/* Loads every --rules path plus mapping/placeholder overrides into a new compiled ruleset.
 * Diagnostics go to stderr (all of them when verbose, else a count). NULL on fatal error. */
struct yw_ruleset *yw_cli_load_rules(char **paths, size_t npaths, const char *mapping,
				     const char *placeholders, int verbose);

#endif
