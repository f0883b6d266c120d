/* Exactness of the Sigma prefilter: yw_ruleset_match() (literal prefilter + routes) and
 * yw_ruleset_match_slow() (every rule of the log source evaluated) must report the same rules in
 * the same order for every event, over
 *   (a) the replayed corpus (bench_hunt's files, plus the go-libaudit JSON goldens and the
 *       auparse reference as events without a log source), decoded with format auto, and
 *   (b) seeded random events built from the loaded rules' own literals and fields, mutated
 *       (case changes, prefixes, suffixes, truncation, dash variants), with log sources drawn
 *       from those the rules name,
 * against every SigmaHQ rule plus the bundled rules/sigma. Prints the counts compared. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/decode.h"
#include "yiwang/error.h"
#include "yiwang/sigma.h"
#include "yiwang/strbuf.h"

#include "detect/sigma_rule.h"

#define RANDOM_EVENTS 12000
#define MAX_HITS      4096

struct hits {
	size_t v[MAX_HITS];
	size_t n;
};

static int record(void *ud, const struct yw_rule_info *r, const struct yw_event *ev)
{
	(void)ev;
	struct hits *h = ud;
	assert_true(h->n < MAX_HITS);
	h->v[h->n++] = r->index;
	return 0;
}

struct diff {
	const struct yw_ruleset *rs;
	size_t events, matches, matched_events, mismatches;
};

static void print_event(const struct yw_event *ev)
{
	struct yw_strbuf b = {0};
	if (yw_event_to_json(ev, &b) == 0)
		fprintf(stderr, "  event: %.*s\n", (int)b.len, b.data);
	yw_strbuf_free(&b);
}

/* Compares both evaluators on ev; prints the first few differences. */
static int compare(void *ud, struct yw_event *ev)
{
	struct diff *d = ud;
	static struct hits fast, slow; /* large: kept off the stack */
	fast.n = slow.n = 0;
	assert_int_equal(yw_ruleset_match(d->rs, ev, record, &fast), 0);
	assert_int_equal(yw_ruleset_match_slow(d->rs, ev, record, &slow), 0);
	d->events++;
	d->matches += slow.n;
	d->matched_events += slow.n > 0;
	if (fast.n != slow.n || memcmp(fast.v, slow.v, fast.n * sizeof(fast.v[0]))) {
		if (d->mismatches++ < 10) {
			fprintf(stderr, "mismatch: prefiltered %zu rules, reference %zu rules\n",
			        fast.n, slow.n);
			for (size_t i = 0; i < slow.n; i++)
				fprintf(stderr, "  reference: %s\n",
				        yw_ruleset_rule(d->rs, slow.v[i])->file);
			for (size_t i = 0; i < fast.n; i++)
				fprintf(stderr, "  prefiltered: %s\n",
				        yw_ruleset_rule(d->rs, fast.v[i])->file);
			print_event(ev);
		}
	}
	return 0;
}

static struct yw_ruleset *load_all(void)
{
	static const char *const dirs[] = {"rules", "rules-emerging-threats",
	                                   "rules-threat-hunting", "rules-compliance",
	                                   "rules-placeholder"};
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_non_null(rs);
	char path[1024];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/sigma/%s", YW_SHARED_DIR, dirs[i]);
		assert_int_equal(yw_ruleset_add_path(rs, path, &d), 0);
	}
	snprintf(path, sizeof(path), "%s/rules/sigma", YW_SOURCE_DIR);
	assert_int_equal(yw_ruleset_add_path(rs, path, &d), 0);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	assert_int_equal(d.nerrors, 0);
	yw_diags_free(&d);
	assert_true(yw_ruleset_count(rs) > 3700);
	return rs;
}

static int setup(void **state)
{
	*state = load_all();
	return 0;
}

static int teardown(void **state)
{
	yw_ruleset_free(*state);
	return 0;
}

