/* test_router.c: route matching, 404/405, and the body checks before handlers. */
#include <string.h>
#include <unistd.h>

#include "../../src/router.c"
#include "../../src/ratelimit.h"
#include "feed.h"
#include "unit.h"

static int handled;

static void
fake_handler(struct req *r)
{
	handled++;
	reply_empty(r, 204);
}

static const struct route json_route = { M_POST, "/v1/x", fake_handler, BODY_JSON, PUBLIC };
static const struct route csv_route = { M_POST, "/v1/x", fake_handler, BODY_CSV, PUBLIC };
static const struct route opt_route = { M_POST, "/v1/x", fake_handler, BODY_JSON_OPT, PUBLIC };

static void
req_for(struct req *r, const char *method, const char *path)
{
	char m[32], p[256];
	char *envp[] = { m, p, NULL };

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(p, sizeof(p), "DOCUMENT_URI=%s", path);
	req_init(r, envp, NULL);
	r->path = strdup(r->path); /* envp is on this stack frame */
}

static void
test_match(void)
{
	struct req r;

	memset(&r, 0, sizeof(r));
	CHECK(route_match("/v1/health", "/v1/health", &r));
	CHECK(!route_match("/v1/health", "/v1/health/", &r));
	CHECK(!route_match("/v1/health", "/v1/healt", &r));
	CHECK(route_match("/v1/tables/{id}/records", "/v1/tables/tbl_abc-1/records", &r));
	CHECK(r.nparams == 1 && strcmp(r.params[0], "tbl_abc-1") == 0);
	CHECK(!route_match("/v1/tables/{id}/records", "/v1/tables//records", &r));
	CHECK(!route_match("/v1/tables/{id}", "/v1/tables/..", &r));
	CHECK(!route_match("/v1/tables/{id}", "/v1/tables/a%2Fb", &r));
	CHECK(!route_match("/v1/tables/{id}", "/v1/tables/a'b", &r));
	char longid[100];
	memset(longid, 'a', sizeof(longid));
	longid[99] = '\0';
	char path[200];
	snprintf(path, sizeof(path), "/v1/tables/%s", longid);
	CHECK(!route_match("/v1/tables/{id}", path, &r));
}

static void
test_404_405(void)
{
	struct req r;

	req_for(&r, "GET", "/v1/nope");
	router_handle(&r, feed_read, NULL);
	CHECK(r.status == 404 && strcmp(r.error_code, "NOT_FOUND") == 0);
	free((char *)r.path);
	req_free(&r);

	req_for(&r, "DELETE", "/v1/health");
	router_handle(&r, feed_read, NULL);
	CHECK(r.status == 405);
	CHECK(strstr(r.headers, "Allow: GET\r\n") != NULL);
	CHECK(strstr(r.resp_body, "\"METHOD_NOT_ALLOWED\"") != NULL);
	free((char *)r.path);
	req_free(&r);

	req_for(&r, "BREW", "/v1/health");
	router_handle(&r, feed_read, NULL);
	CHECK(r.status == 405);
	free((char *)r.path);
	req_free(&r);
}

/* Runs the body checks of route on a request with these headers and body. */
static int
body_case(const struct route *route, const char *ct, long long cl, const char *body, struct feed *f,
    struct req *r)
{
	req_for(r, "POST", "/v1/x");
	r->route = route;
	r->content_type = ct;
	r->content_length = cl;
	feed_set(f, body, body ? strlen(body) : 0);
	return body_check_or_reply(r, feed_read, f);
}

