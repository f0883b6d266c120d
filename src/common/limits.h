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

#endif
