/* api_keys.c: /v1/api-keys, the organization's API keys for automation:
 * made, listed, revoked and rotated (apikey.c has their format and checks
 * them on requests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define GRACE_MAX 604800

static const char *const scope_names[] = { "ingest", "trigger", "read" };

/* The members of the key row of STMT_APIKEY_GET / STMT_APIKEY_LIST
 * (columns from 1). */
static void
key_members(struct jw *w, struct db *db, enum stmt s)
{
	unsigned scopes = (unsigned)db_int(db, s, 4);
	char prefix[16];

	snprintf(prefix, sizeof(prefix), "tg_%s", db_text(db, s, 3));
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "name", db_text(db, s, 2));
	jw_string(w, "prefix", prefix);
	jw_array(w, "scopes");
	for (unsigned i = 0; i < 3; i++)
		if (scopes & (1u << i))
			jw_string(w, NULL, scope_names[i]);
	jw_array_end(w);
	jw_time(w, "createdAt", db_int(db, s, 5));
	jw_time(w, "expiresAt", db_int(db, s, 6));
	jw_time(w, "lastUsedAt", db_int(db, s, 7));
	jw_time(w, "revokedAt", db_int(db, s, 8));
}

static void
key_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	key_members(w, db, s);
	jw_object_end(w);
}

/* Reads "scopes": a non-empty array of known scope names. */
static int
scopes_or_reply(struct req *r, unsigned *out)
{
	json_object *a, *d;
	size_t n;

	*out = 0;
	if (!json_object_object_get_ex(r->json, "scopes", &a) ||
	    !json_object_is_type(a, json_type_array) || (n = json_object_array_length(a)) == 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		unsigned bit = 0;

		for (unsigned k = 0; k < 3 && json_object_is_type(v, json_type_string); k++)
			if (strcmp(json_object_get_string(v), scope_names[k]) == 0)
				bit = 1u << k;
		if (bit == 0)
			goto bad;
		*out |= bit;
	}
	return 0;
bad:
	d = json_object_new_object();
	json_object_object_add(d, "field", json_object_new_string("scopes"));
	reply_error(r, ERR_INVALID_BODY_SCOPES, NULL, d);
	return -1;
}

/* The 201 body for the key row id with the whole key (the only time it is
 * shown), written to w inside the transaction that made the key, so a key
 * is never committed without its answer. DB_OK, or a database error. */
static int
key_created_write(struct req *r, const char *id, const char *key, struct jw *w)
{
	int rc = db_query(r->db, STMT_APIKEY_GET, "tt", id, r->who.org_id);

	if (rc == DB_ROW) {
		jw_object(w, NULL);
		key_members(w, r->db, STMT_APIKEY_GET);
		jw_string(w, "key", key);
		jw_object_end(w);
	}
	db_end(r->db, STMT_APIKEY_GET);
	return rc == DB_ROW ? DB_OK : rc == DB_DONE ? DB_ERROR : rc;
}

/* A key to store, and the writer of its 201 body. */
struct key_new {
	const char *id, *name, *pub, *hash, *key;
	unsigned scopes;
	int64_t expires;
	struct jw *w;
};

static int
key_insert(struct req *r, void *arg)
{
	const struct key_new *k = arg;
	int rc;

	if (meter_take_or_reply(r, METER_API_KEYS, 1, NULL) < 0)
		return -1;
	rc = db_run(r->db, STMT_APIKEY_INSERT, "tttttiii", k->id, r->who.org_id, k->name, k->pub,
	    k->hash, (int64_t)k->scopes, tg_now(), k->expires);
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "key.issued", r->who.user_id, k->id);
	if (rc == DB_OK)
		rc = key_created_write(r, k->id, k->key, k->w);
	return rc;
}

void
handle_api_keys_create(struct req *r)
{
	const char *name, *expires_s;
	char id[40], key[APIKEY_LEN + 1], pub[APIKEY_PUBLIC_LEN + 1], hash[65];
	struct jw w = { 0 }; /* as jw_init */
	struct key_new k;
	int64_t expires = 0;
	unsigned scopes;

	if (json_string_or_reply(r, r->json, "name", 1, 1, 100, &name) < 0 ||
	    scopes_or_reply(r, &scopes) < 0 ||
	    json_string_or_reply(r, r->json, "expiresAt", 0, 1, 40, &expires_s) < 0)
		return;
	if (expires_s != NULL && (tg_time_parse(expires_s, &expires) < 0 || expires <= tg_now())) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("expiresAt"));
		reply_error(r, ERR_INVALID_BODY_EXPIRES_AT, NULL, d);
		return;
	}
	if (tg_id_new("key", id, sizeof(id)) < 0 || apikey_new(key, pub, hash) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	k.id = id;
	k.name = name;
	k.pub = pub;
	k.hash = hash;
	k.key = key;
	k.scopes = scopes;
	k.expires = expires;
	k.w = &w;
	if (db_tx_or_reply(r, key_insert, &k, "apikey: insert") == DB_OK)
		reply_jw(r, 201, &w);
	else
		jw_discard(&w);
}

