/* webhooks.c: an organization's webhooks (admins only), their deliveries,
 * and the outbox: webhook_emit writes an event and its deliveries inside the
 * transaction of what caused it, so an event is sent at least once if and
 * only if that committed (webhook_send.c sends them). A webhook's signing
 * secret is shown once and stored sealed under a key derived from
 * TOLLGATE_JWT_SECRET: the sender must be able to sign with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "webhooks.h"

#define SECRET_BYTES 32
#define SECRET_LEN (6 + 2 * SECRET_BYTES) /* "whsec_" + hex */
#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEALED_MAX (2 * (SEAL_NONCE + SECRET_LEN + SEAL_TAG) + 1)

/* The event types a webhook can take. */
static const char *const event_types[] = { "meter.threshold", "session.replaced", "key.expiring",
	"job.finished" };
#define NEVENT_TYPES (sizeof(event_types) / sizeof(event_types[0]))

/* ---- sealed secrets ---- */

/* The sealing key: HKDF-SHA256 of TOLLGATE_JWT_SECRET. 0, or -1. */
static int
seal_key(unsigned char key[32])
{
	static const char salt[] = "tollgate", info[] = "webhook signing secrets v1";
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;
	int ok;

	ok = c != NULL && EVP_PKEY_derive_init(c) > 0 &&
	    EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_salt(c, (const unsigned char *)salt, sizeof(salt) - 1) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_key(
	        c, (const unsigned char *)cfg.jwt_secret, (int)cfg.jwt_secret_len) > 0 &&
	    EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)info, sizeof(info) - 1) > 0 &&
	    EVP_PKEY_derive(c, key, &len) > 0 && len == 32;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

static void
hex_encode(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_decode(const char *s, unsigned char *out, size_t max, size_t *n)
{
	size_t len = strlen(s);

	if (len % 2 != 0 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	*n = len / 2;
	return 0;
}

int
webhook_secret_seal(const char *id, const char *secret, char *out, size_t outlen)
{
	unsigned char key[32], buf[SEAL_NONCE + SECRET_LEN + SEAL_TAG];
	size_t len = strlen(secret);
	EVP_CIPHER_CTX *c = NULL;
	int n, ok = 0;

	if (len > SECRET_LEN || outlen < 2 * (SEAL_NONCE + len + SEAL_TAG) + 1 ||
	    seal_key(key) < 0 || tg_random(buf, SEAL_NONCE) < 0)
		goto out;
	ok = (c = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) > 0 &&
	    EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)id, (int)strlen(id)) > 0 &&
	    EVP_EncryptUpdate(c, buf + SEAL_NONCE, &n, (const unsigned char *)secret, (int)len) >
	        0 &&
	    EVP_EncryptFinal_ex(c, buf + SEAL_NONCE + n, &n) > 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, buf + SEAL_NONCE + len) > 0;
	if (ok)
		hex_encode(buf, SEAL_NONCE + len + SEAL_TAG, out);
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	return ok ? 0 : -1;
}

int
webhook_secret_open(const char *id, const char *sealed, char *out, size_t outlen)
{
	unsigned char key[32], buf[SEAL_NONCE + SECRET_LEN + SEAL_TAG];
	EVP_CIPHER_CTX *c = NULL;
	size_t n, len;
	int k, ok = 0;

	if (hex_decode(sealed, buf, sizeof(buf), &n) < 0 || n < SEAL_NONCE + SEAL_TAG ||
	    (len = n - SEAL_NONCE - SEAL_TAG) + 1 > outlen || seal_key(key) < 0)
		goto out;
	ok = (c = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) > 0 &&
	    EVP_DecryptUpdate(c, NULL, &k, (const unsigned char *)id, (int)strlen(id)) > 0 &&
	    EVP_DecryptUpdate(c, (unsigned char *)out, &k, buf + SEAL_NONCE, (int)len) > 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, buf + SEAL_NONCE + len) > 0 &&
	    EVP_DecryptFinal_ex(c, (unsigned char *)out + k, &k) > 0;
	out[ok ? len : 0] = '\0';
out:
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(key, sizeof(key));
	return ok ? 0 : -1;
}

/* ---- the outbox ---- */

