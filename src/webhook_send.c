/* webhook_send.c: the webhook sender, one thread per `tollgate serve` process
 * with its own database connection. It claims due deliveries under a lease
 * (SENDER_LEASE seconds, in a write transaction, as the job runner claims
 * jobs: with several processes on one database each delivery is sent by
 * one, and one whose process died is claimed again when its lease ends),
 * checks the address of each at every attempt (ssrf.c), posts the signed
 * event with libcurl, and records the answer: a 2xx ends it; anything else
 * is retried with exponential backoff and jitter until WEBHOOK_RETRY_WINDOW
 * has passed, then it is failed. It also notices API keys 7 days and 1 day
 * before they expire (key.expiring). */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"
#include "ssrf.h"

#define SENDER_POLL_MS 500 /* longest wait between looks for due deliveries */
#define SENDER_BATCH 4 /* deliveries claimed at once */
#define SENDER_LEASE 60 /* seconds: more than a batch takes (5 s timeouts each) */
#define SEND_TIMEOUT 5 /* seconds to connect, and for the whole request */
#define BACKOFF_MAX 3600 /* the longest pause between attempts, in seconds */
#define KEY_SCAN_EVERY 5 /* seconds between looks for expiring API keys */
#define KEY_NOTICE_7D (7 * 86400)
#define KEY_NOTICE_1D 86400

struct delivery {
	char id[40];
	int64_t attempts, give_up_at;
};

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stopping;
	int started;
	char id[40]; /* this sender, as webhook_deliveries.sender */
	struct db *db;
} sender = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* The seconds to wait after the attempts-th failed attempt: base * 2^(n-1),
 * at most BACKOFF_MAX, then a random half of it taken off (jitter), so
 * receivers that fail together are not retried together. */
static int64_t
backoff(int64_t attempts)
{
	int64_t d = cfg.webhook_backoff_base;
	uint32_t rnd = 0;

	for (int64_t i = 1; i < attempts && d < BACKOFF_MAX; i++)
		d *= 2;
	if (d > BACKOFF_MAX)
		d = BACKOFF_MAX;
	tg_random(&rnd, sizeof(rnd));
	d = d - (int64_t)(rnd % (uint32_t)(d * 500 + 1)) / 1000; /* [d/2, d] */
	return d < 1 ? 1 : d;
}

/* How an attempt of a delivery ended, as STMT_DELIVERY_FINISH writes it. */
struct outcome {
	const struct delivery *d;
	const char *state, *err;
	int64_t status, now, next;
};

static int
outcome_store(struct db *db, void *arg)
{
	const struct outcome *o = arg;
	int rc = db_run(db, STMT_DELIVERY_FINISH, "tttitii", o->d->id, sender.id, o->state,
	    o->status, o->err, o->now, o->next);

	if (rc == DB_OK && db_changes(db) == 0)
		log_msg(NULL, "webhooks: %s was no longer ours to finish", o->d->id);
	return rc;
}

/* Writes how an attempt of d ended: ok (a 2xx), or retried or failed with
 * err. status is the HTTP status (0: none). */
static void
delivery_finish(struct db *db, const struct delivery *d, int ok, long status, const char *err)
{
	struct outcome o = { d, "succeeded", ok ? NULL : err, status, tg_now(), 0 };
	int rc;

	if (!ok) {
		o.next = o.now + backoff(d->attempts);
		o.state = o.next >= d->give_up_at ? "failed" : "pending";
		if (*o.state == 'f')
			o.next = 0;
	}
	if ((rc = db_write(db, outcome_store, &o)) != DB_OK) {
		log_msg(NULL,
		    "webhooks: %s: database error %d; it is sent again when its lease ends", d->id,
		    rc);
		return;
	}
	log_msg(NULL, "webhooks: %s attempt %lld %s%s%s", d->id, (long long)d->attempts, o.state,
	    ok ? "" : ": ", ok ? "" : err);
}

static int
release_store(struct db *db, void *arg)
{
	const struct delivery *d = arg;

	return db_run(db, STMT_DELIVERY_RELEASE, "tt", d->id, sender.id);
}

/* Gives d back unsent (the sender stops), its attempt not counted. */
static void
delivery_release(struct db *db, const struct delivery *d)
{
	if (db_write(db, release_store, (void *)d) != DB_OK)
		log_msg(
		    NULL, "webhooks: cannot give %s back; it is sent when its lease ends", d->id);
}

