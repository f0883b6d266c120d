/* The SQLite backend's alert triage: what ingest does with each alert (suppression,
 * de-duplication, incidents), the inputs of the risk score carried by events, the alert
 * lifecycle with its audit trail, incidents, suppressions and risk (docs/storage.md,
 * docs/risk.md). */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sqlite_int.h"
#include "yiwang/risk.h"

#define OPEN_STATUS "status IN ('new', 'acknowledged')"

static const char *const tsql[T_COUNT] = {
    [T_BEGIN] = "BEGIN IMMEDIATE",
    [T_COMMIT] = "COMMIT",
    [T_ROLLBACK] = "ROLLBACK",
    [T_DEDUP_FIND] = "SELECT id FROM alerts WHERE agent = ?1 AND rule_id = ?2 AND dedup_key = ?3"
                     " AND last_seen >= ?4 AND " OPEN_STATUS " ORDER BY last_seen DESC LIMIT 1",
    [T_DEDUP_BUMP] = "UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?2)"
                     " WHERE id = ?1",
    [T_INC_TOUCH] = "UPDATE incidents SET updated_at = max(updated_at, ?2) WHERE closed_at = 0"
                    " AND id IN (SELECT incident FROM incident_alerts WHERE alert = ?1)",
    [T_ALERT_ADD] = "INSERT INTO alerts (agent, seq, rule_id, title, level, tags, event_ts,"
                    " created_at, event, dedup_key, first_seen, last_seen)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?8, ?8)",
    [T_INC_FIND] = "SELECT id, updated_at FROM incidents WHERE kind = ?1 AND key = ?2"
                   " AND closed_at = 0 ORDER BY id DESC LIMIT 1",
    [T_INC_CLOSE] = "UPDATE incidents SET closed_at = ?2 WHERE id = ?1",
    [T_INC_OPEN] = "INSERT INTO incidents (kind, key, opened_at, updated_at)"
                   " VALUES (?1, ?2, ?3, ?3)",
    [T_INC_LINK] = "INSERT INTO incident_alerts (incident, alert) VALUES (?1, ?2)"
                   " ON CONFLICT DO NOTHING",
    [T_INC_ADD] = "UPDATE incidents SET alert_count = alert_count + 1,"
                  " max_level = max(max_level, ?3), updated_at = max(updated_at, ?2)"
                  " WHERE id = ?1",
    [T_SCA_SET] = "UPDATE agents SET sca_score = ?2 WHERE num = ?1",
    [T_INV_PUT] = "INSERT INTO inventory (agent, dataset, key, data, snapshot, updated_at)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (agent, dataset, key) DO UPDATE"
                  " SET data = excluded.data, snapshot = excluded.snapshot,"
                  " updated_at = excluded.updated_at",
    [T_INV_DEL] = "DELETE FROM inventory WHERE agent = ?1 AND dataset = ?2 AND key = ?3",
    [T_INV_SNAP_END] = "DELETE FROM inventory WHERE agent = ?1 AND snapshot < ?2",
    [T_INV_HIST] = "INSERT INTO inventory_history (agent, ts, dataset, key, action, data)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [T_PORT_ADD] = "INSERT INTO agent_ports (agent, key, exposed, snapshot)"
                   " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (agent, key) DO UPDATE SET"
                   " exposed = excluded.exposed, snapshot = max(snapshot, excluded.snapshot)",
    [T_PORT_DEL] = "DELETE FROM agent_ports WHERE agent = ?1 AND key = ?2",
    [T_PORT_SNAP_END] = "DELETE FROM agent_ports WHERE agent = ?1 AND snapshot < ?2",
    [T_SUPP_HIT] = "UPDATE suppressions SET hits = hits + ?2 WHERE id = ?1",
    [T_SUPP_ADD] = "INSERT INTO suppressions (rule_id, agent_id, field, value, expires_at,"
                   " created_at, who, why) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [T_SUPP_DEL] = "DELETE FROM suppressions WHERE id = ?1",
    [T_SUPP_LOAD] = "SELECT id, rule_id, agent_id, field, value, expires_at FROM suppressions"
                    " ORDER BY id",
    [T_ALERT_STATUS] = "SELECT status FROM alerts WHERE id = ?1",
    [T_ALERT_ACK] = "UPDATE alerts SET status = 'acknowledged', ack_by = ?2, ack_at = ?3,"
                    " ack_comment = ?4 WHERE id = ?1",
    [T_ALERT_CLOSE] = "UPDATE alerts SET status = ?5, closed_by = ?2, closed_at = ?3,"
                      " closed_comment = ?4 WHERE id = ?1",
    /* The verdicts of the closed episode stay in the audit trail. */
    [T_ALERT_REOPEN] = "UPDATE alerts SET status = 'new', ack_by = '', ack_at = 0,"
                       " ack_comment = '', closed_by = '', closed_at = 0, closed_comment = ''"
                       " WHERE id = ?1",
    [T_HIST_ADD] = "INSERT INTO alert_events (alert, ts, action, from_status, to_status, who,"
                   " comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [T_INC_CLOSE_DONE] = "UPDATE incidents SET closed_at = ?2 WHERE closed_at = 0 AND id IN"
                         " (SELECT incident FROM incident_alerts WHERE alert = ?1) AND NOT EXISTS"
                         " (SELECT 1 FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert"
                         " WHERE ia.incident = incidents.id AND a." OPEN_STATUS ")",
    [T_RISK_AGENTS] = "SELECT num, id, name, sca_score, (SELECT count(*) FROM agent_ports p"
                      " WHERE p.agent = agents.num AND p.exposed = 1)"
                      " FROM agents WHERE revoked_at = 0 ORDER BY num",
    [T_RISK_ALERTS] = "SELECT agent, level, count, last_seen FROM alerts WHERE " OPEN_STATUS,
    [T_RISK_ADD] = "INSERT INTO risk_history (ts, scope, score) VALUES (?1, ?2, ?3)",
    [T_RISK_TRIM] = "DELETE FROM risk_history WHERE scope = ?1 AND ts < ?2",
};

