/* Users, API tokens, sessions and the audit log of the HTTP API, in their own SQLite file
 * <data_dir>/api.db (0600), apart from the event store: the CLI writes users there whether or
 * not the server runs. Passwords are PBKDF2-HMAC-SHA256 with a random salt; tokens (API tokens
 * and login sessions) are 32 random bytes of which only the SHA-256 is stored. docs/api.md.
 *
 * Threads: every function may be called from any thread (one connection, serialized). */
#ifndef YIWANG_HTTP_AUTH_H
#define YIWANG_HTTP_AUTH_H

#include <stddef.h>
#include <stdint.h>

enum yw_role {
	YW_ROLE_VIEWER = 0,  /* reads */
	YW_ROLE_ANALYST = 1, /* reads, and triages alerts */
	YW_ROLE_ADMIN = 2,   /* everything, the audit log included */
};
/* "viewer" -> YW_ROLE_VIEWER; YW_EINVAL for anything else. */
int yw_auth_role_parse(const char *name);
/* Static text; "unknown" out of range. */
const char *yw_auth_role_name(int role);

/* PBKDF2 iterations of new password hashes (OWASP 2023: 600,000 for SHA-256; 210,000 keeps a
 * login near 100 ms on a small server while costing an attacker the same per guess). */
#define YW_AUTH_PBKDF2_ITER 210000
/* "pbkdf2-sha256$<iter>$<salt hex>$<hash hex>" and its NUL fit in this. */
#define YW_AUTH_HASH_TEXT 160
/* "yw" + kind letter + "_" + 64 hex digits and NUL. */
#define YW_AUTH_TOKEN_TEXT 69

/* Hashes password with iter iterations and a fresh 16-byte salt into out. */
int yw_auth_password_hash(const char *password, unsigned iter, char *out, size_t outsz);
/* 0 if password matches enc, YW_EAUTH if not, YW_EINVAL if enc is malformed. Constant time in
 * the comparison. */
int yw_auth_password_verify(const char *password, const char *enc);

/* A new random token "yw<kind>_<hex>" in out (YW_AUTH_TOKEN_TEXT bytes) and its hash. */
int yw_auth_token_new(char kind, char *out, size_t outsz, uint8_t hash[32]);
/* SHA-256 of a token's text. */
void yw_auth_token_hash(const char *token, uint8_t hash[32]);

struct yw_auth;

/* Opens (creating) <data_dir>/api.db, 0600. Free with yw_auth_close (NULL is fine). */
int yw_auth_open(const char *data_dir, struct yw_auth **out);
void yw_auth_close(struct yw_auth *a);

/* Adds a user. YW_EEXIST if the name is taken; YW_EINVAL for an empty or over-long name (over
 * YW_HTTP_MAX_NAME bytes, or with control characters) or a password shorter than
 * YW_HTTP_MIN_PASSWORD bytes. now: ns since the epoch. */
int yw_auth_user_add(struct yw_auth *a, const char *name, const char *password, int role,
                     int64_t now);
/* YW_ENOENT if there is no such user. Deletes the user's sessions and API tokens too. */
int yw_auth_user_delete(struct yw_auth *a, const char *name);

struct yw_auth_user {
	const char *name;
	int role;
	int64_t created_at;
};
/* Every user by name; rows are borrowed for the call. cb returns 0 to go on. */
int yw_auth_user_list(struct yw_auth *a, int (*cb)(void *ctx, const struct yw_auth_user *u),
                      void *ctx);

/* Checks name/password and on success writes a new session token (valid ttl_ns) into token
 * (YW_AUTH_TOKEN_TEXT bytes) and the user's role into *role. YW_EAUTH for an unknown user or
 * a wrong password (both take the same time). */
int yw_auth_login(struct yw_auth *a, const char *name, const char *password, int64_t now,
                  int64_t ttl_ns, char *token, size_t tokensz, int *role);
/* Creates an API token for user (label: free text, may be NULL; expires_at 0 = never) into
 * token. YW_ENOENT unknown user. */
int yw_auth_api_token_create(struct yw_auth *a, const char *user, const char *label,
                             int64_t expires_at, int64_t now, char *token, size_t tokensz);
/* Who a bearer token (session or API token) belongs to: copies the user's name into user and
 * sets *role. YW_EAUTH unknown, expired, or its user deleted. */
int yw_auth_check(struct yw_auth *a, const char *token, int64_t now, char *user, size_t usersz,
                  int *role);
/* Ends a session or deletes an API token; YW_ENOENT if unknown. */
int yw_auth_revoke(struct yw_auth *a, const char *token);

/* Appends a row to the audit log (texts are cut to YW_HTTP_MAX_AUDIT_TEXT bytes). */
int yw_auth_audit(struct yw_auth *a, int64_t ts, const char *user, const char *address,
                  const char *method, const char *path, int status);
struct yw_auth_audit_row {
	int64_t id, ts;
	const char *user, *address, *method, *path;
	int status;
};
/* The newest `limit` rows with id > after_id, oldest first. */
int yw_auth_audit_list(struct yw_auth *a, int64_t after_id, int limit,
                       int (*cb)(void *ctx, const struct yw_auth_audit_row *r), void *ctx);

/* Login failures per client address: after YW_HTTP_LOGIN_FAILS failures within
 * YW_HTTP_LOGIN_WINDOW_NS, logins from that address are refused until the window ends.
 * yw_auth_limit_check returns 0, or YW_ELIMIT and *retry_s (seconds to wait). */
int yw_auth_limit_check(struct yw_auth *a, const char *address, int64_t now, int *retry_s);
void yw_auth_limit_fail(struct yw_auth *a, const char *address, int64_t now);
void yw_auth_limit_reset(struct yw_auth *a, const char *address);

#endif
