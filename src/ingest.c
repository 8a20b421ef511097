/* ingest.c: a table's records: batch ingest (1..500 records, a JSON body's
 * or NDJSON lines, checked against the schema, stored all or nothing, or
 * with ?partial=true the good ones, with the records meter in one
 * transaction, Idempotency-Key honoured) and reading them back in ingest
 * order (as CSV: export.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "tollgate.h"

#define INGEST_MAX_RECORDS 500
#define INGEST_MAX_PROBLEMS 100

/* A batch as the body gave it: the records (a JSON body's "records", or
 * NDJSON's lines) and, for NDJSON, the line of each. */
struct batch {
	json_object *records; /* borrowed from r->json, or owned (NDJSON) */
	json_object *owned;
	long *lines; /* NULL for JSON; owned */
	int partial; /* ?partial=true: the good records are stored, the bad listed */
};

static void
batch_free(struct batch *b)
{
	json_object_put(b->owned);
	free(b->lines);
	memset(b, 0, sizeof(*b));
}

/* The line of record i (0 for a JSON body). */
static long
batch_line(const struct batch *b, size_t i)
{
	return b->lines != NULL ? b->lines[i] : 0;
}

/* ?partial: 1/true or 0/false (absent: false); answers 400 INVALID_BODY
 * otherwise. */
static int
ingest_partial_or_reply(struct req *r, int *partial)
{
	char v[16];
	json_object *d;

	*partial = 0;
	if (!req_query_get(r, "partial", v, sizeof(v)))
		return 0;
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
		*partial = 1;
		return 0;
	}
	if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
		return 0;
	d = json_object_new_object();
	json_object_object_add(d, "field", json_object_new_string("partial"));
	reply_error(r, ERR_INVALID_BODY, "partial must be true, false, 1 or 0.", d);
	return -1;
}

/* The batch of the body: the "records" array of a JSON body, or NDJSON's
 * lines, 1..INGEST_MAX_RECORDS of them; answers 400 INVALID_BODY or
 * BATCH_TOO_LARGE otherwise. */
static int
ingest_records_or_reply(struct req *r, struct batch *b)
{
	json_object *a, *d;
	size_t n;

	if (r->json == NULL) { /* NDJSON: the router left it to be split */
		if (body_ndjson_or_reply(r, INGEST_MAX_RECORDS, &b->owned, &b->lines) < 0)
			return -1;
		b->records = b->owned;
		return 0;
	}
	d = json_object_new_object();
	if (!json_object_object_get_ex(r->json, "records", &a) ||
	    !json_object_is_type(a, json_type_array) || (n = json_object_array_length(a)) == 0) {
		json_object_object_add(d, "field", json_object_new_string("records"));
		reply_error(r, ERR_INVALID_BODY,
		    "Field \"records\" must be a list of 1 to 500 records.", d);
		return -1;
	}
	if (n > INGEST_MAX_RECORDS) {
		json_object_object_add(d, "limit", json_object_new_int(INGEST_MAX_RECORDS));
		json_object_object_add(d, "received", json_object_new_int64((int64_t)n));
		reply_error(r, ERR_BATCH_TOO_LARGE,
		    "A batch holds at most 500 records; split it into smaller batches.", d);
		return -1;
	}
	json_object_put(d);
	b->records = a;
	return 0;
}

/* The table's schema, read back from its stored text; answers 400 NO_SCHEMA
 * before the first import. */
static int
ingest_schema_or_reply(struct req *r, const struct data_table *t, struct schema *s)
{
	json_object *o;
	int rc;

	if (t->schema == NULL) {
		reply_error(r, ERR_NO_SCHEMA,
		    "This table has no columns yet: import a CSV file first to define them.", NULL);
		return -1;
	}
	o = json_tokener_parse(t->schema);
	rc = o != NULL ? schema_from_json(o, s) : -1;
	json_object_put(o);
	if (rc < 0) {
		log_msg(r->request_id, "ingest: stored schema of %s unreadable", t->id);
		reply_error(r, ERR_INTERNAL, NULL, NULL);
	}
	return rc;
}

#define INGEST_REJECT_PROBLEMS 10 /* problems listed for one rejected record */

/* Checks every record, marking the bad ones in bad[]. Answers 400
 * SCHEMA_MISMATCH with the first INGEST_MAX_PROBLEMS problems when any
 * record is bad, or with partial when every one is; else returns the
 * number of good records, and with partial lists the bad ones in
 * *rejected (owned by the caller): {"index", "line" (NDJSON), "problems":
 * the first INGEST_REJECT_PROBLEMS, "problemCount"}. */
static long
ingest_check_or_reply(
    struct req *r, const struct schema *s, const struct batch *b, char *bad, json_object **rejected)
{
	json_object *problems = json_object_new_array(), *d, *e, *mine;
	size_t n = json_object_array_length(b->records), good = 0;
	int64_t nbad = 0;
	int k;

	*rejected = b->partial ? json_object_new_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *rec = json_object_array_get_idx(b->records, i);