static const char *const usql[U_COUNT] = {
    [U_BEGIN] = "BEGIN",
    [U_COMMIT] = "COMMIT",
    [U_HISTORY] = "SELECT id, alert, ts, action, from_status, to_status, who, comment"
                  " FROM alert_events WHERE alert = ?1 ORDER BY id",
    [U_INCIDENTS] = "SELECT i.id, i.kind, i.key, i.opened_at, i.updated_at, i.closed_at,"
                    " i.alert_count, i.max_level, (SELECT count(DISTINCT a.agent)"
                    " FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert"
                    " WHERE ia.incident = i.id) FROM incidents i"
                    " WHERE ?1 = 0 OR i.closed_at = 0 ORDER BY i.id DESC",
    [U_SUPP_LIST] = "SELECT id, rule_id, agent_id, field, value, expires_at, created_at, who,"
                    " why, hits FROM suppressions ORDER BY id",
    [U_RISK_AGENTS] = "SELECT num, id, name, sca_score, (SELECT count(*) FROM agent_ports p"
                      " WHERE p.agent = agents.num AND p.exposed = 1)"
                      " FROM agents WHERE revoked_at = 0 ORDER BY num",
    [U_RISK_ALERTS] = "SELECT agent, level, count, last_seen FROM alerts WHERE " OPEN_STATUS,
    [U_RISK_HISTORY] = "SELECT ts, scope, score FROM risk_history WHERE scope = ?1"
                       " AND ts >= ?2 ORDER BY ts",
    [U_INV_ALL] = "SELECT i.dataset, i.key, i.data, i.updated_at FROM inventory i"
                  " JOIN agents a ON a.num = i.agent WHERE a.id = ?1 ORDER BY i.dataset, i.key",
    [U_INV_DATASET] = "SELECT i.dataset, i.key, i.data, i.updated_at FROM inventory i"
                      " JOIN agents a ON a.num = i.agent WHERE a.id = ?1 AND i.dataset = ?2"
                      " ORDER BY i.key",
    [U_INV_HISTORY] =
        "SELECT h.id, h.ts, h.dataset, h.key, h.action, h.data FROM inventory_history h"
        " JOIN agents a ON a.num = h.agent WHERE a.id = ?1 AND h.id > ?2"
        " ORDER BY h.id LIMIT ?3",
};

int yw_sqlite_triage_prepare(struct sqlite_store *s)
{
	int err = 0;
	for (int i = 0; i < T_COUNT && err == 0; i++)
		err = prepare(s->w, tsql[i], &s->ts[i]);
	for (int i = 0; i < U_COUNT && err == 0; i++)
		err = prepare(s->r, usql[i], &s->us[i]);
	return err;
}

static void supps_free(struct sqlite_store *s)
{
	for (size_t i = 0; i < s->nsupps; i++) {
		free(s->supps[i].rule_id);
		free(s->supps[i].agent_id);
		free(s->supps[i].field);
		free(s->supps[i].value);
	}
	free(s->supps);
	s->supps = NULL;
	s->nsupps = 0;
}

void yw_sqlite_triage_close(struct sqlite_store *s)
{
	for (int i = 0; i < T_COUNT; i++)
		sqlite3_finalize(s->ts[i]);
	for (int i = 0; i < U_COUNT; i++)
		sqlite3_finalize(s->us[i]);
	supps_free(s);
}

static int64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int t_begin(struct sqlite_store *s)
{
	return run(s->ts[T_BEGIN]);
}

static int t_finish(struct sqlite_store *s, int err)
{
	if (err == 0) {
		err = run(s->ts[T_COMMIT]);
		if (err == 0)
			return 0;
	}
	if (!sqlite3_get_autocommit(s->w))
		run(s->ts[T_ROLLBACK]);
	return err;
}

/* Steps a one-row query; *found says whether there was a row (left for the caller to read,
 * then reset). */
