/* ratelimit.c: the host-wide rate limiter: fixed-window counters in a file
 * every process serving the database maps, guarded by striped robust
 * process-shared mutexes; the policy that gives a request its buckets, in
 * that table or, with TOLLGATE_RATELIMIT=postgresql, in the store's
 * buckets that every host shares (ratelimit_pg.c); the failed sign-in
 * budgets (of accounts and devices in the database, where a flood of names
 * cannot evict them; of emails no account has, with the request budgets);
 * and the client address behind trusted proxies.
 *
 * The algorithm is a fixed window per bucket: a bucket's window opens at its
 * first request after the last one closed and lasts `window` seconds; at most
 * `limit` units are given in it, then every take is refused until it ends.
 * Chosen over a sliding-window counter (an estimate: it cannot promise
 * "exactly N a window") and over GCRA (exact and smoother, but "remaining"
 * and "reset" are then derived, not counted): the contract's headers are
 * those of a window (X-RateLimit-Reset is "the unix time the window
 * resets"), and with a fixed window each of them is exactly true. The price
 * is a burst: up to 2 * limit in a short span across a window's end.
 *
 * The table: RL_STRIPES stripes of RL_SLOTS slots, each stripe behind one
 * robust PTHREAD_PROCESS_SHARED mutex (uncontended, a lock is an atomic
 * instruction in user space). A bucket is its 64-bit keyed SipHash: its
 * stripe and home slot come from the hash, its slot is found by linear
 * probing within the stripe, and the whole hash is stored, so only a 64-bit
 * collision can merge two buckets. Slots are never emptied; an expired slot
 * is reused by a new bucket. When every slot of a stripe holds a live
 * bucket, a new one takes the slot of the live bucket with the fewest takes
 * (the one a flood of new names made, not a busy client's): a flood can
 * make a one-request bucket start over, never refuse a new client.
 *
 * A request takes from several buckets at once (its key's or user's, and its
 * organization's): every stripe they live in is locked, in index order, and
 * a unit is taken from each or, when one is spent, from none, so a refused
 * request costs no budget anything. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mw.h"
#include "ratelimit.h"
#include "ratelimit_pg.h"

#define RL_MAGIC "TGRLIMIT" /* 8 bytes, no NUL */
#define RL_VERSION 2
#define RL_STRIPES 1024 /* a power of two */
#define RL_SLOTS 64 /* a power of two */
#define RL_HEADER_SIZE 4096
#define RL_LOCK_WAIT 2 /* seconds to wait for a stripe before failing */

/* One bucket. Invariant: reset <= now means expired, whatever count says. */
struct rl_slot {
	uint64_t key; /* 0: never used */
	int64_t reset; /* unix time the window ends */
	int64_t count; /* units given in the window */
};

struct rl_stripe {
	alignas(64) pthread_mutex_t mu;
	alignas(64) struct rl_slot slot[RL_SLOTS];
};

/* The file's first page. A file whose header differs in any field, or that
 * was made before the last boot (its mutexes may look held by threads that
 * no longer exist), is replaced. */
struct rl_header {
	char magic[8];
	uint32_t version;
	uint32_t stripes;
	uint32_t slots;
	uint32_t stripe_size;
	uint64_t file_size;
	uint64_t sipkey[2]; /* random: names cannot be chosen to collide */
	char boot_id[40];
	uint64_t evictions; /* live buckets that gave way to a new one (atomic) */
	uint64_t owner_dead; /* stripes recovered from a dead holder (atomic) */
};

_Static_assert(sizeof(struct rl_header) <= RL_HEADER_SIZE, "the header fits its page");

#define RL_FILE_SIZE (RL_HEADER_SIZE + (size_t)RL_STRIPES * sizeof(struct rl_stripe))

/* This process's mapping; set by ratelimit_open before threads start. */
static struct {
	struct rl_header *hdr;
	struct rl_stripe *stripes;
} rl;

enum rl_op { RL_TAKE, RL_PEEK };

/* ---- SipHash-2-4 (Aumasson and Bernstein), keyed per file ---- */

static uint64_t
rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

