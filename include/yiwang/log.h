/* One log line per event worth an operator's attention, to stderr (journald picks it up):
 * "2026-11-26T08:00:00.123Z level: message". Thread-safe (one write per line). */
#ifndef YIWANG_LOG_H
#define YIWANG_LOG_H

enum { YW_LOG_DEBUG = 0, YW_LOG_INFO, YW_LOG_WARNING, YW_LOG_ERROR };

/* Lines below this level are not written (default YW_LOG_INFO). */
void yw_log_set_level(int level);
/* "debug", "info", "warning", "error" -> level; -1 if unknown. */
int yw_log_level_parse(const char *name);
void yw_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
