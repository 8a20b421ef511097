/* auth.c: /v1/auth, sign-in and the single active session. An account has at
 * most one live session: a second login gets 409 SESSION_ACTIVE, or with
 * "force" ends the first as replaced, whose token then gets
 * SESSION_REPLACED with when and from which device. A login that carries
 * the credential of the device the live session was signed in from
 * (devices.c) takes it over without "force". */
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"
#include "api.h"

#define DEVICE_MAX 100

/* The device a session is named after: the body's, else the User-Agent
 * (raw header bytes: invalid UTF-8 in it becomes U+FFFD); at most
 * DEVICE_MAX bytes, cut at a character boundary. */
void
device_name_of(const struct req *r, const char *given, char *out, size_t outlen)
{
	const char *src = given != NULL && *given != '\0'     ? given
	    : r->user_agent != NULL && *r->user_agent != '\0' ? r->user_agent
	                                                      : "unknown device";

	tg_utf8_clean(src, DEVICE_MAX, out, outlen);
}

static void
session_write(struct jw *w, const char *key, const char *id, const char *device, int64_t created,
    int64_t last_seen, int64_t expires)
{
	jw_object(w, key);
	jw_string(w, "id", id);
	jw_string(w, "device", device);
	jw_time(w, "createdAt", created);
	if (last_seen)
		jw_time(w, "lastSeenAt", last_seen);
	if (expires)
		jw_time(w, "expiresAt", expires);
	jw_object_end(w);
}

/* Inside the login transaction: ends the account's live session if it has
 * timed out, force is set or it was signed in from device_id (the device
 * this login proved it is; NULL: none); otherwise answers 409
 * SESSION_ACTIVE. A session taken over is a session.replaced event, naming
 * the device (the new session's name) taking over. Returns 1 if a session was taken over, 0 if
 * there was none to take, -1 after answering. */
static int
session_take_over_or_reply(struct req *r, const char *user_id, const char *new_sid,
    const char *device, int force, const char *device_id)
{
	struct db *db = r->db;
	int64_t now = tg_now(), last_seen, expires;
	char old[40];
	json_object *d;
	int rc = db_query(db, STMT_SESSION_LIVE_OF_USER, "t", user_id);

	if (rc != DB_ROW) {
		db_end(db, STMT_SESSION_LIVE_OF_USER);
		if (rc == DB_DONE)
			return 0;
		reply_db_error(r, rc, "login: live session");
		return -1;
	}
	snprintf(old, sizeof(old), "%s", db_text(db, STMT_SESSION_LIVE_OF_USER, 0));
	last_seen = db_int(db, STMT_SESSION_LIVE_OF_USER, 3);
	expires = db_int(db, STMT_SESSION_LIVE_OF_USER, 4);
	if (now - last_seen >= cfg.session_idle || now >= expires) {
		db_end(db, STMT_SESSION_LIVE_OF_USER);
		rc = db_run(db, STMT_SESSION_END, "itt", now, "expired", old);
		if (rc != DB_OK) {
			reply_db_error(r, rc, "login: expire");
			return -1;
		}
		return 0;
	}
	if (device_id != NULL && !db_isnull(db, STMT_SESSION_LIVE_OF_USER, 5) &&
	    strcmp(db_text(db, STMT_SESSION_LIVE_OF_USER, 5), device_id) == 0)
		force = 1; /* the same device signing in again */
	if (!force) {
		/* activeSession shows device, createdAt, lastSeenAt, not the id. */
		json_object *active = json_object_new_object();

		json_object_object_add(active, "device",
		    json_object_new_string(db_text(db, STMT_SESSION_LIVE_OF_USER, 1)));
		json_object_object_add(
		    active, "createdAt", json_time(db_int(db, STMT_SESSION_LIVE_OF_USER, 2)));
		json_object_object_add(active, "lastSeenAt", json_time(last_seen));
		db_end(db, STMT_SESSION_LIVE_OF_USER);
		d = json_object_new_object();
		json_object_object_add(d, "activeSession", active);
		reply_error(r, ERR_SESSION_ACTIVE, NULL, d);
		return -1;
	}
	db_end(db, STMT_SESSION_LIVE_OF_USER);
	rc = db_run(db, STMT_SESSION_REPLACE, "itt", now, new_sid, old);
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "session.takeover", user_id, old);
	if (rc == DB_OK)
		rc = webhook_session_replaced(db, r->who.org_id, user_id, old, new_sid, device);
	if (rc != DB_OK) {
		reply_db_error(r, rc, "login: replace");
		return -1;
	}
	return 1;
}