static uint64_t
siphash24(const void *src, size_t len, const uint64_t k[2])
{
	const unsigned char *p = src, *end = p + (len - len % 8);
	uint64_t v[4] = { 0x736f6d6570736575ULL ^ k[0], 0x646f72616e646f6dULL ^ k[1],
		0x6c7967656e657261ULL ^ k[0], 0x7465646279746573ULL ^ k[1] };
	uint64_t m, b = (uint64_t)len << 56;

	for (; p != end; p += 8) {
		m = 0;
		for (int i = 0; i < 8; i++)
			m |= (uint64_t)p[i] << (8 * i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* A bucket's key: never 0, which marks an unused slot. */
static uint64_t
bucket_key(const char *name)
{
	uint64_t h = siphash24(name, strlen(name), rl.hdr->sipkey);

	return h != 0 ? h : 1;
}

/* ---- the table ---- */

/* Locks st, waiting at most RL_LOCK_WAIT seconds. A holder that died leaves
 * the stripe usable as it is (see bucket_use's store order), so the mutex is
 * marked consistent and taken. Returns 0, or -1 when not locked. */
static int
stripe_lock(struct rl_stripe *st)
{
	struct timespec deadline;
	int rc = pthread_mutex_trylock(&st->mu);

	if (rc == EBUSY) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += RL_LOCK_WAIT;
		rc = pthread_mutex_timedlock(&st->mu, &deadline);
	}
	if (rc == EOWNERDEAD) {
		__atomic_fetch_add(&rl.hdr->owner_dead, 1, __ATOMIC_RELAXED);
		rc = pthread_mutex_consistent(&st->mu);
		if (rc != 0)
			pthread_mutex_unlock(&st->mu);
	}
	return rc == 0 ? 0 : -1;
}

/* The part of name before ':', as a policy name for the headers. */
static void
policy_copy(const char *name, char *out, size_t outlen)
{
	size_t n = strcspn(name, ":");

	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, name, n);
	out[n] = '\0';
}

/* The stripe of bucket key. */
static struct rl_stripe *
key_stripe(uint64_t key)
{
	return &rl.stripes[key & (RL_STRIPES - 1)];
}

/* Takes a unit from (RL_TAKE, only when one is left) or looks at (RL_PEEK)
 * bucket key in its stripe, which the caller holds locked. Sets *count to
 * the units given in the window after it, *reset to the window's end, and
 * *evict to 1 when a live bucket gave way to this one. Returns whether a
 * unit was left.
 *
 * Every store to a slot is ordered so that a holder dying between any two
 * leaves the slot whole or expired: a claimed slot gets its key, then its
 * count, then its reset (until the reset, the old expired one stands); a new
 * window gets its count, then its reset. */
static int
slot_use(struct rl_stripe *st, uint64_t key, long limit, long window, int64_t now, enum rl_op op,
    int64_t *count_out, int64_t *reset_out, int *evict)
{
	struct rl_slot *s = NULL, *spare = NULL, *victim = NULL;
	unsigned home = (unsigned)(key >> 32) & (RL_SLOTS - 1);
	int64_t count, reset;
	int allowed;

	*evict = 0;
	/* Probe to the key or to a never-used slot, remembering the first slot
	 * a new bucket may have: never used, or expired. */
	for (unsigned i = 0; i < RL_SLOTS; i++) {
		struct rl_slot *c = &st->slot[(home + i) & (RL_SLOTS - 1)];

		if (c->key == key) {
			s = c;
			break;
		}
		if (c->key == 0 || c->reset <= now) {
			if (spare == NULL)
				spare = c;
			if (c->key == 0)
				break;
		} else if (victim == NULL || c->count < victim->count ||
		    (c->count == victim->count && c->reset < victim->reset))
			victim = c;
	}
	if (s != NULL && s->reset > now) {
		count = s->count;
		reset = s->reset;
	} else {
		count = 0;
		reset = now + window;
	}
	allowed = count < limit;
	if (allowed && op == RL_TAKE) {
		if (s == NULL && spare == NULL) {
			/* Every slot of the stripe holds a live bucket: the one with
			 * the fewest takes (then the soonest reset) gives way. It is
			 * expired first, so a holder dying before the new bucket is
			 * whole leaves an expired slot. */
			spare = victim;
			*evict = 1;
			__atomic_store_n(&spare->reset, now, __ATOMIC_RELEASE);
		}
		if (s == NULL) {
			s = spare;
			__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&s->count, count + 1, __ATOMIC_RELEASE);
		if (s->reset != reset)
			__atomic_store_n(&s->reset, reset, __ATOMIC_RELEASE);
		count++;
	}
	*count_out = count;
	*reset_out = reset;
	return allowed;
}

/* Counts an eviction of a live bucket by bucket key, logging at most one a
 * second. */
static void
eviction_note(uint64_t key, int64_t now)
{
	static int64_t logged;

	__atomic_fetch_add(&rl.hdr->evictions, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&logged, now, __ATOMIC_RELAXED) != now)
		log_msg(NULL,
		    "ratelimit: stripe %u is full: its bucket with the fewest takes gave way",
		    (unsigned)(key & (RL_STRIPES - 1)));
}

