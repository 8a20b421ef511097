/* http.c: a request as the web server hands it over, the response, and the
 * one table that maps every error to its status, errorCode and sentence. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "core.h"

/* The error table (docs/openapi.yaml, ErrorCode), in enum err order: every
 * answered error's status, errorCode and sentence. */
static const struct {
	int status;
	const char *code;
	const char *message;
} errs[ERR__COUNT] = {
	[ERR_INVALID_BODY] = { 400, "INVALID_BODY", "The request body is not valid." },
	[ERR_BATCH_TOO_LARGE] = { 400, "BATCH_TOO_LARGE",
	    "A batch holds at most 500 records; split it into smaller batches." },
	[ERR_NO_SCHEMA] = { 400, "NO_SCHEMA",
	    "This table has no columns yet: import a CSV file first to define them." },
	[ERR_SCHEMA_MISMATCH] = { 400, "SCHEMA_MISMATCH",
	    "Some records do not match the table's columns; nothing was stored. See "
	    "details.problems." },
	[ERR_INVALID_CSV] = { 400, "INVALID_CSV", "The CSV file cannot be read." },
	[ERR_TOKEN_MISSING] = { 401, "TOKEN_MISSING", "Sign in to continue." },
	[ERR_TOKEN_INVALID] = { 401, "TOKEN_INVALID",
	    "Your sign-in is not valid. Please sign in again." },
	[ERR_SESSION_EXPIRED] = { 401, "SESSION_EXPIRED",
	    "Your session has expired. Please sign in again." },
	[ERR_SESSION_REVOKED] = { 401, "SESSION_REVOKED", "You were signed out." },
	[ERR_SESSION_REPLACED] = { 401, "SESSION_REPLACED", "You signed in on another device." },
	[ERR_INVALID_API_KEY] = { 401, "INVALID_API_KEY", "Invalid API key." },
	[ERR_INVALID_CREDENTIALS] = { 401, "INVALID_CREDENTIALS", "Wrong email or password." },
	[ERR_PERMISSION_DENIED] = { 403, "PERMISSION_DENIED",
	    "You do not have permission to do this. Ask an admin of your organization." },
	[ERR_MISSING_SCOPE] = { 403, "MISSING_SCOPE", "Key missing read scope" },
	[ERR_PLAN_LIMIT] = { 403, "PLAN_LIMIT",
	    "Your plan's limit is reached: upgrade your plan or free capacity in Billing → "
	    "Usage." },
	[ERR_NOT_FOUND] = { 404, "NOT_FOUND", "Not found." },
	[ERR_METHOD_NOT_ALLOWED] = { 405, "METHOD_NOT_ALLOWED",
	    "This method is not allowed here." },
	[ERR_SESSION_ACTIVE] = { 409, "SESSION_ACTIVE",
	    "This account is signed in on another device. Sign in with \"force\": true to sign out "
	    "there and continue." },
	[ERR_CONFLICT] = { 409, "CONFLICT", "This conflicts with the current state." },
	[ERR_IDEMPOTENCY_KEY_REUSED] = { 422, "IDEMPOTENCY_KEY_REUSED",
	    "This Idempotency-Key was already used with a different request body." },
	[ERR_PAYLOAD_TOO_LARGE] = { 413, "PAYLOAD_TOO_LARGE", "The request body is too large." },
	[ERR_UNSUPPORTED_MEDIA_TYPE] = { 415, "UNSUPPORTED_MEDIA_TYPE",
	    "Send JSON with Content-Type: application/json." },
	[ERR_RATE_LIMITED] = { 429, "RATE_LIMITED", "Rate limit exceeded." },
	[ERR_INTERNAL] = { 500, "INTERNAL_ERROR",
	    "Something went wrong on our side. Try again later." },
	[ERR_UNAVAILABLE] = { 503, "UNAVAILABLE", "The service is busy. Try again in a moment." },
	/* The same codes in other words, where a request needs them. */
	[ERR_INVALID_BODY_EMAIL] = { 400, "INVALID_BODY",
	    "Field \"email\" must be an email address." },
	[ERR_INVALID_BODY_ROLE] = { 400, "INVALID_BODY",
	    "Field \"role\" must be \"admin\", \"member\" or \"viewer\"." },
	[ERR_INVALID_BODY_SCOPES] = { 400, "INVALID_BODY",
	    "Field \"scopes\" must be a non-empty list of \"ingest\", \"trigger\" and \"read\"." },
	[ERR_INVALID_BODY_EXPIRES_AT] = { 400, "INVALID_BODY",
	    "Field \"expiresAt\" must be an RFC 3339 time in the future, like "
	    "2027-01-01T00:00:00Z." },
	[ERR_INVALID_BODY_GRACE_PERIOD] = { 400, "INVALID_BODY",
	    "Field \"gracePeriodSeconds\" must be a whole number from 0 to 604800." },
	[ERR_INVALID_BODY_PLAN] = { 400, "INVALID_BODY",
	    "Field \"plan\" must be one of trial, starter, pro, enterprise." },
	[ERR_INVALID_BODY_RECORDS] = { 400, "INVALID_BODY",
	    "Field \"records\" must be a list of 1 to 500 records." },
	[ERR_INVALID_BODY_SCHEDULE] = { 400, "INVALID_BODY",
	    "Field \"schedule\" must be whole minutes between runs, from 1 to 525600, or null." },
	[ERR_INVALID_BODY_TABLE_ID] = { 400, "INVALID_BODY",
	    "This project has no table with that tableId." },
	[ERR_INVALID_BODY_LIMIT] = { 400, "INVALID_BODY",
	    "limit must be a whole number from 1 to 500." },
	[ERR_INVALID_BODY_CURSOR] = { 400, "INVALID_BODY", "cursor is not one this API gave out." },
	[ERR_INVALID_BODY_IDEMPOTENCY_KEY] = { 400, "INVALID_BODY",
	    "The Idempotency-Key header must be 1 to 255 printable ASCII characters." },
	[ERR_INVALID_BODY_SHORT] = { 400, "INVALID_BODY",
	    "The request body is shorter than its Content-Length." },
	[ERR_INVALID_BODY_CONTENT_LENGTH] = { 400, "INVALID_BODY",
	    "The Content-Length header is not valid." },
	[ERR_INVALID_BODY_NOT_OBJECT] = { 400, "INVALID_BODY",
	    "The request body must be a JSON object." },
	[ERR_INVALID_BODY_URL] = { 400, "INVALID_BODY",
	    "Field \"url\" must be an absolute https:// URL like https://example.com/hooks "
	    "(http:// only to a host the operator allows), with a port from 1 to 65535 and no "
	    "user name, password or network interface." },
	[ERR_INVALID_BODY_URL_PRIVATE] = { 400, "INVALID_BODY",
	    "Field \"url\" must not name a private, loopback or reserved address." },
	[ERR_INVALID_BODY_EVENTS] = { 400, "INVALID_BODY",
	    "Field \"events\" must be a non-empty list of \"meter.threshold\", "
	    "\"session.replaced\", \"key.expiring\" and \"job.finished\"." },
	[ERR_SCHEMA_MISMATCH_CSV] = { 400, "SCHEMA_MISMATCH",
	    "The CSV does not match the table's columns; nothing was stored. See "
	    "details.problems." },
	[ERR_INVALID_CREDENTIALS_CURRENT] = { 401, "INVALID_CREDENTIALS",
	    "The current password is wrong." },
	[ERR_PERMISSION_DENIED_KEY] = { 403, "PERMISSION_DENIED",
	    "API keys cannot do this; sign in as a user." },
	[ERR_CONFLICT_EMAIL] = { 409, "CONFLICT", "An account with this email already exists." },
	[ERR_CONFLICT_LAST_ADMIN] = { 409, "CONFLICT",
	    "This is the organization's last admin; make someone else an admin first." },
	[ERR_CONFLICT_KEY_ROTATED] = { 409, "CONFLICT",
	    "This key is already rotated, revoked or expired; rotate its newest key or create a "
	    "new one." },
	[ERR_CONFLICT_PROJECT_NAME] = { 409, "CONFLICT",
	    "A project with this name exists already." },
	[ERR_CONFLICT_TABLE_NAME] = { 409, "CONFLICT",
	    "A table with this name exists in the project already." },
	[ERR_CONFLICT_SPINNER_NAME] = { 409, "CONFLICT",
	    "A spinner with this name exists in the project." },
	[ERR_CONFLICT_IMPORT_RACE] = { 409, "CONFLICT",
	    "The table changed during the import (deleted, or another import set its columns); try "
	    "again." },
	[ERR_CONFLICT_IDEMPOTENCY_IN_PROGRESS] = { 409, "CONFLICT",
	    "A request with this Idempotency-Key is still in progress; retry later." },
	[ERR_CONFLICT_IDEMPOTENCY_TAKEN_OVER] = { 409, "CONFLICT",
	    "This request took over a minute and a retry with the same Idempotency-Key took its "
	    "place; that retry's answer stands." },
	[ERR_MISSING_SCOPE_INGEST] = { 403, "MISSING_SCOPE", "Key missing ingest scope" },
	[ERR_MISSING_SCOPE_TRIGGER] = { 403, "MISSING_SCOPE", "Key missing trigger scope" },
	[ERR_UNSUPPORTED_MEDIA_TYPE_CSV] = { 415, "UNSUPPORTED_MEDIA_TYPE",
	    "Send the file with Content-Type: text/csv." },
	[ERR_UNSUPPORTED_MEDIA_TYPE_RECORDS] = { 415, "UNSUPPORTED_MEDIA_TYPE",
	    "Send records with Content-Type: application/json or application/x-ndjson." },
	[ERR_UNSUPPORTED_MEDIA_TYPE_ENCODING] = { 415, "UNSUPPORTED_MEDIA_TYPE",
	    "Content-Encoding must be gzip or absent." },
	[ERR_UNSUPPORTED_MEDIA_TYPE_NO_ENCODING] = { 415, "UNSUPPORTED_MEDIA_TYPE",
	    "This endpoint takes no Content-Encoding; send the body as it is." },
	[ERR_INVALID_BODY_NDJSON_EMPTY] = { 400, "INVALID_BODY",
	    "The body must hold 1 to 500 records, one JSON object a line." },
	[ERR_INVALID_BODY_PARTIAL] = { 400, "INVALID_BODY",
	    "partial must be true, false, 1 or 0." },
	[ERR_BATCH_TOO_LARGE_NDJSON] = { 400, "BATCH_TOO_LARGE",
	    "A batch holds at most 500 records (lines); split it into smaller batches." },
	[ERR_SCHEMA_MISMATCH_NONE_GOOD] = { 400, "SCHEMA_MISMATCH",
	    "No record matches the table's columns; nothing was stored. See details.problems." },
	[ERR_NO_SCHEMA_EXPORT] = { 400, "NO_SCHEMA",
	    "This table has no columns yet, so there is no CSV to export: import a CSV file "
	    "first." },
};

