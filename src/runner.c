/* runner.c: the job runner, one thread per `tollgate serve` process with its
 * own database connection. It triggers scheduled spinners when due, claims
 * queued jobs and runs them: a job reads the records its spinner's table
 * gained since the spinner's previous successful job and stores
 * {"processed": N, "nonNull": {"column": N, ...}}.
 *
 * A claim is a lease (JOB_LEASE seconds, renewed as the job goes): several
 * processes can share the database and never run the same job, and a job
 * whose process died is claimed again once its lease runs out.
 *
 * Jobs go in batches: one write transaction records how the last batch
 * ended and claims the next (up to JOB_BATCH jobs: the oldest runnable job
 * of each spinner, and the queued jobs behind it, run in order), so a job
 * takes no commit of SQLite's single writer of its own. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "ratelimit_pg.h"

#define RUNNER_POLL_MS 200 /* longest wait between looks at the queue */
#define RUNNER_GATHER_MS 2 /* before claiming what is left after a short batch, or on waking */
#define JOB_LEASE 15 /* seconds a claim holds without renewal */
#define JOB_CHUNK 10000 /* records read per step; the lease is renewed between steps */
#define JOB_MAX_ATTEMPTS 3 /* claims before a job that keeps dying is failed */
#define JOB_BATCH 32 /* jobs claimed (and later settled) in one transaction */
#define SCHEDULE_BATCH 100 /* scheduled triggers per look */

/* How a run ended, written by the next batch's transaction. */
enum outcome {
	OUT_NONE, /* nothing to write: not run yet, or no longer ours */
	OUT_FINISH, /* succeeded or failed, with its result or reason */
	OUT_RELEASE, /* back to the queue: stopping, or a busy store */
};

struct job {
	char id[40], org_id[40], spinner_id[40];
	int64_t seq, attempts, started;
	int counted; /* its claim counted an attempt (the first job of a batch) */
	int ran; /* job_run has begun it */
	int lost; /* its lease was found taken, or its release refused: nothing of it is written */
	enum outcome outcome;
	const char *status, *reason; /* static text */
	char *result; /* JSON (malloc), or NULL */
	int64_t last_seq;
};

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int woken; /* under mu */
	atomic_int stopping;
	int started;
	char id[40]; /* this runner, as jobs.runner */
	struct db *db;
} runner = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Records that the claimed job j ended as status ("succeeded" or "failed"). */
static void
job_finish(struct job *j, const char *status, char *result, const char *reason, int64_t last_seq)
{
	j->outcome = OUT_FINISH;
	j->status = status;
	j->result = result;
	j->reason = reason;
	j->last_seq = last_seq;
}

/* Records that the claimed job j goes back to the queue. */
static void
job_release(struct job *j)
{
	j->outcome = OUT_RELEASE;
}

/* Writes how j ended, inside the batch transaction; then j holds nothing. */
static int
job_settle(struct db *db, struct job *j)
{
	int rc = DB_OK;

	if (j->lost)
		return DB_OK; /* no longer ours, or left to the end of its lease */
	if (j->outcome == OUT_FINISH) {
		rc = db_run(db, STMT_JOB_FINISH, "tttttiii", j->id, runner.id, j->status, j->result,
		    j->reason, j->last_seq, tg_now(), j->started);
		if (rc != DB_OK)
			log_msg(NULL, "runner: finish %s: database error %d", j->id, rc);
		else if (db_changes(db) == 0)
			log_msg(NULL, "runner: %s was no longer ours to finish", j->id);
		else if ((rc = webhook_job_finished(db, j->org_id, j->id, j->spinner_id, j->status,
		              j->result, j->reason)) != DB_OK)
			log_msg(NULL, "runner: %s: its job.finished event: database error %d",
			    j->id, rc);
		else
			log_msg(NULL, "runner: %s %s%s%s", j->id, j->status, j->reason ? ": " : "",
			    j->reason ? j->reason : "");
	} else if (j->outcome == OUT_RELEASE) {
		rc = db_run(db, STMT_JOB_RELEASE, "tti", j->id, runner.id, (int64_t)j->counted);
		if (rc != DB_OK)
			log_msg(NULL,
			    "runner: cannot release %s; it runs again when its lease ends", j->id);
		else
			log_msg(NULL, "runner: %s back in the queue", j->id);
	}
	return rc;
}

