/* core.h: the core layer: settings, log, clock and ids, the client address,
 * the store, requests and responses with the one error table, JSON, and
 * counters. A core file includes only this header (and its own module's),
 * so it cannot call the middleware (mw.h) or the resources (api.h) above
 * it: the compiler refuses the undeclared call. Everything else is static. */
#ifndef TOLLGATE_CORE_H
#define TOLLGATE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define TG_VERSION "0.1.0"

/* ---- config.c: settings from TOLLGATE_* variables and an optional file ---- */

/* Where the HTTP rate limits are counted (TOLLGATE_RATELIMIT). */
enum ratelimit_where {
	RATELIMIT_UNSET, /* config_load picks: postgresql on that store, else local */
	RATELIMIT_LOCAL, /* "local": the host's table (cfg.ratelimit_file) */
	RATELIMIT_POSTGRESQL, /* "postgresql": the store's buckets, exact across hosts */
};

struct config {
	char db_path[1024]; /* an SQLite file, or a postgresql:// URL */
	char db_shown[1024]; /* db_path with its password hidden, for logs */
	enum ratelimit_where ratelimit;
	char ratelimit_file[1024]; /* the local limiter's table (db_path-ratelimit, or in /dev/shm)
	                            */
	char jwt_secret[512];
	size_t jwt_secret_len;
	long rate_key; /* requests a minute per API key, for plans that set none */
	long rate_ip; /* requests a minute per unauthenticated IP */
	long rate_user; /* requests a minute per signed-in user, for plans that set none */
	long rate_org; /* requests a minute per organization, for plans that set none */
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
	char webhook_allow_hosts[1024]; /* hosts webhooks may reach over http:// and in private
	                                   ranges */
	long webhook_backoff_base; /* seconds before a webhook's first retry (tests shorten it) */
};

extern struct config cfg;

/* Fills cfg with defaults, then the file (if path is not NULL), then the
 * environment. On a bad value returns -1 with a sentence in err. */
int config_load(const char *path, char *err, size_t errlen);

/* ---- seal.c: secrets sealed under TOLLGATE_JWT_SECRET ---- */

#define SEAL_NONCE 12
#define SEAL_TAG 16

/* AES-256-GCM of in (len bytes) under the key HKDF-SHA256 derives from the
 * configured secret with info label, aad as the associated data; enc 1
 * seals (tag written), 0 opens (tag checked). The output length, or -1 (no
 * secret configured, a wrong key, or a changed byte). */
int seal_gcm(int enc, const char *label, const char *aad, const unsigned char nonce[SEAL_NONCE],
    const unsigned char *in, int len, unsigned char *out, unsigned char tag[SEAL_TAG]);

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
 * lines every request writes, without printf. */
size_t tg_append(char *out, size_t outlen, size_t n, const char *s, size_t max);
size_t tg_append_num(char *out, size_t outlen, size_t n, int64_t v);
/* The length of the UTF-8 sequence at p, before end (RFC 3629: no overlongs,
 * no surrogates), or 0 when it is not valid: the one decoder, for JSON and
 * CSV alike. */
size_t tg_utf8_len(const unsigned char *p, const unsigned char *end);
/* Copies src into out as valid UTF-8: each byte that starts no valid
 * sequence becomes U+FFFD, and the copy ends at a character boundary within
 * max bytes (and outlen - 1). Always NUL-terminated (outlen > 0); the
 * length. */
size_t tg_utf8_clean(const char *src, size_t max, char *out, size_t outlen);
/* Parses an RFC 3339 time ("2026-12-01T00:00:00Z", "2026-12-01t01:30:00.5+01:30")
 * strictly: digits only, each field in range, days per month and leap
 * year; -1 for anything else. */
int tg_time_parse(const char *s, int64_t *out);

/* ---- client.c: the client's address ---- */

