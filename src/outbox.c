/* outbox.c: webhook events. webhook_emit writes an event and its
 * deliveries inside the transaction of what caused it (a meter's take, a
 * session taken over, a job finished, a key about to expire), so an event
 * is sent at least once if and only if that committed; webhook_send.c
 * sends them. A middleware file: the meters below the resources call it. */
#include <stdio.h>
#include <stdlib.h>

#include "mw.h"

int
webhook_emit(
    struct db *db, const char *org_id, const char *type, const char *mark, const char *data)
{
	char id[40], created[32];
	int64_t now = tg_now(), subscribed;
	struct jw w;
	char *body;
	size_t len;
	int rc = db_query(db, STMT_WEBHOOK_SUBSCRIBED, "tt", org_id, type);

	subscribed = rc == DB_ROW ? db_int(db, STMT_WEBHOOK_SUBSCRIBED, 0) : 0;
	db_end(db, STMT_WEBHOOK_SUBSCRIBED);
	if (rc != DB_ROW)
		return rc == DB_DONE ? DB_ERROR : rc;
	if (subscribed == 0)
		return DB_OK;
	if (mark != NULL) {
		if ((rc = db_run(db, STMT_WEBHOOK_MARK, "tti", org_id, mark, now)) != DB_OK)
			return rc;
		if (db_changes(db) == 0) /* it happened before */
			return DB_OK;
	}
	if (tg_id_new("evt", id, sizeof(id)) < 0)
		return DB_ERROR;
	tg_time_format(now, created, sizeof(created));
	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "id", id);
	jw_string(&w, "type", type);
	jw_string(&w, "createdAt", created);
	jw_string(&w, "organizationId", org_id);
	jw_raw(&w, "data", data);
	jw_object_end(&w);
	if ((body = jw_finish(&w, &len)) == NULL)
		return DB_ERROR;
	rc = db_run(db, STMT_WEBHOOK_EVENT_INSERT, "tttti", id, org_id, type, body, now);
	free(body);
	if (rc == DB_OK)
		rc = db_run(db, STMT_WEBHOOK_FAN_OUT, "tttii", org_id, type, id, now,
		    (int64_t)WEBHOOK_RETRY_WINDOW);
	if (rc != DB_OK)
		log_msg(NULL, "webhooks: %s event of %s: database error %d", type, org_id, rc);
	return rc;
}

/* Writes w's text to the outbox as an event (see webhook_emit); frees w. */
static int
emit_jw(struct db *db, const char *org_id, const char *type, const char *mark, struct jw *w)
{
	size_t len;
	char *data = jw_finish(w, &len);
	int rc;

	if (data == NULL)
		return DB_ERROR;
	rc = webhook_emit(db, org_id, type, mark, data);
	free(data);
	return rc;
}

int
webhook_session_replaced(struct db *db, const char *org_id, const char *user_id,
    const char *old_sid, const char *new_sid, const char *device)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "userId", user_id);
	jw_string(&w, "sessionId", old_sid);
	jw_object(&w, "replacedBy");
	jw_string(&w, "sessionId", new_sid);
	jw_string(&w, "device", device);
	jw_object_end(&w);
	jw_object_end(&w);
	return emit_jw(db, org_id, "session.replaced", NULL, &w);
}

int
webhook_job_finished(struct db *db, const char *org_id, const char *job_id, const char *spinner_id,
    const char *status, const char *result, const char *reason)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "jobId", job_id);
	jw_string(&w, "spinnerId", spinner_id);
	jw_string(&w, "status", status);
	jw_stored(&w, "result", result);
	jw_string(&w, "reason", reason);
	jw_time(&w, "finishedAt", tg_now());
	jw_object_end(&w);
	return emit_jw(db, org_id, "job.finished", NULL, &w);
}
