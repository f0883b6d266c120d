/* The solution library: strict loading with file:line:col diagnostics, resolution order
 * (rule, technique, parent technique, tactic, log source, default), JSON and text rendering,
 * and the bundled library's own consistency. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/solution.h"

/* clang-format off */
#define SECTIONS(tag) \
	"what: {en: \"" tag " what\", zh: \"" tag " 发生了什么\"}\n" \
	"why: {en: \"" tag " why\", zh: \"" tag " 原因\"}\n" \
	"verify: {en: [\"" tag " v1\", \"" tag " v2\"], zh: [\"" tag " 核实1\", \"" tag " 核实2\"]}\n" \
	"fix: {en: [\"" tag " f\"], zh: [\"" tag " 处置\"]}\n" \
	"prevent: {en: [\"" tag " p\"], zh: [\"" tag " 预防\"]}\n"

static const char good_tech[] =
	"technique: T1110\n"
	"name: {en: Brute Force, zh: 暴力破解}\n"
	"tactics: [credential-access]\n"
	SECTIONS("T1110")
	"references: [https://attack.mitre.org/techniques/T1110/]\n"
	"---\n"
	"technique: T1110.001\n"
	"name: {en: Password Guessing, zh: 密码猜测}\n"
	SECTIONS("T1110.001")
	"---\n"
	"technique: T1059\n"
	"name: {en: Command and Scripting Interpreter, zh: 命令和脚本解释器}\n"
	SECTIONS("T1059");

static const char good_other[] =
	"tactic: credential-access\n"
	"name: {en: Credential Access, zh: 凭据访问}\n"
	SECTIONS("CA")
	"---\n"
	"tactic: stealth\n"
	"aliases: [defense-evasion]\n"
	"name: {en: Stealth, zh: 隐蔽}\n"
	SECTIONS("ST")
	"---\n"
	"generic: default\n"
	"name: {en: Detection, zh: 检测}\n"
	SECTIONS("DEF")
	"---\n"
	"generic: product:windows\n"
	"name: {en: Windows, zh: Windows}\n"
	SECTIONS("WIN")
	"---\n"
	"rule: 8F3B2A61-6D0C-4F7E-B0A4-3C9E5D17A2F8\n"
	"name: {en: SSH brute force, zh: SSH 暴力破解}\n"
	SECTIONS("RULE");
/* clang-format on */

struct tmp {
	char dir[64];
	char files[8][128];
	size_t n;
};

