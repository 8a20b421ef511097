/* projects.c: projects, the containers of data tables and spinners
 * (meter projects: Trial allows one). */
#include <stdio.h>

#include "api.h"

/* The project row at the cursor of s (columns: seq, id, name, created_at). */
static void
project_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "name", db_text(db, s, 2));
	jw_time(w, "createdAt", db_int(db, s, 3));
	jw_object_end(w);
}

static void
reply_project(struct req *r, const char *id, int status)
{
	reply_row(r, STMT_PROJECT_GET, db_query(r->db, STMT_PROJECT_GET, "tt", id, r->who.org_id),
	    status, project_write, "projects: get");
}

void
handle_projects_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	reply_rows(r, STMT_PROJECT_LIST,
	    db_query(r->db, STMT_PROJECT_LIST, "tii", r->who.org_id, p.after, (int64_t)p.limit + 1),
	    &p, project_write, "projects: list");
}

struct project_new {
	const char *id, *name;
};

static int
project_insert(struct req *r, void *arg)
{
	const struct project_new *p = arg;
	int rc;

	if (meter_take_or_reply(r, METER_PROJECTS, 1, NULL) < 0)
		return -1;
	rc = db_run(r->db, STMT_PROJECT_INSERT, "ttti", p->id, r->who.org_id, p->name, tg_now());
	if (rc == DB_CONSTRAINT)
		reply_error(r, ERR_CONFLICT_PROJECT_NAME, NULL, NULL);
	return rc;
}

void
handle_projects_create(struct req *r)
{
	struct project_new p;
	char id[40];

	if (json_string_or_reply(r, r->json, "name", 1, 1, 100, &p.name) < 0)
		return;
	if (tg_id_new("prj", id, sizeof(id)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	p.id = id;
	if (db_tx_or_reply(r, project_insert, &p, "projects: insert") == DB_OK)
		reply_project(r, id, 201);
}

void
handle_projects_get(struct req *r)
{
	reply_project(r, r->params[0], 200);
}

void
handle_projects_delete(struct req *r)
{
	int rc = db_run(r->db, STMT_PROJECT_DELETE, "tt", r->params[0], r->who.org_id);

	if (rc != DB_OK)
		reply_db_error(r, rc, "projects: delete");
	else if (db_changes(r->db) == 0)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_empty(r, 204);
}
