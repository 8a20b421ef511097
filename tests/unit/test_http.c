/* test_http.c: reading a request's parameters, log lines that cannot be
 * forged, and answers streamed as they are made. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/http.c"
#include "unit.h"

static void
test_params_one_pass(void)
{
	char a[] = "REQUEST_METHOD=POST", b[] = "HTTP_AUTHORIZATION=Bearer x",
	     c[] = "HTTP_AUTHORIZATION=Bearer second", d[] = "CONTENT_LENGTH=12",
	     e[] = "NOT_A_PARAM", f[] = "QUERY_STRING=", g[] = "DOCUMENT_URI=/v1/a=b";
	char *envp[] = { a, b, c, d, e, f, g, NULL };
	const char *v[P__COUNT];

	params_read(envp, v);
	CHECK(v[P_METHOD] != NULL && strcmp(v[P_METHOD], "POST") == 0);
	CHECK(strcmp(v[P_AUTHORIZATION], "Bearer x") == 0); /* the first counts */
	CHECK(strcmp(v[P_CONTENT_LENGTH], "12") == 0);
	CHECK(v[P_QUERY] != NULL && *v[P_QUERY] == '\0');
	CHECK(strcmp(v[P_DOCUMENT_URI], "/v1/a=b") == 0);
	CHECK(v[P_API_KEY] == NULL && v[P_PATH_INFO] == NULL);
	params_read(NULL, v);
	CHECK(v[P_METHOD] == NULL);
}

/* A decoded %0A in the path cannot forge a log line. */
static void
test_log_safe(void)
{
	char out[208], long_path[300];

	log_safe("/v1/x\nfake line\r\x7f", out, sizeof(out));
	CHECK(strcmp(out, "/v1/x?fake line??") == 0);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	log_safe(long_path, out, sizeof(out));
	CHECK(strlen(out) == 200);
}

/* The request's log line as req_log writes it on stderr. */
static void
logged(const struct req *r, char *out, size_t outlen)
{
	char path[] = "/tmp/tollgate-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	dup2(fd, STDERR_FILENO);
	req_log(r);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, outlen - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static int
matches(const char *s, const char *pattern)
{
	regex_t re;
	int ok;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	if (!ok)
		printf("#   %s does not match %s\n", s, pattern);
	return ok;
}

static void
test_log_line(void)
{
	char out[1024];
	struct req r;

	memset(&r, 0, sizeof(r));
	r.method_str = "GET";
	r.path = "/v1/billing/usage";
	r.status = 200;
	r.start_ms = tg_now_ms();
	snprintf(r.request_id, sizeof(r.request_id), "01ABC");
	r.who.kind = PRINCIPAL_KEY;
	snprintf(r.who.key_id, sizeof(r.who.key_id), "key_9");
	logged(&r, out, sizeof(out));
	CHECK(matches(out,
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z 01ABC "
	    "GET /v1/billing/usage 200 [0-9]+ms key=key_9\n$"));
	r.who.kind = PRINCIPAL_NONE;
	r.status = 404;
	r.method_str = "DEL\nETE";
	r.path = "/v1/x\ny";
	r.error_code = "NOT_FOUND";
	*r.request_id = '\0';
	logged(&r, out, sizeof(out));
	CHECK(matches(out, "Z - DEL\\?ETE /v1/x\\?y 404 [0-9]+ms - NOT_FOUND\n$"));
}

/* What a response writer was given, in one buffer. */
struct sink {
	char buf[4096];
	size_t len;
	int calls;
};

static int
sink_put(void *ctx, const char *b, int n)
{
	struct sink *k = ctx;

	memcpy(k->buf + k->len, b, (size_t)n);
	k->len += (size_t)n;
	k->buf[k->len] = '\0';
	k->calls++;
	return n;
}

/* A streamed answer writes its head at once and its body as it comes, and
 * req_write adds nothing; with no stream it is kept and written whole. */
static void
test_stream(void)
{
	char e1[] = "REQUEST_METHOD=GET", e2[] = "HTTP_X_REQUEST_ID=s-1";
	char e3[] = "HTTP_CONTENT_ENCODING=gzip", e4[] = "HTTP_ACCEPT=text/csv";
	char *envp[] = { e1, e2, e3, e4, NULL };
	struct sink k = { .len = 0 }, later = { .len = 0 };
	struct req r;
	char cursor[32];

	req_init(&r, envp, NULL);
	CHECK(strcmp(r.content_encoding, "gzip") == 0 && strcmp(r.accept, "text/csv") == 0);
	r.out_put = sink_put;
	r.out_ctx = &k;
	req_header_add(&r, "X-Next-Cursor", "c1");
	reply_stream_begin(&r, 200, "text/csv; charset=utf-8");
	CHECK(r.replied && r.streamed && r.status == 200);
	CHECK(strncmp(k.buf, "Status: 200 OK\r\n", 16) == 0);
	CHECK(strstr(k.buf, "Content-Type: text/csv; charset=utf-8\r\n") != NULL);
	CHECK(strstr(k.buf, "X-Next-Cursor: c1\r\n") != NULL);
	CHECK(strstr(k.buf, "\r\n\r\n") == k.buf + k.len - 4);
	CHECK(reply_stream_write(&r, "a,b\r\n", 5) == 0 && k.calls == 2);
	CHECK(strcmp(k.buf + k.len - 5, "a,b\r\n") == 0);
	req_write(&r, sink_put, &later);
	CHECK(later.len == 0);
	req_free(&r);

	req_init(&r, envp, NULL);
	reply_stream_begin(&r, 200, "text/csv; charset=utf-8");
	CHECK(r.replied && !r.streamed);
	CHECK(reply_stream_write(&r, "x\r\n", 3) == 0 && reply_stream_write(&r, "y\r\n", 3) == 0);
	req_write(&r, sink_put, &later);
	CHECK(strstr(later.buf, "Content-Type: text/csv") != NULL);
	CHECK(strcmp(later.buf + later.len - 6, "x\r\ny\r\n") == 0);
	req_free(&r);

	page_cursor_format(36 * 36 + 1, cursor, sizeof(cursor));
	CHECK(strcmp(cursor, "c101") == 0);
	page_cursor_format(INT64_MAX, cursor, 4);
	CHECK(cursor[0] == '\0');
}

/* Every error is in the table with its status, code and sentence; the
 * statuses it answers are in the status table. */
static void
test_error_table(void)
{
	for (int e = 0; e < ERR__COUNT; e++) {
		CHECK(
		    errs[e].code != NULL && errs[e].message != NULL && errs[e].message[0] != '\0');
		CHECK(errs[e].status >= 400 && errs[e].status <= 503);
		CHECK(http_status_slot(errs[e].status) < HTTP_STATUS_COUNT);
	}
	CHECK(strcmp(err_code(ERR_CONFLICT_EMAIL), "CONFLICT") == 0);
	CHECK(err_status(ERR_UNSUPPORTED_MEDIA_TYPE_CSV) == 415);
	CHECK(http_status_code(http_status_slot(429)) == 429);
	CHECK(
	    http_status_slot(418) == HTTP_STATUS_COUNT && http_status_code(HTTP_STATUS_COUNT) == 0);
}

int
main(void)
{
	TEST(test_error_table);
	TEST(test_params_one_pass);
	TEST(test_log_safe);
	TEST(test_log_line);
	TEST(test_stream);
	return unit_done();
}
