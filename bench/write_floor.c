/* write_floor.c: the write floor of the trigger case of bench/run.sh: a
 * trigger's own database work, with no HTTP, FastCGI or JSON. It links
 * build/libtollgate.a and runs what POST /v1/spinners/{id}/trigger runs
 * (job_queue: the spinner checked, both meters read, the jobs meter taken,
 * the job inserted; then the job read back), grouped as the server groups
 * it (db_write_grouped, one connection a thread), and Tollgate's own job
 * runner (runner_start) claims and finishes the jobs. The statements are
 * db.c's; the store is whatever TOLLGATE_DB names (SQLite file or
 * PostgreSQL URL).
 *
 *   write_floor DB ORG_ID SPINNER_ID THREADS SECONDS
 *
 * THREADS threads trigger for SECONDS, then the runner is waited for until
 * the last job queued has finished. Prints the triggers/s, the process's
 * CPU time (user + system, runner included) per trigger in microseconds,
 * the seconds the runner took after the triggers stopped, and the triggers
 * per group commit. The runner's log lines go to stderr. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api.h"

#define MAX_THREADS 64

static const char *org_id, *spinner_id;
static double deadline;
static atomic_long triggers, failures;
static pthread_mutex_t last_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_id[40]; /* the job with the greatest seq queued so far */
static int64_t last_seq = -1;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One trigger as src/spinners.c's trigger_work runs it, less the answer's
 * JSON: the job's columns are read back and left. */
struct trigger {
	char id[40];
	int64_t seq;
};

static int
trigger_work(struct db *db, void *arg)
{
	struct trigger *t = arg;
	struct meter_state full;
	int rc = job_queue(db, org_id, spinner_id, "api", t->id, sizeof(t->id), &full);

	if (rc != DB_OK)
		return rc;
	rc = db_query(db, STMT_JOB_GET, "tt", t->id, org_id);
	if (rc == DB_ROW) {
		t->seq = db_int(db, STMT_JOB_GET, 0);
		for (int col = 1; col <= 6; col++)
			(void)db_text(db, STMT_JOB_GET, col);
		for (int col = 7; col <= 9; col++)
			(void)db_int(db, STMT_JOB_GET, col);
		rc = DB_OK;
	} else if (rc == DB_DONE)
		rc = DB_ERROR;
	db_end(db, STMT_JOB_GET);
	return rc;
}

static void *
trigger_loop(void *arg)
{
	struct db *db = arg;
	struct trigger t;

	while (now_s() < deadline) {
		if (db_write_grouped(db, trigger_work, &t) != DB_OK) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		atomic_fetch_add(&triggers, 1);
		pthread_mutex_lock(&last_mu);
		if (t.seq > last_seq) {
			last_seq = t.seq;
			memcpy(last_id, t.id, sizeof(last_id));
		}
		pthread_mutex_unlock(&last_mu);
		runner_wake();
	}
	return NULL;
}

/* Whether the job id has finished (succeeded or failed); -1 on a store
 * error. A spinner's jobs run in order, so the last one queued finishing
 * means they all have. */
static int
job_done(struct db *db, const char *id)
{
	int rc = db_query(db, STMT_JOB_GET, "tt", id, org_id), done = -1;

	if (rc == DB_ROW) {
		const char *status = db_text(db, STMT_JOB_GET, 4);

		done = strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0;
	}
	db_end(db, STMT_JOB_GET);
	return done;
}

int
main(int argc, char **argv)
{
	struct db *dbs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	unsigned long c0, p0, c1, p1;
	char err[512];
	double t0, t1, t2, cpu0, cpu1, seconds;
	int n, done = 0, rc = 1;

	if (argc != 6 || (n = atoi(argv[4])) < 1 || n > MAX_THREADS ||
	    (seconds = atof(argv[5])) <= 0) {
		fprintf(stderr, "usage: write_floor DB ORG_ID SPINNER_ID THREADS SECONDS\n");
		return 2;
	}
	if (config_load(NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "write_floor: %s\n", err);
		return 1;
	}
	snprintf(cfg.db_path, sizeof(cfg.db_path), "%s", argv[1]);
	org_id = argv[2];
	spinner_id = argv[3];
	for (int i = 0; i < n; i++) {
		if ((dbs[i] = db_open(cfg.db_path, err, sizeof(err))) == NULL) {
			fprintf(stderr, "write_floor: %s\n", err);
			return 1;
		}
	}
	if (runner_start() < 0)
		return 1;
	db_group_counts(&c0, &p0);
	cpu0 = cpu_s();
	t0 = now_s();
	deadline = t0 + seconds;
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, trigger_loop, dbs[i]) != 0) {
			fprintf(stderr, "write_floor: cannot start a thread\n");
			return 1;
		}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	t1 = now_s();
	db_group_counts(&c1, &p1);
	while (last_seq >= 0 && (done = job_done(dbs[0], last_id)) == 0 && now_s() - t1 < 120) {
		runner_wake();
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000L }, NULL);
	}
	t2 = now_s();
	cpu1 = cpu_s();
	runner_stop();
	if (last_seq >= 0 && done != 1)
		fprintf(stderr, "write_floor: the runner did not finish %s\n", last_id);
	else
		rc = 0;
	printf("floor_triggers %ld\nfloor_failures %ld\nfloor_seconds %.3f\n"
	       "floor_triggers_per_s %.0f\ncpu_us %.1f\ndrain_s %.2f\n"
	       "group_per_commit %.2f\n",
	    atomic_load(&triggers), atomic_load(&failures), t1 - t0,
	    (double)atomic_load(&triggers) / (t1 - t0),
	    atomic_load(&triggers) > 0 ? (cpu1 - cpu0) * 1e6 / (double)atomic_load(&triggers) : 0,
	    t2 - t1, c1 > c0 ? (double)(p1 - p0) / (double)(c1 - c0) : 0);
	for (int i = 0; i < n; i++)
		db_close(dbs[i]);
	return rc;
}