static void
job_clear(struct job *j)
{
	free(j->result);
	memset(j, 0, sizeof(*j));
}

/* Sets every column of the table's schema (JSON, may be empty) to 0 in nonnull. */
static void
nonnull_init(json_object *nonnull, const char *schema)
{
	json_object *s = *schema ? json_tokener_parse(schema) : NULL, *cols;

	if (s != NULL && json_object_object_get_ex(s, "columns", &cols) &&
	    json_object_is_type(cols, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(cols); i++) {
			json_object *name;

			if (json_object_object_get_ex(
			        json_object_array_get_idx(cols, i), "name", &name) &&
			    json_object_is_type(name, json_type_string))
				json_object_object_add(nonnull, json_object_get_string(name),
				    json_object_new_int64(0));
		}
	}
	json_object_put(s);
}

/* Counts the records of table in (lo, hi] into *processed and nonnull. */
static int
job_chunk_count(struct db *db, const char *table, int64_t lo, int64_t hi, int64_t *processed,
    json_object *nonnull)
{
	int rc = db_query(db, STMT_JOB_CHUNK_COUNT, "tii", table, lo, hi);

	if (rc == DB_ROW)
		*processed += db_int(db, STMT_JOB_CHUNK_COUNT, 0);
	db_end(db, STMT_JOB_CHUNK_COUNT);
	if (rc != DB_ROW)
		return rc == DB_DONE ? DB_ERROR : rc;
	for (rc = db_query(db, STMT_JOB_CHUNK_NONNULL, "tii", table, lo, hi); rc == DB_ROW;
	     rc = db_next(db, STMT_JOB_CHUNK_NONNULL)) {
		const char *key = db_text(db, STMT_JOB_CHUNK_NONNULL, 0);
		int64_t n = db_int(db, STMT_JOB_CHUNK_NONNULL, 1);
		json_object *have;

		if (json_object_object_get_ex(nonnull, key, &have))
			n += json_object_get_int64(have);
		json_object_object_add(nonnull, key, json_object_new_int64(n));
	}
	db_end(db, STMT_JOB_CHUNK_NONNULL);
	return rc == DB_DONE ? DB_OK : rc;
}

/* Every job of the batch holds a lease, not only the one running: each is
 * renewed, every third of a lease, between jobs and between a job's steps.
 * A job whose lease lapsed anyway (the process stalled) may have been
 * claimed by another runner: it is marked lost, nothing of it is written,
 * and its spinner's later jobs in the batch go back to the queue. */
static struct {
	struct timespec renewed;
	struct job *b; /* the batch (the runner thread's own) */
	int n;
} leases;

static void
leases_claimed(struct job *b, int n)
{
	clock_gettime(CLOCK_MONOTONIC, &leases.renewed);
	leases.b = b;
	leases.n = n;
}

/* Renews the batch's leases if a third of a lease has gone by, in one
 * transaction; -1 when the store refused. */
static int
leases_renew_work(struct db *db, void *arg)
{
	int rc = DB_OK;

	(void)arg;
	for (int i = 0; i < leases.n && rc == DB_OK; i++) {
		struct job *j = &leases.b[i];

		if (j->lost || j->outcome == OUT_RELEASE)
			continue;
		rc = db_run(db, STMT_JOB_RENEW, "tti", j->id, runner.id, tg_now() + JOB_LEASE);
		if (rc == DB_OK && db_changes(db) == 0) {
			log_msg(NULL, "runner: lost the lease of %s; leaving it", j->id);
			j->lost = 1;
			j->outcome = OUT_NONE;
		}
	}
	return rc;
}

static int
leases_renew(struct db *db)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - leases.renewed.tv_sec < JOB_LEASE / 3)
		return 0;
	if (db_write(db, leases_renew_work, NULL) != DB_OK)
		return -1;
	leases.renewed = now;
	return 0;
}

