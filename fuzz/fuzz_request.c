/* fuzz_request.c: a whole FastCGI request as Tollgate sees it: params and
 * body through the router, authentication, validation and a handler, on an
 * in-memory database. Input: "NAME=value" lines, a blank line, the body. */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ratelimit.h"
#include "api.h"
#include "../tests/unit/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;

static int
sink(void *ctx, const char *buf, int n)
{
	(void)ctx;
	(void)buf;
	return n;
}

static void
setup(void)
{
	char err[256], path[64];

	config_load(NULL, err, sizeof(err));
	memcpy(cfg.jwt_secret, "fuzz-secret-0123456789abcdef0123456789", 38);
	cfg.jwt_secret_len = 38;
	cfg.max_body = 1 << 16;
	db = db_open(":memory:", err, sizeof(err));
	if (db == NULL || db_migrate(db) < 0 || password_init() < 0)
		abort();
	/* The limiter's file: a fresh one a run. */
	snprintf(path, sizeof(path), "/tmp/tollgate-fuzz-%d.db-ratelimit", (int)getpid());
	cfg.rate_ip = cfg.rate_login = cfg.rate_user = cfg.rate_key = 1000000000;
	if (ratelimit_open(path, err, sizeof(err)) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *envp[32], *line, *body;
	struct feed f;
	struct req r;
	int n = 0;

	if (db == NULL)
		setup();
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	body = strstr(copy, "\n\n");
	if (body != NULL) {
		*body = '\0';
		body += 2;
	} else
		body = copy + size;
	for (line = strtok(copy, "\n"); line != NULL && n < 31; line = strtok(NULL, "\n"))
		if (strchr(line, '=') != NULL)
			envp[n++] = line;
	envp[n] = NULL;
	feed_set(&f, body, (size_t)(copy + size - body));
	req_init(&r, envp, db);
	router_handle(&r, feed_read, &f);
	req_write(&r, sink, NULL);
	if (r.status < 200 || r.status > 599 || (r.status >= 500 && r.status != 503))
		abort(); /* never a 500 from outside input */
	req_free(&r);
	free(copy);
	return 0;
}
