/* db_pg.c: statements on a PostgreSQL connection (libpq), for db.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core.h"
#include "db_pg.h"

#define PG_MAX_PARAMS 32
#define PG_INT8OID 20
#define PG_FLOAT8OID 701
/* The advisory lock key the schema migrations take ("tollschm" in ASCII),
 * another than the writers' (db.c's STMT_TX_BEGIN_IMMEDIATE). */
#define PG_SCHEMA_LOCK 0x746f6c6c7363686dLL

struct pg_stmt {
	PGresult *res; /* the open result of the last run, or NULL */
	int row, rows;
	char types[PG_MAX_PARAMS + 1]; /* as prepared; "" until then */
	int prepared; /* on the current connection */
};

struct pg {
	PGconn *conn;
	char url[1024];
	int nstmts;
	int64_t changes;
	struct pg_stmt *st;
	/* pg_batch_begin's pipeline: what was sent, in order, whose answers
	 * pg_batch_end reads (s * 2, + 1 for its prepare) */
	int batching;
	int *sent;
	size_t nsent, cap;
};

int
db_is_url(const char *db)
{
	return db != NULL &&
	    (strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0);
}

/* Whether the URL query key k (n bytes, percent-encoded) is "password". */
static int
key_is_password(const char *k, size_t n)
{
	static const char want[] = "password";
	size_t j = 0;

	for (size_t i = 0; i < n; i++, j++) {
		int c = (unsigned char)k[i];

		if (c == '%' && i + 2 < n && isxdigit((unsigned char)k[i + 1]) &&
		    isxdigit((unsigned char)k[i + 2])) {
			char hex[3] = { k[i + 1], k[i + 2], '\0' };

			c = (int)strtol(hex, NULL, 16);
			i += 2;
		}
		if (j >= sizeof(want) - 1 || tolower(c) != want[j])
			return 0;
	}
	return j == sizeof(want) - 1;
}