void
handle_api_keys_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	reply_rows(r, STMT_APIKEY_LIST,
	    db_query(r->db, STMT_APIKEY_LIST, "tii", r->who.org_id, p.after, (int64_t)p.limit + 1),
	    &p, key_write, "apikey: list");
}

void
handle_api_keys_get(struct req *r)
{
	reply_row(r, STMT_APIKEY_GET,
	    db_query(r->db, STMT_APIKEY_GET, "tt", r->params[0], r->who.org_id), 200, key_write,
	    "apikey: get");
}

static int
key_revoke(struct req *r, void *arg)
{
	int rc = db_run(r->db, STMT_APIKEY_REVOKE, "tti", r->params[0], r->who.org_id, tg_now());

	(void)arg;
	if (rc == DB_OK && db_changes(r->db) == 0) {
		/* Not this organization's, or revoked already: the same answer. */
		rc = db_query(r->db, STMT_APIKEY_GET, "tt", r->params[0], r->who.org_id);
		db_end(r->db, STMT_APIKEY_GET);
		if (rc == DB_DONE) {
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
			return -1;
		}
		return rc == DB_ROW ? DB_OK : rc;
	}
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "key.revoked", r->who.user_id, r->params[0]);
	return rc;
}

void
handle_api_keys_delete(struct req *r)
{
	if (db_tx_or_reply(r, key_revoke, NULL, "apikey: revoke") == DB_OK)
		reply_empty(r, 204);
}

/* The rotation of key r->params[0]: k holds the new key (scopes and expiry
 * are the old key's), grace the seconds the old one keeps working. */
struct key_rotation {
	struct key_new k;
	int64_t grace;
};

static int
key_rotate(struct req *r, void *arg)
{
	struct key_rotation *o = arg;
	int64_t now = tg_now(), scopes, expires;
	char *name;
	int rc = db_query(r->db, STMT_APIKEY_GET, "tt", r->params[0], r->who.org_id);

	if (rc != DB_ROW) {
		db_end(r->db, STMT_APIKEY_GET);
		if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return rc == DB_DONE ? -1 : rc;
	}
	scopes = db_int(r->db, STMT_APIKEY_GET, 4);
	expires = db_int(r->db, STMT_APIKEY_GET, 6);
	/* A key is rotated once: one in its grace period, revoked or expired
	 * is not (else rotations could stack live keys past the meter). */
	if (!db_isnull(r->db, STMT_APIKEY_GET, 8) || (expires != 0 && expires <= now)) {
		db_end(r->db, STMT_APIKEY_GET);
		reply_error(r, ERR_CONFLICT_KEY_ROTATED, NULL, NULL);
		return -1;
	}
	/* The whole name, whatever its length (up to 100 characters). */
	name = strdup(db_text(r->db, STMT_APIKEY_GET, 2));
	db_end(r->db, STMT_APIKEY_GET);
	if (name == NULL)
		return DB_ERROR;
	/* With no grace period the new key takes the old one's slot at once;
	 * with one, the old key stays live and keeps its slot until the grace
	 * period ends, so the new key needs a free one (else chained rotations
	 * would stack live keys past the meter). */
	if (o->grace > 0 && meter_take_or_reply(r, METER_API_KEYS, 1, NULL) < 0) {
		free(name);
		return -1;
	}
	rc = db_run(r->db, STMT_APIKEY_INSERT, "tttttiii", o->k.id, r->who.org_id, name, o->k.pub,
	    o->k.hash, scopes, now, expires);
	free(name);
	if (rc == DB_OK)
		rc = db_run(r->db, STMT_APIKEY_ROTATE_OLD, "ttit", r->params[0], r->who.org_id,
		    now + o->grace, o->k.id);
	if (rc == DB_OK && db_changes(r->db) != 1)
		rc = DB_ERROR;
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "key.rotated", r->who.user_id, r->params[0]);
	if (rc == DB_OK)
		rc = key_created_write(r, o->k.id, o->k.key, o->k.w);
	return rc;
}

void
handle_api_keys_rotate(struct req *r)
{
	json_object *v;
	struct jw w = { 0 }; /* as jw_init */
	char id[40], key[APIKEY_LEN + 1], pub[APIKEY_PUBLIC_LEN + 1], hash[65];
	struct key_rotation o = { .k = {
		                      .id = id, .pub = pub, .hash = hash, .key = key, .w = &w } };

	if (r->json != NULL && json_object_object_get_ex(r->json, "gracePeriodSeconds", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > GRACE_MAX) {
			json_object *d = json_object_new_object();

			json_object_object_add(
			    d, "field", json_object_new_string("gracePeriodSeconds"));
			reply_error(r, ERR_INVALID_BODY_GRACE_PERIOD, NULL, d);
			return;
		}
		o.grace = json_object_get_int64(v);
	}
	if (tg_id_new("key", id, sizeof(id)) < 0 || apikey_new(key, pub, hash) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	if (db_tx_or_reply(r, key_rotate, &o, "apikey: rotate") == DB_OK)
		reply_jw(r, 201, &w);
	else
		jw_discard(&w);
}