static const char *const method_names[M__COUNT] = { [M_GET] = "GET",
	[M_POST] = "POST",
	[M_PUT] = "PUT",
	[M_PATCH] = "PATCH",
	[M_DELETE] = "DELETE" };

const char *
method_name(enum method m)
{
	return m >= 0 && m < M__COUNT ? method_names[m] : "OTHER";
}

const char *
err_code(enum err e)
{
	return errs[e].code;
}

int
err_status(enum err e)
{
	return errs[e].status;
}

/* The parameters a request is read from, found in one pass over envp. */
enum param {
	P_METHOD,
	P_DOCUMENT_URI,
	P_SCRIPT_NAME,
	P_PATH_INFO,
	P_QUERY,
	P_CONTENT_TYPE,
	P_CONTENT_LENGTH,
	P_CONTENT_ENCODING,
	P_ACCEPT,
	P_AUTHORIZATION,
	P_API_KEY,
	P_IDEMPOTENCY_KEY,
	P_REMOTE_ADDR,
	P_USER_AGENT,
	P_FORWARDED_FOR,
	P_REQUEST_ID,
	P_REFUSED,
	P__COUNT
};

#define P(name)                                                                                    \
	{                                                                                          \
		name, sizeof(name) - 1                                                             \
	}
static const struct {
	const char *name;
	size_t len;
} params[P__COUNT] = {
	[P_METHOD] = P("REQUEST_METHOD"),
	[P_DOCUMENT_URI] = P("DOCUMENT_URI"),
	[P_SCRIPT_NAME] = P("SCRIPT_NAME"),
	[P_PATH_INFO] = P("PATH_INFO"),
	[P_QUERY] = P("QUERY_STRING"),
	[P_CONTENT_TYPE] = P("CONTENT_TYPE"),
	[P_CONTENT_LENGTH] = P("CONTENT_LENGTH"),
	[P_CONTENT_ENCODING] = P("HTTP_CONTENT_ENCODING"),
	[P_ACCEPT] = P("HTTP_ACCEPT"),
	[P_AUTHORIZATION] = P("HTTP_AUTHORIZATION"),
	[P_API_KEY] = P("HTTP_X_API_KEY"),
	[P_IDEMPOTENCY_KEY] = P("HTTP_IDEMPOTENCY_KEY"),
	[P_REMOTE_ADDR] = P("REMOTE_ADDR"),
	[P_USER_AGENT] = P("HTTP_USER_AGENT"),
	[P_FORWARDED_FOR] = P("HTTP_X_FORWARDED_FOR"),
	[P_REQUEST_ID] = P("HTTP_X_REQUEST_ID"),
	/* Set by the web server's config alone (clients reach only HTTP_*). */
	[P_REFUSED] = P("TOLLGATE_REFUSED"),
};
#undef P

