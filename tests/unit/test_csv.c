/* test_csv.c: the RFC 4180 reader behind table imports. */
#include <stdlib.h>
#include <string.h>

#include "../../src/csv.c"
#include "unit.h"

static struct csv c;
static long line;
static char why[256];

/* Hands a reader its text one byte at a time: every row, line end, quote
 * and character is cut between two reads somewhere. */
static long
fill_bytewise(void *ctx, char *buf, size_t n)
{
	struct csv_mem *m = ctx;

	return csv_mem_fill(m, buf, n > 0 ? 1 : 0);
}

/* Whether reading s one byte at a time gives what csv_parse gave (rc, c,
 * line and why). */
static int
bytewise_same(const char *s, size_t len, size_t max_rows, int rc)
{
	struct csv_mem m = { s, len };
	struct csv b;
	struct csv_reader *rd;
	const char *const *fields;
	char bwhy[256];
	size_t n;
	long at = 0;
	int brc, same;

	memset(&b, 0, sizeof(b));
	rd = csv_reader_new(fill_bytewise, &m, max_rows, bwhy, sizeof(bwhy));
	while ((brc = csv_reader_next(rd, &fields, &n, &at)) == 1)
		csv_row_add(&b, fields, n, at);
	csv_reader_free(rd);
	same = brc == rc && strcmp(bwhy, why) == 0;
	if (rc == -1)
		same = same && at == line;
	else if (same) {
		same = b.ncols == c.ncols && b.nrows == c.nrows && b.header_line == c.header_line;
		for (size_t i = 0; same && i < c.ncols * (c.nrows + 1); i++)
			same = (b.fields[i] == NULL && c.fields[i] == NULL) ||
			    (b.fields[i] != NULL && c.fields[i] != NULL &&
			        strcmp(b.fields[i], c.fields[i]) == 0);
		for (size_t i = 0; same && i < c.nrows; i++)
			same = b.lines[i] == c.lines[i];
	}
	if (!same)
		printf("#   read a byte at a time: rc %d (want %d), \"%s\"\n", brc, rc, bwhy);
	csv_free(&b);
	return same;
}

/* Parses len bytes of s into c, at most max_rows data rows, and checks that
 * the text read a byte at a time reads the same. */
static int
parse_n(const char *s, size_t len, size_t max_rows)
{
	int rc;

	csv_free(&c);
	why[0] = '\0';
	rc = csv_parse(s, len, max_rows, &c, &line, why, sizeof(why));
	CHECK(bytewise_same(s, len, max_rows, rc));
	return rc;
}

#define P(s) parse_n(s, sizeof(s) - 1, 1000)

/* Whether cell (row, col) is the text want (NULL: an empty cell). */
static int
cell_is(size_t row, size_t col, const char *want)
{
	const char *got = c.cells[row * c.ncols + col];

	if (want == NULL || got == NULL)
		return want == got;
	return strcmp(got, want) == 0;
}

static void
test_simple(void)
{
	CHECK(P("a,b\n1,2\n3,4\n") == 0);
	CHECK(c.ncols == 2 && c.nrows == 2);
	CHECK(strcmp(c.header[0], "a") == 0 && strcmp(c.header[1], "b") == 0);
	CHECK(cell_is(0, 0, "1") && cell_is(0, 1, "2") && cell_is(1, 0, "3") && cell_is(1, 1, "4"));
	CHECK(c.header_line == 1 && c.lines[0] == 2 && c.lines[1] == 3);
	CHECK(why[0] == '\0');
}

static void
test_quoted(void)
{
	CHECK(P("name,note\n"
	        "\"Smith, J\",\"said \"\"hi\"\"\"\n"
	        "x,\"line1\nline2\"\n"
	        "\"\",\"\"\"\"\n"
	        "y,z\n") == 0);
	CHECK(c.nrows == 4);
	CHECK(cell_is(0, 0, "Smith, J"));
	CHECK(cell_is(0, 1, "said \"hi\""));
	CHECK(cell_is(1, 0, "x") && cell_is(1, 1, "line1\nline2"));
	CHECK(cell_is(2, 0, NULL)); /* "" is an empty cell */
	CHECK(cell_is(2, 1, "\""));
	/* A line break inside quotes counts as a physical line. */
	CHECK(c.lines[0] == 2 && c.lines[1] == 3 && c.lines[2] == 5 && c.lines[3] == 6);
	/* A quoted line break is kept as written, CRLF included. */
	CHECK(P("a\r\n\"x\r\ny\"\r\n") == 0);
	CHECK(cell_is(0, 0, "x\r\ny"));
	CHECK(P("a,b\n\"q\",\"\"\n") == 0 && cell_is(0, 0, "q") && cell_is(0, 1, NULL));
}