void
db_shown(const char *db, char *out, size_t outlen)
{
	const char *auth, *at, *colon, *p;
	size_t n = 0;

	snprintf(out, outlen, "%s", db);
	if (!db_is_url(db))
		return;
	/* The user information ends at the first '@' before any '/', as
	 * libpq reads it (a '?' may be in the password). */
	auth = strstr(db, "://") + 3;
	at = auth + strcspn(auth, "@/");
	if (*at == '@' && (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL) {
		n = (size_t)snprintf(out, outlen, "%.*s:***", (int)(colon - db), db);
		p = at;
	} else {
		p = db;
	}
	/* Then the rest, each query parameter whose key is password (in any
	 * percent-encoding) with its value as ***. */
	for (const char *q = strchr(p, '?') ? strchr(p, '?') + 1 : NULL; n < outlen;) {
		const char *end = q ? q + strcspn(q, "&") : p + strlen(p);
		const char *eq = q ? memchr(q, '=', (size_t)(end - q)) : NULL;

		if (q == NULL) {
			snprintf(out + n, outlen - n, "%s", p);
			break;
		}
		if (eq != NULL && key_is_password(q, (size_t)(eq - q)))
			n += (size_t)snprintf(out + n, outlen - n, "%.*s***", (int)(eq + 1 - p), p);
		else
			n += (size_t)snprintf(out + n, outlen - n, "%.*s", (int)(end - p), p);
		if (*end == '\0')
			break;
		p = end;
		q = end + 1;
	}
}

int
db_url_has_password(const char *url)
{
	char shown[1024];

	db_shown(url, shown, sizeof(shown));
	return strcmp(shown, url) != 0;
}

/* libpq's notices (NOTICE, WARNING) go to the log, not to stderr raw. */
static void
pg_notice(void *arg, const char *msg)
{
	(void)arg;
	log_msg(NULL, "db: postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* Connects (again): sets up the session and forgets what was prepared. */
static int
pg_connect(struct pg *pg, char *err, size_t errlen)
{
	static const char *const keys[] = { "dbname", "connect_timeout", "application_name",
		"options", NULL };
	/* lock_timeout: a write waits this long for another writer, then 503. */
	const char *const vals[] = { pg->url, "5", "tollgate",
		"-c lock_timeout=5000 -c TimeZone=UTC -c client_min_messages=warning", NULL };

	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = PQconnectdbParams(keys, vals, 1);
	for (int i = 0; i < pg->nstmts; i++)
		pg->st[i].prepared = 0;
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		char safe[1024];

		db_shown(pg->url, safe, sizeof(safe));
		snprintf(err, errlen, "cannot connect to %s: %.*s", safe,
		    pg->conn ? (int)strcspn(PQerrorMessage(pg->conn), "\n") : 13,
		    pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		return -1;
	}
	PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
	return 0;
}

struct pg *
pg_open(const char *url, int nstmts, char *err, size_t errlen)
{
	struct pg *pg = calloc(1, sizeof(*pg));

	if (pg == NULL || (pg->st = calloc((size_t)nstmts, sizeof(*pg->st))) == NULL) {
		free(pg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strlen(url) >= sizeof(pg->url)) {
		snprintf(err, errlen, "TOLLGATE_DB is too long");
		goto fail;
	}
	snprintf(pg->url, sizeof(pg->url), "%s", url);
	pg->nstmts = nstmts;
	if (pg_connect(pg, err, errlen) < 0)
		goto fail;
	return pg;
fail:
	pg_close(pg);
	return NULL;
}

void
pg_close(struct pg *pg)
{
	if (pg == NULL)
		return;
	for (int i = 0; i < pg->nstmts; i++)
		PQclear(pg->st[i].res);
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	free(pg->st);
	free(pg->sent);
	free(pg);
}

int
pg_tx_failed(struct pg *pg)
{
	return PQtransactionStatus(pg->conn) == PQTRANS_INERROR;
}

int
pg_in_tx(struct pg *pg)
{
	switch (PQtransactionStatus(pg->conn)) {
	case PQTRANS_ACTIVE:
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR: return 1;
	default: return 0;
	}
}

/* A lost connection is found again before a statement that begins a
 * transaction or runs alone: 0 when there is one to use. Inside a
 * transaction nothing is reconnected (what it wrote is gone with it). */
static int
pg_ready(struct pg *pg, const char *rid)
{
	char err[512];

	if (PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	if (pg_connect(pg, err, sizeof(err)) == 0) {
		log_msg(rid, "db: reconnected to postgresql");
		return 0;
	}
	log_msg(rid, "db: %s", err);
	return -1;
}

/* The enum db_rc of a failed result: constraint violations (class 23)
 * DB_CONSTRAINT; what waiting or trying again can cure (serialization
 * failure, deadlock, lock or statement timeout, too many connections, a
 * server shutting down or starting, a lost connection) DB_BUSY; the rest
 * DB_ERROR, logged. */
static int
pg_rc_of(struct pg *pg, const char *rid, const char *name, PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	static const char *const busy[] = { "40001", "40P01", "55P03", "57014", "53300", "57P01",
		"57P02", "57P03", "53000", NULL };

	if (PQstatus(pg->conn) != CONNECTION_OK ||
	    (state != NULL && strncmp(state, "08", 2) == 0 && strcmp(state, "08P01") != 0)) {
		log_msg(rid, "db: %s: postgresql connection lost: %.*s", name,
		    (int)strcspn(PQerrorMessage(pg->conn), "\n"), PQerrorMessage(pg->conn));
		return DB_BUSY;
	}
	if (state == NULL) { /* libpq's own: out of memory, a misuse */
		log_msg(rid, "db: %s: %.*s", name, (int)strcspn(PQerrorMessage(pg->conn), "\n"),
		    PQerrorMessage(pg->conn));
		return DB_ERROR;
	}
	if (strncmp(state, "23", 2) == 0)
		return DB_CONSTRAINT;
	for (int i = 0; busy[i] != NULL; i++)
		if (strcmp(state, busy[i]) == 0)
			return DB_BUSY;
	log_msg(rid, "db: %s: %s %.*s", name, state, (int)strcspn(PQresultErrorMessage(res), "\n"),
	    PQresultErrorMessage(res));
	return DB_ERROR;
}

int
pg_exec(struct pg *pg, const char *rid, const char *sql)
{
	PGresult *res;
	int rc = DB_OK;

	if (!pg_in_tx(pg) && pg_ready(pg, rid) < 0)
		return DB_BUSY;
	/* Several statements: libpq keeps the last result, which fails if any did. */
	res = PQexec(pg->conn, sql);
	if (res == NULL ||
	    (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
		rc = pg_rc_of(pg, rid, sql, res);
	PQclear(res);
	return rc;
}

/* sql with ?N placeholders written $N (outside quotes), in out. */
static int
pg_dialect(const char *sql, char *out, size_t outlen)
{
	size_t n = 0;
	char quote = 0;

	for (const char *p = sql; *p != '\0'; p++) {
		char c = *p;

		if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '?' && p[1] >= '0' && p[1] <= '9') {
			c = '$';
		}
		if (n + 1 >= outlen)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static int pg_batch_note(struct pg *pg, int code);

/* Prepares statement s on this connection, with its values' types; within
 * a batch it is sent, and its answer read with the rest (pg_batch_end
 * undoes prepared if it failed). */
static int
pg_prepare(
    struct pg *pg, const char *rid, int s, const char *name, const char *sql, const char *types)
{
	Oid oids[PG_MAX_PARAMS];
	char stmt_name[16], *text;
	size_t len = strlen(sql) + 1;
	PGresult *res = NULL;
	int n = (int)strlen(types), rc = DB_OK;

	for (int i = 0; i < n; i++)
		oids[i] = types[i] == 'i' ? PG_INT8OID : types[i] == 'd' ? PG_FLOAT8OID : 0;
	if ((text = malloc(len)) == NULL || pg_dialect(sql, text, len) < 0) {
		free(text);
		return DB_ERROR;
	}
	snprintf(stmt_name, sizeof(stmt_name), "s%d", s);
	if (pg->batching) {
		if (pg_batch_note(pg, s * 2 + 1) < 0 ||
		    !PQsendPrepare(pg->conn, stmt_name, text, n, oids))
			rc = pg_rc_of(pg, rid, name, NULL);
	} else {
		res = PQprepare(pg->conn, stmt_name, text, n, oids);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_rc_of(pg, rid, name, res);
		PQclear(res);
	}
	free(text);
	if (rc == DB_OK) {
		pg->st[s].prepared = 1;
		memcpy(pg->st[s].types, types, (size_t)n + 1);
	}
	return rc;
}

/* Notes that the answer to what was just sent (code: s * 2, + 1 for a
 * prepare) comes in pg_batch_end. */
static int
pg_batch_note(struct pg *pg, int code)
{
	if (pg->nsent == pg->cap) {
		size_t cap = pg->cap ? pg->cap * 2 : 512;
		int *sent = realloc(pg->sent, cap * sizeof(*sent));

		if (sent == NULL)
			return -1;
		pg->sent = sent;
		pg->cap = cap;
	}
	pg->sent[pg->nsent++] = code;
	return 0;
}

int
pg_batch_begin(struct pg *pg)
{
	if (pg->batching || !pg_in_tx(pg) || !PQenterPipelineMode(pg->conn))
		return -1;
	pg->batching = 1;
	pg->nsent = 0;
	return 0;
}

int
pg_batch_end(struct pg *pg, const char *rid)
{
	size_t next = 0;
	int rc = DB_OK;

	if (!pg->batching)
		return DB_OK;
	pg->batching = 0;
	if (!PQpipelineSync(pg->conn)) {
		rc = pg_rc_of(pg, rid, "batch", NULL);
		goto out;
	}
	/* Each thing sent answers its result and a NULL; the sync ends them.
	 * Two NULLs in a row: nothing more is coming. */
	for (int nulls = 0; nulls < 2;) {
		PGresult *res = PQgetResult(pg->conn);
		ExecStatusType st;

		if (res == NULL) {
			nulls++;
			if (PQstatus(pg->conn) != CONNECTION_OK) {
				rc = DB_BUSY;
				break;
			}
			continue;
		}
		nulls = 0;
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (next < pg->nsent) {
			int code = pg->sent[next++];

			if (code % 2 == 1 && st != PGRES_COMMAND_OK)
				pg->st[code / 2].prepared = 0;
			if (st == PGRES_COMMAND_OK && code % 2 == 0)
				pg->changes = strtoll(PQcmdTuples(res), NULL, 10);
		}
		if (st == PGRES_FATAL_ERROR && rc == DB_OK)
			rc = pg_rc_of(pg, rid, "batch", res);
		PQclear(res);
	}
out:
	if (!PQexitPipelineMode(pg->conn)) {
		/* Answers still owed: the connection (and its transaction) goes. */
		log_msg(rid, "db: batch: %.*s", (int)strcspn(PQerrorMessage(pg->conn), "\n"),
		    PQerrorMessage(pg->conn));
		PQreset(pg->conn);
		for (int i = 0; i < pg->nstmts; i++)
			pg->st[i].prepared = 0;
		if (rc == DB_OK)
			rc = DB_BUSY;
	}
	return rc;
}

int
pg_query(struct pg *pg, const char *rid, int s, const char *name, const char *sql,
    const char *types, va_list ap)
{
	struct pg_stmt *st = &pg->st[s];
	char nums[PG_MAX_PARAMS][32], stmt_name[16];
	const char *vals[PG_MAX_PARAMS];
	int n = (int)strlen(types), rc;
	PGresult *res;

	pg_end(pg, s);
	if (n > PG_MAX_PARAMS) {
		log_msg(rid, "db: %s takes more than %d values", name, PG_MAX_PARAMS);
		return DB_ERROR;
	}
	if (!pg_in_tx(pg) && pg_ready(pg, rid) < 0)
		return DB_BUSY;
	if (!st->prepared && (rc = pg_prepare(pg, rid, s, name, sql, types)) != DB_OK)
		return rc;
	/* A statement is prepared with its values' types: other types are a bug. */
	if (strcmp(st->types, types) != 0) {
		log_msg(rid, "db: %s prepared with values \"%s\", given \"%s\"", name, st->types,
		    types);
		return DB_ERROR;
	}
	for (int i = 0; i < n; i++) {
		switch (types[i]) {
		case 'i':
			snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)va_arg(ap, int64_t));
			vals[i] = nums[i];
			break;
		case 'd':
			snprintf(nums[i], sizeof(nums[i]), "%.17g", va_arg(ap, double));
			vals[i] = nums[i];
			break;
		case 't': vals[i] = va_arg(ap, const char *); break;
		default:
			log_msg(rid, "db: %s: no value type '%c'", name, types[i]);
			return DB_ERROR;
		}
	}
	snprintf(stmt_name, sizeof(stmt_name), "s%d", s);
	if (pg->batching) {
		if (pg_batch_note(pg, s * 2) < 0 ||
		    !PQsendQueryPrepared(pg->conn, stmt_name, n, vals, NULL, NULL, 0))
			return pg_rc_of(pg, rid, name, NULL);
		return DB_DONE;
	}
	res = PQexecPrepared(pg->conn, stmt_name, n, vals, NULL, NULL, 0);
	if (res == NULL ||
	    (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)) {
		rc = pg_rc_of(pg, rid, name, res);
		PQclear(res);
		return rc;
	}
	pg->changes = strtoll(PQcmdTuples(res), NULL, 10);
	st->res = res;
	st->row = 0;
	st->rows = PQntuples(res);
	return st->rows > 0 ? DB_ROW : DB_DONE;
}

int
pg_next(struct pg *pg, int s)
{
	struct pg_stmt *st = &pg->st[s];

	if (st->res == NULL || ++st->row >= st->rows)
		return DB_DONE;
	return DB_ROW;
}

void
pg_end(struct pg *pg, int s)
{
	PQclear(pg->st[s].res);
	pg->st[s].res = NULL;
	pg->st[s].row = pg->st[s].rows = 0;
}

const char *
pg_value(struct pg *pg, int s, int col)
{
	struct pg_stmt *st = &pg->st[s];

	if (st->res == NULL || st->row >= st->rows || col >= PQnfields(st->res) ||
	    PQgetisnull(st->res, st->row, col))
		return NULL;
	return PQgetvalue(st->res, st->row, col);
}

int64_t
pg_changes(struct pg *pg)
{
	return pg->changes;
}

int
pg_schema_lock(struct pg *pg)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", PG_SCHEMA_LOCK);
	if (pg_exec(pg, NULL, sql) != DB_OK ||
	    pg_exec(pg, NULL,
	        "CREATE TABLE IF NOT EXISTS tollgate_schema (version integer PRIMARY KEY, name "
	        "text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())") != DB_OK) {
		pg_schema_unlock(pg);
		return -1;
	}
	return 0;
}

int
pg_schema_version(struct pg *pg)
{
	PGresult *res = PQexec(pg->conn, "SELECT coalesce(max(version), 0) FROM tollgate_schema");
	int v = -1;

	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	else
		pg_rc_of(pg, NULL, "schema version", res);
	PQclear(res);
	return v;
}

void
pg_schema_unlock(struct pg *pg)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", PG_SCHEMA_LOCK);
	(void)pg_exec(pg, NULL, sql);
}

int
pg_schema_set(struct pg *pg, int n, const char *name)
{
	const char *vals[2];
	char num[16];
	PGresult *res;
	int rc = DB_OK;

	snprintf(num, sizeof(num), "%d", n);
	vals[0] = num;
	vals[1] = name;
	res = PQexecParams(pg->conn, "INSERT INTO tollgate_schema (version, name) VALUES ($1, $2)",
	    2, NULL, vals, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_rc_of(pg, NULL, "schema version", res);
	PQclear(res);
	return rc;
}
