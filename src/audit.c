/* audit.c: the audit trail of identity and key events, and GET /v1/audit. */
#include "mw.h"

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

/* An audit row at the cursor of s (columns: seq, at, event, actor, target,
 * request_id, ip). */
static void
audit_write(struct jw *w, const char *key, struct db *db, enum stmt s)
{
	static const char *const names[] = { "actor", "target", "requestId", "ip" };

	jw_object(w, key);
	jw_time(w, "at", db_int(db, s, 1));
	jw_string(w, "event", db_text(db, s, 2));
	for (int c = 3; c <= 6; c++)
		jw_string(w, names[c - 3], db_isnull(db, s, c) ? NULL : db_text(db, s, c));
	jw_object_end(w);
}

void
handle_audit_list(struct req *r)
{
	struct page p;

	if (page_or_reply(r, &p) < 0)
		return;
	reply_rows(r, STMT_AUDIT_LIST,
	    db_query(r->db, STMT_AUDIT_LIST, "tii", r->who.org_id, p.after, (int64_t)p.limit + 1),
	    &p, audit_write, "audit: list");
}
