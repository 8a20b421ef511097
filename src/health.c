/* health.c: GET /v1/health, for load balancers and people: up, and can it
 * reach its database. */
#include "api.h"

void
handle_health(struct req *r)
{
	struct jw w;
	int rc = db_run(r->db, STMT_PING, "");

	jw_init(&w);
	jw_object(&w, NULL);
	jw_string(&w, "status", rc == DB_OK ? "ok" : "degraded");
	jw_string(&w, "version", TG_VERSION);
	jw_string(&w, "database", rc == DB_OK ? "ok" : rc == DB_BUSY ? "busy" : "unreachable");
	jw_object_end(&w);
	reply_jw(r, rc == DB_OK ? 200 : 503, &w);
}
