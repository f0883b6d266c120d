/* What the detail endpoints (api_detail.c) make of stored events, kept apart from HTTP so unit
 * tests can feed it events: a file-integrity change as an item, and a terminal's baseline (SCA)
 * rebuilt from its check results read newest first. Not for use outside src/server/http. */
#ifndef YIWANG_HTTP_DETAIL_H
#define YIWANG_HTTP_DETAIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "yiwang/strbuf.h"

/* Appends {"id","ts","path","action","changed","trigger","before":{..},"after":{..}} for a
 * file-integrity change event (event.module fim, event.action file_*); before/after hold the
 * file fields without their prefix (null for an added / deleted file). Returns 1 when
 * appended, 0 when event_json is not such an event (nothing appended), or YW_ENOMEM. */
int yw_http_fim_item(struct yw_strbuf *b, int64_t id, int64_t ts, const char *event_json);

/* A baseline being rebuilt: fed SCA events newest first, from the newest summary (of `policy`
 * when set) back until every check it counts has a result. */
struct yw_http_sca {
	char policy[128]; /* wanted policy ("" = the newest summary's); then the summary's */
	json_t *summary;  /* the summary event; NULL until found */
	int64_t scanned_at;
	json_t *items; /* check id -> item, the newest result of each */
	size_t want;   /* results the summary counts */
	int complete;  /* every counted check has its result */
};

/* policy may be NULL. Returns 0 or YW_ENOMEM; free with yw_http_sca_free (also on error). */
int yw_http_sca_init(struct yw_http_sca *v, const char *policy);
void yw_http_sca_free(struct yw_http_sca *v);
/* One event (ts in ns): 1 when the baseline is complete (stop feeding), 0 go on, YW_ENOMEM.
 * Events that are not SCA results of the policy, and checks newer than the newest summary (a
 * run still going), are ignored. */
int yw_http_sca_feed(struct yw_http_sca *v, int64_t id, int64_t ts, const char *event_json);
/* Appends the baseline object (docs/api.md); YW_ENOENT when no summary was found. */
int yw_http_sca_json(const struct yw_http_sca *v, struct yw_strbuf *b);

#endif
