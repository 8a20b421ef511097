/* tables.c: data tables inside projects: create, list, read, delete,
 * publish, and the CSV import whose first file defines the table's schema.
 * Every look-up is scoped by the caller's organization; to an API key an
 * unpublished table does not exist. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "api.h"

#define IMPORT_MAX_ROWS 1000000 /* data rows in one CSV; the body cap binds first */
#define IMPORT_MAX_PROBLEMS 100

/* 1 when r's caller sees only published tables (an API key). */
static int64_t
tables_published_only(const struct req *r)
{
	return r->who.kind == PRINCIPAL_KEY;
}

/* The table row at the cursor of s (columns: seq, id, name, project_id,
 * schema, published, created_at) as the API shows it. */
static void
table_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "name", db_text(db, s, 2));
	jw_string(w, "projectId", db_text(db, s, 3));
	jw_stored(w, "schema", db_isnull(db, s, 4) ? NULL : db_text(db, s, 4));
	jw_bool(w, "published", db_int(db, s, 5) != 0);
	jw_time(w, "createdAt", db_int(db, s, 6));
	jw_object_end(w);
}

static void
reply_table(struct req *r, const char *id, int status)
{
	reply_row(r, STMT_TABLE_GET,
	    db_query(r->db, STMT_TABLE_GET, "tti", id, r->who.org_id, tables_published_only(r)),
	    status, table_write, "tables: get");
}

int
table_find_or_reply(struct req *r, const char *id, struct data_table *t)
{
	int rc =
	    db_query(r->db, STMT_TABLE_GET, "tti", id, r->who.org_id, tables_published_only(r));

	memset(t, 0, sizeof(*t));
	if (rc == DB_ROW) {
		snprintf(t->id, sizeof(t->id), "%s", db_text(r->db, STMT_TABLE_GET, 1));
		snprintf(
		    t->project_id, sizeof(t->project_id), "%s", db_text(r->db, STMT_TABLE_GET, 3));
		t->published = db_int(r->db, STMT_TABLE_GET, 5) != 0;
		if (!db_isnull(r->db, STMT_TABLE_GET, 4) &&
		    (t->schema = strdup(db_text(r->db, STMT_TABLE_GET, 4))) == NULL)
			rc = DB_ERROR;
	}
	db_end(r->db, STMT_TABLE_GET);
	if (rc == DB_ROW)
		return 0;
	if (rc == DB_DONE)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_db_error(r, rc, "tables: find");
	return -1;
}

void
table_free(struct data_table *t)
{
	free(t->schema);
	memset(t, 0, sizeof(*t));
}

/* Answers 404 unless project id is r's organization's; 0 when it is. */
static int
project_exists_or_reply(struct req *r, const char *id)
{
	int rc = db_query(r->db, STMT_PROJECT_GET, "tt", id, r->who.org_id);

	db_end(r->db, STMT_PROJECT_GET);
	if (rc == DB_ROW)
		return 0;
	if (rc == DB_DONE)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_db_error(r, rc, "tables: project");
	return -1;
}

void
handle_tables_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0 || project_exists_or_reply(r, r->params[0]) < 0)
		return;
	reply_rows(r, STMT_TABLE_LIST,
	    db_query(r->db, STMT_TABLE_LIST, "ttiii", r->params[0], r->who.org_id,
	        tables_published_only(r), p.after, (int64_t)p.limit + 1),
	    &p, table_write, "tables: list");
}

struct table_new {
	const char *id, *name;
};

static int
table_insert(struct req *r, void *arg)
{
	const struct table_new *n = arg;
	int rc;

	if (project_exists_or_reply(r, r->params[0]) < 0)
		return -1;
	rc = db_run(r->db, STMT_TABLE_INSERT, "tttti", n->id, r->who.org_id, r->params[0], n->name,
	    tg_now());
	if (rc == DB_CONSTRAINT)
		reply_error(r, ERR_CONFLICT_TABLE_NAME, NULL, NULL);
	return rc;
}

