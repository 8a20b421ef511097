/* api_keys.c: organization API keys for automation. A key is
 * "tg_" + 8-character public id + "_" + 40 characters of secret (238 bits
 * from the OS CSPRNG) + a 6-character CRC32 checksum of the rest, all in
 * base62: a mistyped key is refused before any database look-up, and secret
 * scanners can recognise a leaked one. Only its SHA-256 is stored; the
 * whole key is shown once, when it is made. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tollgate.h"

#define KEY_PUBLIC_LEN 8
#define KEY_SECRET_LEN 40
#define KEY_CHECK_LEN 6
#define KEY_LEN (3 + KEY_PUBLIC_LEN + 1 + KEY_SECRET_LEN + KEY_CHECK_LEN)
#define KEY_TOUCH_EVERY 60 /* seconds between lastUsedAt writes */
#define GRACE_MAX 604800
#define ROTATE_REFUSED (-3) /* the key cannot be rotated (not a db_rc) */

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static atomic_long checksum_refusals;

long
apikey_checksum_refusals(void)
{
	return atomic_load(&checksum_refusals);
}

static uint32_t
crc32(const char *s, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= (unsigned char)s[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* The 6 base62 characters of the checksum of key[0..len). */
static void
checksum(const char *key, size_t len, char out[KEY_CHECK_LEN])
{
	uint32_t v = crc32(key, len);

	for (int i = KEY_CHECK_LEN - 1; i >= 0; i--) {
		out[i] = base62[v % 62];
		v /= 62;
	}
}

/* n uniformly random base62 characters (rejection sampling: no bias). */
static int
random_base62(char *out, size_t n)
{
	unsigned char buf[64];
	size_t have = 0;

	while (have < n) {
		if (tg_random(buf, sizeof(buf)) < 0)
			return -1;
		for (size_t i = 0; i < sizeof(buf) && have < n; i++)
			if (buf[i] < 248) /* 248 = 4 * 62 */
				out[have++] = base62[buf[i] % 62];
	}
	return 0;
}

/* A new key in key (KEY_LEN + 1 bytes) with its public id and hash. */
static int
key_new(char *key, char pub[KEY_PUBLIC_LEN + 1], char hash[65])
{
	memcpy(key, "tg_", 3);
	if (random_base62(key + 3, KEY_PUBLIC_LEN) < 0)
		return -1;
	key[3 + KEY_PUBLIC_LEN] = '_';
	if (random_base62(key + 4 + KEY_PUBLIC_LEN, KEY_SECRET_LEN) < 0)
		return -1;
	checksum(key, KEY_LEN - KEY_CHECK_LEN, key + KEY_LEN - KEY_CHECK_LEN);
	key[KEY_LEN] = '\0';
	memcpy(pub, key + 3, KEY_PUBLIC_LEN);
	pub[KEY_PUBLIC_LEN] = '\0';
	tg_sha256_hex(key, hash);
	return 0;
}

/* Whether key has the shape and checksum of a Tollgate key. */
static int
key_well_formed(const char *key)
{
	char want[KEY_CHECK_LEN];

	if (strlen(key) != KEY_LEN || strncmp(key, "tg_", 3) != 0 || key[3 + KEY_PUBLIC_LEN] != '_')
		return 0;
	for (int i = 3; i < KEY_LEN; i++)
		if (i != 3 + KEY_PUBLIC_LEN && strchr(base62, key[i]) == NULL)
			return 0;
	checksum(key, KEY_LEN - KEY_CHECK_LEN, want);
	return memcmp(want, key + KEY_LEN - KEY_CHECK_LEN, KEY_CHECK_LEN) == 0;
}

int
apikey_verify_or_reply(struct req *r, const char *key)
{
	struct db *db = r->db;
	char pub[KEY_PUBLIC_LEN + 1], hash[65];
	int64_t now = tg_now(), revoked, expires, last_used;
	int rc, ok;

	if (!key_well_formed(key)) {
		atomic_fetch_add(&checksum_refusals, 1);
		log_msg(
		    r->request_id, "apikey: malformed or bad checksum, refused without a look-up");
		reply_error(r, ERR_INVALID_API_KEY, NULL, NULL);
		return -1;
	}
	memcpy(pub, key + 3, KEY_PUBLIC_LEN);
	pub[KEY_PUBLIC_LEN] = '\0';
	tg_sha256_hex(key, hash);
	rc = db_query(db, STMT_APIKEY_BY_PUBLIC, "t", pub);
	if (rc != DB_ROW) {
		db_end(db, STMT_APIKEY_BY_PUBLIC);
		if (rc == DB_DONE)
			reply_error(r, ERR_INVALID_API_KEY, NULL, NULL);
		else
			reply_db_error(r, rc, "apikey: look-up");
		return -1;
	}
	ok = CRYPTO_memcmp(hash, db_text(db, STMT_APIKEY_BY_PUBLIC, 2), 64) == 0;
	revoked =
	    db_isnull(db, STMT_APIKEY_BY_PUBLIC, 5) ? 0 : db_int(db, STMT_APIKEY_BY_PUBLIC, 5);
	expires =
	    db_isnull(db, STMT_APIKEY_BY_PUBLIC, 4) ? 0 : db_int(db, STMT_APIKEY_BY_PUBLIC, 4);
	last_used = db_int(db, STMT_APIKEY_BY_PUBLIC, 6);
	if (ok && (revoked == 0 || revoked > now) && (expires == 0 || expires > now)) {
		r->who.kind = PRINCIPAL_KEY;
		snprintf(r->who.key_id, sizeof(r->who.key_id), "%s",
		    db_text(db, STMT_APIKEY_BY_PUBLIC, 0));
		snprintf(r->who.org_id, sizeof(r->who.org_id), "%s",
		    db_text(db, STMT_APIKEY_BY_PUBLIC, 1));
		r->who.scopes = (unsigned)db_int(db, STMT_APIKEY_BY_PUBLIC, 3);
	}
	db_end(db, STMT_APIKEY_BY_PUBLIC);
	if (r->who.kind != PRINCIPAL_KEY) {
		reply_error(r, ERR_INVALID_API_KEY, NULL, NULL);
		return -1;
	}
	/* lastUsedAt: at most one write a minute per key; a lost write is fine
	 * (the next request a minute on writes it), so its answer goes unread. */
	if (now - last_used >= KEY_TOUCH_EVERY)
		(void)db_run(db, STMT_APIKEY_TOUCH, "ti", r->who.key_id, now);
	return 0;
}

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
	reply_error(r, ERR_INVALID_BODY,
	    "Field \"scopes\" must be a non-empty list of \"ingest\", \"trigger\" and \"read\".",
	    d);
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

void
handle_api_keys_create(struct req *r)
{
	const char *name, *expires_s;
	char id[40], key[KEY_LEN + 1], pub[KEY_PUBLIC_LEN + 1], hash[65];
	struct jw w = { 0 }; /* as jw_init */
	int64_t expires = 0;
	unsigned scopes;
	int rc;

	if (json_string_or_reply(r, r->json, "name", 1, 1, 100, &name) < 0 ||
	    scopes_or_reply(r, &scopes) < 0 ||
	    json_string_or_reply(r, r->json, "expiresAt", 0, 1, 40, &expires_s) < 0)
		return;
	if (expires_s != NULL && (tg_time_parse(expires_s, &expires) < 0 || expires <= tg_now())) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("expiresAt"));
		reply_error(r, ERR_INVALID_BODY,
		    "Field \"expiresAt\" must be an RFC 3339 time in the future, like "
		    "2027-01-01T00:00:00Z.",
		    d);
		return;
	}
	if (tg_id_new("key", id, sizeof(id)) < 0 || key_new(key, pub, hash) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "apikey: begin");
		return;
	}
	if (meter_take_or_reply(r, METER_API_KEYS, 1, NULL) < 0)
		goto fail;
	rc = db_run(r->db, STMT_APIKEY_INSERT, "tttttiii", id, r->who.org_id, name, pub, hash,
	    (int64_t)scopes, tg_now(), expires);
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "key.issued", r->who.user_id, id);
	if (rc == DB_OK)
		rc = key_created_write(r, id, key, &w);
	if (rc == DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK) {
		jw_discard(&w);
		reply_db_error(r, rc, "apikey: insert");
		goto fail;
	}
	reply_jw(r, 201, &w);
	return;
