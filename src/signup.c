/* signup.c: POST /v1/signup, and the organization-making step it
 * shares with `tollgate create-org`. */
#include <stdio.h>
#include <string.h>

#include "api.h"

/* An organization and its first admin to insert. */
struct org_new {
	struct req *r; /* for the audit event; NULL from the command line */
	const char *name, *email, *user_name, *hash, *org_id, *user_id;
	int *conflict;
};

static int
org_insert(struct db *db, void *arg)
{
	const struct org_new *o = arg;
	int64_t now = tg_now();
	int rc = db_run(db, STMT_ORG_INSERT, "tti", o->org_id, o->name, now);

	if (rc == DB_OK)
		rc = db_run(db, STMT_USER_INSERT, "tttttti", o->user_id, o->org_id, o->email,
		    o->user_name, "admin", o->hash, now);
	if (rc == DB_CONSTRAINT)
		*o->conflict = 1;
	if (rc == DB_OK && o->r != NULL)
		rc = audit_log(o->r, o->org_id, "signup", o->user_id, o->org_id);
	return rc;
}

int
org_create(struct db *db, struct req *r, const char *name, const char *email, const char *password,
    const char *user_name, char *org_id, char *user_id, int *conflict)
{
	char hash[128];
	struct org_new o = { r, name, email, user_name, hash, org_id, user_id, conflict };

	*conflict = 0;
	if (password_hash(password, hash, sizeof(hash)) < 0 || tg_id_new("org", org_id, 40) < 0 ||
	    tg_id_new("usr", user_id, 40) < 0)
		return DB_ERROR;
	return db_write(db, org_insert, &o);
}

/* The device credential of the device that made the account. */
struct signup_device {
	const char *user_id, *name;
	char id[40], token[DEVICE_TOKEN_LEN + 1];
};

static int
signup_device_insert(struct db *db, void *arg)
{
	struct signup_device *d = arg;

	return device_create(db, d->user_id, d->name, tg_now(), d->id, d->token);
}

void
handle_signup(struct req *r)
{
	const char *org, *email, *password, *name;
	char org_id[40], user_id[40], device[101];
	struct signup_device dev = { user_id, device, "", "" };
	struct jw w;
	int rc, conflict;

	if (!cfg.signup_open) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return;
	}
	if (json_string_or_reply(r, r->json, "organization", 1, 1, 100, &org) < 0 ||
	    json_string_or_reply(r, r->json, "email", 1, 3, 254, &email) < 0 ||
	    email_or_reply(r, email) < 0 ||
	    password_or_reply(r, r->json, "password", &password) < 0 ||
	    json_string_or_reply(r, r->json, "name", 0, 0, 100, &name) < 0)
		return;
	rc = org_create(r->db, r, org, email, password, name, org_id, user_id, &conflict);
	if (conflict) {
		reply_error(r, ERR_CONFLICT_EMAIL, NULL, NULL);
		return;
	}
	if (rc != DB_OK) {
		reply_db_error(r, rc, "signup");
		return;
	}
	/* The device that made the account gets a device credential, as a
	 * login's; without one (the store failed) it signs in as a new device. */
	device_name_of(r, NULL, device, sizeof(device));
	if (db_write(r->db, signup_device_insert, &dev) != DB_OK) {
		log_msg(r->request_id, "signup: the device credential could not be stored");
		dev.token[0] = '\0';
	}
	jw_init(&w);
	jw_object(&w, NULL);
	jw_object(&w, "organization");
	jw_string(&w, "id", org_id);
	jw_string(&w, "name", org);
	jw_string(&w, "plan", "trial");
	jw_object_end(&w);
	if (dev.token[0] != '\0')
		jw_string(&w, "deviceToken", dev.token);
	explicit_bzero(dev.token, sizeof(dev.token));
	user_write_by_id(&w, "user", r->db, user_id, org_id);
	jw_object_end(&w);
	reply_jw(r, 201, &w);
}