static int step_one(sqlite3_stmt *q, int *found)
{
	int rc = sqlite3_step(q);
	*found = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static char *dup_col(sqlite3_stmt *q, int i, int *err)
{
	if (sqlite3_column_type(q, i) == SQLITE_NULL)
		return NULL;
	char *v = strdup(col_text(q, i));
	if (!v)
		*err = YW_ENOMEM;
	return v;
}

/* ---- ingest: suppressions ---- */

static int supps_load(struct sqlite_store *s)
{
	supps_free(s);
	sqlite3_stmt *q = s->ts[T_SUPP_LOAD];
	int rc = SQLITE_DONE, err = 0;
	size_t cap = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (s->nsupps == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct supp *n = realloc(s->supps, nc * sizeof(*n));
			if (!n) {
				err = YW_ENOMEM;
				break;
			}
			s->supps = n;
			cap = nc;
		}
		struct supp *p = &s->supps[s->nsupps++];
		*p = (struct supp){.id = sqlite3_column_int64(q, 0),
		                   .expires_at = sqlite3_column_int64(q, 5)};
		p->rule_id = dup_col(q, 1, &err);
		p->agent_id = dup_col(q, 2, &err);
		p->field = dup_col(q, 3, &err);
		p->value = dup_col(q, 4, &err);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	if (err)
		supps_free(s);
	s->supps_stale = err != 0;
	return err;
}

/* The text of a top-level evidence field, in buf when it is not a string. */
static const char *field_text(json_t *ev, const char *name, char *buf, size_t n)
{
	json_t *v = json_object_get(ev, name);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL;
	return buf;
}

static struct supp *suppressed_by(struct sqlite_store *s, const struct yw_store_alert *a,
                                  const char *agent_id, json_t *ev, int64_t now)
{
	for (size_t i = 0; i < s->nsupps; i++) {
		struct supp *p = &s->supps[i];
		if (p->expires_at && p->expires_at <= now)
			continue;
		if (p->rule_id && strcmp(p->rule_id, a->rule_id) != 0)
			continue;
		if (p->agent_id && strcmp(p->agent_id, agent_id) != 0)
			continue;
		if (p->field) {
			char buf[64];
			const char *v = field_text(ev, p->field, buf, sizeof(buf));
			if (!v || !p->value || strcmp(v, p->value) != 0)
				continue;
		}
		return p;
	}
	return NULL;
}

/* ---- ingest: de-duplication and incidents ---- */

static void copy_key(char *out, const char *v)
{
	size_t n = strlen(v);
	if (n > YW_STORE_MAX_DEDUP_KEY)
		n = YW_STORE_MAX_DEDUP_KEY;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* The caller's key, else the correlation group, else source.ip, else user.name, else "". */
static int dedup_key(const struct yw_store_alert *a, json_t *ev, char *out)
{
	out[0] = '\0';
	if (a->dedup_key) {
		copy_key(out, a->dedup_key);
		return 0;
	}
	json_t *g = json_object_get(ev, "yiwang.correlation.group");
	if (json_is_object(g) && json_object_size(g)) {
		char *t = json_dumps(g, JSON_COMPACT | JSON_SORT_KEYS);
		if (!t)
			return YW_ENOMEM;
		copy_key(out, t);
		free(t);
		return 0;
	}
	const char *names[] = {"source.ip", "user.name"};
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(ev, names[i]);
		if (json_is_string(v) && json_string_length(v)) {
			copy_key(out, json_string_value(v));
			break;
		}
	}
	return 0;
}

/* An open alert the new one repeats, or 0. */
static int find_repeat(struct sqlite_store *s, int64_t num, const struct yw_store_alert *a,
                       const char *key, int64_t now, int64_t *id)
{
	sqlite3_stmt *q = s->ts[T_DEDUP_FIND];
	int found;
	sqlite3_bind_int64(q, 1, num);
	bind_text(q, 2, a->rule_id);
	bind_text(q, 3, key);
	sqlite3_bind_int64(q, 4, now - s->dedup_window);
	int err = step_one(q, &found);
	*id = found ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	return err;
}

static int count_repeat(struct sqlite_store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *q = s->ts[T_DEDUP_BUMP];
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	int err = run(q);
	if (err == 0) {
		q = s->ts[T_INC_TOUCH];
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, now);
		err = run(q);
	}
	return err;
}

static int insert_alert(struct sqlite_store *s, int64_t num, const struct yw_store_batch *b,
                        const struct yw_store_alert *a, const char *event, const char *key,
                        int64_t *id)
{
	const struct yw_record *r = &b->records[a->record];
	sqlite3_stmt *q = s->ts[T_ALERT_ADD];
	sqlite3_bind_int64(q, 1, num);
	sqlite3_bind_int64(q, 2, (int64_t)r->seq);
	bind_text(q, 3, a->rule_id);
	bind_text(q, 4, a->title);
	sqlite3_bind_int(q, 5, a->level);
	bind_text(q, 6, a->tags ? a->tags : "[]");
	sqlite3_bind_int64(q, 7, r->ts_ns);
	sqlite3_bind_int64(q, 8, b->now);
	bind_text(q, 9, event);
	bind_text(q, 10, key);
	int err = run(q);
	*id = sqlite3_last_insert_rowid(s->w);
	return err;
}

/* Links a new alert to the open incident of (kind, key), opening one if there is none or the
 * open one has been idle for longer than the incident window. */
static int link_incident(struct sqlite_store *s, const char *kind, const char *key, int64_t alert,
                         int level, int64_t now)
{
	sqlite3_stmt *q = s->ts[T_INC_FIND];
	int found;
	bind_text(q, 1, kind);
	bind_text(q, 2, key);
	int err = step_one(q, &found);
	int64_t id = found ? sqlite3_column_int64(q, 0) : 0;
	int64_t updated = found ? sqlite3_column_int64(q, 1) : 0;
	sqlite3_reset(q);
	if (err == 0 && id && now - updated > s->incident_window) {
		q = s->ts[T_INC_CLOSE];
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, now);
		err = run(q);
		id = 0;
	}
	if (err == 0 && !id) {
		q = s->ts[T_INC_OPEN];
		bind_text(q, 1, kind);
		bind_text(q, 2, key);
		sqlite3_bind_int64(q, 3, now);
		err = run(q);
		id = sqlite3_last_insert_rowid(s->w);
	}
	if (err == 0) {
		q = s->ts[T_INC_LINK];
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, alert);
		err = run(q);
	}
	if (err == 0) {
		q = s->ts[T_INC_ADD];
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, now);
		sqlite3_bind_int(q, 3, level);
		err = run(q);
	}
	return err;
}

