/* Decode + detect throughput against the number of rules, one core, replaying ../shared/corpus
 * in memory (the same files as bench_hunt).
 *
 * Rule selection, deterministic: the Linux rules first (sigma/rules/linux,
 * sigma/rules-threat-hunting/linux and the bundled rules/sigma, each walked in sorted path
 * order), then every other SigmaHQ rule file in sorted path order (rules, rules-emerging-threats,
 * rules-threat-hunting, rules-compliance, rules-placeholder), truncated to N files. So N = 100
 * holds Linux rules only, and larger N add rules that the Linux corpus never routes to: a flat
 * line is the goal. A warm-up pass builds the prefilter's routes (reported separately); the
 * figure is the median of the timed passes. -S also times the straightforward evaluator. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "corpus.h"
#include "yiwang/decode.h"
#include "yiwang/sigma.h"

#include "detect/sigma_rule.h"

struct run {
	const struct yw_ruleset *rs;
	bool slow;
	unsigned long long events, matches;
};

static int count_match(void *ud, const struct yw_rule_info *r, const struct yw_event *ev)
{
	(void)r;
	(void)ev;
	((struct run *)ud)->matches++;
	return 0;
}

static int on_event(void *ud, struct yw_event *ev)
{
	struct run *r = ud;
	r->events++;
	if (r->rs && r->slow)
		yw_ruleset_match_slow(r->rs, ev, count_match, r);
	else if (r->rs)
		yw_ruleset_match(r->rs, ev, count_match, r);
	return 0;
}

static double one_run(const struct bench_corpus *c, size_t target, const struct yw_ruleset *rs, bool slow,
                      struct run *out)
{
	struct yw_decode_opts o = {.default_year = 2024};
	struct yw_decoder *d = NULL;
	*out = (struct run){.rs = rs, .slow = slow};
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

static double measure(const struct bench_corpus *c, size_t target, int reps, const struct yw_ruleset *rs,
                      bool slow, unsigned long long *matches)
{
	double t[16];
	struct run r = {0};
	for (int i = 0; i < reps; i++)
		t[i] = one_run(c, target, rs, slow, &r);
	double med = bench_median(t, reps);
	if (matches)
		*matches = r.matches;
	return r.events / med;
}

struct paths {
	char **v;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void paths_add(struct paths *p, char *s)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		char **v = realloc(p->v, p->cap * sizeof(*v));
		if (!v) {
			free(s);
			return;
		}
		p->v = v;
	}
	p->v[p->n++] = s;
}

/* Rule files below dir in sorted path order (the loader's order), skipping the excluded dirs. */
static void walk(const char *dir, const char *const *skip, size_t nskip, struct paths *out)
{
	for (size_t i = 0; i < nskip; i++)
		if (!strcmp(dir, skip[i]))
			return;
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct paths names = {0};
	struct dirent *de;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			paths_add(&names, strdup(de->d_name));
	closedir(dh);
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		char *p;
		struct stat st;
		if (!names.v[i] || asprintf(&p, "%s/%s", dir, names.v[i]) < 0)
			continue;
		size_t l = strlen(p);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			walk(p, skip, nskip, out);
			free(p);
		} else if ((l > 4 && !strcmp(p + l - 4, ".yml")) ||
		           (l > 5 && !strcmp(p + l - 5, ".yaml"))) {
			paths_add(out, p);
		} else {
			free(p);
		}
		free(names.v[i]);
	}
	free(names.v);
}

static struct yw_ruleset *load(const struct paths *p, size_t n)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	for (size_t i = 0; rs && i < n && i < p->n; i++)
		yw_ruleset_add_path(rs, p->v[i], &d);
	if (rs && yw_ruleset_compile(rs, &d) != 0) {
		yw_ruleset_free(rs);
		rs = NULL;
	}
	yw_diags_free(&d);
	return rs;
}

int main(int argc, char **argv)
{
	size_t target = 300000;
	int reps = 3;
	bool slow = false;
	const char *shared = YW_SHARED_DIR;
	int c;
	while ((c = getopt(argc, argv, "n:r:s:Sh")) != -1) {
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
		case 'S':
			slow = true;
			break;
		default:
			fprintf(stderr,
			        "usage: bench_rules [-n lines] [-r repetitions] [-s shared-dir] "
			        "[-S (also time the straightforward evaluator)]\n");
			return 2;
		}
	}
	struct bench_corpus corp;
	if (bench_corpus_load(&corp, shared) != 0)
		return 1;

	char lin[3][4096], other[5][4096];
	snprintf(lin[0], sizeof(lin[0]), "%s/sigma/rules/linux", shared);
	snprintf(lin[1], sizeof(lin[1]), "%s/sigma/rules-threat-hunting/linux", shared);
	snprintf(lin[2], sizeof(lin[2]), "%s/rules/sigma", YW_SOURCE_DIR);
	const char *dirs[] = {"rules", "rules-emerging-threats", "rules-threat-hunting",
	                      "rules-compliance", "rules-placeholder"};
	struct paths all = {0};
	for (int i = 0; i < 3; i++)
		walk(lin[i], NULL, 0, &all);
	size_t nlinux = all.n;
	const char *skip[] = {lin[0], lin[1]};
	for (int i = 0; i < 5; i++) {
		snprintf(other[i], sizeof(other[i]), "%s/sigma/%s", shared, dirs[i]);
		walk(other[i], skip, 2, &all);
	}
	printf("corpus: %zu lines, replayed to %zu lines; %d timed runs each (median); rule files: "
	       "%zu Linux first, %zu in all\n",
	       corp.nlines, target, reps, nlinux, all.n);
	double base = measure(&corp, target, reps, NULL, false, NULL);
	printf("decode only: %.0f events/s\n\n", base);
	printf("%6s %6s %10s %12s %14s %10s", "files", "rules", "warm-up s", "matches", "events/s",
	       "detect ns");
	if (slow)
		printf(" %14s", "slow events/s");
	printf("\n");
	size_t ns[] = {100, 1000, all.n};
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		struct yw_ruleset *rs = load(&all, ns[k]);
		if (!rs) {
			fprintf(stderr, "bench_rules: cannot load rules\n");
			return 1;
		}
		struct run r;
		double w = one_run(&corp, corp.nlines, rs, false, &r);
		unsigned long long m;
		double eps = measure(&corp, target, reps, rs, false, &m);
		/* Detection's own cost per event: total time per event minus decoding's. */
		printf("%6zu %6zu %10.3f %12llu %14.0f %10.0f", ns[k] < all.n ? ns[k] : all.n,
		       yw_ruleset_count(rs), w, m, eps, 1e9 / eps - 1e9 / base);
		if (slow) {
			unsigned long long sm;
			double seps = measure(&corp, target, reps, rs, true, &sm);
			printf(" %14.0f%s", seps, sm == m ? "" : " (MISMATCH)");
		}
		printf("\n");
		yw_ruleset_free(rs);
	}
	for (size_t i = 0; i < all.n; i++)
		free(all.v[i]);
	free(all.v);
	bench_corpus_free(&corp);
	return 0;
}
