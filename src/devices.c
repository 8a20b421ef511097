/* devices.c: device credentials (OWASP "device cookies"). A browser or app
 * that signs in gets "tgd_" + 64 hex characters (256 bits from the OS
 * CSPRNG), stored only as its SHA-256. Sent back with a later login, it
 * moves that login from the account's failed sign-in budget to the device's
 * own, and lets the device take its own session over without "force".
 * GET /v1/auth/devices lists the caller's devices, DELETE revokes one; a
 * password change revokes them all, and deleting the user deletes them. */
#include <stdio.h>
#include <string.h>

#include "api.h"

#define DEVICE_PREFIX "tgd_"
#define DEVICES_MAX 20 /* per account; the least recently used go first */

/* Whether token has the shape of a device credential. */
static int
token_well_formed(const char *token)
{
	size_t plen = strlen(DEVICE_PREFIX);

	if (strlen(token) != DEVICE_TOKEN_LEN || strncmp(token, DEVICE_PREFIX, plen) != 0)
		return 0;
	for (const char *p = token + plen; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

int
device_find(struct db *db, const char *user_id, const char *token, char id[40])
{
	char hash[65];
	int rc;

	if (token == NULL || !token_well_formed(token))
		return DB_DONE;
	tg_sha256_hex(token, hash);
	rc = db_query(db, STMT_DEVICE_BY_HASH, "tt", hash, user_id);
	if (rc == DB_ROW)
		snprintf(id, 40, "%s", db_text(db, STMT_DEVICE_BY_HASH, 0));
	db_end(db, STMT_DEVICE_BY_HASH);
	return rc;
}

int
device_create(struct db *db, const char *user_id, const char *name, int64_t now, char id[40],
    char token[DEVICE_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	char hash[65];
	size_t plen = strlen(DEVICE_PREFIX);
	int rc;

	if (tg_id_new("dev", id, 40) < 0 || tg_random(raw, sizeof(raw)) < 0)
		return DB_ERROR;
	memcpy(token, DEVICE_PREFIX, plen);
	for (size_t i = 0; i < sizeof(raw); i++) {
		token[plen + 2 * i] = "0123456789abcdef"[raw[i] >> 4];
		token[plen + 2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	token[DEVICE_TOKEN_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	tg_sha256_hex(token, hash);
	rc = db_run(db, STMT_DEVICE_INSERT, "tttti", id, user_id, hash, name, now);
	if (rc == DB_OK)
		rc = db_run(db, STMT_DEVICE_PRUNE, "ti", user_id, (int64_t)DEVICES_MAX);
	if (rc == DB_OK)
		rc = db_run(db, STMT_LOGIN_BUDGET_PRUNE, "ti", user_id, now);
	return rc;
}

int
device_touch(struct db *db, const char *id, int64_t now)
{
	return db_run(db, STMT_DEVICE_TOUCH, "ti", id, now);
}

int
device_revoke_user(struct db *db, const char *user_id)
{
	return db_run(db, STMT_DEVICE_DELETE_USER, "t", user_id);
}

static void
device_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "name", db_text(db, s, 2));
	jw_time(w, "createdAt", db_int(db, s, 3));
	jw_time(w, "lastUsedAt", db_int(db, s, 4));
	jw_object_end(w);
}

void
handle_devices_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	reply_rows(r, STMT_DEVICE_LIST,
	    db_query(r->db, STMT_DEVICE_LIST, "tii", r->who.user_id, p.after, (int64_t)p.limit + 1),
	    &p, device_write, "devices: list");
}

/* Revokes one of the caller's devices and ends its live sessions, in one
 * transaction; another account's is 404, as is an unknown one. */
static int
device_delete(struct req *r, void *arg)
{
	int rc = db_run(r->db, STMT_DEVICE_DELETE, "tt", r->params[0], r->who.user_id);

	(void)arg;
	if (rc == DB_OK && db_changes(r->db) == 0) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	/* Its sessions end with it: their tokens answer SESSION_REVOKED. */
	if (rc == DB_OK)
		rc = db_run(r->db, STMT_SESSION_REVOKE_DEVICE, "tti", r->who.user_id, r->params[0],
		    tg_now());
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "device.revoked", r->who.user_id, r->params[0]);
	return rc;
}

void
handle_devices_delete(struct req *r)
{
	if (db_tx_or_reply(r, device_delete, NULL, "devices: delete") == DB_OK)
		reply_empty(r, 204);
}