static void put(struct tmp *t, const char *name, const char *text)
{
	assert_true(t->n < 8);
	char dir[sizeof(t->dir)];
	memcpy(dir, t->dir, sizeof(dir));
	snprintf(t->files[t->n], sizeof(t->files[0]), "%s/%s", dir, name);
	FILE *f = fopen(t->files[t->n], "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	t->n++;
}

static void tmp_init(struct tmp *t)
{
	memset(t, 0, sizeof(*t));
	strcpy(t->dir, "/tmp/yw_solution_XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

static void tmp_free(struct tmp *t)
{
	for (size_t i = 0; i < t->n; i++)
		unlink(t->files[i]);
	rmdir(t->dir);
}

static struct yw_solutions *load_good(void)
{
	struct tmp t;
	tmp_init(&t);
	put(&t, "techniques.yml", good_tech);
	put(&t, "other.yaml", good_other);
	put(&t, "README.md", "not yaml: ignored\n");
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_solutions *lib = NULL;
	int rc = yw_solutions_load(t.dir, &d, &lib);
	yw_diags_print(&d, stdout);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(lib);
	yw_diags_free(&d);
	tmp_free(&t);
	return lib;
}

static int resolve(const struct yw_solutions *lib, const char *id, const char *product,
                   const char *const *tags, size_t ntags, const char **key)
{
	struct yw_rule_info r = {0};
	r.id = id;
	r.title = "t";
	r.product = product;
	r.tags = tags;
	r.ntags = ntags;
	int level = -2;
	const struct yw_solution *s = yw_solutions_resolve(lib, &r, &level);
	*key = s ? s->key : NULL;
	return level;
}

static void test_resolution_order(void **state)
{
	(void)state;
	struct yw_solutions *lib = load_good();
	assert_int_equal(yw_solutions_count(lib), 8);
	assert_int_equal(yw_solutions_count_kind(lib, YW_SOL_TECHNIQUE), 3);
	assert_int_equal(yw_solutions_count_kind(lib, YW_SOL_TACTIC), 2);
	assert_int_equal(yw_solutions_count_kind(lib, YW_SOL_GENERIC), 2);
	assert_int_equal(yw_solutions_count_kind(lib, YW_SOL_RULE), 1);
	const char *key;

	/* the rule's own entry wins over everything, its id compared without case */
	const char *t1[] = {"attack.credential-access", "attack.t1110.001"};
	assert_int_equal(resolve(lib, "8f3b2a61-6d0c-4f7e-b0a4-3c9e5d17a2f8", NULL, t1, 2, &key),
	                 YW_SOL_RULE);
	assert_string_equal(key, "8f3b2a61-6d0c-4f7e-b0a4-3c9e5d17a2f8");
	/* a sub-technique with its own entry */
	assert_int_equal(resolve(lib, "other", NULL, t1, 2, &key), YW_SOL_TECHNIQUE);
	assert_string_equal(key, "T1110.001");
	/* a sub-technique with its own entry beats an earlier technique tag */
	const char *t2[] = {"attack.t1059", "attack.t1110.001"};
	assert_int_equal(resolve(lib, NULL, NULL, t2, 2, &key), YW_SOL_TECHNIQUE);
	assert_string_equal(key, "T1110.001");
	/* a plain technique tag beats a sub-technique's parent; tag order breaks ties */
	const char *t3[] = {"attack.t1110.003", "attack.t1059"};
	assert_int_equal(resolve(lib, NULL, NULL, t3, 2, &key), YW_SOL_TECHNIQUE);
	assert_string_equal(key, "T1059");
	/* a sub-technique without an entry falls back to its parent */
	const char *t4[] = {"attack.t1059.004"};
	assert_int_equal(resolve(lib, NULL, NULL, t4, 1, &key), YW_SOL_TECHNIQUE);
	assert_string_equal(key, "T1059");
	/* unknown techniques: the tactic; group and software tags are ignored */
	const char *t5[] = {"attack.g0004", "attack.t9999", "attack.credential-access"};
	assert_int_equal(resolve(lib, NULL, NULL, t5, 3, &key), YW_SOL_TACTIC);
	assert_string_equal(key, "credential-access");
	/* a tactic alias */
	const char *t6[] = {"attack.defense-evasion"};
	assert_int_equal(resolve(lib, NULL, NULL, t6, 1, &key), YW_SOL_TACTIC);
	assert_string_equal(key, "stealth");
	/* no ATT&CK: log source, then default */
	const char *t7[] = {"cve.2021-44228", "detection.threat-hunting"};
	assert_int_equal(resolve(lib, NULL, "windows", t7, 2, &key), YW_SOL_GENERIC);
	assert_string_equal(key, "product:windows");
	assert_int_equal(resolve(lib, NULL, "linux", t7, 2, &key), YW_SOL_GENERIC);
	assert_string_equal(key, "default");
	assert_int_equal(resolve(lib, NULL, NULL, NULL, 0, &key), YW_SOL_GENERIC);
	assert_string_equal(key, "default");

	/* direct lookups */
	assert_string_equal(yw_solutions_technique(lib, "attack.t1110.002")->key, "T1110");
	assert_string_equal(yw_solutions_technique(lib, "t1110.001")->key, "T1110.001");
	assert_null(yw_solutions_technique(lib, "T1111"));
	assert_null(yw_solutions_technique(lib, "T11"));
	assert_null(yw_solutions_technique(lib, "credential-access"));
	assert_non_null(yw_solutions_get(lib, YW_SOL_TACTIC, "defense-evasion"));
	assert_null(yw_solutions_get(lib, YW_SOL_TECHNIQUE, "credential-access"));
	yw_solutions_free(lib);
}

static void test_render(void **state)
{
	(void)state;
	struct yw_solutions *lib = load_good();
	const struct yw_solution *s = yw_solutions_technique(lib, "T1110");
	assert_non_null(s);
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_solution_json(s, YW_SOL_TECHNIQUE, &b), 0);
	json_error_t err;
	json_t *j = json_loads(b.data, 0, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "technique");
	assert_string_equal(json_string_value(json_object_get(j, "key")), "T1110");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "name"), "zh")),
	                    "暴力破解");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "what"), "en")),
	                    "T1110 what");
	json_t *v = json_object_get(json_object_get(j, "verify"), "zh");
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 1)), "T1110 核实2");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "tactics"), 0)),
	                    "credential-access");
	assert_int_equal(json_array_size(json_object_get(j, "references")), 1);
	json_decref(j);

	yw_strbuf_reset(&b);
	assert_int_equal(yw_solution_text(s, YW_SOL_TECHNIQUE, YW_LANG_EN, &b), 0);
	assert_non_null(strstr(b.data, "Brute Force (T1110)"));
	assert_non_null(strstr(b.data, "How to verify\n  1. T1110 v1\n  2. T1110 v2\n"));
	assert_non_null(strstr(b.data, "What happened\n  T1110 what\n"));
	assert_null(strstr(b.data, "暴力"));
	yw_strbuf_reset(&b);
	assert_int_equal(yw_solution_text(s, YW_SOL_TECHNIQUE, YW_LANG_ZH, &b), 0);
	assert_non_null(strstr(b.data, "暴力破解 (T1110)"));
	assert_non_null(strstr(b.data, "如何处置\n  1. T1110 处置\n"));
	assert_non_null(strstr(b.data, "参考\n  https://attack.mitre.org/techniques/T1110/"));
	assert_null(strstr(b.data, "How to"));
	assert_int_equal(yw_solution_text(s, YW_SOL_TECHNIQUE, 7, &b), YW_EINVAL);

	/* a bounded buffer fails cleanly */
	struct yw_strbuf small;
	yw_strbuf_init(&small, 64);
	assert_int_equal(yw_solution_json(s, YW_SOL_TECHNIQUE, &small), YW_ELIMIT);
	yw_strbuf_free(&small);
	yw_strbuf_free(&b);
	assert_string_equal(yw_sol_level_name(YW_SOL_GENERIC), "generic");
	assert_string_equal(yw_sol_level_name(9), "?");
	assert_int_equal(yw_sol_lang_parse("zh"), YW_LANG_ZH);
	assert_int_equal(yw_sol_lang_parse("fr"), -1);
	yw_solutions_free(lib);
}

