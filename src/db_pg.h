/* db_pg.h: the PostgreSQL side of the store (db_pg.c), for db.c alone.
 * db.c keeps the statement table and the transaction logic; this file runs
 * statements on one libpq connection. Values cross as text: 'i' int8,
 * 'd' float8, 't' text (its type inferred from where it is used). */
#ifndef TOLLGATE_DB_PG_H
#define TOLLGATE_DB_PG_H

#include <stdarg.h>
#include <stdint.h>

struct pg;

/* Connects to url, with nstmts statement slots. On error NULL and a
 * sentence in err (the password never in it). */
struct pg *pg_open(const char *url, int nstmts, char *err, size_t errlen);
void pg_close(struct pg *pg);
/* Runs sql (one or more statements, no parameters) with the simple query
 * protocol: DB_OK or an error (enum db_rc). */
int pg_exec(struct pg *pg, const char *rid, const char *sql);
/* Inside a transaction (also a failed one). */
int pg_in_tx(struct pg *pg);
/* Inside a transaction a statement failed in: it can only be rolled back. */
int pg_tx_failed(struct pg *pg);
/* Runs statement s (sql in ?N form, name for the logs) with the values of
 * types: DB_ROW with row 0 current, DB_DONE when it returned none, or an
 * error. Prepared on its first use on this connection. */
int pg_query(struct pg *pg, const char *rid, int s, const char *name, const char *sql,
    const char *types, va_list ap);
/* Inside a transaction: until pg_batch_end, pg_query sends its statement
 * without waiting for the answer (pipeline mode) and answers DB_DONE;
 * pg_batch_end waits for them all (one round trip) and answers the first
 * error, or DB_OK. pg_batch_begin: 0, or -1 (then each runs at once). */
int pg_batch_begin(struct pg *pg);
int pg_batch_end(struct pg *pg, const char *rid);
int pg_next(struct pg *pg, int s);
void pg_end(struct pg *pg, int s);
/* Column col of s's current row: its text, NULL for NULL. */
const char *pg_value(struct pg *pg, int s, int col);
int64_t pg_changes(struct pg *pg);
/* Waits for the connection's turn at the schema (a session advisory lock),
 * then answers the version applied (0 for none) or -1. pg_schema_unlock
 * lets the next process in. */
int pg_schema_lock(struct pg *pg);
int pg_schema_version(struct pg *pg);
void pg_schema_unlock(struct pg *pg);
/* Within a transaction: records version n (name) as applied. */
int pg_schema_set(struct pg *pg, int n, const char *name);

#endif
