/* ratelimit_bench.c: what one take costs: takes a second through the shared
 * table against a reference loop doing the same hashing without it, on one
 * thread and on two (separate buckets, then one hot bucket). With
 * "--takes N [--hot]" it only makes N takes (on one thread, or on two
 * threads sharing one bucket), for counting system calls. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/ratelimit.c"

#define NAMES 4096 /* distinct buckets the loops cycle through */
#define ITERS 2000000L
#define ROUNDS 7 /* the best of */

static char names[NAMES][32];

enum mode { HASH_ONLY, TAKE };

struct run {
	enum mode mode;
	int first, count; /* the names this thread cycles through */
	long iters;
	pthread_barrier_t *start;
	uint64_t sink;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
run_main(void *arg)
{
	struct run *r = arg;
	struct rl_result res;
	uint64_t sink = 0;

	pthread_barrier_wait(r->start);
	for (long i = 0; i < r->iters; i++) {
		const char *name = names[r->first + (int)(i % r->count)];

		if (r->mode == HASH_ONLY)
			sink += bucket_key(name);
		else {
			if (ratelimit_take(name, LONG_MAX / 2, 60, 1000, &res) < 0)
				abort();
			sink += (uint64_t)res.remaining;
		}
	}
	r->sink = sink;
	return NULL;
}

/* Nanoseconds per operation per thread of one run; shared: whether all
 * threads use one bucket. */
static double
measure(enum mode mode, int nthreads, int shared)
{
	pthread_t t[2];
	struct run runs[2];
	pthread_barrier_t start;
	double t0;

	pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		runs[i] = (struct run){ mode, shared ? 0 : i * (NAMES / nthreads),
			shared ? 1 : NAMES / nthreads, ITERS, &start, 0 };
		pthread_create(&t[i], NULL, run_main, &runs[i]);
	}
	pthread_barrier_wait(&start);
	t0 = now_s();
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	return (now_s() - t0) * 1e9 / ITERS;
}

/* The reference and the takes alternate, ROUNDS times, and the best of
 * each is kept, so a busy machine slows both alike. */
static void
report(const char *what, int nthreads, int shared)
{
	double hash = 1e30, take = 1e30, ns;

	for (int round = 0; round < ROUNDS; round++) {
		if ((ns = measure(HASH_ONLY, nthreads, shared)) < hash)
			hash = ns;
		if ((ns = measure(TAKE, nthreads, shared)) < take)
			take = ns;
	}
	printf("%-26s take %6.1f ns (%5.1f M/s)  hash only %5.1f ns (%5.1f M/s)  ratio %.2f  "
	       "added %5.1f ns\n",
	    what, take, nthreads * 1e3 / take, hash, nthreads * 1e3 / hash, take / hash,
	    take - hash);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/tollgate-rlbench-XXXXXX", db[64], file[80], err[256];
	long takes = argc >= 3 && strcmp(argv[1], "--takes") == 0 ? atol(argv[2]) : -1;
	int hot = argc == 4 && strcmp(argv[3], "--hot") == 0;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	snprintf(file, sizeof(file), "%s-ratelimit", db);
	if (ratelimit_open(file, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 0; i < NAMES; i++)
		snprintf(names[i], sizeof(names[i]), "key:key_bench%05d", i);
	if (takes >= 0) {
		/* One thread over all buckets, or two on one hot bucket. */
		pthread_t t[2];
		struct run runs[2];
		pthread_barrier_t start;

		pthread_barrier_init(&start, NULL, hot ? 2 : 1);
		for (int i = 0; i < (hot ? 2 : 1); i++) {
			runs[i] = (struct run){ TAKE, 0, hot ? 1 : NAMES, hot ? takes / 2 : takes,
				&start, 0 };
			pthread_create(&t[i], NULL, run_main, &runs[i]);
		}
		for (int i = 0; i < (hot ? 2 : 1); i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
	} else {
		printf("ratelimit: %d buckets, %ld takes a thread, best of %d\n", NAMES, ITERS,
		    ROUNDS);
		report("1 thread", 1, 0);
		report("2 threads, own buckets", 2, 0);
		report("2 threads, one hot bucket", 2, 1);
	}
	ratelimit_close();
	unlink(file);
	rmdir(dir);
	return 0;
}
