/* ratelimit_pg.c: the cluster rate limiter: fixed-window buckets in the
 * PostgreSQL store, exact across every host that serves the database, and
 * a per-process table of the buckets seen spent, which refuses without a
 * round trip until their windows end.
 *
 * The buckets are rows of rate_buckets (sql/pg/014): name, the end of its
 * window, the units given in it; the same fixed window as the local table
 * (ratelimit.c), opened by a bucket's first take after the last one ended,
 * on the database's clock, which every host shares; a window's end is
 * handed to the caller on the host's clock (the take answers the clock it
 * ran at) where the two differ by more than a second, so headers and the
 * spent table never mix them.
 * A request's budgets are taken by one statement, tollgate_rate_take(),
 * which locks their rows in name order, looks at all, then takes from all
 * or from none: exactness and all-or-nothing come from the row locks, so
 * two takes wait for each other only when they share a bucket, and never
 * for the writers' advisory lock (db.c). The statement runs on the
 * request thread's own connection, a transaction by itself, committed
 * asynchronously: a database crash may forget the last moment's takes.
 *
 * A fixed window's count never goes down, so a bucket seen spent stays
 * spent until its window ends: the spent table keeps it (name, limit,
 * window, count, end), direct-mapped by a hash of the name, so a new one
 * takes the slot of whatever was there. Forgetting one costs a round trip,
 * never a wrong answer; a plan's larger limit is not refused by it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mw.h"
#include "ratelimit_pg.h"

#define RLPG_SPENT_SLOTS 1024 /* a power of two */
#define RLPG_NAME_MAX 160 /* longer names are not kept in the spent table */
#define RLPG_PRUNE_EVERY 10 /* seconds */
#define RLPG_PRUNE_BATCH 1000
#define RLPG_PRUNE_BATCHES 10
/* Room for a text[] literal of RATELIMIT_BUDGETS_MAX names, each quoted
 * and every byte possibly escaped. */
#define RLPG_NAMES_SIZE (RATELIMIT_BUDGETS_MAX * (2 * RLPG_NAME_MAX + 3) + 3)

/* ---- the spent table ---- */

/* A bucket seen spent. Invariant: count >= the limit it was seen with. */
struct rlpg_spent {
	char name[RLPG_NAME_MAX]; /* "" : unused */
	long window;
	int64_t count; /* units given in the window, at least */
	int64_t reset; /* the window's end */
};

static struct {
	pthread_mutex_t mu;
	struct rlpg_spent slot[RLPG_SPENT_SLOTS];
} spent = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* FNV-1a of name: its slot in the spent table. A name chosen to share a
 * slot only evicts, costing a round trip. */
static struct rlpg_spent *
spent_slot(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return &spent.slot[h & (RLPG_SPENT_SLOTS - 1)];
}

/* Whether bucket name (limit units a window of window seconds) was seen
 * spent in a window that has not ended at now; if so, fills out. */
static int
spent_find(const char *name, long limit, long window, int64_t now, struct rl_count *out)
{
	struct rlpg_spent *s = spent_slot(name);
	int found;

	pthread_mutex_lock(&spent.mu);
	found = strcmp(s->name, name) == 0 && s->window == window && s->reset > now &&
	    s->count >= limit;
	if (found) {
		out->ok = 0;
		out->count = s->count;
		out->reset = s->reset;
	}
	pthread_mutex_unlock(&spent.mu);
	return found;
}

/* Keeps bucket name, spent with count units given in the window ending at
 * reset, in its slot. */
static void
spent_note(const char *name, long window, int64_t count, int64_t reset)
{
	struct rlpg_spent *s = spent_slot(name);

	if (strlen(name) >= sizeof(s->name))
		return;
	pthread_mutex_lock(&spent.mu);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->window = window;
	s->count = count;
	s->reset = reset;
	pthread_mutex_unlock(&spent.mu);
}

/* ---- the store ---- */

/* The n names of b as a PostgreSQL text[] literal in out: each quoted,
 * '"' and '\' escaped. Returns 0, or -1 when it does not fit. */
static int
names_literal(const struct rl_budget *b, size_t n, char *out, size_t outlen)
{
	size_t k = 0;

	if (outlen < 2)
		return -1;
	out[k++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (k + 2 >= outlen)
			return -1;
		if (i > 0)
			out[k++] = ',';
		out[k++] = '"';
		for (const char *p = b[i].name; *p != '\0'; p++) {
			if (k + 3 >= outlen)
				return -1;
			if (*p == '"' || *p == '\\')
				out[k++] = '\\';
			out[k++] = *p;
		}
		out[k++] = '"';
	}
	if (k + 2 > outlen)
		return -1;
	out[k++] = '}';
	out[k] = '\0';
	return 0;
}

/* The limits (window 0) or the windows (window 1) of b as a bigint[]
 * literal in out (at least 24 bytes a budget). */
static void
numbers_literal(const struct rl_budget *b, size_t n, int window, char *out, size_t outlen)
{
	size_t k = 0;

	k = tg_append(out, outlen, k, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			k = tg_append(out, outlen, k, ",", 1);
		k = tg_append_num(out, outlen, k, window ? b[i].window : b[i].limit);
	}
	tg_append(out, outlen, k, "}", 1);
}

/* Runs STMT_RATE_TAKE for the n budgets b and fills out from its rows.
 * Returns 1, 0 or -1 as ratelimit_pg_take. */
