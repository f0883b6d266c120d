/* Decode + detect throughput on one core, replaying ../shared/corpus in memory.
 *
 * The corpus holds ~10k real lines; they are replayed (each pass is one copy of every file,
 * in order) until the target event count is reached. Replayed lines keep their original
 * timestamps and hosts: the figures measure parsing and matching work, which does not depend
 * on those values. Reports the median of several runs and the peak RSS. */
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "corpus.h"
#include "yiwang/decode.h"
#include "yiwang/sigma.h"

struct run {
	const struct yw_ruleset *rs;
	unsigned long long events, matches;
};

static int count_match(void *ud, const struct yw_rule_info *r, const struct yw_event *ev)
{
	((struct run *)ud)->matches++;
	return 0;
}

static int on_event(void *ud, struct yw_event *ev)
{
	struct run *r = ud;
	r->events++;
	if (r->rs)
		yw_ruleset_match(r->rs, ev, count_match, r);
	return 0;
}

static double one_run(const struct bench_corpus *c, size_t target, const struct yw_ruleset *rs,
		      struct run *out)
{
	struct yw_decode_opts o = {.default_year = 2024};
	struct yw_decoder *d = NULL;
	memset(out, 0, sizeof(*out));
	out->rs = rs;
	if (yw_decoder_new("auto", &o, on_event, out, &d) != 0)
		return -1;
	double t0 = bench_now();
	size_t fed = 0;
	while (fed < target)
		for (size_t i = 0; i < c->nlines && fed < target; i++, fed++)
			yw_decoder_line(d, c->lines[i].s, c->lines[i].len);
	yw_decoder_flush(d);
	double t = bench_now() - t0;
	yw_decoder_free(d);
	return t;
}

struct thread_arg {
	const struct bench_corpus *c;
	size_t target;
	const struct yw_ruleset *rs;
	struct run r;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;
	one_run(t->c, t->target, t->rs, &t->r);
	return NULL;
}

/* Splits the work over n threads, each with its own decoder, sharing one ruleset: the shape of
 * the server's detection workers. Returns wall seconds. */
static double parallel_run(const struct bench_corpus *c, size_t target, const struct yw_ruleset *rs,
			   int n, struct run *total)
{
	pthread_t th[16];
	struct thread_arg args[16];
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		args[i] = (struct thread_arg){c, target / (size_t)n, rs, {0}};
		pthread_create(&th[i], NULL, thread_main, &args[i]);
	}
	memset(total, 0, sizeof(*total));
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		total->events += args[i].r.events;
		total->matches += args[i].r.matches;
	}
	return bench_now() - t0;
}

static int threads = 1;

static void measure(const char *label, const struct bench_corpus *c, size_t target, int reps,
		    const struct yw_ruleset *rs)
{
	double t[16], cpu[16];
	struct run r = {0};
	for (int i = 0; i < reps; i++) {
		struct rusage a, b;
		getrusage(RUSAGE_SELF, &a);
		t[i] = threads > 1 ? parallel_run(c, target, rs, threads, &r)
				   : one_run(c, target, rs, &r);
		getrusage(RUSAGE_SELF, &b);
		cpu[i] = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec + b.ru_stime.tv_sec -
				  a.ru_stime.tv_sec) +
			 (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec + b.ru_stime.tv_usec -
				  a.ru_stime.tv_usec) / 1e6;
	}
	/* CPU time per event tells contention between threads apart from a busy machine:
	 * wall time suffers from both, CPU time only from the former. */
	double cpu_med = bench_median(cpu, reps);
	double med = bench_median(t, reps);
	printf("%-34s %9zu lines %9llu events %8llu matches  median %.3f s  %10.0f lines/s  "
	       "%10.0f events/s  %10.0f events/cpu-s\n",
	       label, target, r.events, r.matches, med, target / med, r.events / med,
	       r.events / cpu_med);
}

static struct yw_ruleset *load(char **paths, int n, double *secs)
{
	struct yw_diags d = YW_DIAGS_INIT;
	double t0 = bench_now();
	struct yw_ruleset *rs = yw_ruleset_new();
	for (int i = 0; i < n; i++)
		yw_ruleset_add_path(rs, paths[i], &d);
	yw_ruleset_compile(rs, &d);
	*secs = bench_now() - t0;
	yw_diags_free(&d);
	return rs;
}

int main(int argc, char **argv)
{
	size_t target = 1000000;
	int reps = 3;
	const char *shared = YW_SHARED_DIR;
	int c;
	while ((c = getopt(argc, argv, "n:r:s:t:h")) != -1) {
		switch (c) {
		case 'n':
			target = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			reps = atoi(optarg);
			if (reps < 1 || reps > 15)
				reps = 3;
			break;
		case 's':
			shared = optarg;
			break;
		case 't':
			threads = atoi(optarg);
			if (threads < 1 || threads > 16)
				threads = 1;
			break;
		default:
			fprintf(stderr, "usage: bench_hunt [-n lines] [-r repetitions] [-s shared-dir] "
					"[-t threads]\n");
			return 2;
		}
	}
	struct bench_corpus corp;
	if (bench_corpus_load(&corp, shared) != 0)
		return 1;
	printf("corpus: %zu lines from %s/corpus, replayed to %zu lines; %d runs each; "
	       "%d thread%s\n",
	       corp.nlines, shared, target, reps, threads, threads > 1 ? "s" : "");

	measure("decode only", &corp, target, reps, NULL);

	char linux1[4096], linux2[4096], bundled[4096];
	snprintf(linux1, sizeof(linux1), "%s/sigma/rules/linux", shared);
	snprintf(linux2, sizeof(linux2), "%s/sigma/rules-threat-hunting/linux", shared);
	snprintf(bundled, sizeof(bundled), "%s/rules/sigma", YW_SOURCE_DIR);
	char *lin[] = {linux1, linux2, bundled};
	double secs;
	struct yw_ruleset *rs = load(lin, 3, &secs);
	printf("linux rules: %zu loaded in %.3f s\n", yw_ruleset_count(rs), secs);
	measure("decode+detect, linux rules", &corp, target, reps, rs);
	yw_ruleset_free(rs);

	char a[5][4096];
	const char *dirs[] = {"rules", "rules-emerging-threats", "rules-threat-hunting",
			      "rules-compliance", "rules-placeholder"};
	char *all[6];
	for (int i = 0; i < 5; i++) {
		snprintf(a[i], sizeof(a[i]), "%s/sigma/%s", shared, dirs[i]);
		all[i] = a[i];
	}
	all[5] = bundled;
	rs = load(all, 6, &secs);
	printf("all rules: %zu loaded in %.3f s\n", yw_ruleset_count(rs), secs);
	measure("decode+detect, all rules", &corp, target, reps, rs);
	yw_ruleset_free(rs);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
	bench_corpus_free(&corp);
	return 0;
}
