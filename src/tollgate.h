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
	long rate_login_account; /* failed sign-ins per account an hour, from unknown devices */
	long rate_login_device; /* failed sign-ins per device credential per 15 minutes */
	long rate_window; /* seconds of a rate-limit window (60) */
	long session_idle; /* seconds */
	long session_ttl; /* seconds */
	int signup_open;
	int threads;
	long long max_body; /* bytes */
	char trusted_proxies[512];
	long long now; /* test clock: fixed unix time, 0 for the real one */
	char metrics_token[256]; /* bearer token for GET /v1/metrics; empty: off */
	long clock_offset; /* test clock: seconds added to the real one */
};

extern struct config cfg;

/* Fills cfg with defaults, then the file (if path is not NULL), then the
 * environment. On a bad value returns -1 with a sentence in err. */
int config_load(const char *path, char *err, size_t errlen);

/* ---- log.c: one line per event on stderr ---- */

void log_msg(const char *rid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_text(const char *rid, const char *text); /* log_msg of text as it is */

/* ---- util.c: clock, randomness, identifiers ---- */

int64_t tg_now(void); /* unix seconds (cfg.now when set, else shifted by cfg.clock_offset) */
int64_t tg_now_ms(void); /* unix milliseconds, real clock, for durations */
int tg_random(void *buf, size_t len); /* OS CSPRNG; -1 on failure */
/* The SHA-256 of the string s in lower-case hex. */
void tg_sha256_hex(const char *s, char out[65]);
/* A fresh id like "usr_4k2m..." in out (at least 32 bytes); -1 on failure. */
int tg_id_new(const char *prefix, char *out, size_t outlen);
/* A ULID (26 Crockford base32 characters) in out (at least 27 bytes). */
int tg_ulid_new(char *out, size_t outlen);
/* RFC 3339 UTC "2026-12-01T00:00:00Z" of t in out (at least 21 bytes). */
void tg_time_format(int64_t t, char *out, size_t outlen);
/* t's month as "YYYY-MM" in out (8 bytes at least) and, if next_start is
 * not NULL, when the next month starts (UTC); -1 outside years 0000-9999. */
int tg_month(int64_t t, char *out, size_t outlen, int64_t *next_start);
/* Appends at most max bytes of s (or v in decimal) to out, which holds n
 * bytes, keeping it NUL-terminated within outlen; the new length. For the
 * lines every request writes, where snprintf was a tenth of the work. */
size_t tg_append(char *out, size_t outlen, size_t n, const char *s, size_t max);
size_t tg_append_num(char *out, size_t outlen, size_t n, int64_t v);
/* Copies src into out as valid UTF-8: each byte that starts no valid
 * sequence becomes U+FFFD, and the copy ends at a character boundary within
 * max bytes (and outlen - 1). Always NUL-terminated (outlen > 0); the
 * length. */
size_t tg_utf8_clean(const char *src, size_t max, char *out, size_t outlen);
/* Parses an RFC 3339 time ("2026-12-01T00:00:00Z", "2026-12-01t01:30:00.5+01:30")
 * strictly: digits only, each field in range, days per month and leap
 * year; -1 for anything else. */
int tg_time_parse(const char *s, int64_t *out);

/* ---- db.c: the store; every SQL statement lives in its table ---- */

enum stmt {
	STMT_PING,
	STMT_ORG_INSERT,
	STMT_ORG_SET_PLAN,
	STMT_USER_INSERT,
	STMT_USER_GET,
	STMT_USER_LIST,
	STMT_USER_BY_EMAIL,
	STMT_USER_HASH,
	STMT_USER_SET_PASSWORD,
	STMT_USER_SET_ROLE,
	STMT_USER_DELETE,
	STMT_USER_COUNT_ADMINS,
	STMT_SESSION_INSERT,
	STMT_SESSION_AUTH,
	STMT_SESSION_VIEW,
	STMT_SESSION_LIVE_OF_USER,
	STMT_SESSION_TOUCH,
	STMT_SESSION_END,
	STMT_SESSION_REPLACE,
	STMT_SESSION_REVOKE_USER,
	STMT_DEVICE_INSERT,
	STMT_DEVICE_BY_HASH,
	STMT_DEVICE_TOUCH,
	STMT_DEVICE_LIST,
	STMT_DEVICE_DELETE,
	STMT_DEVICE_DELETE_USER,
	STMT_DEVICE_PRUNE,
	STMT_LOGIN_BUDGET_TAKE,
	STMT_LOGIN_BUDGET_GET,
	STMT_LOGIN_BUDGET_PRUNE,
	STMT_LOGIN_BUDGET_GIVE,
	STMT_JWT_KEYS_ALL,
	STMT_JWT_KEY_INSERT,
	STMT_JWT_KEY_SET_SECRET,
	STMT_JWT_KEY_PRUNE,
	STMT_AUDIT_INSERT,
	STMT_AUDIT_LIST,
	STMT_METERS,
	STMT_USAGE_ADD,
	STMT_APIKEY_INSERT,
	STMT_APIKEY_BY_PUBLIC,
	STMT_APIKEY_TOUCH,
	STMT_APIKEY_GET,
	STMT_APIKEY_LIST,
	STMT_APIKEY_REVOKE,
	STMT_APIKEY_ROTATE_OLD,
	STMT_PLANS_ALL,
	STMT_USAGE_HISTORY,
	STMT_PROJECT_INSERT,
	STMT_PROJECT_GET,
	STMT_PROJECT_LIST,
	STMT_PROJECT_DELETE,
	/* tables.c, ingest.c, idempotency.c */
	STMT_TABLE_INSERT,
	STMT_TABLE_GET,
	STMT_TABLE_LIST,
	STMT_TABLE_DELETE,
	STMT_TABLE_PUBLISH,
	STMT_TABLE_SET_SCHEMA,
	STMT_RECORD_INSERT,
	STMT_RECORD_LIST,
	STMT_RECORD_PAGE_END,
	STMT_IDEM_GET,
	STMT_IDEM_CLAIM,
	STMT_IDEM_FINISH,
	STMT_IDEM_RELEASE,
	STMT_IDEM_PRUNE,
	STMT_SPINNER_INSERT,
	STMT_SPINNER_GET,
	STMT_SPINNER_LIST,
	STMT_SPINNER_UPDATE,
	STMT_SPINNER_DELETE,
	STMT_SPINNER_PUBLISH,
	STMT_SPINNER_TABLE_IN_PROJECT,
	STMT_SPINNER_TRIGGERABLE,
	STMT_SPINNER_DUE,
	STMT_SPINNER_SET_NEXT,
	STMT_JOB_INSERT,
	STMT_JOB_GET,
	STMT_JOB_LIST,
	STMT_JOB_RECOVER,
	STMT_JOB_CLAIM,
	STMT_JOB_CLAIM_FOLLOWERS,
	STMT_JOB_RENEW,
	STMT_JOB_RELEASE,
	STMT_JOB_FINISH,
	STMT_JOB_SOURCE,
	STMT_JOB_FROM_SEQ,
	STMT_JOB_RECORDS_END,
	STMT_JOB_CHUNK_END,
	STMT_JOB_CHUNK_COUNT,
	STMT_JOB_CHUNK_NONNULL,
	STMT__COUNT
};

enum db_rc { DB_OK = 0, DB_ROW, DB_DONE, DB_BUSY, DB_CONSTRAINT, DB_ERROR };

struct db;

/* Opens the database at path with WAL, foreign keys and a busy timeout.
 * On error returns NULL with a sentence in err. */
struct db *db_open(const char *path, char *err, size_t errlen);
void db_close(struct db *db);
/* Takes group and other permissions off the database file at path and its
 * -wal, -shm and -journal (those that exist): they hold password hashes
 * and wrapped keys. 0, or -1 (logged) when one could not be changed. */
int db_files_private(const char *path);
/* Applies the compiled-in migrations newer than PRAGMA user_version, each in
 * its own transaction. Returns the number applied, or -1. */
int db_migrate(struct db *db);
int db_version(struct db *db);
int db_migration_count(void);
int db_begin(struct db *db); /* BEGIN IMMEDIATE: DB_OK, DB_BUSY or DB_ERROR */
/* One read snapshot for the statements until db_read_end: a single WAL read
 * transaction instead of one per statement (each takes SQLite's shared-memory
 * mutex and locks, which the worker threads contend on). db_begin ends it
 * first, so a handler that writes after all loses nothing. */
int db_read_begin(struct db *db);
void db_read_end(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
int db_writing(const struct db *db); /* between db_begin and its commit or rollback */
/* A piece of write work for db_write_grouped: it runs inside a write
 * transaction, in a savepoint of its own, on the connection it is given
 * (perhaps another thread's, while this one waits). It answers DB_OK to
 * keep what it wrote; anything else is handed back and its writes undone. */
typedef int db_work_fn(struct db *db, void *arg);
/* Runs fn(db, arg) in a write transaction it may share with other threads'
 * pieces (group commit: one BEGIN IMMEDIATE and one COMMIT for them all).
 * Returns fn's answer, or the transaction's store error when it could not
 * commit (then nothing of fn's is kept). Like db_begin, it ends db's read
 * snapshot (db_read_begin) first. */
int db_write_grouped(struct db *db, db_work_fn *fn, void *arg);
/* Group commits so far in this process, and the pieces they carried. */
void db_group_counts(unsigned long *commits, unsigned long *pieces);
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

/* Who may call a route: nobody needs credentials, a signed-in user only, or
 * a user or an API key. */
enum access { ACCESS_PUBLIC, ACCESS_USER, ACCESS_ANY };

/* What a user's role must allow (auth.c has the one table of roles). */
enum perm { PERM_NONE, PERM_READ, PERM_WRITE, PERM_ADMIN };

/* API key scopes, as stored (bit per scope). */
#define SCOPE_INGEST 1u
#define SCOPE_TRIGGER 2u
#define SCOPE_READ 4u
#define SCOPE_ALL 7u

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
/* Writes n bytes of the response; -1 on error. */
typedef int body_write_fn(void *ctx, const char *buf, int n);

struct route;

struct req {
	/* What came in (pointers into the server's parameters). */
	enum method method;
	const char *method_str;
	const char *path;
	const char *query;
	const char *content_type;
	const char *content_encoding; /* NULL when absent */
	const char *accept; /* NULL when absent */
	long long content_length; /* -1 when absent */
	const char *authorization;
	const char *x_api_key;
	const char *idempotency_key;
	const char *remote_addr;
	const char *user_agent;
	char request_id[65];
	char client_ip[64];
	int64_t login_window; /* the account's failed-login window an attempt was taken from */
	char path_buf[2048]; /* SCRIPT_NAME + PATH_INFO, when that is the path */
	/* What the router found. */
	const struct route *route;
	char params[REQ_MAX_PARAMS][REQ_PARAM_MAX + 1];
	int nparams;
	char *body;
	size_t body_len;
	/* A streamed body (text/csv) is not read before the handler: it reads
	 * it with body_decoded_read_or_reply (body.c), which undoes its
	 * Content-Encoding over req_body_read_or_reply. */
	body_read_fn *body_read;
	void *body_ctx;
	size_t body_have; /* bytes of it read so far */
	struct body_inflate *inflate; /* a gzip body's inflater (body.c); owned */
	size_t body_decoded; /* bytes of the body after its Content-Encoding */
	json_object *json;
	struct principal who;
	struct db *db;
	int64_t start_ms;
	/* What goes out. */
	int status;
	const char *error_code; /* set by reply_error, for the log line */
	char *resp_body;
	size_t resp_len;
	const char *resp_type; /* Content-Type of resp_body; NULL: JSON */
	char headers[1024];
	size_t headers_len;
	int replied;
	/* Where a streamed answer goes as it is written (fcgi.c sets it; NULL:
	 * it is kept in resp_body), and whether its head went out already. */
	body_write_fn *out_put;
	void *out_ctx;
	int streamed;
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
struct jw; /* json.c */
void reply_jw(struct req *r, int status, struct jw *w); /* takes w's text */
void reply_empty(struct req *r, int status);
/* Answers status with body (owned: freed here) of the given Content-Type. */
void reply_text(struct req *r, int status, const char *content_type, char *body, size_t len);
/* Starts an answer whose body is written as it is made: the status line and
 * headers (those added so far) go out now, and r counts as answered. Then
 * reply_stream_write adds to the body; -1 once the client is gone (or memory
 * ran out, where the answer is kept to be written whole). */
void reply_stream_begin(struct req *r, int status, const char *content_type);
int reply_stream_write(struct req *r, const char *buf, size_t n);
/* Answers the contract's error body: message NULL means the default sentence
 * for e; details (owned) may be NULL. */
void reply_error(struct req *r, enum err e, const char *message, json_object *details);
/* The answer for a failed store call: 503 UNAVAILABLE for DB_BUSY, else 500. */
void reply_db_error(struct req *r, int rc, const char *where);
const char *err_code(enum err e);
int err_status(enum err e);

/* Writes the response (status line, headers, body) through put; nothing
 * more for an answer that was streamed (reply_stream_begin). */
void req_write(struct req *r, body_write_fn *put, void *ctx);
void req_log(const struct req *r);

/* A page of a list: ?limit= (1..500, default 50) and ?cursor=. */
struct page {
	int limit;
	int64_t after; /* the last seq seen, 0 for the start */
};

/* Reads the page parameters; answers 400 INVALID_BODY for bad ones. */
int page_or_reply(struct req *r, struct page *p);
/* The cursor that continues a list after seq: "c" + seq in base 36, in out
 * (at least 16 bytes). */
void page_cursor_format(int64_t seq, char *out, size_t outlen);
/* A row at the cursor of s as the API shows it: an object written to w
 * (as member key, or NULL inside an array or at the top). */
struct jw;
typedef void row_write_fn(struct jw *w, const char *key, struct db *db, enum stmt s);

/* With s's cursor just opened by db_query (answer rc), asked for
 * p->limit + 1 rows with the seq in column 0: answers the page of rows made
 * by row, or the database error (logged with where); ends the cursor. */
void reply_rows(
    struct req *r, enum stmt s, int rc, const struct page *p, row_write_fn *row, const char *where);
/* With s's cursor just opened (answer rc): answers status with the row made
 * by row, 404 NOT_FOUND when there is none, or the database error; ends the
 * cursor. */
void reply_row(
    struct req *r, enum stmt s, int rc, int status, row_write_fn *row, const char *where);

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

/* ---- json.c: writing answers ----
 * Text straight into one growing buffer, for the answers every request
 * makes (errors, health, usage, the session, a trigger): a json-c tree
 * cost a dozen allocations and a walk per answer. Each call takes the
 * member's key (NULL inside an array or at the top). Out of memory, the
 * writer fails once and jw_finish returns NULL. */
#define JW_DEPTH 16
struct jw {
	char *buf;
	size_t len, cap;
	int failed, depth;
	unsigned char more[JW_DEPTH]; /* a value is already in this level */
};
void jw_init(struct jw *w);
void jw_object(struct jw *w, const char *key);
void jw_object_end(struct jw *w);
void jw_array(struct jw *w, const char *key);
void jw_array_end(struct jw *w);
void jw_string(struct jw *w, const char *key, const char *s); /* NULL: null */
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_bool(struct jw *w, const char *key, int v);
void jw_null(struct jw *w, const char *key);
void jw_time(struct jw *w, const char *key, int64_t t); /* RFC 3339, or null for 0 */
void jw_value(struct jw *w, const char *key, json_object *v); /* a json-c value; takes it */
void jw_raw(struct jw *w, const char *key, const char *json); /* JSON text as it is; NULL: null */
/* JSON text Tollgate stored (a record, a schema, a job's result), as it
 * is once a strict check passes; null for NULL or a damaged value, so a
 * bad row cannot break the answer. */
void jw_stored(struct jw *w, const char *key, const char *json);
/* The text (the caller frees it) and its length; NULL if the writer failed. */
char *jw_finish(struct jw *w, size_t *len);
void jw_discard(struct jw *w); /* frees what was written: the answer is another */
/* The text as a json-c value, for a caller that adds it to a tree. */
json_object *jw_tree(struct jw *w);

/* ---- router.c: the route table and the checks before a handler ---- */

/* Handles one request start to finish: every path ends in r->replied. */
void router_handle(struct req *r, body_read_fn *read, void *ctx);
int router_route_count(void);
/* Whether r's route runs argon2id (login, signup, password changes). */
int router_route_kdf(struct req *r);
/* "GET /v1/health" for route i of the table; the index of r's route, or -1. */
void router_route_name(int i, char *out, size_t outlen);
int router_route_index(const struct req *r);
/* Reads up to n more bytes of a streamed body into buf, holding it to
 * TOLLGATE_MAX_BODY and its Content-Length as it arrives. Returns the count,
 * 0 at its end, or -1 after answering 413 PAYLOAD_TOO_LARGE (past the cap)
 * or 400 INVALID_BODY (shorter than its Content-Length). */
long req_body_read_or_reply(struct req *r, char *buf, size_t n);

/* ---- body.c: a request body as handlers read it, its Content-Encoding undone ---- */

/* The body's Content-Encoding: none or identity (0), gzip (1, inflated as
 * it is read), or anything else answered 415 UNSUPPORTED_MEDIA_TYPE (-1).
 * With gzip_ok 0, gzip is answered 415 too. */
int body_encoding_or_reply(struct req *r, int gzip_ok);
/* req_body_read_or_reply after the Content-Encoding: up to n more bytes of
 * the decoded body, 0 at its end; -1 once answered: 413 PAYLOAD_TOO_LARGE as
 * soon as the decoded body passes TOLLGATE_MAX_BODY (never inflating
 * further), 400 INVALID_BODY for a damaged or truncated gzip stream, or what
 * req_body_read_or_reply answers. */
long body_decoded_read_or_reply(struct req *r, char *buf, size_t n);
/* Reads all of the decoded body into r->body (NUL-terminated, r->body_len
 * bytes); -1 once answered, as body_decoded_read_or_reply. */
int body_decoded_all_or_reply(struct req *r);
/* Frees what decoding r's body holds (req_free calls it). */
void body_inflate_free(struct req *r);
/* Splits r->body as NDJSON (one JSON value a line, LF or CRLF; blank lines
 * skipped): *values gets an array of at most max values (owned by the
 * caller) and *lines (malloc'd, owned) the 1-based line of each. Answers
 * 400 INVALID_BODY naming the line that is not JSON, or when there is no
 * value at all, and BATCH_TOO_LARGE past max; -1 then. */
int body_ndjson_or_reply(struct req *r, size_t max, json_object **values, long **lines);

/* ---- metrics.c: counters for operators ---- */

void metrics_request(int route, int status, int64_t ms);
void metrics_ingested(long n);
void metrics_busy_retry(void);

/* ---- fcgi.c: the listening socket and the worker threads ---- */

/* Opens spec (a UNIX socket path, created with mode, or HOST:PORT), or with
 * spec NULL the socket inherited on fd 0 or from systemd. -1 with err. */
int fcgi_listen(const char *spec, int mode, char *err, size_t errlen);
/* Serves until SIGTERM or SIGINT, then lets requests in flight finish.
 * owned: the socket was made by fcgi_listen (not handed over), so it may be
 * shut down. */
int fcgi_serve(int listen_fd, int nthreads, int owned);

/* ---- auth.c: credentials to a principal, and the table of roles ---- */

/* Sets r->who from the request's credentials and checks that it may call a
 * route with this access, permission and key scope; answers 401/403 and
 * returns -1 otherwise. */
int auth_or_reply(struct req *r, enum access access, enum perm perm, unsigned scope);
int auth_role_allows(enum role role, enum perm perm);
enum role role_parse(const char *s);
const char *role_name(enum role role);

/* ---- password.c: argon2id ---- */

int password_init(void); /* once, before threads: the dummy hash */
/* An encoded argon2id hash of pw in out (at least 128 bytes); -1 on failure. */
int password_hash(const char *pw, char *out, size_t outlen);
/* 1 when pw matches encoded, else 0. With encoded NULL, spends the same
 * time against a dummy hash and answers 0 (unknown accounts). */
int password_verify(const char *encoded, const char *pw);

/* ---- jwt.c: user tokens (HS256, kid, claims checked by hand) ---- */

struct token {
	char sub[40], org[40], sid[40], jti[40];
	int64_t iat, exp;
};

/* Signs t with the newest key into out; -1 on failure. */
int jwt_token_issue(struct db *db, const struct token *t, char *out, size_t outlen);
#define JWT_EXPIRED (-2)

/* Verifies s: HS256 only, a known kid, a good signature, iss, typ, integer
 * iat/exp (and nbf). 0 with t filled; JWT_EXPIRED for a genuine token past
 * its exp; -1 for anything else. */
int jwt_token_verify(struct db *db, const char *s, struct token *t);
/* A new random signing key in the database (rotation), stored wrapped;
 * -1 on failure. */
int jwt_key_rotate(struct db *db, char *kid, size_t kidlen);
/* Wraps every stored key that is not wrapped yet (keys stored in clear by
 * earlier versions), in one transaction; the number wrapped, or -1 with
 * nothing changed. Needs cfg.jwt_secret. */
int jwt_keys_wrap(struct db *db);
/* Frees this thread's copy of the keys (a thread calls it before it ends). */
void jwt_thread_end(void);

/* ---- audit.c ---- */

/* Records an identity or key event in the caller's transaction (if any). */
int audit_log(
    struct req *r, const char *org_id, const char *event, const char *actor, const char *target);

/* ---- meters.c: plan limits, exact inside the caller's transaction ---- */

enum meter { METER_PROJECTS, METER_USERS, METER_API_KEYS, METER_JOBS, METER_RECORDS, METER__COUNT };

struct meter_state {
	enum meter meter;
	int64_t used;
	int64_t limit; /* -1: unlimited */
	int64_t resets_at; /* monthly meters: the next 1st, 00:00 UTC; else 0 */
};

/* Reads meter m of org at the current time. DB_OK or an error. */
int meter_read(struct db *db, const char *org_id, enum meter m, struct meter_state *st);
/* Every meter of org with its plan (id and name, when not NULL) in one
 * statement. DB_OK or an error. */
int meter_read_all(struct db *db, const char *org_id, struct meter_state st[METER__COUNT],
    char *plan_id, char *plan_name, size_t planlen);
#define METER_FULL (-1)
/* Inside a BEGIN IMMEDIATE transaction: checks that n more fit the plan and,
 * for monthly meters, adds them. DB_OK with *st after the take; METER_FULL
 * with *st as it stands and nothing taken; or a store error. */
int meter_take(struct db *db, const char *org_id, enum meter m, int64_t n, struct meter_state *st);
/* meter_take for a meter st already read in this transaction (by
 * meter_read_all, with others the caller checks in the same look). */
int meter_add(struct db *db, const char *org_id, struct meter_state *st, int64_t n);
/* Answers 403 PLAN_LIMIT for the full meter st, with its details. */
void reply_plan_limit(struct req *r, const struct meter_state *st);
/* Inside a BEGIN IMMEDIATE transaction: checks that n more fit the plan and,
 * for monthly meters, adds them. On PLAN_LIMIT (or a database error) answers
 * it, takes nothing and returns -1; the caller rolls back. */
int meter_take_or_reply(struct req *r, enum meter m, int64_t n, struct meter_state *after);
json_object *meter_json(const struct meter_state *st);
void meter_write(struct jw *w, const char *key, const struct meter_state *st);
const char *meter_name(enum meter m);
/* "2026-11" for time t, and the start of the month after it. */
void meter_period(int64_t t, char *out, size_t outlen, int64_t *next_start);

/* ---- api_keys.c ---- */

/* Verifies an API key and fills r->who; answers 401 INVALID_API_KEY and
 * returns -1 otherwise. A malformed key or bad checksum never reaches the
 * database. */
int apikey_verify_or_reply(struct req *r, const char *key);
/* How many keys were refused by their checksum alone (for tests and logs). */
long apikey_checksum_refusals(void);

/* ---- organizations.c ---- */

/* Creates an organization on Trial with its first admin. 0, or -1 with a
 * sentence in err (and *conflict set when the email is taken). */
int org_create(struct db *db, struct req *r, const char *name, const char *email,
    const char *password, const char *user_name, char *org_id, char *user_id, int *conflict);
/* Field checks shared by signup, users and sessions; they answer 400. */
int email_or_reply(struct req *r, const char *email);
int password_or_reply(struct req *r, json_object *obj, const char *field, const char **out);

/* ---- sessions.c ---- */

/* The name of the device r signs in from: given (the body's "device"), else
 * its User-Agent; at most 100 bytes, in out (at least 101). */
void device_name_of(const struct req *r, const char *given, char *out, size_t outlen);
/* Sets a user's password and revokes their sessions and device credentials;
 * answers 204 or an error. */
void password_set_and_reply(struct req *r, const char *user_id, const char *pw, const char *event);

/* ---- devices.c: device credentials (OWASP "device cookies") ---- */

#define DEVICE_TOKEN_LEN 68 /* "tgd_" + 64 hex characters */

/* The device of user_id whose credential is token: DB_ROW with its id in
 * id; DB_DONE when token is NULL, malformed, unknown, revoked or another
 * account's (all the same to the caller: no device); else the store's error. */
int device_find(struct db *db, const char *user_id, const char *token, char id[40]);
/* Inside a write transaction: a new device of user_id named name, its id in
 * id and its credential (shown once) in token; the account keeps its
 * DEVICES_MAX most recently used, and its sign-in budgets whose windows
 * ended go. Returns DB_OK or the store's error. */
int device_create(struct db *db, const char *user_id, const char *name, int64_t now, char id[40],
    char token[DEVICE_TOKEN_LEN + 1]);
/* The device was used to sign in at now. Returns DB_OK or an error. */
int device_touch(struct db *db, const char *id, int64_t now);
/* Revokes every device of user_id (password changed). DB_OK or an error. */
int device_revoke_user(struct db *db, const char *user_id);

/* ---- users.c ---- */

/* The user row at the cursor of s (columns: seq, id, email, name, role,
 * created_at, org_id) as the API shows it. */
json_object *user_json(struct db *db, enum stmt s);
void user_write(struct jw *w, const char *key, struct db *db, enum stmt s);

/* ---- tables.c: data tables ---- */

/* A data table as its owner's organization sees it. */
struct data_table {
	char id[40];
	char project_id[40];
	int published;
	char *schema; /* the schema's JSON text, NULL before the first import; owned */
};

/* Finds table id of r's organization; to an API key an unpublished table
 * does not exist. Answers 404 (or the database error) and returns -1 when it
 * is not found; on 0 the caller frees t with table_free. */
int table_find_or_reply(struct req *r, const char *id, struct data_table *t);
void table_free(struct data_table *t);

/* ---- idempotency.c: Idempotency-Key on POST (IETF idempotency-key draft) ---- */

#define IDEM_KEY_MAX 255

struct idem {
	int held; /* 1 when this request claimed a key */
	char key[IDEM_KEY_MAX + 1];
	char hash[65]; /* SHA-256 of method, path and body, in hex */
	char claim[40]; /* this claim's random id */
};

/* Before the work: without an Idempotency-Key header returns 0 with nothing
 * held. With one, claims it for r's organization in its own transaction and
 * returns 0 (i->held = 1); or answers and returns -1: the first answer again
 * (same key and body within 24 h), 409 CONFLICT (the first still runs), 422
 * IDEMPOTENCY_KEY_REUSED (another body), 400 (a malformed key). */
int idem_claim_or_reply(struct req *r, struct idem *i);
/* Inside the work's transaction: stores the answer to replay. DB_OK, or
 * IDEM_LOST when the claim was taken over (the request ran past the minute
 * after which a retry takes an unfinished key over): the caller rolls its
 * work back, which the retry does instead; or a store error. */
#define IDEM_LOST (-2)
int idem_store(struct req *r, const struct idem *i, int status, const char *body);
/* After the work answered an error (and stored nothing): frees the key, so a
 * retry runs anew. */
void idem_release(struct req *r, const struct idem *i);
/* ---- jobs.c and runner.c: spinner runs ---- */

/* Inside the caller's BEGIN IMMEDIATE transaction: queues a job of the
 * published spinner spinner_id of org_id (trigger "api" or "schedule"),
 * taking the jobs meter, unless the records meter is full. DB_OK with the
 * job's id in id (at least 40 bytes); DB_DONE when there is no such
 * published spinner; METER_FULL with the refusing meter in *full; or a store
 * error. Nothing is taken unless DB_OK. */
int job_queue(struct db *db, const char *org_id, const char *spinner_id, const char *trigger,
    char *id, size_t idlen, struct meter_state *full);
/* The job row at the cursor of s (columns: seq, id, spinner_id, trigger,
 * status, result, reason, created_at, started_at, finished_at). */
void job_write(struct jw *w, const char *key, struct db *db, enum stmt s);
/* Starts this process's job runner thread (its own database connection).
 * Call with SIGTERM and SIGINT blocked. -1 on failure, with a log line. */
int runner_start(void);
/* Stops the runner: a job in progress goes back to the queue. */
void runner_stop(void);
/* Tells the runner a job was queued, so it need not wait for its next poll. */
void runner_wake(void);

/* ---- handlers, one file per resource ---- */

void handle_health(struct req *r);
void handle_metrics(struct req *r);
void handle_openapi(struct req *r);
void handle_signup(struct req *r);
void handle_login(struct req *r);
void handle_logout(struct req *r);
void handle_session_get(struct req *r);
void handle_password_change(struct req *r);
void handle_devices_list(struct req *r);
void handle_devices_delete(struct req *r);
void handle_users_list(struct req *r);
void handle_users_create(struct req *r);
void handle_users_update(struct req *r);
void handle_users_delete(struct req *r);
void handle_users_session_delete(struct req *r);
void handle_users_password_reset(struct req *r);
void handle_audit_list(struct req *r);
void handle_projects_list(struct req *r);
void handle_projects_create(struct req *r);
void handle_projects_get(struct req *r);
void handle_projects_delete(struct req *r);
void handle_billing_usage(struct req *r);
void handle_billing_plans(struct req *r);
void handle_billing_history(struct req *r);
void handle_billing_plan_set(struct req *r);
void handle_api_keys_create(struct req *r);
void handle_api_keys_list(struct req *r);
void handle_api_keys_get(struct req *r);
void handle_api_keys_delete(struct req *r);
void handle_api_keys_rotate(struct req *r);
void handle_tables_list(struct req *r);
void handle_tables_create(struct req *r);
void handle_tables_get(struct req *r);
void handle_tables_delete(struct req *r);
void handle_tables_import(struct req *r);
void handle_tables_publish(struct req *r);
void handle_records_ingest(struct req *r);
void handle_records_list(struct req *r);
/* export.c: GET /v1/tables/{id}/records as CSV (Accept: text/csv), for the
 * table t already found and the page p already read. */
int records_csv_wanted(const struct req *r);
void records_csv_reply(struct req *r, const struct data_table *t, const struct page *p);
void handle_spinners_create(struct req *r);
void handle_spinners_list(struct req *r);
void handle_spinners_get(struct req *r);
void handle_spinners_update(struct req *r);
void handle_spinners_delete(struct req *r);
void handle_spinners_publish(struct req *r);
void handle_spinners_trigger(struct req *r);
void handle_jobs_list(struct req *r);
void handle_jobs_get(struct req *r);

#endif