/* A session to start, and the one it may take over (force, or the same
 * device). hash is the password hash the login was checked against. A
 * device that proved itself (device_id set, known) keeps its credential; a
 * new one, or one revoked since it was looked up (known then becomes 0),
 * gets one, in device_id and new_token. */
struct session_new {
	const char *sid, *user_id, *org_id, *device, *hash;
	int force, known;
	int64_t now, exp;
	char *device_id; /* 40 bytes */
	char *new_token; /* DEVICE_TOKEN_LEN + 1 bytes */
};

static int
session_insert(struct req *r, void *arg)
{
	struct session_new *n = arg;
	int rc = db_query(r->db, STMT_USER_HASH, "t", n->user_id), same;

	/* The password checked is still the account's: a password change that
	 * committed meanwhile (and revoked every session) wins. */
	same = rc == DB_ROW && strcmp(db_text(r->db, STMT_USER_HASH, 0), n->hash) == 0;
	db_end(r->db, STMT_USER_HASH);
	if (rc != DB_ROW && rc != DB_DONE)
		return rc;
	if (!same) {
		reply_error(r, ERR_INVALID_CREDENTIALS, NULL, NULL);
		return -1;
	}
	if (session_take_over_or_reply(
	        r, n->user_id, n->sid, n->device, n->force, n->known ? n->device_id : NULL) < 0)
		return -1;
	rc = n->known ? device_touch(r->db, n->device_id, n->now) : DB_OK;
	if (rc == DB_OK && n->known && db_changes(r->db) == 0)
		n->known = 0; /* revoked since it was looked up: a new device */
	if (rc == DB_OK && !n->known)
		rc =
		    device_create(r->db, n->user_id, n->device, n->now, n->device_id, n->new_token);
	if (rc == DB_OK)
		rc = db_run(r->db, STMT_SESSION_INSERT, "tttttiiit", n->sid, n->user_id, n->org_id,
		    n->device, r->client_ip, n->now, n->now, n->exp, n->device_id);
	if (rc == DB_OK)
		rc = audit_log(r, n->org_id, "login", n->user_id, n->sid);
	return rc;
}