/* Fills out for bucket name after an operation that left count units given
 * in the window ending at reset. */
static void
result_fill(struct rl_result *out, const char *name, long limit, long window, int64_t now,
    int allowed, int64_t count, int64_t reset)
{
	memset(out, 0, sizeof(*out));
	out->allowed = allowed;
	out->limit = limit;
	out->window = window;
	out->remaining = count >= limit ? 0 : (long)(limit - count);
	/* at least a second: a window read on another clock may end now */
	out->reset_in = reset > now ? (long)(reset - now) : 1;
	out->reset = now + out->reset_in; /* the end the wait names */
	out->retry_after = allowed ? 0 : out->reset_in;
	policy_copy(name, out->policy, sizeof(out->policy));
}

/* Does op (see slot_use) on bucket name and fills out. Returns 0, or -1 with
 * out untouched when the limiter is closed, the arguments are out of range
 * or the stripe cannot be locked. */
static int
bucket_use(
    const char *name, long limit, long window, int64_t now, enum rl_op op, struct rl_result *out)
{
	struct rl_stripe *st;
	int64_t count, reset;
	uint64_t key;
	int evict, allowed;

	if (rl.hdr == NULL || limit < 1 || window < 1 || name == NULL)
		return -1;
	key = bucket_key(name);
	st = key_stripe(key);
	if (stripe_lock(st) < 0)
		return -1;
	allowed = slot_use(st, key, limit, window, now, op, &count, &reset, &evict);
	pthread_mutex_unlock(&st->mu);
	if (evict)
		eviction_note(key, now);
	result_fill(out, name, limit, window, now, allowed, count, reset);
	return 0;
}

int
ratelimit_take(const char *name, long limit, long window, int64_t now, struct rl_result *out)
{
	return bucket_use(name, limit, window, now, RL_TAKE, out);
}

int
ratelimit_take_all(const struct rl_budget *b, size_t n, int64_t now, struct rl_result *out)
{
	struct rl_stripe *st[RATELIMIT_BUDGETS_MAX];
	uint64_t key[RATELIMIT_BUDGETS_MAX];
	int64_t count[RATELIMIT_BUDGETS_MAX], reset[RATELIMIT_BUDGETS_MAX];
	int ok[RATELIMIT_BUDGETS_MAX], evict = 0, ev, allowed = 1;
	unsigned held[RATELIMIT_BUDGETS_MAX], nheld = 0, j;

	if (rl.hdr == NULL || n < 1 || n > RATELIMIT_BUDGETS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned idx, k;

		if (b[i].name == NULL || b[i].limit < 1 || b[i].window < 1)
			return -1;
		key[i] = bucket_key(b[i].name);
		st[i] = key_stripe(key[i]);
		/* Each stripe once, in index order: two takes that need the same
		 * two stripes, in any process, cannot each hold one and wait for
		 * the other. */
		idx = (unsigned)(key[i] & (RL_STRIPES - 1));
		for (k = 0; k < nheld && held[k] < idx; k++)
			;
		if (k < nheld && held[k] == idx)
			continue;
		memmove(held + k + 1, held + k, (nheld - k) * sizeof(held[0]));
		held[k] = idx;
		nheld++;
	}
	for (j = 0; j < nheld; j++)
		if (stripe_lock(&rl.stripes[held[j]]) < 0) {
			while (j-- > 0)
				pthread_mutex_unlock(&rl.stripes[held[j]].mu);
			return -1;
		}
	/* Every stripe held: look at all, then take from all or from none. */
	for (size_t i = 0; i < n; i++) {
		ok[i] = slot_use(st[i], key[i], b[i].limit, b[i].window, now, RL_PEEK, &count[i],
		    &reset[i], &ev);
		allowed &= ok[i];
	}
	if (allowed)
		for (size_t i = 0; i < n; i++) {
			slot_use(st[i], key[i], b[i].limit, b[i].window, now, RL_TAKE, &count[i],
			    &reset[i], &ev);
			if (ev)
				evict = 1;
		}
	for (j = nheld; j-- > 0;)
		pthread_mutex_unlock(&rl.stripes[held[j]].mu);
	if (evict)
		eviction_note(key[0], now);
	for (size_t i = 0; i < n; i++)
		result_fill(
		    &out[i], b[i].name, b[i].limit, b[i].window, now, ok[i], count[i], reset[i]);
	return allowed;
}

