/* yiwang-agent internals: configuration, enrolment and the run loop. */
#ifndef YIWANG_AGENT_H
#define YIWANG_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "yiwang/config.h"

struct yw_agent_config {
	char *state_dir;
	char *server; /* host:port; default: the address saved at enrolment */
	struct yw_strlist files;
	char *files_start;
	int64_t spool_max;
	char *spool_policy;
	int64_t spool_sync_ms;
	int64_t batch_records;
	int64_t inflight_records;
	int64_t reconnect_min_ms, reconnect_max_ms;
	int64_t eps_limit;
	int64_t eps_report_ms;
	int64_t poll_ms;
	bool process_enabled;
	struct yw_strlist process_ignore;
	char *journald; /* auto, on, off */
	bool inventory_enabled;
	int64_t inventory_interval_ms;
	bool sca_enabled;
	struct yw_strlist sca_policies;
	int64_t sca_interval_ms;
	bool audit_check;
	bool fim_enabled, fim_realtime;
	struct yw_strlist fim_paths;
	int64_t fim_scan_ms, fim_io_rate;
	char *fim_hash;
	bool fim_whodata; /* who-data from the audit log (whodata.c) */
	int64_t fim_whodata_wait_ms;
	bool network_enabled;
	int64_t network_interval_ms;
	bool respond_enabled; /* response actions (respond.c) */
	struct yw_strlist respond_actions;
	struct yw_strlist respond_allow_ips;
	char *respond_quarantine_dir;
	struct yw_strlist respond_quarantine_paths;
	bool respond_allow_system_accounts;
	int64_t respond_timeout_ms;
	char *log_level;
	bool drop_privileges; /* privs.c: keep only the capabilities in use after start-up */
	char *user;           /* run as this user after start-up (with those capabilities) */
};

extern const struct yw_opt yw_agent_opts[];
extern const size_t yw_agent_nopts;

/* Enrols with the server named in the enrolment string; writes the identity into state_dir. */
int yw_agent_enroll(const char *state_dir, const char *enroll_string);

/* Runs until SIGINT/SIGTERM. Returns 0 on a clean stop. */
int yw_agent_run(struct yw_agent_config *cfg);

/* A connected, handshaken TLS socket to host:port within timeout_ms (blocking helper shared by
 * enrolment). Returns the fd or a negative YW_E* code; *tls is the connection. */
struct yw_tls_ctx;
struct yw_tls_conn;
int yw_agent_dial(const char *addr, struct yw_tls_ctx *ctx, int64_t timeout_ms,
		  struct yw_tls_conn **tls, char *err, size_t errsz);

/* Host facts sent at enrolment and in HELLO. */
void yw_agent_hostinfo(char *host, size_t hs, char *os, size_t os_size);

#define YW_AGENT_VERSION "0.1.0"

#endif
