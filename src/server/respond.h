/* Server side of response actions (docs/respond.md): sends a COMMAND to an agent's live
 * connection and keeps every command and its result in <data_dir>/responses.db (0600).
 * Everything here runs on the server's loop thread. */
#ifndef YIWANG_SERVER_RESPOND_H
#define YIWANG_SERVER_RESPOND_H

#include <jansson.h>
#include <stdint.h>

#include "server.h"
#include "yw_limits.h"

/* A command still "sent" this long reads as "lost": an agent answers within its action timeout
 * (at most YW_RESPOND_MAX_TIMEOUT_MS, yw_limits.h). */
#define YW_RESPONSE_LOST_AFTER_NS ((int64_t)(YW_RESPOND_MAX_TIMEOUT_MS + 30000) * 1000000)

/* Sends command `name` with args_json (a JSON object, compact) to agent_id and records it as
 * "sent"; *cmd_id gets its id (unique, never reused). YW_ENOENT when the agent has no live
 * connection: commands are not queued (a block or kill decided now may be wrong, even
 * harmful, by the time an agent comes back). YW_EINVAL for a bad name or arguments. */
int yw_server_command(struct yw_server *s, const char *agent_id, const char *name,
                      const char *args_json, const char *requested_by, uint64_t *cmd_id);

/* A COMMAND_RESULT from agent_id: stored when it answers a command sent to that agent and
 * still pending; anything else is logged and dropped. */
void yw_server_command_result(struct yw_server *s, const char *agent_id,
                              const struct yw_msg_command_result *r);

/* The local API's "respond" op (api_local.c): req is the request; one reply line is appended
 * to out ({"ok":true,...} or {"ok":false,"error":"..."}). */
void yw_server_respond_api(struct yw_server *s, json_t *req, struct yw_strbuf *out);

/* Closes responses.db (at server stop). */
void yw_server_responses_close(struct yw_server *s);

#endif
