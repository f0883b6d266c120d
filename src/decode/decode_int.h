/* Internal decoder entry points shared by decode.c (the stream and format dispatcher) and the
 * per-format decoders. Each fills an empty event; none ever rejects a line: on text it cannot
 * understand it keeps what it could parse, sets "message" and notes an anomaly. */
#ifndef YIWANG_DECODE_INT_H
#define YIWANG_DECODE_INT_H

#include <stddef.h>

#include "yiwang/decode.h"
#include "yiwang/event.h"

/* Syslog RFC 3164/5424 header, then the program decoders (sshd, sudo, su, pam_unix, account
 * tools, CRON, systemd, kernel netfilter) chosen by process.name. Sets the log source
 * (product linux, service by program). Returns 0 or YW_ENOMEM. decode_syslog.c */
int yw_decode_syslog_line(struct yw_event *ev, const char *line, size_t len,
			  const struct yw_decode_opts *opts);

/* One JSON document per line; nested objects flattened with dots; arrays become lists.
 * logsource.{product,service,category} keys set the log source. decode_json.c */
int yw_decode_json_line(struct yw_event *ev, const char *line, size_t len);

#endif