/* Runs the claimed job j to its end: succeeded, failed, or (stopping, busy
 * store) back in the queue, as j's outcome. from is where the spinner's
 * previous job stopped when that job is in this batch, still unwritten;
 * -1 looks it up. */
static void
job_run(struct db *db, struct job *j, int64_t from)
{
	json_object *result, *nonnull;
	char table[40];
	int64_t end = 0, lo, processed = 0;
	int rc;

	j->ran = 1;
	j->started = tg_now();
	if (j->attempts > JOB_MAX_ATTEMPTS) {
		job_finish(j, "failed", NULL,
		    "The job was interrupted 3 times before it could finish. Trigger it again.", 0);
		return;
	}
	nonnull = json_object_new_object();
	rc = db_query(db, STMT_JOB_SOURCE, "t", j->spinner_id);
	if (rc == DB_ROW) {
		snprintf(table, sizeof(table), "%s", db_text(db, STMT_JOB_SOURCE, 0));
		nonnull_init(nonnull, db_text(db, STMT_JOB_SOURCE, 1));
	}
	db_end(db, STMT_JOB_SOURCE);
	if (rc == DB_DONE) /* the spinner went, and its jobs with it */
		goto out;
	if (rc == DB_ROW && from < 0) {
		rc = db_query(db, STMT_JOB_FROM_SEQ, "t", j->spinner_id);
		from = db_int(db, STMT_JOB_FROM_SEQ, 0);
		db_end(db, STMT_JOB_FROM_SEQ);
	}
	if (rc == DB_ROW) {
		/* The end is fixed now: records added while the job runs are the
		 * next job's. */
		rc = db_query(db, STMT_JOB_RECORDS_END, "ti", table, from);
		end = db_int(db, STMT_JOB_RECORDS_END, 0);
		db_end(db, STMT_JOB_RECORDS_END);
	}
	rc = rc == DB_ROW ? DB_OK : rc;
	for (lo = from; rc == DB_OK && lo < end;) {
		int64_t hi = end;

		if (atomic_load(&runner.stopping)) {
			job_release(j);
			goto out;
		}
		rc = db_query(
		    db, STMT_JOB_CHUNK_END, "tiii", table, lo, end, (int64_t)JOB_CHUNK - 1);
		if (rc == DB_ROW)
			hi = db_int(db, STMT_JOB_CHUNK_END, 0);
		db_end(db, STMT_JOB_CHUNK_END);
		if (rc != DB_ROW && rc != DB_DONE)
			break;
		if ((rc = job_chunk_count(db, table, lo, hi, &processed, nonnull)) != DB_OK)
			break;
		lo = hi;
		if (lo < end)
			leases_renew(db);
		if (j->lost)
			goto out;
	}
	if (rc == DB_BUSY) {
		job_release(j);
		goto out;
	}
	if (rc != DB_OK) {
		job_finish(j, "failed", NULL,
		    "The table's records could not be read. Trigger the spinner again; if this "
		    "persists, contact support.",
		    0);
		goto out;
	}
	result = json_object_new_object();
	json_object_object_add(result, "processed", json_object_new_int64(processed));
	json_object_object_add(result, "nonNull", json_object_get(nonnull));
	job_finish(j, "succeeded",
	    strdup(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN)), NULL, end);
	json_object_put(result);
out:
	json_object_put(nonnull);
}

static int
job_by_seq(const void *a, const void *b)
{
	int64_t x = ((const struct job *)a)->seq, y = ((const struct job *)b)->seq;

	return x < y ? -1 : x > y;
}

/* Steps statement s (opened by db_query with answer rc) through its
 * RETURNING rows of claimed jobs into b[*n...]: DB_OK, or a store error. */
