/* spinners.c: spinners, automations over one data table of a project, and
 * their trigger, which queues a job for the runner (runner.c). An API key
 * sees only published spinners; only a published one can be triggered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define SCHEDULE_MAX 525600 /* minutes: a year */

/* The spinner row at the cursor of s (columns: seq, id, project_id,
 * table_id, name, schedule, published, next_run_at, created_at). */
static void
spinner_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "projectId", db_text(db, s, 2));
	jw_string(w, "tableId", db_text(db, s, 3));
	jw_string(w, "name", db_text(db, s, 4));
	if (db_isnull(db, s, 5))
		jw_null(w, "schedule");
	else
		jw_int(w, "schedule", db_int(db, s, 5));
	jw_bool(w, "published", db_int(db, s, 6) != 0);
	jw_time(w, "nextRunAt", db_int(db, s, 7));
	jw_time(w, "createdAt", db_int(db, s, 8));
	jw_object_end(w);
}

/* 1 when the caller sees only published spinners (an API key), else 0. */
static int64_t
published_only(const struct req *r)
{
	return r->who.kind == PRINCIPAL_KEY;
}

static void
reply_spinner(struct req *r, const char *id, int status)
{
	reply_row(r, STMT_SPINNER_GET,
	    db_query(r->db, STMT_SPINNER_GET, "tti", id, r->who.org_id, published_only(r)), status,
	    spinner_write, "spinners: get");
}

/* After the insert or update of a spinner (answer rc), inside the
 * transaction: answers 409 for a name the project has already. */
static int
spinner_saved(struct req *r, int rc)
{
	if (rc == DB_CONSTRAINT)
		reply_error(r, ERR_CONFLICT_SPINNER_NAME, NULL, NULL);
	return rc;
}

/* Reads "schedule": minutes from 1 to SCHEDULE_MAX, or null (*out 0).
 * *present tells whether the field was there at all. Answers 400. */
static int
schedule_or_reply(struct req *r, int *present, int64_t *out)
{
	json_object *v, *d;

	*out = 0;
	*present = json_object_object_get_ex(r->json, "schedule", &v);
	if (!*present || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 1 &&
	    json_object_get_int64(v) <= SCHEDULE_MAX) {
		*out = json_object_get_int64(v);
		return 0;
	}
	d = json_object_new_object();
	json_object_object_add(d, "field", json_object_new_string("schedule"));
	reply_error(r, ERR_INVALID_BODY_SCHEDULE, NULL, d);
	return -1;
}

/* A spinner to make in project r->params[0], or the fields to change. */
struct spinner_fields {
	const char *id, *name, *table_id;
	int64_t schedule;
	int present; /* "schedule" was sent */
};

static int
spinner_insert(struct req *r, void *arg)
{
	const struct spinner_fields *f = arg;
	int rc = db_query(r->db, STMT_PROJECT_GET, "tt", r->params[0], r->who.org_id);

	db_end(r->db, STMT_PROJECT_GET);
	if (rc == DB_DONE) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	if (rc == DB_ROW) {
		rc = db_query(r->db, STMT_SPINNER_TABLE_IN_PROJECT, "ttt", f->table_id,
		    r->params[0], r->who.org_id);
		db_end(r->db, STMT_SPINNER_TABLE_IN_PROJECT);
	}
	if (rc == DB_DONE) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("tableId"));
		reply_error(r, ERR_INVALID_BODY_TABLE_ID, NULL, d);
		return -1;
	}
	if (rc == DB_ROW)
		rc = db_run(r->db, STMT_SPINNER_INSERT, "tttttii", f->id, r->who.org_id,
		    r->params[0], f->table_id, f->name, f->schedule, tg_now());
	return spinner_saved(r, rc);
}

