/* test_http.c: reading a request's parameters, and log lines that cannot be forged. */
#include <string.h>

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

/* Found in review: a decoded %0A in the path forged a log line. */
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

int
main(void)
{
	TEST(test_params_one_pass);
	TEST(test_log_safe);
	return unit_done();
}
