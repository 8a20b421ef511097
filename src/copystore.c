/* copystore.c: `tollgate copy-store --from PATH --to URL`: every row of an
 * SQLite database, read in one snapshot, written into a freshly migrated
 * PostgreSQL database in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "copystore.h"
#include "core.h"

#define CS_MAX_TABLES 64
#define CS_MAX_COLUMNS 64
#define CS_NAME 64
#define CS_SQL 4096
#define CS_CHUNK 65536 /* bytes of COPY data sent at a time */
#define CS_BUSY_MS 30000

/* The tables the migrations fill: the target's rows give way to the source's. */
static const char *const cs_seeded[] = { "meta", "plans" };

struct cs_table {
	char name[CS_NAME];
	int seeded;
	int64_t rows; /* in the source's snapshot */
	char cols[CS_MAX_COLUMNS][CS_NAME]; /* the target's, in its order */
	int ncols;
	int identity[CS_MAX_COLUMNS]; /* cols[i] is an identity column */
	int rowid_col; /* the index of the target's `rowid` the source lacks, or -1 */
};

struct cs {
	sqlite3 *src;
	PGconn *pg;
	struct cs_table t[CS_MAX_TABLES];
	int n;
	char err[1024];
};

/* Writes name as a quoted SQL identifier into out. -1 when it does not fit. */
static int
cs_ident(const char *name, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen < 3)
		return -1;
	out[n++] = '"';
	for (const char *p = name; *p != '\0'; p++) {
		if (n + 4 > outlen)
			return -1;
		if (*p == '"')
			out[n++] = '"';
		out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
	return 0;
}

/* Appends the quoted identifier name to sql (used bytes n). -1 when full. */
static int
cs_append_ident(char *sql, size_t len, size_t *n, const char *name)
{
	char q[2 * CS_NAME + 3];

	if (cs_ident(name, q, sizeof(q)) < 0 || *n + strlen(q) + 1 >= len)
		return -1;
	memcpy(sql + *n, q, strlen(q) + 1);
	*n += strlen(q);
	return 0;
}

static int
cs_append(char *sql, size_t len, size_t *n, const char *s)
{
	if (*n + strlen(s) + 1 >= len)
		return -1;
	memcpy(sql + *n, s, strlen(s) + 1);
	*n += strlen(s);
	return 0;
}

/* Runs sql on the target; answers its result when it has status want, else
 * NULL with a sentence in c->err. */
