/* api.h: the resources, one file per resource of the route table, and on
 * top of them the router (router.c) and the worker loop (fcgi.c). They call
 * the layers below (core.h, mw.h); no file below includes this header. */
#ifndef TOLLGATE_API_H
#define TOLLGATE_API_H

#include "mw.h"

/* ---- signup.c: POST /v1/signup and `tollgate create-org` ---- */

/* Creates an organization on Trial with its first admin. 0, or -1 with a
 * sentence in err (and *conflict set when the email is taken). */
int org_create(struct db *db, struct req *r, const char *name, const char *email,
    const char *password, const char *user_name, char *org_id, char *user_id, int *conflict);

/* ---- accounts.c: what signup, users and sessions share ---- */

/* Field checks; they answer 400 INVALID_BODY (details.field). */
int email_or_reply(struct req *r, const char *email);
int password_or_reply(struct req *r, json_object *obj, const char *field, const char **out);
/* Sets a user's password and revokes their sessions and device credentials;
 * answers 204 or an error. */
void password_set_and_reply(struct req *r, const char *user_id, const char *pw, const char *event);
/* The user row at the cursor of s (columns: seq, id, email, name, role,
 * created_at, org_id) as the API shows it. */
void user_write(struct jw *w, const char *key, struct db *db, enum stmt s);
/* User id of org_id written as user_write does, or null when it is gone. */
void user_write_by_id(
    struct jw *w, const char *key, struct db *db, const char *id, const char *org_id);

/* ---- auth.c: POST /v1/auth/login and the session ---- */

/* The name of the device r signs in from: given (the body's "device"), else
 * its User-Agent; at most 100 bytes, in out (at least 101). */
void device_name_of(const struct req *r, const char *given, char *out, size_t outlen);

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

/* ---- export.c: a table's records as CSV ---- */

/* Whether r asks for GET /v1/tables/{id}/records as CSV: its Accept names
 * text/csv (q above 0) and does not rank application/json above it. */
int records_csv_wanted(const struct req *r);
/* Answers the page p of table t's records as CSV (the schema's columns as
 * the header, one row a record), streamed as it is read; 400 NO_SCHEMA
 * before the first import. */
void records_csv_reply(struct req *r, const struct data_table *t, const struct page *p);

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

/* ---- webhooks.c and webhook_send.c: signed webhooks (events: outbox.c) ---- */

/* Seals secret for webhook id into out (hex: nonce, ciphertext, tag) with a
 * key derived from TOLLGATE_JWT_SECRET (seal.c, the id as associated data).
 * 0, or -1. */
int webhook_secret_seal(const char *id, const char *secret, char *out, size_t outlen);
/* Opens what webhook_secret_seal made for id; -1 when it is damaged, of
 * another webhook, or sealed under another TOLLGATE_JWT_SECRET. */
int webhook_secret_open(const char *id, const char *sealed, char *out, size_t outlen);
/* Starts this process's sender (its own database connection): it delivers
 * due deliveries under a lease and scans for expiring API keys. -1 on
 * failure, with a log line. */
int webhook_sender_start(void);
/* Stops it: a delivery being sent is given back unsent, its attempt not counted. */
void webhook_sender_stop(void);

/* ---- handlers, one file per resource ---- */

void handle_health(struct req *r);
void handle_openapi(struct req *r);
void handle_signup(struct req *r);
void handle_login(struct req *r);
void handle_logout(struct req *r);
void handle_session_get(struct req *r);
void handle_password_change(struct req *r);
void handle_devices_list(struct req *r);
void handle_devices_delete(struct req *r);
void handle_activity_get(struct req *r);
void handle_users_list(struct req *r);
void handle_users_create(struct req *r);
void handle_users_update(struct req *r);
void handle_users_delete(struct req *r);
void handle_users_session_delete(struct req *r);
void handle_users_password_reset(struct req *r);
void handle_users_activity_get(struct req *r);
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
void handle_spinners_create(struct req *r);
void handle_spinners_list(struct req *r);
void handle_spinners_get(struct req *r);
void handle_spinners_update(struct req *r);
void handle_spinners_delete(struct req *r);
void handle_spinners_publish(struct req *r);
void handle_spinners_trigger(struct req *r);
void handle_jobs_list(struct req *r);
void handle_jobs_get(struct req *r);
void handle_webhooks_create(struct req *r);
void handle_webhooks_list(struct req *r);
void handle_webhooks_get(struct req *r);
void handle_webhooks_delete(struct req *r);
void handle_webhook_deliveries_list(struct req *r);
void handle_webhook_delivery_retry(struct req *r);

/* ---- router.c: the route table and the checks before a handler ---- */

/* Handles one request start to finish: every path ends in r->replied. */
void router_handle(struct req *r, body_read_fn *read, void *ctx);
/* Once, before threads start: hands the route names to metrics.c. */
void router_init(void);
/* The route table as JSON (`tollgate routes`): an array of {method,
 * pattern, access, permission, scope, body, kdf} in table order. The text
 * (the caller frees it) and its length; NULL when memory runs out. */
char *router_routes_json(size_t *len);
/* Whether r's route runs argon2id (login, signup, password changes). */
int router_route_kdf(struct req *r);
/* The index of r's route in the table, or -1. */
int router_route_index(const struct req *r);

/* ---- fcgi.c: the listening socket and the worker threads ---- */

/* Opens spec (a UNIX socket path, created with mode, or HOST:PORT), or with
 * spec NULL the socket inherited on fd 0 or from systemd. A path where a
 * server answers is refused; a stale socket there is replaced. -1 with err. */
int fcgi_listen(const char *spec, int mode, char *err, size_t errlen);
/* Clears the way for a UNIX socket at path (a spec with a '/'; any other
 * spec passes): nothing there, or a socket nobody answers on (left by a
 * server that died), which is removed. A socket where a server accepts, or
 * a file that is not a socket, is kept: -1 with err set. */
int fcgi_socket_clear(const char *path, char *err, size_t errlen);
/* Serves until SIGTERM or SIGINT, then lets requests in flight finish.
 * owned: the socket was made by fcgi_listen (not handed over), so it may be
 * shut down. */
int fcgi_serve(int listen_fd, int nthreads, int owned);

#endif