int
webhook_emit(
    struct db *db, const char *org_id, const char *type, const char *mark, const char *data)
{
	char id[40], created[32];
	int64_t now = tg_now(), subscribed;
	struct jw w;
	char *body;
	size_t len;
	int rc = db_query(db, STMT_WEBHOOK_SUBSCRIBED, "tt", org_id, type);

	subscribed = rc == DB_ROW ? db_int(db, STMT_WEBHOOK_SUBSCRIBED, 0) : 0;
	db_end(db, STMT_WEBHOOK_SUBSCRIBED);
	if (rc != DB_ROW)
		return rc == DB_DONE ? DB_ERROR : rc;
	if (subscribed == 0)
		return DB_OK;
	if (mark != NULL) {
		if ((rc = db_run(db, STMT_WEBHOOK_MARK, "tti", org_id, mark, now)) != DB_OK)
			return rc;
		if (db_changes(db) == 0) /* it happened before */
			return DB_OK;
	}
	if (tg_id_new("evt", id, sizeof(id)) < 0)
		return DB_ERROR;
	tg_time_format(now, created, sizeof(created));
	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "id", id);
	jw_string(&w, "type", type);
	jw_string(&w, "createdAt", created);
	jw_string(&w, "organizationId", org_id);
	jw_raw(&w, "data", data);
	jw_object_end(&w);
	if ((body = jw_finish(&w, &len)) == NULL)
		return DB_ERROR;
	rc = db_run(db, STMT_WEBHOOK_EVENT_INSERT, "tttti", id, org_id, type, body, now);
	free(body);
	if (rc == DB_OK)
		rc = db_run(db, STMT_WEBHOOK_FAN_OUT, "tttii", org_id, type, id, now,
		    (int64_t)WEBHOOK_RETRY_WINDOW);
	if (rc != DB_OK)
		log_msg(NULL, "webhooks: %s event of %s: database error %d", type, org_id, rc);
	return rc;
}

/* Writes w's text to the outbox as an event (see webhook_emit); frees w. */
static int
emit_jw(struct db *db, const char *org_id, const char *type, const char *mark, struct jw *w)
{
	size_t len;
	char *data = jw_finish(w, &len);
	int rc;

	if (data == NULL)
		return DB_ERROR;
	rc = webhook_emit(db, org_id, type, mark, data);
	free(data);
	return rc;
}

int
webhook_meter_crossed(struct db *db, const char *org_id, const struct meter_state *st, int64_t n)
{
	static const int thresholds[] = { 80, 100 };
	char period[32], mark[128];
	int rc = DB_OK;

	if (st->limit <= 0 || n <= 0)
		return DB_OK;
	for (size_t i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]) && rc == DB_OK; i++) {
		int64_t at =
		    (st->limit * thresholds[i] + 99) / 100; /* the first use that reaches it */
		struct jw w;

		if (!(st->used < at && st->used + n >= at))
			continue;
		meter_period(tg_now(), period, sizeof(period), NULL);
		snprintf(mark, sizeof(mark), "meter.threshold:%s:%s:%d", meter_name(st->meter),
		    period, thresholds[i]);
		jw_init(&w);
		jw_object(&w, NULL);
		jw_string(&w, "meter", meter_name(st->meter));
		jw_int(&w, "used", st->used + n);
		jw_int(&w, "limit", st->limit);
		jw_int(&w, "threshold", thresholds[i]);
		jw_time(&w, "resetsAt", st->resets_at);
		jw_object_end(&w);
		rc = emit_jw(db, org_id, "meter.threshold", mark, &w);
	}
	return rc;
}

int
webhook_session_replaced(struct db *db, const char *org_id, const char *user_id,
    const char *old_sid, const char *new_sid, const char *device)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "userId", user_id);
	jw_string(&w, "sessionId", old_sid);
	jw_object(&w, "replacedBy");
	jw_string(&w, "sessionId", new_sid);
	jw_string(&w, "device", device);
	jw_object_end(&w);
	jw_object_end(&w);
	return emit_jw(db, org_id, "session.replaced", NULL, &w);
}

