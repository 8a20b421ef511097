/* audit.c: the audit trail of identity and key events, and GET /v1/audit. */
#include "tollgate.h"

int
audit_log(
    struct req *r, const char *org_id, const char *event, const char *actor, const char *target)
{
	int rc = db_run(r->db, STMT_AUDIT_INSERT, "tittttt", org_id, tg_now(), event, actor, target,
	    r->request_id, r->client_ip);

	if (rc != DB_OK)
		log_msg(r->request_id, "audit: cannot record %s: %d", event, rc);
	return rc;
}

void
handle_audit_list(struct req *r)
{
	struct page p;
	json_object *data;
	int rc, n = 0;
	int64_t last = 0;

	if (page_or_reply(r, &p) < 0)
		return;
	data = json_object_new_array();
	for (rc = db_query(
	         r->db, STMT_AUDIT_LIST, "tii", r->who.org_id, p.after, (int64_t)p.limit + 1);
	     rc == DB_ROW; rc = db_next(r->db, STMT_AUDIT_LIST)) {
		json_object *o;

		if (++n > p.limit)
			break;
		o = json_object_new_object();
		last = db_int(r->db, STMT_AUDIT_LIST, 0);
		json_object_object_add(o, "at", json_time(db_int(r->db, STMT_AUDIT_LIST, 1)));
		json_object_object_add(
		    o, "event", json_object_new_string(db_text(r->db, STMT_AUDIT_LIST, 2)));
		for (int c = 3; c <= 6; c++) {
			static const char *const names[] = { "actor", "target", "requestId", "ip" };

			json_object_object_add(o, names[c - 3],
			    db_isnull(r->db, STMT_AUDIT_LIST, c)
			        ? NULL
			        : json_object_new_string(db_text(r->db, STMT_AUDIT_LIST, c)));
		}
		json_object_array_add(data, o);
	}
	db_end(r->db, STMT_AUDIT_LIST);
	if (rc != DB_ROW && rc != DB_DONE) {
		json_object_put(data);
		reply_db_error(r, rc, "audit: list");
		return;
	}
	reply_page(r, data, n > p.limit ? last : 0);
}
