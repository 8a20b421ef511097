/* fuzz_credentials.c: the credential parsers, a bearer JWT and an API key,
 * as access_or_reply reads them: never a crash, never a principal from
 * garbage. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *cred, *auth;
	struct req r;

	if (db == NULL) {
		config_load(NULL, err, sizeof(err));
		memcpy(cfg.jwt_secret, "fuzz-secret-0123456789abcdef0123456789", 38);
		cfg.jwt_secret_len = 38;
		if ((db = db_open(":memory:", err, sizeof(err))) == NULL || db_migrate(db) < 0)
			abort();
	}
	if ((cred = malloc(size + 1)) == NULL || (auth = malloc(size + 8)) == NULL) {
		free(cred);
		return 0;
	}
	memcpy(cred, data, size);
	cred[size] = '\0';
	memcpy(auth, "Bearer ", 7);
	memcpy(auth + 7, cred, size + 1);
	for (int as_header = 0; as_header < 2; as_header++) {
		char *envp[] = { NULL };

		req_init(&r, envp, db);
		if (as_header)
			r.x_api_key = cred;
		else
			r.authorization = auth;
		/* The database has no users or keys: nothing may get through. */
		if (access_or_reply(&r, ACCESS_ANY, PERM_READ, SCOPE_READ) == 0 ||
		    r.who.kind != PRINCIPAL_NONE)
			abort();
		req_free(&r);
	}
	free(cred);
	free(auth);
	return 0;
}