void
handle_spinners_create(struct req *r)
{
	struct spinner_fields f;
	char id[40];

	if (json_string_or_reply(r, r->json, "name", 1, 1, 100, &f.name) < 0 ||
	    json_string_or_reply(r, r->json, "tableId", 1, 1, 64, &f.table_id) < 0 ||
	    schedule_or_reply(r, &f.present, &f.schedule) < 0)
		return;
	if (tg_id_new("spn", id, sizeof(id)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	f.id = id;
	if (db_tx_or_reply(r, spinner_insert, &f, "spinners: insert") == DB_OK)
		reply_spinner(r, id, 201);
}

void
handle_spinners_list(struct req *r)
{
	int rc;
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	rc = db_query(r->db, STMT_PROJECT_GET, "tt", r->params[0], r->who.org_id);
	db_end(r->db, STMT_PROJECT_GET);
	if (rc != DB_ROW) {
		if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		else
			reply_db_error(r, rc, "spinners: project");
		return;
	}
	reply_rows(r, STMT_SPINNER_LIST,
	    db_query(r->db, STMT_SPINNER_LIST, "ttiii", r->params[0], r->who.org_id,
	        published_only(r), p.after, (int64_t)p.limit + 1),
	    &p, spinner_write, "spinners: list");
}

void
handle_spinners_get(struct req *r)
{
	reply_spinner(r, r->params[0], 200);
}

static int
spinner_update(struct req *r, void *arg)
{
	const struct spinner_fields *f = arg;
	int64_t schedule = f->schedule, old_schedule = 0, next = 0;
	int published = 0;
	int rc = db_query(r->db, STMT_SPINNER_GET, "tti", r->params[0], r->who.org_id, (int64_t)0);

	if (rc == DB_ROW) {
		old_schedule = db_int(r->db, STMT_SPINNER_GET, 5);
		published = db_int(r->db, STMT_SPINNER_GET, 6) != 0;
		next = db_int(r->db, STMT_SPINNER_GET, 7);
	}
	db_end(r->db, STMT_SPINNER_GET);
	if (rc == DB_DONE) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	if (rc != DB_ROW)
		return rc;
	if (!f->present)
		schedule = old_schedule;
	else if (schedule != old_schedule)
		next = published && schedule > 0 ? tg_now() + schedule * 60 : 0;
	rc = db_run(r->db, STMT_SPINNER_UPDATE, "tttii", r->params[0], r->who.org_id, f->name,
	    schedule, next);
	return spinner_saved(r, rc);
}

/* PATCH {"name"?, "schedule"?}: a new schedule of a published spinner
 * counts its next run from now. */
void
handle_spinners_update(struct req *r)
{
	struct spinner_fields f = { 0 };

	if (json_string_or_reply(r, r->json, "name", 0, 1, 100, &f.name) < 0 ||
	    schedule_or_reply(r, &f.present, &f.schedule) < 0)
		return;
	if (db_tx_or_reply(r, spinner_update, &f, "spinners: update") == DB_OK)
		reply_spinner(r, r->params[0], 200);
}

void
handle_spinners_delete(struct req *r)
{
	int rc = db_run(r->db, STMT_SPINNER_DELETE, "tt", r->params[0], r->who.org_id);

	if (rc != DB_OK)
		reply_db_error(r, rc, "spinners: delete");
	else if (db_changes(r->db) == 0)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_empty(r, 204);
}

void
handle_spinners_publish(struct req *r)
{
	int rc = db_run(r->db, STMT_SPINNER_PUBLISH, "tti", r->params[0], r->who.org_id, tg_now());

	if (rc != DB_OK)
		reply_db_error(r, rc, "spinners: publish");
	else if (db_changes(r->db) == 0)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_spinner(r, r->params[0], 200);
}

/* One trigger, as a piece of a group commit (db_write_grouped): the
 * spinner is published, the records meter is not full, the jobs meter has
 * room; then the job is queued and read back (before the commit: the
 * runner cannot have claimed it yet) as the answer's text. */
struct trigger {
	const char *org_id, *spinner_id;
	struct meter_state full; /* on METER_FULL */
	struct jw answer;
};

static int
trigger_work(struct db *db, void *arg)
{
	struct trigger *t = arg;
	char id[40];
	int rc = job_queue(db, t->org_id, t->spinner_id, "api", id, sizeof(id), &t->full);

	if (rc != DB_OK)
		return rc;
	rc = db_query(db, STMT_JOB_GET, "tt", id, t->org_id);
	if (rc == DB_ROW) {
		jw_object(&t->answer, NULL);
		job_write(&t->answer, "job", db, STMT_JOB_GET);
		jw_object_end(&t->answer);
		rc = DB_OK;
	} else if (rc == DB_DONE)
		rc = DB_ERROR;
	db_end(db, STMT_JOB_GET);
	return rc;
}

void
handle_spinners_trigger(struct req *r)
{
	struct trigger t = { .org_id = r->who.org_id, .spinner_id = r->params[0] };
	int rc;

	jw_init(&t.answer);
	if ((rc = db_write_grouped(r->db, trigger_work, &t)) != DB_OK) {
		jw_discard(&t.answer);
		if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		else if (rc == METER_FULL)
			reply_plan_limit(r, &t.full, 1); /* one job */
		else
			reply_db_error(r, rc, "spinners: trigger");
		return;
	}
	runner_wake(); /* committed: the runner may claim it */
	reply_jw(r, 201, &t.answer);
}