static void
test_line_ends(void)
{
	CHECK(P("a,b\r\n1,2\r\n3,4\r\n") == 0);
	CHECK(c.nrows == 2 && cell_is(0, 1, "2") && cell_is(1, 1, "4") && c.lines[1] == 3);
	CHECK(P("a,b\r1,2\r3,4") == 0); /* old Mac CR */
	CHECK(c.nrows == 2 && cell_is(1, 0, "3") && c.lines[1] == 3);
	CHECK(P("a,b\n1,2") == 0); /* no final newline */
	CHECK(c.nrows == 1 && cell_is(0, 1, "2"));
	CHECK(P("a,b\n1,\"2\"") == 0);
	CHECK(cell_is(0, 1, "2"));
	CHECK(P("a\n\n\n1\r\n\r\n2\n\n") == 0); /* blank lines are skipped */
	CHECK(c.nrows == 2 && c.lines[0] == 4 && c.lines[1] == 6);
	CHECK(P("\n\r\na\n1\n") == 0);
	CHECK(c.header_line == 3 && c.lines[0] == 4);
}

static void
test_bom(void)
{
	CHECK(P("\xef\xbb\xbf"
	        "a,b\n1,2\n") == 0);
	CHECK(strcmp(c.header[0], "a") == 0);
	CHECK(P("\xef\xbb\xbf") == -1 && line == 1);
	CHECK(strcmp(why, "The CSV is empty; a header row is expected.") == 0);
}

static void
test_empty_cells(void)
{
	CHECK(P("a,b,c\n,x,\n,,\n") == 0);
	CHECK(cell_is(0, 0, NULL) && cell_is(0, 1, "x") && cell_is(0, 2, NULL));
	CHECK(cell_is(1, 0, NULL) && cell_is(1, 1, NULL) && cell_is(1, 2, NULL));
	/* A header's empty name is "", not NULL. */
	CHECK(P("a,,c\n1,2,3\n") == 0);
	CHECK(c.header[1] != NULL && c.header[1][0] == '\0');
	CHECK(P("a,b\n") == 0 && c.nrows == 0 && c.ncols == 2);
	CHECK(P(" a , b \n 1 ,\t2\n") == 0); /* spaces are data */
	CHECK(strcmp(c.header[0], " a ") == 0 && cell_is(0, 1, "\t2"));
}

static void
test_ragged(void)
{
	CHECK(P("a,b,c\n1,2,3\n1,2\n") == -1);
	CHECK(line == 3);
	CHECK(strcmp(why, "Line 3 has 2 fields; the header has 3.") == 0);
	CHECK(P("a,b,c\n1,2,3,4,5\n") == -1 && line == 2);
	CHECK(strcmp(why, "Line 2 has 5 fields; the header has 3.") == 0);
	CHECK(P("a,b\n1\n") == -1 && strcmp(why, "Line 2 has 1 field; the header has 2.") == 0);
	/* The line counts the breaks inside quoted fields before it. */
	CHECK(P("a,b\n\"x\ny\nz\",1\n2\n") == -1 && line == 5);
	CHECK(P("a,b\n1,2,\n") == -1 && line == 2); /* a trailing comma is a field */
	CHECK(P("a,b\r\n1,2\r\n\r\n3\r\n") == -1 && line == 4);
	CHECK(c.cells == NULL && c.nrows == 0); /* nothing is left to free */
}

static void
test_quote_errors(void)
{
	CHECK(P("a\n1\n\"abc\nmore\n") == -1);
	CHECK(line == 3);
	CHECK(strcmp(why, "Line 3 opens a quoted field that never ends.") == 0);
	CHECK(P("a\n\"") == -1 && line == 2);
	CHECK(P("a,b\n1,ab\"c\n") == -1 && line == 2);
	CHECK(strcmp(why,
	          "Line 2, field 2 has a quote inside an unquoted field; quote the whole field and "
	          "double the quote.") == 0);
	CHECK(P("a\n\"ab\"c\n") == -1 && line == 2);
	CHECK(strcmp(why,
	          "Line 2, field 1: only a comma or the end of the line may follow a closing "
	          "quote.") == 0);
	CHECK(P("a\n \"x\"\n") == -1 && line == 2); /* a space before the quote */
	CHECK(P("a\n\"x\ny\"z\n") == -1 && line == 3);
}