static PGresult *
cs_pg(struct cs *c, const char *sql, int nparams, const char *const *params, ExecStatusType want)
{
	PGresult *res = nparams > 0 ? PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0)
	                            : PQexec(c->pg, sql);

	if (PQresultStatus(res) != want) {
		snprintf(c->err, sizeof(c->err), "PostgreSQL: %s", PQerrorMessage(c->pg));
		c->err[strcspn(c->err, "\n")] = '\0';
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Answers the one integer sql (no parameters) answers on the source, or -1. */
static int64_t
cs_sqlite_int(struct cs *c, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(c->src, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "SQLite: %s", sqlite3_errmsg(c->src));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		snprintf(c->err, sizeof(c->err), "SQLite: %s", sqlite3_errmsg(c->src));
	sqlite3_finalize(st);
	return v;
}

/* Answers the one integer sql answers on the target, or -1. */
static int64_t
cs_pg_int(struct cs *c, const char *sql)
{
	PGresult *res = cs_pg(c, sql, 0, NULL, PGRES_TUPLES_OK);
	int64_t v = -1;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

/* Answers the index of name among the first n tables, or -1. */
static int
cs_find(const struct cs *c, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(c->t[i].name, name) == 0)
			return i;
	return -1;
}

/* Fills c->t with the source's tables, parents before the tables that refer
 * to them (PRAGMA foreign_key_list). -1 with c->err on failure. */
static int
cs_tables(struct cs *c)
{
	char names[CS_MAX_TABLES][CS_NAME];
	int n = 0, placed[CS_MAX_TABLES] = { 0 }, progress = 1;
	sqlite3_stmt *st, *fk;

	if (sqlite3_prepare_v2(c->src, db_sql(STMT_COPY_TABLES), -1, &st, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "SQLite: %s", sqlite3_errmsg(c->src));
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		if (n == CS_MAX_TABLES || strlen(name) >= CS_NAME) {
			snprintf(c->err, sizeof(c->err), "too many tables, or a name too long");
			sqlite3_finalize(st);
			return -1;
		}
		snprintf(names[n++], CS_NAME, "%s", name);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(c->src, db_sql(STMT_COPY_PARENTS), -1, &fk, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "SQLite: %s", sqlite3_errmsg(c->src));
		return -1;
	}
	c->n = 0;
	while (c->n < n && progress) {
		progress = 0;
		for (int i = 0; i < n; i++) {
			int ready = 1;

			if (placed[i])
				continue;
			sqlite3_reset(fk);
			sqlite3_bind_text(fk, 1, names[i], -1, SQLITE_STATIC);
			while (sqlite3_step(fk) == SQLITE_ROW) {
				const char *parent = (const char *)sqlite3_column_text(fk, 0);

				if (strcmp(parent, names[i]) != 0 && cs_find(c, c->n, parent) < 0)
					ready = 0;
			}
			if (!ready)
				continue;
			memset(&c->t[c->n], 0, sizeof(c->t[c->n]));
			memcpy(c->t[c->n].name, names[i], CS_NAME);
			for (size_t k = 0; k < sizeof(cs_seeded) / sizeof(cs_seeded[0]); k++)
				if (strcmp(names[i], cs_seeded[k]) == 0)
					c->t[c->n].seeded = 1;
			c->n++;
			placed[i] = progress = 1;
		}
	}
	sqlite3_finalize(fk);
	if (c->n < n) {
		snprintf(c->err, sizeof(c->err), "the source's foreign keys form a cycle");
		return -1;
	}
	return 0;
}

/* Matches table t's columns on both sides: every column of the target's has
 * one of the same name in the source, except `rowid`, which stands for
 * SQLite's. -1 with c->err when the schemas differ. */
static int
cs_columns(struct cs *c, struct cs_table *t)
{
	const char *params[1] = { t->name };
	PGresult *res = cs_pg(c, db_sql(STMT_COPY_PG_COLUMNS), 1, params, PGRES_TUPLES_OK);
	char src[CS_MAX_COLUMNS][CS_NAME];
	int nsrc = 0, rc = -1;
	sqlite3_stmt *st;

	if (res == NULL)
		return -1;
	if (sqlite3_prepare_v2(c->src, db_sql(STMT_COPY_COLUMNS), -1, &st, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "SQLite: %s", sqlite3_errmsg(c->src));
		goto out;
	}
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && nsrc < CS_MAX_COLUMNS)
		snprintf(src[nsrc++], CS_NAME, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (PQntuples(res) == 0) {
		snprintf(c->err, sizeof(c->err), "the target has no table %s", t->name);
		goto out;
	}
	if (PQntuples(res) > CS_MAX_COLUMNS) {
		snprintf(c->err, sizeof(c->err), "table %s has too many columns", t->name);
		goto out;
	}
	t->ncols = 0;
	t->rowid_col = -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		int found = 0;

		for (int k = 0; k < nsrc; k++)
			found |= strcmp(src[k], name) == 0;
		if (!found && strcmp(name, "rowid") == 0)
			t->rowid_col = t->ncols;
		else if (!found) {
			snprintf(c->err, sizeof(c->err),
			    "the schemas differ: the target's %s.%s is not in the source", t->name,
			    name);
			goto out;
		}
		snprintf(t->cols[t->ncols], CS_NAME, "%s", name);
		t->identity[t->ncols++] = strcmp(PQgetvalue(res, i, 1), "YES") == 0;
	}
	if (nsrc != t->ncols - (t->rowid_col >= 0 ? 1 : 0)) {
		snprintf(c->err, sizeof(c->err),
		    "the schemas differ: table %s has %d columns in the source", t->name, nsrc);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Appends v to the COPY row in buf (text format: \N for NULL; backslash,
 * tab, newline and carriage return escaped). -1 when buf is full. */
static int
cs_field(char *buf, size_t len, size_t *n, sqlite3_stmt *st, int col)
{
	char num[64];
	const unsigned char *v;
	int bytes;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL: return cs_append(buf, len, n, "\\N");
	case SQLITE_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)sqlite3_column_int64(st, col));
		return cs_append(buf, len, n, num);
	case SQLITE_FLOAT: /* 17 digits: the same double on the other side */
		snprintf(num, sizeof(num), "%.17g", sqlite3_column_double(st, col));
		return cs_append(buf, len, n, num);
	default:
		v = sqlite3_column_text(st, col);
		bytes = sqlite3_column_bytes(st, col);
		for (int i = 0; i < bytes; i++) {
			const char *esc = v[i] == '\\' ? "\\\\"
			    : v[i] == '\t'             ? "\\t"
			    : v[i] == '\n'             ? "\\n"
			    : v[i] == '\r'             ? "\\r"
			                               : NULL;

			if (*n + 3 >= len)
				return -1;
			if (esc != NULL) {
				memcpy(buf + *n, esc, 2);
				*n += 2;
			} else
				buf[(*n)++] = (char)v[i];
		}
		buf[*n] = '\0';
		return 0;
	}
}

