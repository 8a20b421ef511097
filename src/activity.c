/* activity.c: sign-in activity. GET /v1/auth/activity shows the caller's
 * sessions, newest first, with how each ended, and (on the first page) the
 * account's device credentials; GET /v1/users/{id}/activity shows the same
 * of a user of the admin's organization. Nothing here writes: a device is
 * revoked with DELETE /v1/auth/devices/{id} (devices.c), a user's session
 * by an admin with DELETE /v1/users/{id}/session (users.c). */
#include <stdint.h>
#include <string.h>

#include "api.h"

#define ACTIVITY_DEVICES_MAX 100 /* devices.c keeps 20 an account */

/* The moment a session timed out: its idle timeout or its lifetime,
 * whichever came first. */
static int64_t
session_timeout_at(int64_t last_seen, int64_t expires)
{
	int64_t idle_at = last_seen + cfg.session_idle;

	return idle_at < expires ? idle_at : expires;
}

/* A STMT_SESSION_ACTIVITY row. A session never ended that has timed out is
 * shown "expired", as access.c would end it on its next use; an expired one
 * ends when it timed out, not when that was noticed. Any end but logout,
 * replacement and expiry is "revoked" (an admin, a password change, its
 * device revoked). */
static void
activity_session_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	int64_t last_seen = db_int(db, s, 5), expires = db_int(db, s, 6);
	int64_t timeout_at = session_timeout_at(last_seen, expires), ended = 0;
	const char *reason = NULL;

	if (!db_isnull(db, s, 7)) {
		ended = db_int(db, s, 7);
		reason = db_text(db, s, 8);
		if (strcmp(reason, "expired") == 0 && timeout_at < ended)
			ended = timeout_at;
		else if (strcmp(reason, "logout") != 0 && strcmp(reason, "replaced") != 0 &&
		    strcmp(reason, "expired") != 0)
			reason = "revoked";
	} else if (tg_now() >= timeout_at) {
		ended = timeout_at;
		reason = "expired";
	}
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "device", db_text(db, s, 2));
	jw_string(w, "deviceId", db_isnull(db, s, 10) ? NULL : db_text(db, s, 10));
	jw_string(w, "ip", db_text(db, s, 3));
	jw_time(w, "createdAt", db_int(db, s, 4));
	jw_time(w, "lastSeenAt", last_seen);
	jw_time(w, "expiresAt", expires);
	jw_time(w, "endedAt", ended);
	jw_string(w, "endReason", reason);
	jw_string(w, "replacedBy",
	    reason != NULL && strcmp(reason, "replaced") == 0 && !db_isnull(db, s, 9)
	        ? db_text(db, s, 9)
	        : NULL);
	jw_bool(w, "current", (int)db_int(db, s, 11));
	jw_object_end(w);
}

/* "devices": every device credential of user_id (ctx), most recently used
 * first, the one the caller's session signed in from marked current. */
static int
activity_devices_write(struct jw *w, struct req *r, void *ctx)
{
	const char *user_id = ctx;
	enum stmt s = STMT_DEVICE_LIST_RECENT;
	int rc =
	    db_query(r->db, s, "tti", user_id, r->who.session_id, (int64_t)ACTIVITY_DEVICES_MAX);

	jw_array(w, "devices");
	for (; rc == DB_ROW; rc = db_next(r->db, s)) {
		jw_object(w, NULL);
		jw_string(w, "id", db_text(r->db, s, 1));
		jw_string(w, "name", db_text(r->db, s, 2));
		jw_time(w, "createdAt", db_int(r->db, s, 3));
		jw_time(w, "lastUsedAt", db_int(r->db, s, 4));
		jw_bool(w, "current", (int)db_int(r->db, s, 5));
		jw_object_end(w);
	}
	db_end(r->db, s);
	jw_array_end(w);
	return rc == DB_DONE ? DB_OK : rc;
}

/* Answers a page of user_id's sessions; the first page has its devices. */
static void
reply_activity(struct req *r, const char *user_id)
{
	struct page p;
	int rc;

	if (page_or_reply(r, &p) < 0)
		return;
	rc = db_query(r->db, STMT_SESSION_ACTIVITY, "tiit", user_id,
	    p.after != 0 ? p.after : INT64_MAX, (int64_t)p.limit + 1, r->who.session_id);
	reply_rows_more(r, STMT_SESSION_ACTIVITY, rc, &p, activity_session_write,
	    p.after == 0 ? activity_devices_write : NULL, (void *)user_id, "activity: list");
}

void
handle_activity_get(struct req *r)
{
	reply_activity(r, r->who.user_id);
}

/* Another organization's user is 404, as a missing one. */
void
handle_users_activity_get(struct req *r)
{
	int rc = db_query(r->db, STMT_USER_GET, "tt", r->params[0], r->who.org_id);

	db_end(r->db, STMT_USER_GET);
	if (rc != DB_ROW) {
		if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		else
			reply_db_error(r, rc, "activity: user");
		return;
	}
	reply_activity(r, r->params[0]);
}
