/* csv.c: a strict RFC 4180 reader for table imports; the text is copied once
 * into an arena and every field is unquoted in place there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "schema.h"

/* What ends a field. */
enum csv_sep { SEP_COMMA, SEP_EOL, SEP_END, SEP_ERROR };

struct csv_parser {
	char *p, *end; /* the unread text, in the arena */
	long line; /* the physical line of p */
	const char **fields; /* header, then rows, flat */
	size_t nfields, cap;
	long *lines;
	size_t nlines, lines_cap;
	char *why;
	size_t whylen;
};

/* Consumes the line end at ps->p (CRLF, LF or CR) and counts the line. */
static void
csv_eol_skip(struct csv_parser *ps)
{
	if (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n')
		ps->p++;
	ps->p++;
	ps->line++;
}

/* Checks the byte at r inside a field: a NUL or invalid UTF-8 is refused.
 * Returns the length of its character, or 0 with the sentence set. */
static size_t
csv_char_check(struct csv_parser *ps, const char *r)
{
	size_t n;

	if (*r == '\0') {
		snprintf(ps->why, ps->whylen, "Line %ld contains a NUL byte.", ps->line);
		return 0;
	}
	n = tg_utf8_len((const unsigned char *)r, (const unsigned char *)ps->end);
	if (n == 0)
		snprintf(ps->why, ps->whylen,
		    "Line %ld is not valid UTF-8; save the file as UTF-8 text.", ps->line);
	return n;
}

/* Reads the field at ps->p (field number col, from 1), unquotes it in place
 * and ends it with a NUL: *out is its text, NULL when it is empty. Leaves
 * ps->p after the comma or line end that follows. SEP_ERROR sets the
 * sentence. */
static enum csv_sep
csv_field(struct csv_parser *ps, size_t col, const char **out)
{
	char *start = ps->p, *w, *r = ps->p;
	enum csv_sep sep;
	size_t n;

	if (r < ps->end && *r == '"') {
		long opened = ps->line;

		w = start;
		r++;
		for (;;) {
			if (r >= ps->end) {
				snprintf(ps->why, ps->whylen,
				    "Line %ld opens a quoted field that never ends.", opened);
				ps->line = opened;
				return SEP_ERROR;
			}
			if (*r == '"') {
				if (r + 1 < ps->end && r[1] == '"') {
					*w++ = '"';
					r += 2;
					continue;
				}
				r++;
				break;
			}
			if (*r == '\n' || (*r == '\r' && (r + 1 >= ps->end || r[1] != '\n')))
				ps->line++;
			if ((n = csv_char_check(ps, r)) == 0)
				return SEP_ERROR;
			memmove(w, r, n);
			w += n;
			r += n;
		}
		if (r < ps->end && *r != ',' && *r != '\r' && *r != '\n') {
			snprintf(ps->why, ps->whylen,
			    "Line %ld, field %zu: only a comma or the end of the line may follow "
			    "a closing quote.",
			    ps->line, col);
			return SEP_ERROR;
		}
	} else {
		while (r < ps->end && *r != ',' && *r != '\r' && *r != '\n') {
			if (*r == '"') {
				snprintf(ps->why, ps->whylen,
				    "Line %ld, field %zu has a quote inside an unquoted field; "
				    "quote the whole field and double the quote.",
				    ps->line, col);
				return SEP_ERROR;
			}
			if ((n = csv_char_check(ps, r)) == 0)
				return SEP_ERROR;
			r += n;
		}
		w = r;
	}
	if ((size_t)(w - start) > CSV_MAX_FIELD) {
		snprintf(ps->why, ps->whylen, "Line %ld, field %zu is longer than %d bytes.",
		    ps->line, col, CSV_MAX_FIELD);
		return SEP_ERROR;
	}
	/* The separator is read before the NUL may overwrite it (w <= r). */
	ps->p = r;
	if (r >= ps->end)
		sep = SEP_END;
	else if (*r == ',') {
		sep = SEP_COMMA;
		ps->p++;
	} else {
		sep = SEP_EOL;
		csv_eol_skip(ps);
	}
	*w = '\0';
	*out = w == start ? NULL : start;
	return sep;
}

/* Appends a field; -1 when memory runs out. */
static int
csv_field_push(struct csv_parser *ps, const char *f)
{
	if (ps->nfields == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 256;
		const char **grown = realloc(ps->fields, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		ps->fields = grown;
		ps->cap = cap;
	}
	ps->fields[ps->nfields++] = f;
	return 0;
}

/* Appends the line a data row starts on; -1 when memory runs out. */
static int
csv_line_push(struct csv_parser *ps, long line)
{
	if (ps->nlines == ps->lines_cap) {
		size_t cap = ps->lines_cap ? ps->lines_cap * 2 : 64;
		long *grown = realloc(ps->lines, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		ps->lines = grown;
		ps->lines_cap = cap;
	}
	ps->lines[ps->nlines++] = line;
	return 0;
}

int
csv_parse(const char *buf, size_t len, size_t max_rows, struct csv *out, long *line, char *why,
    size_t whylen)
{
	struct csv_parser ps;
	char *text;
	size_t ncols = 0, nrows = 0;
	int rc = -2;

	memset(out, 0, sizeof(*out));
	memset(&ps, 0, sizeof(ps));
	*line = 0;
	ps.why = why;
	ps.whylen = whylen;
	snprintf(why, whylen, "The server ran out of memory reading the CSV.");
	/* One byte more than the text: the last field's NUL. */
	if ((text = malloc(len + 1)) == NULL)
		goto out;
	if (len > 0)
		memcpy(text, buf, len);
	ps.p = text;
	ps.end = text + len;
	ps.line = 1;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps.p += 3;

	for (;;) {
		enum csv_sep sep;
		const char *f;
		long start;
		size_t n = 0;

		while (ps.p < ps.end && (*ps.p == '\r' || *ps.p == '\n'))
			csv_eol_skip(&ps);
		if (ps.p >= ps.end)
			break;
		start = ps.line;
		do {
			if ((sep = csv_field(&ps, n + 1, &f)) == SEP_ERROR) {
				rc = -1;
				goto out;
			}
			if (ncols == 0 && n >= CSV_MAX_COLS) {
				snprintf(why, whylen, "The header has more than %d columns.",
				    CSV_MAX_COLS);
				ps.line = start;
				rc = -1;
				goto out;
			}
			/* A row's extra fields are counted, not kept. */
			if ((ncols == 0 || n < ncols) &&
			    csv_field_push(&ps, f == NULL && ncols == 0 ? "" : f) < 0)
				goto out;
			n++;
		} while (sep == SEP_COMMA);

		if (ncols == 0) {
			ncols = n;
			out->header_line = start;
			continue;
		}
		if (n != ncols) {
			snprintf(why, whylen, "Line %ld has %zu field%s; the header has %zu.",
			    start, n, n == 1 ? "" : "s", ncols);
			ps.line = start;
			rc = -1;
			goto out;
		}
		if (nrows == max_rows) {
			snprintf(why, whylen,
			    "The CSV has more than %zu data rows; split it into smaller imports.",
			    max_rows);
			ps.line = start;
			rc = -1;
			goto out;
		}
		if (csv_line_push(&ps, start) < 0)
			goto out;
		nrows++;
	}
	if (ncols == 0) {
		snprintf(why, whylen, "The CSV is empty; a header row is expected.");
		ps.line = 1;
		rc = -1;
		goto out;
	}

	out->ncols = ncols;
	out->nrows = nrows;
	out->fields = ps.fields;
	out->header = ps.fields;
	out->cells = ps.fields + ncols;
	out->lines = ps.lines;
	out->text = text;
	if (whylen > 0)
		why[0] = '\0';
	return 0;
out:
	if (rc == -1)
		*line = ps.line;
	free(ps.fields);
	free(ps.lines);
	free(text);
	return rc;
}

void
csv_free(struct csv *c)
{
	free(c->fields);
	free(c->lines);
	free(c->text);
	memset(c, 0, sizeof(*c));
}