/* Copies table t's rows into the target with COPY FROM STDIN. Answers the
 * rows sent, or -1 with c->err. */
static int64_t
cs_copy(struct cs *c, struct cs_table *t)
{
	char sel[CS_SQL], cp[CS_SQL], *buf = NULL;
	size_t ns = 0, nc = 0, n = 0, cap = 4 * CS_CHUNK;
	int64_t rows = -1, sent = 0;
	sqlite3_stmt *st = NULL;
	PGresult *res;
	int rc;

	cs_append(sel, sizeof(sel), &ns, "SELECT ");
	cs_append(cp, sizeof(cp), &nc, "COPY ");
	if (cs_append_ident(cp, sizeof(cp), &nc, t->name) < 0 ||
	    cs_append(cp, sizeof(cp), &nc, " (") < 0)
		goto toolong;
	for (int i = 0; i < t->ncols; i++) {
		const char *sep = i > 0 ? ", " : "";

		if (cs_append(sel, sizeof(sel), &ns, sep) < 0 ||
		    (i == t->rowid_col ? cs_append(sel, sizeof(sel), &ns, "rowid")
		                       : cs_append_ident(sel, sizeof(sel), &ns, t->cols[i])) < 0 ||
		    cs_append(cp, sizeof(cp), &nc, sep) < 0 ||
		    cs_append_ident(cp, sizeof(cp), &nc, t->cols[i]) < 0)
			goto toolong;
	}
	if (cs_append(sel, sizeof(sel), &ns, " FROM ") < 0 ||
	    cs_append_ident(sel, sizeof(sel), &ns, t->name) < 0 ||
	    cs_append(cp, sizeof(cp), &nc, ") FROM STDIN") < 0)
		goto toolong;
	if (sqlite3_prepare_v2(c->src, sel, -1, &st, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "SQLite: %s: %s", t->name, sqlite3_errmsg(c->src));
		return -1;
	}
	if ((res = cs_pg(c, cp, 0, NULL, PGRES_COPY_IN)) == NULL)
		goto out;
	PQclear(res);
	if ((buf = malloc(cap)) == NULL) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		PQputCopyEnd(c->pg, "out of memory");
		goto drain;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t row = n;
		int ok;

		for (;;) {
			ok = 1;
			for (int i = 0; ok && i < t->ncols; i++)
				ok = (i == 0 || cs_append(buf, cap, &n, "\t") == 0) &&
				    cs_field(buf, cap, &n, st, i) == 0;
			if (ok && cs_append(buf, cap, &n, "\n") == 0)
				break;
			/* The row does not fit after the ones before it: send
			 * those; when it is alone, grow the buffer. */
			if (row > 0) {
				if (PQputCopyData(c->pg, buf, (int)row) != 1)
					goto copyfail;
			} else {
				char *bigger = realloc(buf, cap * 2);

				if (bigger == NULL)
					goto copyfail;
				buf = bigger;
				cap *= 2;
			}
			n = row = 0;
		}
		sent++;
		if (n >= CS_CHUNK) {
			if (PQputCopyData(c->pg, buf, (int)n) != 1)
				goto copyfail;
			n = 0;
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(c->err, sizeof(c->err), "SQLite: %s: %s", t->name, sqlite3_errmsg(c->src));
		PQputCopyEnd(c->pg, "the source failed");
		goto drain;
	}
	if ((n > 0 && PQputCopyData(c->pg, buf, (int)n) != 1) || PQputCopyEnd(c->pg, NULL) != 1)
		goto copyfail;
	rows = sent;
drain:
	while ((res = PQgetResult(c->pg)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rows >= 0) {
			snprintf(c->err, sizeof(c->err), "PostgreSQL: %s: %s", t->name,
			    PQresultErrorMessage(res));
			c->err[strcspn(c->err, "\n")] = '\0';
			rows = -1;
		}
		PQclear(res);
	}
	goto out;
copyfail:
	snprintf(c->err, sizeof(c->err), "copying %s: %s", t->name,
	    *PQerrorMessage(c->pg) != '\0' ? PQerrorMessage(c->pg) : "out of memory");
	c->err[strcspn(c->err, "\n")] = '\0';
	PQputCopyEnd(c->pg, "tollgate copy-store failed");
	rows = -1;
	goto drain;
toolong:
	snprintf(c->err, sizeof(c->err), "table %s: its statement is too long", t->name);
	return -1;
out:
	free(buf);
	sqlite3_finalize(st);
	return rows;
}