static int
claimed_rows(struct db *db, enum stmt s, int rc, int counted, struct job *b, int *n)
{
	const char *how = s == STMT_JOB_CLAIM_FOLLOWERS ? "claimed behind the one before it"
	                                                : "claimed into the batch";

	for (; rc == DB_ROW; rc = db_next(db, s)) {
		struct job *j = &b[(*n)++];

		memset(j, 0, sizeof(*j));
		snprintf(j->id, sizeof(j->id), "%s", db_text(db, s, 0));
		snprintf(j->org_id, sizeof(j->org_id), "%s", db_text(db, s, 1));
		snprintf(j->spinner_id, sizeof(j->spinner_id), "%s", db_text(db, s, 2));
		j->attempts = db_int(db, s, 3);
		j->seq = db_int(db, s, 4);
		j->counted = counted;
		if (j->counted)
			log_msg(NULL, "runner: %s of %s claimed (attempt %lld)", j->id,
			    j->spinner_id, (long long)j->attempts);
		else
			log_msg(NULL, "runner: %s of %s %s", j->id, j->spinner_id, how);
	}
	db_end(db, s);
	return rc == DB_DONE ? DB_OK : rc;
}

/* A batch turn: the n jobs of b that ended, and the next batch claimed. */
struct turn {
	struct job *b, *next;
	int n, claimed;
	int refused; /* the outcome of b[refused - 1] was refused: start again */
};

static int
batch_turn_work(struct db *db, void *arg)
{
	struct turn *t = arg;
	int rc = DB_OK;

	t->claimed = 0;
	t->refused = 0;
	for (int i = 0; i < t->n && rc == DB_OK; i++) {
		for (int k = 0; k < i; k++)
			if (t->b[k].outcome == OUT_RELEASE && t->b[i].outcome == OUT_FINISH &&
			    strcmp(t->b[k].spinner_id, t->b[i].spinner_id) == 0)
				job_release(&t->b[i]);
		rc = job_settle(db, &t->b[i]);
		/* An outcome the store refuses (other than busy) ends the
		 * transaction on PostgreSQL, and may have written half of itself:
		 * the turn starts again (batch_turn) with the job going back to the
		 * queue instead, and so do its spinner's later jobs of the batch,
		 * which started where it stopped. A job whose release is refused
		 * too is left to the end of its lease. */
		if (rc != DB_OK && rc != DB_BUSY)
			t->refused = i + 1;
	}
	/* A job whose runner died goes first, alone: if it is what kills the
	 * process, no other job is charged an attempt for it. */
	if (rc == DB_OK && !atomic_load(&runner.stopping)) {
		rc = db_query(db, STMT_JOB_RECOVER, "tii", runner.id, tg_now(), (int64_t)JOB_LEASE);
		rc = claimed_rows(db, STMT_JOB_RECOVER, rc, 1, t->next, &t->claimed);
	}
	/* Otherwise the oldest queued job of each spinner free to run, and its
	 * queued jobs behind it. Only the first counts an attempt and starts
	 * now; the others when they start. */
	if (rc == DB_OK && t->claimed == 0) {
		while (rc == DB_OK && t->claimed < JOB_BATCH && !atomic_load(&runner.stopping)) {
			int first = t->claimed, got;

			rc = db_query(db, STMT_JOB_CLAIM, "tiii", runner.id, tg_now(),
			    (int64_t)JOB_LEASE, (int64_t)(first == 0));
			rc = claimed_rows(db, STMT_JOB_CLAIM, rc, first == 0, t->next, &t->claimed);
			if (rc != DB_OK || t->claimed == first)
				break;
			rc = db_query(db, STMT_JOB_CLAIM_FOLLOWERS, "tiitii", runner.id, tg_now(),
			    (int64_t)JOB_LEASE, t->next[first].spinner_id, t->next[first].seq,
			    (int64_t)(JOB_BATCH - t->claimed));
			got = t->claimed;
			rc =
			    claimed_rows(db, STMT_JOB_CLAIM_FOLLOWERS, rc, 0, t->next, &t->claimed);
			qsort(t->next + got, (size_t)(t->claimed - got), sizeof(t->next[0]),
			    job_by_seq);
		}
	}
	return rc;
}

/* One batch turn, in one transaction: writes how the *n jobs of b ended,
 * then (unless stopping) claims the next batch into b and sets *n. On a
 * store error nothing is written and b is left as it was, to be settled
 * again on the next turn. */