/* The client's address: remote_addr, or, when remote_addr is one of
 * cfg.trusted_proxies (IPs or CIDRs, separated by commas or spaces), the
 * right-most X-Forwarded-For entry that is not (an entry that is no address
 * stops the walk at the hop before it). Written in canonical form
 * (IPv4-mapped IPv6 as IPv4) to out, at least 64 bytes. Returns 0, or -1
 * when remote_addr is no address: then out is remote_addr's printable
 * characters ("unknown" if none). */
int client_ip(const char *remote_addr, const char *xff, char *out, size_t outlen);

/* Whether every entry of list (TOLLGATE_TRUSTED_PROXIES: addresses or CIDRs,
 * separated by commas or spaces) parses; else -1 with err naming the first. */
int client_proxies_check(const char *list, char *err, size_t errlen);
/* The rate-limit bucket of a client address in out: the address, or for
 * IPv6 its /64 (one subscriber's network, where each host can take any
 * address); an address that does not parse as it is. */
void client_bucket(const char *ip, char *out, size_t outlen);

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
	STMT_SESSION_REVOKE_DEVICE,
	STMT_SESSION_DEVICE,
	STMT_SESSION_ACTIVITY,
	STMT_DEVICE_INSERT,
	STMT_DEVICE_BY_HASH,
	STMT_DEVICE_TOUCH,
	STMT_DEVICE_LIST,
	STMT_DEVICE_LIST_RECENT,
	STMT_DEVICE_DELETE,
	STMT_DEVICE_DELETE_USER,
	STMT_DEVICE_PRUNE,
	STMT_LOGIN_BUDGET_TAKE,
	STMT_LOGIN_BUDGET_GET,
	STMT_LOGIN_BUDGET_PRUNE,
	STMT_LOGIN_BUDGET_GIVE,
	STMT_RATE_TAKE,
	STMT_RATE_PRUNE,
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
	STMT_PLAN_RATES,
	STMT_USAGE_HISTORY,
	STMT_PROJECT_INSERT,
	STMT_PROJECT_GET,
	STMT_PROJECT_LIST,
	STMT_PROJECT_DELETE,
	/* tables.c, records.c, idempotency.c */
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
	/* webhooks.c, outbox.c, webhook_send.c */
	STMT_WEBHOOK_INSERT,
	STMT_WEBHOOK_GET,
	STMT_WEBHOOK_LIST,
	STMT_WEBHOOK_DELETE,
	STMT_WEBHOOK_SUBSCRIBED,
	STMT_WEBHOOK_MARK,
	STMT_WEBHOOK_EVENT_INSERT,
	STMT_WEBHOOK_FAN_OUT,
	STMT_DELIVERY_LIST,
	STMT_DELIVERY_GET,
	STMT_DELIVERY_RETRY,
	STMT_DELIVERY_CLAIM,
	STMT_DELIVERY_TARGET,
	STMT_DELIVERY_FINISH,
	STMT_DELIVERY_RELEASE,
	STMT_WEBHOOK_KEYS_EXPIRING,
	STMT_DELIVERY_DUE,
	/* the store's own: transactions, settings, the schema version */
	STMT_TX_BEGIN,
	STMT_TX_BEGIN_IMMEDIATE,
	STMT_TX_COMMIT,
	STMT_TX_ROLLBACK,
	STMT_TX_SAVEPOINT,
	STMT_TX_RELEASE,
	STMT_TX_ROLLBACK_TO,
	STMT_PRAGMA_WAL,
	STMT_PRAGMA_SYNCHRONOUS,
	STMT_PRAGMA_FOREIGN_KEYS,
	STMT_VERSION_GET,
	STMT_VERSION_SET,
	/* backup.c, copystore.c */
	STMT_BACKUP_SCHEMA_COUNT,
	STMT_BACKUP_JOURNAL_DELETE,
	STMT_BACKUP_INTEGRITY_CHECK,
	STMT_COPY_TABLES,
	STMT_COPY_PARENTS,
	STMT_COPY_COLUMNS,
	STMT_COPY_PG_VERSION,
	STMT_COPY_PG_COLUMNS,
	STMT__COUNT
};