/* Answers the rows of table name on the target (side 'p') or the source
 * ('s'), or -1 with c->err. */
static int64_t
cs_count(struct cs *c, const char *name, char side)
{
	char sql[CS_SQL];
	size_t n = 0;

	if (cs_append(sql, sizeof(sql), &n, "SELECT count(*) FROM ") < 0 ||
	    cs_append_ident(sql, sizeof(sql), &n, name) < 0) {
		snprintf(c->err, sizeof(c->err), "table %s: its name is too long", name);
		return -1;
	}
	return side == 'p' ? cs_pg_int(c, sql) : cs_sqlite_int(c, sql);
}

/* Sets every identity sequence of t past the largest value copied. */
static int
cs_setval(struct cs *c, const struct cs_table *t)
{
	for (int i = 0; i < t->ncols; i++) {
		char sql[CS_SQL], qt[2 * CS_NAME + 3], qc[2 * CS_NAME + 3];
		const char *params[2] = { qt, t->cols[i] };
		PGresult *res;

		if (!t->identity[i])
			continue;
		if (cs_ident(t->name, qt, sizeof(qt)) < 0 ||
		    cs_ident(t->cols[i], qc, sizeof(qc)) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
		    "SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(%s), 0) + 1, "
		    "false) FROM %s",
		    qc, qt);
		if ((res = cs_pg(c, sql, 2, params, PGRES_TUPLES_OK)) == NULL)
			return -1;
		PQclear(res);
	}
	return 0;
}

/* Copies the source into the target in one transaction, within the source's
 * read snapshot. 0 when committed, 1 when refused or failed (c->err says
 * why; nothing is written). */
static int
cs_move(struct cs *c, int *version)
{
	int64_t sv, pv;
	PGresult *res;

	if (cs_tables(c) < 0)
		return 1;
	if ((sv = cs_sqlite_int(c, db_sql(STMT_VERSION_GET))) < 0 ||
	    (pv = cs_pg_int(c, db_sql(STMT_COPY_PG_VERSION))) < 0)
		return 1;
	if (sv != pv) {
		snprintf(c->err, sizeof(c->err),
		    "the source is at schema version %lld, the target at %lld: %s", (long long)sv,
		    (long long)pv,
		    sv < pv ? "run `tollgate migrate` on the source with this tollgate first"
		            : "the source is newer than this tollgate");
		return 1;
	}
	*version = (int)sv;
	if ((res = cs_pg(c, db_sql_pg(STMT_TX_BEGIN_IMMEDIATE), 0, NULL, PGRES_TUPLES_OK)) == NULL)
		return 1;
	PQclear(res);
	for (int i = 0; i < c->n; i++) {
		struct cs_table *t = &c->t[i];
		int64_t held;

		if (cs_columns(c, t) < 0 || (t->rows = cs_count(c, t->name, 's')) < 0)
			return 1;
		if (t->seeded)
			continue;
		if ((held = cs_count(c, t->name, 'p')) < 0)
			return 1;
		if (held > 0) {
			snprintf(c->err, sizeof(c->err),
			    "the target holds data already (%s: %lld rows): copy-store fills a "
			    "new, empty database only",
			    t->name, (long long)held);
			return 1;
		}
	}
	/* The migrations' own rows give way, children before parents. */
	for (int i = c->n - 1; i >= 0; i--) {
		char sql[CS_SQL];
		size_t n = 0;

		if (!c->t[i].seeded)
			continue;
		if (cs_append(sql, sizeof(sql), &n, "DELETE FROM ") < 0 ||
		    cs_append_ident(sql, sizeof(sql), &n, c->t[i].name) < 0 ||
		    (res = cs_pg(c, sql, 0, NULL, PGRES_COMMAND_OK)) == NULL)
			return 1;
		PQclear(res);
	}
	for (int i = 0; i < c->n; i++) {
		struct cs_table *t = &c->t[i];
		int64_t copied, held;

		if ((copied = cs_copy(c, t)) < 0 || cs_setval(c, t) < 0 ||
		    (held = cs_count(c, t->name, 'p')) < 0)
			return 1;
		if (copied != t->rows || held != t->rows) {
			snprintf(c->err, sizeof(c->err),
			    "%s: %lld rows in the source, %lld copied, %lld in the target", t->name,
			    (long long)t->rows, (long long)copied, (long long)held);
			return 1;
		}
	}
	if ((res = cs_pg(c, db_sql(STMT_TX_COMMIT), 0, NULL, PGRES_COMMAND_OK)) == NULL)
		return 1;
	PQclear(res);
	return 0;
}