		k = schema_check_record_line(
		    s, rec, i, batch_line(b, i), problems, INGEST_MAX_PROBLEMS);
		nbad += k;
		bad[i] = k > 0;
		good += k == 0;
		if (k == 0 || !b->partial)
			continue;
		mine = json_object_new_array();
		schema_check_record_line(s, rec, i, batch_line(b, i), mine, INGEST_REJECT_PROBLEMS);
		e = json_object_new_object();
		json_object_object_add(e, "index", json_object_new_int64((int64_t)i));
		if (b->lines != NULL)
			json_object_object_add(e, "line", json_object_new_int64(b->lines[i]));
		json_object_object_add(e, "problems", mine);
		json_object_object_add(e, "problemCount", json_object_new_int(k));
		json_object_array_add(*rejected, e);
	}
	if (nbad == 0 || (b->partial && good > 0)) {
		json_object_put(problems);
		return (long)good;
	}
	json_object_put(*rejected);
	*rejected = NULL;
	d = json_object_new_object();
	json_object_object_add(d, "problems", problems);
	json_object_object_add(d, "problemCount", json_object_new_int64(nbad));
	reply_error(r, ERR_SCHEMA_MISMATCH,
	    b->partial ? "No record matches the table's columns; nothing was stored. See "
	                 "details.problems."
	               : "Some records do not match the table's columns; nothing was stored. See "
	                 "details.problems.",
	    d);
	return -1;
}

/* The ingest itself, once the key (if any) is claimed: every answer but 200
 * stores nothing; with ?partial=true, 200 stores the good records only. */
static void
ingest_run(struct req *r, const struct idem *idem)
{
	struct data_table t;
	struct schema s;
	struct batch b;
	struct meter_state after;
	json_object *rows[INGEST_MAX_RECORDS], *o, *rejected = NULL;
	const char *texts[INGEST_MAX_RECORDS], *answer;
	char bad[INGEST_MAX_RECORDS];
	size_t n = 0, nrows = 0;
	int64_t now = tg_now();
	long good;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&b, 0, sizeof(b));
	if (ingest_partial_or_reply(r, &b.partial) < 0 ||
	    table_find_or_reply(r, r->params[0], &t) < 0)
		return;
	if (ingest_records_or_reply(r, &b) < 0 || ingest_schema_or_reply(r, &t, &s) < 0 ||
	    (good = ingest_check_or_reply(r, &s, &b, bad, &rejected)) < 0)
		goto out;
	/* Typed and written out before the transaction: the write lock is held
	 * only for the inserts. */
	n = json_object_array_length(b.records);
	for (size_t i = 0; i < n; i++) {
		if (bad[i])
			continue;
		rows[nrows] = schema_record_json(&s, json_object_array_get_idx(b.records, i));
		if (rows[nrows] == NULL ||
		    (texts[nrows] = json_object_to_json_string_ext(
		         rows[nrows], JSON_C_TO_STRING_PLAIN)) == NULL) {
			json_object_put(rows[nrows]);
			reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
			goto out;
		}
		nrows++;
	}

	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db_error(r, rc, "ingest: begin");
		goto out;
	}
	if (meter_take_or_reply(r, METER_RECORDS, (int64_t)nrows, &after) < 0)
		goto fail;
	for (size_t i = 0; i < nrows && rc == DB_OK; i++)
		rc = db_run(r->db, STMT_RECORD_INSERT, "tti", t.id, texts[i], now);
	if (rc == DB_CONSTRAINT) {
		/* The table was deleted since it was looked up. */
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		goto fail;
	}
	o = json_object_new_object();
	json_object_object_add(o, "accepted", json_object_new_int64((int64_t)nrows));
	if (b.partial) {
		json_object_object_add(o, "rejected", rejected);
		rejected = NULL;
	}
	json_object_object_add(o, "usage", meter_json(&after));
	answer = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (rc == DB_OK)
		rc = idem_store(r, idem, 200, answer);
	if (rc == DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK) {
		json_object_put(o);
		if (rc == IDEM_LOST)
			reply_error(r, ERR_CONFLICT,
			    "This request took over a minute and a retry with the same "
			    "Idempotency-Key took its place; that retry's answer stands.",
			    NULL);
		else
			reply_db_error(r, rc, "ingest: insert");
		goto fail;
	}
	metrics_ingested((long)nrows);
	reply_json(r, 200, o);
	goto out;
fail:
	db_rollback(r->db);
out:
	for (size_t i = 0; i < nrows; i++)
		json_object_put(rows[i]);
	json_object_put(rejected);
	batch_free(&b);
	schema_free(&s);
	table_free(&t);
}

void
handle_records_ingest(struct req *r)
{
	struct idem idem;

	if (idem_claim_or_reply(r, &idem) < 0)
		return;
	ingest_run(r, &idem);
	if (r->status != 200)
		idem_release(r, &idem);
}

/* A stored record at the cursor of s (columns: seq, data), as written. */
static void
record_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_stored(w, key, db_text(db, s, 1));
}

void
handle_records_list(struct req *r)
{
	struct data_table t;
	struct page p;

	if (page_or_reply(r, &p) < 0 || table_find_or_reply(r, r->params[0], &t) < 0)
		return;
	if (records_csv_wanted(r)) {
		records_csv_reply(r, &t, &p);
		table_free(&t);
		return;
	}
	reply_rows(r, STMT_RECORD_LIST,
	    db_query(r->db, STMT_RECORD_LIST, "tii", t.id, p.after, (int64_t)p.limit + 1), &p,
	    record_write, "ingest: list");
	table_free(&t);
}
