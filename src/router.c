/* router.c: the route table (every path Tollgate answers, who may call it,
 * what body it takes) and the checks made before any handler runs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratelimit.h"
#include "api.h"

typedef void handler_fn(struct req *r);

enum body_kind {
	BODY_NONE, /* any body is ignored, never read */
	BODY_JSON, /* a JSON object, required */
	BODY_JSON_OPT, /* a JSON object, or no body at all */
	BODY_CSV, /* text/csv, streamed: the handler reads it as it arrives */
	/* A JSON object or NDJSON lines, read whole before the handler (the
	 * JSON parsed, NDJSON split by the handler). Like BODY_CSV it may be
	 * sent gzip-compressed (body.c). */
	BODY_RECORDS,
};

struct route {
	enum method method;
	const char *pattern; /* "{id}" (or another {name}) matches one id segment */
	handler_fn *handler;
	enum body_kind body;
	enum access access; /* who may call it */
	enum perm perm; /* what a user's role must allow */
	unsigned scope; /* the scope an API key needs (0: users only) */
	int kdf; /* runs argon2id: served on fcgi.c's KDF threads, not a worker */
};

#define PUBLIC ACCESS_PUBLIC, PERM_NONE, 0, 0
#define USER(perm) ACCESS_USER, perm, 0, 0
#define ANY(perm, scope) ACCESS_ANY, perm, scope, 0
/* The same, for a handler that hashes a password (tens of milliseconds of
 * CPU and 19 MiB each): its requests go to fcgi.c's KDF threads. */
#define PUBLIC_KDF ACCESS_PUBLIC, PERM_NONE, 0, 1
#define USER_KDF(perm) ACCESS_USER, perm, 0, 1