/* Points v[i] at the value of params[i] in envp ("NAME=value"), or NULL;
 * the first of a repeated name counts. */
static void
params_read(char **envp, const char *v[P__COUNT])
{
	for (int i = 0; i < P__COUNT; i++)
		v[i] = NULL;
	for (; envp != NULL && *envp != NULL; envp++) {
		const char *eq = strchr(*envp, '=');
		size_t len;

		if (eq == NULL)
			continue;
		len = (size_t)(eq - *envp);
		for (int i = 0; i < P__COUNT; i++)
			if (params[i].len == len && v[i] == NULL &&
			    memcmp(*envp, params[i].name, len) == 0) {
				v[i] = eq + 1;
				break;
			}
	}
}

/* An incoming X-Request-Id is echoed when it is 1..64 of [A-Za-z0-9._:-]. */
static int
request_id_sane(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++)
		if (n >= 64 || !(isalnum((unsigned char)id[n]) || strchr("._:-", id[n])))
			return 0;
	return n > 0;
}

void
req_init(struct req *r, char **envp, struct db *db)
{
	const char *p[P__COUNT], *v;

	memset(r, 0, sizeof(*r));
	params_read(envp, p);
	r->db = db;
	r->start_ms = tg_now_ms();
	r->method_str = p[P_METHOD] ? p[P_METHOD] : "";
	r->method = M_OTHER;
	for (int m = 0; m < M__COUNT; m++)
		if (strcmp(r->method_str, method_names[m]) == 0)
			r->method = (enum method)m;
	/* DOCUMENT_URI (nginx), else SCRIPT_NAME + PATH_INFO as servers that
	 * split the path hand it over. */
	r->path = p[P_DOCUMENT_URI];
	if (r->path == NULL || *r->path == '\0') {
		snprintf(r->path_buf, sizeof(r->path_buf), "%s%s",
		    p[P_SCRIPT_NAME] ? p[P_SCRIPT_NAME] : "", p[P_PATH_INFO] ? p[P_PATH_INFO] : "");
		r->path = r->path_buf;
	}
	r->query = p[P_QUERY] ? p[P_QUERY] : "";
	/* Servers pass empty parameters for absent headers. */
	if ((v = p[P_CONTENT_TYPE]) != NULL && *v != '\0')
		r->content_type = v;
	if ((v = p[P_CONTENT_ENCODING]) != NULL && *v != '\0')
		r->content_encoding = v;
	if ((v = p[P_ACCEPT]) != NULL && *v != '\0')
		r->accept = v;
	r->content_length = -1;
	if ((v = p[P_CONTENT_LENGTH]) != NULL && *v != '\0') {
		char *end;

		errno = 0;
		r->content_length = strtoll(v, &end, 10);
		if (*end != '\0' || errno || r->content_length < 0)
			r->content_length = -2; /* malformed: refused by the router */
	}
	r->authorization = p[P_AUTHORIZATION];
	r->x_api_key = p[P_API_KEY];
	r->idempotency_key = p[P_IDEMPOTENCY_KEY];
	r->remote_addr = p[P_REMOTE_ADDR] ? p[P_REMOTE_ADDR] : "";
	r->user_agent = p[P_USER_AGENT];
	/* X-Forwarded-For counts only from TOLLGATE_TRUSTED_PROXIES. */
	client_ip(r->remote_addr, p[P_FORWARDED_FOR], r->client_ip, sizeof(r->client_ip));
	if ((v = p[P_REQUEST_ID]) != NULL && request_id_sane(v))
		snprintf(r->request_id, sizeof(r->request_id), "%s", v);
	else
		tg_ulid_new(r->request_id, sizeof(r->request_id));
	if ((v = p[P_REFUSED]) != NULL && strcmp(v, "413") == 0)
		r->refused = 413;
	db_log_request(db, r->request_id);
}

