/* ingest_floor.c: the raw floor for bench/ingest.sh: the records Tollgate
 * stores, inserted straight into SQLite (same schema, same pragmas, one
 * prepared INSERT, 500-row BEGIN IMMEDIATE transactions), single-threaded.
 *
 *   ingest_floor DB TABLE_ID RECORDS_FILE TOTAL
 *
 * RECORDS_FILE holds one stored record (schema-typed JSON) a line; they are
 * inserted in turn, round and round, until TOTAL rows. Prints
 * "floor_records_per_s N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define BATCH 500

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *ins;
	char **lines = NULL, buf[65536];
	size_t n = 0, cap = 0;
	long total, done = 0;
	FILE *f;
	double t0, t;

	if (argc != 5 || (total = atol(argv[4])) <= 0) {
		fprintf(stderr, "usage: ingest_floor DB TABLE_ID RECORDS_FILE TOTAL\n");
		return 2;
	}
	if ((f = fopen(argv[3], "r")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = '\0';
		if (n == cap &&
		    (lines = realloc(lines, (cap = cap ? cap * 2 : 512) * sizeof(*lines))) == NULL)
			return 1;
		if ((lines[n++] = strdup(buf)) == NULL)
			return 1;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "ingest_floor: %s holds no records\n", argv[3]);
		return 1;
	}
	if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
	    sqlite3_exec(db,
	        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL,
	        NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	        "INSERT INTO records (table_id, data, created_at) VALUES (?1, ?2, ?3)", -1, &ins,
	        NULL) != SQLITE_OK) {
		fprintf(stderr, "ingest_floor: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	t0 = now_s();
	while (done < total) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		for (int i = 0; i < BATCH && done < total; i++, done++) {
			sqlite3_reset(ins);
			sqlite3_bind_text(ins, 1, argv[2], -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 2, lines[done % (long)n], -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 3, (sqlite3_int64)time(NULL));
			if (sqlite3_step(ins) != SQLITE_DONE)
				goto fail;
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	t = now_s() - t0;
	printf("floor_records %ld\nfloor_seconds %.3f\nfloor_records_per_s %.0f\n", done, t,
	    (double)done / t);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return 0;
fail:
	fprintf(stderr, "ingest_floor: %s\n", sqlite3_errmsg(db));
	return 1;
}