/* Every route, in the order a reader looks for them. */
static const struct route routes[] = {
	{ M_GET, "/v1/health", handle_health, BODY_NONE, PUBLIC },
	/* Answers only with TOLLGATE_METRICS_TOKEN set, to its bearer. */
	{ M_GET, "/v1/metrics", handle_metrics, BODY_NONE, PUBLIC },
	{ M_GET, "/v1/openapi.json", handle_openapi, BODY_NONE, PUBLIC },

	{ M_POST, "/v1/signup", handle_signup, BODY_JSON, PUBLIC_KDF },
	{ M_POST, "/v1/auth/login", handle_login, BODY_JSON, PUBLIC_KDF },
	{ M_POST, "/v1/auth/logout", handle_logout, BODY_NONE, USER(PERM_NONE) },
	{ M_GET, "/v1/auth/session", handle_session_get, BODY_NONE, USER(PERM_NONE) },
	{ M_POST, "/v1/auth/password", handle_password_change, BODY_JSON, USER_KDF(PERM_NONE) },
	{ M_GET, "/v1/auth/devices", handle_devices_list, BODY_NONE, USER(PERM_NONE) },
	{ M_DELETE, "/v1/auth/devices/{id}", handle_devices_delete, BODY_NONE, USER(PERM_NONE) },
	{ M_GET, "/v1/auth/activity", handle_activity_get, BODY_NONE, USER(PERM_NONE) },

	{ M_GET, "/v1/users", handle_users_list, BODY_NONE, USER(PERM_ADMIN) },
	{ M_POST, "/v1/users", handle_users_create, BODY_JSON, USER_KDF(PERM_ADMIN) },
	{ M_PATCH, "/v1/users/{id}", handle_users_update, BODY_JSON, USER(PERM_ADMIN) },
	{ M_DELETE, "/v1/users/{id}", handle_users_delete, BODY_NONE, USER(PERM_ADMIN) },
	{ M_DELETE, "/v1/users/{id}/session", handle_users_session_delete, BODY_NONE,
	    USER(PERM_ADMIN) },
	{ M_POST, "/v1/users/{id}/password", handle_users_password_reset, BODY_JSON,
	    USER_KDF(PERM_ADMIN) },
	{ M_GET, "/v1/users/{id}/activity", handle_users_activity_get, BODY_NONE,
	    USER(PERM_ADMIN) },

	{ M_POST, "/v1/api-keys", handle_api_keys_create, BODY_JSON, USER(PERM_ADMIN) },
	{ M_GET, "/v1/api-keys", handle_api_keys_list, BODY_NONE, USER(PERM_ADMIN) },
	{ M_GET, "/v1/api-keys/{id}", handle_api_keys_get, BODY_NONE, USER(PERM_ADMIN) },
	{ M_DELETE, "/v1/api-keys/{id}", handle_api_keys_delete, BODY_NONE, USER(PERM_ADMIN) },
	{ M_POST, "/v1/api-keys/{id}/rotate", handle_api_keys_rotate, BODY_JSON_OPT,
	    USER(PERM_ADMIN) },

	{ M_GET, "/v1/projects", handle_projects_list, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
	{ M_POST, "/v1/projects", handle_projects_create, BODY_JSON, USER(PERM_WRITE) },
	{ M_GET, "/v1/projects/{id}", handle_projects_get, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
	{ M_DELETE, "/v1/projects/{id}", handle_projects_delete, BODY_NONE, USER(PERM_WRITE) },

	{ M_POST, "/v1/projects/{id}/tables", handle_tables_create, BODY_JSON, USER(PERM_WRITE) },
	{ M_GET, "/v1/projects/{id}/tables", handle_tables_list, BODY_NONE,
	    ANY(PERM_READ, SCOPE_READ) },
	{ M_GET, "/v1/tables/{id}", handle_tables_get, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
	{ M_DELETE, "/v1/tables/{id}", handle_tables_delete, BODY_NONE, USER(PERM_WRITE) },
	{ M_POST, "/v1/tables/{id}/import", handle_tables_import, BODY_CSV, USER(PERM_WRITE) },
	{ M_POST, "/v1/tables/{id}/publish", handle_tables_publish, BODY_NONE, USER(PERM_WRITE) },
	{ M_POST, "/v1/tables/{id}/records", handle_records_ingest, BODY_RECORDS,
	    ANY(PERM_WRITE, SCOPE_INGEST) },
	{ M_GET, "/v1/tables/{id}/records", handle_records_list, BODY_NONE,
	    ANY(PERM_READ, SCOPE_READ) },

	{ M_GET, "/v1/billing/usage", handle_billing_usage, BODY_NONE,
	    ANY(PERM_ADMIN, SCOPE_READ) },
	{ M_GET, "/v1/billing/usage/history", handle_billing_history, BODY_NONE,
	    ANY(PERM_ADMIN, SCOPE_READ) },
	{ M_GET, "/v1/billing/plans", handle_billing_plans, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
	{ M_PUT, "/v1/billing/plan", handle_billing_plan_set, BODY_JSON, USER(PERM_ADMIN) },

	{ M_GET, "/v1/audit", handle_audit_list, BODY_NONE, USER(PERM_ADMIN) },

	{ M_POST, "/v1/webhooks", handle_webhooks_create, BODY_JSON, USER(PERM_ADMIN) },
	{ M_GET, "/v1/webhooks", handle_webhooks_list, BODY_NONE, USER(PERM_ADMIN) },
	{ M_GET, "/v1/webhooks/{id}", handle_webhooks_get, BODY_NONE, USER(PERM_ADMIN) },
	{ M_DELETE, "/v1/webhooks/{id}", handle_webhooks_delete, BODY_NONE, USER(PERM_ADMIN) },
	{ M_GET, "/v1/webhooks/{id}/deliveries", handle_webhook_deliveries_list, BODY_NONE,
	    USER(PERM_ADMIN) },
	{ M_POST, "/v1/webhooks/{id}/deliveries/{deliveryId}/retry", handle_webhook_delivery_retry,
	    BODY_NONE, USER(PERM_ADMIN) },

	{ M_POST, "/v1/projects/{id}/spinners", handle_spinners_create, BODY_JSON,
	    USER(PERM_WRITE) },
	{ M_GET, "/v1/projects/{id}/spinners", handle_spinners_list, BODY_NONE,
	    ANY(PERM_READ, SCOPE_READ) },
	{ M_GET, "/v1/spinners/{id}", handle_spinners_get, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
	{ M_PATCH, "/v1/spinners/{id}", handle_spinners_update, BODY_JSON, USER(PERM_WRITE) },
	{ M_DELETE, "/v1/spinners/{id}", handle_spinners_delete, BODY_NONE, USER(PERM_WRITE) },
	{ M_POST, "/v1/spinners/{id}/publish", handle_spinners_publish, BODY_NONE,
	    USER(PERM_WRITE) },
	{ M_POST, "/v1/spinners/{id}/trigger", handle_spinners_trigger, BODY_JSON_OPT,
	    ANY(PERM_WRITE, SCOPE_TRIGGER) },
	{ M_GET, "/v1/jobs", handle_jobs_list, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
	{ M_GET, "/v1/jobs/{id}", handle_jobs_get, BODY_NONE, ANY(PERM_READ, SCOPE_READ) },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const body_names[] = { [BODY_NONE] = "none",
	[BODY_JSON] = "json",
	[BODY_JSON_OPT] = "json-optional",
	[BODY_CSV] = "csv",
	[BODY_RECORDS] = "records" };
static const char *const access_names[] = {
	[ACCESS_PUBLIC] = "public", [ACCESS_USER] = "user", [ACCESS_ANY] = "any"
};
static const char *const perm_names[] = {
	[PERM_NONE] = "none", [PERM_READ] = "read", [PERM_WRITE] = "write", [PERM_ADMIN] = "admin"
};

char *
router_routes_json(size_t *len)
{
	struct jw w;

	jw_init(&w);
	jw_array(&w, NULL);
	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *rt = &routes[i];

		jw_object(&w, NULL);
		jw_string(&w, "method", method_name(rt->method));
		jw_string(&w, "pattern", rt->pattern);
		jw_string(&w, "access", access_names[rt->access]);
		jw_string(&w, "permission", perm_names[rt->perm]);
		jw_string(&w, "scope", rt->scope != 0 ? scope_name(rt->scope) : NULL);
		jw_string(&w, "body", body_names[rt->body]);
		jw_bool(&w, "kdf", rt->kdf);
		jw_object_end(&w);
	}
	jw_array_end(&w);
	return jw_finish(&w, len);
}

void
router_init(void)
{
	static char names[NROUTES][80];
	static const char *name_of[NROUTES];

	for (size_t i = 0; i < NROUTES; i++) {
		snprintf(names[i], sizeof(names[i]), "%s %s", method_name(routes[i].method),
		    routes[i].pattern);
		name_of[i] = names[i];
	}
	metrics_routes(name_of, (int)NROUTES);
}

int
router_route_index(const struct req *r)
{
	return r->route != NULL ? (int)(r->route - routes) : -1;
}

/* An id segment: 1..REQ_PARAM_MAX of [A-Za-z0-9_-]. */
static int
id_segment(const char *s, size_t len)
{
	if (len == 0 || len > REQ_PARAM_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Whether path matches pattern; the {id} captures go to r (if not NULL). */
static int
route_match(const char *pattern, const char *path, struct req *r)
{
	int n = 0;

	while (*pattern != '\0' && *path != '\0') {
		if (*pattern == '{' && strchr(pattern, '}') != NULL) { /* "{id}", "{deliveryId}" */
			size_t len = strcspn(path, "/");

			if (!id_segment(path, len) || n >= REQ_MAX_PARAMS)
				return 0;
			if (r != NULL) {
				memcpy(r->params[n], path, len);
				r->params[n][len] = '\0';
			}
			n++;
			pattern = strchr(pattern, '}') + 1;
			path += len;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	if (*pattern != '\0' || *path != '\0')
		return 0;
	if (r != NULL)
		r->nparams = n;
	return 1;
}

/* Finds the route for r (kept from router_route_kdf when it found one);
 * answers 404 or 405 (with Allow) and returns NULL when there is none. */
static const struct route *
route_find_or_reply(struct req *r)
{
	char allow[64] = "";
	int path_known = 0;

	if (r->route != NULL)
		return r->route;
	for (size_t i = 0; i < NROUTES; i++) {
		if (!route_match(routes[i].pattern, r->path, NULL))
			continue;
		if (routes[i].method == r->method) {
			route_match(routes[i].pattern, r->path, r);
			return &routes[i];
		}
		path_known = 1;
		if (!strstr(allow, method_name(routes[i].method))) {
			if (*allow != '\0')
				strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
			strncat(allow, method_name(routes[i].method),
			    sizeof(allow) - strlen(allow) - 1);
		}
	}
	if (path_known) {
		req_header_add(r, "Allow", allow);
		reply_error(r, ERR_METHOD_NOT_ALLOWED, NULL, NULL);
	} else
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	return NULL;
}

int
router_route_kdf(struct req *r)
{
	for (size_t i = 0; i < NROUTES; i++) {
		if (routes[i].method != r->method || !route_match(routes[i].pattern, r->path, r))
			continue;
		/* Found: router_handle goes on from here, not from a second search. */
		r->route = &routes[i];
		return routes[i].kdf;
	}
	return 0;
}

/* Whether the Content-Type names mime (parameters such as charset allowed). */
static int
content_type_is(const char *ct, const char *mime)
{
	size_t n = strlen(mime);

	if (ct == NULL || strncasecmp(ct, mime, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Whether Content-Type ct is one a body of kind may have. */
static int
body_type_ok(enum body_kind kind, const char *ct)
{
	switch (kind) {
	case BODY_CSV: return content_type_is(ct, "text/csv");
	case BODY_RECORDS:
		return content_type_is(ct, "application/json") ||
		    content_type_is(ct, "application/x-ndjson");
	default: return content_type_is(ct, "application/json");
	}
}

/* The 415 for a body of kind, which names the types it takes. */
static enum err
body_type_err(enum body_kind kind)
{
	switch (kind) {
	case BODY_CSV: return ERR_UNSUPPORTED_MEDIA_TYPE_CSV;
	case BODY_RECORDS: return ERR_UNSUPPORTED_MEDIA_TYPE_RECORDS;
	default: return ERR_UNSUPPORTED_MEDIA_TYPE;
	}
}

/* Content type, size and shape of the body, by the route's body kind. */
static int
body_check_or_reply(struct req *r, body_read_fn *read, void *ctx)
{
	enum body_kind kind = r->route->body;
	char why[160];

	if (kind == BODY_NONE)
		return 0;
	if (r->content_length == -2) {
		reply_error(r, ERR_INVALID_BODY_CONTENT_LENGTH, NULL, NULL);
		return -1;
	}
	/* No body: nginx passes an empty CONTENT_TYPE rather than none. */
	if (kind == BODY_JSON_OPT && r->content_length <= 0 &&
	    (r->content_type == NULL || *r->content_type == '\0'))
		return 0;
	if (!body_type_ok(kind, r->content_type)) {
		reply_error(r, body_type_err(kind), NULL, NULL);
		return -1;
	}
	if (r->content_length > cfg.max_body) {
		reply_error(r, ERR_PAYLOAD_TOO_LARGE, NULL, NULL);
		return -1;
	}
	if (body_encoding_or_reply(r, kind == BODY_CSV || kind == BODY_RECORDS) < 0)
		return -1;
	r->body_read = read;
	r->body_ctx = ctx;
	if (kind == BODY_CSV) /* the handler reads it as it arrives */
		return 0;
	if (body_decoded_all_or_reply(r) < 0)
		return -1;
	if (kind == BODY_RECORDS && content_type_is(r->content_type, "application/x-ndjson"))
		return 0;
	if (kind == BODY_JSON_OPT && r->body_len == 0)
		return 0;
	if ((r->json = json_parse_strict(r->body, r->body_len, why, sizeof(why))) == NULL) {
		reply_error(r, ERR_INVALID_BODY, why, NULL);
		return -1;
	}
	if (!json_object_is_type(r->json, json_type_object)) {
		reply_error(r, ERR_INVALID_BODY_NOT_OBJECT, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Reads and drops what the handler left of a streamed body (an import
 * refused part way), a piece at a time and never past the cap, so the web
 * server, which may still be sending it, reads the answer: over TCP, closing
 * a socket with unread data resets the connection, answer and all. */
static void
body_rest_discard(struct req *r)
{
	char buf[16 * 1024];
	size_t cap = (size_t)cfg.max_body, want;
	int n;

	if (r->body_read == NULL)
		return;
	want = r->content_length >= 0 && (size_t)r->content_length <= cap
	    ? (size_t)r->content_length
	    : cap + 1;
	while (r->body_have < want) {
		size_t k = want - r->body_have < sizeof(buf) ? want - r->body_have : sizeof(buf);

		if ((n = r->body_read(r->body_ctx, buf, (int)k)) <= 0)
			break;
		r->body_have += (size_t)n;
	}
}

void
router_handle(struct req *r, body_read_fn *read, void *ctx)
{
	int authed = -1; /* 0 once a route is found and its caller may call it */
	int in_store = cfg.ratelimit == RATELIMIT_POSTGRESQL; /* the limiter's take is a write */

	/* The web server refused the body for its size and hands the answer
	 * over, so it carries a request id of this server's. */
	if (r->refused == 413) {
		reply_error(r, ERR_PAYLOAD_TOO_LARGE, NULL, NULL);
		return;
	}
	if ((r->route = route_find_or_reply(r)) != NULL) {
		/* A GET reads one snapshot: the credential's look-up and the
		 * handler's statements share one read transaction. With the
		 * cluster limiter, whose take is a write of its own, it begins
		 * after the take and the look-up reads alone. */
		if (r->method == M_GET && !in_store)
			db_read_begin(r->db);
		authed = access_or_reply(r, r->route->access, r->route->perm, r->route->scope);
		/* A last-seen write (once a minute at most) ended it: again. */
		if (r->method == M_GET && !in_store)
			db_read_begin(r->db);
	}
	/* Every request is counted, errors included, before any body is read
	 * or password hashed: by key, user, or else client IP. The headers go
	 * on whatever the answer is; over the limit, the answer is 429. */
	if (ratelimit_request_or_reply(r) < 0 || authed < 0)
		goto out;
	if (r->method == M_GET && in_store)
		db_read_begin(r->db);
	if (body_check_or_reply(r, read, ctx) < 0)
		goto drain; /* refused part way through a streamed body */
	r->route->handler(r);
	if (!r->replied) {
		log_msg(r->request_id, "router: handler for %s %s gave no answer", r->method_str,
		    r->route->pattern);
		reply_error(r, ERR_INTERNAL, NULL, NULL);
	}
drain:
	body_rest_discard(r);
out:
	body_inflate_free(r);
	db_read_end(r->db);
}