static int
store_take(struct db *db, const struct rl_budget *b, size_t n, int peek, struct rl_count *out)
{
	char names[RLPG_NAMES_SIZE], limits[RATELIMIT_BUDGETS_MAX * 24 + 3],
	    windows[RATELIMIT_BUDGETS_MAX * 24 + 3];
	struct rl_count got[RATELIMIT_BUDGETS_MAX];
	int64_t answered;
	int rc, seen = 0, all = 1;

	if (names_literal(b, n, names, sizeof(names)) < 0) {
		log_msg(NULL, "ratelimit: a bucket name is too long for the store");
		return -1;
	}
	numbers_literal(b, n, 0, limits, sizeof(limits));
	numbers_literal(b, n, 1, windows, sizeof(windows));
	/* A statement that writes cannot run in a read snapshot (READ ONLY);
	 * inside write work it would make the work's commit asynchronous and
	 * hold the buckets' rows until then. */
	db_read_end(db);
	if (db_in_write(db)) {
		log_msg(NULL, "ratelimit: a take inside write work");
		return -1;
	}
	rc = db_query(db, STMT_RATE_TAKE, "ttti", names, limits, windows, (int64_t)(peek ? 0 : 1));
	/* This host's time when the answer came, at or just after the
	 * database's (read once the take held its rows): a take that waited
	 * for its rows does not read as a clock behind. */
	answered = tg_now();
	for (; rc == DB_ROW; rc = db_next(db, STMT_RATE_TAKE)) {
		int64_t slot = db_int(db, STMT_RATE_TAKE, 0);
		/* This host's clock less the database's: a window's end is given
		 * on this host's. Within a second they agree (the two were read
		 * at different moments), so hosts in step name one end. */
		int64_t skew = answered - db_int(db, STMT_RATE_TAKE, 4);

		if (skew >= -1 && skew <= 1)
			skew = 0;

		if (slot < 1 || slot > (int64_t)n || (seen & (1 << (slot - 1))))
			break;
		seen |= 1 << (slot - 1);
		got[slot - 1].ok = (int)db_int(db, STMT_RATE_TAKE, 1);
		got[slot - 1].count = db_int(db, STMT_RATE_TAKE, 2);
		got[slot - 1].reset = db_int(db, STMT_RATE_TAKE, 3) + skew;
		all &= got[slot - 1].ok;
	}
	db_end(db, STMT_RATE_TAKE);
	if (rc != DB_DONE || seen != (1 << n) - 1) {
		if (rc == DB_DONE || rc == DB_ROW)
			log_msg(NULL, "ratelimit: the store answered %s for %zu buckets",
			    rc == DB_ROW ? "a row twice or out of range" : "too few rows", n);
		return -1;
	}
	memcpy(out, got, n * sizeof(*out));
	return all;
}

int
ratelimit_pg_take(struct db *db, const struct rl_budget *b, size_t n, int64_t now, unsigned flags,
    struct rl_count *out)
{
	int cached = !(flags & RLPG_UNCACHED), refused = 0, rc;

	if (db == NULL || n < 1 || n > RATELIMIT_BUDGETS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (b[i].name == NULL || b[i].limit < 1 || b[i].window < 1)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(b[j].name, b[i].name) == 0) {
				log_msg(NULL, "ratelimit: bucket %s named twice in one take",
				    b[i].name);
				return -1;
			}
	}
	if (cached) {
		struct rl_count seen[RATELIMIT_BUDGETS_MAX];

		for (size_t i = 0; i < n; i++) {
			if (spent_find(b[i].name, b[i].limit, b[i].window, now, &seen[i]))
				refused = 1;
			else
				seen[i] = (struct rl_count){ 1, 0, now + b[i].window };
		}
		if (refused) {
			memcpy(out, seen, n * sizeof(*out));
			return 0;
		}
	}
	if ((rc = store_take(db, b, n, flags & RLPG_PEEK, out)) < 0 || !cached)
		return rc;
	/* Spent now, by this take or before it: refused here until the window
	 * ends. */
	for (size_t i = 0; i < n; i++)
		if (out[i].count >= b[i].limit && out[i].reset > now)
			spent_note(b[i].name, b[i].window, out[i].count, out[i].reset);
	return rc;
}

int
ratelimit_pg_prune(struct db *db, int64_t now)
{
	static int64_t next; /* the process's next prune (atomic) */
	int64_t due = __atomic_load_n(&next, __ATOMIC_RELAXED), changes;
	int deleted = 0, rc = DB_OK;

	if (now < due ||
	    !__atomic_compare_exchange_n(
	        &next, &due, now + RLPG_PRUNE_EVERY, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return 0;
	/* db_query, not db_run: a delete of ended windows needs no place in
	 * this process's queue of writers. */
	for (int i = 0; i < RLPG_PRUNE_BATCHES; i++) {
		rc = db_query(db, STMT_RATE_PRUNE, "ii", now, (int64_t)RLPG_PRUNE_BATCH);
		changes = db_changes(db);
		db_end(db, STMT_RATE_PRUNE);
		if (rc != DB_DONE && rc != DB_ROW) {
			log_msg(NULL, "ratelimit: ended windows could not be deleted");
			return -1;
		}
		deleted += (int)changes;
		if (changes < RLPG_PRUNE_BATCH)
			break;
	}
	return deleted;
}