/* ---- the file ---- */

static void
boot_id_read(char *out, size_t outlen)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, (int)outlen, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* Whether h describes a table this binary made since this boot. */
static int
header_current(const struct rl_header *h, const char *boot)
{
	return memcmp(h->magic, RL_MAGIC, sizeof(h->magic)) == 0 && h->version == RL_VERSION &&
	    h->stripes == RL_STRIPES && h->slots == RL_SLOTS &&
	    h->stripe_size == sizeof(struct rl_stripe) && h->file_size == RL_FILE_SIZE &&
	    strncmp(h->boot_id, boot, sizeof(h->boot_id)) == 0;
}

/* Builds a fresh table in a temporary file beside path, then puts it at
 * path: over whatever is there when replace is set (the caller holds the
 * old file's lock), else only if path still does not exist (losing that
 * race is success: the winner's table is as good). Returns 0, or -1 with
 * err; the temporary file never stays. */
static int
table_create(const char *path, int replace, const char *boot, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	struct rl_header *h = MAP_FAILED;
	pthread_mutexattr_t attr;
	int fd = -1, attr_ok = 0, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "ratelimit: %s: path too long", path);
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "ratelimit: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* 0600 whatever the umask: mkostemp's 0600 is only what it may clear. */
	if (fchmod(fd, 0600) < 0) {
		snprintf(err, errlen, "ratelimit: cannot chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (ftruncate(fd, (off_t)RL_FILE_SIZE) < 0 ||
	    (h = mmap(NULL, RL_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
	        MAP_FAILED) {
		snprintf(err, errlen, "ratelimit: cannot size %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (tg_random(h->sipkey, sizeof(h->sipkey)) < 0) {
		snprintf(err, errlen, "ratelimit: no randomness for the hash key");
		goto out;
	}
	if (pthread_mutexattr_init(&attr) != 0) {
		snprintf(err, errlen, "ratelimit: pthread_mutexattr_init failed");
		goto out;
	}
	attr_ok = 1;
	if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0) {
		snprintf(err, errlen, "ratelimit: no robust process-shared mutexes here");
		goto out;
	}
	for (size_t i = 0; i < RL_STRIPES; i++) {
		struct rl_stripe *st = (struct rl_stripe *)((char *)h + RL_HEADER_SIZE) + i;

		if (pthread_mutex_init(&st->mu, &attr) != 0) {
			snprintf(err, errlen, "ratelimit: pthread_mutex_init failed");
			goto out;
		}
	}
	memcpy(h->magic, RL_MAGIC, sizeof(h->magic));
	h->version = RL_VERSION;
	h->stripes = RL_STRIPES;
	h->slots = RL_SLOTS;
	h->stripe_size = sizeof(struct rl_stripe);
	h->file_size = RL_FILE_SIZE;
	snprintf(h->boot_id, sizeof(h->boot_id), "%s", boot);
	if (replace ? rename(tmp, path) < 0 : link(tmp, path) < 0 && errno != EEXIST) {
		snprintf(
		    err, errlen, "ratelimit: cannot put %s in place: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (attr_ok)
		pthread_mutexattr_destroy(&attr);
	if (h != MAP_FAILED)
		munmap(h, RL_FILE_SIZE);
	if (fd >= 0) {
		close(fd);
		if (!(rc == 0 && replace))
			unlink(tmp);
	}
	return rc;
}

int
ratelimit_open(const char *file, char *err, size_t errlen)
{
	char path[PATH_MAX], boot[40];
	struct stat st, named;
	struct rl_header h;
	void *map;
	int fd = -1, rc = -1;

	ratelimit_close();
	if (client_proxies_check(cfg.trusted_proxies, err, errlen) < 0)
		goto out;
	if ((size_t)snprintf(path, sizeof(path), "%s", file) >= sizeof(path)) {
		snprintf(err, errlen, "ratelimit: %s: path too long", file);
		goto out;
	}
	boot_id_read(boot, sizeof(boot));
	/* Open, lock, check it is still the file at path and current; else make
	 * one and look again. Creators are serialised by the old file's lock
	 * (replace) or by link() (create), so all processes settle on one. */
	for (int attempt = 0; attempt < 8; attempt++) {
		if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
			if (errno != ENOENT) {
				snprintf(err, errlen, "ratelimit: cannot open %s: %s", path,
				    strerror(errno));
				goto out;
			}
			if (table_create(path, 0, boot, err, errlen) < 0)
				goto out;
			continue;
		}
		if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
			snprintf(
			    err, errlen, "ratelimit: cannot lock %s: %s", path, strerror(errno));
			goto out;
		}
		if (st.st_uid != geteuid()) {
			snprintf(err, errlen, "ratelimit: %s belongs to another user", path);
			goto out;
		}
		if (stat(path, &named) == 0 && named.st_ino == st.st_ino &&
		    named.st_dev == st.st_dev) {
			/* A table group or others may open is made 0600 in place,
			 * on the open file: replacing it would split the limits
			 * between the processes that map the old one and the
			 * new. */
			if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
				if (fchmod(fd, 0600) < 0) {
					snprintf(err, errlen,
					    "ratelimit: %s has mode %04o and cannot be made 0600 "
					    "(%s): chmod 600 it or delete it",
					    path, (unsigned)(st.st_mode & 0777), strerror(errno));
					goto out;
				}
				log_msg(NULL, "ratelimit: %s had mode %04o: made 0600", path,
				    (unsigned)(st.st_mode & 0777));
			}
			if (S_ISREG(st.st_mode) && st.st_size == (off_t)RL_FILE_SIZE &&
			    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
			    header_current(&h, boot)) {
				map = mmap(
				    NULL, RL_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (map == MAP_FAILED) {
					snprintf(err, errlen, "ratelimit: cannot map %s: %s", path,
					    strerror(errno));
					goto out;
				}
				rl.hdr = map;
				rl.stripes = (struct rl_stripe *)((char *)map + RL_HEADER_SIZE);
				rc = 0;
				goto out;
			}
			if (table_create(path, 1, boot, err, errlen) < 0)
				goto out;
		}
		flock(fd, LOCK_UN);
		close(fd);
		fd = -1;
	}
	snprintf(err, errlen, "ratelimit: %s kept changing while it was opened", path);
out:
	if (fd >= 0) {
		/* Unlocked by hand: the mapping keeps the open file alive. */
		flock(fd, LOCK_UN);
		close(fd);
	}
	return rc;
}

void
ratelimit_close(void)
{
	if (rl.hdr != NULL)
		munmap(rl.hdr, RL_FILE_SIZE);
	rl.hdr = NULL;
	rl.stripes = NULL;
}

/* ---- headers and policy ---- */

/* Removes every name: line from r's response headers. */
static void
header_drop(struct req *r, const char *name)
{
	size_t nlen = strlen(name), i = 0;

	while (i < r->headers_len) {
		char *line = r->headers + i, *eol = strstr(line, "\r\n");
		size_t len = eol != NULL ? (size_t)(eol - line) + 2 : r->headers_len - i;

		if (len > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			memmove(line, line + len, r->headers_len - i - len + 1);
			r->headers_len -= len;
		} else
			i += len;
	}
}

void
ratelimit_headers_all(struct req *r, const struct rl_result *res, size_t n, size_t shown)
{
	static const char *const fields[] = { "X-RateLimit-Limit", "X-RateLimit-Remaining",
		"X-RateLimit-Reset", "RateLimit-Policy", "RateLimit" };
	const struct rl_result *top = &res[shown];
	char v[RATELIMIT_BUDGETS_MAX * 64];
	size_t k, z = sizeof(v);

	if (r->headers_len > 0) /* a second budget's headers replace the first's */
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			header_drop(r, fields[i]);
	tg_append_num(v, z, 0, top->limit);
	req_header_add(r, "X-RateLimit-Limit", v);
	tg_append_num(v, z, 0, top->remaining);
	req_header_add(r, "X-RateLimit-Remaining", v);
	tg_append_num(v, z, 0, top->reset);
	req_header_add(r, "X-RateLimit-Reset", v);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			k = tg_append(v, z, k, ", ", 2);
		k = tg_append(v, z, k, "\"", 1);
		k = tg_append(v, z, k, res[i].policy, strlen(res[i].policy));
		k = tg_append(v, z, k, "\";q=", 4);
		k = tg_append_num(v, z, k, res[i].limit);
		k = tg_append(v, z, k, ";w=", 3);
		k = tg_append_num(v, z, k, res[i].window);
	}
	req_header_add(r, "RateLimit-Policy", v);
	k = tg_append(v, z, 0, "\"", 1);
	k = tg_append(v, z, k, top->policy, strlen(top->policy));
	k = tg_append(v, z, k, "\";r=", 4);
	k = tg_append_num(v, z, k, top->remaining);
	k = tg_append(v, z, k, ";t=", 3);
	tg_append_num(v, z, k, top->reset_in);
	req_header_add(r, "RateLimit", v);
	if (!top->allowed) {
		/* A 429 replaces whatever was answered before, its Retry-After too
		 * (a 503 from the credential check keeps its own otherwise). */
		header_drop(r, "Retry-After");
		snprintf(v, sizeof(v), "%ld", top->retry_after);
		req_header_add(r, "Retry-After", v);
		snprintf(v, sizeof(v), "Rate limit exceeded. Try again in %ld seconds.",
		    top->retry_after);
		reply_error(r, ERR_RATE_LIMITED, v, NULL);
	}
}

void
ratelimit_headers(struct req *r, const struct rl_result *res)
{
	ratelimit_headers_all(r, res, 1, 0);
}

/* The limiter could not answer: refuse rather than serve unlimited. */
static void
reply_unavailable(struct req *r)
{
	log_msg(r->request_id,
	    cfg.ratelimit == RATELIMIT_POSTGRESQL
	        ? "ratelimit: the store's buckets could not be reached"
	        : "ratelimit: the limiter is not open or a stripe stayed locked");
	/* It replaces an answer given before, a 503's Retry-After too (the
	 * credential check fails as the store's buckets do). */
	header_drop(r, "Retry-After");
	reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
}

/* Takes (RL_TAKE) a unit from each of the n budgets b at now, all or none,
 * or looks at one (RL_PEEK, n 1), in the limiter cfg.ratelimit names: this
 * host's table, or the store's buckets on r->db (uncached set: the store
 * is asked whatever this process saw, so the work does not depend on the
 * answer). Fills res[i] for b[i]. Returns 1 when taken (RL_PEEK: a unit is
 * left), 0 when refused, -1 (res untouched) when the limiter failed. */
static int
budgets_use(struct req *r, const struct rl_budget *b, size_t n, int64_t now, enum rl_op op,
    int uncached, struct rl_result *res)
{
	struct rl_count c[RATELIMIT_BUDGETS_MAX];
	int rc;

	if (cfg.ratelimit != RATELIMIT_POSTGRESQL) {
		if (op == RL_TAKE)
			return ratelimit_take_all(b, n, now, res);
		if (n != 1 || bucket_use(b[0].name, b[0].limit, b[0].window, now, op, res) < 0)
			return -1;
		return res[0].allowed;
	}
	rc = ratelimit_pg_take(
	    r->db, b, n, now, (op == RL_PEEK ? RLPG_PEEK : 0) | (uncached ? RLPG_UNCACHED : 0), c);
	if (rc < 0)
		return -1;
	now = tg_now(); /* the waits count from the answer: a take may wait for its rows */
	for (size_t i = 0; i < n; i++)
		result_fill(&res[i], b[i].name, b[i].limit, b[i].window, now, c[i].ok, c[i].count,
		    c[i].reset);
	return rc;
}

int
ratelimit_check_or_reply(struct req *r, const char *name, long limit, long window)
{
	struct rl_budget b = { name, limit, window };
	struct rl_result res;

	if (budgets_use(r, &b, 1, tg_now(), RL_TAKE, 0, &res) < 0) {
		reply_unavailable(r);
		return -1;
	}
	ratelimit_headers(r, &res);
	return res.allowed ? 0 : -1;
}

/* The routes that also take from the stricter per-IP login budget. */
static const struct {
	enum method method;
	const char *path;
} login_routes[] = {
	{ M_POST, "/v1/auth/login" },
	{ M_POST, "/v1/signup" },
};

static int
login_route(const struct req *r)
{
	for (size_t i = 0; i < sizeof(login_routes) / sizeof(login_routes[0]); i++)
		if (r->method == login_routes[i].method &&
		    strcmp(r->path, login_routes[i].path) == 0)
			return 1;
	return 0;
}

long
ratelimit_plan_column(struct db *db, int stmt, int col, long dflt)
{
	int64_t v;

	if (db_isnull(db, stmt, col))
		return dflt;
	v = db_int(db, stmt, col);
	return v >= 1 && v <= LONG_MAX ? (long)v : dflt;
}

int
ratelimit_plan_read(struct db *db, const char *org_id, struct rl_plan *out)
{
	int rc;

	out->key = cfg.rate_key;
	out->user = cfg.rate_user;
	out->org = cfg.rate_org;
	if (db == NULL)
		return DB_ERROR;
	rc = db_query(db, STMT_PLAN_RATES, "t", org_id);
	if (rc == DB_ROW) {
		out->key = ratelimit_plan_column(db, STMT_PLAN_RATES, 0, cfg.rate_key);
		out->user = ratelimit_plan_column(db, STMT_PLAN_RATES, 1, cfg.rate_user);
		out->org = ratelimit_plan_column(db, STMT_PLAN_RATES, 2, cfg.rate_org);
	}
	db_end(db, STMT_PLAN_RATES);
	return rc == DB_ROW ? DB_OK : rc == DB_DONE ? DB_ERROR : rc;
}

/* Of the n results of one take (taken: 1, or 0 when refused), the one that
 * binds first: when refused, the spent one that resets last (the request can
 * go on only then); else the one with the fewest left, the later on a tie
 * (the narrower: org after key, login-ip after ip). */
static size_t
binding_first(const struct rl_result *res, size_t n, int taken)
{
	size_t shown = 0;

	for (size_t i = 1; i < n; i++) {
		if (taken ? res[i].remaining <= res[shown].remaining
		          : !res[i].allowed &&
		            (res[shown].allowed || res[i].reset > res[shown].reset))
			shown = i;
	}
	return shown;
}

int
ratelimit_request_or_reply(struct req *r)
{
	struct rl_budget b[3];
	struct rl_result res[3];
	struct rl_plan plan;
	char own[160], org[80], login[160], ip[80];
	size_t n = 0;
	int member = r->who.kind == PRINCIPAL_KEY || r->who.kind == PRINCIPAL_USER, taken;

#ifdef TG_BENCH_NO_RATELIMIT
	/* The reference build of bench/ratelimit_e2e.sh: the same server with
	 * the limiter taken out, to measure what it costs a request. */
	return 0;
#endif

	client_bucket(r->client_ip, ip, sizeof(ip));
	/* Read on every request: a plan change counts from the next one. */
	if (ratelimit_plan_read(member ? r->db : NULL, r->who.org_id, &plan) != DB_OK && member &&
	    r->db != NULL)
		log_msg(r->request_id,
		    "ratelimit: the plan's budgets could not be read; defaults apply");
	if (r->who.kind == PRINCIPAL_KEY) {
		snprintf(own, sizeof(own), "key:%s", r->who.key_id);
		b[n++] = (struct rl_budget){ own, plan.key, cfg.rate_window };
	} else if (r->who.kind == PRINCIPAL_USER) {
		snprintf(own, sizeof(own), "user:%s", r->who.user_id);
		b[n++] = (struct rl_budget){ own, plan.user, cfg.rate_window };
	} else {
		snprintf(own, sizeof(own), "ip:%s", ip);
		b[n++] = (struct rl_budget){ own, cfg.rate_ip, cfg.rate_window };
	}
	/* All of an organization's keys and users share one budget too. */
	if (member && r->who.org_id[0] != '\0') {
		snprintf(org, sizeof(org), "org:%s", r->who.org_id);
		b[n++] = (struct rl_budget){ org, plan.org, cfg.rate_window };
	}
	if (login_route(r)) {
		snprintf(login, sizeof(login), "login-ip:%s", ip);
		b[n++] = (struct rl_budget){ login, cfg.rate_login, cfg.rate_window };
	}
	if ((taken = budgets_use(r, b, n, tg_now(), RL_TAKE, 0, res)) < 0) {
		reply_unavailable(r);
		return -1;
	}
	ratelimit_headers_all(r, res, n, binding_first(res, n, taken));
	return taken ? 0 : -1;
}

/* The subject of the budget that cannot run out, for attempts at no account. */
#define SIGNIN_NOBODY "-"
/* Tries of a give-back the store found busy (each waits up to its busy
 * timeout). */
#define SIGNIN_GIVE_TRIES 3

/* The shared-table bucket of the email s: "login-acct:email:" and the
 * SHA-256 of s in lower case (the store compares emails so, COLLATE NOCASE). */
static void
signin_email_bucket(const char *s, char *out, size_t outlen)
{
	char lower[256], hash[65];
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)s[i]);
	lower[i] = '\0';
	tg_sha256_hex(lower, hash);
	snprintf(out, outlen, "login-acct:email:%s", hash);
}

