/* test_idempotency.c: reading the Idempotency-Key header (bare text or the
 * draft's sf-string) and the request hash. */
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

int
main(void)
{
	TEST(test_key_bare);
	TEST(test_key_sf_string);
	TEST(test_hash);
	return unit_done();
}