static void
test_body_checks(void)
{
	struct req r;
	struct feed f;

	cfg.max_body = 1024;
	CHECK(body_case(&json_route, "application/json", 7, "{\"a\":1}", &f, &r) == 0);
	CHECK(r.json != NULL && !r.replied);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, "application/json; charset=utf-8", 2, "{}", &f, &r) == 0);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, "text/plain", 2, "{}", &f, &r) < 0);
	CHECK(r.status == 415 && strcmp(r.error_code, "UNSUPPORTED_MEDIA_TYPE") == 0);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, NULL, 2, "{}", &f, &r) < 0 && r.status == 415);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&csv_route, "application/json", 2, "{}", &f, &r) < 0 && r.status == 415);
	free((char *)r.path), req_free(&r);

	/* 413 from Content-Length alone: the body is never read. */
	CHECK(body_case(&json_route, "application/json", 1025, "{}", &f, &r) < 0);
	CHECK(r.status == 413 && f.reads == 0);
	free((char *)r.path), req_free(&r);

	/* No Content-Length: read up to the cap, then 413. */
	static char big[2048];
	memset(big, ' ', sizeof(big) - 1);
	CHECK(body_case(&json_route, "application/json", -1, big, &f, &r) < 0 && r.status == 413);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, "application/json", 10, "{}", &f, &r) < 0);
	CHECK(r.status == 400 && strcmp(r.error_code, "INVALID_BODY") == 0);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, "application/json", 1, "[", &f, &r) < 0 && r.status == 400);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, "application/json", 2, "[]", &f, &r) < 0 && r.status == 400);
	CHECK(strstr(r.resp_body, "must be a JSON object") != NULL);
	free((char *)r.path), req_free(&r);

	CHECK(body_case(&json_route, "application/json", -2, "{}", &f, &r) < 0 && r.status == 400);
	free((char *)r.path), req_free(&r);

	/* An optional body left out, as nginx passes it (empty CONTENT_TYPE and
	 * CONTENT_LENGTH): no body, no 415. Regression: POST .../trigger was 415. */
	CHECK(body_case(&opt_route, "", -1, NULL, &f, &r) == 0 && r.json == NULL && !r.replied);
	free((char *)r.path), req_free(&r);
	CHECK(body_case(&opt_route, NULL, 0, NULL, &f, &r) == 0 && !r.replied);
	free((char *)r.path), req_free(&r);
	CHECK(body_case(&opt_route, "text/plain", 2, "{}", &f, &r) < 0 && r.status == 415);
	free((char *)r.path), req_free(&r);
}

/* Reads a streamed body with req_body_read_or_reply in pieces of n bytes:
 * the bytes read, or -1 when it answered. */
static long
stream_all(struct req *r, size_t n)
{
	char buf[600];
	long got, total = 0;

	while ((got = req_body_read_or_reply(r, buf, n)) > 0)
		total += got;
	return got < 0 ? -1 : total;
}

/* A text/csv body is left to the handler, and held to the cap and its
 * Content-Length as it is read. */
static void
test_streamed_body(void)
{
	static char big[3000];
	struct feed f;
	struct req r;
	char buf[64];

	cfg.max_body = 1024;
	memset(big, 'x', sizeof(big) - 1);
	CHECK(body_case(&csv_route, "text/csv", 4, "a\n1\n", &f, &r) == 0 && f.reads == 0);
	CHECK(r.body == NULL && !r.replied);
	CHECK(stream_all(&r, 3) == 4 && !r.replied);
	free((char *)r.path), req_free(&r);

	/* No Content-Length: 413 once the bytes pass the cap, not before. */
	CHECK(body_case(&csv_route, "text/csv", -1, big, &f, &r) == 0 && f.reads == 0);
	CHECK(stream_all(&r, 100) == -1 && r.status == 413);
	CHECK(f.at <= 1024 + 100);
	free((char *)r.path), req_free(&r);
	big[1024] = '\0';
	CHECK(body_case(&csv_route, "text/csv", -1, big, &f, &r) == 0);
	CHECK(stream_all(&r, 100) == 1024 && !r.replied);
	free((char *)r.path), req_free(&r);

	/* A body shorter than its Content-Length is 400 when it ends. */
	CHECK(body_case(&csv_route, "text/csv", 10, "a\n", &f, &r) == 0);
	CHECK(stream_all(&r, 100) == -1 && r.status == 400);
	free((char *)r.path), req_free(&r);

	/* What a handler leaves is read and dropped, up to the Content-Length. */
	CHECK(body_case(&csv_route, "text/csv", 1000, big, &f, &r) == 0);
	CHECK(req_body_read_or_reply(&r, buf, sizeof(buf)) == sizeof(buf));
	body_rest_discard(&r);
	CHECK(f.at == 1000 && r.body_have == 1000);
	free((char *)r.path), req_free(&r);
	big[1024] = 'x';
}