void
handle_login(struct req *r)
{
	const char *email, *password, *device_in, *device_token;
	char user_id[40], org_id[40], hash[256], sid[40], device[DEVICE_MAX + 1], token[2048];
	char device_id[40], new_device_token[DEVICE_TOKEN_LEN + 1];
	const char *subject;
	struct token t;
	struct session_new n;
	struct jw w;
	int force = 0, rc, found, known_device = 0;
	int64_t now;

	if (json_string_or_reply(r, r->json, "email", 1, 1, 254, &email) < 0 ||
	    json_string_or_reply(r, r->json, "password", 1, 0, 1024, &password) < 0 ||
	    json_string_or_reply(r, r->json, "device", 0, 0, 1000, &device_in) < 0 ||
	    json_string_or_reply(r, r->json, "deviceToken", 0, 0, 1000, &device_token) < 0 ||
	    json_bool_or_reply(r, r->json, "force", &force) < 0)
		return;
	rc = db_query(r->db, STMT_USER_BY_EMAIL, "t", email);
	found = rc == DB_ROW;
	if (found) {
		snprintf(user_id, sizeof(user_id), "%s", db_text(r->db, STMT_USER_BY_EMAIL, 0));
		snprintf(org_id, sizeof(org_id), "%s", db_text(r->db, STMT_USER_BY_EMAIL, 1));
		snprintf(hash, sizeof(hash), "%s", db_text(r->db, STMT_USER_BY_EMAIL, 2));
	}
	db_end(r->db, STMT_USER_BY_EMAIL);
	if (rc != DB_ROW && rc != DB_DONE) {
		reply_db_error(r, rc, "login: user");
		return;
	}
	/* A device credential of this account moves the attempt to the
	 * device's budget; any other (revoked, unknown, another's) is none.
	 * An unknown email looks one up too, for a user id no row has, so
	 * both take the same work. */
	rc = device_find(r->db, found ? user_id : "usr_none", device_token, device_id);
	if (rc != DB_ROW && rc != DB_DONE) {
		reply_db_error(r, rc, "login: device");
		return;
	}
	known_device = found && rc == DB_ROW;
	subject = !found ? email : known_device ? device_id : user_id;
	/* Too many failed sign-ins for this account, device or email: 429
	 * before any hashing. */
	if (ratelimit_signin_take_or_reply(r, subject, found ? user_id : NULL,
	        known_device ? SIGNIN_DEVICE : SIGNIN_ACCOUNT) < 0)
		return;
	/* Unknown email and wrong password: the same work, the same answer. */
	if (!password_verify(found ? hash : NULL, password)) {
		/* The audit write too, for an unknown email under no organization
		 * (no admin sees it), so both take the same time. */
		if (audit_log(r, found ? org_id : NULL, "login.failed", found ? user_id : NULL,
		        found ? user_id : NULL) != DB_OK)
			log_msg(r->request_id, "login: the failure could not be audited");
		memset(&r->who, 0, sizeof(r->who));
		reply_error(r, ERR_INVALID_CREDENTIALS, NULL, NULL);
		return; /* the failure taken stays taken */
	}
	ratelimit_signin_refund(r, subject);
	snprintf(r->who.org_id, sizeof(r->who.org_id), "%s", org_id);
	device_name_of(r, device_in, device, sizeof(device));
	now = tg_now();
	memset(&t, 0, sizeof(t));
	if (tg_id_new("ses", sid, sizeof(sid)) < 0 || tg_id_new("jti", t.jti, sizeof(t.jti)) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	snprintf(t.sub, sizeof(t.sub), "%s", user_id);
	snprintf(t.org, sizeof(t.org), "%s", org_id);
	snprintf(t.sid, sizeof(t.sid), "%s", sid);
	t.iat = now;
	t.exp = now + cfg.session_ttl;
	if (jwt_token_issue(r->db, &t, token, sizeof(token)) < 0) {
		log_msg(r->request_id, "login: cannot sign a token");
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	n.sid = sid;
	n.user_id = user_id;
	n.org_id = org_id;
	n.device = device;
	n.hash = hash;
	n.force = force;
	n.known = known_device;
	n.now = now;
	n.exp = t.exp;
	n.device_id = device_id;
	n.new_token = new_device_token;
	if (db_tx_or_reply(r, session_insert, &n, "login: insert") != DB_OK) {
		explicit_bzero(new_device_token, sizeof(new_device_token));
		return;
	}
	r->who.kind = PRINCIPAL_USER;
	snprintf(r->who.user_id, sizeof(r->who.user_id), "%s", user_id);
	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "token", token);
	jw_string(&w, "tokenType", "Bearer");
	jw_time(&w, "expiresAt", t.exp);
	jw_string(&w, "deviceToken", n.known ? device_token : new_device_token);
	session_write(&w, "session", sid, device, now, 0, 0);
	user_write_by_id(&w, "user", r->db, user_id, org_id);
	explicit_bzero(new_device_token, sizeof(new_device_token));
	jw_object_end(&w);
	reply_jw(r, 200, &w);
}

static int
session_end(struct req *r, void *arg)
{
	int rc = db_run(r->db, STMT_SESSION_END, "itt", tg_now(), "logout", r->who.session_id);

	(void)arg;
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "logout", r->who.user_id, r->who.session_id);
	return rc;
}