static void test_corpus(void **state)
{
	static const char *const files[] = {
	    "auth/ubuntu-ec2-auth.log",
	    "audit/go-libaudit/audit-rhel6.log",
	    "audit/go-libaudit/audit-rhel7.log",
	    "audit/go-libaudit/audit-ubuntu14.log",
	    "audit/go-libaudit/audit-ubuntu16.log",
	    "audit/go-libaudit/audit-ubuntu17.log",
	    "audit/go-libaudit/test2.log",
	    "audit/go-libaudit/test3.log",
	    "audit/audit-userspace/test.log",
	    "audit/audit-userspace/test2.log",
	    "audit/audit-userspace/test3.log",
	    "audit/audit-userspace/test4.log",
	    "otrf/sh_arp_cache_2020-11-10074812.log",
	    "otrf/sh_binary_padding_dd_2020-11-10081941.log",
	    "audit/go-libaudit/audit-rhel6.log.golden",
	    "audit/go-libaudit/audit-rhel7.log.golden",
	    "audit/go-libaudit/audit-ubuntu14.log.golden",
	    "audit/go-libaudit/audit-ubuntu16.log.golden",
	    "audit/go-libaudit/audit-ubuntu17.log.golden",
	    "audit/go-libaudit/test2.log.golden",
	    "audit/go-libaudit/test3.log.golden",
	    "audit/audit-userspace/auparse_test.ref",
	};
	struct diff d = {.rs = *state};
	struct yw_decode_opts o = {.default_year = 2024};
	char path[1024];
	size_t nfiles = sizeof(files) / sizeof(files[0]);
	for (size_t i = 0; i < nfiles + 60; i++) {
		if (i < nfiles)
			snprintf(path, sizeof(path), "%s/corpus/%s", YW_SHARED_DIR, files[i]);
		else
			snprintf(path, sizeof(path), "%s/corpus/ossec-logtesting/%zu/log",
			         YW_SHARED_DIR, i - nfiles + 1);
		FILE *f = fopen(path, "rb");
		if (!f && i >= nfiles)
			continue; /* not every ossec case exists */
		assert_non_null(f);
		struct yw_decoder *dec;
		assert_int_equal(yw_decoder_new("auto", &o, compare, &d, &dec), 0);
		assert_int_equal(yw_decoder_file(dec, f), 0);
		yw_decoder_free(dec);
		fclose(f);
	}
	printf("corpus: %zu events x %zu rules compared, %zu matches in %zu events, "
	       "%zu mismatches\n",
	       d.events, yw_ruleset_count(d.rs), d.matches, d.matched_events, d.mismatches);
	assert_int_equal(d.mismatches, 0);
	assert_true(d.events > 7000);
	assert_true(d.matches > 1000);
}

/* ---- random events ---- */

struct lit {
	const struct yw_sigma_item *item;
	char *s;
	size_t len;
};

struct pool {
	struct lit *v;
	size_t n, cap;
	size_t *first; /* per rule: its literals are v[first[r]..first[r + 1]) */
	const struct yw_sigma_rule **rules;
	size_t nrules;
	const struct yw_sigma_item *cur;
};

static int pool_cb(void *ud, size_t group, const char *lit, size_t len, unsigned flags)
{
	(void)group;
	(void)flags;
	struct pool *p = ud;
	if (!len)
		return 0;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 1024;
		p->v = realloc(p->v, p->cap * sizeof(*p->v));
		assert_non_null(p->v);
	}
	char *c = malloc(len);
	assert_non_null(c);
	memcpy(c, lit, len);
	p->v[p->n++] = (struct lit){p->cur, c, len};
	return 0;
}

static void pool_build(const struct yw_ruleset *rs, struct pool *p)
{
	memset(p, 0, sizeof(*p));
	p->nrules = yw_ruleset_count(rs);
	p->first = calloc(p->nrules + 1, sizeof(*p->first));
	p->rules = calloc(p->nrules, sizeof(*p->rules));
	assert_non_null(p->first);
	assert_non_null(p->rules);
	size_t k = 0;
	for (size_t i = 0; i < yw_sigma_ruleset_ndocs(rs); i++) {
		const struct yw_sigma_rule *r = yw_sigma_ruleset_doc(rs, i);
		if (r->kind != YW_SIGMA_RULE)
			continue;
		assert_int_equal(r->info.index, k);
		p->rules[k] = r;
		p->first[k] = p->n;
		for (size_t s = 0; s < r->det.nsels; s++)
			for (size_t g = 0; g < r->det.sels[s].ngroups; g++)
				for (size_t j = 0; j < r->det.sels[s].groups[g].nitems; j++) {
					p->cur = &r->det.sels[s].groups[g].items[j];
					if (p->cur->m)
						yw_matcher_literals(p->cur->m, pool_cb, p);
				}
		k++;
	}
	p->first[k] = p->n;
	assert_int_equal(k, p->nrules);
}

static void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].s);
	free(p->v);
	free(p->first);
	free(p->rules);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t below(uint64_t *s, size_t n)
{
	return n ? (size_t)(rnd(s) % n) : 0;
}

static bool chance(uint64_t *s, unsigned percent)
{
	return rnd(s) % 100 < percent;
}

static void add(char *out, size_t *n, size_t cap, const char *s, size_t len)
{
	if (*n + len >= cap)
		len = cap - 1 - *n;
	memcpy(out + *n, s, len);
	*n += len;
}

