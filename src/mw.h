/* mw.h: the middleware layer: credentials and the role table, API keys and
 * user tokens, passwords, rate limits (ratelimit.h), plan meters, the audit
 * log and Idempotency-Key. It calls only the core (core.h); a middleware
 * file includes this header, never api.h. */
#ifndef TOLLGATE_MW_H
#define TOLLGATE_MW_H

#include "core.h"

/* ---- access.c: credentials to a principal, and the table of roles ---- */

/* Sets r->who from the request's credentials and checks that it may call a
 * route with this access, permission and key scope; answers 401/403 and
 * returns -1 otherwise. */
int access_or_reply(struct req *r, enum access access, enum perm perm, unsigned scope);
int access_role_allows(enum role role, enum perm perm);
enum role role_parse(const char *s);
const char *role_name(enum role role);
const char *scope_name(unsigned scope); /* "ingest", "trigger" or "read" for one SCOPE_ bit */

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

/* ---- audit.c: the audit log, and GET /v1/audit ---- */

/* Records an identity or key event in the caller's transaction (if any). */
int audit_log(
    struct req *r, const char *org_id, const char *event, const char *actor, const char *target);
void handle_audit_list(struct req *r); /* GET /v1/audit */

/* ---- meters.c: plan limits, exact inside the caller's transaction ---- */

enum meter {
	METER_PROJECTS,
	METER_USERS,
	METER_API_KEYS,
	METER_JOBS,
	METER_RECORDS,
	METER_WEBHOOKS,
	METER__COUNT
};

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
/* Answers 403 PLAN_LIMIT for the full meter st, with its details and
 * requested, how many the refused request would have added (-1: not known,
 * left out). */
void reply_plan_limit(struct req *r, const struct meter_state *st, int64_t requested);
/* Inside a BEGIN IMMEDIATE transaction: checks that n more fit the plan and,
 * for monthly meters, adds them. On PLAN_LIMIT (or a database error) answers
 * it, takes nothing and returns -1; the caller rolls back. */
int meter_take_or_reply(struct req *r, enum meter m, int64_t n, struct meter_state *after);
void meter_write(struct jw *w, const char *key, const struct meter_state *st);
const char *meter_name(enum meter m);
/* "2026-11" for time t, and the start of the month after it. */
void meter_period(int64_t t, char *out, size_t outlen, int64_t *next_start);

/* ---- outbox.c: webhook events, written in the transaction of their cause ---- */

#define WEBHOOK_RETRY_WINDOW 86400 /* seconds a delivery is retried before it fails */

/* Inside the caller's write transaction: writes an event of type with data
 * (JSON object text) to the outbox, with a pending delivery to every webhook
 * of org that takes it. Nothing is written when none does. With mark not
 * NULL the event happens once: if mark was taken before, nothing is written.
 * DB_OK or a store error (the caller's work fails: what caused the event and
 * the event are kept together or not at all). */
int webhook_emit(
    struct db *db, const char *org_id, const char *type, const char *mark, const char *data);
/* session.replaced: session old_sid of user_id ended by new_sid (device). */
int webhook_session_replaced(struct db *db, const char *org_id, const char *user_id,
    const char *old_sid, const char *new_sid, const char *device);
/* job.finished: job id of spinner as status ("succeeded", "failed"). */
int webhook_job_finished(struct db *db, const char *org_id, const char *job_id,
    const char *spinner_id, const char *status, const char *result, const char *reason);

/* ---- apikey.c: the API key format, and keys checked on requests ---- */

#define APIKEY_PUBLIC_LEN 8
#define APIKEY_SECRET_LEN 40
#define APIKEY_CHECK_LEN 6
#define APIKEY_LEN (3 + APIKEY_PUBLIC_LEN + 1 + APIKEY_SECRET_LEN + APIKEY_CHECK_LEN)
#define APIKEY_TOUCH_EVERY 60 /* seconds between lastUsedAt writes */

/* A new key in key (APIKEY_LEN + 1 bytes) with its public id and its
 * SHA-256 in hex (65 bytes); -1 when the CSPRNG fails. */
int apikey_new(char *key, char pub[APIKEY_PUBLIC_LEN + 1], char hash[65]);
/* Verifies an API key and fills r->who; answers 401 INVALID_API_KEY and
 * returns -1 otherwise. A malformed key or bad checksum never reaches the
 * database. */
int apikey_verify_or_reply(struct req *r, const char *key);
/* How many keys were refused by their checksum alone (for tests and logs). */
long apikey_checksum_refusals(void);

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

#endif