static bool has_diag(const struct yw_diags *d, const char *file_end, unsigned line, unsigned col,
                     const char *msg)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct yw_diag *g = &d->v[i];
		size_t fl = strlen(g->file), el = strlen(file_end);
		if (fl >= el && !strcmp(g->file + fl - el, file_end) && g->line == line &&
		    g->col == col && strstr(g->msg, msg))
			return true;
	}
	return false;
}

static void test_strict(void **state)
{
	(void)state;
	struct tmp t;
	tmp_init(&t);
	put(&t, "a.yml", good_tech);
	/* every entry below is wrong in one way; the last one is valid */
	/* clang-format off */
	put(&t, "b.yml",
	    "technique: T1046\n"                                            /* 1 */
	    "name: {en: Network Service Discovery, zh: 网络服务发现}\n"
	    "severity: high\n"                                              /* 3: unknown key */
	    SECTIONS("X")
	    "---\n"                                                         /* 9 */
	    "technique: T1057\n"
	    "name: {en: Process Discovery}\n"                               /* 11: missing zh */
	    SECTIONS("Y")
	    "---\n"
	    "technique: T1082\n"                                            /* 18: no prevent */
	    "name: {en: System Information Discovery, zh: 系统信息发现}\n"
	    "what: {en: \"  \", zh: x}\n"                                   /* 20: empty en */
	    "why: {en: a, zh: b}\n"
	    "verify: {en: [a], zh: [b]}\n"
	    "fix: {en: [a], zh: [b], fr: [c]}\n"                            /* 23: unknown language */
	    "---\n"
	    "technique: t1083\n"                                            /* 25: lower case id */
	    "name: {en: File and Directory Discovery, zh: 文件和目录发现}\n"
	    SECTIONS("Z")
	    "---\n"
	    "technique: T1110\n"                                            /* 33: duplicate of a.yml */
	    "name: {en: Brute Force, zh: 暴力破解}\n"
	    SECTIONS("DUP")
	    "---\n"
	    "technique: T1033\n"
	    "tactic: discovery\n"                                           /* 42: two kinds */
	    "name: {en: System Owner/User Discovery, zh: 系统所有者/用户发现}\n"
	    SECTIONS("W")
	    "---\n"
	    "technique: T1005\n"                                            /* valid */
	    "name: {en: Data from Local System, zh: 本地系统数据}\n"
	    SECTIONS("OK"));
	/* clang-format on */
	put(&t, "c.yml", "technique: T1016\nname: {en: [a, b\n"); /* YAML syntax error */

	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_solutions *lib = NULL;
	int rc = yw_solutions_load(t.dir, &d, &lib);
	yw_diags_print(&d, stdout);
	assert_int_equal(rc, YW_EINVAL);
	assert_non_null(lib);
	assert_true(has_diag(&d, "/b.yml", 3, 1, "unknown key 'severity'"));
	assert_true(has_diag(&d, "/b.yml", 11, 7, "name: missing zh"));
	assert_true(has_diag(&d, "/b.yml", 20, 12, "what must not be empty"));
	assert_true(has_diag(&d, "/b.yml", 23, 25, "fix: unknown language"));
	assert_true(has_diag(&d, "/b.yml", 18, 1, "missing prevent"));
	assert_true(has_diag(&d, "/b.yml", 25, 12, "technique must look like T1110"));
	assert_true(has_diag(&d, "/b.yml", 33, 1, "technique 'T1110' already defined at"));
	assert_true(has_diag(&d, "/b.yml", 42, 1, "exactly one of rule, technique"));
	bool yaml_err = false;
	for (size_t i = 0; i < d.n; i++)
		yaml_err |= strstr(d.v[i].file, "/c.yml") && strstr(d.v[i].msg, "YAML:") &&
		            d.v[i].line >= 2;
	assert_true(yaml_err);
	assert_int_equal(d.nerrors, 9);

	/* the valid entries are kept: a.yml's three and T1005; the duplicate is not */
	assert_int_equal(yw_solutions_count(lib), 4);
	assert_non_null(yw_solutions_technique(lib, "T1005"));
	assert_null(yw_solutions_get(lib, YW_SOL_TECHNIQUE, "T1046"));
	assert_string_equal(yw_solutions_technique(lib, "T1110")->sec[YW_SEC_WHAT][0].v[0],
	                    "T1110 what");
	yw_solutions_free(lib);
	yw_diags_free(&d);

	/* missing directory */
	lib = NULL;
	assert_int_equal(yw_solutions_load("/nonexistent/yw/solutions", &d, &lib), YW_ENOENT);
	assert_null(lib);
	assert_int_equal(d.nerrors, 1);
	yw_diags_free(&d);
	tmp_free(&t);
}

