/* test_schema.c: type inference, header and row checks of CSV imports, the
 * checks of ingest records, and the schema's stored form. */
#include <stdlib.h>
#include <string.h>

#include "../../src/schema.c"
#include "core.h" /* json_parse_strict: records arrive through it */
#include "unit.h"

static struct csv c;
static struct schema s;
static char why[256];

/* Parses text and infers its schema: schema_infer's answer, or -99. */
static int
infer(const char *text)
{
	long line;

	csv_free(&c);
	schema_free(&s);
	why[0] = '\0';
	if (csv_parse(text, strlen(text), 1000, &c, &line, why, sizeof(why)) != 0)
		return -99;
	return schema_infer(&c, &s, why, sizeof(why));
}

/* The type inferred for a one-column CSV "v\n" followed by rows. */
static int
type_of(const char *rows)
{
	char text[512];

	snprintf(text, sizeof(text), "v\n%s", rows);
	if (infer(text) != 0)
		return -1;
	return (int)s.cols[0].type;
}

/* Whether o prints as want (json-c's plain form). */
static int
json_is(json_object *o, const char *want)
{
	const char *got = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	if (strcmp(got, want) == 0)
		return 1;
	printf("#   got  %s\n#   want %s\n", got, want);
	return 0;
}

/* Row i of c as JSON with the identity map, printed; "" when it does not fit. */
static int
row_is(size_t i, const char *want)
{
	json_object *o = NULL;
	int ok = schema_row_json(
	             &s, c.cells + i * c.ncols, c.ncols, i, c.lines[i], NULL, &o, NULL, 0) == 0 &&
	    json_is(o, want);

	json_object_put(o);
	return ok;
}

static void
test_infer_types(void)
{
	CHECK(type_of("1\n-2\n 12\n-0\n+5\n") == COL_INTEGER);
	CHECK(type_of("9223372036854775807\n-9223372036854775807\n") == COL_INTEGER);
	CHECK(type_of("9223372036854775808\n") == COL_NUMBER); /* past int64 */
	/* Integers are symmetric, as ingest can check them (test_int64_bounds). */
	CHECK(type_of("-9223372036854775808\n") == COL_NUMBER);
	CHECK(type_of("-9223372036854775809\n") == COL_NUMBER);
	CHECK(type_of("1\n1.5\n") == COL_NUMBER);
	CHECK(type_of("1e5\n") == COL_NUMBER);
	CHECK(type_of("-0.0\n2E-3\n0.5\n1e+2\n") == COL_NUMBER);
	CHECK(type_of("TRUE\nfalse\nTrue\n fAlSe \n") == COL_BOOLEAN);
	CHECK(type_of("abc\n") == COL_TEXT);
	CHECK(type_of("1\ntrue\n") == COL_TEXT);
	CHECK(type_of("1\nx\n2\n") == COL_TEXT);
	/* Not numbers: leading zeros (zip codes), bare dots, hex, inf, nan, overflow. */
	CHECK(type_of("007\n") == COL_TEXT);
	CHECK(type_of("00.5\n") == COL_TEXT);
	CHECK(type_of("-01\n") == COL_TEXT);
	CHECK(type_of("0\n") == COL_INTEGER);
	CHECK(type_of("0.25\n") == COL_NUMBER);
	CHECK(type_of("1.\n") == COL_TEXT);
	CHECK(type_of(".5\n") == COL_TEXT);
	CHECK(type_of("0x10\n") == COL_TEXT);
	CHECK(type_of("inf\n") == COL_TEXT);
	CHECK(type_of("nan\n") == COL_TEXT);
	CHECK(type_of("1e400\n") == COL_TEXT);
	CHECK(type_of("1e\n") == COL_TEXT);
	CHECK(type_of("+\n") == COL_TEXT);
	CHECK(type_of("1 2\n") == COL_TEXT);
	CHECK(type_of("yes\n") == COL_TEXT);
	CHECK(type_of("\" \"\n") == COL_TEXT); /* blanks are not empty */
	/* Empty cells do not count; a column of only empty cells is text. */
	CHECK(type_of("\n1\n\"\"\n2\n") == COL_INTEGER);
	CHECK(infer("a,b\n1,\n2,\n") == 0 && s.cols[0].type == COL_INTEGER &&
	    s.cols[1].type == COL_TEXT);
	CHECK(infer("a,b\n") == 0 && s.cols[0].type == COL_TEXT && s.cols[1].type == COL_TEXT);
}

