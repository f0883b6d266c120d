/* SCA collector: runs the checks of its policies every interval and turns results into events:
 * every result at the first run without saved state, then only the checks whose result
 * changed, plus a summary with the pass rate. Event shapes: docs/sca.md. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"
#include "yiwang/fsutil.h"
#include "yiwang/log.h"
#include "yiwang/sca.h"
#include "yiwang/strbuf.h"

#define STATE_HEADER        "yiwang-sca 1\n"
#define MAX_POLICIES        64
#define DEFAULT_INTERVAL_MS 3600000

struct pol {
	struct yw_sca_policy *p;
	signed char *result; /* per check: enum yw_sca_result, or -1 = unknown */
	bool applies;
	bool changed;    /* a result changed in the current run */
	bool summarised; /* a summary was sent since start */
};

struct sca_col {
	char *state_path;
	int64_t interval_ms, next_ms;
	struct yw_sca_ctx *ctx;
	struct pol pols[MAX_POLICIES];
	size_t npols;
	char **problems; /* diagnostics to report as events, then freed */
	size_t nproblems, problems_sent;
	/* the run in progress */
	bool running;
	size_t pi, ci;
	bool summary_due;
	struct yw_strbuf ev; /* an event built but not yet taken by the sink */
	bool ev_pending;
	int ev_result; /* result the pending check event records, -1 for other events */
	bool dirty;
	/* results from the state file, matched to checks at init */
	char *saved;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int put_ts(struct yw_strbuf *b, int64_t *ns_out)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*ns_out = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	return yw_strbuf_printf(b, "{\"@timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
	                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                        tm.tm_sec, ts.tv_nsec / 1000000);
}

static int kv(struct yw_strbuf *b, const char *k, const char *v)
{
	if (!v)
		return 0;
	int rc = yw_strbuf_printf(b, ",\"%s\":", k);
	return rc ? rc : yw_strbuf_json_str(b, v, strlen(v));
}

/* A JSON array of strings; nothing when the list is empty. */
static int kv_list(struct yw_strbuf *b, const char *k, char *const *v, size_t n)
{
	if (!n)
		return 0;
	int rc = yw_strbuf_printf(b, ",\"%s\":[", k);
	for (size_t i = 0; !rc && i < n; i++) {
		if (i)
			rc = yw_strbuf_putc(b, ',');
		if (!rc)
			rc = yw_strbuf_json_str(b, v[i], strlen(v[i]));
	}
	return rc ? rc : yw_strbuf_putc(b, ']');
}

static int common(struct yw_strbuf *b, const char *kind, const char *action,
                  const struct yw_sca_policy *p, int64_t *ts)
{
	yw_strbuf_reset(b);
	int rc = put_ts(b, ts);
	if (!rc)
		rc = yw_strbuf_printf(
		    b,
		    ",\"event.kind\":\"%s\",\"event.category\":\"configuration\","
		    "\"event.type\":\"info\",\"event.module\":\"sca\","
		    "\"event.dataset\":\"sca\",\"event.action\":\"%s\","
		    "\"logsource.product\":\"linux\",\"logsource.service\":\"sca\"",
		    kind, action);
	if (!rc && p) {
		rc = kv(b, "yiwang.sca.policy", p->id);
		if (!rc)
			rc = kv(b, "yiwang.sca.policy_name", p->name);
		if (!rc)
			rc = kv(b, "rule.ruleset", p->benchmark);
		if (!rc)
			rc = kv(b, "yiwang.sca.policy_file", p->file);
	}
	return rc;
}

static int build_check(struct yw_strbuf *b, const struct yw_sca_policy *p,
                       const struct yw_sca_check *c, int res, int prev, const char *reason,
                       int64_t *ts)
{
	int rc = common(b, "state", "sca_check", p, ts);
	static const char *const outcome[] = {"success", "failure", "unknown"};
	if (!rc)
		rc = yw_strbuf_printf(b, ",\"event.outcome\":\"%s\"", outcome[res]);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.id", c->id);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.title", c->title);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.title_zh", c->title_zh);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.result", yw_sca_result_name(res));
	if (!rc && prev >= 0)
		rc = kv(b, "yiwang.sca.check.previous_result", yw_sca_result_name(prev));
	if (!rc)
		rc = kv(b, "yiwang.sca.check.reason", reason);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.description", c->description);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.rationale", c->rationale);
	if (!rc)
		rc = kv(b, "yiwang.sca.check.remediation", c->remediation);
	if (!rc)
		rc = kv_list(b, "yiwang.sca.compliance.cis", c->cis, c->ncis);
	if (!rc)
		rc = kv_list(b, "yiwang.sca.compliance.gbt22239", c->gbt, c->ngbt);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

