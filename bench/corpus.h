/* The replay corpus shared by the throughput benchmarks: every real log file of
 * ../shared/corpus, concatenated in a fixed order and split into lines, held in memory. */
#ifndef YIWANG_BENCH_CORPUS_H
#define YIWANG_BENCH_CORPUS_H

#include <stddef.h>

struct bench_line {
	const char *s;
	size_t len;
};

struct bench_corpus {
	char *text; /* all files, concatenated */
	size_t len;
	struct bench_line *lines;
	size_t nlines;
};

/* Loads the corpus below shared (the ../shared directory). Prints the failing path and returns
 * -1 when a file is missing. Free with bench_corpus_free. */
int bench_corpus_load(struct bench_corpus *c, const char *shared);
void bench_corpus_free(struct bench_corpus *c);

/* Monotonic seconds, and the median of n timings (sorts t). */
double bench_now(void);
double bench_median(double *t, int n);

#endif