void
handle_tables_create(struct req *r)
{
	struct table_new n;
	char id[40];

	if (json_string_or_reply(r, r->json, "name", 1, 1, 100, &n.name) < 0)
		return;
	if (tg_id_new("tbl", id, sizeof(id)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	n.id = id;
	if (db_tx_or_reply(r, table_insert, &n, "tables: insert") == DB_OK)
		reply_table(r, id, 201);
}

void
handle_tables_get(struct req *r)
{
	reply_table(r, r->params[0], 200);
}

void
handle_tables_delete(struct req *r)
{
	int rc = db_run(r->db, STMT_TABLE_DELETE, "tt", r->params[0], r->who.org_id);

	if (rc != DB_OK)
		reply_db_error(r, rc, "tables: delete");
	else if (db_changes(r->db) == 0)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_empty(r, 204);
}

void
handle_tables_publish(struct req *r)
{
	int rc = db_run(r->db, STMT_TABLE_PUBLISH, "tt", r->params[0], r->who.org_id);

	if (rc != DB_OK)
		reply_db_error(r, rc, "tables: publish");
	else if (db_changes(r->db) == 0)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_table(r, r->params[0], 200);
}

/* ---- import ---- */

/* An import as its body arrives: the schema (the table's, or inferred from
 * this file once it is read), the rows typed so far, ready before the
 * transaction so the write lock is held only for the inserts, and the
 * problems found. */
struct import {
	struct csv csv; /* a first import's rows, kept until their types are known */
	struct schema schema;
	int typed; /* the table has a schema: rows are typed as they arrive */
	size_t map[CSV_MAX_COLS]; /* the CSV column of each schema column */
	char *schema_text; /* owned */
	char **rows; /* nrows JSON texts, owned */
	size_t nrows, rows_cap;
	size_t ndata; /* data rows read */
	json_object *problems; /* the first IMPORT_MAX_PROBLEMS */
	int64_t nproblems; /* all of them */
};

static void
import_free(struct import *im)
{
	for (size_t i = 0; i < im->nrows; i++)
		free(im->rows[i]);
	free(im->rows);
	free(im->schema_text);
	json_object_put(im->problems);
	schema_free(&im->schema);
	csv_free(&im->csv);
	memset(im, 0, sizeof(*im));
}

static void
reply_invalid_csv(struct req *r, long line, const char *why)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "line", json_object_new_int64(line));
	reply_error(r, ERR_INVALID_CSV, why, d);
}

/* Answers SCHEMA_MISMATCH with im's problems, in ingest's shape. */
static void
reply_import_mismatch(struct req *r, struct import *im)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "problems", im->problems);
	json_object_object_add(d, "problemCount", json_object_new_int64(im->nproblems));
	im->problems = NULL;
	reply_error(r, ERR_SCHEMA_MISMATCH_CSV, NULL, d);
}

/* Keeps the typed row o (not taken) as JSON text; -1 when memory runs out. */
static int
import_row_keep(struct import *im, json_object *o)
{
	char *text;

	if (im->nrows == im->rows_cap) {
		size_t cap = im->rows_cap ? im->rows_cap * 2 : 64;
		char **grown = realloc(im->rows, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		im->rows = grown;
		im->rows_cap = cap;
	}
	if ((text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN))) == NULL)
		return -1;
	im->rows[im->nrows++] = text;
	return 0;
}

/* Types one data row by im's schema: kept while no row has a problem, its
 * problems counted otherwise. -1 when memory runs out. */
static int
import_row_type(struct import *im, const char *const *cells, size_t n, size_t index, long line,
    const size_t *map)
{
	json_object *o;
	int rc = schema_row_json(
	    &im->schema, cells, n, index, line, map, &o, im->problems, IMPORT_MAX_PROBLEMS);

	if (rc < 0)
		return -1;
	im->nproblems += rc;
	if (rc == 0 && im->nproblems == 0)
		rc = import_row_keep(im, o);
	json_object_put(o);
	return rc < 0 ? -1 : 0;
}

/* The header, as it arrives: matched to the table's schema (SCHEMA_MISMATCH
 * otherwise), or for a first import kept and its names checked at once
 * (INVALID_CSV). Returns 0; -1 when answered; -2 when memory runs out. */
static int
import_header_or_reply(
    struct req *r, struct import *im, const char *const *fields, size_t n, long line)
{
	struct schema names;
	char why[256];
	int rc;

	if (im->typed) {
		im->nproblems = schema_header_map(
		    &im->schema, fields, n, line, im->map, im->problems, IMPORT_MAX_PROBLEMS);
		if (im->nproblems == 0)
			return 0;
		reply_import_mismatch(r, im);
		return -1;
	}
	if (csv_row_add(&im->csv, fields, n, line) < 0)
		return -2;
	/* With no rows yet, inference checks only the names. */
	if ((rc = schema_infer(&im->csv, &names, why, sizeof(why))) == 0)
		schema_free(&names);
	else if (rc == -1)
		reply_invalid_csv(r, line, why);
	return rc;
}

/* A first import, once read: the schema inferred from every row, which are
 * then typed by it. Returns 0; -1 when answered; -2 when memory runs out. */
static int
import_infer_or_reply(struct req *r, struct import *im)
{
	json_object *o;
	char why[256];
	int rc = schema_infer(&im->csv, &im->schema, why, sizeof(why));

	if (rc == -1)
		reply_invalid_csv(r, im->csv.header_line, why);
	if (rc < 0)
		return rc;
	if ((o = schema_to_json(&im->schema)) == NULL)
		return -2;
	im->schema_text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (im->schema_text == NULL)
		return -2;
	for (size_t i = 0; i < im->csv.nrows; i++)
		if (import_row_type(im, im->csv.cells + i * im->csv.ncols, im->csv.ncols, i,
		        im->csv.lines[i], NULL) < 0)
			return -2;
	csv_free(&im->csv);
	return 0;
}

/* The body as the CSV reader asks for it. */
static long
import_fill(void *ctx, char *buf, size_t n)
{
	return body_decoded_read_or_reply(ctx, buf, n);
}

