/* Response actions, server side: COMMANDs out to live agents, results into responses.db.
 *
 * responses.db is this module's own small SQLite file (one table, `commands`), separate from
 * the event store: a command's row is written before the COMMAND is sent and completed when
 * the agent's COMMAND_RESULT arrives. The agent also audits every command as a YW_REC_AGENT
 * event, so the event store holds the agent's own account independently of this file. A
 * command whose result never comes (the connection dropped) reads as "lost" after
 * YW_RESPONSE_LOST_AFTER_NS, and every pending one is marked lost when the server starts. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "respond.h"
#include "yiwang/error.h"
#include "yw_limits.h"

#define MAX_NAME 32

struct yw_server_responses {
	sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS commands ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " agent TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " args TEXT NOT NULL,"
    " requested_by TEXT,"
    " requested_at INTEGER NOT NULL,"
    " status TEXT NOT NULL," /* sent, ok, failed, denied, unknown, undelivered, lost */
    " result TEXT,"
    " finished_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS commands_agent ON commands(agent, id);";

static sqlite3 *db_of(struct yw_server *s)
{
	if (s->responses)
		return s->responses->db;
	char path[4200];
	snprintf(path, sizeof(path), "%s/responses.db", s->cfg.data_dir);
	/* created 0600 here: SQLite would follow the umask */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		yw_logf(YW_LOG_ERROR, "%s: %s", path, strerror(errno));
		return NULL;
	}
	fchmod(fd, 0600);
	close(fd);
	struct yw_server_responses *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	        SQLITE_OK ||
	    sqlite3_exec(r->db, "PRAGMA journal_mode=WAL;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(r->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(r->db, "UPDATE commands SET status = 'lost' WHERE status = 'sent'", NULL,
	                 NULL, NULL) != SQLITE_OK) {
		yw_logf(YW_LOG_ERROR, "%s: %s", path, r->db ? sqlite3_errmsg(r->db) : "no memory");
		sqlite3_close(r->db);
		free(r);
		return NULL;
	}
	sqlite3_busy_timeout(r->db, 5000);
	s->responses = r;
	return r->db;
}

void yw_server_responses_close(struct yw_server *s)
{
	if (!s->responses)
		return;
	sqlite3_close(s->responses->db);
	free(s->responses);
	s->responses = NULL;
}

static bool valid_name(const char *n)
{
	size_t len = strlen(n);
	return len && len <= MAX_NAME && strspn(n, "abcdefghijklmnopqrstuvwxyz_") == len;
}

/* Sets the status (and result) of a pending command. Returns the rows changed. */
static int finish(sqlite3 *db, uint64_t id, const char *agent, const char *status,
                  const char *result)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
	                       "UPDATE commands SET status = ?3, result = ?4, finished_at = ?5 "
	                       "WHERE id = ?1 AND agent = ?2 AND status = 'sent'",
	                       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, yw_wall_ns());
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db) : 0;
}

int yw_server_command(struct yw_server *s, const char *agent_id, const char *name,
                      const char *args_json, const char *requested_by, uint64_t *cmd_id)
{
	size_t alen = strlen(args_json);
	if (!valid_name(name) || alen > YW_MAX_PROTO_JSON)
		return YW_EINVAL;
	if (!yw_server_agent_online(s, agent_id))
		return YW_ENOENT;
	sqlite3 *db = db_of(s);
	if (!db)
		return YW_EIO;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        db,
	        "INSERT INTO commands(agent, name, args, requested_by, requested_at, "
	        "status) VALUES(?1, ?2, ?3, ?4, ?5, 'sent')",
	        -1, &st, NULL) != SQLITE_OK)
		return YW_EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, args_json, (int)alen, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, requested_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, yw_wall_ns());
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		yw_logf(YW_LOG_ERROR, "responses.db: %s", sqlite3_errmsg(db));
		return YW_EIO;
	}
	uint64_t id = (uint64_t)sqlite3_last_insert_rowid(db);
	struct yw_msg m = {.type = YW_MSG_COMMAND};
	m.command.id = id;
	m.command.name = name;
	m.command.name_len = (uint16_t)strlen(name);
	m.command.args_json = args_json;
	m.command.args_json_len = (uint32_t)alen;
	rc = yw_server_send_to_agent(s, agent_id, &m);
	if (rc) {
		finish(db, id, agent_id, "undelivered", NULL);
		return rc;
	}
	yw_logf(YW_LOG_INFO, "command %llu %s sent to agent %s (by %s)", (unsigned long long)id,
	        name, agent_id, requested_by ? requested_by : "?");
	*cmd_id = id;
	return 0;
}

