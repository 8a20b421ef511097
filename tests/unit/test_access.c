/* test_access.c: the one table of roles, and access_or_reply: who may call a
 * route by its access, the role's permissions and an API key's scopes. */
#include <string.h>

#include "../../src/access.c"
#include "unit.h"

static void
test_role_table(void)
{
	/* Rows: none, viewer, member, admin; columns: none, read, write, admin. */
	static const int want[4][4] = {
		{ 1, 0, 0, 0 },
		{ 1, 1, 0, 0 },
		{ 1, 1, 1, 0 },
		{ 1, 1, 1, 1 },
	};

	for (int role = ROLE_NONE; role <= ROLE_ADMIN; role++)
		for (int perm = PERM_NONE; perm <= PERM_ADMIN; perm++)
			CHECK(access_role_allows((enum role)role, (enum perm)perm) ==
			    want[role][perm]);
}

static void
test_role_names(void)
{
	for (int role = ROLE_VIEWER; role <= ROLE_ADMIN; role++)
		CHECK(role_parse(role_name((enum role)role)) == (enum role)role);
	CHECK(strcmp(role_name(ROLE_ADMIN), "admin") == 0);
	CHECK(strcmp(role_name(ROLE_VIEWER), "viewer") == 0);
	CHECK(role_parse("none") == ROLE_NONE);
	CHECK(role_parse("Admin") == ROLE_NONE);
	CHECK(role_parse("") == ROLE_NONE && role_parse(NULL) == ROLE_NONE);
	CHECK(strcmp(scope_name(SCOPE_INGEST), "ingest") == 0);
	CHECK(strcmp(scope_name(SCOPE_TRIGGER), "trigger") == 0);
	CHECK(strcmp(scope_name(SCOPE_READ), "read") == 0);
}

static void
test_session_timeouts(void)
{
	cfg.session_idle = 600;
	CHECK(!session_timed_out(1000, 5000, 1599));
	CHECK(session_timed_out(1000, 5000, 1600)); /* idle */
	CHECK(session_timed_out(4900, 5000, 5000)); /* lifetime */
}

static struct db *db;

static void
req_as(struct req *r, const char *authorization, const char *x_api_key)
{
	char *envp[] = { NULL };

	req_init(r, envp, db);
	r->authorization = authorization;
	r->x_api_key = x_api_key;
}

/* Answers status and errorCode for a request with these credentials on a
 * route of access, perm and scope; 0 when it may go on. */
static int
check(const char *authorization, const char *key, enum access access, enum perm perm,
    unsigned scope, const char *code)
{
	struct req r;
	int rc, status;

	req_as(&r, authorization, key);
	rc = access_or_reply(&r, access, perm, scope);
	status = rc == 0 ? 0 : r.status;
	if (rc == 0 && r.replied)
		status = -1;
	if (code != NULL && (r.error_code == NULL || strcmp(r.error_code, code) != 0))
		status = -2;
	req_free(&r);
	return status;
}