static int triage_alert(struct sqlite_store *s, int64_t num, const char *agent_id,
                        const struct yw_store_batch *b, const struct yw_store_alert *a,
                        uint64_t by_level[YW_LEVEL_COUNT], unsigned char *outcome)
{
	const char *event = a->event ? a->event : b->events ? b->events[a->record] : NULL;
	json_t *ev = event && *event == '{' ? json_loads(event, 0, NULL) : NULL;
	char key[YW_STORE_MAX_DEDUP_KEY + 1];
	int64_t id = 0;
	int err = 0;
	struct supp *sp = s->nsupps ? suppressed_by(s, a, agent_id, ev, b->now) : NULL;
	if (sp) {
		sp->hits++;
		*outcome = YW_STORE_ALERT_SUPPRESSED;
		goto out;
	}
	err = dedup_key(a, ev, key);
	if (err == 0 && s->dedup_window >= 0)
		err = find_repeat(s, num, a, key, b->now, &id);
	if (err == 0 && id) {
		err = count_repeat(s, id, b->now);
		if (err == 0)
			err = yw_sqlite_situation_count(s, a, b->now, 0);
		*outcome = YW_STORE_ALERT_REPEAT;
		goto out;
	}
	if (err == 0)
		err = insert_alert(s, num, b, a, event, key, &id);
	if (err == 0)
		err = yw_sqlite_situation_count(s, a, b->now, 1);
	if (err)
		goto out;
	by_level[a->level]++;
	*outcome = YW_STORE_ALERT_NEW;
	err = link_incident(s, "agent", agent_id, id, a->level, b->now);
	json_t *ip = json_object_get(ev, "source.ip");
	if (err == 0 && json_is_string(ip) && json_string_length(ip) &&
	    json_string_length(ip) <= YW_MAX_STORE_TEXT)
		err = link_incident(s, "source", json_string_value(ip), id, a->level, b->now);
out:
	json_decref(ev);
	return err;
}

/* ---- ingest: risk inputs from events ---- */

static int is_loopback(const char *ip)
{
	return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1") || !strncmp(ip, "::ffff:127.", 11);
}

static int port_event(struct sqlite_store *s, int64_t num, const char *event, int add)
{
	json_t *ev = json_loads(event, 0, NULL);
	if (!ev)
		return 0; /* not ours to judge: the event is stored as it came */
	char key[YW_MAX_STORE_TEXT + 1], pbuf[32];
	const char *proto = json_string_value(json_object_get(ev, "network.transport"));
	const char *ip = json_string_value(json_object_get(ev, "server.ip"));
	const char *port = field_text(ev, "server.port", pbuf, sizeof(pbuf));
	int64_t snap = json_integer_value(json_object_get(ev, "yiwang.inventory.snapshot_id"));
	int err = 0;
	if (port) {
		snprintf(key, sizeof(key), "%s/%s/%s", proto ? proto : "", ip ? ip : "", port);
		sqlite3_stmt *q = s->ts[add ? T_PORT_ADD : T_PORT_DEL];
		sqlite3_bind_int64(q, 1, num);
		bind_text(q, 2, key);
		if (add) {
			sqlite3_bind_int(q, 3, !ip || !is_loopback(ip));
			sqlite3_bind_int64(q, 4, snap);
		}
		err = run(q);
	}
	json_decref(ev);
	return err;
}

/* ---- ingest: the current inventory ---- */

/* The item key of an inventory event, per dataset (docs/inventory.md). */
static const char *inv_key(const char *dataset, json_t *ev, char *buf, size_t n)
{
	static const struct {
		const char *dataset, *f1, *f2, *f3;
	} keys[] = {
	    {"packages", "package.type", "package.name", "package.architecture"},
	    {"users", "user.name", NULL, NULL},
	    {"groups", "group.name", NULL, NULL},
	    {"ports", "network.transport", "server.ip", "server.port"},
	    {"interfaces", "interface.name", NULL, NULL},
	    {"services", "service.name", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(dataset, keys[i].dataset) != 0)
			continue;
		char b1[32], b2[32], b3[32];
		const char *v1 = field_text(ev, keys[i].f1, b1, sizeof(b1));
		const char *v2 = keys[i].f2 ? field_text(ev, keys[i].f2, b2, sizeof(b2)) : NULL;
		const char *v3 = keys[i].f3 ? field_text(ev, keys[i].f3, b3, sizeof(b3)) : NULL;
		if (!v1 && !v2)
			return NULL;
		snprintf(buf, n, "%s%s%s%s%s", v1 ? v1 : "", v2 ? "/" : "", v2 ? v2 : "",
		         v3 ? "/" : "", v3 ? v3 : "");
		return buf;
	}
	return dataset; /* os, hostname, hardware: one item each */
}