static void test_limits(void **state)
{
	(void)state;
	struct tmp t;
	tmp_init(&t);
	/* one step list past YW_MAX_SOLUTION_STEPS */
	struct yw_strbuf b = YW_STRBUF_INIT;
	assert_int_equal(yw_strbuf_puts(&b, "generic: default\nname: {en: a, zh: b}\n"
	                                    "what: {en: a, zh: b}\nwhy: {en: a, zh: b}\n"
	                                    "verify: {en: [a], zh: [b]}\nfix: {en: [a], zh: [b]}\n"
	                                    "prevent: {zh: [b], en: ["),
	                 0);
	for (int i = 0; i <= 32; i++)
		assert_int_equal(yw_strbuf_printf(&b, "%ss%d", i ? ", " : "", i), 0);
	assert_int_equal(yw_strbuf_puts(&b, "]}\n"), 0);
	put(&t, "steps.yml", b.data);
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_solutions *lib = NULL;
	assert_int_equal(yw_solutions_load(t.dir, &d, &lib), YW_EINVAL);
	yw_diags_print(&d, stdout);
	assert_true(has_diag(&d, "/steps.yml", 7, 24, "more entries than YW_MAX_SOLUTION_STEPS"));
	assert_int_equal(yw_solutions_count(lib), 0);
	int level = 0;
	struct yw_rule_info r = {.title = "x"};
	assert_null(yw_solutions_resolve(lib, &r, &level));
	assert_int_equal(level, -1);
	yw_solutions_free(lib);
	yw_diags_free(&d);
	yw_strbuf_free(&b);
	tmp_free(&t);
}