static void
test_access(void)
{
	char err[256], key[APIKEY_LEN + 1], pub[APIKEY_PUBLIC_LEN + 1], hash[65], token[1024];
	char bearer[1100], viewer[1100];
	struct token t = { .sub = "usr_a", .org = "org_a", .sid = "ses_a", .jti = "jti_a" };
	int64_t now = tg_now();

	snprintf(
	    cfg.jwt_secret, sizeof(cfg.jwt_secret), "%s", "a test secret of at least 32 bytes!");
	cfg.jwt_secret_len = strlen(cfg.jwt_secret);
	cfg.session_idle = 3600;
	cfg.session_ttl = 86400;
	db = db_open(":memory:", err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) > 0);
	CHECK(db_run(db, STMT_ORG_INSERT, "tti", "org_a", "A", now) == DB_OK);
	CHECK(db_run(db, STMT_USER_INSERT, "tttttti", "usr_a", "org_a", "a@example.test", "A",
	          "admin", "x", now) == DB_OK);
	CHECK(db_run(db, STMT_USER_INSERT, "tttttti", "usr_v", "org_a", "v@example.test", "V",
	          "viewer", "x", now) == DB_OK);
	CHECK(db_run(db, STMT_SESSION_INSERT, "tttttiiit", "ses_a", "usr_a", "org_a", "d", "ip",
	          now, now, now + 86400, NULL) == DB_OK);
	CHECK(db_run(db, STMT_SESSION_INSERT, "tttttiiit", "ses_v", "usr_v", "org_a", "d", "ip",
	          now, now, now + 86400, NULL) == DB_OK);
	t.iat = now;
	t.exp = now + 86400;
	CHECK(jwt_token_issue(db, &t, token, sizeof(token)) == 0);
	snprintf(bearer, sizeof(bearer), "Bearer %s", token);
	snprintf(t.sub, sizeof(t.sub), "usr_v");
	snprintf(t.sid, sizeof(t.sid), "ses_v");
	CHECK(jwt_token_issue(db, &t, token, sizeof(token)) == 0);
	snprintf(viewer, sizeof(viewer), "Bearer %s", token);
	CHECK(apikey_new(key, pub, hash) == 0);
	CHECK(db_run(db, STMT_APIKEY_INSERT, "tttttiii", "key_a", "org_a", "ci", pub, hash,
	          (int64_t)SCOPE_INGEST, now, (int64_t)0) == DB_OK);

	/* Public routes need nothing. */
	CHECK(check(NULL, NULL, ACCESS_PUBLIC, PERM_NONE, 0, NULL) == 0);
	/* No credential, or one that is not a bearer token. */
	CHECK(check(NULL, NULL, ACCESS_USER, PERM_NONE, 0, "TOKEN_MISSING") == 401);
	CHECK(check("Basic abc", NULL, ACCESS_USER, PERM_NONE, 0, "TOKEN_INVALID") == 401);
	CHECK(check("Bearer nonsense", NULL, ACCESS_ANY, PERM_READ, SCOPE_READ, "TOKEN_INVALID") ==
	    401);
	/* Users: by the role table. */
	CHECK(check(bearer, NULL, ACCESS_USER, PERM_ADMIN, 0, NULL) == 0);
	CHECK(check(viewer, NULL, ACCESS_USER, PERM_READ, 0, NULL) == 0);
	CHECK(
	    check(viewer, NULL, ACCESS_ANY, PERM_WRITE, SCOPE_INGEST, "PERMISSION_DENIED") == 403);
	CHECK(check(viewer, NULL, ACCESS_USER, PERM_ADMIN, 0, "PERMISSION_DENIED") == 403);
	/* Keys: only on ACCESS_ANY routes, and only with the scope. */
	CHECK(check(NULL, key, ACCESS_ANY, PERM_WRITE, SCOPE_INGEST, NULL) == 0);
	CHECK(check(NULL, key, ACCESS_ANY, PERM_READ, SCOPE_READ, "MISSING_SCOPE") == 403);
	CHECK(check(NULL, key, ACCESS_USER, PERM_NONE, 0, "PERMISSION_DENIED") == 403);
	snprintf(bearer, sizeof(bearer), "Bearer %s", key);
	CHECK(check(bearer, NULL, ACCESS_ANY, PERM_WRITE, SCOPE_INGEST, NULL) == 0);
	/* An ended session: its token no longer passes. */
	CHECK(db_run(db, STMT_SESSION_END, "itt", now, "logout", "ses_v") == DB_OK);
	CHECK(check(viewer, NULL, ACCESS_USER, PERM_READ, 0, "SESSION_REVOKED") == 401);
	db_close(db);
}

int
main(void)
{
	TEST(test_role_table);
	TEST(test_role_names);
	TEST(test_session_timeouts);
	TEST(test_access);
	return unit_done();
}