static int inventory_event(struct sqlite_store *s, int64_t num, const char *event, int64_t now)
{
	json_t *ev = json_loads(event, 0, NULL);
	const char *ds = json_string_value(json_object_get(ev, "event.dataset"));
	const char *action = json_string_value(json_object_get(ev, "event.action"));
	json_t *snap = json_object_get(ev, "yiwang.inventory.snapshot_id");
	int err = 0;
	if (!ds || !action || strncmp(ds, "inventory.", 10) != 0)
		goto out;
	ds += 10;
	if (!strcmp(action, "inventory_snapshot_end")) {
		/* The snapshot is complete: items it did not list are gone. */
		if (json_is_integer(snap)) {
			sqlite3_stmt *q = s->ts[T_INV_SNAP_END];
			sqlite3_bind_int64(q, 1, num);
			sqlite3_bind_int64(q, 2, json_integer_value(snap));
			err = run(q);
		}
		goto out;
	}
	if (!strcmp(ds, "summary"))
		goto out;
	char kb[YW_MAX_STORE_TEXT + 1];
	const char *key = inv_key(ds, ev, kb, sizeof(kb));
	if (!key)
		goto out;
	size_t al = strlen(action);
	bool gone =
	    (al > 8 && !strcmp(action + al - 8, "_removed")) || !strcmp(action, "port_closed");
	sqlite3_stmt *q = s->ts[gone ? T_INV_DEL : T_INV_PUT];
	sqlite3_bind_int64(q, 1, num);
	bind_text(q, 2, ds);
	bind_text(q, 3, key);
	if (!gone) {
		bind_text(q, 4, event);
		sqlite3_bind_int64(q, 5, json_is_integer(snap) ? json_integer_value(snap) : now);
		sqlite3_bind_int64(q, 6, now);
	}
	err = run(q);
	if (err == 0 && strcmp(action, "inventory_snapshot") != 0) {
		q = s->ts[T_INV_HIST];
		sqlite3_bind_int64(q, 1, num);
		sqlite3_bind_int64(q, 2, now);
		bind_text(q, 3, ds);
		bind_text(q, 4, key);
		bind_text(q, 5, action);
		bind_text(q, 6, event);
		err = run(q);
	}
out:
	json_decref(ev);
	return err;
}

static int risk_event(struct sqlite_store *s, int64_t num, const char *event)
{
	static const char tag[] = "\"event.action\":\"";
	const char *p = strstr(event, tag);
	if (!p)
		return 0;
	p += sizeof(tag) - 1;
	if (!strncmp(p, "port_opened\"", 12) || !strncmp(p, "port_changed\"", 13))
		return port_event(s, num, event, 1);
	if (!strncmp(p, "port_closed\"", 12))
		return port_event(s, num, event, 0);
	if (!strncmp(p, "inventory_snapshot\"", 19)) {
		if (!strstr(event, "\"event.dataset\":\"inventory.ports\""))
			return 0;
		return port_event(s, num, event, 1);
	}
	int sca = !strncmp(p, "sca_summary\"", 12);
	if (!sca && strncmp(p, "inventory_snapshot_end\"", 23) != 0)
		return 0;
	json_t *ev = json_loads(event, 0, NULL);
	int err = 0;
	if (sca) {
		json_t *score = json_object_get(ev, "yiwang.sca.score");
		if (json_is_integer(score) &&
		    !json_is_false(json_object_get(ev, "yiwang.sca.applies"))) {
			long long v = json_integer_value(score);
			sqlite3_stmt *q = s->ts[T_SCA_SET];
			sqlite3_bind_int64(q, 1, num);
			sqlite3_bind_int(q, 2, v < 0 ? 0 : v > 100 ? 100 : (int)v);
			err = run(q);
		}
	} else {
		json_t *snap = json_object_get(ev, "yiwang.inventory.snapshot_id");
		if (json_is_integer(snap)) {
			/* A full snapshot is complete: ports it did not list are gone. */
			sqlite3_stmt *q = s->ts[T_PORT_SNAP_END];
			sqlite3_bind_int64(q, 1, num);
			sqlite3_bind_int64(q, 2, json_integer_value(snap));
			err = run(q);
		}
	}
	json_decref(ev);
	return err;
}

int yw_sqlite_triage_ingest(struct sqlite_store *s, int64_t num, const char *agent_id,
                            const struct yw_store_batch *b, const unsigned char *fresh,
                            uint64_t by_level[YW_LEVEL_COUNT])
{
	int err = 0;
	if (b->n_alerts && s->supps_stale)
		err = supps_load(s);
	for (size_t i = 0; i < s->nsupps; i++)
		s->supps[i].hits = 0;
	for (size_t i = 0; i < b->n_alerts && err == 0; i++) {
		unsigned char outcome = YW_STORE_ALERT_REPLAY;
		if (fresh[b->alerts[i].record])
			err = triage_alert(s, num, agent_id, b, &b->alerts[i], by_level, &outcome);
		if (b->outcomes)
			b->outcomes[i] = outcome;
	}
	for (size_t i = 0; i < s->nsupps && err == 0; i++) {
		if (!s->supps[i].hits)
			continue;
		sqlite3_stmt *q = s->ts[T_SUPP_HIT];
		sqlite3_bind_int64(q, 1, s->supps[i].id);
		sqlite3_bind_int64(q, 2, (int64_t)s->supps[i].hits);
		err = run(q);
	}
	for (size_t i = 0; b->events && i < b->n && err == 0; i++)
		if (fresh[i] && b->records[i].kind == YW_REC_EVENT && b->events[i]) {
			err = risk_event(s, num, b->events[i]);
			if (err == 0 && strstr(b->events[i], "\"event.module\":\"inventory\""))
				err = inventory_event(s, num, b->events[i], b->now);
		}
	return err;
}