static void
test_row_json(void)
{
	CHECK(infer("id,price,ok,name,empty\n"
	            " 12 ,0.1,TRUE, Ann ,\n"
	            "-0,1e5,false,\"a,\"\"b\"\"\",\n"
	            "9223372036854775807,3,true,,\n") == 0);
	CHECK(s.cols[0].type == COL_INTEGER && s.cols[1].type == COL_NUMBER &&
	    s.cols[2].type == COL_BOOLEAN && s.cols[3].type == COL_TEXT &&
	    s.cols[4].type == COL_TEXT);
	CHECK(row_is(0, "{\"id\":12,\"price\":0.1,\"ok\":true,\"name\":\" Ann \",\"empty\":null}"));
	CHECK(row_is(
	    1, "{\"id\":0,\"price\":100000,\"ok\":false,\"name\":\"a,\\\"b\\\"\",\"empty\":null}"));
	CHECK(row_is(2,
	    "{\"id\":9223372036854775807,\"price\":3,\"ok\":true,\"name\":null,\"empty\":null}"));
}

static void
test_names(void)
{
	char name[80];

	CHECK(infer(" a ,\tb c,d_e-f.g,X1\n") == 0);
	CHECK(strcmp(s.cols[0].name, "a") == 0 && strcmp(s.cols[1].name, "b c") == 0);
	CHECK(infer("a,,c\n") == -1 && strcmp(why, "Column 2 has no name.") == 0);
	CHECK(infer("a,  \n") == -1 && strcmp(why, "Column 2 has no name.") == 0);
	CHECK(infer("a,a\n") == -1 && strcmp(why, "Column name \"a\" appears twice.") == 0);
	CHECK(infer("Email,x,email\n") == -1);
	CHECK(strcmp(why, "Column names \"Email\" and \"email\" differ only in case.") == 0);
	CHECK(infer("a, a\n") == -1); /* duplicates once trimmed */
	CHECK(infer("a$\n") == -1);
	CHECK(strcmp(why,
	          "Column name \"a$\" may hold only letters, digits, spaces, \"_\", \"-\" and "
	          "\".\".") == 0);
	CHECK(infer("caf\xc3\xa9\n") == -1);
	CHECK(infer("\"a\nb\"\n") == -1);
	memset(name, 'n', 64);
	strcpy(name + 64, "\n");
	CHECK(infer(name) == 0 && strlen(s.cols[0].name) == 64);
	strcpy(name + 64, "n\n");
	CHECK(infer(name) == -1);
	CHECK(strcmp(why,
	          "Column name \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...\" is longer than 64 "
	          "characters.") == 0);
	CHECK(s.cols == NULL && s.byname == NULL); /* nothing is left to free */
}

#define PARSE(t) csv_parse(t, strlen(t), 10, &c, &line, why, sizeof(why))