static int build_summary(struct yw_strbuf *b, const struct pol *pl, int64_t *ts)
{
	const struct yw_sca_policy *p = pl->p;
	int rc = common(b, "state", "sca_summary", p, ts);
	size_t n[3] = {0, 0, 0};
	for (size_t i = 0; i < p->nchecks; i++)
		if (pl->result[i] >= 0)
			n[pl->result[i]]++;
	if (!rc && !pl->applies)
		return yw_strbuf_puts(b, ",\"yiwang.sca.applies\":false,\"yiwang.sca.reason\":"
		                         "\"the host's /etc/os-release does not match os_like\"}");
	if (!rc)
		rc =
		    yw_strbuf_printf(b,
		                     ",\"yiwang.sca.applies\":true,\"yiwang.sca.checks\":%zu,"
		                     "\"yiwang.sca.passed\":%zu,\"yiwang.sca.failed\":%zu,"
		                     "\"yiwang.sca.not_applicable\":%zu,\"yiwang.sca.invalid\":%zu",
		                     p->nchecks, n[0], n[1], n[2], p->nbad);
	/* pass rate over the checks that apply, in whole percent */
	if (!rc && n[0] + n[1])
		rc = yw_strbuf_printf(b, ",\"yiwang.sca.score\":%zu",
		                      (n[0] * 100 + (n[0] + n[1]) / 2) / (n[0] + n[1]));
	return rc ? rc : yw_strbuf_putc(b, '}');
}

static int build_problem(struct yw_strbuf *b, const char *msg, int64_t *ts)
{
	int rc = common(b, "event", "sca_policy_error", NULL, ts);
	if (!rc)
		rc = yw_strbuf_puts(b, ",\"log.level\":\"error\"");
	if (!rc)
		rc = kv(b, "error.message", msg);
	return rc ? rc : yw_strbuf_putc(b, '}');
}

/* Offers the pending event; on success the caller records what it stood for. */
static int offer(struct sca_col *s, yw_record_sink sink, void *ud, const char *source, int64_t ts)
{
	struct yw_record rec = {.ts_ns = ts,
	                        .kind = YW_REC_EVENT,
	                        .source = source,
	                        .source_len = (uint16_t)strlen(source),
	                        .data = s->ev.data,
	                        .len = (uint32_t)s->ev.len};
	int rc = sink(ud, &rec, NULL, 0);
	if (rc == 0)
		s->ev_pending = false;
	return rc;
}

/* ---- state file: "yiwang-sca 1", then "policy\tcheck\tresult" lines ---- */

static int load_state(struct sca_col *s)
{
	FILE *f = fopen(s->state_path, "re");
	if (!f)
		return errno == ENOENT ? 0 : YW_EIO;
	struct yw_strbuf b;
	yw_strbuf_init(&b, YW_SCA_MAX_STATE);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = yw_strbuf_append(&b, chunk, n);
	fclose(f);
	if (rc == YW_ELIMIT || !b.data || strncmp(b.data, STATE_HEADER, strlen(STATE_HEADER))) {
		yw_strbuf_free(&b); /* damaged or foreign: the next run reports everything */
		return rc == YW_ENOMEM ? rc : 0;
	}
	s->saved = b.data;
	return 0;
}

static void apply_saved(struct sca_col *s, struct pol *pl)
{
	if (!s->saved)
		return;
	char *line = s->saved + strlen(STATE_HEADER);
	size_t plen = strlen(pl->p->id);
	while (*line) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *t1 = memchr(line, '\t', len);
		char *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - line)) : NULL;
		if (t2 && (size_t)(t1 - line) == plen && !memcmp(line, pl->p->id, plen)) {
			int r = t2[1] - '0';
			size_t cl = (size_t)(t2 - t1 - 1);
			for (size_t i = 0; r >= 0 && r <= 2 && i < pl->p->nchecks; i++)
				if (strlen(pl->p->checks[i].id) == cl &&
				    !memcmp(pl->p->checks[i].id, t1 + 1, cl))
					pl->result[i] = (signed char)r;
		}
		line += len + (nl ? 1 : 0);
	}
}

