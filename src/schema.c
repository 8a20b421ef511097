/* schema.c: a table's columns: inferred from the first CSV import, matched
 * against later imports and ingest records, and stored as JSON. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schema.h"

static const char *const schema_type_names[] = { "integer", "number", "boolean", "text" };

/* What a cell may still be, as it is read. */
#define FIT_INTEGER 1u
#define FIT_NUMBER 2u
#define FIT_BOOLEAN 4u

/* ---- cells ---- */

/* Narrows s[0..*n) to its text without leading or trailing spaces and tabs. */
static void
schema_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t'))
		(*s)++, (*n)--;
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* Whether s[0..n) is an integer: an optional sign, then digits without a
 * leading zero ("007" stays text, like a zip code), within
 * -INT64_MAX..INT64_MAX, the range ingest can check (schema_json_int_fits). */
static int
schema_cell_int(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	int neg = 0;

	if (i < n && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	if (i == n || (s[i] == '0' && n - i > 1))
		return 0;
	for (; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > ((uint64_t)INT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 1;
}

/* Whether s[0..n) is a finite number as JSON writes it, with an optional
 * leading '+': no leading zeros, no bare "." or "5.", no hex, inf or nan.
 * s[n] must not be a digit, '.' or 'e' (a cell is followed by blanks or its
 * NUL), since strtod reads on. */
static int
schema_cell_number(const char *s, size_t n, double *out)
{
	size_t i = 0, digits;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (digits == 0 || (digits > 1 && s[i - digits] == '0'))
		return 0;
	if (i < n && s[i] == '.') {
		for (i++, digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0)
			return 0;
	}
	if (i != n)
		return 0;
	*out = strtod(s, NULL);
	return isfinite(*out);
}

/* Whether s[0..n) is true or false, in any case. */
static int
schema_cell_bool(const char *s, size_t n, int *out)
{
	if (n == 4 && strncasecmp(s, "true", 4) == 0)
		*out = 1;
	else if (n == 5 && strncasecmp(s, "false", 5) == 0)
		*out = 0;
	else
		return 0;
	return 1;
}

/* What the trimmed cell s[0..n) may be, as FIT_* bits, asking only about
 * those in want. */
static unsigned
schema_cell_fit(const char *s, size_t n, unsigned want)
{
	unsigned fit = 0;
	int64_t i;
	double d;
	int b;

	if ((want & FIT_INTEGER) && schema_cell_int(s, n, &i))
		fit |= FIT_INTEGER;
	if ((want & FIT_NUMBER) && schema_cell_number(s, n, &d))
		fit |= FIT_NUMBER;
	if ((want & FIT_BOOLEAN) && schema_cell_bool(s, n, &b))
		fit |= FIT_BOOLEAN;
	return fit;
}

/* A double that prints as the shortest text that reads back the same, so
 * 0.1 is stored as 0.1, not 0.10000000000000001. */
static json_object *
schema_number_new(double d)
{
	char buf[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return json_object_new_double_s(d, buf);
}

/* The cell s as a JSON value of type t, or *fits = 0 when it does not fit.
 * NULL with *fits = 1 means memory ran out. */
static json_object *
schema_cell_json(enum col_type t, const char *s, int *fits)
{
	size_t n = strlen(s);
	const char *v = s;
	int64_t i;
	double d;
	int b;

	*fits = 1;
	if (t == COL_TEXT)
		return json_object_new_string_len(s, (int)n);
	schema_trim(&v, &n);
	if (t == COL_INTEGER && schema_cell_int(v, n, &i))
		return json_object_new_int64(i);
	if (t == COL_NUMBER && schema_cell_number(v, n, &d))
		return schema_number_new(d);
	if (t == COL_BOOLEAN && schema_cell_bool(v, n, &b))
		return json_object_new_boolean(b);
	*fits = 0;
	return NULL;
}

/* ---- names ---- */

/* Quotes s[0..n) for a message: at most 32 bytes, cut on a character
 * boundary, "..." when cut. */
static void
schema_name_quote(const char *s, size_t n, char *out, size_t outlen)
{
	size_t cut = n;

	if (n > 32) {
		cut = 32;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	snprintf(out, outlen, "\"%.*s%s\"", (int)cut, s, cut < n ? "..." : "");
}

/* Checks the name of column col (from 1), s[0..n) as written, and copies it
 * trimmed into name. -1 with a sentence in why when it is refused. */
static int
schema_name_check(const char *s, size_t n, size_t col, char *name, char *why, size_t whylen)
{
	char q[48];

	schema_trim(&s, &n);
	schema_name_quote(s, n, q, sizeof(q));
	if (n == 0) {
		snprintf(why, whylen, "Column %zu has no name.", col);
		return -1;
	}
	if (n > SCHEMA_NAME_MAX) {
		snprintf(why, whylen, "Column name %s is longer than %d characters.", q,
		    SCHEMA_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == ' ' || c == '_' || c == '-' || c == '.')) {
			snprintf(why, whylen,
			    "Column name %s may hold only letters, digits, spaces, \"_\", \"-\" "
			    "and \".\".",
			    q);
			return -1;
		}
	}
	memcpy(name, s, n);
	name[n] = '\0';
	return 0;
}

/* Refuses two names equal ignoring case. -1 with a sentence in why. */
static int
schema_dups_check(const struct schema *s, char *why, size_t whylen)
{
	for (size_t i = 1; i < s->ncols; i++)
		for (size_t j = 0; j < i; j++) {
			const char *a = s->cols[j].name, *b = s->cols[i].name;

			if (strcasecmp(a, b) != 0)
				continue;
			if (strcmp(a, b) == 0)
				snprintf(why, whylen, "Column name \"%s\" appears twice.", a);
			else
				snprintf(why, whylen,
				    "Column names \"%s\" and \"%s\" differ only in case.", a, b);
			return -1;
		}
	return 0;
}

static int
schema_byname_cmp(const void *a, const void *b)
{
	const struct column *x = *(const struct column *const *)a;
	const struct column *y = *(const struct column *const *)b;

	return strcmp(x->name, y->name);
}

static int
schema_byname_find_cmp(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct column *const *)elem)->name);
}

/* Builds s->byname from s->cols; -1 when memory runs out. */
static int
schema_index(struct schema *s)
{
	if ((s->byname = malloc(s->ncols * sizeof(*s->byname))) == NULL)
		return -1;
	for (size_t i = 0; i < s->ncols; i++)
		s->byname[i] = &s->cols[i];
	qsort(s->byname, s->ncols, sizeof(*s->byname), schema_byname_cmp);
	return 0;
}

/* The column named name (exactly), or NULL. */
static const struct column *
schema_column_find(const struct schema *s, const char *name)
{
	const struct column *const *c;

	c = bsearch(name, s->byname, s->ncols, sizeof(*s->byname), schema_byname_find_cmp);
	return c != NULL ? *c : NULL;
}

/* ---- problems ---- */

/* Appends the problem {"index": index (null when negative), "line": line
 * (when positive), "field": field[0..len) or null, "problem": problem,
 * "expected": expected (when not NULL)} to problems while it holds fewer
 * than max. */
static void
schema_problem_add(json_object *problems, int max, int64_t index, long line, const char *field,
    size_t len, const char *problem, const char *expected)
{
	json_object *p;

	if (problems == NULL || (int)json_object_array_length(problems) >= max)
		return;
	if ((p = json_object_new_object()) == NULL)
		return;
	json_object_object_add(p, "index", index >= 0 ? json_object_new_int64(index) : NULL);
	if (line > 0)
		json_object_object_add(p, "line", json_object_new_int64(line));
	json_object_object_add(
	    p, "field", field != NULL ? json_object_new_string_len(field, (int)len) : NULL);
	json_object_object_add(p, "problem", json_object_new_string(problem));
	if (expected != NULL)
		json_object_object_add(p, "expected", json_object_new_string(expected));
	if (json_object_array_add(problems, p) < 0)
		json_object_put(p);
}

/* ---- imports ---- */

int
schema_infer(const struct csv *c, struct schema *out, char *why, size_t whylen)
{
	unsigned fit[CSV_MAX_COLS];
	int seen[CSV_MAX_COLS];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (c->ncols == 0 || c->ncols > CSV_MAX_COLS) {
		snprintf(why, whylen, "The header must have 1 to %d columns.", CSV_MAX_COLS);
		goto out;
	}
	rc = -2;
	snprintf(why, whylen, "The server ran out of memory reading the CSV.");
	if ((out->cols = calloc(c->ncols, sizeof(*out->cols))) == NULL)
		goto out;
	out->ncols = c->ncols;
	rc = -1;
	for (size_t j = 0; j < c->ncols; j++)
		if (schema_name_check(c->header[j], strlen(c->header[j]), j + 1, out->cols[j].name,
		        why, whylen) < 0)
			goto out;
	if (schema_dups_check(out, why, whylen) < 0)
		goto out;

	for (size_t j = 0; j < c->ncols; j++) {
		fit[j] = FIT_INTEGER | FIT_NUMBER | FIT_BOOLEAN;
		seen[j] = 0;
	}
	for (size_t i = 0; i < c->nrows; i++)
		for (size_t j = 0; j < c->ncols; j++) {
			const char *v = c->cells[i * c->ncols + j];
			size_t n;

			if (v == NULL || (seen[j] && fit[j] == 0))
				continue;
			seen[j] = 1;
			n = strlen(v);
			schema_trim(&v, &n);
			fit[j] &= schema_cell_fit(v, n, fit[j]);
		}
	for (size_t j = 0; j < c->ncols; j++) {
		enum col_type t = COL_TEXT;

		if (seen[j] && (fit[j] & FIT_INTEGER))
			t = COL_INTEGER;
		else if (seen[j] && (fit[j] & FIT_NUMBER))
			t = COL_NUMBER;
		else if (seen[j] && (fit[j] & FIT_BOOLEAN))
			t = COL_BOOLEAN;
		out->cols[j].type = t;
	}

	rc = -2;
	snprintf(why, whylen, "The server ran out of memory reading the CSV.");
	if (schema_index(out) < 0)
		goto out;
	if (whylen > 0)
		why[0] = '\0';
	return 0;
out:
	schema_free(out);
	return rc;
}

int
schema_header_map(const struct schema *s, const char *const *header, size_t ncols, long line,
    size_t *map, json_object *problems, int max)
{
	int n = 0;

	for (size_t j = 0; j < s->ncols; j++)
		map[j] = SIZE_MAX;
	for (size_t k = 0; k < ncols; k++) {
		const char *name = header[k];
		size_t len = strlen(name);
		const struct column *col = NULL;
		char key[SCHEMA_NAME_MAX + 1];

		schema_trim(&name, &len);
		if (len <= SCHEMA_NAME_MAX) {
			memcpy(key, name, len);
			key[len] = '\0';
			col = schema_column_find(s, key);
		}
		if (col == NULL) {
			schema_problem_add(
			    problems, max, -1, line, name, len, "unknown column", NULL);
			n++;
		} else if (map[col - s->cols] != SIZE_MAX) {
			schema_problem_add(
			    problems, max, -1, line, name, len, "duplicate column", NULL);
			n++;
		} else
			map[col - s->cols] = k;
	}
	for (size_t j = 0; j < s->ncols; j++)
		if (map[j] == SIZE_MAX) {
			schema_problem_add(problems, max, -1, line, s->cols[j].name,
			    strlen(s->cols[j].name), "missing column", NULL);
			n++;
		}
	return n;
}

int
schema_row_json(const struct schema *s, const char *const *cells, size_t ncells, size_t index,
    long line, const size_t *map, json_object **out, json_object *problems, int max)
{
	json_object *o;
	int n = 0;

	*out = NULL;
	if ((map == NULL && ncells != s->ncols) || (o = json_object_new_object()) == NULL)
		return -1;
	for (size_t j = 0; j < s->ncols; j++) {
		const struct column *col = &s->cols[j];
		const char *cell = cells[map != NULL ? map[j] : j];
		json_object *v = NULL;
		int fits;

		if (cell != NULL) {
			v = schema_cell_json(col->type, cell, &fits);
			if (!fits) {
				schema_problem_add(problems, max, (int64_t)index, line, col->name,
				    strlen(col->name), "wrong type", schema_type_names[col->type]);
				n++;
				continue;
			}
			if (v == NULL)
				goto fail;
		}
		if (json_object_object_add_ex(o, col->name, v, JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0) {
			json_object_put(v);
			goto fail;
		}
	}
	if (n > 0)
		json_object_put(o);
	else
		*out = o;
	return n;
fail:
	json_object_put(o);
	return -1;
}

/* ---- ingest ---- */

/* Whether the JSON integer v fits a column of type t (integer or number).
 * json-c keeps integers above INT64_MAX as uint64 and clamps literals below
 * INT64_MIN to it and above UINT64_MAX to that, so both clamped values are
 * refused: the number they stand for is unknown. */
static int
schema_json_int_fits(enum col_type t, json_object *v)
{
	int64_t i = json_object_get_int64(v);
	uint64_t u;

	if (i == INT64_MIN)
		return 0;
	if (i < INT64_MAX)
		return 1;
	u = json_object_get_uint64(v);
	if (u <= INT64_MAX)
		return 1;
	return t == COL_NUMBER && u != UINT64_MAX;
}

/* Whether the JSON value v fits a column of type t. */
static int
schema_json_fits(enum col_type t, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return 1;
	case json_type_int:
		return (t == COL_INTEGER || t == COL_NUMBER) && schema_json_int_fits(t, v);
	case json_type_double: return t == COL_NUMBER && isfinite(json_object_get_double(v));
	case json_type_boolean: return t == COL_BOOLEAN;
	case json_type_string: return t == COL_TEXT;
	default: return 0;
	}
}

int
schema_check_record(
    const struct schema *s, json_object *record, size_t index, json_object *problems, int max)
{
	return schema_check_record_line(s, record, index, 0, problems, max);
}

int
schema_check_record_line(const struct schema *s, json_object *record, size_t index, long line,
    json_object *problems, int max)
{
	struct json_object_iter it;
	int n = 0;

	if (!json_object_is_type(record, json_type_object)) {
		schema_problem_add(
		    problems, max, (int64_t)index, line, NULL, 0, "not an object", NULL);
		return 1;
	}
	json_object_object_foreachC(record, it)
	{
		const struct column *col = schema_column_find(s, it.key);

		if (col == NULL) {
			schema_problem_add(problems, max, (int64_t)index, line, it.key,
			    strlen(it.key), "unknown column", NULL);
			n++;
		} else if (!schema_json_fits(col->type, it.val)) {
			schema_problem_add(problems, max, (int64_t)index, line, it.key,
			    strlen(it.key), "wrong type", schema_type_names[col->type]);
			n++;
		}
	}
	return n;
}

json_object *
schema_record_json(const struct schema *s, json_object *record)
{
	json_object *o, *v;

	if (!json_object_is_type(record, json_type_object) ||
	    (o = json_object_new_object()) == NULL)
		return NULL;
	for (size_t j = 0; j < s->ncols; j++) {
		if (!json_object_object_get_ex(record, s->cols[j].name, &v))
			v = NULL;
		if (json_object_object_add_ex(
		        o, s->cols[j].name, json_object_get(v), JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0) {
			json_object_put(v);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

/* ---- storage ---- */

json_object *
schema_to_json(const struct schema *s)
{
	json_object *o = json_object_new_object(), *cols = json_object_new_array();

	if (o == NULL || cols == NULL)
		goto fail;
	for (size_t j = 0; j < s->ncols; j++) {
		json_object *c = json_object_new_object();

		if (c == NULL || json_object_array_add(cols, c) < 0) {
			json_object_put(c);
			goto fail;
		}
		json_object_object_add(c, "name", json_object_new_string(s->cols[j].name));
		json_object_object_add(
		    c, "type", json_object_new_string(schema_type_names[s->cols[j].type]));
	}
	if (json_object_object_add(o, "columns", cols) < 0)
		goto fail;
	return o;
fail:
	json_object_put(cols);
	json_object_put(o);
	return NULL;
}

int
schema_from_json(json_object *o, struct schema *out)
{
	json_object *cols, *name, *type;
	char why[160];
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!json_object_object_get_ex(o, "columns", &cols) ||
	    !json_object_is_type(cols, json_type_array))
		return -1;
	n = json_object_array_length(cols);
	if (n == 0 || n > CSV_MAX_COLS || (out->cols = calloc(n, sizeof(*out->cols))) == NULL)
		return -1;
	out->ncols = n;
	for (size_t j = 0; j < n; j++) {
		json_object *c = json_object_array_get_idx(cols, j);
		struct column *col = &out->cols[j];
		size_t t;

		if (!json_object_object_get_ex(c, "name", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    !json_object_object_get_ex(c, "type", &type) ||
		    !json_object_is_type(type, json_type_string))
			goto fail;
		/* A stored name is already trimmed. */
		if (schema_name_check(json_object_get_string(name),
		        (size_t)json_object_get_string_len(name), j + 1, col->name, why,
		        sizeof(why)) < 0 ||
		    strlen(col->name) != (size_t)json_object_get_string_len(name))
			goto fail;
		for (t = 0; t < 4; t++)
			if (strcmp(json_object_get_string(type), schema_type_names[t]) == 0)
				break;
		if (t == 4)
			goto fail;
		col->type = (enum col_type)t;
	}
	if (schema_dups_check(out, why, sizeof(why)) < 0 || schema_index(out) < 0)
		goto fail;
	return 0;
fail:
	schema_free(out);
	return -1;
}

void
schema_free(struct schema *s)
{
	free(s->cols);
	free(s->byname);
	memset(s, 0, sizeof(*s));
}
