/* Every size, depth and count limit on untrusted input, with the reason for its value. */
#ifndef YIWANG_LIMITS_H
#define YIWANG_LIMITS_H

/* Longest log line accepted; longer lines are cut and the event notes the truncation.
 * 1 MiB covers huge audit EXECVE records and JSON documents while bounding memory per line. */
#define YW_MAX_LINE (1024 * 1024)

/* Fields per event: real events carry < 100; a hostile JSON object must not grow without bound. */
#define YW_MAX_FIELDS 1024

/* Items in one list field (e.g. execve arguments); auditd caps argc far lower in practice. */
#define YW_MAX_LIST_ITEMS 4096

/* Length of a field name; ECS names are short, and names are copied into every event. */
#define YW_MAX_FIELD_NAME 256

/* Nesting depth of JSON objects/arrays, so recursion cannot exhaust the stack. */
#define YW_MAX_JSON_DEPTH 64

/* Memory one event may use (fields and text); bounds what one line can make us allocate. */
#define YW_MAX_EVENT_BYTES (8 * 1024 * 1024)

/* Anomaly notes kept per event; more are counted but not stored. */
#define YW_MAX_ANOMALIES 16

/* Audit records grouped into one event before it is emitted regardless of serial. */
#define YW_MAX_AUDIT_RECORDS 64

/* Audit events with distinct serials held open at once while waiting for their EOE. */
#define YW_MAX_AUDIT_PENDING 32

/* Size of one rule file; SigmaHQ's largest is ~100 KiB. */
#define YW_MAX_RULE_FILE (4 * 1024 * 1024)

/* Nesting depth in a rule's YAML and in a condition expression. */
#define YW_MAX_RULE_DEPTH 64

/* Values in one rule and selections per rule, so a hostile rule cannot exhaust memory. */
#define YW_MAX_RULE_VALUES 100000
#define YW_MAX_SELECTIONS 1024

/* Length of a condition string. */
#define YW_MAX_CONDITION 65536

/* Regex pattern length accepted from a rule (PCRE2 compile cost grows with it). */
#define YW_MAX_REGEX 65536

/* --- syslog decoders (decode_syslog.c) --- */

/* Length of a syslog program tag; RFC 3164 allows 32, real tags (D-Bus names, Java apps) run
 * longer. A longer first word is taken as text, so scanning for a tag stays short. */
#define YW_MAX_SYSLOG_TAG 128

/* Length of the "[pid]" part of a tag; a pid has at most 10 digits, some programs log a
 * thread name there. */
#define YW_MAX_SYSLOG_PID 32

/* --- Sigma value matching (sigma_match.c) --- */

/* Alternatives one detection item may expand into (windash 5^k, base64offset x3, placeholder
 * products): SigmaHQ's largest item needs a few dozen; a hostile rule must not need millions. */
#define YW_MAX_SIGMA_ALTS 16384

/* PCRE2 match limit per regex evaluation, so a pathological pattern/subject pair cannot
 * backtrack for seconds on one event; exceeding it counts as no match. */
#define YW_SIGMA_REGEX_MATCH_LIMIT 1000000

/* Values one placeholder may have in yw_placeholders (they multiply through expand). */
#define YW_MAX_PLACEHOLDER_VALUES 4096

/* --- auditd grouping (decode_auditd.c) --- */

/* Bytes of record text held for one audit event: two maximal lines, so a huge EXECVE record
 * and its companions still form one event, while one event's memory stays bounded. */
#define YW_MAX_AUDIT_GROUP_BYTES (2 * 1024 * 1024)

/* Bytes held across all open audit events; past it the oldest is emitted early. */
#define YW_MAX_AUDIT_PENDING_BYTES (16 * 1024 * 1024)

/* --- stream reader (decode.c) --- */

/* fread() chunk of yw_decoder_file: large enough to amortize calls, small enough to keep. */
#define YW_DECODE_READ_CHUNK (256 * 1024)

/* ---- Sigma loader and mapping (h3a) ---- */

/* Modifiers chained on one field key (`Field|a|b|...`); real rules use at most 3. */
#define YW_MAX_SIGMA_MODIFIERS 16

/* Event field names one Sigma field may map to in the mapping file; each is tried per event. */
#define YW_MAX_MAPPING_TARGETS 6

#endif