void yw_server_command_result(struct yw_server *s, const char *agent_id,
                              const struct yw_msg_command_result *r)
{
	static const char *const names[] = {"ok", "failed", "denied", "unknown"};
	const char *status = r->status <= YW_CMD_STATUS_MAX ? names[r->status] : "failed";
	sqlite3 *db = db_of(s);
	if (!db)
		return;
	/* Re-serialised compact: the local API is line-based and embeds it as JSON. */
	json_error_t jerr;
	json_t *j = r->result_json_len <= YW_RESPOND_MAX_RESULT
	                ? json_loadb(r->result_json, r->result_json_len, 0, &jerr)
	                : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_pack("{s:s, s:I}", "error", "agent sent no result object (or too large)",
		              "bytes", (json_int_t)r->result_json_len);
	}
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (finish(db, r->id, agent_id, status, text) == 1) {
		yw_logf(r->status == YW_CMD_OK ? YW_LOG_INFO : YW_LOG_WARNING,
		        "agent %s: command %llu finished: %s", agent_id, (unsigned long long)r->id,
		        status);
	} else {
		yw_logf(YW_LOG_WARNING,
		        "agent %s: result for command %llu, which it was not sent "
		        "or already answered: dropped",
		        agent_id, (unsigned long long)r->id);
	}
	free(text);
}

/* ---- local API ---- */

static void api_fail(struct yw_strbuf *out, const char *msg)
{
	yw_strbuf_puts(out, "{\"ok\":false,\"error\":");
	yw_strbuf_json_str(out, msg, strlen(msg));
	yw_strbuf_puts(out, "}\n");
}

static void put_kv(struct yw_strbuf *out, const char *k, const unsigned char *v)
{
	yw_strbuf_printf(out, ",\"%s\":", k);
	if (v)
		yw_strbuf_json_str(out, (const char *)v, strlen((const char *)v));
	else
		yw_strbuf_puts(out, "null");
}

static void api_get(struct yw_server *s, json_int_t id, struct yw_strbuf *out)
{
	sqlite3 *db = db_of(s);
	sqlite3_stmt *st;
	if (!db ||
	    sqlite3_prepare_v2(db,
	                       "SELECT agent, name, args, requested_by, requested_at, status, "
	                       "result, finished_at FROM commands WHERE id = ?1",
	                       -1, &st, NULL) != SQLITE_OK) {
		api_fail(out, "responses.db is unavailable");
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		api_fail(out, "no such command");
		return;
	}
	const unsigned char *status = sqlite3_column_text(st, 5);
	int64_t at = sqlite3_column_int64(st, 4);
	bool lost = status && !strcmp((const char *)status, "sent") &&
	            yw_wall_ns() - at > YW_RESPONSE_LOST_AFTER_NS;
	yw_strbuf_printf(out, "{\"ok\":true,\"id\":%lld", (long long)id);
	put_kv(out, "agent", sqlite3_column_text(st, 0));
	put_kv(out, "action", sqlite3_column_text(st, 1));
	put_kv(out, "requested_by", sqlite3_column_text(st, 3));
	yw_strbuf_printf(out, ",\"requested_at\":%lld", (long long)at);
	put_kv(out, "status", lost ? (const unsigned char *)"lost" : status);
	/* args and result are compact JSON this module wrote */
	const unsigned char *args = sqlite3_column_text(st, 2), *res = sqlite3_column_text(st, 6);
	yw_strbuf_printf(out, ",\"args\":%s,\"result\":%s", args ? (const char *)args : "null",
	                 res ? (const char *)res : "null");
	if (sqlite3_column_type(st, 7) == SQLITE_NULL)
		yw_strbuf_puts(out, ",\"finished_at\":null}\n");
	else
		yw_strbuf_printf(out, ",\"finished_at\":%lld}\n",
		                 (long long)sqlite3_column_int64(st, 7));
	sqlite3_finalize(st);
}

/* {"op":"respond","id":N}: the command's row.
 * {"op":"respond","agent":"…","action":"…","args":{…},"requested_by":"…"}: sends it. */
void yw_server_respond_api(struct yw_server *s, json_t *req, struct yw_strbuf *out)
{
	json_t *id = json_object_get(req, "id");
	if (json_is_integer(id)) {
		api_get(s, json_integer_value(id), out);
		return;
	}
	const char *agent = json_string_value(json_object_get(req, "agent"));
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *by = json_string_value(json_object_get(req, "requested_by"));
	json_t *args = json_object_get(req, "args");
	if (!agent || !action || !valid_name(action) || (args && !json_is_object(args))) {
		api_fail(out, "respond needs \"agent\", \"action\" (a name) and \"args\" (an "
		              "object), or \"id\"");
		return;
	}
	char *text = args ? json_dumps(args, JSON_COMPACT) : strdup("{}");
	uint64_t cid = 0;
	int rc = text ? yw_server_command(s, agent, action, text, by, &cid) : YW_ENOMEM;
	free(text);
	if (rc == YW_ENOENT) {
		char msg[160];
		snprintf(msg, sizeof(msg), "agent %.100s is not connected", agent);
		api_fail(out, msg);
	} else if (rc) {
		api_fail(out, yw_strerror(rc));
	} else {
		yw_strbuf_printf(out, "{\"ok\":true,\"id\":%llu,\"status\":\"sent\"}\n",
		                 (unsigned long long)cid);
	}
}