fail:
	db_rollback(r->db);
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

void
handle_api_keys_delete(struct req *r)
{
	int rc;

	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "apikey: begin");
		return;
	}
	rc = db_run(r->db, STMT_APIKEY_REVOKE, "tti", r->params[0], r->who.org_id, tg_now());
	if (rc == DB_OK && db_changes(r->db) == 0) {
		/* Not this organization's, or revoked already: the same answer. */
		rc = db_query(r->db, STMT_APIKEY_GET, "tt", r->params[0], r->who.org_id);
		db_end(r->db, STMT_APIKEY_GET);
		db_rollback(r->db);
		if (rc == DB_ROW)
			reply_empty(r, 204);
		else if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		else
			reply_db_error(r, rc, "apikey: revoke");
		return;
	}
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "key.revoked", r->who.user_id, r->params[0]);
	if (rc == DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK) {
		db_rollback(r->db);
		reply_db_error(r, rc, "apikey: revoke");
		return;
	}
	reply_empty(r, 204);
}

void
handle_api_keys_rotate(struct req *r)
{
	json_object *v;
	struct jw w = { 0 }; /* as jw_init */
	int64_t grace = 0, now = tg_now();
	char id[40], key[KEY_LEN + 1], pub[KEY_PUBLIC_LEN + 1], hash[65], *name = NULL;
	int64_t scopes, expires;
	int rc;

	if (r->json != NULL && json_object_object_get_ex(r->json, "gracePeriodSeconds", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > GRACE_MAX) {
			json_object *d = json_object_new_object();

			json_object_object_add(
			    d, "field", json_object_new_string("gracePeriodSeconds"));
			reply_error(r, ERR_INVALID_BODY,
			    "Field \"gracePeriodSeconds\" must be a whole number from 0 to 604800.",
			    d);
			return;
		}
		grace = json_object_get_int64(v);
	}
	if (tg_id_new("key", id, sizeof(id)) < 0 || key_new(key, pub, hash) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "apikey: begin");
		return;
	}
	rc = db_query(r->db, STMT_APIKEY_GET, "tt", r->params[0], r->who.org_id);
	if (rc == DB_ROW) {
		/* The whole name, whatever its length (up to 100 characters). */
		name = strdup(db_text(r->db, STMT_APIKEY_GET, 2));
		scopes = db_int(r->db, STMT_APIKEY_GET, 4);
		expires = db_int(r->db, STMT_APIKEY_GET, 6);
		/* A key is rotated once: one in its grace period, revoked or
		 * expired is not. */
		if (!db_isnull(r->db, STMT_APIKEY_GET, 8) || (expires != 0 && expires <= now))
			rc = ROTATE_REFUSED;
	}
	db_end(r->db, STMT_APIKEY_GET);
	if (rc == DB_DONE) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		goto fail;
	}
	if (rc == ROTATE_REFUSED) {
		reply_error(r, ERR_CONFLICT,
		    "This key is already rotated, revoked or expired; rotate its newest key or "
		    "create a new one.",
		    NULL);
		goto fail;
	}
	if (rc != DB_ROW || name == NULL) {
		reply_db_error(r, rc == DB_ROW ? DB_ERROR : rc, "apikey: rotate");
		goto fail;
	}
	/* With no grace period the new key takes the old one's slot at once;
	 * with one, the old key stays live and keeps its slot until the grace
	 * period ends, so the new key needs a free one (else chained rotations
	 * would stack live keys past the meter). */
	if (grace > 0 && meter_take_or_reply(r, METER_API_KEYS, 1, NULL) < 0)
		goto fail;
	rc = db_run(r->db, STMT_APIKEY_INSERT, "tttttiii", id, r->who.org_id, name, pub, hash,
	    scopes, now, expires);
	if (rc == DB_OK)
		rc = db_run(r->db, STMT_APIKEY_ROTATE_OLD, "ttit", r->params[0], r->who.org_id,
		    now + grace, id);
	if (rc == DB_OK && db_changes(r->db) != 1)
		rc = DB_ERROR;
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "key.rotated", r->who.user_id, r->params[0]);
	if (rc == DB_OK)
		rc = key_created_write(r, id, key, &w);
	if (rc == DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK) {
		jw_discard(&w);
		reply_db_error(r, rc, "apikey: rotate");
		goto fail;
	}
	free(name);
	reply_jw(r, 201, &w);
	return;
fail:
	free(name);
	db_rollback(r->db);
}
