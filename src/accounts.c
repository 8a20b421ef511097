/* accounts.c: what signup, users and sessions share about an account: its
 * fields checked, its password set, its row as the API shows it. */
#include <stdio.h>
#include <string.h>

#include "api.h"

#define PASSWORD_MIN 10
#define PASSWORD_MAX 1024

/* An email address as people type them: something@something, no spaces. */
int
email_or_reply(struct req *r, const char *email)
{
	const char *at = strchr(email, '@');

	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strpbrk(email, " \t\r\n<>,;\"") != NULL) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("email"));
		reply_error(r, ERR_INVALID_BODY_EMAIL, NULL, d);
		return -1;
	}
	return 0;
}

int
password_or_reply(struct req *r, json_object *obj, const char *field, const char **out)
{
	return json_string_or_reply(r, obj, field, 1, PASSWORD_MIN, PASSWORD_MAX, out);
}

/* A password to set, and the audit event that says why. */
struct password_set {
	const char *user_id, *hash, *event;
};

static int
password_store(struct req *r, void *arg)
{
	const struct password_set *p = arg;
	int rc = db_run(r->db, STMT_USER_SET_PASSWORD, "ttt", p->user_id, r->who.org_id, p->hash);

	if (rc == DB_OK)
		rc = db_run(r->db, STMT_SESSION_REVOKE_USER, "ti", p->user_id, tg_now());
	if (rc == DB_OK)
		rc = device_revoke_user(r->db, p->user_id);
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, p->event, r->who.user_id, p->user_id);
	return rc;
}

/* Sets user_id's password to pw and revokes their sessions and device
 * credentials, in one transaction, with an audit event. Answers 204, or an
 * error. */
void
password_set_and_reply(struct req *r, const char *user_id, const char *pw, const char *event)
{
	char hash[128];
	struct password_set p = { user_id, hash, event };

	if (password_hash(pw, hash, sizeof(hash)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	if (db_tx_or_reply(r, password_store, &p, "password: set") == DB_OK)
		reply_empty(r, 204);
}

void
user_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	jw_object(w, key);
	jw_string(w, "id", db_text(db, s, 1));
	jw_string(w, "email", db_text(db, s, 2));
	jw_string(w, "name", db_isnull(db, s, 3) ? NULL : db_text(db, s, 3));
	jw_string(w, "role", db_text(db, s, 4));
	jw_time(w, "createdAt", db_int(db, s, 5));
	jw_string(w, "organizationId", db_text(db, s, 6));
	jw_object_end(w);
}

void
user_write_by_id(struct jw *w, const char *key, struct db *db, const char *id, const char *org_id)
{
	if (db_query(db, STMT_USER_GET, "tt", id, org_id) == DB_ROW)
		user_write(w, key, db, STMT_USER_GET);
	else
		jw_null(w, key);
	db_end(db, STMT_USER_GET);
}
