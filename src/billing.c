/* billing.c: the plan, its limits and the organization's usage meters. */
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"
#include "api.h"

static const char *const plan_columns[METER__COUNT] = { "projects", "users", "apiKeys", "jobs",
	"records" };

/* A plan's request budgets as the API shows them: "rateLimits". */
static json_object *
rate_limits_json(const struct rl_plan *p)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "key", json_object_new_int64(p->key));
	json_object_object_add(o, "user", json_object_new_int64(p->user));
	json_object_object_add(o, "organization", json_object_new_int64(p->org));
	json_object_object_add(o, "window", json_object_new_int64(cfg.rate_window));
	return o;
}

/* Answers the usage of the caller's organization with status. */
static void
reply_usage(struct req *r, int status)
{
	struct meter_state st[METER__COUNT];
	char plan_id[64], plan_name[64], start[32];
	struct rl_plan rates;
	struct jw w;
	int64_t next;
	int rc = meter_read_all(r->db, r->who.org_id, st, plan_id, plan_name, sizeof(plan_id));

	if (rc == DB_OK)
		rc = ratelimit_plan_read(r->db, r->who.org_id, &rates);
	if (rc != DB_OK) {
		reply_db_error(r, rc, "billing: usage");
		return;
	}
	meter_period(tg_now(), start, sizeof(start), &next);
	strncat(start, "-01T00:00:00Z", sizeof(start) - strlen(start) - 1);
	jw_init(&w);
	jw_object(&w, NULL);
	jw_object(&w, "plan");
	jw_string(&w, "id", plan_id);
	jw_string(&w, "name", plan_name);
	jw_value(&w, "rateLimits", rate_limits_json(&rates));
	jw_object_end(&w);
	jw_object(&w, "period");
	jw_string(&w, "start", start);
	jw_time(&w, "end", next);
	jw_object_end(&w);
	jw_array(&w, "meters");
	for (int m = 0; m < METER__COUNT; m++)
		meter_write(&w, NULL, &st[m]);
	jw_array_end(&w);
	jw_object_end(&w);
	reply_jw(r, status, &w);
}

void
handle_billing_usage(struct req *r)
{
	reply_usage(r, 200);
}

void
handle_billing_plans(struct req *r)
{
	json_object *data = json_object_new_array();
	struct rl_plan rates;
	int rc;

	for (rc = db_query(r->db, STMT_PLANS_ALL, ""); rc == DB_ROW;
	     rc = db_next(r->db, STMT_PLANS_ALL)) {
		json_object *p = json_object_new_object(), *limits = json_object_new_object();

		json_object_object_add(
		    p, "id", json_object_new_string(db_text(r->db, STMT_PLANS_ALL, 0)));
		json_object_object_add(
		    p, "name", json_object_new_string(db_text(r->db, STMT_PLANS_ALL, 1)));
		for (int m = 0; m < METER__COUNT; m++)
			json_object_object_add(limits, plan_columns[m],
			    db_isnull(r->db, STMT_PLANS_ALL, 2 + m)
			        ? NULL
			        : json_object_new_int64(db_int(r->db, STMT_PLANS_ALL, 2 + m)));
		json_object_object_add(p, "limits", limits);
		rates.key = ratelimit_plan_column(r->db, STMT_PLANS_ALL, 7, cfg.rate_key);
		rates.user = ratelimit_plan_column(r->db, STMT_PLANS_ALL, 8, cfg.rate_user);
		rates.org = ratelimit_plan_column(r->db, STMT_PLANS_ALL, 9, cfg.rate_org);
		json_object_object_add(p, "rateLimits", rate_limits_json(&rates));
		json_object_array_add(data, p);
	}
	db_end(r->db, STMT_PLANS_ALL);
	if (rc != DB_DONE) {
		json_object_put(data);
		reply_db_error(r, rc, "billing: plans");
		return;
	}
	{
		json_object *o = json_object_new_object();

		json_object_object_add(o, "data", data);
		reply_json(r, 200, o);
	}
}

void
handle_billing_history(struct req *r)
{
	json_object *data = json_object_new_array(), *month = NULL, *meters = NULL, *o;
	char period[32], current[32] = "";
	int rc;

	meter_period(tg_now(), period, sizeof(period), NULL);
	for (rc = db_query(r->db, STMT_USAGE_HISTORY, "tt", r->who.org_id, period); rc == DB_ROW;
	     rc = db_next(r->db, STMT_USAGE_HISTORY)) {
		const char *p = db_text(r->db, STMT_USAGE_HISTORY, 0);

		if (month == NULL || strcmp(p, current) != 0) {
			snprintf(current, sizeof(current), "%s", p);
			month = json_object_new_object();
			meters = json_object_new_array();
			json_object_object_add(month, "period", json_object_new_string(p));
			json_object_object_add(month, "meters", meters);
			json_object_array_add(data, month);
		}
		o = json_object_new_object();
		json_object_object_add(
		    o, "meter", json_object_new_string(db_text(r->db, STMT_USAGE_HISTORY, 1)));
		json_object_object_add(
		    o, "used", json_object_new_int64(db_int(r->db, STMT_USAGE_HISTORY, 2)));
		json_object_array_add(meters, o);
	}
	db_end(r->db, STMT_USAGE_HISTORY);
	if (rc != DB_DONE) {
		json_object_put(data);
		reply_db_error(r, rc, "billing: history");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	reply_json(r, 200, o);
}

static int
plan_set(struct req *r, void *arg)
{
	const char *plan = arg;
	/* A downgrade below current usage is allowed: what exists stays, new
	 * objects are refused until usage fits. */
	int rc = db_run(r->db, STMT_ORG_SET_PLAN, "tt", r->who.org_id, plan);

	if (rc == DB_CONSTRAINT) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("plan"));
		reply_error(r, ERR_INVALID_BODY_PLAN, NULL, d);
		return rc;
	}
	if (rc == DB_OK)
		rc = audit_log(r, r->who.org_id, "plan.changed", r->who.user_id, plan);
	return rc;
}

void
handle_billing_plan_set(struct req *r)
{
	const char *plan;

	if (json_string_or_reply(r, r->json, "plan", 1, 1, 40, &plan) < 0)
		return;
	if (db_tx_or_reply(r, plan_set, (void *)plan, "billing: set plan") == DB_OK)
		reply_usage(r, 200);
}