/* Whether a and b are the same address and port. */
static int
same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_in a4, b4;
	struct sockaddr_in6 a6, b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		memcpy(&a4, a, sizeof(a4));
		memcpy(&b4, b, sizeof(b4));
		return a4.sin_port == b4.sin_port && a4.sin_addr.s_addr == b4.sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		memcpy(&a6, a, sizeof(a6));
		memcpy(&b6, b, sizeof(b6));
		return a6.sin6_port == b6.sin6_port &&
		    memcmp(&a6.sin6_addr, &b6.sin6_addr, sizeof(a6.sin6_addr)) == 0;
	}
	return 0;
}

/* libcurl's socket opener: only to the address that was checked. */
static curl_socket_t
open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	const struct ssrf_target *t = arg;
	struct sockaddr_storage to;

	if (purpose != CURLSOCKTYPE_IPCXN || a->addrlen > sizeof(to))
		return CURL_SOCKET_BAD;
	memset(&to, 0, sizeof(to));
	memcpy(&to, &a->addr, a->addrlen);
	if (!same_endpoint(&to, &t->sa)) {
		log_msg(NULL, "webhooks: libcurl asked for another address than the one checked");
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int
progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return atomic_load(&sender.stopping) ? 1 : 0;
}

/* "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>" into out. */
static int
signature(const char *secret, const char *body, int64_t t, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char ts[24], *msg;
	size_t tlen, blen = strlen(body), n;

	tlen = (size_t)snprintf(ts, sizeof(ts), "%lld.", (long long)t);
	if ((msg = malloc(tlen + blen)) == NULL)
		return -1;
	memcpy(msg, ts, tlen);
	memcpy(msg + tlen, body, blen);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, tlen + blen, md,
	        &mdlen) == NULL) {
		free(msg);
		return -1;
	}
	free(msg);
	n = (size_t)snprintf(out, outlen, "Tollgate-Signature: t=%lld,v1=", (long long)t);
	for (unsigned i = 0; i < mdlen && n + 2 < outlen; i++, n += 2) {
		out[n] = "0123456789abcdef"[md[i] >> 4];
		out[n + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[n] = '\0';
	return 0;
}

/* Posts body to t, signed with secret. 0 with the HTTP status in *status,
 * 1 when stopping cut it short, or -1 with a sentence in err. */
static int
post(const struct ssrf_target *t, const char *type, const char *event_id, const char *secret,
    const char *body, long *status, char *err, size_t errlen)
{
	char sig[160], resolve[400], head[160], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL, *pin = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	*status = 0;
	if (c == NULL || signature(secret, body, tg_now(), sig, sizeof(sig)) < 0) {
		curl_easy_cleanup(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, sig);
	snprintf(head, sizeof(head), "Tollgate-Event: %s", type);
	headers = curl_slist_append(headers, head);
	snprintf(head, sizeof(head), "Tollgate-Event-Id: %s", event_id);
	headers = curl_slist_append(headers, head);
	/* A name resolves to the checked address only; a literal needs no pin
	 * (open_checked still holds it to that address). */
	if (strcmp(t->host, t->addr) != 0) {
		snprintf(resolve, sizeof(resolve), "%s:%d:%s%s%s", t->host, t->port,
		    strchr(t->addr, ':') ? "[" : "", t->addr, strchr(t->addr, ':') ? "]" : "");
		pin = curl_slist_append(NULL, resolve);
	}
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)SEND_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)SEND_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, (void *)t);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Tollgate-Webhooks/" TG_VERSION);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	else
		snprintf(err, errlen, "%s", *cerr ? cerr : curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	curl_slist_free_all(pin);
	if (rc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&sender.stopping))
		return 1;
	return rc == CURLE_OK ? 0 : -1;
}

