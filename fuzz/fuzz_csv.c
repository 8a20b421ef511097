/* fuzz_csv.c: libFuzzer harness for CSV imports: csv_parse, schema_infer and
 * row conversion, checking what they promise (the text read in small pieces
 * reads the same as read whole, an inferred schema fits its own rows, stored
 * rows are JSON that passes the ingest check, the schema survives its JSON
 * form); any broken promise aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the stored value v is what cell says, read as type t. */
static int
fuzz_value_is(enum col_type t, const char *cell, json_object *v)
{
	if (cell == NULL)
		return v == NULL;
	if (t != COL_TEXT)
		cell += strspn(cell, " \t");
	switch (t) {
	case COL_INTEGER:
		return json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) == strtoll(cell, NULL, 10);
	case COL_NUMBER:
		return (json_object_is_type(v, json_type_double) ||
		           json_object_is_type(v, json_type_int)) &&
		    json_object_get_double(v) == strtod(cell, NULL);
	case COL_BOOLEAN:
		return json_object_is_type(v, json_type_boolean) &&
		    json_object_get_boolean(v) == (*cell == 't' || *cell == 'T');
	case COL_TEXT:
		return json_object_is_type(v, json_type_string) &&
		    (size_t)json_object_get_string_len(v) == strlen(cell) &&
		    memcmp(json_object_get_string(v), cell, strlen(cell)) == 0;
	}
	return 0;
}

/* Converts every row; each must fit, print as JSON that reads back as its
 * cells, and pass the ingest check. */
static void
fuzz_rows(const struct schema *s, const struct csv *c)
{
	json_object *problems = json_object_new_array();

	for (size_t i = 0; i < c->nrows; i++) {
		json_object *row = NULL, *back;

		if (schema_row_json(s, c->cells + i * c->ncols, c->ncols, i, c->lines[i], NULL,
		        &row, problems, 100) != 0 ||
		    row == NULL)
			abort();
		back = json_tokener_parse(json_object_to_json_string(row));
		if (back == NULL || json_object_object_length(back) != (int)s->ncols ||
		    schema_check_record(s, back, i, problems, 100) != 0)
			abort();
		for (size_t j = 0; j < s->ncols; j++) {
			json_object *v = NULL;

			if (!json_object_object_get_ex(back, s->cols[j].name, &v) ||
			    !fuzz_value_is(s->cols[j].type, c->cells[i * c->ncols + j], v))
				abort();
		}
		json_object_put(back);
		json_object_put(row);
	}
	if (json_object_array_length(problems) != 0)
		abort();
	json_object_put(problems);
}

/* The header maps onto its own schema in order, and the JSON form round-trips. */
static void
fuzz_schema_self(const struct schema *s, const struct csv *c)
{
	size_t map[CSV_MAX_COLS];
	struct schema back;
	json_object *o = schema_to_json(s), *text;

	if (schema_header_map(s, c->header, c->ncols, c->header_line, map, NULL, 0) != 0)
		abort();
	for (size_t j = 0; j < s->ncols; j++)
		if (map[j] != j)
			abort();
	text = json_tokener_parse(json_object_to_json_string(o));
	if (schema_from_json(text, &back) != 0 || back.ncols != s->ncols)
		abort();
	for (size_t j = 0; j < s->ncols; j++)
		if (strcmp(back.cols[j].name, s->cols[j].name) != 0 ||
		    back.cols[j].type != s->cols[j].type)
			abort();
	schema_free(&back);
	json_object_put(text);
	json_object_put(o);
}

/* Hands out the text in pieces of 1 to 7 bytes, as a body arrives. */
struct pieces {
	const uint8_t *p;
	size_t left, i;
};

static long
fuzz_fill(void *ctx, char *buf, size_t n)
{
	struct pieces *m = ctx;
	size_t k = 1 + (m->i++ * 5) % 7;

	if (k > n)
		k = n;
	if (k > m->left)
		k = m->left;
	if (k == 0)
		return 0;
	memcpy(buf, m->p, k);
	m->p += k;
	m->left -= k;
	return (long)k;
}

/* Reading the text in pieces gives csv_parse's answer rc (and c, line). */
static void
fuzz_pieces_same(const uint8_t *data, size_t size, int rc, const struct csv *c, long line)
{
	struct pieces m = { data, size, 0 };
	char why[256];
	struct csv_reader *rd = csv_reader_new(fuzz_fill, &m, 1000, why, sizeof(why));
	const char *const *fields;
	size_t n, row = 0;
	long at;
	int got;

	if (rd == NULL)
		abort();
	while ((got = csv_reader_next(rd, &fields, &n, &at)) == 1) {
		if (rc != 0)
			continue; /* the rows before the refusal */
		if (n != c->ncols || row > c->nrows)
			abort();
		for (size_t j = 0; j < n; j++) {
			const char *want = c->fields[row * n + j];

			if ((want == NULL) != (fields[j] == NULL) ||
			    (want != NULL && strcmp(want, fields[j]) != 0))
				abort();
		}
		if (at != (row == 0 ? c->header_line : c->lines[row - 1]))
			abort();
		row++;
	}
	if (got != rc || (rc == -1 && at != line) || (rc == 0 && row != c->nrows + 1))
		abort();
	csv_reader_free(rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv c;
	struct schema s;
	char why[256];
	long line;
	int rc;

	rc = csv_parse((const char *)data, size, 1000, &c, &line, why, sizeof(why));
	if (rc != 0) {
		if (rc != -1 || line < 1 || why[0] == '\0' || c.fields != NULL)
			abort();
		fuzz_pieces_same(data, size, rc, &c, line);
		return 0;
	}
	fuzz_pieces_same(data, size, rc, &c, line);
	if (c.ncols < 1 || c.ncols > CSV_MAX_COLS || c.nrows > 1000)
		abort();
	for (size_t i = 0; i < c.nrows * c.ncols; i++)
		if (c.cells[i] != NULL &&
		    (c.cells[i][0] == '\0' || strlen(c.cells[i]) > CSV_MAX_FIELD))
			abort();
	if (schema_infer(&c, &s, why, sizeof(why)) == 0) {
		fuzz_rows(&s, &c);
		fuzz_schema_self(&s, &c);
		schema_free(&s);
	} else if (why[0] == '\0' || s.cols != NULL)
		abort();
	csv_free(&c);
	return 0;
}