/* A sign-in budget's take, as one piece of write work. */
struct signin_take {
	const char *subject, *user_id;
	int64_t now, window, limit;
	int taken; /* out: 1 when the attempt fit the budget */
	int64_t reset; /* out: when the budget's window ends */
};

static int
signin_take_work(struct db *db, void *arg)
{
	struct signin_take *t = arg;
	int rc;

	rc = db_run(db, STMT_LOGIN_BUDGET_TAKE, "ttiii", t->subject, t->user_id, t->now, t->window,
	    t->limit);
	if (rc != DB_OK)
		return rc;
	t->taken = db_changes(db) > 0;
	rc = db_query(db, STMT_LOGIN_BUDGET_GET, "t", t->subject);
	if (rc == DB_ROW) {
		t->reset = db_int(db, STMT_LOGIN_BUDGET_GET, 1);
		rc = DB_OK;
	}
	db_end(db, STMT_LOGIN_BUDGET_GET);
	return rc;
}

int
ratelimit_signin_take_or_reply(
    struct req *r, const char *subject, const char *user_id, enum signin_budget budget)
{
	static const struct {
		const char *policy;
		long window;
	} kinds[] = {
		[SIGNIN_ACCOUNT] = { "login-acct", RATELIMIT_LOGIN_ACCOUNT_WINDOW },
		[SIGNIN_DEVICE] = { "login-device", RATELIMIT_LOGIN_DEVICE_WINDOW },
		[SIGNIN_PASSWORD] = { "password", RATELIMIT_LOGIN_ACCOUNT_WINDOW },
	};
	struct rl_result res, email_res;
	struct rl_budget email;
	char email_bucket[128];
	int64_t now = tg_now();
	long limit = budget == SIGNIN_DEVICE ? cfg.rate_login_device : cfg.rate_login_account;
	long window = kinds[budget].window;
	int rc, nobody = user_id == NULL;
	struct signin_take t = { nobody ? SIGNIN_NOBODY : subject, user_id, now, (int64_t)window,
		(int64_t)limit, 0, now };

