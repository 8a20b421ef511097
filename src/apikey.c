/* apikey.c: the API key format and its check on requests. A key is
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

#include "mw.h"

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
checksum(const char *key, size_t len, char out[APIKEY_CHECK_LEN])
{
	uint32_t v = crc32(key, len);

	for (int i = APIKEY_CHECK_LEN - 1; i >= 0; i--) {
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

int
apikey_new(char *key, char pub[APIKEY_PUBLIC_LEN + 1], char hash[65])
{
	memcpy(key, "tg_", 3);
	if (random_base62(key + 3, APIKEY_PUBLIC_LEN) < 0)
		return -1;
	key[3 + APIKEY_PUBLIC_LEN] = '_';
	if (random_base62(key + 4 + APIKEY_PUBLIC_LEN, APIKEY_SECRET_LEN) < 0)
		return -1;
	checksum(key, APIKEY_LEN - APIKEY_CHECK_LEN, key + APIKEY_LEN - APIKEY_CHECK_LEN);
	key[APIKEY_LEN] = '\0';
	memcpy(pub, key + 3, APIKEY_PUBLIC_LEN);
	pub[APIKEY_PUBLIC_LEN] = '\0';
	tg_sha256_hex(key, hash);
	return 0;
}

/* Whether key has the shape and checksum of a Tollgate key. */
static int
key_well_formed(const char *key)
{
	char want[APIKEY_CHECK_LEN];

	if (strlen(key) != APIKEY_LEN || strncmp(key, "tg_", 3) != 0 ||
	    key[3 + APIKEY_PUBLIC_LEN] != '_')
		return 0;
	for (int i = 3; i < APIKEY_LEN; i++)
		if (i != 3 + APIKEY_PUBLIC_LEN && strchr(base62, key[i]) == NULL)
			return 0;
	checksum(key, APIKEY_LEN - APIKEY_CHECK_LEN, want);
	return memcmp(want, key + APIKEY_LEN - APIKEY_CHECK_LEN, APIKEY_CHECK_LEN) == 0;
}

int
apikey_verify_or_reply(struct req *r, const char *key)
{
	struct db *db = r->db;
	char pub[APIKEY_PUBLIC_LEN + 1], hash[65];
	int64_t now = tg_now(), revoked, expires, last_used;
	int rc, ok;

	if (!key_well_formed(key)) {
		atomic_fetch_add(&checksum_refusals, 1);
		log_msg(
		    r->request_id, "apikey: malformed or bad checksum, refused without a look-up");
		reply_error(r, ERR_INVALID_API_KEY, NULL, NULL);
		return -1;
	}
	memcpy(pub, key + 3, APIKEY_PUBLIC_LEN);
	pub[APIKEY_PUBLIC_LEN] = '\0';
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
	/* lastUsedAt: at most one write a minute per key; a lost write is fine. */
	if (now - last_used >= APIKEY_TOUCH_EVERY)
		db_run(db, STMT_APIKEY_TOUCH, "ti", r->who.key_id, now);
	return 0;
}