static int sca_commit(void *state)
{
	struct sca_col *s = state;
	if (!s->state_path || !s->dirty)
		return 0;
	struct yw_strbuf b;
	yw_strbuf_init(&b, YW_SCA_MAX_STATE);
	int rc = yw_strbuf_puts(&b, STATE_HEADER);
	for (size_t i = 0; !rc && i < s->npols; i++)
		for (size_t j = 0; !rc && j < s->pols[i].p->nchecks; j++)
			if (s->pols[i].result[j] >= 0)
				rc = yw_strbuf_printf(&b, "%s\t%s\t%d\n", s->pols[i].p->id,
				                      s->pols[i].p->checks[j].id,
				                      s->pols[i].result[j]);
	if (!rc)
		rc = yw_write_file_atomic(s->state_path, b.data, b.len, 0600);
	yw_strbuf_free(&b);
	if (!rc)
		s->dirty = false;
	return rc;
}

/* ---- the run ---- */

static int sca_poll(void *state, yw_record_sink sink, void *ud)
{
	struct sca_col *s = state;
	int64_t now = mono_ms(), deadline = now + YW_SCA_POLL_BUDGET_MS, ts;
	int count = 0, rc;
	char source[300];

	/* problems found while loading policies go out first, once */
	while (s->problems_sent < s->nproblems) {
		if (!s->ev_pending) {
			if ((rc = build_problem(&s->ev, s->problems[s->problems_sent], &ts)) != 0)
				return rc;
			s->ev_pending = true;
		}
		if ((rc = offer(s, sink, ud, "sca", ts)) != 0)
			return rc == YW_SINK_FULL ? count : rc;
		s->problems_sent++;
		count++;
	}
	if (!s->running) {
		if (now < s->next_ms)
			return count;
		s->running = true;
		s->pi = s->ci = 0;
		s->summary_due = false;
		yw_sca_ctx_reset(s->ctx);
		for (size_t i = 0; i < s->npols; i++) {
			s->pols[i].applies = yw_sca_applies(s->ctx, s->pols[i].p);
			s->pols[i].changed = false;
		}
	}
	while (s->pi < s->npols) {
		struct pol *pl = &s->pols[s->pi];
		snprintf(source, sizeof(source), "sca:%s", pl->p->id);
		while (pl->applies && s->ci < pl->p->nchecks) {
			const struct yw_sca_check *c = &pl->p->checks[s->ci];
			if (!s->ev_pending) {
				if (mono_ms() >= deadline)
					return count; /* continue next tick */
				char reason[512];
				int res = yw_sca_eval(s->ctx, c, reason, sizeof(reason));
				int prev = pl->result[s->ci];
				if (res == prev) {
					s->ci++;
					continue;
				}
				if ((rc = build_check(&s->ev, pl->p, c, res, prev, reason, &ts)) !=
				    0)
					return rc;
				s->ev_pending = true;
				s->ev_result = res;
			}
			if ((rc = offer(s, sink, ud, source, ts)) != 0)
				return rc == YW_SINK_FULL ? count : rc;
			count++;
			pl->result[s->ci] = (signed char)s->ev_result;
			pl->changed = true;
			s->dirty = true;
			s->ci++;
		}
		if (pl->changed || !pl->summarised) {
			if (!s->ev_pending) {
				if ((rc = build_summary(&s->ev, pl, &ts)) != 0)
					return rc;
				s->ev_pending = true;
			}
			if ((rc = offer(s, sink, ud, source, ts)) != 0)
				return rc == YW_SINK_FULL ? count : rc;
			count++;
			pl->summarised = true;
		}
		s->pi++;
		s->ci = 0;
	}
	s->running = false;
	s->next_ms = mono_ms() + s->interval_ms;
	return count;
}

static int sca_fd(void *state)
{
	return -1;
}

static void sca_exit(void *state)
{
	struct sca_col *s = state;
	if (!s)
		return;
	for (size_t i = 0; i < s->npols; i++) {
		yw_sca_policy_free(s->pols[i].p);
		free(s->pols[i].result);
	}
	for (size_t i = 0; i < s->nproblems; i++)
		free(s->problems[i]);
	free(s->problems);
	yw_sca_ctx_free(s->ctx);
	yw_strbuf_free(&s->ev);
	free(s->state_path);
	free(s->saved);
	free(s);
}

static int add_problem(struct sca_col *s, const char *msg)
{
	if (s->nproblems >= 256)
		return 0; /* the first ones say enough */
	char **n = realloc(s->problems, (s->nproblems + 1) * sizeof(*n));
	if (!n)
		return YW_ENOMEM;
	s->problems = n;
	if (!(s->problems[s->nproblems] = strdup(msg)))
		return YW_ENOMEM;
	s->nproblems++;
	return 0;
}