/* The bundled library loads without a single diagnostic, fast, and every entry is complete. */
static void test_bundled(void **state)
{
	(void)state;
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_solutions *lib = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = yw_solutions_load(YW_SOURCE_DIR "/rules/solutions", &d, &lib);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	yw_diags_print(&d, stdout);
	assert_int_equal(rc, 0);
	assert_non_null(lib);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("bundled library: %zu entries (%zu rule, %zu technique, %zu tactic, %zu generic) "
	       "in %.1f ms\n",
	       yw_solutions_count(lib), yw_solutions_count_kind(lib, YW_SOL_RULE),
	       yw_solutions_count_kind(lib, YW_SOL_TECHNIQUE),
	       yw_solutions_count_kind(lib, YW_SOL_TACTIC),
	       yw_solutions_count_kind(lib, YW_SOL_GENERIC), ms);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(yw_solutions_get(lib, YW_SOL_GENERIC, "default"));
	/* all 15 tactics (stealth and defense-impairment for ATT&CK v19) and the old name */
	static const char *const tactics[] = {
	    "reconnaissance",  "resource-development", "initial-access", "execution",
	    "persistence",     "privilege-escalation", "stealth",        "defense-impairment",
	    "defense-evasion", "credential-access",    "discovery",      "lateral-movement",
	    "collection",      "command-and-control",  "exfiltration",   "impact"};
	for (size_t i = 0; i < sizeof(tactics) / sizeof(tactics[0]); i++)
		assert_non_null(yw_solutions_get(lib, YW_SOL_TACTIC, tactics[i]));
	/* techniques live in techniques/<ID>.yml and name tactics the library has; rule
	 * solutions in rules/ */
	for (size_t i = 0; i < yw_solutions_count(lib); i++) {
		const struct yw_solution *s = yw_solutions_at(lib, i);
		const char *base = strrchr(s->file, '/') + 1;
		char want[64];
		if (s->kind == YW_SOL_TECHNIQUE) {
			snprintf(want, sizeof(want), "%s.yml", s->key);
			assert_string_equal(base, want);
			assert_non_null(strstr(s->file, "/techniques/"));
			assert_true(s->tactics.n > 0);
			for (size_t k = 0; k < s->tactics.n; k++)
				assert_non_null(
				    yw_solutions_get(lib, YW_SOL_TACTIC, s->tactics.v[k]));
			assert_true(s->references.n > 0);
		} else if (s->kind == YW_SOL_RULE) {
			assert_non_null(strstr(s->file, "/rules/"));
		}
		for (int k = 0; k < YW_SEC_N; k++)
			for (int l = 0; l < YW_LANG_N; l++)
				assert_true(s->sec[k][l].n > 0 && s->sec[k][l].v[0][0]);
	}
	assert_null(yw_solutions_at(lib, yw_solutions_count(lib)));
	yw_solutions_free(lib);
	yw_diags_free(&d);
	/* a generous bound for a shared, sanitized build; typically a few ms */
	assert_true(ms < 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resolution_order), cmocka_unit_test(test_render),
	    cmocka_unit_test(test_strict),           cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_bundled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
