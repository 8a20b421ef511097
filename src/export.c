/* export.c: a table's records as CSV (GET /v1/tables/{id}/records with
 * Accept: text/csv): the schema's columns as the header, one row a record,
 * RFC 4180 quoting, written as the rows are read; a page at a time like
 * the JSON listing, the next cursor in the Link and X-Next-Cursor headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schema.h"
#include "api.h"

#define EXPORT_FLUSH (16 * 1024) /* bytes of rows gathered before they are written */

/* The q of the media range in the Accept list item s[0..n) if it is type
 * exactly (-1 otherwise): 1000 for q=1. */
static int
accept_q(const char *s, size_t n, const char *type)
{
	size_t tl = strlen(type), i = 0;
	const char *q;
	int v = 1000;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i < tl || strncasecmp(s + i, type, tl) != 0)
		return -1;
	i += tl;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';')
		return -1;
	for (q = s + i; (q = memchr(q, ';', (size_t)(s + n - q))) != NULL; q++) {
		const char *p = q + 1;

		while (p < s + n && (*p == ' ' || *p == '\t'))
			p++;
		if (s + n - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			double d = strtod(p + 2, NULL);

			/* !(d > 0): NaN too, which no cast may take */
			v = !(d > 0) ? 0 : d >= 1 ? 1000 : (int)(d * 1000 + 0.5);
		}
	}
	return v;
}

/* CSV when the Accept header names text/csv (q above 0) and does not rank
 * application/json above it; JSON for anything else, wildcards included. */
int
records_csv_wanted(const struct req *r)
{
	const char *s = r->accept, *comma;
	int csv = -1, json = -1, q;

	if (s == NULL)
		return 0;
	for (; *s != '\0'; s = comma + 1) {
		size_t n;

		comma = strchr(s, ',');
		n = comma != NULL ? (size_t)(comma - s) : strlen(s);
		if ((q = accept_q(s, n, "text/csv")) > csv)
			csv = q;
		if ((q = accept_q(s, n, "application/json")) > json)
			json = q;
		if (comma == NULL)
			break;
	}
	return csv > 0 && csv >= json;
}

/* Rows gathered for the answer, written out every EXPORT_FLUSH bytes. */
struct out {
	struct req *r;
	char buf[EXPORT_FLUSH + 512];
	size_t len;
	int failed; /* the client is gone: the rest is not written */
};

static void
out_flush(struct out *o)
{
	if (o->len > 0 && !o->failed && reply_stream_write(o->r, o->buf, o->len) < 0)
		o->failed = 1;
	o->len = 0;
}

static void
out_put(struct out *o, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;

		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len >= EXPORT_FLUSH)
			out_flush(o);
	}
}

/* One field, quoted (RFC 4180) when it holds a comma, quote, CR or LF, or
 * starts or ends with a blank a reader might trim. */
static void
out_field(struct out *o, const char *s, size_t n)
{
	int quote = n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
	const char *q;

	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		out_put(o, s, n);
		return;
	}
	out_put(o, "\"", 1);
	while ((q = memchr(s, '"', n)) != NULL) {
		out_put(o, s, (size_t)(q - s) + 1);
		out_put(o, "\"", 1); /* the quote doubled */
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	out_put(o, s, n);
	out_put(o, "\"", 1);
}

/* The record (its stored JSON text) as a row of s's columns: nulls and
 * missing fields empty, booleans true/false, numbers as stored, text as it
 * is. A damaged record is a row of empty fields. */
static void
out_record(struct out *o, const struct schema *s, const char *text)
{
	json_object *rec = json_tokener_parse(text), *v;

	for (size_t j = 0; j < s->ncols; j++) {
		if (j > 0)
			out_put(o, ",", 1);
		if (rec == NULL || !json_object_object_get_ex(rec, s->cols[j].name, &v) ||
		    v == NULL)
			continue;
		if (json_object_is_type(v, json_type_string))
			out_field(
			    o, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		else if (json_object_is_type(v, json_type_boolean))
			out_put(o, json_object_get_boolean(v) ? "true" : "false",
			    json_object_get_boolean(v) ? 4 : 5);
		else if (json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double)) {
			const char *num = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);

			out_put(o, num, strlen(num));
		}
	}
	out_put(o, "\r\n", 2);
	json_object_put(rec);
}

/* Sets the Link and X-Next-Cursor headers when a page follows p's: the
 * cursor is the last seq of this page. DB_OK, or the store's error. */
static int
export_next_or_reply(struct req *r, const struct data_table *t, const struct page *p)
{
	char cursor[32], link[400];
	int64_t last = 0;
	int rc, n = 0;

	rc = db_query(r->db, STMT_RECORD_PAGE_END, "tii", t->id, p->after, (int64_t)p->limit - 1);
	for (; rc == DB_ROW; rc = db_next(r->db, STMT_RECORD_PAGE_END))
		if (++n == 1)
			last = db_int(r->db, STMT_RECORD_PAGE_END, 0);
	db_end(r->db, STMT_RECORD_PAGE_END);
	if (rc != DB_DONE) {
		reply_db_error(r, rc, "export: page");
		return -1;
	}
	if (n < 2)
		return 0;
	page_cursor_format(last, cursor, sizeof(cursor));
	snprintf(
	    link, sizeof(link), "<%s?limit=%d&cursor=%s>; rel=\"next\"", r->path, p->limit, cursor);
	req_header_add(r, "Link", link);
	req_header_add(r, "X-Next-Cursor", cursor);
	return 0;
}

void
records_csv_reply(struct req *r, const struct data_table *t, const struct page *p)
{
	struct schema s;
	struct out *o = NULL;
	json_object *js;
	int rc, n = 0;

	memset(&s, 0, sizeof(s));
	if (t->schema == NULL) {
		reply_error(r, ERR_NO_SCHEMA_EXPORT, NULL, NULL);
		return;
	}
	js = json_tokener_parse(t->schema);
	rc = js != NULL ? schema_from_json(js, &s) : -1;
	json_object_put(js);
	if (rc < 0) {
		log_msg(r->request_id, "export: stored schema of %s unreadable", t->id);
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
		goto out;
	}
	o->r = r;
	if (export_next_or_reply(r, t, p) < 0)
		goto out;
	rc = db_query(r->db, STMT_RECORD_LIST, "tii", t->id, p->after, (int64_t)p->limit);
	if (rc != DB_ROW && rc != DB_DONE) {
		db_end(r->db, STMT_RECORD_LIST);
		reply_db_error(r, rc, "export: list");
		goto out;
	}
	reply_stream_begin(r, 200, "text/csv; charset=utf-8");
	for (size_t j = 0; j < s.ncols; j++) {
		if (j > 0)
			out_put(o, ",", 1);
		out_field(o, s.cols[j].name, strlen(s.cols[j].name));
	}
	out_put(o, "\r\n", 2);
	for (; rc == DB_ROW && !o->failed; rc = db_next(r->db, STMT_RECORD_LIST), n++)
		out_record(o, &s, db_text(r->db, STMT_RECORD_LIST, 1));
	db_end(r->db, STMT_RECORD_LIST);
	out_flush(o);
	/* The head is out: a failure now can only cut the answer short. */
	if (rc != DB_DONE && !o->failed)
		log_msg(r->request_id, "export: %s: read failed after %d rows (%d)", t->id, n, rc);
out:
	free(o);
	schema_free(&s);
}