/* One attempt of the claimed delivery d, to its end. */
static void
delivery_send(struct db *db, const struct delivery *d)
{
	char webhook[40], event_id[40], type[40], url[WEBHOOK_URL_MAX + 1], sealed[512];
	char secret[128], err[CURL_ERROR_SIZE + 64];
	struct ssrf_target t;
	char *body = NULL;
	long status = 0;
	int rc = db_query(db, STMT_DELIVERY_TARGET, "t", d->id);

	if (rc == DB_ROW) {
		snprintf(webhook, sizeof(webhook), "%s", db_text(db, STMT_DELIVERY_TARGET, 0));
		snprintf(url, sizeof(url), "%s", db_text(db, STMT_DELIVERY_TARGET, 1));
		snprintf(sealed, sizeof(sealed), "%s", db_text(db, STMT_DELIVERY_TARGET, 2));
		snprintf(event_id, sizeof(event_id), "%s", db_text(db, STMT_DELIVERY_TARGET, 3));
		snprintf(type, sizeof(type), "%s", db_text(db, STMT_DELIVERY_TARGET, 4));
		body = strdup(db_text(db, STMT_DELIVERY_TARGET, 5));
	}
	db_end(db, STMT_DELIVERY_TARGET);
	if (rc == DB_DONE) /* its webhook was deleted, and it with it */
		return;
	if (rc != DB_ROW || body == NULL) {
		free(body);
		delivery_finish(db, d, 0, 0, "the event could not be read; it is tried again");
		return;
	}
	if (webhook_secret_open(webhook, sealed, secret, sizeof(secret)) < 0) {
		delivery_finish(db, d, 0, 0,
		    "the signing secret cannot be opened (was TOLLGATE_JWT_SECRET changed?)");
		goto out;
	}
	if (ssrf_target_resolve(
	        url, cfg.webhook_allow_hosts, ssrf_resolve_system, &t, err, sizeof(err)) < 0) {
		delivery_finish(db, d, 0, 0, err);
		goto out;
	}
	rc = post(&t, type, event_id, secret, body, &status, err, sizeof(err));
	if (rc == 1)
		delivery_release(db, d);
	else if (rc < 0)
		delivery_finish(db, d, 0, 0, err);
	else if (status >= 200 && status < 300)
		delivery_finish(db, d, 1, status, NULL);
	else {
		snprintf(err, sizeof(err),
		    status >= 300 && status < 400 ? "HTTP %ld: redirects are not followed"
		                                  : "HTTP %ld",
		    status);
		delivery_finish(db, d, 0, status, err);
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(body);
}

/* A batch of claimed deliveries. */
struct claim {
	struct delivery *b;
	int n;
};

static int
claim_store(struct db *db, void *arg)
{
	struct claim *c = arg;
	int rc;

	c->n = 0;
	for (rc = db_query(db, STMT_DELIVERY_CLAIM, "tiii", sender.id, tg_now(),
	         (int64_t)SENDER_LEASE, (int64_t)SENDER_BATCH);
	     rc == DB_ROW && c->n < SENDER_BATCH; rc = db_next(db, STMT_DELIVERY_CLAIM)) {
		struct delivery *d = &c->b[c->n++];

		snprintf(d->id, sizeof(d->id), "%s", db_text(db, STMT_DELIVERY_CLAIM, 0));
		d->attempts = db_int(db, STMT_DELIVERY_CLAIM, 1);
		d->give_up_at = db_int(db, STMT_DELIVERY_CLAIM, 2);
	}
	db_end(db, STMT_DELIVERY_CLAIM);
	return rc == DB_DONE || rc == DB_ROW ? DB_OK : rc;
}

/* Claims up to SENDER_BATCH due deliveries into b; how many. */
static int
deliveries_claim(struct db *db, struct delivery *b)
{
	struct claim c = { b, 0 };
	int rc = db_query(db, STMT_DELIVERY_DUE, "i", tg_now());

	db_end(db, STMT_DELIVERY_DUE);
	if (rc != DB_ROW || db_write(db, claim_store, &c) != DB_OK)
		return 0;
	return c.n;
}

/* The keys whose notice is due, found by keys_scan. */
struct expiring {
	struct {
		char id[40], org[40], name[128], notice[4];
		int64_t expires;
	} k[32];
	int n;
};

/* Emits key.expiring for each key of e (once per notice: webhook_marks). */
static int
notices_store(struct db *db, void *arg)
{
	const struct expiring *e = arg;
	int rc = DB_OK;

	for (int i = 0; i < e->n && rc == DB_OK; i++) {
		char mark[128], *data;
		struct jw w;
		size_t len;

		snprintf(mark, sizeof(mark), "key.expiring:%.40s:%.3s", e->k[i].id, e->k[i].notice);
		jw_init(&w);
		jw_object(&w, NULL);
		jw_string(&w, "keyId", e->k[i].id);
		jw_string(&w, "name", e->k[i].name);
		jw_time(&w, "expiresAt", e->k[i].expires);
		jw_string(&w, "notice", e->k[i].notice);
		jw_object_end(&w);
		if ((data = jw_finish(&w, &len)) == NULL)
			return DB_ERROR;
		rc = webhook_emit(db, e->k[i].org, "key.expiring", mark, data);
		free(data);
	}
	return rc;
}

/* key.expiring for keys that reached 7 days or 1 day before their expiry
 * (each notice once: webhook_marks), in one transaction when there are any. */
static void
keys_scan(struct db *db)
{
	struct expiring e;
	int64_t now = tg_now();
	int rc;

	/* Read outside a transaction: an idle scan takes no write lock. The
	 * marks, taken in the write transaction below, keep a notice found by
	 * two processes at once from going out twice. */
	e.n = 0;
	for (rc = db_query(db, STMT_WEBHOOK_KEYS_EXPIRING, "iii", now, (int64_t)KEY_NOTICE_7D,
	         (int64_t)KEY_NOTICE_1D);
	     rc == DB_ROW && e.n < 32; rc = db_next(db, STMT_WEBHOOK_KEYS_EXPIRING), e.n++) {
		snprintf(e.k[e.n].id, sizeof(e.k[e.n].id), "%s",
		    db_text(db, STMT_WEBHOOK_KEYS_EXPIRING, 0));
		snprintf(e.k[e.n].org, sizeof(e.k[e.n].org), "%s",
		    db_text(db, STMT_WEBHOOK_KEYS_EXPIRING, 1));
		snprintf(e.k[e.n].name, sizeof(e.k[e.n].name), "%s",
		    db_text(db, STMT_WEBHOOK_KEYS_EXPIRING, 2));
		e.k[e.n].expires = db_int(db, STMT_WEBHOOK_KEYS_EXPIRING, 3);
		snprintf(e.k[e.n].notice, sizeof(e.k[e.n].notice), "%s",
		    db_text(db, STMT_WEBHOOK_KEYS_EXPIRING, 4));
	}
	db_end(db, STMT_WEBHOOK_KEYS_EXPIRING);
	if ((rc != DB_ROW && rc != DB_DONE) || e.n == 0)
		return;
	if ((rc = db_write(db, notices_store, &e)) != DB_OK)
		log_msg(NULL, "webhooks: expiring keys: database error %d", rc);
}

static void *
sender_main(void *arg)
{
	struct db *db = arg;
	struct delivery batch[SENDER_BATCH];
	struct timespec scanned = { 0 };

	while (!atomic_load(&sender.stopping)) {
		struct timespec now, until;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - scanned.tv_sec >= KEY_SCAN_EVERY) {
			keys_scan(db);
			scanned = now;
		}
		n = deliveries_claim(db, batch);
		for (int i = 0; i < n; i++) {
			if (atomic_load(&sender.stopping))
				delivery_release(db, &batch[i]);
			else
				delivery_send(db, &batch[i]);
		}
		if (n == SENDER_BATCH)
			continue; /* more may be due */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += SENDER_POLL_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&sender.mu);
		while (!atomic_load(&sender.stopping))
			if (pthread_cond_timedwait(&sender.cv, &sender.mu, &until) != 0)
				break;
		pthread_mutex_unlock(&sender.mu);
	}
	return NULL;
}