static int
batch_turn(struct db *db, struct job *b, int *n)
{
	static struct job next[JOB_BATCH]; /* the runner thread's own */
	struct turn t = { b, next, *n, 0, 0 };
	int rc;

	while ((rc = db_write(db, batch_turn_work, &t)) != DB_OK && t.refused > 0) {
		struct job *j = &b[t.refused - 1];

		if (j->outcome == OUT_FINISH)
			job_release(j);
		else
			j->lost = 1;
	}
	if (rc != DB_OK) {
		log_msg(NULL, "runner: batch: database error %d; its jobs are settled later", rc);
		return rc;
	}
	for (int i = 0; i < *n; i++)
		job_clear(&b[i]);
	memcpy(b, next, sizeof(next[0]) * (size_t)t.claimed);
	*n = t.claimed;
	leases_claimed(b, t.claimed);
	return DB_OK;
}

/* Runs the batch b in order: a job whose spinner's previous job is earlier
 * in b starts where that one stopped (not yet written). A spinner's jobs
 * behind one that went back to the queue, or was lost, go back too: they
 * never overtake it. */
static void
batch_run(struct db *db, struct job *b, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t from = -1;
		int behind_stopped = 0;

		if (atomic_load(&runner.stopping))
			break; /* the rest go back to the queue (runner_main) */
		for (int k = i - 1; k >= 0; k--) {
			if (strcmp(b[k].spinner_id, b[i].spinner_id) != 0)
				continue;
			if (b[k].outcome != OUT_FINISH || b[k].lost)
				behind_stopped = 1;
			else if (strcmp(b[k].status, "succeeded") == 0)
				from = b[k].last_seq;
			break; /* the nearest earlier job of the spinner decides */
		}
		if (behind_stopped) {
			job_release(&b[i]);
			continue;
		}
		/* The nearest was failed: start where the last success stopped. */
		for (int k = i - 1; k >= 0 && from < 0; k--)
			if (strcmp(b[k].spinner_id, b[i].spinner_id) == 0 &&
			    b[k].outcome == OUT_FINISH && strcmp(b[k].status, "succeeded") == 0)
				from = b[k].last_seq;
		if (leases_renew(db) < 0) {
			job_release(&b[i]);
			continue;
		}
		if (b[i].lost)
			continue;
		job_run(db, &b[i], from);
	}
}

/* Queues the next due spinner's run, if one is due: DB_OK, DB_DONE when
 * none is, or a store error. */
static int
schedule_next(struct db *db, void *arg)
{
	struct meter_state full;
	char spinner[40], org[40], job[40];
	int64_t now = tg_now(), every = 0, next = 0;
	int rc = db_query(db, STMT_SPINNER_DUE, "i", now);

	(void)arg;
	if (rc == DB_ROW) {
		snprintf(spinner, sizeof(spinner), "%s", db_text(db, STMT_SPINNER_DUE, 0));
		snprintf(org, sizeof(org), "%s", db_text(db, STMT_SPINNER_DUE, 1));
		every = db_int(db, STMT_SPINNER_DUE, 2) * 60;
		next = db_int(db, STMT_SPINNER_DUE, 3) + every;
	}
	db_end(db, STMT_SPINNER_DUE);
	if (rc != DB_ROW)
		return rc == DB_DONE ? DB_DONE : rc;
	if (next <= now) /* missed runs are not made up */
		next = now + every;
	rc = db_run(db, STMT_SPINNER_SET_NEXT, "ti", spinner, next);
	if (rc == DB_OK)
		rc = job_queue(db, org, spinner, "schedule", job, sizeof(job), &full);
	if (rc == METER_FULL) {
		log_msg(NULL, "runner: scheduled run of %s skipped: meter %s is full", spinner,
		    meter_name(full.meter));
		rc = DB_OK;
	} else if (rc == DB_OK)
		log_msg(NULL, "runner: scheduled %s queued %s", spinner, job);
	if (rc != DB_OK)
		log_msg(NULL, "runner: schedule %s: database error %d", spinner, rc);
	return rc;
}

/* Triggers the spinners whose next run is due, each in its own
 * transaction, through the same meters as POST .../trigger. A full meter
 * skips the run (logged); the next one is one interval later. */