/* ---- lifecycle ---- */

static const char *const action_names[] = {"ack", "resolve", "false_positive", "reopen"};

int yw_sqlite_alert_change(struct yw_store *st, const struct yw_store_alert_change *c)
{
	struct sqlite_store *s = S(st);
	if (!text_ok(c->by) || !text_ok(c->comment))
		return YW_ELIMIT;
	int64_t now = c->now ? c->now : clock_ns();
	char from[32] = "";
	const char *to = NULL;
	pthread_mutex_lock(&s->wlock);
	int err = t_begin(s), found = 0;
	if (err)
		goto out;
	sqlite3_stmt *q = s->ts[T_ALERT_STATUS];
	sqlite3_bind_int64(q, 1, c->id);
	err = step_one(q, &found);
	if (found)
		snprintf(from, sizeof(from), "%s", col_text(q, 0));
	sqlite3_reset(q);
	if (err == 0 && !found)
		err = YW_ENOENT;
	int open = !strcmp(from, "new") || !strcmp(from, "acknowledged");
	if (err == 0) {
		switch (c->action) {
		case YW_ALERT_ACK:
			to = !strcmp(from, "new") ? "acknowledged" : NULL;
			break;
		case YW_ALERT_RESOLVE:
			to = open ? "resolved" : NULL;
			break;
		case YW_ALERT_FALSE_POSITIVE:
			to = open ? "false_positive" : NULL;
			break;
		default:
			to = strcmp(from, "new") != 0 ? "new" : NULL;
			break;
		}
		if (!to)
			err = YW_STORE_ESTATE;
	}
	if (err)
		goto done;
	const char *comment = c->comment ? c->comment : "";
	if (c->action == YW_ALERT_REOPEN) {
		q = s->ts[T_ALERT_REOPEN];
		sqlite3_bind_int64(q, 1, c->id);
	} else {
		q = s->ts[c->action == YW_ALERT_ACK ? T_ALERT_ACK : T_ALERT_CLOSE];
		sqlite3_bind_int64(q, 1, c->id);
		bind_text(q, 2, c->by);
		sqlite3_bind_int64(q, 3, now);
		bind_text(q, 4, comment);
		if (c->action != YW_ALERT_ACK)
			bind_text(q, 5, to);
	}
	err = run(q);
	if (err == 0) {
		q = s->ts[T_HIST_ADD];
		sqlite3_bind_int64(q, 1, c->id);
		sqlite3_bind_int64(q, 2, now);
		bind_text(q, 3, action_names[c->action]);
		bind_text(q, 4, from);
		bind_text(q, 5, to);
		bind_text(q, 6, c->by);
		bind_text(q, 7, comment);
		err = run(q);
	}
	if (err == 0 && (c->action == YW_ALERT_RESOLVE || c->action == YW_ALERT_FALSE_POSITIVE)) {
		q = s->ts[T_INC_CLOSE_DONE];
		sqlite3_bind_int64(q, 1, c->id);
		sqlite3_bind_int64(q, 2, now);
		err = run(q);
	}
done:
	err = t_finish(s, err);
out:
	pthread_mutex_unlock(&s->wlock);
	return err;
}

int yw_sqlite_alert_history(struct yw_store *st, int64_t alert_id, yw_store_alert_event_cb cb,
                            void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->us[U_HISTORY];
	sqlite3_bind_int64(q, 1, alert_id);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_alert_event e = {
		    .id = sqlite3_column_int64(q, 0),
		    .alert_id = sqlite3_column_int64(q, 1),
		    .ts = sqlite3_column_int64(q, 2),
		    .action = col_text(q, 3),
		    .from = col_text(q, 4),
		    .to = col_text(q, 5),
		    .by = col_text(q, 6),
		    .comment = col_text(q, 7),
		};
		err = cb(ctx, &e);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

/* ---- incidents ---- */

void yw_sqlite_incident_row(sqlite3_stmt *q, struct yw_store_incident *i)
{
	*i = (struct yw_store_incident){
	    .id = sqlite3_column_int64(q, 0),
	    .kind = col_text(q, 1),
	    .key = col_text(q, 2),
	    .opened_at = sqlite3_column_int64(q, 3),
	    .updated_at = sqlite3_column_int64(q, 4),
	    .closed_at = sqlite3_column_int64(q, 5),
	    .alert_count = (uint64_t)sqlite3_column_int64(q, 6),
	    .max_level = sqlite3_column_int(q, 7),
	    .agents = (uint64_t)sqlite3_column_int64(q, 8),
	};
}

int yw_sqlite_incidents(struct yw_store *st, int open_only, yw_store_incident_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->us[U_INCIDENTS];
	sqlite3_bind_int(q, 1, open_only != 0);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_incident i;
		yw_sqlite_incident_row(q, &i);
		err = cb(ctx, &i);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

/* ---- suppressions ---- */

int yw_sqlite_suppress_add(struct yw_store *st, const struct yw_store_suppression *sp, int64_t *id)
{
	struct sqlite_store *s = S(st);
	const char *texts[] = {sp->rule_id, sp->agent_id, sp->field, sp->value, sp->by, sp->why};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!text_ok(texts[i]))
			return YW_ELIMIT;
	pthread_mutex_lock(&s->wlock);
	int err = s->supps_stale ? supps_load(s) : 0;
	if (err == 0 && s->nsupps >= YW_STORE_MAX_SUPPRESSIONS)
		err = YW_ELIMIT;
	if (err == 0) {
		sqlite3_stmt *q = s->ts[T_SUPP_ADD];
		for (int i = 0; i < 4; i++)
			bind_text(q, i + 1, texts[i]);
		sqlite3_bind_int64(q, 5, sp->expires_at);
		sqlite3_bind_int64(q, 6, sp->created_at ? sp->created_at : clock_ns());
		bind_text(q, 7, sp->by);
		bind_text(q, 8, sp->why ? sp->why : "");
		err = run(q);
		if (err == 0 && id)
			*id = sqlite3_last_insert_rowid(s->w);
		s->supps_stale = 1;
	}
	pthread_mutex_unlock(&s->wlock);
	return err;
}

int yw_sqlite_suppress_list(struct yw_store *st, yw_store_suppression_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->us[U_SUPP_LIST];
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_suppression p = {
		    .id = sqlite3_column_int64(q, 0),
		    .rule_id = (const char *)sqlite3_column_text(q, 1),
		    .agent_id = (const char *)sqlite3_column_text(q, 2),
		    .field = (const char *)sqlite3_column_text(q, 3),
		    .value = (const char *)sqlite3_column_text(q, 4),
		    .expires_at = sqlite3_column_int64(q, 5),
		    .created_at = sqlite3_column_int64(q, 6),
		    .by = col_text(q, 7),
		    .why = col_text(q, 8),
		    .hits = (uint64_t)sqlite3_column_int64(q, 9),
		};
		err = cb(ctx, &p);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

int yw_sqlite_suppress_delete(struct yw_store *st, int64_t id)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->wlock);
	sqlite3_stmt *q = s->ts[T_SUPP_DEL];
	sqlite3_bind_int64(q, 1, id);
	int err = run(q);
	if (err == 0 && sqlite3_changes(s->w) == 0)
		err = YW_ENOENT;
	s->supps_stale = 1;
	pthread_mutex_unlock(&s->wlock);
	return err;
}

