/* test_json.c: the strict JSON parser that guards every request body, and
 * the writer answers are written with. */
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

/* A body of many small values is refused before json-c builds a tree of
 * them (a gzip body of 8 KiB inflates to 4 million zeros). */
static void
test_values(void)
{
	size_t n = JSON_MAX_VALUES, len = 2 * n + 1;
	char *buf = malloc(len + 2), why[128];
	json_object *o;

	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	/* [0,0,...,0] with n - 1 zeros: n values with the array. */
	buf[0] = '[';
	for (size_t i = 0; i < n - 1; i++) {
		buf[1 + 2 * i] = '0';
		buf[2 + 2 * i] = ',';
	}
	buf[2 * (n - 1)] = ']';
	CHECK(json_check(buf, 2 * (n - 1) + 1, why, sizeof(why)) == 0);
	o = json_parse_strict(buf, 2 * (n - 1) + 1, why, sizeof(why));
	CHECK(o != NULL);
	json_object_put(o);
	/* One zero more: refused, saying why. */
	buf[2 * (n - 1)] = ',';
	buf[2 * n - 1] = '0';
	buf[2 * n] = ']';
	CHECK(json_parse_strict(buf, 2 * n + 1, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "too many values") != NULL);
	free(buf);
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

/* What the writer makes, as text; the writer is then empty. */
static char *
written(struct jw *w)
{
	size_t len;
	char *s = jw_finish(w, &len);

	CHECK(s == NULL || strlen(s) == len);
	return s;
}

static void
test_writer(void)
{
	static const char nasty[] = "q\"b\\s/\n\t\x01\x1f\x7f é";
	json_object *back, *v;
	struct jw w;
	char *s;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "s", nasty);
	jw_string(&w, "none", NULL);
	jw_int(&w, "min", INT64_MIN);
	jw_int(&w, "max", INT64_MAX);
	jw_int(&w, "zero", 0);
	jw_bool(&w, "t", 1);
	jw_bool(&w, "f", 0);
	jw_null(&w, "n");
	jw_time(&w, "at", 1700000000);
	jw_time(&w, "never", 0);
	jw_array(&w, "list");
	jw_int(&w, NULL, 1);
	jw_object(&w, NULL);
	jw_object_end(&w);
	jw_array(&w, NULL);
	jw_array_end(&w);
	jw_raw(&w, NULL, "{\"processed\":2}");
	jw_raw(&w, NULL, NULL);
	jw_array_end(&w);
	v = json_object_new_object();
	json_object_object_add(v, "field", json_object_new_string("limit"));
	jw_value(&w, "details", v);
	jw_value(&w, "nothing", NULL);
	jw_object_end(&w);
	s = written(&w);
	CHECK(s != NULL);
	/* Strict JSON, and the same values back. */
	CHECK(s != NULL && json_check(s, strlen(s), NULL, 0) == 0);
	back = s != NULL ? json_tokener_parse(s) : NULL;
	CHECK(back != NULL);
	if (back != NULL) {
		CHECK(
		    strcmp(json_object_get_string(json_object_object_get(back, "s")), nasty) == 0);
		CHECK(json_object_object_get(back, "none") == NULL);
		CHECK(json_object_get_int64(json_object_object_get(back, "min")) == INT64_MIN);
		CHECK(json_object_get_int64(json_object_object_get(back, "max")) == INT64_MAX);
		CHECK(strcmp(json_object_get_string(json_object_object_get(back, "at")),
		          "2023-11-14T22:13:20Z") == 0);
		CHECK(json_object_array_length(json_object_object_get(back, "list")) == 5);
		CHECK(strcmp(json_object_to_json_string_ext(
		                 json_object_object_get(back, "details"), JSON_C_TO_STRING_PLAIN),
		          "{\"field\":\"limit\"}") == 0);
	}
	CHECK(s != NULL && strstr(s, "\"s\":\"q\\\"b\\\\s/\\n\\t\\u0001\\u001f") != NULL);
	json_object_put(back);
	free(s);
	/* Stored JSON goes out as it is; a damaged or missing value as null. */
	jw_init(&w);
	jw_array(&w, NULL);
	jw_stored(&w, NULL, "{\"a\":[1,2.5,\"x\"]}");
	jw_stored(&w, NULL, "not json");
	jw_stored(&w, NULL, "{\"a\":1} trailing");
	jw_stored(&w, NULL, NULL);
	jw_array_end(&w);
	s = written(&w);
	CHECK(s != NULL && strcmp(s, "[{\"a\":[1,2.5,\"x\"]},null,null,null]") == 0);
	free(s);
	/* Deeper than the writer goes: it fails, and says so once. */
	jw_init(&w);
	for (int i = 0; i < JW_DEPTH + 2; i++)
		jw_array(&w, NULL);
	CHECK(written(&w) == NULL);
}

int
main(void)
{
	TEST(test_valid);
	TEST(test_malformed);
	TEST(test_nul_and_utf8);
	TEST(test_depth);
	TEST(test_values);
	TEST(test_why);
	TEST(test_writer);
	return unit_done();
}
