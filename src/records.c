/* records.c: a table's records: batch ingest (1..500 records, a JSON body's
 * or NDJSON lines, checked against the schema, stored all or nothing, or
 * with ?partial=true the good ones, with the records meter in one
 * transaction, Idempotency-Key honoured) and reading them back in ingest
 * order (as CSV: export.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "api.h"

#define INGEST_MAX_RECORDS 500
#define INGEST_MAX_PROBLEMS 100

/* The records as the body gave them (a JSON body's "records", or NDJSON's
 * lines) and, for NDJSON, the line of each. */
struct received {
	json_object *records; /* borrowed from r->json, or owned (NDJSON) */
	json_object *owned;
	long *lines; /* NULL for JSON; owned */
	int partial; /* ?partial=true: the good records are stored, the bad listed */
};

static void
received_free(struct received *in)
{
	json_object_put(in->owned);
	free(in->lines);
	memset(in, 0, sizeof(*in));
}

/* The line of record i (0 for a JSON body). */
static long
received_line(const struct received *in, size_t i)
{
	return in->lines != NULL ? in->lines[i] : 0;
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
	reply_error(r, ERR_INVALID_BODY_PARTIAL, NULL, d);
	return -1;
}

/* The records of the body: the "records" array of a JSON body, or NDJSON's
 * lines, 1..INGEST_MAX_RECORDS of them; answers 400 INVALID_BODY or
 * BATCH_TOO_LARGE otherwise. */
static int
ingest_records_or_reply(struct req *r, struct received *in)
{
	json_object *a, *d;
	size_t n;

	if (r->json == NULL) { /* NDJSON: the router left it to be split */
		if (body_ndjson_or_reply(r, INGEST_MAX_RECORDS, &in->owned, &in->lines) < 0)
			return -1;
		in->records = in->owned;
		return 0;
	}
	d = json_object_new_object();
	if (!json_object_object_get_ex(r->json, "records", &a) ||
	    !json_object_is_type(a, json_type_array) || (n = json_object_array_length(a)) == 0) {
		json_object_object_add(d, "field", json_object_new_string("records"));
		reply_error(r, ERR_INVALID_BODY_RECORDS, NULL, d);
		return -1;
	}
	if (n > INGEST_MAX_RECORDS) {
		json_object_object_add(d, "limit", json_object_new_int(INGEST_MAX_RECORDS));
		json_object_object_add(d, "received", json_object_new_int64((int64_t)n));
		reply_error(r, ERR_BATCH_TOO_LARGE, NULL, d);
		return -1;
	}
	json_object_put(d);
	in->records = a;
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
		reply_error(r, ERR_NO_SCHEMA, NULL, NULL);
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
ingest_check_or_reply(struct req *r, const struct schema *s, const struct received *in, char *bad,
    json_object **rejected)
{
	json_object *problems = json_object_new_array(), *d, *e, *mine;
	size_t n = json_object_array_length(in->records), good = 0;
	int64_t nbad = 0;
	int k;

	*rejected = in->partial ? json_object_new_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *rec = json_object_array_get_idx(in->records, i);

		k = schema_check_record_line(
		    s, rec, i, received_line(in, i), problems, INGEST_MAX_PROBLEMS);
		nbad += k;
		bad[i] = k > 0;
		good += k == 0;
		if (k == 0 || !in->partial)
			continue;
		mine = json_object_new_array();
		schema_check_record_line(
		    s, rec, i, received_line(in, i), mine, INGEST_REJECT_PROBLEMS);
		e = json_object_new_object();
		json_object_object_add(e, "index", json_object_new_int64((int64_t)i));
		if (in->lines != NULL)
			json_object_object_add(e, "line", json_object_new_int64(in->lines[i]));
		json_object_object_add(e, "problems", mine);
		json_object_object_add(e, "problemCount", json_object_new_int(k));
		json_object_array_add(*rejected, e);
	}
	if (nbad == 0 || (in->partial && good > 0)) {
		json_object_put(problems);
		return (long)good;
	}
	json_object_put(*rejected);
	*rejected = NULL;
	d = json_object_new_object();
	json_object_object_add(d, "problems", problems);
	json_object_object_add(d, "problemCount", json_object_new_int64(nbad));
	reply_error(r, in->partial ? ERR_SCHEMA_MISMATCH_NONE_GOOD : ERR_SCHEMA_MISMATCH, NULL, d);
	return -1;
}

