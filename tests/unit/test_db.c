/* test_db.c: migrations apply once, in order, and every sql/ file is compiled in. */
#include <dirent.h>
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

/* Every statement of stmts[] prepares against the migrated schema. */
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
		if (db_stmt(db, (enum stmt)i) == NULL)
			printf("#   statement %d does not prepare\n", i);
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

int
main(void)
{
	TEST(test_migrate_once);
	TEST(test_every_file_compiled_in);
	TEST(test_every_statement_prepares);
	TEST(test_bad_path);
	return unit_done();
}
