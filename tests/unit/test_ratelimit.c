/* test_ratelimit.c: the host-wide limiter gives exactly N a window across
 * threads and processes, survives a holder that dies, makes room in a full
 * stripe by evicting its least-used bucket (never by refusing a new
 * client), trusts no table others may write, and refuses to open with a
 * bad trusted-proxy list. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/ratelimit.c"
#include "unit.h"

/* What the bucket holds, taking nothing. */
static int
peek(const char *name, long limit, long window, int64_t now, struct rl_result *out)
{
	return bucket_use(name, limit, window, now, RL_PEEK, out);
}

static char dir[64], db[128], file[160];

/* A fresh directory and a limiter opened on "<dir>/t.db". */
static void
fresh(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/tollgate-rl-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(file, sizeof(file), "%s-ratelimit", db);
	cfg.trusted_proxies[0] = '\0';
	cfg.rate_window = 60;
	if (ratelimit_open(file, err, sizeof(err)) < 0) {
		printf("#   ratelimit_open: %s\n", err);
		abort();
	}
}

static void
cleanup(void)
{
	ratelimit_close();
	unlink(file);
	rmdir(dir);
}

/* Entries of dir other than . and .. */
static int
dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	if (d != NULL)
		closedir(d);
	return n;
}

static int
take(const char *name, long limit, long window, int64_t now, struct rl_result *res)
{
	return ratelimit_take(name, limit, window, now, res);
}

