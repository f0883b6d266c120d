/* Every rule yiwang can load -- all of SigmaHQ (detection and correlation rules) and the
 * bundled rules -- resolves to a complete solution in both languages; every ATT&CK technique
 * the SigmaHQ Linux rules are tagged with resolves at technique level (its own entry or its
 * parent's); every bundled rule at rule level. Prints the count per level. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_rule.h"
#include "yiwang/error.h"
#include "yiwang/sigma.h"
#include "yiwang/solution.h"

static struct yw_solutions *load_library(void)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_solutions *lib = NULL;
	int rc = yw_solutions_load(YW_SOURCE_DIR "/rules/solutions", &d, &lib);
	yw_diags_print(&d, stdout);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	yw_diags_free(&d);
	return lib;
}

static struct yw_ruleset *load_rules(const char *const *dirs, size_t n)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	assert_non_null(rs);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(yw_ruleset_add_path(rs, dirs[i], &d), 0);
	assert_int_equal(yw_ruleset_compile(rs, &d), 0);
	assert_int_equal(d.nerrors, 0);
	yw_diags_free(&d);
	return rs;
}

static void assert_complete(const struct yw_solution *s, const struct yw_rule_info *r)
{
	if (!s)
		fail_msg("no solution for %s (%s)", r->title, r->file);
	for (int l = 0; l < YW_LANG_N; l++) {
		assert_true(s->name[l] && s->name[l][0]);
		for (int k = 0; k < YW_SEC_N; k++) {
			assert_true(s->sec[k][l].n > 0);
			for (size_t i = 0; i < s->sec[k][l].n; i++)
				assert_true(s->sec[k][l].v[i][0] != '\0');
		}
	}
}

static void test_every_rule(void **state)
{
	(void)state;
	struct yw_solutions *lib = load_library();
	static const char *const sub[] = {"rules", "rules-emerging-threats", "rules-threat-hunting",
	                                  "rules-compliance", "rules-placeholder"};
	char paths[6][512];
	const char *dirs[6];
	for (size_t i = 0; i < 5; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/sigma/%s", YW_SHARED_DIR, sub[i]);
		dirs[i] = paths[i];
	}
	dirs[5] = YW_SOURCE_DIR "/rules/sigma";
	struct yw_ruleset *rs = load_rules(dirs, 6);

	size_t per[YW_SOL_NLEVELS] = {0}, total = 0, corr = 0, bundled = 0;
	struct yw_strbuf b = YW_STRBUF_INIT;
	for (size_t i = 0; i < yw_sigma_ruleset_ndocs(rs); i++) {
		const struct yw_sigma_rule *doc = yw_sigma_ruleset_doc(rs, i);
		if (doc->kind == YW_SIGMA_FILTER)
			continue; /* filters never alert */
		const struct yw_rule_info *r = &doc->info;
		int level = -1;
		const struct yw_solution *s = yw_solutions_resolve(lib, r, &level);
		assert_complete(s, r);
		assert_true(level >= 0 && level < YW_SOL_NLEVELS);
		per[level]++;
		total++;
		corr += doc->kind == YW_SIGMA_CORRELATION;
		/* yiwang's own rules have their own text */
		if (strstr(r->file, YW_SOURCE_DIR "/rules/sigma/")) {
			bundled++;
			if (level != YW_SOL_RULE)
				fail_msg("bundled rule %s (%s) resolves at %s level", r->id,
				         r->file, yw_sol_level_name(level));
		}
		/* and every one renders in both forms */
		yw_strbuf_reset(&b);
		assert_int_equal(yw_solution_json(s, level, &b), 0);
		for (int l = 0; l < YW_LANG_N; l++)
			assert_int_equal(yw_solution_text(s, level, l, &b), 0);
	}
	yw_strbuf_free(&b);
	printf("%zu rules (%zu correlations, %zu bundled): rule %zu, technique %zu, tactic %zu, "
	       "generic %zu\n",
	       total, corr, bundled, per[YW_SOL_RULE], per[YW_SOL_TECHNIQUE], per[YW_SOL_TACTIC],
	       per[YW_SOL_GENERIC]);
	/* every bundled rule (at least the 20 this test was written with) has its own solution */
	assert_true(bundled >= 15 + 5);
	assert_int_equal(per[YW_SOL_RULE], bundled);
	/* 3,780 SigmaHQ rule files, of which some are correlations, plus the bundled 20 */
	assert_true(total >= 3780 + 20);
	/* every bundled rule id has its solution, and the rule solutions are all used */
	assert_int_equal(per[YW_SOL_RULE], yw_solutions_count_kind(lib, YW_SOL_RULE));
	yw_ruleset_free(rs);
	yw_solutions_free(lib);
}