/* Loads one policy file; its diagnostics become events and log lines, never a failure. */
static int add_policy(struct sca_col *s, const char *path)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_sca_policy *p = NULL;
	int lrc = yw_sca_policy_load(path, &p, &d);
	int rc = 0;
	for (size_t i = 0; i < d.n && !rc; i++) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s:%u:%u: %s: %s", d.v[i].file, d.v[i].line, d.v[i].col,
		         d.v[i].level == YW_DIAG_ERROR ? "error" : "warning", d.v[i].msg);
		yw_logf(YW_LOG_WARNING, "sca: %s", msg);
		rc = add_problem(s, msg);
	}
	yw_diags_free(&d);
	if (lrc == YW_ENOMEM || rc) {
		yw_sca_policy_free(p);
		return YW_ENOMEM;
	}
	if (!p)
		return 0;
	for (size_t i = 0; i < s->npols; i++) {
		if (!strcmp(s->pols[i].p->id, p->id)) {
			char msg[600];
			snprintf(msg, sizeof(msg), "%s: policy id '%s' already loaded from %s",
			         path, p->id, s->pols[i].p->file);
			yw_sca_policy_free(p);
			return add_problem(s, msg);
		}
	}
	if (s->npols == MAX_POLICIES) {
		yw_sca_policy_free(p);
		return add_problem(s, "too many SCA policies; the rest are ignored");
	}
	struct pol *pl = &s->pols[s->npols];
	if (!(pl->result = malloc(p->nchecks ? p->nchecks : 1))) {
		yw_sca_policy_free(p);
		return YW_ENOMEM;
	}
	memset(pl->result, -1, p->nchecks ? p->nchecks : 1);
	pl->p = p;
	s->npols++;
	apply_saved(s, pl);
	return 0;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
		*out = false;
	else
		return false;
	return true;
}

static int sca_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                    size_t nopts, void **state)
{
	*state = NULL;
	struct sca_col *s = calloc(1, sizeof(*s));
	if (!s)
		return YW_ENOMEM;
	yw_strbuf_init(&s->ev, YW_MAX_RECORD_DATA);
	s->interval_ms = DEFAULT_INTERVAL_MS;
	struct yw_sca_opts so = {.allow_commands = true};
	const char *user = "nobody";
	int rc = YW_EINVAL;
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		if (!k || !v)
			goto fail;
		if (!strcmp(k, "policy")) {
			continue; /* after the context exists */
		} else if (!strcmp(k, "interval_ms")) {
			char *end;
			errno = 0;
			long long x = strtoll(v, &end, 10);
			if (errno || end == v || *end || x < 1000 || x > 7LL * 86400000)
				goto fail;
			s->interval_ms = x;
		} else if (!strcmp(k, "root")) {
			so.root = v;
		} else if (!strcmp(k, "allow_commands")) {
			if (!parse_bool(v, &so.allow_commands))
				goto fail;
		} else if (!strcmp(k, "command_user")) {
			user = v;
		} else {
			goto fail;
		}
	}
	if (strcmp(user, "root") != 0) {
		struct passwd *pw = getpwnam(user);
		if (!pw) {
			yw_logf(YW_LOG_ERROR, "sca: command_user '%s' does not exist", user);
			goto fail;
		}
		so.drop_privs = true;
		so.run_uid = pw->pw_uid;
		so.run_gid = pw->pw_gid;
	}
	if ((rc = yw_sca_ctx_new(&so, &s->ctx)) != 0)
		goto fail;
	if (env && env->state_path) {
		rc = YW_ENOMEM;
		if (!(s->state_path = strdup(env->state_path)))
			goto fail;
		if ((rc = load_state(s)) != 0)
			goto fail;
	}
	size_t npolicy = 0;
	for (size_t i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "policy") != 0)
			continue;
		npolicy++;
		glob_t g;
		int gr = glob(opts[i].value, 0, NULL, &g);
		if (gr == GLOB_NOMATCH) {
			char msg[600];
			snprintf(msg, sizeof(msg), "%s: no policy file matches", opts[i].value);
			yw_logf(YW_LOG_WARNING, "sca: %s", msg);
			rc = add_problem(s, msg);
		} else if (gr != 0) {
			rc = YW_ENOMEM;
		} else {
			rc = 0;
			for (size_t j = 0; j < g.gl_pathc && !rc; j++)
				rc = add_policy(s, g.gl_pathv[j]);
			globfree(&g);
		}
		if (rc)
			goto fail;
	}
	free(s->saved); /* every policy took its results */
	s->saved = NULL;
	rc = YW_EINVAL;
	if (!npolicy)
		goto fail;
	*state = s;
	return 0;
fail:
	sca_exit(s);
	return rc;
}

const struct yw_collector_ops yw_collector_sca = {
    .name = "sca",
    .init = sca_init,
    .fd = sca_fd,
    .poll = sca_poll,
    .commit = sca_commit,
    .exit = sca_exit,
};