static void
test_header_map(void)
{
	struct schema first;
	json_object *p = json_object_new_array();
	size_t map[3];
	json_object *o = NULL;
	long line;

	CHECK(infer("n,x,b\n1,1.5,true\n") == 0);
	first = s;
	memset(&s, 0, sizeof(s));

	/* The same names in another order match, and the map puts them back. */
	csv_free(&c);
	CHECK(PARSE("b, n ,x\nfalse,2,3\n") == 0);
	CHECK(schema_header_map(&first, c.header, c.ncols, c.header_line, map, p, 100) == 0);
	CHECK(map[0] == 1 && map[1] == 2 && map[2] == 0);
	CHECK(schema_row_json(
	          &first, c.cells + 0 * c.ncols, c.ncols, 0, c.lines[0], map, &o, p, 100) == 0);
	CHECK(json_is(o, "{\"n\":2,\"x\":3,\"b\":false}"));
	json_object_put(o);
	CHECK(json_object_array_length(p) == 0);

	/* A cell that does not fit its column's type, on the line it is on. */
	csv_free(&c);
	CHECK(PARSE("x,n,b\n1,2,true\n\n2.5,x,maybe\n") == 0);
	CHECK(schema_header_map(&first, c.header, c.ncols, c.header_line, map, p, 100) == 0);
	CHECK(schema_row_json(
	          &first, c.cells + 0 * c.ncols, c.ncols, 0, c.lines[0], map, &o, p, 100) == 0);
	json_object_put(o);
	o = NULL;
	CHECK(schema_row_json(
	          &first, c.cells + 1 * c.ncols, c.ncols, 1, c.lines[1], map, &o, p, 100) == 2 &&
	    o == NULL);
	CHECK(json_is(p,
	    "[{\"index\":1,\"line\":4,\"field\":\"n\",\"problem\":\"wrong "
	    "type\",\"expected\":\"integer\"},"
	    "{\"index\":1,\"line\":4,\"field\":\"b\",\"problem\":\"wrong "
	    "type\",\"expected\":\"boolean\"}]"));
	json_object_put(p);

	/* Unknown, missing and duplicate columns; names match exactly. */
	p = json_object_new_array();
	csv_free(&c);
	CHECK(PARSE("N,x,x\n") == 0);
	CHECK(schema_header_map(&first, c.header, c.ncols, c.header_line, map, p, 100) == 4);
	CHECK(json_is(p,
	    "[{\"index\":null,\"line\":1,\"field\":\"N\",\"problem\":\"unknown column\"},"
	    "{\"index\":null,\"line\":1,\"field\":\"x\",\"problem\":\"duplicate column\"},"
	    "{\"index\":null,\"line\":1,\"field\":\"n\",\"problem\":\"missing column\"},"
	    "{\"index\":null,\"line\":1,\"field\":\"b\",\"problem\":\"missing column\"}]"));
	json_object_put(p);

	/* The cap holds. */
	p = json_object_new_array();
	CHECK(schema_header_map(&first, c.header, c.ncols, c.header_line, map, p, 2) == 4 &&
	    json_object_array_length(p) == 2);
	json_object_put(p);

	/* Without a map, the CSV must have the schema's width. */
	csv_free(&c);
	CHECK(PARSE("n,x\n1,2\n") == 0);
	CHECK(schema_row_json(
	          &first, c.cells + 0 * c.ncols, c.ncols, 0, c.lines[0], NULL, &o, NULL, 0) == -1 &&
	    o == NULL);
	schema_free(&first);
}

/* The schema of ingest checks: id integer, price number, ok boolean, name text. */
static void
ingest_schema(void)
{
	CHECK(infer("id,price,ok,name\n1,1.5,true,x\n") == 0);
}

/* The problems schema_check_record finds in the JSON text rec, printed. */
static int
check_is(const char *rec, int want_n, const char *want)
{
	json_object *o = json_parse_strict(rec, strlen(rec), why, sizeof(why));
	json_object *p = json_object_new_array();
	int n = schema_check_record(&s, o, 7, p, 100), ok = n == want_n && json_is(p, want);

	if (n != want_n)
		printf("#   %s: %d problems, want %d\n", rec, n, want_n);
	json_object_put(o);
	json_object_put(p);
	return ok;
}

#define FITS(rec) check_is(rec, 0, "[]")
#define WRONG(rec, field, type)                                                                    \
	check_is(rec, 1,                                                                           \
	    "[{\"index\":7,\"field\":\"" field                                                     \
	    "\",\"problem\":\"wrong type\",\"expected\":\"" type "\"}]")