/* ---- risk ---- */

struct risk_agent {
	int64_t num;
	char *id, *name;
	struct yw_risk_input in;
	struct yw_risk_parts parts;
	uint64_t open, by_level[YW_LEVEL_COUNT];
};

struct risk_set {
	struct risk_agent *a;
	size_t n;
	double fleet;
};

static void risk_free(struct risk_set *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->a[i].id);
		free(r->a[i].name);
	}
	free(r->a);
}

static int by_num(const void *key, const void *elem)
{
	int64_t k = *(const int64_t *)key, n = ((const struct risk_agent *)elem)->num;
	return k < n ? -1 : k > n;
}

/* Reads the agents (qa, by num) and their open alerts (ql), and scores them at now. */
static int risk_compute(sqlite3_stmt *qa, sqlite3_stmt *ql, int64_t now, struct risk_set *r)
{
	struct yw_risk_params p;
	yw_risk_defaults(&p);
	size_t cap = 0;
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(qa)) == SQLITE_ROW) {
		if (r->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct risk_agent *n = realloc(r->a, nc * sizeof(*n));
			if (!n) {
				err = YW_ENOMEM;
				break;
			}
			r->a = n;
			cap = nc;
		}
		struct risk_agent *a = &r->a[r->n++];
		*a = (struct risk_agent){.num = sqlite3_column_int64(qa, 0)};
		a->id = strdup(col_text(qa, 1));
		a->name = strdup(col_text(qa, 2));
		a->in.sca_score = sqlite3_column_int(qa, 3);
		a->in.ports = (uint64_t)sqlite3_column_int64(qa, 4);
		a->in.missing_updates = -1; /* no source reports them yet */
		if (!a->id || !a->name)
			err = YW_ENOMEM;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(qa);
	while (err == 0 && (rc = sqlite3_step(ql)) == SQLITE_ROW) {
		int64_t num = sqlite3_column_int64(ql, 0);
		struct risk_agent *a = bsearch(&num, r->a, r->n, sizeof(*r->a), by_num);
		int level = sqlite3_column_int(ql, 1);
		if (!a || level < 0 || level >= YW_LEVEL_COUNT)
			continue; /* a revoked agent's alerts */
		int64_t count = sqlite3_column_int64(ql, 2);
		a->in.alert_points += yw_risk_alert_points(
		    &p, level, count > 0 ? (uint64_t)count : 1, now - sqlite3_column_int64(ql, 3));
		a->open++;
		a->by_level[level]++;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(ql);
	if (err)
		return err;
	double *scores = malloc((r->n ? r->n : 1) * sizeof(*scores));
	if (!scores)
		return YW_ENOMEM;
	for (size_t i = 0; i < r->n; i++)
		scores[i] = yw_risk_agent_score(&p, &r->a[i].in, &r->a[i].parts);
	r->fleet = yw_risk_fleet_score(&p, scores, r->n);
	free(scores);
	return 0;
}

static int by_name(const void *x, const void *y)
{
	const struct risk_agent *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c ? c : strcmp(a->id, b->id);
}

int yw_sqlite_risk(struct yw_store *st, int64_t now, const char *agent_id, yw_store_risk_cb cb,
                   void *ctx, double *fleet)
{
	struct sqlite_store *s = S(st);
	struct risk_set r = {0};
	if (!now)
		now = clock_ns();
	pthread_mutex_lock(&s->rlock);
	/* One read transaction: agents and alerts from the same snapshot. */
	int err = run(s->us[U_BEGIN]);
	if (err == 0) {
		err = risk_compute(s->us[U_RISK_AGENTS], s->us[U_RISK_ALERTS], now, &r);
		run(s->us[U_COMMIT]);
	}
	pthread_mutex_unlock(&s->rlock);
	if (err)
		goto out;
	qsort(r.a, r.n, sizeof(*r.a), by_name);
	int seen = 0;
	for (size_t i = 0; i < r.n && err == 0; i++) {
		struct risk_agent *a = &r.a[i];
		if (agent_id && strcmp(agent_id, a->id) != 0)
			continue;
		seen = 1;
		struct yw_store_risk_row row = {
		    .agent_id = a->id,
		    .agent_name = a->name,
		    .score = a->parts.score,
		    .alert_points = a->parts.alerts,
		    .sca_points = a->parts.sca,
		    .exposure_points = a->parts.exposure,
		    .open_alerts = a->open,
		    .sca_score = a->in.sca_score,
		    .ports = a->in.ports,
		};
		memcpy(row.open_by_level, a->by_level, sizeof(row.open_by_level));
		err = cb ? cb(ctx, &row) : 0;
	}
	if (err == 0 && agent_id && !seen)
		err = YW_ENOENT;
	if (err == 0 && fleet)
		*fleet = r.fleet;
out:
	risk_free(&r);
	return err;
}

/* Adds a point and drops the scope's points older than keep_ns (one indexed range per scope:
 * at 10,000 terminals a snapshot adds 10,001 rows, 2.9 million a day, so history must not grow
 * without bound). */
static int add_point(struct sqlite_store *s, int64_t now, const char *scope, double score,
                     int64_t keep_ns)
{
	sqlite3_stmt *q = s->ts[T_RISK_ADD];
	sqlite3_bind_int64(q, 1, now);
	bind_text(q, 2, scope);
	sqlite3_bind_double(q, 3, score);
	int err = run(q);
	if (err)
		return err;
	q = s->ts[T_RISK_TRIM];
	bind_text(q, 1, scope);
	sqlite3_bind_int64(q, 2, now - keep_ns);
	return run(q);
}

int yw_sqlite_risk_snapshot(struct yw_store *st, int64_t now)
{
	struct sqlite_store *s = S(st);
	struct risk_set r = {0};
	if (!now)
		now = clock_ns();
	pthread_mutex_lock(&s->wlock);
	int err = t_begin(s);
	if (err)
		goto out;
	err = risk_compute(s->ts[T_RISK_AGENTS], s->ts[T_RISK_ALERTS], now, &r);
	if (err == 0)
		err = add_point(s, now, "fleet", r.fleet, YW_STORE_RISK_KEEP_FLEET_NS);
	for (size_t i = 0; i < r.n && err == 0; i++) {
		err = add_point(s, now, r.a[i].id, r.a[i].parts.score, YW_STORE_RISK_KEEP_AGENT_NS);
		if (err == 0)
			err = yw_sqlite_situation_risk(s, r.a[i].num, r.a[i].parts.score, now);
	}
	err = t_finish(s, err);
out:
	pthread_mutex_unlock(&s->wlock);
	risk_free(&r);
	return err;
}

int yw_sqlite_risk_history(struct yw_store *st, const char *scope, int64_t since,
                           yw_store_risk_point_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->us[U_RISK_HISTORY];
	bind_text(q, 1, scope);
	sqlite3_bind_int64(q, 2, since);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_risk_point pt = {
		    .ts = sqlite3_column_int64(q, 0),
		    .scope = col_text(q, 1),
		    .score = sqlite3_column_double(q, 2),
		};
		err = cb(ctx, &pt);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

int yw_sqlite_inventory(struct yw_store *st, const char *agent_id, const char *dataset,
                        yw_store_inventory_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->us[dataset ? U_INV_DATASET : U_INV_ALL];
	bind_text(q, 1, agent_id);
	if (dataset)
		bind_text(q, 2, dataset);
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_inventory_row r = {
		    .dataset = col_text(q, 0),
		    .key = col_text(q, 1),
		    .data = col_text(q, 2),
		    .updated_at = sqlite3_column_int64(q, 3),
		};
		err = cb(ctx, &r);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}

int yw_sqlite_inventory_history(struct yw_store *st, const char *agent_id, int64_t after_id,
                                size_t limit, yw_store_inventory_change_cb cb, void *ctx)
{
	struct sqlite_store *s = S(st);
	pthread_mutex_lock(&s->rlock);
	sqlite3_stmt *q = s->us[U_INV_HISTORY];
	bind_text(q, 1, agent_id);
	sqlite3_bind_int64(q, 2, after_id);
	sqlite3_bind_int64(q, 3, (int64_t)(limit ? limit : YW_STORE_DEFAULT_LIMIT));
	int rc = SQLITE_DONE, err = 0;
	while (err == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct yw_store_inventory_change c = {
		    .id = sqlite3_column_int64(q, 0),
		    .ts = sqlite3_column_int64(q, 1),
		    .dataset = col_text(q, 2),
		    .key = col_text(q, 3),
		    .action = col_text(q, 4),
		    .data = col_text(q, 5),
		};
		err = cb(ctx, &c);
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = map_rc(rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->rlock);
	return err;
}
