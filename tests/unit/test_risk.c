/* The risk formula (src/server/risk.c, docs/risk.md): per-level points, decay, repeats,
 * saturation, the baseline and exposure parts, the fleet blend, and docs/risk.md's example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "yiwang/risk.h"

#define HOUR_NS    (3600LL * 1000000000LL)
#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_alert_points(void **state)
{
	struct yw_risk_params p;
	yw_risk_defaults(&p);
	NEAR(yw_risk_alert_points(&p, 4, 1, 0), 40);
	NEAR(yw_risk_alert_points(&p, 3, 1, 0), 20);
	NEAR(yw_risk_alert_points(&p, 2, 1, 0), 8);
	NEAR(yw_risk_alert_points(&p, 1, 1, 0), 3);
	NEAR(yw_risk_alert_points(&p, 0, 1, 0), 0);
	/* Out of range, no occurrence. */
	NEAR(yw_risk_alert_points(&p, 5, 1, 0), 0);
	NEAR(yw_risk_alert_points(&p, -1, 1, 0), 0);
	NEAR(yw_risk_alert_points(&p, 4, 0, 0), 0);
	/* Half-life 24 h; an alert from the future counts as fresh. */
	NEAR(yw_risk_alert_points(&p, 4, 1, 24 * HOUR_NS), 20);
	NEAR(yw_risk_alert_points(&p, 4, 1, 48 * HOUR_NS), 10);
	NEAR(yw_risk_alert_points(&p, 4, 1, -HOUR_NS), 40);
	/* Repeats: x(1 + log10 count). */
	NEAR(yw_risk_alert_points(&p, 3, 10, 0), 40);
	NEAR(yw_risk_alert_points(&p, 3, 100, 0), 60);
}

static void test_agent_score(void **state)
{
	struct yw_risk_params p;
	yw_risk_defaults(&p);
	struct yw_risk_parts parts;
	struct yw_risk_input in = {.sca_score = -1, .missing_updates = -1};
	NEAR(yw_risk_agent_score(&p, &in, &parts), 0);
	NEAR(parts.raw, 0);
	/* One fresh critical alert alone: 100 (1 - e^-0.8) = 55.07. */
	in.alert_points = 40;
	double one = yw_risk_agent_score(&p, &in, &parts);
	NEAR(one, 100 * (1 - exp(-0.8)));
	assert_true(one > 55 && one < 55.1);
	/* Saturating: never 100 exactly for finite input, never above, monotonic. */
	in.alert_points = 4000;
	double big = yw_risk_agent_score(&p, &in, NULL);
	assert_true(big <= 100 && big > 99.9);
	in.alert_points = 80;
	assert_true(yw_risk_agent_score(&p, &in, NULL) > one);
	/* Baseline: 25 points at 0 % passed, 0 at 100 %; clamped. */
	in = (struct yw_risk_input){.sca_score = 0, .missing_updates = -1};
	yw_risk_agent_score(&p, &in, &parts);
	NEAR(parts.sca, 25);
	in.sca_score = 100;
	yw_risk_agent_score(&p, &in, &parts);
	NEAR(parts.sca, 0);
	in.sca_score = 250;
	yw_risk_agent_score(&p, &in, &parts);
	NEAR(parts.sca, 0);
	/* Exposure: 2 a port up to 20; missing updates 1 each up to 20. */
	in = (struct yw_risk_input){.sca_score = -1, .ports = 3, .missing_updates = 5};
	yw_risk_agent_score(&p, &in, &parts);
	NEAR(parts.exposure, 6);
	NEAR(parts.updates, 5);
	in.ports = 500;
	in.missing_updates = 500;
	yw_risk_agent_score(&p, &in, &parts);
	NEAR(parts.exposure, 20);
	NEAR(parts.updates, 20);
	NEAR(parts.raw, 40);
	/* Negative alert points are not a discount. */
	in = (struct yw_risk_input){.alert_points = -50, .sca_score = -1, .missing_updates = -1};
	NEAR(yw_risk_agent_score(&p, &in, NULL), 0);
}

static void test_fleet(void **state)
{
	struct yw_risk_params p;
	yw_risk_defaults(&p);
	NEAR(yw_risk_fleet_score(&p, NULL, 0), 0);
	double one[] = {60};
	NEAR(yw_risk_fleet_score(&p, one, 1), 60);
	/* 20 agents, one at 90, the rest at 0: the worst decile is 2 agents (90, 0). The mean
	 * alone (4.5) would hide the compromised host; the blend shows it. */
	double s[20] = {0};
	s[7] = 90;
	double f = yw_risk_fleet_score(&p, s, 20);
	NEAR(f, 0.5 * 4.5 + 0.5 * 45);
	assert_true(s[0] == 90); /* sorted, worst first */
	/* Everyone equal: the fleet is that score. */
	double eq[5] = {30, 30, 30, 30, 30};
	NEAR(yw_risk_fleet_score(&p, eq, 5), 30);
}

/* The worked example of docs/risk.md. */
static void test_doc_example(void **state)
{
	struct yw_risk_params p;
	yw_risk_defaults(&p);
	double pts = yw_risk_alert_points(&p, 4, 1, 6 * HOUR_NS) +
	             yw_risk_alert_points(&p, 3, 25, 0) + yw_risk_alert_points(&p, 2, 1, 0);
	struct yw_risk_input in = {
	    .alert_points = pts, .sca_score = 62, .ports = 4, .missing_updates = -1};
	struct yw_risk_parts parts;
	double score = yw_risk_agent_score(&p, &in, &parts);
	NEAR(parts.alerts, 40 * pow(2, -0.25) + 20 * (1 + log10(25)) + 8);
	assert_true(fabs(parts.alerts - 89.59) < 0.01);
	NEAR(parts.sca, 9.5);
	NEAR(parts.exposure, 8);
	assert_true(fabs(parts.raw - 107.09) < 0.01);
	assert_true(fabs(score - 88.26) < 0.01);
	double fleet[10] = {score, 20, 10, 5, 0, 0, 0, 0, 0, 0};
	double f = yw_risk_fleet_score(&p, fleet, 10);
	assert_true(fabs(f - 50.29) < 0.01);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_points),
	    cmocka_unit_test(test_agent_score),
	    cmocka_unit_test(test_fleet),
	    cmocka_unit_test(test_doc_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
