#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef YW_VERSION
#define YW_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fputs("usage: yiwang <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  decode       decode log files into ECS events (JSON lines)\n"
	      "  hunt         run Sigma rules over log files and print the matches\n"
	      "  rules check  validate Sigma rules, print file:line:col per problem\n"
	      "  token create create an enrolment string for a new agent\n"
	      "  agents       list enrolled agents, or revoke one\n"
	      "  alerts       print alerts stored by the server (--follow to stream)\n"
	      "  inventory    a terminal's current inventory, or its changes (--history)\n"
	      "  alert        acknowledge, resolve, mark false positive or reopen an alert\n"
	      "  incidents    alerts grouped per terminal and per attacking source\n"
	      "  suppress     add, list or delete suppressions (with an expiry)\n"
	      "  risk         risk scores of the fleet and of each terminal\n"
	      "  user         users and API tokens of the HTTP API (docs/api.md)\n"
	      "  respond      run a response action on an agent (block an IP, kill, quarantine, lock)\n"
	      "  solution     what to do about a rule's alert or an ATT&CK technique (en/zh)\n"
	      "  version      print the version\n"
	      "\n"
	      "`yiwang <command> --help` describes each command.\n"
	      "exit codes: 0 success, 1 failure (unreadable input, invalid rules), 2 usage error\n",
	      out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return YW_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "decode"))
		return yw_cmd_decode(argc - 1, argv + 1);
	if (!strcmp(cmd, "hunt"))
		return yw_cmd_hunt(argc - 1, argv + 1);
	if (!strcmp(cmd, "rules"))
		return yw_cmd_rules(argc - 1, argv + 1);
	if (!strcmp(cmd, "alert") || !strcmp(cmd, "incidents") || !strcmp(cmd, "suppress") ||
	    !strcmp(cmd, "risk"))
		return yw_cmd_alert(argc - 1, argv + 1);
	if (!strcmp(cmd, "user"))
		return yw_cmd_user(argc - 1, argv + 1);
	if (!strcmp(cmd, "respond"))
		return yw_cmd_respond(argc - 1, argv + 1);
	if (!strcmp(cmd, "solution"))
		return yw_cmd_solution(argc - 1, argv + 1);
	if (!strcmp(cmd, "token") || !strcmp(cmd, "agents") || !strcmp(cmd, "alerts") ||
	    !strcmp(cmd, "inventory"))
		return yw_cmd_server_api(cmd, argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("yiwang %s\n", YW_VERSION);
		return YW_EXIT_OK;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return YW_EXIT_OK;
	}
	fprintf(stderr, "yiwang: unknown command '%s'\n", cmd);
	usage(stderr);
	return YW_EXIT_USAGE;
}
