/* test_db.c: migrations apply once, in order, and every sql/ file is compiled in. */
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../../src/db.c"
#include "unit.h"

static void
test_migrate_once(void)
{
	char path[] = "/tmp/tollgate-db-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct db *db;

	close(fd);
	db = db_open(path, err, sizeof(err));
	CHECK(db != NULL);
	CHECK(db_version(db) == 0);
	CHECK(db_migrate(db) == db_migration_count());
	CHECK(db_version(db) == db_migration_count());
	CHECK(db_migrate(db) == 0);
	CHECK(db_run(db, STMT_PING, "") == DB_OK);
	db_close(db);
	/* A second connection (another process) finds nothing to do. */
	db = db_open(path, err, sizeof(err));
	CHECK(db_migrate(db) == 0);
	db_close(db);
	unlink(path);
}

static void
test_every_file_compiled_in(void)
{
	DIR *d = opendir("sql");
	struct dirent *e;
	int files = 0;

	CHECK(d != NULL);
	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0) {
			int found = 0;

			files++;
			for (int i = 0; i < db_migration_count(); i++)
				if (strncmp(e->d_name, migrations[i].name, n - 4) == 0)
					found = 1;
			CHECK(found);
		}
	}
	if (d)
		closedir(d);
	CHECK(files == db_migration_count());
}

/* Every statement of stmts[] is there, named, and prepares against the
 * migrated schema. */
static void
test_every_statement_prepares(void)
{
	char path[] = "/tmp/tollgate-db-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct db *db;

	close(fd);
	db = db_open(path, err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) == db_migration_count());
	for (int i = 0; db != NULL && i < STMT__COUNT; i++) {
		/* Every entry is filled in, under its own name. */
		CHECK(stmts[i].name != NULL && stmts[i].sql != NULL);
		if (stmts[i].name == NULL)
			continue;
		CHECK(strncmp(stmts[i].name, "STMT_", 5) == 0);
		for (int k = 0; k < i; k++)
			CHECK(stmts[k].name == NULL || strcmp(stmts[k].name, stmts[i].name) != 0);
		if (i == STMT_VERSION_SET) /* completed with a number by db_migrate */
			continue;
		if (i >= STMT_COPY_PG_VERSION && i <= STMT_COPY_PG_COLUMNS) /* PostgreSQL's alone */
			continue;
		if (i == STMT_RATE_TAKE) /* PostgreSQL's alone: its function is sql/pg/015's */
			continue;
		if (db_stmt(db, (enum stmt)i) == NULL)
			printf("#   %s does not prepare\n", stmts[i].name);
		CHECK(db_stmt(db, (enum stmt)i) != NULL);
	}
	db_close(db);
	unlink(path);
}

static void
test_bad_path(void)
{
	char err[256] = "";

	CHECK(db_open("/nonexistent-dir/x.db", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "cannot open") != NULL);
}

/* ---- group commit: many threads, one piece each at a time ---- */

#define GROUP_THREADS 8
#define GROUP_PIECES 150

struct piece {
	char id[40];
	int fail; /* write, then answer an error: undone */
};

static int
piece_work(struct db *db, void *arg)
{
	struct piece *p = arg;
	int rc = db_run(db, STMT_ORG_INSERT, "tti", p->id, "grouped", (int64_t)1);

	return rc == DB_OK && p->fail ? DB_CONSTRAINT : rc;
}

static const char *group_path;
static atomic_int group_wrong;

static void *
group_thread(void *arg)
{
	int t = (int)(intptr_t)arg;
	char err[256];
	struct db *db = db_open(group_path, err, sizeof(err));

	for (int i = 0; db != NULL && i < GROUP_PIECES; i++) {
		struct piece p = { .fail = i % 10 == 3 };
		int rc;

		snprintf(p.id, sizeof(p.id), "org_g%d_%d", t, i);
		rc = db_write_grouped(db, piece_work, &p);
		if (rc != (p.fail ? DB_CONSTRAINT : DB_OK))
			atomic_fetch_add(&group_wrong, 1);
	}
	if (db == NULL)
		atomic_fetch_add(&group_wrong, 1);
	db_close(db);
	return NULL;
}

static void
test_group_commit(void)
{
	char path[] = "/tmp/tollgate-group-XXXXXX", err[256];
	pthread_t th[GROUP_THREADS];
	int fd = mkstemp(path), kept = 0;
	struct db *db;

	close(fd);
	group_path = path;
	db = db_open(path, err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) == db_migration_count());
	for (int i = 0; i < GROUP_THREADS; i++)
		pthread_create(&th[i], NULL, group_thread, (void *)(intptr_t)i);
	for (int i = 0; i < GROUP_THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(atomic_load(&group_wrong) == 0);
	/* Every piece that answered DB_OK is there, every failed one undone. */
	{
		sqlite3_stmt *st;

		sqlite3_prepare_v2(db->conn,
		    "SELECT count(*), sum(id LIKE 'org_g%\\_3' ESCAPE '\\' OR id LIKE "
		    "'org_g%\\_13' ESCAPE '\\') FROM organizations WHERE name = 'grouped'",
		    -1, &st, NULL);
		if (sqlite3_step(st) == SQLITE_ROW) {
			kept = sqlite3_column_int(st, 0);
			CHECK(sqlite3_column_int(st, 1) == 0);
		}
		sqlite3_finalize(st);
	}
	CHECK(kept == GROUP_THREADS * GROUP_PIECES * 9 / 10);
	/* And pieces did share commits. */
	printf("#   %ld pieces in %ld commits\n", atomic_load(&group.pieces),
	    atomic_load(&group.commits));
	CHECK(atomic_load(&group.pieces) == GROUP_THREADS * GROUP_PIECES);
	CHECK(atomic_load(&group.commits) < atomic_load(&group.pieces));
	db_close(db);
	unlink(path);
	/* The WAL and shared-memory files go with it. */
	snprintf(err, sizeof(err), "%s-wal", path);
	unlink(err);
	snprintf(err, sizeof(err), "%s-shm", path);
	unlink(err);
}

int
main(void)
{
	TEST(test_migrate_once);
	TEST(test_every_file_compiled_in);
	TEST(test_every_statement_prepares);
	TEST(test_bad_path);
	TEST(test_group_commit);
	return unit_done();
}
