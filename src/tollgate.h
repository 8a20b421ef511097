/* tollgate.h: the interfaces Tollgate's modules share; everything else is static. */
#ifndef TOLLGATE_H
#define TOLLGATE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define TG_VERSION "0.1.0"

/* ---- config.c: settings from TOLLGATE_* variables and an optional file ---- */

struct config {
	char db_path[1024];
	char jwt_secret[512];
	size_t jwt_secret_len;
	long rate_key; /* requests a minute per API key */
	long rate_ip; /* requests a minute per unauthenticated IP */
	long rate_user; /* requests a minute per signed-in user */
	long rate_login; /* login/signup attempts a minute per IP */
	long rate_login_account; /* failed logins per account per 15 minutes */
	long session_idle; /* seconds */
	long session_ttl; /* seconds */
	int signup_open;
	int threads;
	long long max_body; /* bytes */
	char trusted_proxies[512];
	long long now; /* test clock: fixed unix time, 0 for the real one */
};

extern struct config cfg;

/* Fills cfg with defaults, then the file (if path is not NULL), then the
 * environment. On a bad value returns -1 with a sentence in err. */
int config_load(const char *path, char *err, size_t errlen);

/* ---- log.c: one line per event on stderr ---- */

void log_msg(const char *rid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- util.c: clock, randomness, identifiers ---- */

int64_t tg_now(void); /* unix seconds (cfg.now when set) */
int64_t tg_now_ms(void); /* unix milliseconds, real clock, for durations */
int tg_random(void *buf, size_t len); /* OS CSPRNG; -1 on failure */
/* A fresh id like "usr_4k2m..." in out (at least 32 bytes); -1 on failure. */
int tg_id_new(const char *prefix, char *out, size_t outlen);
/* A ULID (26 Crockford base32 characters) in out (at least 27 bytes). */
int tg_ulid_new(char *out, size_t outlen);
/* RFC 3339 UTC "2026-12-01T00:00:00Z" of t in out (at least 21 bytes). */
void tg_time_format(int64_t t, char *out, size_t outlen);

/* ---- db.c: the store; every SQL statement lives in its table ---- */

enum stmt { STMT_PING, STMT__COUNT };

enum db_rc { DB_OK = 0, DB_ROW, DB_DONE, DB_BUSY, DB_CONSTRAINT, DB_ERROR };

struct db;

/* Opens the database at path with WAL, foreign keys and a busy timeout.
 * On error returns NULL with a sentence in err. */
struct db *db_open(const char *path, char *err, size_t errlen);
void db_close(struct db *db);
/* Applies the compiled-in migrations newer than PRAGMA user_version, each in
 * its own transaction. Returns the number applied, or -1. */
int db_migrate(struct db *db);
int db_version(struct db *db);
int db_migration_count(void);
int db_begin(struct db *db); /* BEGIN IMMEDIATE: DB_OK, DB_BUSY or DB_ERROR */
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* Binds args by types ('i' int64_t, 't' const char * or NULL, 'd' double)
 * and steps once. db_query leaves the cursor open on DB_ROW (end it with
 * db_end); db_run always ends it and answers DB_OK or an error. */
int db_query(struct db *db, enum stmt s, const char *types, ...);
int db_run(struct db *db, enum stmt s, const char *types, ...);
int db_next(struct db *db, enum stmt s);
void db_end(struct db *db, enum stmt s);
int64_t db_int(struct db *db, enum stmt s, int col);
double db_double(struct db *db, enum stmt s, int col);
const char *db_text(struct db *db, enum stmt s, int col); /* "" for NULL */
int db_isnull(struct db *db, enum stmt s, int col);
int64_t db_changes(struct db *db);

/* ---- http.c: requests, responses and the one error table ---- */

enum err {
	ERR_INVALID_BODY,
	ERR_BATCH_TOO_LARGE,
	ERR_NO_SCHEMA,
	ERR_SCHEMA_MISMATCH,
	ERR_INVALID_CSV,
	ERR_TOKEN_MISSING,
	ERR_TOKEN_INVALID,
	ERR_SESSION_EXPIRED,
	ERR_SESSION_REVOKED,
	ERR_SESSION_REPLACED,
	ERR_INVALID_API_KEY,
	ERR_INVALID_CREDENTIALS,
	ERR_PERMISSION_DENIED,
	ERR_MISSING_SCOPE,
	ERR_PLAN_LIMIT,
	ERR_NOT_FOUND,
	ERR_METHOD_NOT_ALLOWED,
	ERR_SESSION_ACTIVE,
	ERR_CONFLICT,
	ERR_IDEMPOTENCY_KEY_REUSED,
	ERR_PAYLOAD_TOO_LARGE,
	ERR_UNSUPPORTED_MEDIA_TYPE,
	ERR_RATE_LIMITED,
	ERR_INTERNAL,
	ERR_UNAVAILABLE,
	ERR__COUNT
};

enum method { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M__COUNT, M_OTHER = M__COUNT };

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_MEMBER, ROLE_ADMIN };