static void
test_request_id(void)
{
	char m[] = "REQUEST_METHOD=GET", good[] = "HTTP_X_REQUEST_ID=abc-123.x",
	     bad[] = "HTTP_X_REQUEST_ID=a b<script>";
	char *e1[] = { m, good, NULL }, *e2[] = { m, bad, NULL }, *e3[] = { m, NULL };
	struct req r1, r2, r3;

	req_init(&r1, e1, NULL);
	req_init(&r2, e2, NULL);
	req_init(&r3, e3, NULL);
	CHECK(strcmp(r1.request_id, "abc-123.x") == 0);
	CHECK(strlen(r2.request_id) == 26 && strchr(r2.request_id, ' ') == NULL);
	CHECK(strlen(r3.request_id) == 26 && strcmp(r2.request_id, r3.request_id) != 0);
}

/* The route found while deciding where a request runs is the one used:
 * the table is searched once a request. */
static void
test_route_kdf(void)
{
	struct req r;

	req_for(&r, "POST", "/v1/auth/login");
	CHECK(router_route_kdf(&r) == 1 && r.route != NULL && r.route->handler == handle_login);
	free((char *)r.path);
	req_for(&r, "GET", "/v1/projects/prj_1");
	CHECK(router_route_kdf(&r) == 0 && r.route != NULL);
	CHECK(r.nparams == 1 && strcmp(r.params[0], "prj_1") == 0);
	CHECK(route_find_or_reply(&r) == r.route && !r.replied);
	free((char *)r.path);
	/* Every route that hashes a password, and only those, goes to them. */
	for (size_t i = 0; i < NROUTES; i++) {
		handler_fn *h = routes[i].handler;
		int hashes = h == handle_signup || h == handle_login ||
		    h == handle_password_change || h == handle_users_create ||
		    h == handle_users_password_reset;

		CHECK(routes[i].kdf == hashes);
	}
	req_for(&r, "DELETE", "/v1/health");
	CHECK(router_route_kdf(&r) == 0 && r.route == NULL);
	CHECK(route_find_or_reply(&r) == NULL && r.status == 405);
	free((char *)r.path);
	req_free(&r);
}

static void
test_split_path(void)
{
	char m[] = "REQUEST_METHOD=GET", sn[] = "SCRIPT_NAME=/v1", pi[] = "PATH_INFO=/health",
	     du[] = "DOCUMENT_URI=/v1/users";
	char *split[] = { m, sn, pi, NULL }, *both[] = { m, sn, pi, du, NULL };
	struct req r;

	req_init(&r, split, NULL);
	CHECK(strcmp(r.path, "/v1/health") == 0);
	req_init(&r, both, NULL);
	CHECK(strcmp(r.path, "/v1/users") == 0);
}

static void
test_query(void)
{
	struct req r;
	char out[32];

	memset(&r, 0, sizeof(r));
	r.query = "limit=10&cursor=a%2Bb&x=&empty";
	CHECK(req_query_get(&r, "limit", out, sizeof(out)) && strcmp(out, "10") == 0);
	CHECK(req_query_get(&r, "cursor", out, sizeof(out)) && strcmp(out, "a+b") == 0);
	CHECK(req_query_get(&r, "x", out, sizeof(out)) && strcmp(out, "") == 0);
	CHECK(!req_query_get(&r, "lim", out, sizeof(out)));
	CHECK(!req_query_get(&r, "empty", out, sizeof(out)));
}

int
main(void)
{
	char dir[] = "/tmp/tollgate-router-XXXXXX", db[64], err[256];

	/* router_handle counts every request: it needs an open limiter. */
	if (mkdtemp(dir) == NULL || config_load(NULL, err, sizeof(err)) < 0)
		return 1;
	snprintf(db, sizeof(db), "%s/t.db", dir);
	if (ratelimit_open(db, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		return 1;
	}
	TEST(test_match);
	TEST(test_404_405);
	TEST(test_body_checks);
	TEST(test_streamed_body);
	TEST(test_request_id);
	TEST(test_route_kdf);
	TEST(test_split_path);
	TEST(test_query);
	ratelimit_close();
	snprintf(err, sizeof(err), "%s-ratelimit", db);
	unlink(err);
	rmdir(dir);
	return unit_done();
}
