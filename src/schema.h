/* schema.h: CSV imports and table schemas: parsing, type inference, and the
 * checks of later imports and ingest records. Pure functions, no I/O. */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define CSV_MAX_COLS 256 /* columns in a header */
#define CSV_MAX_FIELD 65536 /* bytes in one field, after unquoting */
#define SCHEMA_NAME_MAX 64 /* characters in a column name */

/* ---- csv.c: RFC 4180 text to rows of cells ---- */

/* Gives the reader up to n more bytes of the text in buf: answers how many,
 * 0 at the end of the text, or -1 when reading failed. */
typedef long csv_fill_fn(void *ctx, char *buf, size_t n);

/* A CSV text read a row at a time, as RFC 4180 with a header row: quoted
 * fields (commas, doubled quotes and line breaks inside), CRLF, LF or CR line
 * ends, an optional UTF-8 BOM and final line end; blank lines are skipped.
 * The text must be valid UTF-8 without NUL bytes, every row must have the
 * header's field count, and there may be at most max_rows data rows. The
 * reader holds the rows it has not handed out yet, never the whole text. */
struct csv_reader;

/* A reader of the text fill gives, whose refusals are sentences written to
 * why; NULL when memory runs out. */
struct csv_reader *csv_reader_new(
    csv_fill_fn *fill, void *ctx, size_t max_rows, char *why, size_t whylen);
/* Reads the next row, the header first: 1 with *fields (*n of them, valid
 * until the next call; NULL for an empty data cell, "" for an empty header
 * name) and the physical line it starts on in *line; 0 at the end of the
 * text; -1 when the CSV is refused, with the problem's line in *line and a
 * sentence safe to show to end users in why; -2 when memory runs out; -3
 * when fill failed. After anything but 1 the reader is done. */
int csv_reader_next(struct csv_reader *rd, const char *const **fields, size_t *n, long *line);
void csv_reader_free(struct csv_reader *rd);

struct csv_block;

/* A CSV kept whole; every string is a copy in blocks freed by csv_free. */
struct csv {
	size_t ncols, nrows;
	long header_line; /* the physical line of the header (1 unless blank lines lead) */
	const char **header; /* ncols names as written, never NULL ("" when empty) */
	const char **cells; /* nrows * ncols, row-major; NULL for an empty cell */
	long *lines; /* nrows: the physical line each data row starts on */
	const char **fields; /* the allocation behind header and cells */
	size_t nfields, fields_cap, lines_cap;
	struct csv_block *blocks; /* the text */
};

/* Appends a copy of a row as csv_reader_next hands it out: the first row
 * added is the header, every later one must have its n. Returns 0, or -1
 * (nothing added) when memory runs out or n is wrong. */
int csv_row_add(struct csv *c, const char *const *fields, size_t n, long line);
/* Reads all of buf (len bytes) with a csv_reader into out. Returns 0 with out
 * filled; -1 when the CSV is refused, with the 1-based physical line of the
 * problem in *line and the sentence in why; -2 when memory runs out. On
 * error out holds nothing to free. */
int csv_parse(const char *buf, size_t len, size_t max_rows, struct csv *out, long *line, char *why,
    size_t whylen);
/* Frees what c holds and zeroes it; a zeroed csv may be freed again. */
void csv_free(struct csv *c);

/* ---- schema.c: a table's columns and the checks against them ---- */

enum col_type { COL_INTEGER, COL_NUMBER, COL_BOOLEAN, COL_TEXT };

struct column {
	char name[SCHEMA_NAME_MAX + 1];
	enum col_type type;
};

struct schema {
	size_t ncols;
	struct column *cols; /* in header order */
	const struct column **byname; /* cols sorted by name (strcmp), for look-ups */
};

/* Builds a schema from c's header and cells. Names are trimmed of spaces and
 * tabs and must then be 1..64 of A-Z a-z 0-9 space _ - . ; names equal
 * ignoring case are refused. Each column takes the narrowest type all its
 * non-empty cells fit, blanks around them ignored: integer (-INT64_MAX..
 * INT64_MAX, no leading zeros), else number (finite, as JSON writes it, with
 * an optional '+'), else boolean (true or false in any case), else text; a
 * column with only empty cells is text. Returns 0; -1 with a sentence in why
 * when the header is refused (the problem is on line c->header_line); -2 when
 * memory runs out. On error out holds nothing to free. */
int schema_infer(const struct csv *c, struct schema *out, char *why, size_t whylen);

/* The problems below are what SCHEMA_MISMATCH lists, one shape for imports
 * and ingest: {"index": the 0-based index of the record in the batch, or of
 * the data row in the CSV (null for a problem in the CSV's header), "line":
 * the 1-based physical line in the CSV, header included (imports only),
 * "field": the column or null, "problem", "expected": the column's type
 * (wrong type only)}. Each function appends its problems while problems holds
 * fewer than max, and counts all of them. */

/* Matches a later import's header (ncols names, on physical line `line`) to
 * s by name, in any order: map (s->ncols entries) receives the CSV column of
 * each schema column. A problem "unknown column", "missing column" or
 * "duplicate column" (index null) for each mismatch; returns their number (0:
 * the header matches). */
int schema_header_map(const struct schema *s, const char *const *header, size_t ncols, long line,
    size_t *map, json_object *problems, int max);

/* Converts a data row (ncells cells, NULL for an empty one; the index-th of
 * the CSV, on physical line `line`) to a JSON object holding every column of
 * s in order: integers as int64, numbers as doubles, booleans, text as
 * written, empty cells as null. map is from schema_header_map, or NULL when
 * the cells are s's columns in order (the import that defined s). A problem
 * "wrong type" for each cell that does not fit its column's type. Returns the
 * number of such cells, with *out set only when it is 0; -1 when memory runs
 * out (or map is NULL and ncells is not s's width). */
int schema_row_json(const struct schema *s, const char *const *cells, size_t ncells, size_t index,
    long line, const size_t *map, json_object **out, json_object *problems, int max);

/* Checks the index-th ingest record against s: a problem "not an object"
 * (field null), "unknown column" or "wrong type" for each fault, and returns
 * their number. Null fits any column; a missing field is null; an integer
 * column takes integers written without fraction or exponent within
 * -INT64_MAX..INT64_MAX (json-c clamps every smaller literal to INT64_MIN, so
 * it cannot be told apart); a number column takes any finite number but the
 * clamped ends, INT64_MIN and UINT64_MAX. */
int schema_check_record(
    const struct schema *s, json_object *record, size_t index, json_object *problems, int max);
/* The same for the record on NDJSON line `line` (1-based; 0: none), which
 * each problem then names. */
int schema_check_record_line(const struct schema *s, json_object *record, size_t index, long line,
    json_object *problems, int max);

/* A record that schema_check_record passed, as stored: every column of s in
 * order, missing fields as null, values shared with record. NULL when record
 * is not an object or memory runs out. */
json_object *schema_record_json(const struct schema *s, json_object *record);

/* s as the API answers it: {"columns": [{"name", "type"}, ...]}. */
json_object *schema_to_json(const struct schema *s);
/* Reads what schema_to_json wrote, with the checks of schema_infer. Returns 0,
 * or -1 (nothing to free) when o is not such a schema or memory runs out. */
int schema_from_json(json_object *o, struct schema *out);
/* Frees what s holds and zeroes it; a zeroed schema may be freed again. */
void schema_free(struct schema *s);

#endif
