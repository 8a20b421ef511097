/* health.c: GET /v1/health, for load balancers and people: up, and can it
 * reach its database. */
#include "tollgate.h"

void
handle_health(struct req *r)
{
	json_object *o = json_object_new_object();
	int rc = db_run(r->db, STMT_PING, "");

	json_object_object_add(
	    o, "status", json_object_new_string(rc == DB_OK ? "ok" : "degraded"));
	json_object_object_add(o, "version", json_object_new_string(TG_VERSION));
	json_object_object_add(o, "database",
	    json_object_new_string(rc == DB_OK ? "ok"
	            : rc == DB_BUSY            ? "busy"
	                                       : "unreachable"));
	reply_json(r, rc == DB_OK ? 200 : 503, o);
}