enum db_rc { DB_OK = 0, DB_ROW, DB_DONE, DB_BUSY, DB_CONSTRAINT, DB_ERROR };

struct db;

/* Whether TOLLGATE_DB names a PostgreSQL server (postgresql:// or
 * postgres://) rather than an SQLite file (db_pg.c). */
int db_is_url(const char *db);
/* db (a path or URL) with a URL's password written "***", for logs. */
void db_shown(const char *db, char *out, size_t outlen);
int db_url_has_password(const char *url);

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
/* One read snapshot for the statements until db_read_end: a single WAL read
 * transaction instead of one per statement (each takes SQLite's shared-memory
 * mutex and locks, which the worker threads contend on). A write (db_write)
 * ends it first, so a handler that writes after all loses nothing. */
int db_read_begin(struct db *db);
void db_read_end(struct db *db);
/* A piece of write work: it runs inside a write transaction on the
 * connection it is given. It answers DB_OK to keep what it wrote; anything
 * else is handed back and its writes undone. */
typedef int db_work_fn(struct db *db, void *arg);
/* The one way to write: runs fn(db, arg) in a write transaction of its
 * own (after this process's other writers: BEGIN IMMEDIATE on SQLite, an
 * advisory lock every process takes on PostgreSQL) and commits it
 * when fn answers DB_OK. fn runs once: a busy database is waited for
 * before it starts, never by running it again. Returns DB_OK when committed;
 * else fn's answer or the store's error, with nothing of fn's kept. No
 * transaction outlives the call. Ends db's read snapshot (db_read_begin)
 * first. */
int db_write(struct db *db, db_work_fn *fn, void *arg);
/* Whether db is inside write work (db_write's transaction). */
int db_in_write(const struct db *db);
/* As db_write, but the transaction may be shared with other threads'
 * pieces (group commit: one BEGIN IMMEDIATE and one COMMIT for them all);
 * fn runs in a savepoint of its own, perhaps on another thread's
 * connection while this one waits. */
int db_write_grouped(struct db *db, db_work_fn *fn, void *arg);
/* The text of statement s, for a caller with a connection of its own
 * (backup.c). */
const char *db_sql(enum stmt s);
/* Its PostgreSQL text, for copystore.c's own connection (placeholders ?N
 * as written: only for statements without any). */
const char *db_sql_pg(enum stmt s);
/* The request id db's log lines carry from now on (NULL: none). */
void db_log_request(struct db *db, const char *rid);
/* Waits for another process's writer so far in this process. */
unsigned long db_busy_retries(void);
/* Group commits so far in this process, and the pieces they carried. */
void db_group_counts(unsigned long *commits, unsigned long *pieces);
/* Binds args by types ('i' int64_t, 't' const char * or NULL, 'd' double)
 * and steps once. db_query leaves the cursor open on DB_ROW (end it with
 * db_end); db_run always ends it and answers DB_OK or an error. */
int db_query(struct db *db, enum stmt s, const char *types, ...);
int db_run(struct db *db, enum stmt s, const char *types, ...);
/* Inside write work: the db_run calls until db_batch_end may be sent
 * together without waiting for each answer (on PostgreSQL, one round trip
 * for them all; on SQLite each runs at once). db_batch_end answers the
 * first error among them, or DB_OK; what they wrote is kept or undone with
 * the work. */