int
webhook_job_finished(struct db *db, const char *org_id, const char *job_id, const char *spinner_id,
    const char *status, const char *result, const char *reason)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "jobId", job_id);
	jw_string(&w, "spinnerId", spinner_id);
	jw_string(&w, "status", status);
	jw_stored(&w, "result", result);
	jw_string(&w, "reason", reason);
	jw_time(&w, "finishedAt", tg_now());
	jw_object_end(&w);
	return emit_jw(db, org_id, "job.finished", NULL, &w);
}

/* ---- the routes ---- */

/* The members of the webhook row at the cursor of s (seq, id, url, events,
 * created_at). */
static void
webhook_members(struct jw *w, struct db *db, enum stmt s)
{
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "url", db_text(db, s, 2));
	jw_stored(w, "events", db_text(db, s, 3));
	jw_time(w, "createdAt", db_int(db, s, 4));
}

static void
webhook_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	webhook_members(w, db, s);
	jw_object_end(w);
}

/* The delivery row at the cursor of s (STMT_DELIVERY_LIST's columns). */
static void
delivery_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "eventId", db_text(db, s, 2));
	jw_string(w, "event", db_text(db, s, 3));
	jw_string(w, "status", db_text(db, s, 4));
	jw_int(w, "attempts", db_int(db, s, 5));
	if (db_isnull(db, s, 6))
		jw_null(w, "lastStatus");
	else
		jw_int(w, "lastStatus", db_int(db, s, 6));
	jw_string(w, "error", db_isnull(db, s, 7) ? NULL : db_text(db, s, 7));
	jw_time(w, "lastAttemptAt", db_int(db, s, 8));
	jw_time(w, "nextAttemptAt", db_int(db, s, 9));
	jw_time(w, "createdAt", db_int(db, s, 10));
	jw_object_end(w);
}

static void
reply_field(struct req *r, const char *field, const char *msg)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "field", json_object_new_string(field));
	reply_error(r, ERR_INVALID_BODY, msg, d);
}

/* Reads "events": a non-empty list of known event types, as the JSON text
 * stored (each once, in the order given) into out. */
static int
events_or_reply(struct req *r, char *out, size_t outlen)
{
	json_object *a;
	unsigned seen = 0;
	size_t n, len;
	struct jw w;
	char *text;

	if (!json_object_object_get_ex(r->json, "events", &a) ||
	    !json_object_is_type(a, json_type_array) || (n = json_object_array_length(a)) == 0 ||
	    n > 16)
		goto bad;
	jw_init(&w);
	jw_array(&w, NULL);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		size_t k = NEVENT_TYPES;

		if (json_object_is_type(v, json_type_string))
			for (k = 0; k < NEVENT_TYPES; k++)
				if (strcmp(json_object_get_string(v), event_types[k]) == 0)
					break;
		if (k == NEVENT_TYPES) {
			jw_discard(&w);
			goto bad;
		}
		if (!(seen & 1u << k))
			jw_string(&w, NULL, event_types[k]);
		seen |= 1u << k;
	}
	jw_array_end(&w);
	if ((text = jw_finish(&w, &len)) == NULL || strlen(text) >= outlen) {
		free(text);
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return -1;
	}
	snprintf(out, outlen, "%s", text);
	free(text);
	return 0;
bad:
	reply_field(r, "events",
	    "Field \"events\" must be a non-empty list of \"meter.threshold\", "
	    "\"session.replaced\", \"key.expiring\" and \"job.finished\".");
	return -1;
}

