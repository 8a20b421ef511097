/* access.c: one authentication step before every protected handler. A user
 * token or an API key becomes a principal; the route's access, the role
 * table below and the key's scopes decide whether it may go on. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mw.h"

/* The one table of roles: what each may do. */
static const unsigned role_perms[] = {
	[ROLE_NONE] = 0,
	[ROLE_VIEWER] = 1u << PERM_READ,
	[ROLE_MEMBER] = 1u << PERM_READ | 1u << PERM_WRITE,
	[ROLE_ADMIN] = 1u << PERM_READ | 1u << PERM_WRITE | 1u << PERM_ADMIN,
};

static const char *const role_names[] = {
	[ROLE_NONE] = "none",
	[ROLE_VIEWER] = "viewer",
	[ROLE_MEMBER] = "member",
	[ROLE_ADMIN] = "admin",
};

int
access_role_allows(enum role role, enum perm perm)
{
	return perm == PERM_NONE || (role_perms[role] & (1u << perm)) != 0;
}

enum role
role_parse(const char *s)
{
	for (int i = ROLE_VIEWER; i <= ROLE_ADMIN; i++)
		if (s != NULL && strcmp(s, role_names[i]) == 0)
			return (enum role)i;
	return ROLE_NONE;
}

const char *
role_name(enum role role)
{
	return role_names[role];
}

const char *
scope_name(unsigned scope)
{
	return scope == SCOPE_INGEST ? "ingest" : scope == SCOPE_TRIGGER ? "trigger" : "read";
}

/* Whether the session's idle timeout or absolute lifetime has passed. */
static int
session_timed_out(int64_t last_seen, int64_t expires_at, int64_t now)
{
	return now - last_seen >= cfg.session_idle || now >= expires_at;
}

/* Checks the session behind a verified token: it must be live, the token's
 * own, and within its timeouts. Answers 401 and returns -1 otherwise. */
static int
session_or_reply(struct req *r, const struct token *t)
{
	struct db *db = r->db;
	int64_t now = tg_now(), last_seen, expires_at, touch_every;
	char reason[16];
	json_object *d;
	int rc = db_query(db, STMT_SESSION_AUTH, "t", t->sid);

	if (rc != DB_ROW) {
		db_end(db, STMT_SESSION_AUTH);
		if (rc != DB_DONE) {
			reply_db_error(r, rc, "auth: session");
			return -1;
		}
		/* A signed token whose session is gone: its user was deleted. */
		reply_error(r, ERR_SESSION_REVOKED, NULL, NULL);
		return -1;
	}
	if (strcmp(db_text(db, STMT_SESSION_AUTH, 0), t->sub) != 0 ||
	    strcmp(db_text(db, STMT_SESSION_AUTH, 1), t->org) != 0) {
		db_end(db, STMT_SESSION_AUTH);
		reply_error(r, ERR_TOKEN_INVALID, NULL, NULL);
		return -1;
	}
	last_seen = db_int(db, STMT_SESSION_AUTH, 2);
	expires_at = db_int(db, STMT_SESSION_AUTH, 3);
	snprintf(reason, sizeof(reason), "%s", db_text(db, STMT_SESSION_AUTH, 5));
	if (!db_isnull(db, STMT_SESSION_AUTH, 4)) {
		if (strcmp(reason, "replaced") == 0) {
			d = json_object_new_object();
			json_object_object_add(
			    d, "replacedAt", json_time(db_int(db, STMT_SESSION_AUTH, 4)));
			json_object_object_add(
			    d, "device", json_object_new_string(db_text(db, STMT_SESSION_AUTH, 7)));
			db_end(db, STMT_SESSION_AUTH);
			reply_error(r, ERR_SESSION_REPLACED, NULL, d);
		} else {
			db_end(db, STMT_SESSION_AUTH);
			reply_error(r,
			    strcmp(reason, "expired") == 0 ? ERR_SESSION_EXPIRED
			                                   : ERR_SESSION_REVOKED,
			    NULL, NULL);
		}
		return -1;
	}
	r->who.kind = PRINCIPAL_USER;
	snprintf(r->who.user_id, sizeof(r->who.user_id), "%s", t->sub);
	snprintf(r->who.org_id, sizeof(r->who.org_id), "%s", t->org);
	snprintf(r->who.session_id, sizeof(r->who.session_id), "%s", t->sid);
	r->who.role = role_parse(db_text(db, STMT_SESSION_AUTH, 6));
	db_end(db, STMT_SESSION_AUTH);
	if (session_timed_out(last_seen, expires_at, now)) {
		/* Unread: should the write fail, the next request finds the
		 * session timed out by this same check and gets this answer. */
		(void)db_run(db, STMT_SESSION_END, "itt", now, "expired", t->sid);
		memset(&r->who, 0, sizeof(r->who));
		reply_error(r, ERR_SESSION_EXPIRED, NULL, NULL);
		return -1;
	}
	/* last_seen_at is written at most every idle/10 seconds (1..60), not
	 * on every request; a failed write only makes the idle clock early. */
	touch_every = cfg.session_idle / 10;
	touch_every = touch_every < 1 ? 1 : touch_every > 60 ? 60 : touch_every;
	if (now - last_seen >= touch_every)
		(void)db_run(db, STMT_SESSION_TOUCH, "ti", t->sid, now);
	return 0;
}

/* The credential of the request: a bearer value or an X-API-Key (then
 * *is_key is set). NULL when there is none. */
static const char *
credential(const struct req *r, int *is_key)
{
	const char *a = r->authorization;

	*is_key = 0;
	if (a != NULL && *a != '\0') {
		if (strncasecmp(a, "Bearer ", 7) != 0)
			return ""; /* present but not a bearer credential */
		a += 7;
		while (*a == ' ')
			a++;
		*is_key = strncmp(a, "tg_", 3) == 0;
		return a;
	}
	if (r->x_api_key != NULL && *r->x_api_key != '\0') {
		*is_key = 1;
		return r->x_api_key;
	}
	return NULL;
}

int
access_or_reply(struct req *r, enum access access, enum perm perm, unsigned scope)
{
	const char *cred;
	struct token t;
	int is_key, rc;

	if (access == ACCESS_PUBLIC)
		return 0;
	if ((cred = credential(r, &is_key)) == NULL) {
		reply_error(r, ERR_TOKEN_MISSING, NULL, NULL);
		return -1;
	}
	if (is_key) {
		if (apikey_verify_or_reply(r, cred) < 0)
			return -1;
		if (access != ACCESS_ANY || scope == 0) {
			reply_error(r, ERR_PERMISSION_DENIED_KEY, NULL, NULL);
			return -1;
		}
		if ((r->who.scopes & scope) == 0) {
			reply_error(r,
			    scope == SCOPE_INGEST        ? ERR_MISSING_SCOPE_INGEST
			        : scope == SCOPE_TRIGGER ? ERR_MISSING_SCOPE_TRIGGER
			                                 : ERR_MISSING_SCOPE,
			    NULL, NULL);
			return -1;
		}
		return 0;
	}
	if ((rc = jwt_token_verify(r->db, cred, &t)) < 0) {
		/* A genuine token past its exp: the session's lifetime is over. */
		reply_error(
		    r, rc == JWT_EXPIRED ? ERR_SESSION_EXPIRED : ERR_TOKEN_INVALID, NULL, NULL);
		return -1;
	}
	if (session_or_reply(r, &t) < 0)
		return -1;
	if (!access_role_allows(r->who.role, perm)) {
		reply_error(r, ERR_PERMISSION_DENIED, NULL, NULL);
		return -1;
	}
	return 0;
}
