/* Diagnostics: file:line:col messages collected while loading rules and configuration. */
#ifndef YIWANG_DIAG_H
#define YIWANG_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum yw_diag_level { YW_DIAG_ERROR = 0, YW_DIAG_WARNING = 1 };

struct yw_diag {
	char *file; /* owned */
	unsigned line, col; /* 1-based; 0 when unknown */
	int level;  /* enum yw_diag_level */
	char *msg;  /* owned */
};

struct yw_diags {
	struct yw_diag *v; /* owned */
	size_t n, cap;
	size_t nerrors, nwarnings;
	size_t dropped; /* not stored after an allocation failure */
};

#define YW_DIAGS_INIT {0}

/* Records one diagnostic. Never fails: an entry that cannot be stored is counted in dropped. */
void yw_diags_add(struct yw_diags *d, int level, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Prints "file:line:col: error: msg" lines. */
void yw_diags_print(const struct yw_diags *d, FILE *out);
void yw_diags_free(struct yw_diags *d);

#endif
