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

/* What an import stores: the schema (inferred or the table's own) and the
 * typed rows, ready before the transaction so the write lock is held only
 * for the inserts. */
struct import {
	struct csv csv;
	struct schema schema;
	char *schema_text; /* owned */
	char **rows; /* csv.nrows JSON texts, owned */
	size_t nrows;
};

static void
import_free(struct import *im)
{
	for (size_t i = 0; i < im->nrows; i++)
		free(im->rows[i]);
	free(im->rows);
	free(im->schema_text);
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

static void
reply_schema_mismatch(struct req *r, json_object *problems)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "problems", problems);
	reply_error(r, ERR_SCHEMA_MISMATCH_CSV, NULL, d);
}

/* Parses the body, settles the schema (inferred from this file when the table
 * has none, else the table's, matched by header) and types every row. On
 * error answers 400 (or 500) and returns -1; im is then freed by the caller. */
static int
import_prepare_or_reply(struct req *r, const struct data_table *t, struct import *im)
{
	json_object *problems = NULL, *o;
	size_t map[CSV_MAX_COLS], *mapp = NULL;
	char why[256];
	long line;
	int rc, bad = 0;

	rc = csv_parse(r->body, r->body_len, IMPORT_MAX_ROWS, &im->csv, &line, why, sizeof(why));
	if (rc == -1) {
		reply_invalid_csv(r, line, why);
		return -1;
	}
	if (rc < 0)
		goto oom;
	if (t->schema == NULL) {
		rc = schema_infer(&im->csv, &im->schema, why, sizeof(why));
		if (rc == -1) {
			reply_invalid_csv(r, im->csv.header_line, why);
			return -1;
		}
		if (rc < 0 || (o = schema_to_json(&im->schema)) == NULL)
			goto oom;
		im->schema_text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		o = json_tokener_parse(t->schema);
		rc = o != NULL ? schema_from_json(o, &im->schema) : -1;
		json_object_put(o);
		if (rc < 0) {
			log_msg(
			    r->request_id, "tables: import: stored schema of %s unreadable", t->id);
			reply_error(r, ERR_INTERNAL, NULL, NULL);
			return -1;
		}
		im->schema_text = strdup(t->schema);
		if ((problems = json_object_new_array()) == NULL)
			goto oom;
		if (im->csv.ncols > CSV_MAX_COLS ||
		    schema_header_map(&im->schema, &im->csv, map, problems, IMPORT_MAX_PROBLEMS) >
		        0) {
			reply_schema_mismatch(r, problems);
			return -1;
		}
		mapp = map;
	}
	if (im->schema_text == NULL)
		goto oom;
	if (im->csv.nrows > 0 && (im->rows = calloc(im->csv.nrows, sizeof(*im->rows))) == NULL)
		goto oom;
	for (size_t i = 0; i < im->csv.nrows; i++) {
		rc = schema_row_json(
		    &im->schema, &im->csv, i, mapp, &o, problems, IMPORT_MAX_PROBLEMS);
		if (rc < 0)
			goto oom;
		if (rc > 0) {
			bad += rc;
			continue;
		}
		if (bad == 0)
			im->rows[im->nrows] =
			    strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		if (bad > 0)
			continue;
		if (im->rows[im->nrows] == NULL)
			goto oom;
		im->nrows++;
	}
	if (bad > 0) {
		reply_schema_mismatch(r, problems);
		return -1;
	}
	json_object_put(problems);
	return 0;
oom:
	json_object_put(problems);
	log_msg(r->request_id, "tables: import: out of memory");
	reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
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
	if (import_prepare_or_reply(r, &t, &im) < 0)
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