static void
schedule_due(struct db *db)
{
	for (int i = 0; i < SCHEDULE_BATCH && !atomic_load(&runner.stopping); i++)
		if (db_write(db, schedule_next, NULL) != DB_OK)
			return;
}

/* The runner's work besides the queue: the schedules that are due and
 * the cluster limiter's ended windows (every few seconds at most). Between
 * batches (always 0) at most once a second, so a queue that never empties
 * delays neither. */
static void
runner_chores(struct db *db, int always)
{
	static time_t last;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!always && now.tv_sec == last)
		return;
	last = now.tv_sec;
	schedule_due(db);
	if (cfg.ratelimit == RATELIMIT_POSTGRESQL)
		(void)ratelimit_pg_prune(db, tg_now());
}

static void *
runner_main(void *arg)
{
	static struct job batch[JOB_BATCH];
	const struct timespec gather = { .tv_nsec = RUNNER_GATHER_MS * 1000000L };
	struct db *db = arg;
	int n = 0;

	while (!atomic_load(&runner.stopping)) {
		struct timespec until;

		runner_chores(db, 1);
		/* Settle the last batch and claim the next, until none is left. */
		while (
		    !atomic_load(&runner.stopping) && batch_turn(db, batch, &n) == DB_OK && n > 0) {
			/* after the last batch's results are written; the batch just
			 * claimed waits for it, at most once a second */
			runner_chores(db, 0);
			batch_run(db, batch, n);
			if (n < JOB_BATCH) /* let the next batch gather */
				nanosleep(&gather, NULL);
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += RUNNER_POLL_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&runner.mu);
		while (!runner.woken && !atomic_load(&runner.stopping))
			if (pthread_cond_timedwait(&runner.cv, &runner.mu, &until) != 0)
				break;
		runner.woken = 0;
		pthread_mutex_unlock(&runner.mu);
		nanosleep(&gather, NULL); /* let a burst of triggers gather */
	}
	/* Stopping: what ran is written, what did not goes back to the queue. */
	for (int i = 0; i < n; i++)
		if (!batch[i].ran && !batch[i].lost)
			job_release(&batch[i]);
	if (n > 0 && batch_turn(db, batch, &n) != DB_OK)
		log_msg(NULL, "runner: the last batch stays claimed until its leases end");
	for (int i = 0; i < n; i++)
		job_clear(&batch[i]);
	return NULL;
}

int
runner_start(void)
{
	pthread_condattr_t ca;
	char err[256];

	if (tg_id_new("run", runner.id, sizeof(runner.id)) < 0) {
		log_msg(NULL, "runner: no random source");
		return -1;
	}
	if ((runner.db = db_open(cfg.db_path, err, sizeof(err))) == NULL) {
		log_msg(NULL, "runner: %s", err);
		return -1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&runner.cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&runner.stopping, 0);
	if (pthread_create(&runner.thread, NULL, runner_main, runner.db) != 0) {
		log_msg(NULL, "runner: cannot start its thread");
		db_close(runner.db);
		return -1;
	}
	pthread_mutex_lock(&runner.mu);
	runner.started = 1;
	pthread_mutex_unlock(&runner.mu);
	log_msg(NULL, "runner: %s started", runner.id);
	return 0;
}

void
runner_stop(void)
{
	if (!runner.started)
		return;
	pthread_mutex_lock(&runner.mu);
	atomic_store(&runner.stopping, 1);
	pthread_cond_signal(&runner.cv);
	pthread_mutex_unlock(&runner.mu);
	pthread_join(runner.thread, NULL);
	db_close(runner.db);
	pthread_mutex_lock(&runner.mu);
	runner.started = 0;
	pthread_cond_destroy(&runner.cv);
	pthread_mutex_unlock(&runner.mu);
	log_msg(NULL, "runner: stopped");
}

void
runner_wake(void)
{
	pthread_mutex_lock(&runner.mu);
	runner.woken = 1;
	if (runner.started)
		pthread_cond_signal(&runner.cv);
	pthread_mutex_unlock(&runner.mu);
}
