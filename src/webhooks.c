/* webhooks.c: an organization's webhooks (admins only) and their
 * deliveries. Events are written by outbox.c and sent by webhook_send.c. A
 * webhook's signing secret is shown once and stored sealed (seal.c) under a
 * key derived from TOLLGATE_JWT_SECRET: the sender must be able to sign
 * with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "ssrf.h"

#define SECRET_BYTES 32
#define SECRET_LEN (6 + 2 * SECRET_BYTES) /* "whsec_" + hex */
#define SEALED_MAX (2 * (SEAL_NONCE + SECRET_LEN + SEAL_TAG) + 1)
#define SEAL_LABEL "tollgate webhook secrets v1" /* seal.c's key for them */

/* The event types a webhook can take. */
static const char *const event_types[] = { "meter.threshold", "session.replaced", "key.expiring",
	"job.finished" };
#define NEVENT_TYPES (sizeof(event_types) / sizeof(event_types[0]))

/* ---- sealed secrets ---- */

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
	unsigned char buf[SEAL_NONCE + SECRET_LEN + SEAL_TAG];
	size_t len = strlen(secret);
	int rc = -1;

	if (len == 0 || len > SECRET_LEN || outlen < 2 * (SEAL_NONCE + len + SEAL_TAG) + 1 ||
	    tg_random(buf, SEAL_NONCE) < 0 ||
	    seal_gcm(1, SEAL_LABEL, id, buf, (const unsigned char *)secret, (int)len,
	        buf + SEAL_NONCE, buf + SEAL_NONCE + len) != (int)len)
		goto out;
	hex_encode(buf, SEAL_NONCE + len + SEAL_TAG, out);
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
webhook_secret_open(const char *id, const char *sealed, char *out, size_t outlen)
{
	unsigned char buf[SEAL_NONCE + SECRET_LEN + SEAL_TAG];
	size_t n, len;
	int rc = -1;

	if (outlen > 0)
		*out = '\0';
	if (hex_decode(sealed, buf, sizeof(buf), &n) < 0 || n <= SEAL_NONCE + SEAL_TAG ||
	    (len = n - SEAL_NONCE - SEAL_TAG) + 1 > outlen ||
	    seal_gcm(0, SEAL_LABEL, id, buf, buf + SEAL_NONCE, (int)len, (unsigned char *)out,
	        buf + SEAL_NONCE + len) != (int)len)
		goto out;
	out[len] = '\0';
	rc = 0;
out:
	if (rc < 0 && outlen > 0)
		OPENSSL_cleanse(out, outlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
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

/* Answers 400 e for field (details.field). */
static void
reply_field(struct req *r, enum err e, const char *field)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "field", json_object_new_string(field));
	reply_error(r, e, NULL, d);
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
	reply_field(r, ERR_INVALID_BODY_EVENTS, "events");
	return -1;
}

/* A webhook to add: its id, URL, events (JSON text), sealed secret, and
 * the answer written once it is stored. */
struct webhook_new {
	const char *id, *url, *events, *sealed, *secret;
	struct jw *w;
};

static int
webhook_insert(struct req *r, void *arg)
{
	const struct webhook_new *h = arg;
	int rc;

	if (meter_take_or_reply(r, METER_WEBHOOKS, 1, NULL) < 0)
		return -1;
	rc = db_run(r->db, STMT_WEBHOOK_INSERT, "ttttti", h->id, r->who.org_id, h->url, h->events,
	    h->sealed, tg_now());
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "webhook.created", r->who.user_id, h->id);
	if (rc != DB_OK)
		return rc;
	rc = db_query(r->db, STMT_WEBHOOK_GET, "tt", h->id, r->who.org_id);
	if (rc == DB_ROW) {
		jw_object(h->w, NULL);
		webhook_members(h->w, r->db, STMT_WEBHOOK_GET);
		jw_string(h->w, "secret", h->secret);
		jw_object_end(h->w);
	}
	db_end(r->db, STMT_WEBHOOK_GET);
	return rc == DB_ROW ? DB_OK : rc == DB_DONE ? DB_ERROR : rc;
}

void
handle_webhooks_create(struct req *r)
{
	const char *url;
	char id[40], events[256], err[160], secret[SECRET_LEN + 1], sealed[SEALED_MAX];
	unsigned char raw[SECRET_BYTES];
	struct jw w = { 0 }; /* as jw_init */
	struct webhook_new h;
	int rc;

	if (json_string_or_reply(r, r->json, "url", 1, 1, WEBHOOK_URL_MAX, &url) < 0)
		return;
	if ((rc = ssrf_url_check(url, cfg.webhook_allow_hosts, err, sizeof(err))) < 0) {
		reply_field(r,
		    rc == SSRF_PRIVATE ? ERR_INVALID_BODY_URL_PRIVATE : ERR_INVALID_BODY_URL,
		    "url");
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
		OPENSSL_cleanse(secret, sizeof(secret));
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	h.id = id;
	h.url = url;
	h.events = events;
	h.sealed = sealed;
	h.secret = secret;
	h.w = &w;
	rc = db_tx_or_reply(r, webhook_insert, &h, "webhooks: insert");
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc == DB_OK)
		reply_jw(r, 201, &w);
	else
		jw_discard(&w);
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

static int
webhook_delete(struct req *r, void *arg)
{
	int rc = db_run(r->db, STMT_WEBHOOK_DELETE, "tt", r->params[0], r->who.org_id);

	(void)arg;
	if (rc == DB_OK && db_changes(r->db) == 0) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "webhook.deleted", r->who.user_id, r->params[0]);
	return rc;
}

void
handle_webhooks_delete(struct req *r)
{
	if (db_tx_or_reply(r, webhook_delete, NULL, "webhooks: delete") == DB_OK)
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

static int
delivery_retry(struct req *r, void *arg)
{
	int rc = db_run(r->db, STMT_DELIVERY_RETRY, "tttii", r->params[1], r->params[0],
	    r->who.org_id, tg_now(), (int64_t)WEBHOOK_RETRY_WINDOW);

	(void)arg;
	if (rc == DB_OK && db_changes(r->db) == 0) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	return rc;
}

void
handle_webhook_delivery_retry(struct req *r)
{
	if (db_tx_or_reply(r, delivery_retry, NULL, "webhooks: retry") != DB_OK)
		return;
	reply_row(r, STMT_DELIVERY_GET,
	    db_query(r->db, STMT_DELIVERY_GET, "ttt", r->params[1], r->params[0], r->who.org_id),
	    202, delivery_write, "webhooks: retry");
}
