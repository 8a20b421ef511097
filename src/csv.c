/* csv.c: a strict RFC 4180 reader for table imports. The text arrives in
 * chunks through a callback and leaves a row at a time, each row unquoted in
 * place in the reader's buffer, so memory follows the longest row, not the
 * file; csv_parse keeps every row of a text already in memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "schema.h"

#define CSV_CHUNK (64 * 1024) /* the first buffer; it grows only for a longer row */
#define CSV_BLOCK (64 * 1024) /* a kept text block, unless one field needs more */

/* What ends a field. */
enum csv_sep { SEP_COMMA, SEP_EOL, SEP_END, SEP_ERROR };

struct csv_reader {
	csv_fill_fn *fill;
	void *ctx;
	char *buf; /* cap + 1 bytes: the last field's NUL may follow the text */
	size_t cap, len; /* buf[0..len) holds text */
	size_t pos; /* where the unread text starts */
	int eof, started; /* started: the BOM was looked for */
	long line; /* the physical line of pos */
	size_t max_rows, nrows, ncols; /* ncols: 0 until the header is read */
	const char *fields[CSV_MAX_COLS];
	char *why;
	size_t whylen;
};

/* One row being unquoted: the text [p, end) holds all of it. */
struct csv_parser {
	char *p, *end;
	long line; /* the physical line of p */
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

static enum csv_sep
csv_field_too_long(struct csv_parser *ps, size_t col)
{
	snprintf(ps->why, ps->whylen, "Line %ld, field %zu is longer than %d bytes.", ps->line, col,
	    CSV_MAX_FIELD);
	return SEP_ERROR;
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
			if ((size_t)(w - start) > CSV_MAX_FIELD)
				return csv_field_too_long(ps, col);
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
			if ((size_t)(r - start) > CSV_MAX_FIELD)
				return csv_field_too_long(ps, col);
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
	if ((size_t)(w - start) > CSV_MAX_FIELD)
		return csv_field_too_long(ps, col);
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

/* Reads more text after buf[len), moving the unread text to the front first
 * and growing the buffer when it is full. Returns 1 when text came, 0 at
 * its end (eof set), -2 when memory runs out and -3 when fill failed. */
static int
csv_more(struct csv_reader *rd)
{
	long n;

	if (rd->eof)
		return 0;
	if (rd->pos > 0) {
		memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
		rd->len -= rd->pos;
		rd->pos = 0;
	}
	if (rd->len == rd->cap) {
		size_t cap = rd->cap * 2;
		char *grown = realloc(rd->buf, cap + 1);

		if (grown == NULL) {
			snprintf(
			    rd->why, rd->whylen, "The server ran out of memory reading the CSV.");
			return -2;
		}
		rd->buf = grown;
		rd->cap = cap;
	}
	if ((n = rd->fill(rd->ctx, rd->buf + rd->len, rd->cap - rd->len)) < 0)
		return -3;
	if (n == 0) {
		rd->eof = 1;
		return 0;
	}
	rd->len += (size_t)n;
	return 1;
}

/* Finds where the row at rd->pos ends, reading text until it is whole: after
 * its line end (and the byte after a CR, to tell CRLF from CR), at the end
 * of the text, or early, just after a byte csv_field refuses (a stray quote,
 * a field past CSV_MAX_FIELD, a header past CSV_MAX_COLS columns), so a
 * refused row is not read to its end. *rowlen is counted from rd->pos.
 * Returns 0, or csv_more's -2 or -3. */
static int
csv_row_scan(struct csv_reader *rd, size_t *rowlen)
{
	enum { F_START, F_PLAIN, F_QUOTED, F_QUOTE } st = F_START;
	size_t i = 0, flen = 0, nf = 1;
	int rc;

	for (;;) {
		const char *t = rd->buf + rd->pos;
		size_t avail = rd->len - rd->pos;

		while (i < avail) {
			char ch = t[i];

			if (ch == '\n' && st != F_QUOTED) {
				*rowlen = i + 1;
				return 0;
			}
			if (ch == '\r' && st != F_QUOTED) {
				if (i + 1 == avail && !rd->eof)
					break; /* a CRLF split between two reads */
				*rowlen = i + 1 + (i + 1 < avail && t[i + 1] == '\n');
				return 0;
			}
			i++;
			switch (st) {
			case F_START:
			case F_PLAIN:
				if (ch == ',')
					goto next_field;
				if (ch == '"' && st == F_PLAIN)
					goto early; /* a quote inside an unquoted field */
				if (ch == '"')
					st = F_QUOTED;
				else {
					st = F_PLAIN;
					flen++;
				}
				break;
			case F_QUOTED:
				if (ch == '"')
					st = F_QUOTE;
				else
					flen++;
				break;
			case F_QUOTE:
				if (ch == ',')
					goto next_field;
				if (ch != '"')
					goto early; /* text after a closing quote */
				st = F_QUOTED;
				flen++;
				break;
			}
			/* The + 4 lets a character cut at the cap end first. */
			if (flen > CSV_MAX_FIELD + 4)
				goto early;
			continue;
		next_field:
			st = F_START;
			flen = 0;
			if (rd->ncols == 0 && ++nf > CSV_MAX_COLS + 1)
				goto early;
		}
		if (rd->eof) {
			*rowlen = avail;
			return 0;
		}
		if ((rc = csv_more(rd)) < 0)
			return rc;
	}
early:
	*rowlen = i;
	return 0;
}

struct csv_reader *
csv_reader_new(csv_fill_fn *fill, void *ctx, size_t max_rows, char *why, size_t whylen)
{
	struct csv_reader *rd = calloc(1, sizeof(*rd));

	if (rd == NULL || (rd->buf = malloc(CSV_CHUNK + 1)) == NULL) {
		free(rd);
		return NULL;
	}
	rd->cap = CSV_CHUNK;
	rd->fill = fill;
	rd->ctx = ctx;
	rd->line = 1;
	rd->max_rows = max_rows;
	rd->why = why;
	rd->whylen = whylen;
	if (whylen > 0)
		why[0] = '\0';
	return rd;
}

void
csv_reader_free(struct csv_reader *rd)
{
	if (rd != NULL)
		free(rd->buf);
	free(rd);
}

/* Skips the BOM (once) and blank lines before the next row. Returns 1 when
 * a row follows, 0 at the end of the text, or csv_more's -2 or -3. */
static int
csv_blank_skip(struct csv_reader *rd)
{
	int rc;

	while (!rd->started && rd->len < 3 && !rd->eof)
		if ((rc = csv_more(rd)) < 0)
			return rc;
	if (!rd->started) {
		rd->started = 1;
		if (rd->len >= 3 && memcmp(rd->buf, "\xef\xbb\xbf", 3) == 0)
			rd->pos = 3;
	}
	for (;;) {
		char ch;

		/* A CR at the end may be the first half of a CRLF. */
		if (rd->pos == rd->len || (rd->buf[rd->pos] == '\r' && rd->pos + 1 == rd->len)) {
			if ((rc = csv_more(rd)) < 0)
				return rc;
			if (rc == 0 && rd->pos == rd->len)
				return 0;
			if (rc == 1)
				continue;
		}
		ch = rd->buf[rd->pos];
		if (ch != '\r' && ch != '\n')
			return 1;
		if (ch == '\r' && rd->pos + 1 < rd->len && rd->buf[rd->pos + 1] == '\n')
			rd->pos++;
		rd->pos++;
		rd->line++;
	}
}

int
csv_reader_next(struct csv_reader *rd, const char *const **fields, size_t *nfields, long *line)
{
	struct csv_parser ps;
	size_t rowlen, n = 0, keep;
	enum csv_sep sep;
	const char *f;
	long start;
	int rc;

	*fields = rd->fields;
	*nfields = 0;
	if ((rc = csv_blank_skip(rd)) <= 0) {
		*line = rd->line;
		if (rc == 0 && rd->ncols == 0) {
			snprintf(
			    rd->why, rd->whylen, "The CSV is empty; a header row is expected.");
			*line = 1;
			return -1;
		}
		return rc;
	}
	start = *line = rd->line;
	if ((rc = csv_row_scan(rd, &rowlen)) < 0)
		return rc;
	ps.p = rd->buf + rd->pos;
	ps.end = ps.p + rowlen;
	ps.line = start;
	ps.why = rd->why;
	ps.whylen = rd->whylen;
	/* A data row's fields past the header's are counted, not kept. */
	keep = rd->ncols == 0 ? CSV_MAX_COLS : rd->ncols;
	do {
		if ((sep = csv_field(&ps, n + 1, &f)) == SEP_ERROR) {
			*line = ps.line;
			return -1;
		}
		if (rd->ncols == 0 && n >= CSV_MAX_COLS) {
			snprintf(rd->why, rd->whylen, "The header has more than %d columns.",
			    CSV_MAX_COLS);
			return -1;
		}
		if (n < keep)
			rd->fields[n] = f == NULL && rd->ncols == 0 ? "" : f;
		n++;
	} while (sep == SEP_COMMA);
	rd->pos = (size_t)(ps.p - rd->buf);
	rd->line = ps.line;

	if (rd->ncols == 0) {
		rd->ncols = n;
		*nfields = n;
		return 1;
	}
	if (n != rd->ncols) {
		snprintf(rd->why, rd->whylen, "Line %ld has %zu field%s; the header has %zu.",
		    start, n, n == 1 ? "" : "s", rd->ncols);
		return -1;
	}
	if (rd->nrows == rd->max_rows) {
		snprintf(rd->why, rd->whylen,
		    "The CSV has more than %zu data rows; split it into smaller imports.",
		    rd->max_rows);
		return -1;
	}
	rd->nrows++;
	*nfields = n;
	return 1;
}

/* ---- a whole CSV in memory ---- */

/* A block of kept text; blocks never move, so cells may point into them. */
struct csv_block {
	struct csv_block *next;
	size_t used, cap;
	char text[];
};

/* A copy of s (len bytes and a NUL) in c's blocks, or NULL. */
static const char *
csv_text_keep(struct csv *c, const char *s, size_t len)
{
	struct csv_block *b = c->blocks;
	char *out;

	if (b == NULL || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > CSV_BLOCK ? len + 1 : CSV_BLOCK;

		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->next = c->blocks;
		b->used = 0;
		b->cap = cap;
		c->blocks = b;
	}
	out = b->text + b->used;
	memcpy(out, s, len);
	out[len] = '\0';
	b->used += len + 1;
	return out;
}

int
csv_row_add(struct csv *c, const char *const *fields, size_t n, long line)
{
	size_t need = c->nfields + n;

	if (c->ncols != 0 && n != c->ncols)
		return -1;
	if (need > c->fields_cap) {
		size_t cap = c->fields_cap ? c->fields_cap : 256;
		const char **grown;

		while (cap < need)
			cap *= 2;
		if ((grown = realloc(c->fields, cap * sizeof(*grown))) == NULL)
			return -1;
		c->fields = grown;
		c->fields_cap = cap;
	}
	if (c->ncols != 0 && c->nrows == c->lines_cap) {
		size_t cap = c->lines_cap ? c->lines_cap * 2 : 64;
		long *grown = realloc(c->lines, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		c->lines = grown;
		c->lines_cap = cap;
	}
	for (size_t j = 0; j < n; j++) {
		const char *f = fields[j];

		if (f != NULL && (f = csv_text_keep(c, f, strlen(f))) == NULL)
			return -1;
		c->fields[c->nfields + j] = f;
	}
	c->nfields = need;
	if (c->ncols == 0) {
		c->ncols = n;
		c->header_line = line;
	} else
		c->lines[c->nrows++] = line;
	c->header = c->fields;
	c->cells = c->fields + c->ncols;
	return 0;
}

/* Hands out a text in memory to a reader. */
struct csv_mem {
	const char *p;
	size_t left;
};

static long
csv_mem_fill(void *ctx, char *buf, size_t n)
{
	struct csv_mem *m = ctx;

	if (n > m->left)
		n = m->left;
	if (n == 0)
		return 0;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (long)n;
}

int
csv_parse(const char *buf, size_t len, size_t max_rows, struct csv *out, long *line, char *why,
    size_t whylen)
{
	struct csv_mem m = { buf, len };
	struct csv_reader *rd;
	const char *const *fields;
	size_t n;
	long at;
	int rc = -2;

	memset(out, 0, sizeof(*out));
	*line = 0;
	if ((rd = csv_reader_new(csv_mem_fill, &m, max_rows, why, whylen)) == NULL) {
		snprintf(why, whylen, "The server ran out of memory reading the CSV.");
		return -2;
	}
	while ((rc = csv_reader_next(rd, &fields, &n, &at)) == 1)
		if (csv_row_add(out, fields, n, at) < 0) {
			snprintf(why, whylen, "The server ran out of memory reading the CSV.");
			rc = -2;
			break;
		}
	csv_reader_free(rd);
	if (rc == 0)
		return 0;
	if (rc == -1)
		*line = at;
	csv_free(out);
	return rc == -1 ? -1 : -2;
}

void
csv_free(struct csv *c)
{
	struct csv_block *b = c->blocks, *next;

	for (; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(c->fields);
	free(c->lines);
	memset(c, 0, sizeof(*c));
}
