/* ingest_floor_pg.c: the raw PostgreSQL floor of the ingest case of
 * bench/run.sh: the records Tollgate stores, inserted straight into its
 * records table over libpq, from CONNS connections at once (one thread
 * each), each in 500-row transactions of one prepared INSERT sent in
 * pipeline mode (one round trip a transaction, as Tollgate's
 * db_batch_begin sends its inserts).
 *
 *   ingest_floor_pg URL TABLE_ID RECORDS_FILE TOTAL CONNS
 *
 * RECORDS_FILE holds one stored record (schema-typed JSON) a line; each
 * connection inserts them in turn, round and round, until TOTAL rows in
 * all. Prints "floor_records_per_s N". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define BATCH 500
#define MAX_CONNS 64

static const char *url, *table_id;
static char **lines;
static size_t nlines;

struct conn {
	PGconn *pg;
	long rows; /* to insert */
	int failed;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the pipeline's answers up to its sync: 0, or -1 after any error. */
static int
drain(PGconn *pg)
{
	PGresult *res;
	int bad = 0;

	for (;;) {
		if ((res = PQgetResult(pg)) == NULL) {
			if (PQstatus(pg) != CONNECTION_OK)
				return -1;
			continue; /* the end of one statement's results */
		}
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC: PQclear(res); return bad ? -1 : 0;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK: break;
		default:
			if (!bad)
				fprintf(stderr, "ingest_floor_pg: %s", PQresultErrorMessage(res));
			bad = 1;
		}
		PQclear(res);
		if (PQstatus(pg) != CONNECTION_OK)
			return -1;
	}
}

static void *
insert_loop(void *arg)
{
	struct conn *c = arg;
	char now[32];
	long done = 0;

	while (done < c->rows) {
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		if (!PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
			goto fail;
		for (int i = 0; i < BATCH && done < c->rows; i++, done++) {
			const char *v[3] = { table_id, lines[done % (long)nlines], now };

			if (!PQsendQueryPrepared(c->pg, "ins", 3, v, NULL, NULL, 0))
				goto fail;
		}
		if (!PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
		    !PQpipelineSync(c->pg) || drain(c->pg) < 0)
			goto fail;
	}
	return NULL;
fail:
	fprintf(stderr, "ingest_floor_pg: %s", PQerrorMessage(c->pg));
	c->failed = 1;
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct conn conns[MAX_CONNS];
	pthread_t th[MAX_CONNS];
	char buf[65536];
	size_t cap = 0;
	long total;
	int n, failed = 0;
	FILE *f;
	double t0, t;

	if (argc != 6 || (total = atol(argv[4])) <= 0 || (n = atoi(argv[5])) < 1 || n > MAX_CONNS) {
		fprintf(stderr, "usage: ingest_floor_pg URL TABLE_ID RECORDS_FILE TOTAL CONNS\n");
		return 2;
	}
	url = argv[1];
	table_id = argv[2];
	if ((f = fopen(argv[3], "r")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (nlines == cap &&
		    (lines = realloc(lines, (cap = cap ? cap * 2 : 512) * sizeof(*lines))) == NULL)
			return 1;
		if ((lines[nlines++] = strdup(buf)) == NULL)
			return 1;
	}
	fclose(f);
	if (nlines == 0) {
		fprintf(stderr, "ingest_floor_pg: %s holds no records\n", argv[3]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		PGresult *res;

		conns[i].pg = PQconnectdb(url);
		if (PQstatus(conns[i].pg) != CONNECTION_OK) {
			fprintf(stderr, "ingest_floor_pg: %s", PQerrorMessage(conns[i].pg));
			return 1;
		}
		res = PQprepare(conns[i].pg, "ins",
		    "INSERT INTO records (table_id, data, created_at) VALUES ($1, $2, $3)", 3,
		    NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "ingest_floor_pg: %s", PQresultErrorMessage(res));
			return 1;
		}
		PQclear(res);
		if (!PQenterPipelineMode(conns[i].pg)) {
			fprintf(stderr, "ingest_floor_pg: %s", PQerrorMessage(conns[i].pg));
			return 1;
		}
		/* TOTAL in n shares, in whole batches but for the last. */
		conns[i].rows = (total / BATCH / n + (i < total / BATCH % n)) * BATCH;
		if (i == n - 1)
			conns[i].rows += total % BATCH;
	}
	t0 = now_s();
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, insert_loop, &conns[i]) != 0)
			return 1;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		failed |= conns[i].failed;
	}
	t = now_s() - t0;
	if (failed)
		return 1;
	printf("floor_records %ld\nfloor_seconds %.3f\nfloor_records_per_s %.0f\n", total, t,
	    (double)total / t);
	for (int i = 0; i < n; i++)
		PQfinish(conns[i].pg);
	return 0;
}
