/* users.c: the people of an organization and their roles (admins only).
 * The last admin can be neither demoted nor deleted; deleting a user or
 * resetting their password ends their session. */
#include <stdio.h>
#include <string.h>

#include "api.h"

static int
role_or_reply(struct req *r, enum role *out)
{
	const char *s;

	if (json_string_or_reply(r, r->json, "role", 1, 1, 16, &s) < 0)
		return -1;
	if ((*out = role_parse(s)) == ROLE_NONE) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("role"));
		reply_error(r, ERR_INVALID_BODY_ROLE, NULL, d);
		return -1;
	}
	return 0;
}

/* Answers the user row of id (in the caller's organization) with status. */
static void
reply_user(struct req *r, const char *id, int status)
{
	reply_row(r, STMT_USER_GET, db_query(r->db, STMT_USER_GET, "tt", id, r->who.org_id), status,
	    user_write, "users: get");
}

void
handle_users_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	reply_rows(r, STMT_USER_LIST,
	    db_query(r->db, STMT_USER_LIST, "tii", r->who.org_id, p.after, (int64_t)p.limit + 1),
	    &p, user_write, "users: list");
}

struct user_new {
	const char *id, *email, *name, *hash;
	enum role role;
};

static int
user_insert(struct req *r, void *arg)
{
	const struct user_new *u = arg;
	int rc;

	if (meter_take_or_reply(r, METER_USERS, 1, NULL) < 0)
		return -1;
	rc = db_run(r->db, STMT_USER_INSERT, "tttttti", u->id, r->who.org_id, u->email, u->name,
	    role_name(u->role), u->hash, tg_now());
	if (rc == DB_CONSTRAINT)
		reply_error(r, ERR_CONFLICT_EMAIL, NULL, NULL);
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "user.created", r->who.user_id, u->id);
	return rc;
}

void
handle_users_create(struct req *r)
{
	const char *email, *password, *name;
	char id[40], hash[128];
	struct user_new u;
	enum role role;

	if (json_string_or_reply(r, r->json, "email", 1, 3, 254, &email) < 0 ||
	    email_or_reply(r, email) < 0 ||
	    password_or_reply(r, r->json, "password", &password) < 0 ||
	    role_or_reply(r, &role) < 0 ||
	    json_string_or_reply(r, r->json, "name", 0, 0, 100, &name) < 0)
		return;
	if (tg_id_new("usr", id, sizeof(id)) < 0 ||
	    password_hash(password, hash, sizeof(hash)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	u.id = id;
	u.email = email;
	u.name = name;
	u.role = role;
	u.hash = hash;
	if (db_tx_or_reply(r, user_insert, &u, "users: insert") == DB_OK)
		reply_user(r, id, 201);
}

/* Inside a transaction: answers 409 and returns -1 when id is the
 * organization's last admin; 404 when there is no such user. */
static int
not_last_admin_or_reply(struct req *r, const char *id)
{
	int rc = db_query(r->db, STMT_USER_GET, "tt", id, r->who.org_id), admin;

	admin = rc == DB_ROW && strcmp(db_text(r->db, STMT_USER_GET, 4), "admin") == 0;
	db_end(r->db, STMT_USER_GET);
	if (rc != DB_ROW) {
		if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		else
			reply_db_error(r, rc, "users: get");
		return -1;
	}
	if (!admin)
		return 0;
	rc = db_query(r->db, STMT_USER_COUNT_ADMINS, "t", r->who.org_id);
	admin = rc == DB_ROW ? (int)db_int(r->db, STMT_USER_COUNT_ADMINS, 0) : -1;
	db_end(r->db, STMT_USER_COUNT_ADMINS);
	if (admin < 0) {
		reply_db_error(r, rc, "users: admins");
		return -1;
	}
	if (admin <= 1) {
		reply_error(r, ERR_CONFLICT_LAST_ADMIN, NULL, NULL);
		return -1;
	}
	return 0;
}

static int
user_role_set(struct req *r, void *arg)
{
	enum role role = *(const enum role *)arg;
	int rc;

	if (role != ROLE_ADMIN && not_last_admin_or_reply(r, r->params[0]) < 0)
		return -1;
	rc = db_run(r->db, STMT_USER_SET_ROLE, "ttt", r->params[0], r->who.org_id, role_name(role));
	if (rc == DB_OK && db_changes(r->db) == 0) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "role.changed", r->who.user_id, r->params[0]);
	return rc;
}

void
handle_users_update(struct req *r)
{
	enum role role;

	if (role_or_reply(r, &role) < 0)
		return;
	if (db_tx_or_reply(r, user_role_set, &role, "users: role") == DB_OK)
		reply_user(r, r->params[0], 200);
}

static int
user_delete(struct req *r, void *arg)
{
	int rc;

	(void)arg;
	if (not_last_admin_or_reply(r, r->params[0]) < 0)
		return -1;
	/* Their session rows go with them: the token then gets SESSION_REVOKED. */
	rc = db_run(r->db, STMT_USER_DELETE, "tt", r->params[0], r->who.org_id);
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "user.deleted", r->who.user_id, r->params[0]);
	return rc;
}

void
handle_users_delete(struct req *r)
{
	if (db_tx_or_reply(r, user_delete, NULL, "users: delete") == DB_OK)
		reply_empty(r, 204);
}

static int
user_session_revoke(struct req *r, void *arg)
{
	int rc = db_query(r->db, STMT_USER_GET, "tt", r->params[0], r->who.org_id);

	(void)arg;
	db_end(r->db, STMT_USER_GET);
	if (rc == DB_DONE) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return -1;
	}
	if (rc == DB_ROW)
		rc = db_run(r->db, STMT_SESSION_REVOKE_USER, "ti", r->params[0], tg_now());
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "session.revoked", r->who.user_id, r->params[0]);
	return rc;
}

void
handle_users_session_delete(struct req *r)
{
	if (db_tx_or_reply(r, user_session_revoke, NULL, "users: end session") == DB_OK)
		reply_empty(r, 204);
}

void
handle_users_password_reset(struct req *r)
{
	const char *pw;
	int rc;

	if (password_or_reply(r, r->json, "newPassword", &pw) < 0)
		return;
	rc = db_query(r->db, STMT_USER_GET, "tt", r->params[0], r->who.org_id);
	db_end(r->db, STMT_USER_GET);
	if (rc != DB_ROW) {
		if (rc == DB_DONE)
			reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		else
			reply_db_error(r, rc, "users: get");
		return;
	}
	password_set_and_reply(r, r->params[0], pw, "password.reset");
}