/* Ends the caller's session with reason ("logout") and answers 204. */
void
handle_logout(struct req *r)
{
	if (db_tx_or_reply(r, session_end, NULL, "logout") == DB_OK)
		reply_empty(r, 204);
}

void
handle_session_get(struct req *r)
{
	struct db *db = r->db;
	struct jw w;
	int rc = db_query(db, STMT_SESSION_VIEW, "t", r->who.session_id);

	if (rc != DB_ROW) {
		db_end(db, STMT_SESSION_VIEW);
		reply_db_error(r, rc == DB_DONE ? DB_ERROR : rc, "session: get");
		return;
	}
	jw_init(&w);
	jw_object(&w, NULL);
	session_write(&w, "session", r->who.session_id, db_text(db, STMT_SESSION_VIEW, 7),
	    db_int(db, STMT_SESSION_VIEW, 8), db_int(db, STMT_SESSION_VIEW, 9),
	    db_int(db, STMT_SESSION_VIEW, 10));
	user_write(&w, "user", db, STMT_SESSION_VIEW);
	jw_object(&w, "organization");
	jw_string(&w, "id", r->who.org_id);
	jw_string(&w, "name", db_text(db, STMT_SESSION_VIEW, 11));
	jw_string(&w, "plan", db_text(db, STMT_SESSION_VIEW, 12));
	jw_object_end(&w);
	jw_object_end(&w);
	db_end(db, STMT_SESSION_VIEW);
	reply_jw(r, 200, &w);
}

/* The current password is checked against a failed sign-in budget (a
 * stolen token may not guess it forever) that failed logins cannot spend:
 * the device's the session was signed in from, else one of this endpoint's
 * own ("password:<user id>"). A wrong one is audited as
 * "password.change_failed" and stays taken. */
void
handle_password_change(struct req *r)
{
	const char *current, *next;
	char hash[256] = "", subject[64];
	enum signin_budget budget = SIGNIN_PASSWORD;
	json_object *d;
	int rc;

	if (json_string_or_reply(r, r->json, "currentPassword", 1, 0, 1024, &current) < 0 ||
	    password_or_reply(r, r->json, "newPassword", &next) < 0)
		return;
	rc = db_query(r->db, STMT_USER_HASH, "t", r->who.user_id);
	if (rc == DB_ROW)
		snprintf(hash, sizeof(hash), "%s", db_text(r->db, STMT_USER_HASH, 0));
	db_end(r->db, STMT_USER_HASH);
	if (rc != DB_ROW) {
		reply_db_error(r, rc == DB_DONE ? DB_ERROR : rc, "password: user");
		return;
	}
	rc = db_query(r->db, STMT_SESSION_DEVICE, "t", r->who.session_id);
	if (rc == DB_ROW) {
		snprintf(subject, sizeof(subject), "%s", db_text(r->db, STMT_SESSION_DEVICE, 0));
		budget = SIGNIN_DEVICE;
	} else
		snprintf(subject, sizeof(subject), "password:%s", r->who.user_id);
	db_end(r->db, STMT_SESSION_DEVICE);
	if (rc != DB_ROW && rc != DB_DONE) {
		reply_db_error(r, rc, "password: device");
		return;
	}
	if (ratelimit_signin_take_or_reply(r, subject, r->who.user_id, budget) < 0)
		return;
	if (!password_verify(hash, current)) {
		rc = audit_log(
		    r, r->who.org_id, "password.change_failed", r->who.user_id, r->who.user_id);
		if (rc != DB_OK) {
			reply_db_error(r, rc, "password: audit");
			return;
		}
		d = json_object_new_object();
		json_object_object_add(d, "field", json_object_new_string("currentPassword"));
		reply_error(r, ERR_INVALID_CREDENTIALS_CURRENT, NULL, d);
		return;
	}
	ratelimit_signin_refund(r, subject);
	password_set_and_reply(r, r->who.user_id, next, "password.changed");
}
