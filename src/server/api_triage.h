/* Local API requests about alert triage (api_triage.c), dispatched from api_local.c:
 *   {"op":"alert_change","id":N,"action":"ack|resolve|false_positive|reopen","by":"…",
 *    "comment":"…"}
 *   {"op":"alert_history","id":N}
 *   {"op":"incidents","open":0|1}
 *   {"op":"suppress_add","rule":"…","agent":"…","field":"…","value":"…","for_ms":N,
 *    "by":"…","why":"…"}
 *   {"op":"suppress_list"}  {"op":"suppress_delete","id":N}
 *   {"op":"risk","agent":"…"}  {"op":"risk_history","scope":"fleet|AGENT","since":NS}
 * Replies as the other ops: rows, then {"ok":true,…} or {"ok":false,"error":"…"}. */
#ifndef YIWANG_API_TRIAGE_H
#define YIWANG_API_TRIAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "server.h"

/* Whether op is one of the above. */
bool yw_api_triage_op(const char *op);

/* Answers req into out: 0 with rows and the final line written, or a YW_E* / YW_STORE_E*
 * code for the caller to report (nothing written). */
int yw_api_triage(struct yw_server *s, const char *op, json_t *req, struct yw_strbuf *out);

#endif