static void
test_siphash_vectors(void)
{
	/* The reference vectors: key 00..0f, messages 00..(n-1). */
	uint64_t k[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	unsigned char m[15];

	for (int i = 0; i < 15; i++)
		m[i] = (unsigned char)i;
	CHECK(siphash24(m, 0, k) == 0x726fdb47dd0e0e31ULL);
	CHECK(siphash24(m, 15, k) == 0xa129ca6149be45e5ULL);
}

static void
test_exactly_n_then_refused(void)
{
	struct rl_result res;

	fresh();
	for (long i = 1; i <= 5; i++) {
		CHECK(take("key:k1", 5, 60, 1000, &res) == 0);
		CHECK(res.allowed && res.remaining == 5 - i);
		CHECK(
		    res.limit == 5 && res.window == 60 && res.reset == 1060 && res.reset_in == 60);
		CHECK(res.retry_after == 0 && strcmp(res.policy, "key") == 0);
	}
	CHECK(take("key:k1", 5, 60, 1000, &res) == 0);
	CHECK(!res.allowed && res.remaining == 0 && res.reset == 1060 && res.retry_after == 60);
	CHECK(take("key:k1", 5, 60, 1047, &res) == 0);
	CHECK(!res.allowed && res.retry_after == 13 && res.reset_in == 13);
	CHECK(take("key:k1", 5, 60, 1059, &res) == 0);
	CHECK(!res.allowed && res.retry_after == 1);
	/* A refusal takes nothing: the next window is whole. */
	CHECK(take("key:k1", 5, 60, 1060, &res) == 0);
	CHECK(res.allowed && res.remaining == 4 && res.reset == 1120);
	cleanup();
}

static void
test_window_rollover(void)
{
	struct rl_result res;

	fresh();
	CHECK(take("user:u1", 2, 60, 5000, &res) == 0 && res.allowed && res.reset == 5060);
	CHECK(take("user:u1", 2, 60, 5030, &res) == 0 && res.allowed && res.remaining == 0);
	CHECK(take("user:u1", 2, 60, 5031, &res) == 0 && !res.allowed && res.retry_after == 29);
	/* The next window opens with the first request after the last closed. */
	CHECK(take("user:u1", 2, 60, 5200, &res) == 0 && res.allowed);
	CHECK(res.reset == 5260 && res.remaining == 1);
	/* A limit raised mid-window counts what was given. */
	CHECK(take("user:u1", 4, 60, 5201, &res) == 0 && res.allowed && res.remaining == 2);
	cleanup();
}

static void
test_buckets_independent(void)
{
	struct rl_result res;

	fresh();
	for (int i = 0; i < 3; i++)
		CHECK(take("ip:192.0.2.1", 3, 60, 100, &res) == 0 && res.allowed);
	CHECK(take("ip:192.0.2.1", 3, 60, 100, &res) == 0 && !res.allowed);
	CHECK(take("ip:192.0.2.2", 3, 60, 100, &res) == 0 && res.allowed && res.remaining == 2);
	CHECK(take("login-ip:192.0.2.1", 3, 60, 100, &res) == 0 && res.allowed);
	CHECK(strcmp(res.policy, "login-ip") == 0);
	CHECK(take("key:192.0.2.1", 3, 60, 100, &res) == 0 && res.allowed);
	cleanup();
}

static void
test_peek_takes_nothing(void)
{
	struct rl_result res;

	fresh();
	CHECK(peek("login-acct:a@b.c", 2, 900, 100, &res) == 0);
	CHECK(res.allowed && res.remaining == 2 && res.reset == 1000);
	CHECK(take("login-acct:a@b.c", 2, 900, 100, &res) == 0 && res.remaining == 1);
	CHECK(peek("login-acct:a@b.c", 2, 900, 200, &res) == 0);
	CHECK(res.allowed && res.remaining == 1 && res.reset == 1000);
	CHECK(take("login-acct:a@b.c", 2, 900, 200, &res) == 0 && res.remaining == 0);
	CHECK(peek("login-acct:a@b.c", 2, 900, 300, &res) == 0);
	CHECK(!res.allowed && res.retry_after == 700);
	CHECK(peek("login-acct:a@b.c", 2, 900, 1000, &res) == 0 && res.allowed);
	cleanup();
}

struct hammer {
	pthread_barrier_t *start;
	const char *name;
	long limit, tries;
	int64_t now;
	long allowed, errors;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct rl_result res;

	pthread_barrier_wait(h->start);
	for (long i = 0; i < h->tries; i++) {
		if (ratelimit_take(h->name, h->limit, 60, h->now, &res) < 0)
			h->errors++;
		else if (res.allowed)
			h->allowed++;
	}
	return NULL;
}

/* nthreads threads take tries units each from name; the sum given. */
static long
hammer(int nthreads, const char *name, long limit, long tries, int64_t now)
{
	pthread_t t[16];
	struct hammer h[16];
	pthread_barrier_t start;
	long total = 0;

	pthread_barrier_init(&start, NULL, (unsigned)nthreads);
	for (int i = 0; i < nthreads; i++) {
		h[i] = (struct hammer){ &start, name, limit, tries, now, 0, 0 };
		pthread_create(&t[i], NULL, hammer_main, &h[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		total += h[i].errors ? -100000 : h[i].allowed;
	}
	pthread_barrier_destroy(&start);
	return total;
}

static void
test_16_threads_exact(void)
{
	char name[32];

	fresh();
	for (int round = 0; round < 20; round++) {
		snprintf(name, sizeof(name), "key:hot%d", round);
		CHECK(hammer(16, name, 50, 20, 7000) == 50);
	}
	cleanup();
}

/* Forks n processes that each open the limiter on db anew and hammer name
 * with 8 threads; returns the units they were given together. */
static long
processes_hammer(int n, const char *name, long limit, long tries)
{
	int fds[2];
	long total = 0, got;
	pid_t pid[8];

	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		if ((pid[i] = fork()) == 0) {
			char err[256];

			ratelimit_close();
			if (ratelimit_open(file, err, sizeof(err)) < 0)
				_exit(2);
			got = hammer(8, name, limit, tries, 9000);
			if (write(fds[1], &got, sizeof(got)) != (ssize_t)sizeof(got))
				_exit(3);
			_exit(0);
		}
	}
	close(fds[1]);
	while (read(fds[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
		total += got;
	close(fds[0]);
	for (int i = 0; i < n; i++) {
		int status;

		waitpid(pid[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			total = -1;
	}
	return total;
}

static void
test_processes_exact(void)
{
	struct rl_result res;

	fresh();
	CHECK(processes_hammer(2, "key:shared", 300, 50) == 300);
	CHECK(processes_hammer(4, "ip:198.51.100.1", 77, 40) == 77);
	/* This process sees what the others counted. */
	CHECK(peek("key:shared", 300, 60, 9000, &res) == 0);
	CHECK(!res.allowed && res.remaining == 0);
	cleanup();
}

static struct rl_stripe *
stripe_of(const char *name)
{
	return &rl.stripes[bucket_key(name) & (RL_STRIPES - 1)];
}

/* A child locks name's stripe, then dies: by _exit, or by SIGKILL. */
static void
die_holding(const char *name, int by_kill)
{
	int fds[2];
	char c = 0;
	pid_t pid;

	if (pipe(fds) < 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (stripe_lock(stripe_of(name)) < 0)
			_exit(2);
		if (write(fds[1], "x", 1) != 1)
			_exit(3);
		if (by_kill)
			pause();
		_exit(0);
	}
	close(fds[1]);
	CHECK(read(fds[0], &c, 1) == 1 && c == 'x');
	close(fds[0]);
	if (by_kill)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void
test_dead_holder_does_not_wedge(void)
{
	struct rl_result res;
	uint64_t before;
	int64_t t0;

	fresh();
	CHECK(take("key:victim", 3, 60, 100, &res) == 0 && res.allowed);
	before = rl.hdr->owner_dead;
	die_holding("key:victim", 0);
	t0 = tg_now_ms();
	CHECK(take("key:victim", 3, 60, 100, &res) == 0 && res.allowed && res.remaining == 1);
	CHECK(tg_now_ms() - t0 < 500);
	CHECK(rl.hdr->owner_dead == before + 1);
	die_holding("key:victim", 1);
	CHECK(take("key:victim", 3, 60, 100, &res) == 0 && res.allowed && res.remaining == 0);
	CHECK(rl.hdr->owner_dead == before + 2);
	/* And the stripe is an ordinary lock again. */
	CHECK(take("key:victim", 3, 60, 100, &res) == 0 && !res.allowed);
	cleanup();
}

static void
test_stuck_holder_fails_closed(void)
{
	struct rl_result res;
	struct req r;
	int fds[2];
	char c = 0;
	pid_t pid;
	int64_t t0;

	fresh();
	if (pipe(fds) < 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (stripe_lock(stripe_of("key:stuck")) < 0 || write(fds[1], "x", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	CHECK(read(fds[0], &c, 1) == 1);
	close(fds[0]);
	close(fds[1]);
	t0 = tg_now_ms();
	CHECK(take("key:stuck", 3, 60, 100, &res) == -1);
	CHECK(tg_now_ms() - t0 >= 1900);
	memset(&r, 0, sizeof(r));
	CHECK(ratelimit_check_or_reply(&r, "key:stuck", 3, 60) == -1);
	CHECK(r.replied && r.status == 503);
	req_free(&r);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK(take("key:stuck", 3, 60, 100, &res) == 0 && res.allowed);
	cleanup();
}

/* Fills out[0..n) with names of the form prefix + number that land in
 * stripe *target (chosen by the first name when *target is RL_STRIPES),
 * trying numbers from *next on. */
static void
stripe_names(const char *prefix, uint64_t *target, int *next, char (*out)[40], int n)
{
	for (int k = 0; k < n; (*next)++) {
		char name[40];
		uint64_t stripe;

		snprintf(name, sizeof(name), "%s%d.%d.%d", prefix, *next >> 16 & 255,
		    *next >> 8 & 255, *next & 255);
		stripe = bucket_key(name) & (RL_STRIPES - 1);
		if (*target == RL_STRIPES)
			*target = stripe;
		if (stripe == *target)
			snprintf(out[k++], sizeof(out[0]), "%s", name);
	}
}

static void
test_table_full_evicts(void)
{
	char names[RL_SLOTS + 2][40], flood[1001][40];
	struct rl_result res;
	uint64_t target = RL_STRIPES, before;
	int next = 0;

	fresh();
	/* Names that all land in one stripe, and flood names in it too. */
	stripe_names("ip:10.", &target, &next, names, RL_SLOTS + 2);
	next = 0;
	stripe_names("flood:", &target, &next, flood, 1001);
	for (int i = 0; i < RL_SLOTS; i++)
		CHECK(take(names[i], 10, 60, 2000 + i / 8, &res) == 0 && res.allowed);
	/* Every bucket but one was taken from once; names[5] is busy. */
	for (int i = 0; i < 4; i++)
		CHECK(take(names[5], 10, 60, 2005, &res) == 0 && res.allowed);
	/* Full: the new bucket is let in, in the slot of a one-take bucket. */
	before = rl.hdr->evictions;
	CHECK(take(names[RL_SLOTS], 10, 60, 2010, &res) == 0);
	CHECK(res.allowed && res.remaining == 9 && res.limit == 10 && res.reset == 2070);
	CHECK(rl.hdr->evictions == before + 1);
	CHECK(take(names[RL_SLOTS], 10, 60, 2010, &res) == 0 && res.allowed && res.remaining == 8);
	/* The busy bucket kept its count: a flood of names cannot reset it. */
	CHECK(peek(names[5], 10, 60, 2010, &res) == 0 && res.remaining == 5);
	/* Each new name takes another one-take slot; the busy one stays. */
	before = rl.hdr->evictions;
	for (int i = 0; i < 1000; i++)
		CHECK(take(flood[i], 10, 60, 2011, &res) == 0 && res.allowed);
	CHECK(rl.hdr->evictions == before + 1000); /* each one evicted a bucket */
	CHECK(take(names[RL_SLOTS + 1], 10, 60, 2011, &res) == 0 && res.allowed);
	CHECK(peek(names[5], 10, 60, 2011, &res) == 0 && res.remaining == 5);
	/* A spent bucket is not the one that gives way either. */
	for (int i = 0; i < 10; i++)
		take(names[RL_SLOTS + 1], 10, 60, 2011, &res);
	CHECK(take(names[RL_SLOTS + 1], 10, 60, 2011, &res) == 0 && !res.allowed);
	before = rl.hdr->evictions;
	CHECK(take(flood[1000], 10, 60, 2012, &res) == 0 && res.allowed);
	CHECK(rl.hdr->evictions == before + 1);
	CHECK(take(names[RL_SLOTS + 1], 10, 60, 2012, &res) == 0 && !res.allowed);
	CHECK(peek(names[5], 10, 60, 2012, &res) == 0 && res.remaining == 5);
	cleanup();
}

/* A table group or others could open is made 0600 in place: the same file
 * (every process keeps one table) and its counts. Every new table is 0600
 * whatever the umask. */
static void
test_file_mode(void)
{
	struct rl_result res;
	struct stat st1, st2;
	char err[256];
	mode_t old = umask(0);

	fresh();
	CHECK(stat(file, &st1) == 0 && (st1.st_mode & 0777) == 0600);
	CHECK(take("key:kept", 5, 60, 100, &res) == 0 && res.remaining == 4);
	ratelimit_close();
	CHECK(chmod(file, 0666) == 0);
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(stat(file, &st2) == 0 && st2.st_ino == st1.st_ino && (st2.st_mode & 0777) == 0600);
	CHECK(peek("key:kept", 5, 60, 100, &res) == 0 && res.remaining == 4);
	CHECK(dir_entries() == 1); /* no second table beside it */
	ratelimit_close();
	CHECK(chmod(file, 0620) == 0);
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(stat(file, &st2) == 0 && st2.st_ino == st1.st_ino && (st2.st_mode & 0777) == 0600);
	CHECK(peek("key:kept", 5, 60, 100, &res) == 0 && res.remaining == 4);
	/* A umask that would leave the owner no write bit changes nothing. */
	cleanup();
	umask(0277);
	fresh();
	CHECK(stat(file, &st1) == 0 && (st1.st_mode & 0777) == 0600);
	cleanup();
	umask(old);
}

static void
test_file_reused_and_replaced(void)
{
	struct rl_result res;
	struct stat st1, st2;
	struct rl_header h;
	char err[256];
	FILE *f;

	fresh();
	CHECK(stat(file, &st1) == 0 && (st1.st_mode & 0777) == 0600);
	CHECK(take("key:keep", 5, 60, 100, &res) == 0 && take("key:keep", 5, 60, 100, &res) == 0);
	/* Reopened: the same file and the counts in it. */
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(stat(file, &st2) == 0 && st2.st_ino == st1.st_ino);
	CHECK(peek("key:keep", 5, 60, 100, &res) == 0 && res.remaining == 3);
	/* An older layout is replaced by a fresh table. */
	ratelimit_close();
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, RL_MAGIC, 8);
	h.version = RL_VERSION - 1;
	f = fopen(file, "r+");
	CHECK(f != NULL && fwrite(&h, sizeof(h), 1, f) == 1);
	if (f != NULL)
		fclose(f);
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(stat(file, &st2) == 0 && st2.st_ino != st1.st_ino && (st2.st_mode & 0777) == 0600);
	CHECK(rl.hdr->version == RL_VERSION);
	CHECK(peek("key:keep", 5, 60, 100, &res) == 0 && res.remaining == 5);
	/* So is one from before this boot, and one that is no table at all. */
	snprintf(rl.hdr->boot_id, sizeof(rl.hdr->boot_id), "another-boot");
	st1 = st2;
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(stat(file, &st2) == 0 && st2.st_ino != st1.st_ino);
	ratelimit_close();
	f = fopen(file, "w");
	CHECK(f != NULL && fputs("not a table", f) >= 0);
	if (f != NULL)
		fclose(f);
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(take("key:keep", 5, 60, 100, &res) == 0 && res.allowed && res.remaining == 4);
	/* No temporary files are left beside it. */
	CHECK(dir_entries() == 1);
	cleanup();
}

static void
test_concurrent_creation(void)
{
	struct rl_result res;
	struct stat st;
	char err[256];
	pid_t pid[6];

	fresh();
	cleanup();
	CHECK(mkdir(dir, 0700) == 0);
	fflush(stdout);
	/* Six processes race to create the file; they settle on one table. */
	for (int i = 0; i < 6; i++) {
		if ((pid[i] = fork()) == 0) {
			if (ratelimit_open(file, err, sizeof(err)) < 0 ||
			    ratelimit_take("key:race", 100, 60, 100, &res) < 0)
				_exit(2);
			_exit(0);
		}
	}
	for (int i = 0; i < 6; i++) {
		int status;

		waitpid(pid[i], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(ratelimit_open(file, err, sizeof(err)) == 0);
	CHECK(peek("key:race", 100, 60, 100, &res) == 0 && res.remaining == 94);
	CHECK(stat(file, &st) == 0 && (size_t)st.st_size == RL_FILE_SIZE);
	CHECK(dir_entries() == 1);
	cleanup();
}

static void
test_closed_limiter(void)
{
	struct rl_result res;
	struct req r;

	ratelimit_close();
	CHECK(take("key:x", 1, 60, 100, &res) == -1);
	memset(&r, 0, sizeof(r));
	CHECK(ratelimit_check_or_reply(&r, "key:x", 1, 60) == -1 && r.status == 503);
	req_free(&r);
}

static void
test_trusted_proxies_checked(void)
{
	char err[256];

	snprintf(cfg.trusted_proxies, sizeof(cfg.trusted_proxies), "10.0.0.0/8, nope");
	CHECK(ratelimit_open("/tmp/unused.db", err, sizeof(err)) == -1);
	CHECK(strstr(err, "TOLLGATE_TRUSTED_PROXIES") && strstr(err, "\"nope\""));
	cfg.trusted_proxies[0] = '\0';
}

static int
header_count(const struct req *r, const char *line)
{
	int n = 0;

	for (const char *p = r->headers; (p = strstr(p, line)) != NULL; p++)
		n++;
	return n;
}

static void
test_headers(void)
{
	struct rl_result res;
	struct req r;

	fresh();
	memset(&r, 0, sizeof(r));
	req_header_add(&r, "Allow", "GET");
	CHECK(take("key:h", 2, 60, 1000, &res) == 0);
	ratelimit_headers(&r, &res);
	CHECK(header_count(&r, "X-RateLimit-Limit: 2\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Remaining: 1\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Reset: 1060\r\n") == 1);
	CHECK(header_count(&r, "RateLimit-Policy: \"key\";q=2;w=60\r\n") == 1);
	CHECK(header_count(&r, "\nRateLimit: \"key\";r=1;t=60\r\n") == 1);
	CHECK(header_count(&r, "Retry-After") == 0 && !r.replied);
	/* Set again, they replace the old ones and keep the others. */
	CHECK(take("key:h", 2, 60, 1010, &res) == 0);
	ratelimit_headers(&r, &res);
	CHECK(header_count(&r, "X-RateLimit-Remaining: 0\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Remaining") == 1);
	CHECK(header_count(&r, "\nRateLimit: \"key\";r=0;t=50\r\n") == 1);
	CHECK(strncmp(r.headers, "Allow: GET\r\n", 12) == 0);
	/* Refused: 429 with Retry-After and the same N in the sentence. */
	CHECK(take("key:h", 2, 60, 1012, &res) == 0 && !res.allowed);
	ratelimit_headers(&r, &res);
	CHECK(r.replied && r.status == 429 && strcmp(r.error_code, "RATE_LIMITED") == 0);
	CHECK(header_count(&r, "Retry-After: 48\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Reset: 1060\r\n") == 1);
	CHECK(r.resp_body != NULL &&
	    strstr(r.resp_body, "\"error\":\"Rate limit exceeded. Try again in 48 seconds.\""));
	CHECK(strstr(r.resp_body, "\"errorCode\":\"RATE_LIMITED\"") != NULL);
	req_free(&r);
	cleanup();
}

static void
req_for(struct req *r, enum method m, const char *path, const char *ip)
{
	req_free(r);
	memset(r, 0, sizeof(*r));
	r->method = m;
	r->path = path;
	snprintf(r->client_ip, sizeof(r->client_ip), "%s", ip);
}

static void
test_request_policy(void)
{
	struct req r;

	fresh();
	memset(&r, 0, sizeof(r));
	cfg.rate_ip = 3;
	cfg.rate_key = 5;
	cfg.rate_user = 4;
	cfg.rate_login = 2;
	cfg.now = 50000;
	for (int i = 0; i < 3; i++) {
		req_for(&r, M_GET, "/v1/health", "198.51.100.7");
		CHECK(ratelimit_request_or_reply(&r) == 0 && !r.replied);
	}
	req_for(&r, M_GET, "/v1/health", "198.51.100.7");
	CHECK(ratelimit_request_or_reply(&r) == -1 && r.status == 429);
	CHECK(header_count(&r, "RateLimit-Policy: \"ip\";q=3;w=60") == 1);
	/* The same address with a key counts against the key. */
	req_for(&r, M_GET, "/v1/health", "198.51.100.7");
	r.who.kind = PRINCIPAL_KEY;
	snprintf(r.who.key_id, sizeof(r.who.key_id), "key_1");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	CHECK(header_count(&r, "X-RateLimit-Limit: 5\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Remaining: 4\r\n") == 1);
	req_for(&r, M_GET, "/v1/health", "198.51.100.7");
	r.who.kind = PRINCIPAL_USER;
	snprintf(r.who.user_id, sizeof(r.who.user_id), "usr_1");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	CHECK(header_count(&r, "RateLimit-Policy: \"user\";q=4;w=60") == 1);
	/* Login and signup also spend the stricter per-IP login budget. */
	req_for(&r, M_POST, "/v1/auth/login", "198.51.100.8");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	CHECK(
	    header_count(&r, "RateLimit-Policy: \"ip\";q=3;w=60, \"login-ip\";q=2;w=60\r\n") == 1);
	req_for(&r, M_POST, "/v1/signup", "198.51.100.8");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	CHECK(header_count(&r, "RateLimit: \"login-ip\";r=0;t=60") == 1);
	req_for(&r, M_POST, "/v1/auth/login", "198.51.100.8");
	CHECK(ratelimit_request_or_reply(&r) == -1 && r.status == 429);
	CHECK(header_count(&r, "\"login-ip\"") == 2);
	/* The refused login took nothing: the ip budget (3) has one left. */
	req_for(&r, M_GET, "/v1/health", "198.51.100.8");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	req_for(&r, M_GET, "/v1/health", "198.51.100.8");
	CHECK(ratelimit_request_or_reply(&r) == -1 && r.status == 429);
	/* An IPv6 client counts by its /64. */
	for (int i = 0; i < 3; i++) {
		char ip[64];

		snprintf(ip, sizeof(ip), "2001:db8:7:7::%x", i + 1);
		req_for(&r, M_GET, "/v1/health", ip);
		CHECK(ratelimit_request_or_reply(&r) == 0);
	}
	req_for(&r, M_GET, "/v1/health", "2001:db8:7:7:ffff::1");
	CHECK(ratelimit_request_or_reply(&r) == -1);
	req_for(&r, M_GET, "/v1/health", "2001:db8:7:8::1");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	req_free(&r);
	cfg.now = 0;
	cleanup();
}

/* Two budgets taken together: a refusal by either takes nothing from the
 * other, and two budgets in one stripe lock it once. */
static void
test_take_all_gives_nothing_on_refusal(void)
{
	struct rl_budget b[2] = { { "key:a", 5, 60 }, { "org:o", 3, 60 } };
	struct rl_result res[2], one;
	char same[2][40];
	int n = 0;

	fresh();
	for (int i = 0; i < 3; i++)
		CHECK(ratelimit_take_all(b, 2, 100, res) == 1 && res[0].allowed && res[1].allowed);
	CHECK(res[0].remaining == 2 && res[1].remaining == 0);
	/* The org is spent: refused, and the key keeps its 2. */
	CHECK(ratelimit_take_all(b, 2, 100, res) == 0);
	CHECK(
	    res[0].allowed && res[0].remaining == 2 && !res[1].allowed && res[1].retry_after == 60);
	CHECK(peek("key:a", 5, 60, 100, &one) == 0 && one.remaining == 2);
	/* Another key of the org: refused too, and never taken from. */
	b[0].name = "key:b";
	CHECK(ratelimit_take_all(b, 2, 100, res) == 0 && res[0].remaining == 5);
	CHECK(peek("key:b", 5, 60, 100, &one) == 0 && one.remaining == 5);
	/* The key spent, the org not: the org keeps what it had. */
	b[0] = (struct rl_budget){ "key:c", 1, 60 };
	b[1] = (struct rl_budget){ "org:p", 10, 60 };
	CHECK(ratelimit_take_all(b, 2, 100, res) == 1);
	CHECK(ratelimit_take_all(b, 2, 100, res) == 0 && !res[0].allowed && res[1].allowed);
	CHECK(peek("org:p", 10, 60, 100, &one) == 0 && one.remaining == 9);
	/* Two names in one stripe: taken together without waiting on itself. */
	for (int i = 0; n < 2; i++) {
		char name[40];

		snprintf(name, sizeof(name), "org:s%d", i);
		if (n == 0 ||
		    (bucket_key(name) & (RL_STRIPES - 1)) ==
		        (bucket_key(same[0]) & (RL_STRIPES - 1)))
			snprintf(same[n++], sizeof(same[0]), "%s", name);
	}
	b[0] = (struct rl_budget){ same[0], 2, 60 };
	b[1] = (struct rl_budget){ same[1], 2, 60 };
	CHECK(ratelimit_take_all(b, 2, 100, res) == 1 && res[0].remaining == 1 &&
	    res[1].remaining == 1);
	/* Out of range: nothing is taken. */
	CHECK(ratelimit_take_all(b, 0, 100, res) == -1);
	b[1].limit = 0;
	CHECK(ratelimit_take_all(b, 2, 100, res) == -1);
	CHECK(peek(same[0], 2, 60, 100, &one) == 0 && one.remaining == 1);
	cleanup();
}

struct org_hammer {
	pthread_barrier_t *start;
	const char *key;
	long allowed, errors;
};

static void *
org_hammer_main(void *arg)
{
	struct org_hammer *h = arg;
	struct rl_budget b[2] = { { h->key, 1000, 60 }, { "org:busy", 20, 60 } };
	struct rl_result res[2];

	pthread_barrier_wait(h->start);
	for (int i = 0; i < 50; i++) {
		int rc = ratelimit_take_all(b, 2, 500, res);

		if (rc < 0)
			h->errors++;
		else
			h->allowed += rc;
	}
	return NULL;
}

/* 12 threads over 3 keys of one organization (20 a window): exactly 20 are
 * let in, and the keys were charged exactly those 20. */
static void
test_take_all_threads_exact(void)
{
	static const char *const keys[3] = { "key:t1", "key:t2", "key:t3" };
	pthread_t t[12];
	struct org_hammer h[12];
	pthread_barrier_t start;
	struct rl_result one;
	long total = 0, charged = 0;

	fresh();
	pthread_barrier_init(&start, NULL, 12);
	for (int i = 0; i < 12; i++) {
		h[i] = (struct org_hammer){ &start, keys[i % 3], 0, 0 };
		pthread_create(&t[i], NULL, org_hammer_main, &h[i]);
	}
	for (int i = 0; i < 12; i++) {
		pthread_join(t[i], NULL);
		CHECK(h[i].errors == 0);
		total += h[i].allowed;
	}
	pthread_barrier_destroy(&start);
	CHECK(total == 20);
	for (int i = 0; i < 3; i++) {
		CHECK(peek(keys[i], 1000, 60, 500, &one) == 0);
		charged += 1000 - one.remaining;
	}
	CHECK(charged == 20);
	cleanup();
}

/* Keys and users take from their organization's budget too; the headers
 * name the one that binds first and list both. */
static void
test_request_policy_org(void)
{
	struct req r;

	fresh();
	memset(&r, 0, sizeof(r));
	cfg.rate_key = 5;
	cfg.rate_user = 4;
	cfg.rate_org = 7;
	cfg.now = 60000;
	for (int i = 0; i < 5; i++) {
		req_for(&r, M_GET, "/v1/billing/usage", "198.51.100.20");
		r.who.kind = PRINCIPAL_KEY;
		snprintf(r.who.key_id, sizeof(r.who.key_id), "key_o1");
		snprintf(r.who.org_id, sizeof(r.who.org_id), "org_1");
		CHECK(ratelimit_request_or_reply(&r) == 0);
	}
	CHECK(header_count(&r, "RateLimit-Policy: \"key\";q=5;w=60, \"org\";q=7;w=60\r\n") == 1);
	CHECK(header_count(&r, "\nRateLimit: \"key\";r=0;t=60\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Limit: 5\r\n") == 1);
	/* The first key is spent; its refusals take nothing from the org. */
	req_for(&r, M_GET, "/v1/billing/usage", "198.51.100.20");
	r.who.kind = PRINCIPAL_KEY;
	snprintf(r.who.key_id, sizeof(r.who.key_id), "key_o1");
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_1");
	CHECK(ratelimit_request_or_reply(&r) == -1 && r.status == 429);
	CHECK(header_count(&r, "\nRateLimit: \"key\";r=0;") == 1);
	/* A user of the org has 2 left of the org's 7: the org binds. */
	req_for(&r, M_GET, "/v1/billing/usage", "198.51.100.20");
	r.who.kind = PRINCIPAL_USER;
	snprintf(r.who.user_id, sizeof(r.who.user_id), "usr_o");
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_1");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	CHECK(header_count(&r, "RateLimit-Policy: \"user\";q=4;w=60, \"org\";q=7;w=60\r\n") == 1);
	CHECK(header_count(&r, "\nRateLimit: \"org\";r=1;t=60\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Limit: 7\r\n") == 1);
	req_for(&r, M_GET, "/v1/billing/usage", "198.51.100.20");
	r.who.kind = PRINCIPAL_KEY;
	snprintf(r.who.key_id, sizeof(r.who.key_id), "key_o2");
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_1");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	req_for(&r, M_GET, "/v1/billing/usage", "198.51.100.20");
	r.who.kind = PRINCIPAL_KEY;
	snprintf(r.who.key_id, sizeof(r.who.key_id), "key_o2");
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_1");
	CHECK(ratelimit_request_or_reply(&r) == -1 && r.status == 429);
	CHECK(header_count(&r, "\nRateLimit: \"org\";r=0;t=60\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Remaining: 0\r\n") == 1);
	/* Another organization's key is not held back. */
	req_for(&r, M_GET, "/v1/billing/usage", "198.51.100.20");
	r.who.kind = PRINCIPAL_KEY;
	snprintf(r.who.key_id, sizeof(r.who.key_id), "key_o3");
	snprintf(r.who.org_id, sizeof(r.who.org_id), "org_2");
	CHECK(ratelimit_request_or_reply(&r) == 0);
	req_free(&r);
	cfg.now = 0;
	cleanup();
}

/* A 503 from the credential check keeps its Retry-After when the
 * rate-limit headers are added after it. */
static void
test_retry_after_kept(void)
{
	struct rl_result res;
	struct req r;

	fresh();
	memset(&r, 0, sizeof(r));
	reply_error(&r, ERR_UNAVAILABLE, NULL, NULL);
	CHECK(take("key:busy", 5, 60, 100, &res) == 0 && res.allowed);
	ratelimit_headers(&r, &res);
	CHECK(header_count(&r, "Retry-After: 1\r\n") == 1);
	CHECK(header_count(&r, "X-RateLimit-Remaining: 4\r\n") == 1);
	/* Over the limit: the 429's own Retry-After, once. */
	for (int i = 0; i < 5; i++)
		take("key:busy", 5, 60, 100, &res);
	ratelimit_headers(&r, &res);
	CHECK(r.status == 429 && header_count(&r, "Retry-After: 60\r\n") == 1);
	CHECK(header_count(&r, "Retry-After") == 1);
	req_free(&r);
	cleanup();
}

/* A window that ends now or ended already by this host's clock (it was
 * read on the database's) waits a second, and X-RateLimit-Reset names
 * that second, never a time past. */
static void
test_reset_never_past(void)
{
	struct rl_result res;

	result_fill(&res, "ip", 10, 60, 1000, 0, 10, 990);
	CHECK(res.reset_in == 1 && res.reset == 1001 && res.retry_after == 1);
	CHECK(res.remaining == 0 && strcmp(res.policy, "ip") == 0);
	result_fill(&res, "ip", 10, 60, 1000, 0, 10, 1000);
	CHECK(res.reset_in == 1 && res.reset == 1001);
	result_fill(&res, "ip", 10, 60, 1000, 1, 3, 1042);
	CHECK(res.reset_in == 42 && res.reset == 1042 && res.retry_after == 0);
	CHECK(res.remaining == 7 && res.allowed);
}

/* A sign-in budget's request, on db. */
static void
signin_req(struct req *r, struct db *d)
{
	char *envp[] = { NULL };

	req_free(r);
	req_init(r, envp, d);
}

static int64_t
budget_failures(struct db *d, const char *subject)
{
	int64_t n = -1;

	if (db_query(d, STMT_LOGIN_BUDGET_GET, "t", subject) == DB_ROW)
		n = db_int(d, STMT_LOGIN_BUDGET_GET, 0);
	db_end(d, STMT_LOGIN_BUDGET_GET);
	return n;
}

/* Found in review: a give-back that comes after its window ended must not
 * take a failure off the next window (STMT_LOGIN_BUDGET_GIVE matches the
 * window's reset_at). */
static void
test_signin_late_give_back(void)
{
	char err[256];
	struct db *d;
	struct req r, late;
	int64_t window;

	fresh();
	config_load(NULL, err, sizeof(err));
	cfg.rate_login_account = 2;
	d = db_open(":memory:", err, sizeof(err));
	CHECK(d != NULL && db_migrate(d) > 0);
	CHECK(db_run(d, STMT_ORG_INSERT, "tti", "org_b", "B", (int64_t)1) == DB_OK);
	CHECK(db_run(d, STMT_USER_INSERT, "tttttti", "usr_b", "org_b", "b@example.test", "B",
	          "admin", "x", (int64_t)1) == DB_OK);
	memset(&r, 0, sizeof(r));
	memset(&late, 0, sizeof(late));
	cfg.now = 100000;
	signin_req(&late, d);
	CHECK(ratelimit_signin_take_or_reply(&late, "usr_b", "usr_b", SIGNIN_ACCOUNT) == 0);
	window = late.login_window;
	CHECK(window == 100000 + RATELIMIT_LOGIN_ACCOUNT_WINDOW);
	/* The window ends; the next one opens with a failure. */
	cfg.now = window;
	signin_req(&r, d);
	CHECK(ratelimit_signin_take_or_reply(&r, "usr_b", "usr_b", SIGNIN_ACCOUNT) == 0);
	CHECK(r.login_window == window + RATELIMIT_LOGIN_ACCOUNT_WINDOW);
	/* The first attempt's give-back arrives late: nothing changes. */
	ratelimit_signin_refund(&late, "usr_b");
	CHECK(budget_failures(d, "usr_b") == 1);
	signin_req(&r, d);
	CHECK(ratelimit_signin_take_or_reply(&r, "usr_b", "usr_b", SIGNIN_ACCOUNT) == 0);
	signin_req(&r, d);
	CHECK(ratelimit_signin_take_or_reply(&r, "usr_b", "usr_b", SIGNIN_ACCOUNT) == -1);
	CHECK(r.status == 429 &&
	    header_count(&r, "RateLimit-Policy: \"login-acct\";q=2;w=3600") == 1);
	/* A give-back in its own window does give back. */
	ratelimit_signin_refund(&r, "usr_b");
	CHECK(budget_failures(d, "usr_b") == 1);
	req_free(&r);
	req_free(&late);
	db_close(d);
	cfg.now = 0;
	cleanup();
}

/* Found in review: an email of no account had no budget, so a 429 told
 * which emails have accounts. Now it has the account's, whatever its case,
 * and answers alike. */
static void
test_signin_unknown_email(void)
{
	char err[256], real[1024], fake[1024];
	struct db *d;
	struct req r;

	fresh();
	config_load(NULL, err, sizeof(err));
	cfg.rate_login_account = 2;
	d = db_open(":memory:", err, sizeof(err));
	CHECK(d != NULL && db_migrate(d) > 0);
	CHECK(db_run(d, STMT_ORG_INSERT, "tti", "org_c", "C", (int64_t)1) == DB_OK);
	CHECK(db_run(d, STMT_USER_INSERT, "tttttti", "usr_c", "org_c", "c@example.test", "C",
	          "admin", "x", (int64_t)1) == DB_OK);
	memset(&r, 0, sizeof(r));
	cfg.now = 200000;
	for (int i = 0; i < 2; i++) {
		signin_req(&r, d);
		CHECK(ratelimit_signin_take_or_reply(&r, "usr_c", "usr_c", SIGNIN_ACCOUNT) == 0);
		signin_req(&r, d);
		CHECK(ratelimit_signin_take_or_reply(&r,
		          i ? "Nobody@Example.test" : "nobody@example.test", NULL,
		          SIGNIN_ACCOUNT) == 0);
	}
	signin_req(&r, d);
	CHECK(ratelimit_signin_take_or_reply(&r, "usr_c", "usr_c", SIGNIN_ACCOUNT) == -1);
	CHECK(r.status == 429);
	snprintf(real, sizeof(real), "%.*s|%.*s", (int)r.headers_len, r.headers, (int)r.resp_len,
	    r.resp_body);
	signin_req(&r, d);
	CHECK(
	    ratelimit_signin_take_or_reply(&r, "NOBODY@example.test", NULL, SIGNIN_ACCOUNT) == -1);
	CHECK(r.status == 429);
	snprintf(fake, sizeof(fake), "%.*s|%.*s", (int)r.headers_len, r.headers, (int)r.resp_len,
	    r.resp_body);
	/* The same headers and body, but for the request id. */
	*strstr(real, "\"requestId\"") = *strstr(fake, "\"requestId\"") = '\0';
	CHECK(strstr(real, "Retry-After: 3600\r\n") != NULL && strcmp(real, fake) == 0);
	/* Another made-up email has a budget of its own. */
	signin_req(&r, d);
	CHECK(ratelimit_signin_take_or_reply(&r, "other@example.test", NULL, SIGNIN_ACCOUNT) == 0);
	req_free(&r);
	db_close(d);
	cfg.now = 0;
	cleanup();
}

/* Holds the write lock of the database at arg for 5.5 seconds, longer than
 * a statement waits for it (5 s), from a connection of its own. */
static void *
writer_hold(void *arg)
{
	sqlite3 *c = NULL;

	if (sqlite3_open((const char *)arg, &c) == SQLITE_OK &&
	    sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
		usleep(5500 * 1000);
		sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_close(c);
	return NULL;
}

/* Found in review: a give-back the store found busy was only logged, so a
 * right password counted as a failure. It is tried again. */
static void
test_signin_give_back_busy(void)
{
	char err[256], path[200];
	struct db *d;
	struct req r;
	pthread_t t;

	fresh();
	config_load(NULL, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/budgets.db", dir);
	d = db_open(path, err, sizeof(err));
	CHECK(d != NULL && db_migrate(d) > 0);
	CHECK(db_run(d, STMT_ORG_INSERT, "tti", "org_d", "D", (int64_t)1) == DB_OK);
	CHECK(db_run(d, STMT_USER_INSERT, "tttttti", "usr_d", "org_d", "d@example.test", "D",
	          "admin", "x", (int64_t)1) == DB_OK);
	memset(&r, 0, sizeof(r));
	cfg.now = 300000;
	signin_req(&r, d);
	CHECK(ratelimit_signin_take_or_reply(&r, "usr_d", "usr_d", SIGNIN_ACCOUNT) == 0);
	CHECK(budget_failures(d, "usr_d") == 1);
	CHECK(pthread_create(&t, NULL, writer_hold, path) == 0);
	usleep(200 * 1000);
	ratelimit_signin_refund(&r, "usr_d");
	pthread_join(t, NULL);
	CHECK(budget_failures(d, "usr_d") == 0);
	req_free(&r);
	db_close(d);
	cfg.now = 0;
	for (const char *suffix = ""; suffix != NULL; suffix = *suffix == '\0' ? "-wal"
	         : strcmp(suffix, "-wal") == 0                                 ? "-shm"
	                                                                       : NULL) {
		snprintf(path, sizeof(path), "%s/budgets.db%s", dir, suffix);
		unlink(path);
	}
	cleanup();
}

int
main(void)
{
	TEST(test_siphash_vectors);
	TEST(test_exactly_n_then_refused);
	TEST(test_window_rollover);
	TEST(test_buckets_independent);
	TEST(test_peek_takes_nothing);
	TEST(test_16_threads_exact);
	TEST(test_processes_exact);
	TEST(test_dead_holder_does_not_wedge);
	TEST(test_stuck_holder_fails_closed);
	TEST(test_table_full_evicts);
	TEST(test_file_reused_and_replaced);
	TEST(test_file_mode);
	TEST(test_signin_late_give_back);
	TEST(test_signin_unknown_email);
	TEST(test_signin_give_back_busy);
	TEST(test_concurrent_creation);
	TEST(test_closed_limiter);
	TEST(test_trusted_proxies_checked);
	TEST(test_headers);
	TEST(test_request_policy);
	TEST(test_retry_after_kept);
	TEST(test_reset_never_past);
	TEST(test_take_all_gives_nothing_on_refusal);
	TEST(test_take_all_threads_exact);
	TEST(test_request_policy_org);
	return unit_done();
}
