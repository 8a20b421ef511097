/* test_idempotency.c: reading the Idempotency-Key header (bare text or the
 * draft's sf-string), the request hash, and a claim taken over. */
#include <string.h>

#include "../../src/idempotency.c"
#include "unit.h"

static char key[IDEM_KEY_MAX + 1];

static void
test_key_bare(void)
{
	char long_ok[IDEM_KEY_MAX + 1], too_long[IDEM_KEY_MAX + 2];

	CHECK(idem_key_parse("batch-0001", key) == 0 && strcmp(key, "batch-0001") == 0);
	CHECK(idem_key_parse("a b ~!", key) == 0 && strcmp(key, "a b ~!") == 0);
	CHECK(idem_key_parse("", key) < 0);
	CHECK(idem_key_parse("tab\there", key) < 0);
	CHECK(idem_key_parse("\xc3\xbc", key) < 0);
	memset(long_ok, 'k', IDEM_KEY_MAX);
	long_ok[IDEM_KEY_MAX] = '\0';
	CHECK(idem_key_parse(long_ok, key) == 0 && strlen(key) == IDEM_KEY_MAX);
	memset(too_long, 'k', IDEM_KEY_MAX + 1);
	too_long[IDEM_KEY_MAX + 1] = '\0';
	CHECK(idem_key_parse(too_long, key) < 0);
}

static void
test_key_sf_string(void)
{
	CHECK(idem_key_parse("\"8e03978e\"", key) == 0 && strcmp(key, "8e03978e") == 0);
	CHECK(idem_key_parse("\"a\\\"b\\\\c\"", key) == 0 && strcmp(key, "a\"b\\c") == 0);
	CHECK(idem_key_parse("\"\"", key) < 0);
	CHECK(idem_key_parse("\"open", key) < 0);
	CHECK(idem_key_parse("\"a\"b", key) < 0);
	CHECK(idem_key_parse("\"a\\nb\"", key) < 0);
	CHECK(idem_key_parse("\"a\\\"", key) < 0);
}

static void
test_hash(void)
{
	struct req r;
	char a[65], b[65];

	memset(&r, 0, sizeof(r));
	r.method_str = "POST";
	r.path = "/v1/tables/t1/records";
	r.body = "{\"records\":[{}]}";
	r.body_len = strlen(r.body);
	CHECK(idem_hash(&r, a) == 0 && strlen(a) == 64);
	r.path = "/v1/tables/t2/records";
	CHECK(idem_hash(&r, b) == 0 && strcmp(a, b) != 0);
	r.path = "/v1/tables/t1/records";
	CHECK(idem_hash(&r, b) == 0 && strcmp(a, b) == 0);
}

struct store {
	struct req *r;
	const struct idem *i;
};

/* The work's transaction storing an answer under claim i. */
static int
store_answer(struct db *db, void *arg)
{
	struct store *st = arg;

	(void)db;
	return idem_store(st->r, st->i, 200, "{\"accepted\":0}");
}

/* A slow first request whose key a retry took over cannot store its answer
 * (it rolls its work back); the retry's claim can. */
static void
test_taken_over_claim(void)
{
	char err[256], body[] = "{\"records\":[]}";
	struct db *db;
	struct idem slow, retry;
	struct store store;
	struct req r;
	char *envp[] = { NULL };

	config_load(NULL, err, sizeof(err));
	db = db_open(":memory:", err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) > 0);
	CHECK(db_run(db, STMT_ORG_INSERT, "tti", "org_idem", "Idem", (int64_t)1) == DB_OK);
	req_init(&r, envp, db);
	r.method_str = "POST";
	r.path = "/v1/tables/tbl_1/records";
	r.body = body;
	r.body_len = strlen(body);
	r.idempotency_key = "batch-7";
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_idem");
	CHECK(idem_claim_or_reply(&r, &slow) == 0 && slow.held && !r.replied);
	/* Still running: a retry now is told so. */
	CHECK(idem_claim_or_reply(&r, &retry) == -1 && r.status == 409);
	r.replied = 0;
	r.status = 0;
	/* A minute later the claim counts as abandoned: the retry takes it. */
	cfg.now = tg_now() + 61;
	CHECK(idem_claim_or_reply(&r, &retry) == 0 && retry.held);
	CHECK(strcmp(slow.claim, retry.claim) != 0);
	/* The slow one finishes after all: not its key any more. */
	store.r = &r;
	store.i = &slow;
	CHECK(db_write(db, store_answer, &store) == IDEM_LOST);
	/* Nor may it free the retry's claim. */
	idem_release(&r, &slow);
	store.i = &retry;
	CHECK(db_write(db, store_answer, &store) == DB_OK);
	/* Now a third try gets the retry's answer again. */
	r.body = NULL; /* not req_free's to free */
	req_free(&r);
	r.replied = 0;
	r.body = body;
	CHECK(idem_claim_or_reply(&r, &retry) == -1 && r.status == 200 && !retry.held);
	r.body = NULL;
	req_free(&r);
	cfg.now = 0;
	db_close(db);
}

int
main(void)
{
	TEST(test_key_bare);
	TEST(test_key_sf_string);
	TEST(test_hash);
	TEST(test_taken_over_claim);
	return unit_done();
}