enum principal_kind { PRINCIPAL_NONE, PRINCIPAL_USER, PRINCIPAL_KEY };

struct principal {
	enum principal_kind kind;
	char org_id[40];
	char user_id[40]; /* PRINCIPAL_USER */
	char session_id[40]; /* PRINCIPAL_USER */
	enum role role; /* PRINCIPAL_USER */
	char key_id[40]; /* PRINCIPAL_KEY */
	unsigned scopes; /* PRINCIPAL_KEY */
};

#define REQ_MAX_PARAMS 2
#define REQ_PARAM_MAX 64

/* Reads up to n bytes of the request body; 0 at its end, -1 on error. */
typedef int body_read_fn(void *ctx, char *buf, int n);

struct route;

struct req {
	/* What came in (pointers into the server's parameters). */
	enum method method;
	const char *method_str;
	const char *path;
	const char *query;
	const char *content_type;
	long long content_length; /* -1 when absent */
	const char *authorization;
	const char *x_api_key;
	const char *idempotency_key;
	const char *remote_addr;
	const char *user_agent;
	char request_id[65];
	char client_ip[64];
	/* What the router found. */
	const struct route *route;
	char params[REQ_MAX_PARAMS][REQ_PARAM_MAX + 1];
	int nparams;
	char *body;
	size_t body_len;
	json_object *json;
	struct principal who;
	struct db *db;
	int64_t start_ms;
	/* What goes out. */
	int status;
	const char *error_code; /* set by reply_error, for the log line */
	char *resp_body;
	size_t resp_len;
	char headers[1024];
	size_t headers_len;
	int replied;
};

/* Prepares r from the server's parameters (NULL-terminated "NAME=value"). */
void req_init(struct req *r, char **envp, struct db *db);
/* Frees what the request owns; r may be reused after req_init. */
void req_free(struct req *r);
/* Adds a response header; silently drops it when the buffer is full. */
void req_header_add(struct req *r, const char *name, const char *value);
/* Copies query parameter name into out; 1 if present, 0 if absent. */
int req_query_get(const struct req *r, const char *name, char *out, size_t outlen);

/* Answers status with body (owned: freed here). */
void reply_json(struct req *r, int status, json_object *body);
void reply_empty(struct req *r, int status);
/* Answers the contract's error body: message NULL means the default sentence
 * for e; details (owned) may be NULL. */
void reply_error(struct req *r, enum err e, const char *message, json_object *details);
/* The answer for a failed store call: 503 UNAVAILABLE for DB_BUSY, else 500. */
void reply_db_error(struct req *r, int rc, const char *where);
const char *err_code(enum err e);
int err_status(enum err e);

/* Writes the response (status line, headers, body) through put. */
typedef int body_write_fn(void *ctx, const char *buf, int n);
void req_write(struct req *r, body_write_fn *put, void *ctx);
void req_log(const struct req *r);

/* ---- json.c: strict parsing of outside input ---- */

#define JSON_MAX_DEPTH 32

/* Parses buf as one JSON value: strict grammar, valid UTF-8, no NUL bytes,
 * nesting at most JSON_MAX_DEPTH, nothing after it. Returns NULL with a
 * sentence in why on failure. */
json_object *json_parse_strict(const char *buf, size_t len, char *why, size_t whylen);
/* Only the checks of json_parse_strict: 0 if buf is such JSON, else -1. */
int json_check(const char *buf, size_t len, char *why, size_t whylen);
/* A string field of obj; answers 400 INVALID_BODY (details.field) and returns
 * -1 when it is missing (if required), not a string, has NUL bytes or its
 * length in characters is outside min..max. *out is NULL when absent. */
int json_string_or_reply(struct req *r, json_object *obj, const char *field, int required,
    size_t min, size_t max, const char **out);
int json_bool_or_reply(struct req *r, json_object *obj, const char *field, int *out);
json_object *json_str(const char *s); /* NULL becomes JSON null */
json_object *json_time(int64_t t); /* RFC 3339, or null for 0 */

/* ---- router.c: the route table and the checks before a handler ---- */

/* Handles one request start to finish: every path ends in r->replied. */
void router_handle(struct req *r, body_read_fn *read, void *ctx);
int router_route_count(void);

/* ---- fcgi.c: the listening socket and the worker threads ---- */

/* Opens spec (a UNIX socket path, created with mode, or HOST:PORT), or with
 * spec NULL the socket inherited on fd 0 or from systemd. -1 with err. */
int fcgi_listen(const char *spec, int mode, char *err, size_t errlen);
/* Serves until SIGTERM or SIGINT, then lets requests in flight finish. */
int fcgi_serve(int listen_fd, int nthreads);

/* ---- handlers, one file per resource ---- */

void handle_health(struct req *r);

#endif
