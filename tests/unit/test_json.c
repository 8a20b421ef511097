/* test_json.c: the strict JSON parser that guards every request body. */
#include <string.h>

#include "../../src/json.c"
#include "unit.h"

static int
parses(const char *s, size_t len)
{
	char why[160];
	json_object *o = json_parse_strict(s, len, why, sizeof(why));
	int ok = o != NULL;

	json_object_put(o);
	return ok;
}

#define P(s) parses(s, sizeof(s) - 1)

static void
test_valid(void)
{
	CHECK(P("{}"));
	CHECK(P("{\"a\": [1, 2.5, true, null, \"x\"]}"));
	CHECK(P("  {\"a\":1}\r\n"));
	CHECK(P("42"));
	CHECK(P("{\"s\": \"caf\xc3\xa9\"}"));
}

static void
test_malformed(void)
{
	CHECK(!P(""));
	CHECK(!P("{"));
	CHECK(!P("{\"a\": 1"));
	CHECK(!P("{\"a\": 1}x"));
	CHECK(!P("{\"a\": 1} {}"));
	CHECK(!P("{'a': 1}"));
	CHECK(!P("{\"a\": 01}"));
	CHECK(!P("[1,]"));
	CHECK(!P("{\"a\": NaN}"));
}

static void
test_nul_and_utf8(void)
{
	CHECK(!parses("{\"a\":\"b\0c\"}", 11));
	CHECK(!parses("{\"a\":1}\0", 8));
	CHECK(!P("{\"s\": \"\xff\xfe\"}"));
	CHECK(!P("{\"s\": \"\xc3\"}"));
	/* json-c would cut this key to "a": refused instead. */
	CHECK(!P("{\"a\\u0000b\": 1}"));
	CHECK(!P("{\"a\": \"x\\u0000\"}"));
	CHECK(P("{\"a\": \"x\\u0001\"}"));
	CHECK(!P("{\"s\": \"\xed\xa0\x80\"}")); /* a UTF-16 surrogate */
	CHECK(!P("{\"s\": \"\xc0\xaf\"}")); /* an overlong */
}

static void
test_depth(void)
{
	char deep[2 * 100 + 1];
	int n;

	for (n = 1; n <= 100; n++) {
		memset(deep, '[', (size_t)n);
		memset(deep + n, ']', (size_t)n);
		if (!parses(deep, (size_t)(2 * n)))
			break;
	}
	/* Nesting up to the limit parses, one more level does not. */
	CHECK(n - 1 >= JSON_MAX_DEPTH - 1);
	CHECK(n - 1 <= JSON_MAX_DEPTH);
}

static void
test_why(void)
{
	char why[160] = "";

	CHECK(json_parse_strict("{\"a\":", 5, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "ends too early") != NULL);
	CHECK(json_parse_strict("{}x", 3, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "after the JSON") != NULL);
	/* Found by fuzz_json: a valid null document is no value, said plainly. */
	CHECK(json_parse_strict(" null ", 6, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "null; a JSON object is expected") != NULL);
}

int
main(void)
{
	TEST(test_valid);
	TEST(test_malformed);
	TEST(test_nul_and_utf8);
	TEST(test_depth);
	TEST(test_why);
	return unit_done();
}