/* A mutated copy of lit into out (NUL-terminated); returns its length. */
static size_t mutate(uint64_t *rs, const struct pool *p, const struct lit *l, char *out, size_t cap)
{
	static const char *const affixes[] = {
	    "x", " ", "/usr/bin/", "C:\\Windows\\", "-", "=", "\"", "'", "\\", "..", "%", "0"};
	size_t n = 0;
	if (chance(rs, 30)) {
		if (chance(rs, 50)) {
			const char *a = affixes[below(rs, sizeof(affixes) / sizeof(affixes[0]))];
			add(out, &n, cap, a, strlen(a));
		} else {
			const struct lit *o = &p->v[below(rs, p->n)];
			add(out, &n, cap, o->s, o->len);
		}
	}
	size_t from = 0, to = l->len;
	if (chance(rs, 12) && to - from > 1)
		chance(rs, 50) ? from++ : to--;
	for (size_t i = from; i < to; i++) {
		char c = l->s[i];
		if (c == '-' && chance(rs, 25)) {
			static const char *const dash[] = {"/", "\xe2\x80\x93", "\xe2\x80\x94",
			                                   "\xe2\x80\x95"};
			const char *d = dash[below(rs, 4)];
			add(out, &n, cap, d, strlen(d));
			continue;
		}
		if (c == '/' && chance(rs, 15))
			c = '-';
		if (c >= 'a' && c <= 'z' && chance(rs, 20))
			c = (char)(c - 32);
		else if (c >= 'A' && c <= 'Z' && chance(rs, 20))
			c = (char)(c + 32);
		add(out, &n, cap, &c, 1);
	}
	if (chance(rs, 30)) {
		const char *a = affixes[below(rs, sizeof(affixes) / sizeof(affixes[0]))];
		add(out, &n, cap, a, strlen(a));
	}
	out[n] = 0;
	return n;
}

static const char *recase(uint64_t *rs, const char *s, char *buf, size_t cap)
{
	if (!s || !chance(rs, 30))
		return s;
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		buf[i] = (char)(chance(rs, 50) && s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	buf[i] = 0;
	return buf;
}

static void random_logsource(uint64_t *rs, const struct pool *p, const struct yw_sigma_rule *r,
                             struct yw_event *ev)
{
	if (chance(rs, 5))
		return; /* none at all: every rule */
	const char *part[3] = {r->product, r->service, r->category};
	for (int k = 0; k < 3; k++)
		if (chance(rs, 10)) {
			const struct yw_sigma_rule *o = p->rules[below(rs, p->nrules)];
			part[k] = k == 0 ? o->product : k == 1 ? o->service : o->category;
		}
	char b[3][128];
	assert_int_equal(yw_event_set_logsource(ev, recase(rs, part[0], b[0], sizeof(b[0])),
	                                        recase(rs, part[1], b[1], sizeof(b[1])),
	                                        recase(rs, part[2], b[2], sizeof(b[2]))),
	                 0);
}

static void random_event(uint64_t *rs, const struct pool *p, struct yw_event *ev)
{
	yw_event_clear(ev);
	size_t ri = below(rs, p->nrules);
	const struct yw_sigma_rule *r = p->rules[ri];
	random_logsource(rs, p, r, ev);
	size_t own = p->first[ri + 1] - p->first[ri];
	size_t nf = 1 + below(rs, 6);
	char raw[2048];
	size_t rawn = 0;
	for (size_t i = 0; i < nf; i++) {
		const struct lit *l = own && chance(rs, 75) ? &p->v[p->first[ri] + below(rs, own)]
		                                            : &p->v[below(rs, p->n)];
		char val[512];
		size_t vn = mutate(rs, p, l, val, sizeof(val));
		const struct yw_sigma_item *it = l->item;
		if (!it->field || !it->ncands) {
			/* keyword: in message, in the raw text, or both */
			if (chance(rs, 60))
				assert_int_equal(yw_event_set_str(ev, "message", val, vn), 0);
			if (chance(rs, 60)) {
				add(raw, &rawn, sizeof(raw), val, vn);
				add(raw, &rawn, sizeof(raw), " ", 1);
			}
			continue;
		}
		const char *name = it->cands[below(rs, it->ncands)].name;
		char *end;
		long long iv = vn ? strtoll(val, &end, 10) : 0;
		int rc;
		if (vn && !*end && chance(rs, 50))
			rc = yw_event_set_int(ev, name, iv);
		else if (chance(rs, 15))
			rc = yw_event_append(ev, name, val, vn);
		else
			rc = yw_event_set_str(ev, name, val, vn);
		assert_int_equal(rc, 0);
		if (chance(rs, 20))
			add(raw, &rawn, sizeof(raw), val, vn);
	}
	if (rawn || chance(rs, 20))
		assert_int_equal(yw_event_set_raw(ev, raw, rawn), 0);
}

static void test_random(void **state)
{
	struct diff d = {.rs = *state};
	struct pool p;
	pool_build(d.rs, &p);
	assert_true(p.n > 10000);
	struct yw_event *ev = yw_event_new();
	assert_non_null(ev);
	uint64_t seed = 0x5eed5eed12345678ULL;
	for (size_t i = 0; i < RANDOM_EVENTS; i++) {
		random_event(&seed, &p, ev);
		compare(&d, ev);
	}
	printf("random: %zu events (seed 0x5eed5eed12345678) x %zu rules compared, %zu matches in "
	       "%zu events, %zu mismatches; %zu literals in the pool\n",
	       d.events, yw_ruleset_count(d.rs), d.matches, d.matched_events, d.mismatches, p.n);
	assert_int_equal(d.mismatches, 0);
	/* The generator must actually make rules fire, or the comparison proves little. */
	assert_true(d.matched_events > RANDOM_EVENTS / 20);
	yw_event_free(ev);
	pool_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