/* Techniques tagged in SigmaHQ's Linux rules: collected from the rules themselves, so a new
 * SigmaHQ snapshot with a new technique fails here until the library covers it. */
static void test_linux_techniques(void **state)
{
	(void)state;
	struct yw_solutions *lib = load_library();
	char p1[512], p2[512];
	snprintf(p1, sizeof(p1), "%s/sigma/rules/linux", YW_SHARED_DIR);
	snprintf(p2, sizeof(p2), "%s/sigma/rules-threat-hunting/linux", YW_SHARED_DIR);
	const char *dirs[] = {p1, p2};
	struct yw_ruleset *rs = load_rules(dirs, 2);

	char seen[256][16];
	size_t nseen = 0, own = 0;
	for (size_t i = 0; i < yw_sigma_ruleset_ndocs(rs); i++) {
		const struct yw_rule_info *r = &yw_sigma_ruleset_doc(rs, i)->info;
		for (size_t t = 0; t < r->ntags; t++) {
			const char *tag = r->tags[t];
			if (strncmp(tag, "attack.t", 8) || !isdigit((unsigned char)tag[8]))
				continue;
			char id[16];
			snprintf(id, sizeof(id), "T%s", tag + 8);
			bool dup = false;
			for (size_t k = 0; k < nseen && !dup; k++)
				dup = !strcmp(seen[k], id);
			if (dup)
				continue;
			assert_true(nseen < 256);
			strcpy(seen[nseen++], id);
			const struct yw_solution *s = yw_solutions_technique(lib, id);
			if (!s)
				fail_msg("technique %s (rule %s) has no solution", id, r->file);
			/* its own entry, or its parent's */
			assert_true(!strcmp(s->key, id) ||
			            (strlen(id) == 9 && !strncmp(s->key, id, 5) && !s->key[5]));
			own += !strcmp(s->key, id);
			/* and a Linux rule with only this technique resolves at technique level */
			const char *one[] = {tag};
			struct yw_rule_info probe = {
			    .title = "probe", .tags = one, .ntags = 1, .product = "linux"};
			int level = -1;
			assert_ptr_equal(yw_solutions_resolve(lib, &probe, &level), s);
			assert_int_equal(level, YW_SOL_TECHNIQUE);
		}
	}
	/* every Linux rule resolves at technique level or better */
	for (size_t i = 0; i < yw_sigma_ruleset_ndocs(rs); i++) {
		const struct yw_rule_info *r = &yw_sigma_ruleset_doc(rs, i)->info;
		int level = -1;
		yw_solutions_resolve(lib, r, &level);
		bool has_tech = false;
		for (size_t t = 0; t < r->ntags; t++)
			has_tech |= !strncmp(r->tags[t], "attack.t", 8);
		if (has_tech && level != YW_SOL_TECHNIQUE)
			fail_msg("%s resolves at %s level", r->file, yw_sol_level_name(level));
	}
	printf("%zu distinct Linux techniques: %zu with their own entry, %zu via the parent\n",
	       nseen, own, nseen - own);
	assert_int_equal(nseen, 98);
	yw_ruleset_free(rs);
	yw_solutions_free(lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_rule),
	    cmocka_unit_test(test_linux_techniques),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
