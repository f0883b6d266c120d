#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/diag.h"

void yw_diags_add(struct yw_diags *d, int level, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...)
{
	if (level == YW_DIAG_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct yw_diag *v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			d->dropped++;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	char *f = strdup(file ? file : "-");
	if (n < 0 || !f) {
		if (n >= 0)
			free(msg);
		free(f);
		d->dropped++;
		return;
	}
	d->v[d->n++] = (struct yw_diag){f, line, col, level, msg};
}

void yw_diags_print(const struct yw_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct yw_diag *g = &d->v[i];
		const char *lv = g->level == YW_DIAG_ERROR ? "error" : "warning";
		if (g->line)
			fprintf(out, "%s:%u:%u: %s: %s\n", g->file, g->line, g->col ? g->col : 1,
				lv, g->msg);
		else
			fprintf(out, "%s: %s: %s\n", g->file, lv, g->msg);
	}
	if (d->dropped)
		fprintf(out, "(%zu further diagnostics lost: out of memory)\n", d->dropped);
}

void yw_diags_free(struct yw_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