/* Reads the body a row at a time and settles the schema (inferred from this
 * file when the table has none, else the table's, matched by header) and
 * the typed rows. The records meter is read first: as soon as the rows
 * would pass what is left of it, the import is answered 403 PLAN_LIMIT
 * without reading further (an upper bound: the transaction takes the meter
 * for real). On error answers 400, 403, 413 (or 500, 503) and returns -1;
 * im is then freed by the caller. */
static int
import_read_or_reply(struct req *r, const struct data_table *t, struct import *im)
{
	struct csv_reader *rd = NULL;
	struct meter_state st;
	const char *const *fields;
	json_object *o;
	char why[256];
	size_t n;
	int64_t room;
	long line;
	int rc;

	if ((rc = meter_read(r->db, r->who.org_id, METER_RECORDS, &st)) != DB_OK) {
		reply_db_error(r, rc, "tables: import: meter");
		return -1;
	}
	room = st.limit < 0 ? INT64_MAX : st.limit - st.used;
	if ((im->problems = json_object_new_array()) == NULL)
		goto oom;
	if (t->schema != NULL) {
		o = json_tokener_parse(t->schema);
		rc = o != NULL ? schema_from_json(o, &im->schema) : -1;
		json_object_put(o);
		if (rc < 0) {
			log_msg(
			    r->request_id, "tables: import: stored schema of %s unreadable", t->id);
			reply_error(r, ERR_INTERNAL, NULL, NULL);
			return -1;
		}
		if ((im->schema_text = strdup(t->schema)) == NULL)
			goto oom;
		im->typed = 1;
	}
	if ((rd = csv_reader_new(import_fill, r, IMPORT_MAX_ROWS, why, sizeof(why))) == NULL)
		goto oom;
	if ((rc = csv_reader_next(rd, &fields, &n, &line)) == 1) {
		if ((rc = import_header_or_reply(r, im, fields, n, line)) == -2)
			goto oom;
		if (rc < 0)
			goto fail;
		while ((rc = csv_reader_next(rd, &fields, &n, &line)) == 1) {
			if ((int64_t)++im->ndata > room) {
				/* Refused before the end of the file: how many rows it
				 * has is not known. */
				reply_plan_limit(r, &st, -1);
				goto fail;
			}
			if (im->typed ? import_row_type(im, fields, n, im->ndata - 1, line, im->map)
			              : csv_row_add(&im->csv, fields, n, line))
				goto oom;
		}
	}
	if (rc == -1)
		reply_invalid_csv(r, line, why);
	if (rc == -2)
		goto oom;
	if (rc < 0) /* -1 answered here, -3 by the body reader */
		goto fail;
	csv_reader_free(rd);
	rd = NULL;
	if (!im->typed && (rc = import_infer_or_reply(r, im)) < 0) {
		if (rc == -2)
			goto oom;
		return -1;
	}
	if (im->nproblems > 0) {
		reply_import_mismatch(r, im);
		return -1;
	}
	return 0;
oom:
	log_msg(r->request_id, "tables: import: out of memory");
	reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
fail:
	csv_reader_free(rd);
	return -1;
}

/* The prepared import im of table t, stored: the schema (unless another
 * import set it meanwhile) and the rows; after is the records meter then. */
struct import_store {
	const struct data_table *t;
	const struct import *im;
	struct meter_state after;
};

static int
import_store(struct req *r, void *arg)
{
	struct import_store *st = arg;
	int64_t now = tg_now();
	/* The schema is still the one the rows were typed by (or none, and
	 * becomes this file's): another import did not win the race. */
	int rc = db_run(
	    r->db, STMT_TABLE_SET_SCHEMA, "ttt", st->t->id, r->who.org_id, st->im->schema_text);

	if (rc == DB_OK && db_changes(r->db) == 0) {
		reply_error(r, ERR_CONFLICT_IMPORT_RACE, NULL, NULL);
		return -1;
	}
	if (rc != DB_OK)
		return rc;
	if (meter_take_or_reply(r, METER_RECORDS, (int64_t)st->im->nrows, &st->after) < 0)
		return -1;
	for (size_t i = 0; i < st->im->nrows && rc == DB_OK; i++)
		rc = db_run(r->db, STMT_RECORD_INSERT, "tti", st->t->id, st->im->rows[i], now);
	return rc;
}

void
handle_tables_import(struct req *r)
{
	struct data_table t;
	struct import im;
	struct import_store st = { &t, &im, { 0 } };
	struct jw w;

	memset(&im, 0, sizeof(im));
	if (table_find_or_reply(r, r->params[0], &t) < 0)
		return;
	if (import_read_or_reply(r, &t, &im) < 0)
		goto out;
	if (db_tx_or_reply(r, import_store, &st, "tables: import") != DB_OK)
		goto out;
	jw_init(&w);
	jw_object(&w, NULL);
	jw_stored(&w, "schema", im.schema_text);
	jw_int(&w, "imported", (int64_t)im.nrows);
	meter_write(&w, "usage", &st.after);
	jw_object_end(&w);
	metrics_ingested((long)im.nrows);
	reply_jw(r, 200, &w);
out:
	import_free(&im);
	table_free(&t);
}
