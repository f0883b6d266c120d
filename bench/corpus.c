#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corpus.h"

static const char *const files[] = {
	"corpus/auth/ubuntu-ec2-auth.log",
	"corpus/audit/go-libaudit/audit-rhel6.log",
	"corpus/audit/go-libaudit/audit-rhel7.log",
	"corpus/audit/go-libaudit/audit-ubuntu14.log",
	"corpus/audit/go-libaudit/audit-ubuntu16.log",
	"corpus/audit/go-libaudit/audit-ubuntu17.log",
	"corpus/audit/go-libaudit/test2.log",
	"corpus/audit/go-libaudit/test3.log",
	"corpus/audit/audit-userspace/test.log",
	"corpus/audit/audit-userspace/test2.log",
	"corpus/audit/audit-userspace/test3.log",
	"corpus/audit/audit-userspace/test4.log",
	"corpus/otrf/sh_arp_cache_2020-11-10074812.log",
	"corpus/otrf/sh_binary_padding_dd_2020-11-10081941.log",
};

static int append(struct bench_corpus *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *t = n >= 0 ? realloc(c->text, c->len + (size_t)n + 2) : NULL;
	if (!t) {
		fclose(f);
		return -1;
	}
	c->text = t;
	c->len += fread(c->text + c->len, 1, (size_t)n, f);
	fclose(f);
	if (c->len && c->text[c->len - 1] != '\n')
		c->text[c->len++] = '\n';
	return 0;
}

static int split(struct bench_corpus *c)
{
	size_t cap = 1024;
	c->lines = malloc(cap * sizeof(*c->lines));
	const char *p = c->text, *end = c->text + c->len;
	while (c->lines && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (c->nlines == cap) {
			cap *= 2;
			struct bench_line *v = realloc(c->lines, cap * sizeof(*v));
			if (!v)
				return -1;
			c->lines = v;
		}
		c->lines[c->nlines++] = (struct bench_line){p, (size_t)(nl - p)};
		p = nl + 1;
	}
	return c->lines ? 0 : -1;
}

int bench_corpus_load(struct bench_corpus *c, const char *shared)
{
	char path[4096];
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", shared, files[i]);
		if (append(c, path) != 0) {
			fprintf(stderr, "cannot read %s\n", path);
			return -1;
		}
	}
	/* The ossec-logtesting cases: one line each; the numbering has gaps. */
	for (int i = 1; i <= 60; i++) {
		snprintf(path, sizeof(path), "%s/corpus/ossec-logtesting/%d/log", shared, i);
		append(c, path);
	}
	return split(c);
}

void bench_corpus_free(struct bench_corpus *c)
{
	free(c->lines);
	free(c->text);
	memset(c, 0, sizeof(*c));
}

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(double), cmp_d);
	return t[n / 2];
}
