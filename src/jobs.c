/* jobs.c: jobs, the runs of spinners: how one is queued (by a trigger or a
 * schedule, through the jobs and records meters) and how they are read. */
#include <stdio.h>

#include <string.h>

#include "api.h"

int
job_queue(struct db *db, const char *org_id, const char *spinner_id, const char *trigger, char *id,
    size_t idlen, struct meter_state *full)
{
	struct meter_state all[METER__COUNT];
	int rc = db_query(db, STMT_SPINNER_TRIGGERABLE, "tt", spinner_id, org_id);

	db_end(db, STMT_SPINNER_TRIGGERABLE);
	if (rc != DB_ROW)
		return rc;
	/* Both meters in one look. A job reads records: none run while the
	 * month's records are used up. */
	if ((rc = meter_read_all(db, org_id, all, NULL, NULL, 0)) != DB_OK)
		return rc;
	*full = all[METER_RECORDS];
	if (full->limit >= 0 && full->used >= full->limit)
		return METER_FULL;
	*full = all[METER_JOBS];
	if ((rc = meter_add(db, org_id, full, 1)) != DB_OK)
		return rc;
	if (tg_id_new("job", id, idlen) < 0)
		return DB_ERROR;
	return db_run(db, STMT_JOB_INSERT, "tttti", id, org_id, spinner_id, trigger, tg_now());
}

void
job_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "spinnerId", db_text(db, s, 2));
	jw_string(w, "trigger", db_text(db, s, 3));
	jw_string(w, "status", db_text(db, s, 4));
	jw_stored(w, "result", db_isnull(db, s, 5) ? NULL : db_text(db, s, 5));
	jw_string(w, "failureReason", db_isnull(db, s, 6) ? NULL : db_text(db, s, 6));
	jw_time(w, "createdAt", db_int(db, s, 7));
	jw_time(w, "startedAt", db_int(db, s, 8));
	jw_time(w, "finishedAt", db_int(db, s, 9));
	jw_object_end(w);
}

/* GET /v1/jobs?spinnerId=: the organization's jobs, oldest first; with
 * spinnerId, that spinner's (404 when the caller cannot see it). */
void
handle_jobs_list(struct req *r)
{
	struct page p;
	char spinner[REQ_PARAM_MAX + 2];
	int rc, filtered;

	if (page_or_reply(r, &p) < 0)
		return;
	filtered = req_query_get(r, "spinnerId", spinner, sizeof(spinner));
	if (filtered) {
		rc = db_query(r->db, STMT_SPINNER_GET, "tti", spinner, r->who.org_id,
		    (int64_t)(r->who.kind == PRINCIPAL_KEY));
		db_end(r->db, STMT_SPINNER_GET);
		if (rc != DB_ROW) {
			if (rc == DB_DONE)
				reply_error(r, ERR_NOT_FOUND, NULL, NULL);
			else
				reply_db_error(r, rc, "jobs: spinner");
			return;
		}
	}
	reply_rows(r, STMT_JOB_LIST,
	    db_query(r->db, STMT_JOB_LIST, "ttii", r->who.org_id, filtered ? spinner : NULL,
	        p.after, (int64_t)p.limit + 1),
	    &p, job_write, "jobs: list");
}

void
handle_jobs_get(struct req *r)
{
	reply_row(r, STMT_JOB_GET, db_query(r->db, STMT_JOB_GET, "tt", r->params[0], r->who.org_id),
	    200, job_write, "jobs: get");
}
