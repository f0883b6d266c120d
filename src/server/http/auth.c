/* Users, tokens, sessions, the audit log and the login-failure limiter of the HTTP API
 * (auth.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "yiwang/error.h"
#include "yw_limits.h"

#define SALT_LEN 16
#define DK_LEN   32

struct limit_entry {
	char addr[64];
	int64_t window_start;
	unsigned fails;
};

struct yw_auth {
	sqlite3 *db;
	pthread_mutex_t mu; /* the limiter's table */
	struct limit_entry *lim;
	size_t nlim;
	char dummy[YW_AUTH_HASH_TEXT]; /* verified for unknown users, so they take as long */
};

static const char *const role_names[] = {"viewer", "analyst", "admin"};

int yw_auth_role_parse(const char *name)
{
	for (int i = 0; name && i < 3; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return YW_EINVAL;
}

const char *yw_auth_role_name(int role)
{
	return role >= 0 && role < 3 ? role_names[role] : "unknown";
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int unhex(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return YW_EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return YW_EINVAL;
		out[i / 2] = (uint8_t)(i % 2 ? (out[i / 2] << 4) | v : v);
	}
	return 0;
}

static int pbkdf2(const char *pw, const uint8_t *salt, unsigned iter, uint8_t dk[DK_LEN])
{
	size_t n = strnlen(pw, YW_HTTP_MAX_PASSWORD + 1);
	if (n > YW_HTTP_MAX_PASSWORD)
		return YW_ELIMIT;
	return PKCS5_PBKDF2_HMAC(pw, (int)n, salt, SALT_LEN, (int)iter, EVP_sha256(), DK_LEN, dk)
	           ? 0
	           : YW_ENOMEM;
}

int yw_auth_password_hash(const char *password, unsigned iter, char *out, size_t outsz)
{
	uint8_t salt[SALT_LEN], dk[DK_LEN];
	char sh[2 * SALT_LEN + 1], dh[2 * DK_LEN + 1];
	if (!password || iter == 0 || outsz < YW_AUTH_HASH_TEXT)
		return YW_EINVAL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return YW_EIO;
	int rc = pbkdf2(password, salt, iter, dk);
	if (rc)
		return rc;
	hex(salt, SALT_LEN, sh);
	hex(dk, DK_LEN, dh);
	OPENSSL_cleanse(dk, sizeof(dk));
	snprintf(out, outsz, "pbkdf2-sha256$%u$%s$%s", iter, sh, dh);
	return 0;
}

int yw_auth_password_verify(const char *password, const char *enc)
{
	static const char pfx[] = "pbkdf2-sha256$";
	uint8_t salt[SALT_LEN], want[DK_LEN], got[DK_LEN];
	if (!password || !enc || strncmp(enc, pfx, sizeof(pfx) - 1))
		return YW_EINVAL;
	const char *p = enc + sizeof(pfx) - 1;
	char *end;
	errno = 0;
	unsigned long iter = strtoul(p, &end, 10);
	/* The upper bound keeps a tampered row from pinning a thread for minutes. */
	if (errno || end == p || *end != '$' || iter == 0 || iter > 10000000)
		return YW_EINVAL;
	const char *s = end + 1, *d = strchr(s, '$');
	if (!d || unhex(s, (size_t)(d - s), salt, SALT_LEN) ||
	    unhex(d + 1, strlen(d + 1), want, DK_LEN))
		return YW_EINVAL;
	int rc = pbkdf2(password, salt, (unsigned)iter, got);
	if (rc)
		return rc == YW_ELIMIT ? YW_EAUTH : rc;
	rc = CRYPTO_memcmp(got, want, DK_LEN) ? YW_EAUTH : 0;
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

void yw_auth_token_hash(const char *token, uint8_t hash[32])
{
	SHA256((const unsigned char *)token, strlen(token), hash);
}

int yw_auth_token_new(char kind, char *out, size_t outsz, uint8_t hash[32])
{
	uint8_t r[32];
	if (outsz < YW_AUTH_TOKEN_TEXT)
		return YW_EINVAL;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return YW_EIO;
	out[0] = 'y';
	out[1] = 'w';
	out[2] = kind;
	out[3] = '_';
	hex(r, sizeof(r), out + 4);
	OPENSSL_cleanse(r, sizeof(r));
	yw_auth_token_hash(out, hash);
	return 0;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY, pw TEXT NOT NULL,"
    " role INTEGER NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens(hash BLOB PRIMARY KEY, kind TEXT NOT NULL,"
    " user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, label TEXT,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user);"
    "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " user TEXT, address TEXT, method TEXT, path TEXT, status INTEGER);";

int yw_auth_open(const char *data_dir, struct yw_auth **out)
{
	char path[4200];
	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/api.db", data_dir) >= (int)sizeof(path))
		return YW_ELIMIT;
	/* Created 0600 before SQLite opens it, so it is never readable by others. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	fchmod(fd, 0600);
	close(fd);
	struct yw_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return YW_ENOMEM;
	a->lim = calloc(YW_HTTP_LOGIN_TRACKED, sizeof(*a->lim));
	int rc = a->lim ? 0 : YW_ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	if (rc == 0 && sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
	                               NULL) != SQLITE_OK)
		rc = YW_EIO;
	if (rc == 0) {
		sqlite3_busy_timeout(a->db, 5000);
		if (sqlite3_exec(a->db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) ||
		    sqlite3_exec(a->db, schema, NULL, NULL, NULL))
			rc = YW_EIO;
	}
	if (rc == 0)
		rc = yw_auth_password_hash("unknown-user", YW_AUTH_PBKDF2_ITER, a->dummy,
		                           sizeof(a->dummy));
	if (rc) {
		yw_auth_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void yw_auth_close(struct yw_auth *a)
{
	if (!a)
		return;
	sqlite3_close(a->db);
	pthread_mutex_destroy(&a->mu);
	free(a->lim);
	free(a);
}

static int prep(struct yw_auth *a, const char *sql, sqlite3_stmt **st)
{
	return sqlite3_prepare_v2(a->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : YW_EIO;
}

static int name_ok(const char *name)
{
	size_t n = name ? strnlen(name, YW_HTTP_MAX_NAME + 1) : 0;
	if (n == 0 || n > YW_HTTP_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || name[i] == 0x7f)
			return 0;
	return 1;
}

int yw_auth_user_add(struct yw_auth *a, const char *name, const char *password, int role,
                     int64_t now)
{
	char enc[YW_AUTH_HASH_TEXT];
	sqlite3_stmt *st = NULL;
	if (!name_ok(name) || !password || strlen(password) < YW_HTTP_MIN_PASSWORD ||
	    strlen(password) > YW_HTTP_MAX_PASSWORD || role < YW_ROLE_VIEWER ||
	    role > YW_ROLE_ADMIN)
		return YW_EINVAL;
	int rc = yw_auth_password_hash(password, YW_AUTH_PBKDF2_ITER, enc, sizeof(enc));
	if (rc == 0)
		rc = prep(a, "INSERT INTO users(name,pw,role,created_at) VALUES(?,?,?,?)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, enc, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, role);
		sqlite3_bind_int64(st, 4, now);
		int s = sqlite3_step(st);
		rc = s == SQLITE_DONE                                                  ? 0
		     : sqlite3_extended_errcode(a->db) == SQLITE_CONSTRAINT_PRIMARYKEY ? YW_EEXIST
		                                                                       : YW_EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int yw_auth_user_delete(struct yw_auth *a, const char *name)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(a, "DELETE FROM users WHERE name=?", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) != SQLITE_DONE ? YW_EIO
		     : sqlite3_changes(a->db) == 0   ? YW_ENOENT
		                                     : 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int yw_auth_user_list(struct yw_auth *a, int (*cb)(void *ctx, const struct yw_auth_user *u),
                      void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(a, "SELECT name,role,created_at FROM users ORDER BY name", &st);
	while (rc == 0) {
		int s = sqlite3_step(st);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = YW_EIO;
			break;
		}
		struct yw_auth_user u = {(const char *)sqlite3_column_text(st, 0),
		                         sqlite3_column_int(st, 1), sqlite3_column_int64(st, 2)};
		rc = cb(ctx, &u);
	}
	sqlite3_finalize(st);
	return rc;
}

static int token_insert(struct yw_auth *a, const uint8_t hash[32], const char *kind,
                        const char *user, const char *label, int64_t now, int64_t expires_at)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(a,
	              "INSERT INTO tokens(hash,kind,user,label,created_at,expires_at)"
	              " VALUES(?,?,?,?,?,?)",
	              &st);
	if (rc == 0) {
		sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, label ? label : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, now);
		sqlite3_bind_int64(st, 6, expires_at);
		int s = sqlite3_step(st);
		rc = s == SQLITE_DONE                                                  ? 0
		     : sqlite3_extended_errcode(a->db) == SQLITE_CONSTRAINT_FOREIGNKEY ? YW_ENOENT
		                                                                       : YW_EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int yw_auth_login(struct yw_auth *a, const char *name, const char *password, int64_t now,
                  int64_t ttl_ns, char *token, size_t tokensz, int *role)
{
	char enc[YW_AUTH_HASH_TEXT] = "";
	sqlite3_stmt *st = NULL;
	int found = 0;
	if (!name || !password)
		return YW_EAUTH;
	int rc = prep(a, "SELECT pw,role FROM users WHERE name=?", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			const char *p = (const char *)sqlite3_column_text(st, 0);
			snprintf(enc, sizeof(enc), "%s", p ? p : "");
			*role = sqlite3_column_int(st, 1);
			found = 1;
		} else if (s != SQLITE_DONE) {
			rc = YW_EIO;
		}
	}
	sqlite3_finalize(st);
	if (rc)
		return rc;
	/* An unknown user costs one PBKDF2 as well: the time does not tell which names exist. */
	int v = yw_auth_password_verify(password, found ? enc : a->dummy);
	if (!found || v)
		return v == YW_ENOMEM ? v : YW_EAUTH;
	uint8_t h[32];
	rc = yw_auth_token_new('s', token, tokensz, h);
	if (rc == 0) {
		/* Expired sessions are dropped here: the table stays the size of the live ones. */
		sqlite3_stmt *del = NULL;
		if (prep(a, "DELETE FROM tokens WHERE expires_at>0 AND expires_at<=?", &del) == 0) {
			sqlite3_bind_int64(del, 1, now);
			sqlite3_step(del);
		}
		sqlite3_finalize(del);
		rc = token_insert(a, h, "session", name, NULL, now, now + ttl_ns);
	}
	return rc;
}

int yw_auth_api_token_create(struct yw_auth *a, const char *user, const char *label,
                             int64_t expires_at, int64_t now, char *token, size_t tokensz)
{
	uint8_t h[32];
	int rc = yw_auth_token_new('a', token, tokensz, h);
	return rc ? rc : token_insert(a, h, "api", user, label, now, expires_at);
}

int yw_auth_check(struct yw_auth *a, const char *token, int64_t now, char *user, size_t usersz,
                  int *role)
{
	uint8_t h[32];
	sqlite3_stmt *st = NULL;
	if (!token || strlen(token) != YW_AUTH_TOKEN_TEXT - 1)
		return YW_EAUTH;
	yw_auth_token_hash(token, h);
	int rc = prep(a,
	              "SELECT u.name,u.role FROM tokens t JOIN users u ON u.name=t.user"
	              " WHERE t.hash=? AND (t.expires_at=0 OR t.expires_at>?)",
	              &st);
	if (rc == 0) {
		sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			snprintf(user, usersz, "%s", (const char *)sqlite3_column_text(st, 0));
			*role = sqlite3_column_int(st, 1);
		} else {
			rc = s == SQLITE_DONE ? YW_EAUTH : YW_EIO;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int yw_auth_revoke(struct yw_auth *a, const char *token)
{
	uint8_t h[32];
	sqlite3_stmt *st = NULL;
	yw_auth_token_hash(token, h);
	int rc = prep(a, "DELETE FROM tokens WHERE hash=?", &st);
	if (rc == 0) {
		sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
		rc = sqlite3_step(st) != SQLITE_DONE ? YW_EIO
		     : sqlite3_changes(a->db) == 0   ? YW_ENOENT
		                                     : 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static void bind_cut(sqlite3_stmt *st, int i, const char *s)
{
	if (!s)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, (int)strnlen(s, YW_HTTP_MAX_AUDIT_TEXT), SQLITE_STATIC);
}

int yw_auth_audit(struct yw_auth *a, int64_t ts, const char *user, const char *address,
                  const char *method, const char *path, int status)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(
	    a, "INSERT INTO audit(ts,user,address,method,path,status) VALUES(?,?,?,?,?,?)", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, ts);
		bind_cut(st, 2, user);
		bind_cut(st, 3, address);
		bind_cut(st, 4, method);
		bind_cut(st, 5, path);
		sqlite3_bind_int(st, 6, status);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : YW_EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

int yw_auth_audit_list(struct yw_auth *a, int64_t after_id, int limit,
                       int (*cb)(void *ctx, const struct yw_auth_audit_row *r), void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = prep(a,
	              "SELECT * FROM (SELECT id,ts,user,address,method,path,status FROM audit"
	              " WHERE id>? ORDER BY id DESC LIMIT ?) ORDER BY id",
	              &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, after_id);
		sqlite3_bind_int(st, 2, limit);
	}
	while (rc == 0) {
		int s = sqlite3_step(st);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = YW_EIO;
			break;
		}
		struct yw_auth_audit_row r = {sqlite3_column_int64(st, 0),
		                              sqlite3_column_int64(st, 1),
		                              col(st, 2),
		                              col(st, 3),
		                              col(st, 4),
		                              col(st, 5),
		                              sqlite3_column_int(st, 6)};
		rc = cb(ctx, &r);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The entry of address, or (create) a free or the oldest one taken over. Under a->mu. */
static struct limit_entry *limit_find(struct yw_auth *a, const char *address, int create)
{
	struct limit_entry *oldest = NULL;
	for (size_t i = 0; i < a->nlim; i++) {
		struct limit_entry *e = &a->lim[i];
		if (!strncmp(e->addr, address, sizeof(e->addr) - 1))
			return e;
		if (!oldest || e->window_start < oldest->window_start)
			oldest = e;
	}
	if (!create)
		return NULL;
	struct limit_entry *e = a->nlim < YW_HTTP_LOGIN_TRACKED ? &a->lim[a->nlim++] : oldest;
	snprintf(e->addr, sizeof(e->addr), "%s", address);
	e->fails = 0;
	e->window_start = 0;
	return e;
}

int yw_auth_limit_check(struct yw_auth *a, const char *address, int64_t now, int *retry_s)
{
	int rc = 0;
	pthread_mutex_lock(&a->mu);
	struct limit_entry *e = limit_find(a, address, 0);
	if (e && e->fails >= YW_HTTP_LOGIN_FAILS) {
		int64_t end = e->window_start + YW_HTTP_LOGIN_WINDOW_NS;
		if (now < end) {
			*retry_s = (int)((end - now) / 1000000000LL) + 1;
			rc = YW_ELIMIT;
		} else {
			e->fails = 0;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void yw_auth_limit_fail(struct yw_auth *a, const char *address, int64_t now)
{
	pthread_mutex_lock(&a->mu);
	struct limit_entry *e = limit_find(a, address, 1);
	if (e->fails == 0 || now - e->window_start >= YW_HTTP_LOGIN_WINDOW_NS) {
		e->window_start = now;
		e->fails = 0;
	}
	e->fails++;
	pthread_mutex_unlock(&a->mu);
}

void yw_auth_limit_reset(struct yw_auth *a, const char *address)
{
	pthread_mutex_lock(&a->mu);
	struct limit_entry *e = limit_find(a, address, 0);
	if (e)
		e->fails = 0;
	pthread_mutex_unlock(&a->mu);
}