	/* An email of no account has the account's budget too, with the
	 * request budgets (in the shared table a flood of made-up names evicts
	 * only one-try buckets), so a 429 tells nothing about which emails
	 * have accounts. A real account looks at the same kind of bucket: the
	 * same work. */
	signin_email_bucket(subject, email_bucket, sizeof(email_bucket));
	email = (struct rl_budget){ email_bucket, cfg.rate_login_account,
		RATELIMIT_LOGIN_ACCOUNT_WINDOW };
	if (budgets_use(r, &email, 1, now, nobody ? RL_TAKE : RL_PEEK, 1, &email_res) < 0) {
		reply_unavailable(r);
		return -1;
	}
	/* No account: the same store work on a budget that runs out exactly
	 * when the email's has (a spent budget writes nothing). */
	if (nobody)
		t.limit = email_res.allowed ? INT64_MAX : 0;
	/* Taken now, not after a wrong password: logins hashed at the same
	 * time could otherwise all pass a look and go over the budget
	 * together. */
	if ((rc = db_write(r->db, signin_take_work, &t)) != DB_OK) {
		reply_db_error(r, rc, "ratelimit: sign-in budget");
		return -1;
	}
	if (nobody) {
		r->login_window = 0; /* nothing to give back: no password is right */
		if (email_res.allowed)
			return 0;
		ratelimit_headers(r, &email_res);
		return -1;
	}
	r->login_window = t.reset;
	if (t.taken)
		return 0;
	result_fill(&res, kinds[budget].policy, limit, window, now, 0, limit, t.reset);
	ratelimit_headers(r, &res);
	return -1;
}

/* A sign-in budget's give-back, as one piece of write work. */
struct signin_give {
	const char *subject;
	int64_t reset; /* the window it was taken from */
};

static int
signin_give_work(struct db *db, void *arg)
{
	const struct signin_give *g = arg;

	return db_run(db, STMT_LOGIN_BUDGET_GIVE, "ti", g->subject, g->reset);
}

void
ratelimit_signin_refund(const struct req *r, const char *subject)
{
	struct signin_give g = { subject, r->login_window };
	int rc = DB_BUSY;

	if (subject == NULL || r->login_window == 0)
		return;
	/* A give-back lost to a busy store would count a right password as a
	 * failure: it is tried again (db_write waits out one busy timeout). */
	for (int i = 0; i < SIGNIN_GIVE_TRIES && rc == DB_BUSY; i++)
		rc = db_write(r->db, signin_give_work, &g);
	if (rc != DB_OK)
		log_msg(r->request_id, "ratelimit: a sign-in's failure could not be given back");
}