void db_batch_begin(struct db *db);
int db_batch_end(struct db *db);
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
	/* the same codes, with the sentence a particular refusal needs */
	ERR_INVALID_BODY_EMAIL,
	ERR_INVALID_BODY_ROLE,
	ERR_INVALID_BODY_SCOPES,
	ERR_INVALID_BODY_EXPIRES_AT,
	ERR_INVALID_BODY_GRACE_PERIOD,
	ERR_INVALID_BODY_PLAN,
	ERR_INVALID_BODY_RECORDS,
	ERR_INVALID_BODY_SCHEDULE,
	ERR_INVALID_BODY_TABLE_ID,
	ERR_INVALID_BODY_LIMIT,
	ERR_INVALID_BODY_CURSOR,
	ERR_INVALID_BODY_IDEMPOTENCY_KEY,
	ERR_INVALID_BODY_SHORT,
	ERR_INVALID_BODY_CONTENT_LENGTH,
	ERR_INVALID_BODY_NOT_OBJECT,
	ERR_INVALID_BODY_URL,
	ERR_INVALID_BODY_URL_PRIVATE,
	ERR_INVALID_BODY_EVENTS,
	ERR_SCHEMA_MISMATCH_CSV,
	ERR_INVALID_CREDENTIALS_CURRENT,
	ERR_PERMISSION_DENIED_KEY,
	ERR_CONFLICT_EMAIL,
	ERR_CONFLICT_LAST_ADMIN,
	ERR_CONFLICT_KEY_ROTATED,
	ERR_CONFLICT_PROJECT_NAME,
	ERR_CONFLICT_TABLE_NAME,
	ERR_CONFLICT_SPINNER_NAME,
	ERR_CONFLICT_IMPORT_RACE,
	ERR_CONFLICT_IDEMPOTENCY_IN_PROGRESS,
	ERR_CONFLICT_IDEMPOTENCY_TAKEN_OVER,
	ERR_MISSING_SCOPE_INGEST,
	ERR_MISSING_SCOPE_TRIGGER,
	ERR_UNSUPPORTED_MEDIA_TYPE_CSV,
	ERR_UNSUPPORTED_MEDIA_TYPE_RECORDS,
	ERR_UNSUPPORTED_MEDIA_TYPE_ENCODING,
	ERR_UNSUPPORTED_MEDIA_TYPE_NO_ENCODING,
	ERR_INVALID_BODY_NDJSON_EMPTY,
	ERR_INVALID_BODY_PARTIAL,
	ERR_BATCH_TOO_LARGE_NDJSON,
	ERR_SCHEMA_MISMATCH_NONE_GOOD,
	ERR_NO_SCHEMA_EXPORT,
	ERR__COUNT
};

enum method { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M__COUNT, M_OTHER = M__COUNT };
const char *method_name(enum method m); /* "GET" ...; "OTHER" for M_OTHER */

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_MEMBER, ROLE_ADMIN };

/* Who may call a route: nobody needs credentials, a signed-in user only, or
 * a user or an API key. */
enum access { ACCESS_PUBLIC, ACCESS_USER, ACCESS_ANY };

/* What a user's role must allow (access.c has the one table of roles). */
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
	int refused; /* 413: the web server refused the body (TOLLGATE_REFUSED) */
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
	struct body_inflate *inflate; /* a gzip body's inflater (body.c); body_inflate_free */
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
/* Answers status with body (owned: freed here) of the given Content-Type
 * (NULL: JSON). */
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
/* reply_error with details written by a row writer (takes w's text). */
void reply_error_jw(struct req *r, enum err e, const char *message, struct jw *details);
/* The answer for a failed store call: 503 UNAVAILABLE for DB_BUSY, else 500. */
void reply_db_error(struct req *r, int rc, const char *where);
/* A request's write work for db_tx_or_reply, run inside the transaction
 * on r->db. It answers DB_OK to commit. To refuse, it may answer the
 * request itself (a 404, a 409) and return anything else: then nothing it
 * wrote is kept. It never answers success: that waits for the commit. */
typedef int req_work_fn(struct req *r, void *arg);
/* The one transaction idiom of a handler: runs fn(r, arg) by db_write and
 * returns DB_OK once it committed. Otherwise returns the failure and, unless
 * fn answered, answers the store error (reply_db_error, logged with where). */
int db_tx_or_reply(struct req *r, req_work_fn *fn, void *arg, const char *where);
/* The statuses Tollgate answers (http.c's one table of them, with their
 * reason phrases): a status's slot in it, HTTP_STATUS_COUNT for any other;
 * the status of a slot, 0 for HTTP_STATUS_COUNT. */
#define HTTP_STATUS_COUNT 15
int http_status_slot(int status);
int http_status_code(int slot);
const char *err_code(enum err e);
int err_status(enum err e);