static void
test_check_record(void)
{
	ingest_schema();
	CHECK(FITS("{\"id\": 3, \"price\": 2.5, \"ok\": false, \"name\": \"x\"}"));
	CHECK(FITS("{}")); /* missing fields are null */
	CHECK(FITS("{\"id\": null, \"price\": null, \"ok\": null, \"name\": null}"));
	CHECK(FITS("{\"price\": 3}")); /* an integer is a number */
	CHECK(FITS("{\"price\": -0, \"id\": -0}"));
	CHECK(FITS("{\"price\": 1e300}"));

	CHECK(check_is("[1]", 1, "[{\"index\":7,\"field\":null,\"problem\":\"not an object\"}]"));
	CHECK(check_is("null", 1, "[{\"index\":7,\"field\":null,\"problem\":\"not an object\"}]"));
	CHECK(check_is("\"x\"", 1, "[{\"index\":7,\"field\":null,\"problem\":\"not an object\"}]"));
	CHECK(check_is("{\"emial\": \"a\", \"ID\": 1}", 2,
	    "[{\"index\":7,\"field\":\"emial\",\"problem\":\"unknown column\"},"
	    "{\"index\":7,\"field\":\"ID\",\"problem\":\"unknown column\"}]"));
	CHECK(WRONG("{\"id\": 1.5}", "id", "integer"));
	CHECK(WRONG("{\"id\": 1.0}", "id", "integer")); /* a fraction, even .0 */
	CHECK(WRONG("{\"id\": 1e2}", "id", "integer"));
	CHECK(WRONG("{\"id\": \"1\"}", "id", "integer"));
	CHECK(WRONG("{\"id\": true}", "id", "integer"));
	CHECK(WRONG("{\"id\": [1]}", "id", "integer"));
	CHECK(WRONG("{\"price\": \"1.5\"}", "price", "number"));
	CHECK(WRONG("{\"price\": 1e400}", "price", "number")); /* not finite */
	CHECK(WRONG("{\"price\": -1e400}", "price", "number"));
	CHECK(WRONG("{\"ok\": 1}", "ok", "boolean"));
	CHECK(WRONG("{\"ok\": \"true\"}", "ok", "boolean"));
	CHECK(WRONG("{\"name\": 5}", "name", "text"));
	CHECK(WRONG("{\"name\": {}}", "name", "text"));
	CHECK(check_is("{\"id\": \"x\", \"zz\": 1, \"name\": \"ok\"}", 2,
	    "[{\"index\":7,\"field\":\"id\",\"problem\":\"wrong type\",\"expected\":\"integer\"},"
	    "{\"index\":7,\"field\":\"zz\",\"problem\":\"unknown column\"}]"));
}

static void
test_int64_bounds(void)
{
	ingest_schema();
	CHECK(FITS("{\"id\": 9223372036854775807}"));
	CHECK(WRONG("{\"id\": 9223372036854775808}", "id", "integer"));
	CHECK(WRONG("{\"id\": 18446744073709551615}", "id", "integer"));
	CHECK(WRONG("{\"id\": 99999999999999999999999}", "id", "integer"));
	CHECK(FITS("{\"id\": -9223372036854775807}"));
	/* json-c clamps every smaller literal to INT64_MIN, so it is refused. */
	CHECK(WRONG("{\"id\": -9223372036854775808}", "id", "integer"));
	CHECK(WRONG("{\"id\": -9223372036854775809}", "id", "integer"));
	/* A number column takes big integers, but not the clamped ones. */
	CHECK(FITS("{\"price\": 9223372036854775808}"));
	CHECK(FITS("{\"price\": 18446744073709551614}"));
	CHECK(WRONG("{\"price\": 18446744073709551616}", "price", "number"));
	CHECK(WRONG("{\"price\": -99999999999999999999}", "price", "number"));
	CHECK(FITS("{\"price\": -99999999999999999999.0}"));
}

