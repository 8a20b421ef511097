/* test_meters.c: plan meters: live objects counted, monthly meters kept per
 * UTC month (and so reset on the 1st), a take past the limit refused
 * without taking anything, unlimited plans, and the 403 PLAN_LIMIT. */
#include <string.h>

#include "../../src/meters.c"
#include "unit.h"

/* 2026-11-30T23:59:00Z and a minute later, 2026-12-01T00:00:00Z. */
#define NOV_END 1796083140
#define DEC_1 1796083200

static struct db *
org_db(const char *plan)
{
	char err[256];
	struct db *db = db_open(":memory:", err, sizeof(err));

	CHECK(db != NULL && db_migrate(db) > 0);
	CHECK(db_run(db, STMT_ORG_INSERT, "tti", "org_m", "M", (int64_t)1) == DB_OK);
	CHECK(db_run(db, STMT_ORG_SET_PLAN, "tt", "org_m", plan) == DB_OK);
	return db;
}

static void
test_names_and_periods(void)
{
	char p[16];
	int64_t next;

	CHECK(strcmp(meter_name(METER_PROJECTS), "projects") == 0);
	CHECK(strcmp(meter_name(METER_API_KEYS), "apiKeys") == 0);
	CHECK(strcmp(meter_name(METER_RECORDS), "records") == 0);
	meter_period(NOV_END, p, sizeof(p), &next);
	CHECK(strcmp(p, "2026-11") == 0 && next == DEC_1);
	meter_period(DEC_1, p, sizeof(p), &next);
	CHECK(strcmp(p, "2026-12") == 0);
}

/* Trial allows 1 project: the live rows are what is counted. */
static void
test_live_objects(void)
{
	struct db *db = org_db("trial");
	struct meter_state st;

	CHECK(meter_take(db, "org_m", METER_PROJECTS, 1, &st) == DB_OK);
	CHECK(st.used == 0 + 1 && st.limit == 1 && st.resets_at == 0);
	CHECK(
	    db_run(db, STMT_PROJECT_INSERT, "ttti", "prj_1", "org_m", "one", (int64_t)1) == DB_OK);
	CHECK(meter_take(db, "org_m", METER_PROJECTS, 1, &st) == METER_FULL);
	CHECK(st.used == 1 && st.limit == 1);
	CHECK(db_run(db, STMT_PROJECT_DELETE, "tt", "prj_1", "org_m") == DB_OK);
	CHECK(meter_take(db, "org_m", METER_PROJECTS, 1, &st) == DB_OK);
	db_close(db);
}

/* Trial allows 10000 records a month: a take is all or nothing, and the
 * count starts again on the 1st. */
static void
test_monthly(void)
{
	struct db *db = org_db("trial");
	struct meter_state st;

	cfg.now = NOV_END;
	CHECK(meter_take(db, "org_m", METER_RECORDS, 9990, &st) == DB_OK);
	CHECK(st.used == 9990 && st.limit == 10000 && st.resets_at == DEC_1);
	CHECK(meter_take(db, "org_m", METER_RECORDS, 11, &st) == METER_FULL);
	CHECK(meter_read(db, "org_m", METER_RECORDS, &st) == DB_OK && st.used == 9990);
	CHECK(meter_take(db, "org_m", METER_RECORDS, 10, &st) == DB_OK && st.used == 10000);
	CHECK(meter_take(db, "org_m", METER_RECORDS, 1, &st) == METER_FULL);
	/* Taking nothing is always allowed, and takes nothing. */
	CHECK(meter_take(db, "org_m", METER_RECORDS, 0, &st) == DB_OK && st.used == 10000);
	cfg.now = DEC_1;
	CHECK(meter_read(db, "org_m", METER_RECORDS, &st) == DB_OK && st.used == 0);
	CHECK(meter_take(db, "org_m", METER_RECORDS, 10000, &st) == DB_OK);
	cfg.now = 0;
	db_close(db);
}

static void
test_unlimited(void)
{
	struct db *db = org_db("enterprise");
	struct meter_state st;

	CHECK(meter_take(db, "org_m", METER_JOBS, 1000000, &st) == DB_OK);
	CHECK(st.limit == -1 && st.used == 1000000);
	db_close(db);
}

static void
test_plan_limit_answer(void)
{
	struct db *db = org_db("trial");
	char *envp[] = { NULL };
	struct meter_state st;
	struct req r;

	req_init(&r, envp, db);
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_m");
	CHECK(
	    db_run(db, STMT_PROJECT_INSERT, "ttti", "prj_1", "org_m", "one", (int64_t)1) == DB_OK);
	CHECK(meter_take_or_reply(&r, METER_PROJECTS, 1, &st) == -1);
	CHECK(r.status == 403 && strcmp(r.error_code, "PLAN_LIMIT") == 0);
	CHECK(r.resp_body != NULL &&
	    strstr(r.resp_body,
	        "\"details\":{\"meter\":\"projects\",\"used\":1,\"limit\":1,"
	        "\"resetsAt\":null,\"requested\":1}") != NULL);
	CHECK(strstr(r.resp_body,
	          "Your plan allows 1 project; 1 is in use. To go on, free capacity (delete a "
	          "project you no longer need) or upgrade your plan in Billing → Usage.") != NULL);
	req_free(&r);
	db_close(db);
}

int
main(void)
{
	TEST(test_names_and_periods);
	TEST(test_live_objects);
	TEST(test_monthly);
	TEST(test_unlimited);
	TEST(test_plan_limit_answer);
	return unit_done();
}