void
handle_webhooks_create(struct req *r)
{
	const char *url;
	char id[40], events[256], err[160], msg[256], secret[SECRET_LEN + 1], sealed[SEALED_MAX];
	unsigned char raw[SECRET_BYTES];
	struct jw w = { 0 }; /* as jw_init */
	int rc;

	if (json_string_or_reply(r, r->json, "url", 1, 1, WEBHOOK_URL_MAX, &url) < 0)
		return;
	if (ssrf_url_check(url, cfg.webhook_allow_hosts, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "Field \"url\" %s.", err);
		reply_field(r, "url", msg);
		return;
	}
	if (events_or_reply(r, events, sizeof(events)) < 0)
		return;
	memcpy(secret, "whsec_", 6);
	if (tg_id_new("whk", id, sizeof(id)) < 0 || tg_random(raw, sizeof(raw)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	hex_encode(raw, sizeof(raw), secret + 6);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (webhook_secret_seal(id, secret, sealed, sizeof(sealed)) < 0) {
		log_msg(r->request_id, "webhooks: cannot seal a secret");
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "webhooks: begin");
		return;
	}
	if (meter_take_or_reply(r, METER_WEBHOOKS, 1, NULL) < 0)
		goto fail;
	rc = db_run(
	    r->db, STMT_WEBHOOK_INSERT, "ttttti", id, r->who.org_id, url, events, sealed, tg_now());
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "webhook.created", r->who.user_id, id);
	if (rc == DB_OK) {
		rc = db_query(r->db, STMT_WEBHOOK_GET, "tt", id, r->who.org_id);
		if (rc == DB_ROW) {
			jw_object(&w, NULL);
			webhook_members(&w, r->db, STMT_WEBHOOK_GET);
			jw_string(&w, "secret", secret);
			jw_object_end(&w);
		}
		db_end(r->db, STMT_WEBHOOK_GET);
		rc = rc == DB_ROW ? DB_OK : rc == DB_DONE ? DB_ERROR : rc;
	}
	if (rc == DB_OK)
		rc = db_commit(r->db);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc != DB_OK) {
		jw_discard(&w);
		reply_db_error(r, rc, "webhooks: insert");
		goto fail;
	}
	reply_jw(r, 201, &w);
	return;
fail:
	OPENSSL_cleanse(secret, sizeof(secret));
	db_rollback(r->db);
}

void
handle_webhooks_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	reply_rows(r, STMT_WEBHOOK_LIST,
	    db_query(r->db, STMT_WEBHOOK_LIST, "tii", r->who.org_id, p.after, (int64_t)p.limit + 1),
	    &p, webhook_write, "webhooks: list");
}

void
handle_webhooks_get(struct req *r)
{
	reply_row(r, STMT_WEBHOOK_GET,
	    db_query(r->db, STMT_WEBHOOK_GET, "tt", r->params[0], r->who.org_id), 200,
	    webhook_write, "webhooks: get");
}

void
handle_webhooks_delete(struct req *r)
{
	int rc;

	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "webhooks: begin");
		return;
	}
	rc = db_run(r->db, STMT_WEBHOOK_DELETE, "tt", r->params[0], r->who.org_id);
	if (rc == DB_OK && db_changes(r->db) == 0) {
		db_rollback(r->db);
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return;
	}
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "webhook.deleted", r->who.user_id, r->params[0]);
	if (rc == DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK) {
		db_rollback(r->db);
		reply_db_error(r, rc, "webhooks: delete");
		return;
	}
	reply_empty(r, 204);
}

/* Whether webhook params[0] is the caller's; answers 404 (or the database
 * error) and returns -1 when it is not. */
static int
webhook_find_or_reply(struct req *r)
{
	int rc = db_query(r->db, STMT_WEBHOOK_GET, "tt", r->params[0], r->who.org_id);

	db_end(r->db, STMT_WEBHOOK_GET);
	if (rc == DB_ROW)
		return 0;
	if (rc == DB_DONE)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_db_error(r, rc, "webhooks: find");
	return -1;
}

void
handle_webhook_deliveries_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0 || webhook_find_or_reply(r) < 0)
		return;
	reply_rows(r, STMT_DELIVERY_LIST,
	    db_query(r->db, STMT_DELIVERY_LIST, "ttii", r->params[0], r->who.org_id, p.after,
	        (int64_t)p.limit + 1),
	    &p, delivery_write, "webhooks: deliveries");
}

void
handle_webhook_delivery_retry(struct req *r)
{
	int rc;

	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "webhooks: begin");
		return;
	}
	rc = db_run(r->db, STMT_DELIVERY_RETRY, "tttii", r->params[1], r->params[0], r->who.org_id,
	    tg_now(), (int64_t)WEBHOOK_RETRY_WINDOW);
	if (rc == DB_OK && db_changes(r->db) == 0) {
		db_rollback(r->db);
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return;
	}
	if (rc == DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK) {
		db_rollback(r->db);
		reply_db_error(r, rc, "webhooks: retry");
		return;
	}
	reply_row(r, STMT_DELIVERY_GET,
	    db_query(r->db, STMT_DELIVERY_GET, "ttt", r->params[1], r->params[0], r->who.org_id),
	    202, delivery_write, "webhooks: retry");
}
