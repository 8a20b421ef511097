/* backup.c: `tollgate backup PATH`: a consistent copy of the live database,
 * taken with SQLite's online backup API while the workers keep serving. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup.h"
#include "core.h"

#define BACKUP_STEP_PAGES 1024 /* pages a step: 4 MiB at the default page size */
#define BACKUP_BUSY_MS 30000 /* how long a step may keep finding the database locked */
#define BACKUP_RETRY_MS 50

/* Flushes path (a file or a directory) to disk. -1 with errno on failure. */
static int
backup_fsync(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Removes path and the journal files SQLite may have left beside it. */
static void
backup_unlink(const char *path)
{
	static const char *const suffix[] = { "", "-journal", "-wal", "-shm" };
	char p[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

/* Copies every page of src into dst in steps of BACKUP_STEP_PAGES. The caller
 * holds a read transaction on src, so every step reads the same snapshot:
 * under WAL (how db_open opens every Tollgate database) the workers' writes
 * go on meanwhile and never restart the copy, which copying without that
 * transaction would do on each write. A step that finds a lock (the database
 * being recovered, or not in WAL mode) is retried for BACKUP_BUSY_MS.
 * Returns the pages copied, or -1 with a sentence in err. */
static int
backup_copy(sqlite3 *src, sqlite3 *dst, char *err, size_t errlen)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc, waited = 0, pages;

	if (b == NULL) {
		snprintf(err, errlen, "sqlite3_backup_init: %s", sqlite3_errmsg(dst));
		return -1;
	}
	for (;;) {
		rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
		if (rc == SQLITE_OK) {
			waited = 0;
			continue;
		}
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && waited < BACKUP_BUSY_MS) {
			sqlite3_sleep(BACKUP_RETRY_MS);
			waited += BACKUP_RETRY_MS;
			continue;
		}
		break;
	}
	pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "sqlite3_backup_step: %s%s", sqlite3_errstr(rc),
		    rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? " (gave up waiting for a lock)"
		                                             : "");
		return -1;
	}
	return pages;
}

/* Answers the one-value result of sql on db into out ("" when none). */
static int
backup_pragma(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	int rc;

	*out = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		size_t used = strlen(out);

		/* integrity_check answers one row a problem: keep them all. */
		snprintf(out + used, outlen - used, "%s%s", used > 0 ? "; " : "",
		    v != NULL ? (const char *)v : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Writes a verified copy of the database at src_path to tmp. Returns the
 * pages copied, or -1 with a sentence in err (tmp may then hold debris). */
static int
backup_to(const char *src_path, const char *tmp, int *version, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	char check[512], ver[32];
	int pages = -1;

	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", src_path,
		    src != NULL ? sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(src, BACKUP_BUSY_MS);
	/* The read transaction that pins one snapshot for every step. */
	if (sqlite3_exec(src, db_sql(STMT_TX_BEGIN), NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(src, db_sql(STMT_BACKUP_SCHEMA_COUNT), NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read %s: %s", src_path, sqlite3_errmsg(src));
		goto out;
	}
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    dst != NULL ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	/* The copy is as private as the database (main sets umask 077 too),
	 * before a journal beside it takes its mode. */
	if (db_files_private(tmp) < 0) {
		snprintf(err, errlen, "cannot make %s private", tmp);
		goto out;
	}
	if ((pages = backup_copy(src, dst, err, errlen)) < 0)
		goto out;
	sqlite3_exec(src, db_sql(STMT_TX_COMMIT), NULL, NULL, NULL);
	/* A copy in rollback-journal mode is one self-contained file; a server
	 * opening it switches it back to WAL. */
	if (backup_pragma(dst, db_sql(STMT_BACKUP_JOURNAL_DELETE), check, sizeof(check)) < 0 ||
	    strcmp(check, "delete") != 0) {
		snprintf(err, errlen, "cannot leave WAL mode on %s: %s", tmp, sqlite3_errmsg(dst));
		pages = -1;
		goto out;
	}
	if (backup_pragma(dst, db_sql(STMT_BACKUP_INTEGRITY_CHECK), check, sizeof(check)) < 0 ||
	    strcmp(check, "ok") != 0) {
		snprintf(err, errlen, "the copy fails PRAGMA integrity_check: %s",
		    *check != '\0' ? check : sqlite3_errmsg(dst));
		pages = -1;
		goto out;
	}
	backup_pragma(dst, db_sql(STMT_VERSION_GET), ver, sizeof(ver));
	*version = atoi(ver);
out:
	if (dst != NULL && sqlite3_close(dst) != SQLITE_OK && pages >= 0) {
		snprintf(err, errlen, "cannot close %s: %s", tmp, sqlite3_errmsg(dst));
		pages = -1;
	}
	sqlite3_close(src); /* ends the read transaction if still open */
	return pages;
}

int
backup_run(int argc, char **argv)
{
	char tmp[PATH_MAX], dir[PATH_MAX], err[2 * PATH_MAX + 256], *slash;
	int pages, version = 0;
	const char *path;
	int64_t start = tg_now_ms();

	if (argc != 1 || *argv[0] == '\0' || *argv[0] == '-') {
		fprintf(stderr, "usage: tollgate [--config FILE] backup PATH\n");
		return 2;
	}
	path = argv[0];
	if (db_is_url(cfg.db_path)) {
		fprintf(stderr,
		    "tollgate: backup copies an SQLite database; %s is PostgreSQL: back it up "
		    "with pg_dump, for example\n  pg_dump --format=custom --file=%s '%s'\n",
		    cfg.db_shown, path, cfg.db_shown);
		return 2;
	}
	if (strcmp(path, cfg.db_path) == 0) {
		fprintf(stderr, "tollgate: backup: PATH must not be the database itself\n");
		return 2;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "tollgate: backup: PATH is too long\n");
		return 2;
	}
	/* Written beside PATH, verified, then renamed over it: PATH holds either
	 * the previous backup or the new one, never half of one. */
	backup_unlink(tmp);
	if ((pages = backup_to(cfg.db_path, tmp, &version, err, sizeof(err))) < 0)
		goto fail;
	if (backup_fsync(tmp) < 0) {
		snprintf(err, sizeof(err), "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, sizeof(err), "rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	backup_fsync(dir); /* the rename itself; some file systems refuse, harmlessly */
	log_msg(NULL, "backup: %s to %s: %d pages at schema version %d, integrity ok, %lld ms",
	    cfg.db_path, path, pages, version, (long long)(tg_now_ms() - start));
	return 0;
fail:
	backup_unlink(tmp);
	fprintf(stderr, "tollgate: backup: %s\n", err);
	return 1;
}
