/* test_export.c: the CSV export's quoting and the Accept header that asks
 * for it (export.c). */
#include <stdlib.h>
#include <string.h>

#include "../../src/export.c"
#include "unit.h"

/* The fields export.c writes, one at a time. */
static void
test_csv_quoting(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "\"", "\"\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" },
		{ "cr\r", "\"cr\r\"" },
		{ " lead", "\" lead\"" },
		{ "trail\t", "\"trail\t\"" },
		{ "in side", "in side" },
	};
	struct req r;
	struct out *o = calloc(1, sizeof(*o));

	memset(&r, 0, sizeof(r));
	o->r = &r;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o->len = 0;
		out_field(o, cases[i].in, strlen(cases[i].in));
		CHECK(o->len == strlen(cases[i].out) && memcmp(o->buf, cases[i].out, o->len) == 0);
	}
	free(o);
}

static void
test_accept(void)
{
	struct req r;

	memset(&r, 0, sizeof(r));
	CHECK(!records_csv_wanted(&r));
	r.accept = "text/csv";
	CHECK(records_csv_wanted(&r));
	r.accept = "TEXT/CSV; charset=utf-8";
	CHECK(records_csv_wanted(&r));
	r.accept = "application/json, text/csv;q=0.5";
	CHECK(!records_csv_wanted(&r));
	r.accept = "text/csv, application/json;q=0.9";
	CHECK(records_csv_wanted(&r));
	r.accept = "text/csv;q=0";
	CHECK(!records_csv_wanted(&r));
	r.accept = "*/*";
	CHECK(!records_csv_wanted(&r));
	r.accept = "text/csvx";
	CHECK(!records_csv_wanted(&r));
	/* q=nan (strtod takes it) is no weight: not undefined behaviour */
	r.accept = "text/csv;q=nan";
	CHECK(!records_csv_wanted(&r));
}

int
main(void)
{
	TEST(test_csv_quoting);
	TEST(test_accept);
	return unit_done();
}
