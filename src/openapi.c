/* openapi.c: GET /v1/openapi.json, the API's OpenAPI document
 * (docs/openapi.yaml as JSON, compiled in by openapi_doc.S). */
#include "api.h"

extern const char tg_openapi_json[];

void
handle_openapi(struct req *r)
{
	json_object *doc = json_tokener_parse(tg_openapi_json);

	if (doc == NULL) {
		log_msg(r->request_id, "openapi: the compiled-in document is not JSON");
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	reply_json(r, 200, doc);
}