/* A batch of checked records to store, and the answer made for it. */
struct batch {
	const char *table_id;
	const char **texts;
	size_t n;
	json_object *rejected; /* with ?partial=true, the records left out; borrowed */
	const struct idem *idem;
	char *answer; /* the 200 body; the caller frees it unless answered */
	size_t answer_len;
};

static int
records_insert(struct req *r, void *arg)
{
	struct batch *b = arg;
	struct meter_state after;
	struct jw w;
	int64_t now = tg_now();
	int rc = DB_OK;

	if (meter_take_or_reply(r, METER_RECORDS, (int64_t)b->n, &after) < 0)
		return -1;
	db_batch_begin(r->db);
	for (size_t i = 0; i < b->n && rc == DB_OK; i++)
		rc = db_run(r->db, STMT_RECORD_INSERT, "tti", b->table_id, b->texts[i], now);
	if (rc == DB_OK)
		rc = db_batch_end(r->db);
	else
		(void)db_batch_end(r->db);
	if (rc == DB_CONSTRAINT) {
		/* The table was deleted since it was looked up. */
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return rc;
	}
	if (rc != DB_OK)
		return rc;
	jw_init(&w);
	jw_object(&w, NULL);
	jw_int(&w, "accepted", (int64_t)b->n);
	if (b->rejected != NULL)
		jw_value(&w, "rejected", json_object_get(b->rejected));
	meter_write(&w, "usage", &after);
	jw_object_end(&w);
	free(b->answer);
	if ((b->answer = jw_finish(&w, &b->answer_len)) == NULL)
		return DB_ERROR;
	rc = idem_store(r, b->idem, 200, b->answer);
	if (rc == IDEM_LOST)
		reply_error(r, ERR_CONFLICT_IDEMPOTENCY_TAKEN_OVER, NULL, NULL);
	return rc;
}

/* The ingest itself, once the key (if any) is claimed: every answer but 200
 * stores nothing; with ?partial=true, 200 stores the good records only. */
static void
ingest_run(struct req *r, const struct idem *idem)
{
	struct data_table t;
	struct schema s;
	struct received in;
	struct batch b = { 0 };
	json_object *rows[INGEST_MAX_RECORDS], *rejected = NULL;
	const char *texts[INGEST_MAX_RECORDS];
	char bad[INGEST_MAX_RECORDS];
	size_t n = 0, nrows = 0;

	memset(&s, 0, sizeof(s));
	memset(&in, 0, sizeof(in));
	if (ingest_partial_or_reply(r, &in.partial) < 0 ||
	    table_find_or_reply(r, r->params[0], &t) < 0)
		return;
	if (ingest_records_or_reply(r, &in) < 0 || ingest_schema_or_reply(r, &t, &s) < 0 ||
	    ingest_check_or_reply(r, &s, &in, bad, &rejected) < 0)
		goto out;
	/* Typed and written out before the transaction: the write lock is held
	 * only for the inserts. */
	n = json_object_array_length(in.records);
	for (size_t i = 0; i < n; i++) {
		if (bad[i])
			continue;
		rows[nrows] = schema_record_json(&s, json_object_array_get_idx(in.records, i));
		if (rows[nrows] == NULL ||
		    (texts[nrows] = json_object_to_json_string_ext(
		         rows[nrows], JSON_C_TO_STRING_PLAIN)) == NULL) {
			json_object_put(rows[nrows]);
			reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
			goto out;
		}
		nrows++;
	}

	b.table_id = t.id;
	b.texts = texts;
	b.n = nrows;
	b.rejected = rejected;
	b.idem = idem;
	if (db_tx_or_reply(r, records_insert, &b, "ingest: insert") == DB_OK) {
		metrics_ingested((long)nrows);
		reply_text(r, 200, NULL, b.answer, b.answer_len); /* JSON: takes it */
	} else
		free(b.answer);
out:
	for (size_t i = 0; i < nrows; i++)
		json_object_put(rows[i]);
	json_object_put(rejected);
	received_free(&in);
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