int
copystore_run(int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	char shown[512], err[512];
	struct cs *c = NULL;
	struct db *db;
	int rc = 1, version = 0, n;
	int64_t start = tg_now_ms(), total = 0;

	for (int i = 0; argc == 4 && i < argc; i += 2) {
		if (strcmp(argv[i], "--from") == 0)
			from = argv[i + 1];
		else if (strcmp(argv[i], "--to") == 0)
			to = argv[i + 1];
		else
			argc = 0; /* an unknown option */
	}
	if (argc != 4 || from == NULL || to == NULL || *from == '\0' || db_is_url(from) ||
	    !db_is_url(to)) {
		fprintf(stderr,
		    "usage: tollgate [--config FILE] copy-store --from PATH --to URL\n"
		    "  PATH: an SQLite database; URL: postgresql://...\n");
		return 2;
	}
	db_shown(to, shown, sizeof(shown));
	if ((db = db_open(to, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tollgate: copy-store: %s\n", err);
		return 1;
	}
	n = db_migrate(db);
	db_close(db);
	if (n < 0) {
		fprintf(stderr, "tollgate: copy-store: cannot migrate %s\n", shown);
		return 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fprintf(stderr, "tollgate: copy-store: out of memory\n");
		return 1;
	}
	if (sqlite3_open_v2(from, &c->src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(c->err, sizeof(c->err), "cannot open %s: %s", from,
		    c->src != NULL ? sqlite3_errmsg(c->src) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(c->src, CS_BUSY_MS);
	/* The read transaction that pins one snapshot for every table. */
	if (sqlite3_exec(c->src, db_sql(STMT_TX_BEGIN), NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->src, db_sql(STMT_BACKUP_SCHEMA_COUNT), NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(
		    c->err, sizeof(c->err), "cannot read %s: %s", from, sqlite3_errmsg(c->src));
		goto out;
	}
	c->pg = PQconnectdb(to);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		snprintf(c->err, sizeof(c->err), "cannot connect to %s: %s", shown,
		    PQerrorMessage(c->pg));
		c->err[strcspn(c->err, "\n")] = '\0';
		goto out;
	}
	if (cs_move(c, &version) != 0)
		goto out;
	for (int i = 0; i < c->n; i++) {
		printf("%-20s %lld rows\n", c->t[i].name, (long long)c->t[i].rows);
		total += c->t[i].rows;
	}
	printf("copied %d tables, %lld rows, from %s to %s at schema version %d; the row "
	       "counts match (%lld ms)\n",
	    c->n, (long long)total, from, shown, version, (long long)(tg_now_ms() - start));
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "tollgate: copy-store: %s\n", c->err);
	if (c->pg != NULL)
		PQfinish(c->pg); /* rolls back a transaction left open */
	sqlite3_close(c->src);
	free(c);
	return rc;
}
