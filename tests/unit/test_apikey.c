/* test_apikey.c: the API key format (tg_, public id, secret, checksum, all
 * base62), the checksum refusing a mistyped key before any look-up, and a
 * stored key verified, revoked and expired. */
#include <string.h>

#include "../../src/apikey.c"
#include "unit.h"

static int
base62_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr(base62, s[i]) == NULL)
			return 0;
	return 1;
}

static void
test_format(void)
{
	char key[APIKEY_LEN + 1], pub[APIKEY_PUBLIC_LEN + 1], hash[65], other[APIKEY_LEN + 1];

	CHECK(APIKEY_LEN == 58);
	CHECK(apikey_new(key, pub, hash) == 0);
	CHECK(strlen(key) == APIKEY_LEN && strncmp(key, "tg_", 3) == 0);
	CHECK(key[3 + APIKEY_PUBLIC_LEN] == '_');
	CHECK(base62_only(key + 3, APIKEY_PUBLIC_LEN));
	CHECK(base62_only(key + 4 + APIKEY_PUBLIC_LEN, APIKEY_SECRET_LEN + APIKEY_CHECK_LEN));
	CHECK(strncmp(pub, key + 3, APIKEY_PUBLIC_LEN) == 0 && strlen(pub) == APIKEY_PUBLIC_LEN);
	CHECK(strlen(hash) == 64 && strspn(hash, "0123456789abcdef") == 64);
	CHECK(key_well_formed(key));
	/* Fresh randomness each time. */
	CHECK(apikey_new(other, pub, hash) == 0 && strcmp(key, other) != 0);
}

/* The checksum is CRC-32 (IEEE) of the rest, in 6 base62 digits. */
static void
test_checksum(void)
{
	char out[APIKEY_CHECK_LEN + 1] = "";
	char key[APIKEY_LEN + 1], pub[APIKEY_PUBLIC_LEN + 1], hash[65];

	CHECK(crc32("123456789", 9) == 0xcbf43926u);
	checksum("", 0, out);
	CHECK(strcmp(out, "000000") == 0);
	CHECK(apikey_new(key, pub, hash) == 0);
	/* Any one character changed, anywhere, is refused. */
	for (int i = 3; i < APIKEY_LEN; i++) {
		char bad[APIKEY_LEN + 1];

		if (i == 3 + APIKEY_PUBLIC_LEN)
			continue;
		memcpy(bad, key, sizeof(bad));
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		CHECK(!key_well_formed(bad));
	}
	CHECK(!key_well_formed("tg_short"));
	CHECK(!key_well_formed(""));
	memcpy(hash, key, sizeof(key));
	hash[0] = 'x'; /* not "tg_" */
	CHECK(!key_well_formed(hash));
}

static void
req_with_db(struct req *r, struct db *db)
{
	char *envp[] = { NULL };

	req_init(r, envp, db);
}

static void
test_verify(void)
{
	char err[256], key[APIKEY_LEN + 1], pub[APIKEY_PUBLIC_LEN + 1], hash[65];
	struct db *db = db_open(":memory:", err, sizeof(err));
	long refused = apikey_checksum_refusals();
	struct req r;

	CHECK(db != NULL && db_migrate(db) > 0);
	CHECK(db_run(db, STMT_ORG_INSERT, "tti", "org_k", "Keys", (int64_t)1) == DB_OK);
	CHECK(apikey_new(key, pub, hash) == 0);
	CHECK(db_run(db, STMT_APIKEY_INSERT, "tttttiii", "key_1", "org_k", "ci", pub, hash,
	          (int64_t)(SCOPE_INGEST | SCOPE_READ), tg_now(), (int64_t)0) == DB_OK);

	req_with_db(&r, db);
	CHECK(apikey_verify_or_reply(&r, key) == 0 && !r.replied);
	CHECK(r.who.kind == PRINCIPAL_KEY && strcmp(r.who.key_id, "key_1") == 0);
	CHECK(strcmp(r.who.org_id, "org_k") == 0 && r.who.scopes == (SCOPE_INGEST | SCOPE_READ));
	req_free(&r);

	/* A mistyped key: 401, counted, no look-up needed. */
	key[10] = key[10] == 'a' ? 'b' : 'a';
	req_with_db(&r, db);
	CHECK(apikey_verify_or_reply(&r, key) == -1 && r.status == 401);
	CHECK(strcmp(r.error_code, "INVALID_API_KEY") == 0 && r.who.kind == PRINCIPAL_NONE);
	CHECK(apikey_checksum_refusals() == refused + 1);
	req_free(&r);

	/* Well formed but unknown: 401 too, not counted as a checksum refusal. */
	CHECK(apikey_new(key, pub, hash) == 0);
	req_with_db(&r, db);
	CHECK(apikey_verify_or_reply(&r, key) == -1 && r.status == 401);
	CHECK(apikey_checksum_refusals() == refused + 1);
	req_free(&r);

	/* Known, but expired: 401. */
	CHECK(db_run(db, STMT_APIKEY_INSERT, "tttttiii", "key_2", "org_k", "old", pub, hash,
	          (int64_t)SCOPE_READ, (int64_t)1, (int64_t)2) == DB_OK);
	req_with_db(&r, db);
	CHECK(apikey_verify_or_reply(&r, key) == -1 && r.status == 401);
	req_free(&r);
	db_close(db);
}

int
main(void)
{
	TEST(test_format);
	TEST(test_checksum);
	TEST(test_verify);
	return unit_done();
}