/* Writes the response (status line, headers, body) through put; nothing
 * more for an answer that was streamed (reply_stream_begin). */
void req_write(struct req *r, body_write_fn *put, void *ctx);
void req_log(const struct req *r);

/* A string field of obj; answers 400 INVALID_BODY (details.field) and returns
 * -1 when it is missing (if required), not a string, has NUL bytes or its
 * length in characters is outside min..max. *out is NULL when absent. */
int json_string_or_reply(struct req *r, json_object *obj, const char *field, int required,
    size_t min, size_t max, const char **out);
int json_bool_or_reply(struct req *r, json_object *obj, const char *field, int *out);

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
/* The same, with more members of the answer after "nextCursor", written by
 * more (with ctx): it returns DB_OK, or the store's error, which is then
 * answered instead of the page. */
typedef int page_more_fn(struct jw *w, struct req *r, void *ctx);
void reply_rows_more(struct req *r, enum stmt s, int rc, const struct page *p, row_write_fn *row,
    page_more_fn *more, void *ctx, const char *where);
/* With s's cursor just opened (answer rc): answers status with the row made
 * by row, 404 NOT_FOUND when there is none, or the database error; ends the
 * cursor. */
void reply_row(
    struct req *r, enum stmt s, int rc, int status, row_write_fn *row, const char *where);

/* Reads up to n more bytes of a streamed body into buf, holding it to
 * TOLLGATE_MAX_BODY and its Content-Length as it arrives. Returns the count,
 * 0 at its end, or -1 after answering 413 PAYLOAD_TOO_LARGE (past the cap)
 * or 400 INVALID_BODY (shorter than its Content-Length). */
long req_body_read_or_reply(struct req *r, char *buf, size_t n);

/* ---- json.c: strict parsing of outside input ---- */

#define JSON_MAX_DEPTH 32
/* Values in one JSON text at most: 500 records of 256 columns fit. */
#define JSON_MAX_VALUES 262144

/* Parses buf as one JSON value: strict grammar, valid UTF-8, no NUL bytes,
 * nesting at most JSON_MAX_DEPTH, at most JSON_MAX_VALUES values, nothing
 * after it. Returns NULL with a sentence in why on failure. */
json_object *json_parse_strict(const char *buf, size_t len, char *why, size_t whylen);
/* Only the checks of json_parse_strict: 0 if buf is such JSON, else -1. */
int json_check(const char *buf, size_t len, char *why, size_t whylen);
json_object *json_str(const char *s); /* NULL becomes JSON null */
json_object *json_time(int64_t t); /* RFC 3339, or null for 0 */

/* ---- json.c: writing answers ----
 * Text straight into one growing buffer, for the answers every request
 * makes (errors, health, usage, the session, a trigger), without a json-c
 * tree. Each call takes the
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
/* Frees what decoding r's body holds: its owner (the router, which set it
 * up) calls it once the handler is done, before req_free. */
void body_inflate_free(struct req *r);
/* Splits r->body as NDJSON (one JSON value a line, LF or CRLF; blank lines
 * skipped): *values gets an array of at most max values (owned by the
 * caller) and *lines (malloc'd, owned) the 1-based line of each. Answers
 * 400 INVALID_BODY naming the line that is not JSON, or when there is no
 * value at all, and BATCH_TOO_LARGE past max; -1 then. */
int body_ndjson_or_reply(struct req *r, size_t max, json_object **values, long **lines);

/* ---- metrics.c: counters for operators ---- */

/* Names the routes, "GET /v1/health" for route 0 of the route table and so
 * on: once, before threads start; names must outlive the process. */
void metrics_routes(const char *const *names, int n);
void metrics_request(int route, int status, int64_t ms);
void metrics_ingested(long n);
/* GET /v1/metrics: the counters in Prometheus' text format, to the bearer
 * of TOLLGATE_METRICS_TOKEN (404 while it is unset). */
void handle_metrics(struct req *r);

#endif
