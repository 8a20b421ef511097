/* test_runner.c: the runner's claiming rules. A job whose runner's lease
 * ran out is taken first, alone; otherwise the oldest queued job of each
 * spinner with no running job, and that spinner's queued jobs behind it,
 * only the first counting an attempt; a spinner with a running job waits. */
#include <string.h>

#include "../../src/runner.c"
#include "unit.h"

static struct db *db;

static void
job_add(const char *id, const char *spinner, int64_t at)
{
	CHECK(db_run(db, STMT_JOB_INSERT, "tttti", id, "org_r", spinner, "api", at) == DB_OK);
}

/* Claims for runner who at time now, as another process would. */
static void
claim_as(const char *who, int64_t now)
{
	int rc = db_query(db, STMT_JOB_CLAIM, "tiii", who, now, (int64_t)JOB_LEASE, (int64_t)1);

	CHECK(rc == DB_ROW);
	db_end(db, STMT_JOB_CLAIM);
}

/* The status of job id. */
static const char *
status_of(const char *id, char *out, size_t outlen)
{
	int rc = db_query(db, STMT_JOB_GET, "tt", id, "org_r");

	snprintf(out, outlen, "%s", rc == DB_ROW ? db_text(db, STMT_JOB_GET, 4) : "?");
	db_end(db, STMT_JOB_GET);
	return out;
}

static void
test_claiming(void)
{
	static struct job b[JOB_BATCH];
	char err[256], st[32];
	int64_t now = tg_now();
	int n = 0;

	db = db_open(":memory:", err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) > 0);
	CHECK(db_run(db, STMT_ORG_INSERT, "tti", "org_r", "R", now) == DB_OK);
	CHECK(db_run(db, STMT_ORG_SET_PLAN, "tt", "org_r", "enterprise") == DB_OK);
	CHECK(db_run(db, STMT_PROJECT_INSERT, "ttti", "prj_r", "org_r", "p", now) == DB_OK);
	CHECK(db_run(db, STMT_TABLE_INSERT, "tttti", "tbl_r", "org_r", "prj_r", "t", now) == DB_OK);
	for (const char *s = "ABC"; *s != '\0'; s++) {
		char id[8], name[8];

		snprintf(id, sizeof(id), "spn_%c", *s);
		snprintf(name, sizeof(name), "%c", *s);
		CHECK(db_run(db, STMT_SPINNER_INSERT, "tttttii", id, "org_r", "prj_r", "tbl_r",
		          name, (int64_t)0, now) == DB_OK);
	}
	/* C's first job was claimed by a runner that died: its lease is over. */
	job_add("job_c0", "spn_C", now - 100);
	claim_as("dead", now - 100);
	/* B's first job runs on another live runner. */
	job_add("job_b0", "spn_B", now - 90);
	claim_as("other", now);
	job_add("job_a1", "spn_A", now - 80);
	job_add("job_b1", "spn_B", now - 70);
	job_add("job_a2", "spn_A", now - 60);
	job_add("job_c1", "spn_C", now - 50);

	snprintf(runner.id, sizeof(runner.id), "run_test");
	/* The job whose runner died goes first, alone, its attempt counted. */
	CHECK(batch_turn(db, b, &n) == DB_OK);
	CHECK(n == 1 && strcmp(b[0].id, "job_c0") == 0 && b[0].counted && b[0].attempts == 2);
	/* Then the oldest queued job of a free spinner and the ones behind it:
	 * A's two, in order; B waits for job_b0, C for job_c0 (ours, unsettled). */
	CHECK(batch_turn(db, b, &n) == DB_OK);
	CHECK(n == 2);
	CHECK(strcmp(b[0].id, "job_a1") == 0 && b[0].counted && b[0].attempts == 1);
	CHECK(strcmp(b[1].id, "job_a2") == 0 && !b[1].counted && b[1].attempts == 0);
	CHECK(strcmp(status_of("job_b1", st, sizeof(st)), "queued") == 0);
	CHECK(strcmp(status_of("job_c1", st, sizeof(st)), "queued") == 0);
	CHECK(strcmp(status_of("job_a2", st, sizeof(st)), "running") == 0);
	/* A's jobs end; with job_b0 still running, nothing else may start. */
	for (int i = 0; i < n; i++) {
		job_finish(&b[i], "succeeded", NULL, NULL, 0);
	}
	CHECK(batch_turn(db, b, &n) == DB_OK);
	CHECK(n == 0);
	CHECK(strcmp(status_of("job_a1", st, sizeof(st)), "succeeded") == 0);
	CHECK(strcmp(status_of("job_a2", st, sizeof(st)), "succeeded") == 0);
	CHECK(strcmp(status_of("job_b1", st, sizeof(st)), "queued") == 0);
	db_close(db);
}

int
main(void)
{
	TEST(test_claiming);
	return unit_done();
}