static void
test_problem_cap(void)
{
	json_object *rec = json_object_new_object(), *p = json_object_new_array();
	char key[16];

	ingest_schema();
	for (int i = 0; i < 150; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_object_object_add(rec, key, json_object_new_int(i));
	}
	CHECK(schema_check_record(&s, rec, 0, p, 100) == 150);
	CHECK(json_object_array_length(p) == 100);
	/* A full list takes no more, but problems are still counted. */
	CHECK(schema_check_record(&s, rec, 1, p, 100) == 150);
	CHECK(schema_check_record(&s, NULL, 2, p, 100) == 1);
	CHECK(json_object_array_length(p) == 100);
	json_object_put(rec);
	json_object_put(p);
}

static void
test_record_json(void)
{
	json_object *rec, *o;
	const char *text = "{\"name\": \"x\", \"price\": 2}";

	ingest_schema();
	rec = json_parse_strict(text, strlen(text), why, sizeof(why));
	o = schema_record_json(&s, rec);
	CHECK(json_is(o, "{\"id\":null,\"price\":2,\"ok\":null,\"name\":\"x\"}"));
	json_object_put(rec);
	json_object_put(o); /* values are shared: either may go first */
	CHECK(schema_record_json(&s, NULL) == NULL);
}

static void
test_json_round_trip(void)
{
	struct schema back;
	json_object *o, *bad;

	CHECK(infer("id,price,ok,name x\n1,1.5,true,x\n") == 0);
	o = schema_to_json(&s);
	CHECK(json_is(o,
	    "{\"columns\":[{\"name\":\"id\",\"type\":\"integer\"},"
	    "{\"name\":\"price\",\"type\":\"number\"},{\"name\":\"ok\",\"type\":\"boolean\"},"
	    "{\"name\":\"name x\",\"type\":\"text\"}]}"));
	CHECK(schema_from_json(o, &back) == 0);
	CHECK(back.ncols == s.ncols);
	for (size_t j = 0; j < s.ncols && j < back.ncols; j++)
		CHECK(strcmp(back.cols[j].name, s.cols[j].name) == 0 &&
		    back.cols[j].type == s.cols[j].type);
	CHECK(schema_column_find(&back, "name x") == &back.cols[3]);
	CHECK(schema_column_find(&back, "nope") == NULL);
	json_object_put(o);
	schema_free(&back);

	/* What was not written by schema_to_json is refused. */
	static const char *const bads[] = {
		"{}",
		"[]",
		"{\"columns\": {}}",
		"{\"columns\": []}",
		"{\"columns\": [1]}",
		"{\"columns\": [{\"name\": \"a\"}]}",
		"{\"columns\": [{\"name\": \"a\", \"type\": \"date\"}]}",
		"{\"columns\": [{\"name\": \"a\", \"type\": 1}]}",
		"{\"columns\": [{\"name\": 1, \"type\": \"text\"}]}",
		"{\"columns\": [{\"name\": \" a\", \"type\": \"text\"}]}",
		"{\"columns\": [{\"name\": \"a$\", \"type\": \"text\"}]}",
		/* names equal ignoring case */
		("{\"columns\":[{\"name\":\"a\",\"type\":\"text\"},"
		 "{\"name\":\"A\",\"type\":\"text\"}]}"),
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		bad = json_parse_strict(bads[i], strlen(bads[i]), why, sizeof(why));
		CHECK(bad != NULL);
		CHECK(schema_from_json(bad, &back) == -1 && back.cols == NULL);
		json_object_put(bad);
	}
	CHECK(schema_from_json(NULL, &back) == -1);
}

int
main(void)
{
	TEST(test_infer_types);
	TEST(test_row_json);
	TEST(test_names);
	TEST(test_header_map);
	TEST(test_check_record);
	TEST(test_int64_bounds);
	TEST(test_problem_cap);
	TEST(test_record_json);
	TEST(test_json_round_trip);
	csv_free(&c);
	schema_free(&s);
	return unit_done();
}
