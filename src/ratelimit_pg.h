/* ratelimit_pg.h: the cluster rate limiter (TOLLGATE_RATELIMIT=postgresql),
 * for ratelimit.c and the job runner: buckets in the PostgreSQL store
 * (sql/pg/014) that every host serving the database takes from, and this
 * process's table of the buckets it saw spent. */
#ifndef RATELIMIT_PG_H
#define RATELIMIT_PG_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

struct db;

/* What one take found of a bucket. */
struct rl_count {
	int ok; /* it had a unit left */
	int64_t count; /* units given in its window after the take */
	int64_t reset; /* unix time its window ends */
};

/* ratelimit_pg_take's flags. */
#define RLPG_PEEK 1 /* look only: take nothing, start no window */
#define RLPG_UNCACHED                                                                              \
	2 /* always ask the store, note nothing: the same work                                     \
	   * whatever the answer (the sign-in budgets) */

/* Takes a unit from each of the n budgets b (1..RATELIMIT_BUDGETS_MAX,
 * names distinct), from all of them or from none, in one statement on db
 * (outside write work, or it refuses; a read snapshot is ended first). The
 * store's windows run on the database's clock; now is this host's (unix
 * time), which out[i].reset is given in. Unless RLPG_UNCACHED, a budget
 * this process saw spent in a window that has not ended refuses at once,
 * without the store: out[i] of such a one holds what was seen, out[i] of
 * the others ok 1 and count 0 (not asked). Fills out[i] for b[i]. Returns
 * 1 when taken (RLPG_PEEK: each had a unit), 0 when refused (nothing was
 * taken from any), -1 (out untouched, logged) when the store failed or the
 * arguments are out of range or repeat a name. */
int ratelimit_pg_take(struct db *db, const struct rl_budget *b, size_t n, int64_t now,
    unsigned flags, struct rl_count *out);

/* Deletes the buckets whose windows ended by now: at most every
 * RLPG_PRUNE_EVERY seconds in a process (other calls return 0 at once),
 * RLPG_PRUNE_BATCH rows a statement, RLPG_PRUNE_BATCHES statements a call.
 * Returns the rows deleted, or -1 when the store failed. */
int ratelimit_pg_prune(struct db *db, int64_t now);

#endif
