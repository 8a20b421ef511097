/* test_ratelimit_pg.c: the cluster limiter's spent table refuses a bucket
 * seen spent until its window ends, without asking the store, and only
 * for a limit it is spent at; forgets rather than errs; a take that names
 * a bucket twice is refused; and the names go to the store as a
 * well-formed text[] literal. (The store's side runs in the PostgreSQL
 * pass: tests/integration/ratelimit_cluster.test.mjs.) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/ratelimit_pg.c"
#include "unit.h"

static void
spent_clear(void)
{
	memset(spent.slot, 0, sizeof(spent.slot));
}

static void
test_spent_until_the_window_ends(void)
{
	struct rl_count c;

	spent_clear();
	CHECK(!spent_find("key:a", 10, 60, 1000, &c));
	spent_note("key:a", 60, 10, 1050);
	CHECK(spent_find("key:a", 10, 60, 1000, &c));
	CHECK(c.ok == 0 && c.count == 10 && c.reset == 1050);
	CHECK(spent_find("key:a", 10, 60, 1049, &c));
	/* The window ended: the store decides again. */
	CHECK(!spent_find("key:a", 10, 60, 1050, &c));
	/* Another bucket, or the same name with another window, is not it. */
	CHECK(!spent_find("key:b", 10, 60, 1000, &c));
	CHECK(!spent_find("key:a", 10, 30, 1000, &c));
}

/* A plan's larger limit is asked of the store; a smaller one is spent too. */
static void
test_spent_at_its_limit_only(void)
{
	struct rl_count c;

	spent_clear();
	spent_note("org:o", 60, 600, 2000);
	CHECK(!spent_find("org:o", 1200, 60, 1990, &c));
	CHECK(spent_find("org:o", 600, 60, 1990, &c));
	CHECK(spent_find("org:o", 300, 60, 1990, &c) && c.count == 600);
}

/* Two names of one slot: the later takes it, the earlier is forgotten
 * (asked of the store again), never mixed up. A name too long to keep is
 * not kept. */
static void
test_spent_forgets(void)
{
	char other[32], longname[RLPG_NAME_MAX + 8];
	struct rl_count c;
	int i;

	spent_clear();
	for (i = 0; i < 100000; i++) {
		snprintf(other, sizeof(other), "ip:10.0.%d.%d", i / 256, i % 256);
		if (strcmp(other, "ip:x") != 0 && spent_slot(other) == spent_slot("ip:x"))
			break;
	}
	CHECK(i < 100000);
	spent_note("ip:x", 60, 5, 3000);
	spent_note(other, 60, 7, 3010);
	CHECK(!spent_find("ip:x", 5, 60, 2990, &c));
	CHECK(spent_find(other, 7, 60, 2990, &c) && c.count == 7 && c.reset == 3010);

	memset(longname, 'k', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	spent_note(longname, 60, 5, 3000);
	CHECK(!spent_find(longname, 5, 60, 2990, &c));
}

static void
test_names_literal(void)
{
	struct rl_budget b[2] = { { "key:k1", 1, 60 }, { "odd:\"q\\", 2, 30 } };
	char out[64], nums[64];

	CHECK(names_literal(b, 2, out, sizeof(out)) == 0);
	CHECK(strcmp(out, "{\"key:k1\",\"odd:\\\"q\\\\\"}") == 0);
	CHECK(names_literal(b, 2, out, 12) < 0);
	numbers_literal(b, 2, 0, nums, sizeof(nums));
	CHECK(strcmp(nums, "{1,2}") == 0);
	numbers_literal(b, 2, 1, nums, sizeof(nums));
	CHECK(strcmp(nums, "{60,30}") == 0);
}

/* A take that meets a spent bucket refuses without the store (here an
 * SQLite one, which has no tollgate_rate_take: asking it fails), with the
 * spent one's count and window end, and the others as not asked. An
 * uncached take asks the store whatever was seen. */
static void
test_take_refuses_without_the_store(void)
{
	char path[] = "/tmp/tollgate-rlpg-XXXXXX", err[256];
	struct rl_budget b[2] = { { "key:k", 10, 60 }, { "org:o", 20, 60 } };
	struct rl_count out[2];
	struct db *db;
	int fd = mkstemp(path);

	close(fd);
	db = db_open(path, err, sizeof(err));
	CHECK(db != NULL && db_migrate(db) == db_migration_count());
	spent_clear();
	CHECK(ratelimit_pg_take(db, b, 2, 100, 0, out) == -1); /* the store was asked */
	spent_note("org:o", 60, 20, 130);
	CHECK(ratelimit_pg_take(db, b, 2, 100, 0, out) == 0);
	CHECK(out[0].ok == 1 && out[0].count == 0);
	CHECK(out[1].ok == 0 && out[1].count == 20 && out[1].reset == 130);
	CHECK(ratelimit_pg_take(db, b, 2, 100, RLPG_UNCACHED, out) == -1);
	CHECK(ratelimit_pg_take(db, b, 2, 130, 0, out) == -1); /* the window ended */
	CHECK(ratelimit_pg_take(NULL, b, 2, 100, 0, out) == -1);
	CHECK(ratelimit_pg_take(db, b, 0, 100, 0, out) == -1);
	/* A name given twice is refused before anything, the spent table too
	 * (which would refuse it as spent). */
	{
		struct rl_budget twice[2] = { { "org:o", 20, 60 }, { "org:o", 20, 60 } };

		CHECK(ratelimit_pg_take(db, twice, 1, 100, 0, out) == 0);
		CHECK(ratelimit_pg_take(db, twice, 2, 100, 0, out) == -1);
	}
	db_close(db);
	unlink(path);
}

int
main(void)
{
	TEST(test_spent_until_the_window_ends);
	TEST(test_spent_at_its_limit_only);
	TEST(test_spent_forgets);
	TEST(test_names_literal);
	TEST(test_take_refuses_without_the_store);
	return unit_done();
}