void
req_free(struct req *r)
{
	free(r->body);
	free(r->resp_body);
	if (r->json != NULL)
		json_object_put(r->json);
	r->body = r->resp_body = NULL;
	r->json = NULL;
}

void
req_header_add(struct req *r, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	/* Whole or not at all. */
	if (r->headers_len + nlen + vlen + 5 > sizeof(r->headers))
		return;
	memcpy(r->headers + r->headers_len, name, nlen);
	memcpy(r->headers + r->headers_len + nlen, ": ", 2);
	memcpy(r->headers + r->headers_len + nlen + 2, value, vlen);
	memcpy(r->headers + r->headers_len + nlen + 2 + vlen, "\r\n", 3);
	r->headers_len += nlen + vlen + 4;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
req_query_get(const struct req *r, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = r->query;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t seglen = end ? (size_t)(end - p) : strlen(p);

		if (seglen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t o = 0;

			for (size_t i = nlen + 1; i < seglen && o + 1 < outlen; i++) {
				int c = (unsigned char)p[i];

				if (c == '%' && i + 2 < seglen && hexval(p[i + 1]) >= 0 &&
				    hexval(p[i + 2]) >= 0) {
					c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
					i += 2;
				} else if (c == '+')
					c = ' ';
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static void
reply_set(struct req *r, int status, char *body, size_t len)
{
	free(r->resp_body);
	r->resp_body = body;
	r->resp_len = len;
	r->resp_type = NULL;
	r->status = status;
	r->replied = 1;
}

void
reply_json(struct req *r, int status, json_object *body)
{
	size_t len = 0;
	const char *s = json_object_to_json_string_length(
	    body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		json_object_put(body);
		reply_set(r, 500, NULL, 0);
		return;
	}
	memcpy(copy, s, len + 1);
	json_object_put(body);
	reply_set(r, status, copy, len);
}

void
reply_jw(struct req *r, int status, struct jw *w)
{
	size_t len;
	char *s = jw_finish(w, &len);

	if (s == NULL) {
		reply_set(r, 500, NULL, 0);
		return;
	}
	reply_set(r, status, s, len);
}

void
reply_empty(struct req *r, int status)
{
	reply_set(r, status, NULL, 0);
}

void
reply_text(struct req *r, int status, const char *content_type, char *body, size_t len)
{
	reply_set(r, status, body, len);
	r->resp_type = content_type;
}

/* The error body, its details a json-c value (owned) or JSON text Tollgate
 * wrote (details_text), or neither. */
static void
error_reply(
    struct req *r, enum err e, const char *message, json_object *details, const char *details_text)
{
	struct jw w;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "error", message != NULL ? message : errs[e].message);
	jw_string(&w, "errorCode", errs[e].code);
	jw_string(&w, "requestId", r->request_id);
	if (details != NULL)
		jw_value(&w, "details", details);
	else if (details_text != NULL)
		jw_raw(&w, "details", details_text);
	jw_object_end(&w);
	r->error_code = errs[e].code;
	if (e == ERR_UNAVAILABLE)
		req_header_add(r, "Retry-After", "1");
	reply_jw(r, errs[e].status, &w);
}

long
req_body_read_or_reply(struct req *r, char *buf, size_t n)
{
	size_t cap = (size_t)cfg.max_body, want;
	int got;

	want = r->content_length >= 0 ? (size_t)r->content_length : cap + 1;
	if (r->body_have >= want)
		return 0;
	if (n > want - r->body_have)
		n = want - r->body_have;
	if (n > INT_MAX)
		n = INT_MAX;
	got = r->body_read != NULL ? r->body_read(r->body_ctx, buf, (int)n) : 0;
	if (got <= 0) {
		if (r->content_length < 0)
			return 0;
		reply_error(r, ERR_INVALID_BODY_SHORT, NULL, NULL);
		return -1;
	}
	r->body_have += (size_t)got;
	if (r->body_have > cap) {
		reply_error(r, ERR_PAYLOAD_TOO_LARGE, NULL, NULL);
		return -1;
	}
	return got;
}

void
reply_error(struct req *r, enum err e, const char *message, json_object *details)
{
	error_reply(r, e, message, details, NULL);
}

void
reply_error_jw(struct req *r, enum err e, const char *message, struct jw *details)
{
	size_t len;
	char *text = jw_finish(details, &len);

	if (text == NULL) {
		reply_set(r, 500, NULL, 0);
		return;
	}
	error_reply(r, e, message, NULL, text);
	free(text);
}

void
reply_db_error(struct req *r, int rc, const char *where)
{
	if (rc == DB_BUSY) {
		log_msg(r->request_id, "%s: database busy", where);
		reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
		return;
	}
	log_msg(r->request_id, "%s: database error %d", where, rc);
	reply_error(r, ERR_INTERNAL, NULL, NULL);
}

struct tx_call {
	struct req *r;
	req_work_fn *fn;
	void *arg;
};

static int
tx_call_run(struct db *db, void *arg)
{
	struct tx_call *c = arg;

	(void)db;
	return c->fn(c->r, c->arg);
}

int
db_tx_or_reply(struct req *r, req_work_fn *fn, void *arg, const char *where)
{
	struct tx_call c = { r, fn, arg };
	int rc = db_write(r->db, tx_call_run, &c);

	if (rc != DB_OK && !r->replied)
		reply_db_error(r, rc, where);
	return rc;
}

/* The statuses Tollgate answers, with their reason phrases. */
static const struct {
	int code;
	const char *text;
} statuses[HTTP_STATUS_COUNT] = { { 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 409, "Conflict" }, { 413, "Payload Too Large" },
	{ 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
	{ 503, "Service Unavailable" } };

int
http_status_slot(int status)
{
	int i = 0;

	while (i < HTTP_STATUS_COUNT && statuses[i].code != status)
		i++;
	return i;
}

int
http_status_code(int slot)
{
	return slot >= 0 && slot < HTTP_STATUS_COUNT ? statuses[slot].code : 0;
}

/* The reason phrase of status; any other status is answered as a 500's. */
static const char *
status_text(int status)
{
	int i = http_status_slot(status);

	return statuses[i < HTTP_STATUS_COUNT ? i : http_status_slot(500)].text;
}

/* Writes r's status line and headers through put, with a Content-Type
 * when has_body. */
static void
req_head_write(struct req *r, int has_body, body_write_fn *put, void *ctx)
{
	char head[2048]; /* fits: r->headers is 1 KiB, the rest under 300 bytes */
	size_t n = 0, z = sizeof(head);

	n = tg_append(head, z, n, "Status: ", 8);
	n = tg_append_num(head, z, n, r->status);
	n = tg_append(head, z, n, " ", 1);
	n = tg_append(head, z, n, status_text(r->status), 64);
	n = tg_append(head, z, n, "\r\nX-Request-Id: ", 16);
	n = tg_append(head, z, n, r->request_id, sizeof(r->request_id));
	n = tg_append(head, z, n, "\r\nCache-Control: no-store\r\n", 28);
	if (has_body) {
		n = tg_append(head, z, n, "Content-Type: ", 14);
		n = tg_append(head, z, n,
		    r->resp_type ? r->resp_type : "application/json; charset=utf-8", 128);
		n = tg_append(head, z, n, "\r\n", 2);
	}
	n = tg_append(head, z, n, r->headers, sizeof(r->headers));
	n = tg_append(head, z, n, "\r\n", 2);
	put(ctx, head, (int)n);
}

void
req_write(struct req *r, body_write_fn *put, void *ctx)
{
	if (!r->replied)
		reply_error(r, ERR_INTERNAL, NULL, NULL);
	if (r->streamed)
		return;
	req_head_write(r, r->resp_body != NULL, put, ctx);
	if (r->resp_body != NULL)
		put(ctx, r->resp_body, (int)r->resp_len);
}

void
reply_stream_begin(struct req *r, int status, const char *content_type)
{
	free(r->resp_body);
	r->resp_body = NULL;
	r->resp_len = 0;
	r->resp_type = content_type;
	r->status = status;
	r->replied = 1;
	if (r->out_put == NULL)
		return; /* no stream to write to: kept, and written whole */
	req_head_write(r, 1, r->out_put, r->out_ctx);
	r->streamed = 1;
}

int
reply_stream_write(struct req *r, const char *buf, size_t n)
{
	char *grown;

	if (r->streamed) {
		while (n > 0) {
			int k = n > 65536 ? 65536 : (int)n;

			if (r->out_put(r->out_ctx, buf, k) != k)
				return -1;
			buf += k;
			n -= (size_t)k;
		}
		return 0;
	}
	if ((grown = realloc(r->resp_body, r->resp_len + n + 1)) == NULL)
		return -1;
	memcpy(grown + r->resp_len, buf, n);
	r->resp_body = grown;
	r->resp_len += n;
	grown[r->resp_len] = '\0';
	return 0;
}

/* Copies at most 200 bytes of s to out with control characters as '?', so
 * a decoded path cannot forge log lines. */
static void
log_safe(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s != '\0' && n < 200 && n + 1 < outlen; s++)
		out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[n] = '\0';
}

/* One line a request, put together without printf: method path status
 * duration principal code. */
void
req_log(const struct req *r)
{
	char text[600], method[16], path[208];
	size_t n = 0, z = sizeof(text);

	log_safe(r->method_str, method, sizeof(method));
	log_safe(r->path, path, sizeof(path));
	n = tg_append(text, z, n, method, sizeof(method));
	n = tg_append(text, z, n, " ", 1);
	n = tg_append(text, z, n, path, sizeof(path));
	n = tg_append(text, z, n, " ", 1);
	n = tg_append_num(text, z, n, r->status);
	n = tg_append(text, z, n, " ", 1);
	n = tg_append_num(text, z, n, tg_now_ms() - r->start_ms);
	n = tg_append(text, z, n, "ms ", 3);
	if (r->who.kind == PRINCIPAL_USER) {
		n = tg_append(text, z, n, "user=", 5);
		n = tg_append(text, z, n, r->who.user_id, sizeof(r->who.user_id));
	} else if (r->who.kind == PRINCIPAL_KEY) {
		n = tg_append(text, z, n, "key=", 4);
		n = tg_append(text, z, n, r->who.key_id, sizeof(r->who.key_id));
	} else
		n = tg_append(text, z, n, "-", 1);
	if (r->error_code != NULL) {
		n = tg_append(text, z, n, " ", 1);
		tg_append(text, z, n, r->error_code, 64);
	}
	log_text(r->request_id, text);
}

/* ---- request fields: read, or answered 400 ---- */

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static void
reply_field(struct req *r, const char *field, const char *fmt, const char *extra)
{
	char msg[256];
	json_object *d = json_object_new_object();

	snprintf(msg, sizeof(msg), fmt, field, extra);
	json_object_object_add(d, "field", json_object_new_string(field));
	reply_error(r, ERR_INVALID_BODY, msg, d);
}

int
json_string_or_reply(struct req *r, json_object *obj, const char *field, int required, size_t min,
    size_t max, const char **out)
{
	json_object *v;
	const char *s;
	size_t len, chars;
	char range[64];

	*out = NULL;
	if (!json_object_object_get_ex(obj, field, &v) || json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		reply_field(r, field, "Field \"%s\" is required%s.", "");
		return -1;
	}
	if (!json_object_is_type(v, json_type_string)) {
		reply_field(r, field, "Field \"%s\" must be a string%s.", "");
		return -1;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len) {
		reply_field(r, field, "Field \"%s\" must not contain NUL characters%s.", "");
		return -1;
	}
	chars = utf8_chars(s, len);
	if (chars < min || chars > max) {
		snprintf(range, sizeof(range), "%zu to %zu", min, max);
		reply_field(r, field, "Field \"%s\" must be %s characters long.", range);
		return -1;
	}
	*out = s;
	return 0;
}

int
json_bool_or_reply(struct req *r, json_object *obj, const char *field, int *out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, field, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		reply_field(r, field, "Field \"%s\" must be true or false%s.", "");
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

/* ---- pages of lists ---- */

#define PAGE_DEFAULT 50
#define PAGE_MAX 500

int
page_or_reply(struct req *r, struct page *p)
{
	char buf[64], *end;
	json_object *d;
	long long v;

	p->limit = PAGE_DEFAULT;
	p->after = 0;
	if (req_query_get(r, "limit", buf, sizeof(buf))) {
		v = strtoll(buf, &end, 10);
		if (end == buf || *end != '\0' || v < 1 || v > PAGE_MAX) {
			d = json_object_new_object();
			json_object_object_add(d, "field", json_object_new_string("limit"));
			reply_error(r, ERR_INVALID_BODY_LIMIT, NULL, d);
			return -1;
		}
		p->limit = (int)v;
	}
	if (req_query_get(r, "cursor", buf, sizeof(buf)) && *buf != '\0') {
		/* A cursor is "c" + the last seq seen in base 36: opaque to clients. */
		errno = 0;
		v = buf[0] == 'c' ? strtoll(buf + 1, &end, 36) : -1;
		if (v <= 0 || errno || *end != '\0') {
			d = json_object_new_object();
			json_object_object_add(d, "field", json_object_new_string("cursor"));
			reply_error(r, ERR_INVALID_BODY_CURSOR, NULL, d);
			return -1;
		}
		p->after = v;
	}
	return 0;
}

void
page_cursor_format(int64_t seq, char *out, size_t outlen)
{
	char digits[20];
	size_t d = 0, n = 0;

	/* A cursor is "c" + the last seq of a page in base 36. */
	for (uint64_t v = (uint64_t)seq; v > 0; v /= 36)
		digits[d++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
	if (outlen < d + 2) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	out[n++] = 'c';
	while (d > 0)
		out[n++] = digits[--d];
	out[n] = '\0';
}

void
reply_rows(
    struct req *r, enum stmt s, int rc, const struct page *p, row_write_fn *row, const char *where)
{
	reply_rows_more(r, s, rc, p, row, NULL, NULL, where);
}

void
reply_rows_more(struct req *r, enum stmt s, int rc, const struct page *p, row_write_fn *row,
    page_more_fn *more, void *ctx, const char *where)
{
	char cursor[32];
	int64_t last = 0;
	struct jw w;
	int n = 0;

	jw_init(&w);
	jw_object(&w, NULL);
	jw_array(&w, "data");
	for (; rc == DB_ROW && ++n <= p->limit; rc = db_next(r->db, s)) {
		last = db_int(r->db, s, 0);
		row(&w, NULL, r->db, s);
	}
	db_end(r->db, s);
	if (rc != DB_ROW && rc != DB_DONE) {
		jw_discard(&w);
		reply_db_error(r, rc, where);
		return;
	}
	jw_array_end(&w);
	if (n > p->limit) {
		page_cursor_format(last, cursor, sizeof(cursor));
		jw_string(&w, "nextCursor", cursor);
	} else
		jw_null(&w, "nextCursor");
	if (more != NULL && (rc = more(&w, r, ctx)) != DB_OK) {
		jw_discard(&w);
		reply_db_error(r, rc, where);
		return;
	}
	jw_object_end(&w);
	reply_jw(r, 200, &w);
}

void
reply_row(struct req *r, enum stmt s, int rc, int status, row_write_fn *row, const char *where)
{
	struct jw w;

	if (rc == DB_ROW) {
		jw_init(&w);
		row(&w, NULL, r->db, s);
		reply_jw(r, status, &w);
	} else if (rc == DB_DONE)
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
	else
		reply_db_error(r, rc, where);
	db_end(r->db, s);
}
