/* Declarative configuration: each program declares its options once (key, type, default,
 * help), and this module applies defaults, reads a YAML file, rejects unknown keys and bad
 * values with file:line:col, and prints the reference table for docs/configuration.md. */
#ifndef YIWANG_CONFIG_H
#define YIWANG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "yiwang/diag.h"

enum yw_opt_type {
	YW_OPT_STR = 1,  /* char * (owned by the target, freed by yw_config_free) */
	YW_OPT_INT,      /* int64_t, within [min, max] */
	YW_OPT_BOOL,     /* bool */
	YW_OPT_DURATION, /* int64_t milliseconds; written "500ms", "30s", "5m", "2h", "7d" */
	YW_OPT_SIZE,     /* int64_t bytes; written "512", "64KiB", "256MiB", "1GiB" */
	YW_OPT_ENUM,     /* char *, one of values[] */
	YW_OPT_LIST,     /* struct yw_strlist: a YAML sequence of strings */
};

struct yw_strlist {
	char **v; /* owned */
	size_t n;
};

struct yw_opt {
	const char *key;  /* dotted path in the YAML file, e.g. "spool.max_size" */
	int type;         /* enum yw_opt_type */
	size_t offset;    /* offsetof() the field in the target struct */
	const char *def;  /* default, written as in the file (NULL = none / empty list) */
	const char *help; /* one line for the reference */
	int64_t min, max; /* INT, DURATION, SIZE bounds; both 0 = unbounded */
	const char *const *values; /* ENUM choices, NULL-terminated */
};

/* Sets every option of opts[0..n) in target to its default. Returns 0 or YW_ENOMEM. */
int yw_config_defaults(const struct yw_opt *opts, size_t n, void *target);

/* Reads path (YAML map, nested maps for dotted keys) over the current values. Every problem is
 * a diagnostic with file:line:col; returns YW_EINVAL if there was any, YW_EIO/YW_ENOENT when
 * the file cannot be read. */
int yw_config_load(const struct yw_opt *opts, size_t n, void *target, const char *path,
		   struct yw_diags *d);

/* Sets one option from text (as in the file), e.g. from a command-line flag. */
int yw_config_set(const struct yw_opt *opts, size_t n, void *target, const char *key,
		  const char *value, char *err, size_t errlen);

/* Frees the strings and lists the options own in target. */
void yw_config_free(const struct yw_opt *opts, size_t n, void *target);

/* Writes a Markdown table of the options (key, type, default, meaning). */
void yw_config_doc(const struct yw_opt *opts, size_t n, FILE *out);

/* Parsers shared with command-line flags: return 0 or YW_EINVAL. */
int yw_parse_duration_ms(const char *s, int64_t *ms);
int yw_parse_size(const char *s, int64_t *bytes);

#endif