static void
test_utf8_and_nul(void)
{
	CHECK(P("name\ncaf\xc3\xa9\n\xf0\x9f\x98\x80\n") == 0);
	CHECK(cell_is(0, 0, "caf\xc3\xa9"));
	CHECK(P("a\nx\n\xff\n") == -1 && line == 3);
	CHECK(strcmp(why, "Line 3 is not valid UTF-8; save the file as UTF-8 text.") == 0);
	CHECK(P("a\n\xc0\xaf\n") == -1 && line == 2); /* an overlong '/' */
	CHECK(P("a\n\xed\xa0\x80\n") == -1); /* a UTF-16 surrogate */
	CHECK(P("a\n\xc3") == -1 && line == 2); /* cut short at the end */
	CHECK(P("a\n\"\xc3\"\n") == -1); /* cut short before a quote */
	CHECK(P("a\n\"x\n\xe9t\xe9\"\n") == -1 && line == 3); /* Latin-1 in quotes */
	CHECK(P("\xe9t\xe9\n1\n") == -1 && line == 1);
	CHECK(parse_n("a\nx\0y\n", 6, 10) == -1 && line == 2);
	CHECK(strcmp(why, "Line 2 contains a NUL byte.") == 0);
	CHECK(parse_n("a\n\"x\0\"\n", 7, 10) == -1 && line == 2);
}

static void
test_limits(void)
{
	size_t big = CSV_MAX_FIELD + 8;
	char *s = malloc(big + 16);
	size_t n;

	/* A field of CSV_MAX_FIELD bytes is taken, one more is refused. */
	memcpy(s, "a\n", 2);
	memset(s + 2, 'x', CSV_MAX_FIELD);
	CHECK(parse_n(s, 2 + CSV_MAX_FIELD, 10) == 0 && strlen(c.cells[0]) == CSV_MAX_FIELD);
	memset(s + 2, 'x', CSV_MAX_FIELD + 1);
	CHECK(parse_n(s, 3 + CSV_MAX_FIELD, 10) == -1 && line == 2);
	CHECK(strcmp(why, "Line 2, field 1 is longer than 65536 bytes.") == 0);
	/* Quoting does not count toward the cap, but doubled quotes count once. */
	s[2] = '"';
	memset(s + 3, 'x', CSV_MAX_FIELD);
	s[3 + CSV_MAX_FIELD] = '"';
	CHECK(parse_n(s, 4 + CSV_MAX_FIELD, 10) == 0);
	free(s);

	/* CSV_MAX_COLS columns are taken, one more is refused. */
	s = malloc(CSV_MAX_COLS * 2 + 16);
	for (n = 0; n < CSV_MAX_COLS; n++)
		memcpy(s + 2 * n, "a,", 2);
	s[2 * n - 1] = '\n';
	CHECK(parse_n(s, 2 * n, 10) == 0 && c.ncols == CSV_MAX_COLS);
	memcpy(s + 2 * n - 1, ",a\n", 3);
	CHECK(parse_n(s, 2 * n + 2, 10) == -1 && line == 1);
	CHECK(strcmp(why, "The header has more than 256 columns.") == 0);
	free(s);

	CHECK(parse_n("a\n1\n2\n", 6, 2) == 0 && c.nrows == 2);
	CHECK(parse_n("a\n1\n2\n3\n", 8, 2) == -1 && line == 4);
	CHECK(
	    strcmp(why, "The CSV has more than 2 data rows; split it into smaller imports.") == 0);
	CHECK(parse_n("a\n1\n", 4, 0) == -1 && line == 2);
}

static void
test_empty(void)
{
	CHECK(parse_n("", 0, 10) == -1 && line == 1);
	CHECK(parse_n(NULL, 0, 10) == -1 && line == 1);
	CHECK(P("\n\r\n\n") == -1 && line == 1);
	CHECK(P("a") == 0 && c.ncols == 1 && c.nrows == 0);
	CHECK(P("\"\"\n\"\"\n") == 0 && c.header[0][0] == '\0' && cell_is(0, 0, NULL));
	csv_free(&c);
	csv_free(&c); /* a freed csv may be freed again */
	CHECK(c.fields == NULL && c.blocks == NULL);
}

int
main(void)
{
	TEST(test_simple);
	TEST(test_quoted);
	TEST(test_line_ends);
	TEST(test_bom);
	TEST(test_empty_cells);
	TEST(test_ragged);
	TEST(test_quote_errors);
	TEST(test_utf8_and_nul);
	TEST(test_limits);
	TEST(test_empty);
	csv_free(&c);
	return unit_done();
}