int
webhook_sender_start(void)
{
	pthread_condattr_t ca;
	char err[256];

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_msg(NULL, "webhooks: cannot initialise libcurl");
		return -1;
	}
	if (tg_id_new("snd", sender.id, sizeof(sender.id)) < 0) {
		log_msg(NULL, "webhooks: no random source");
		return -1;
	}
	if ((sender.db = db_open(cfg.db_path, err, sizeof(err))) == NULL) {
		log_msg(NULL, "webhooks: %s", err);
		return -1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sender.cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&sender.stopping, 0);
	if (pthread_create(&sender.thread, NULL, sender_main, sender.db) != 0) {
		log_msg(NULL, "webhooks: cannot start the sender thread");
		db_close(sender.db);
		return -1;
	}
	sender.started = 1;
	log_msg(NULL, "webhooks: sender %s started", sender.id);
	return 0;
}

void
webhook_sender_stop(void)
{
	if (!sender.started)
		return;
	pthread_mutex_lock(&sender.mu);
	atomic_store(&sender.stopping, 1);
	pthread_cond_signal(&sender.cv);
	pthread_mutex_unlock(&sender.mu);
	pthread_join(sender.thread, NULL);
	db_close(sender.db);
	pthread_cond_destroy(&sender.cv);
	sender.started = 0;
	curl_global_cleanup();
	log_msg(NULL, "webhooks: sender stopped");
}
