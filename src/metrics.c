/* metrics.c: counters for operators, in Prometheus' text format at
 * GET /v1/metrics: requests by route and status, a latency histogram,
 * records ingested and database busy retries. The route answers only when
 * TOLLGATE_METRICS_TOKEN is set, to a bearer of that token; the shipped
 * web server configs also keep it to the local host. Counters are per
 * process. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core.h"

#define METRICS_ROUTES 128 /* more than the route table holds */

/* A slot per status Tollgate answers (http_status_slot), and one for any other. */
#define NSTATUS (HTTP_STATUS_COUNT + 1)

/* Upper bounds of the latency buckets, in milliseconds (then +Inf). */
static const int bucket_ms[] = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000 };
#define NBUCKET (sizeof(bucket_ms) / sizeof(bucket_ms[0]))

static const char *const *route_names; /* metrics_routes */
static int route_count;

void
metrics_routes(const char *const *names, int n)
{
	route_names = names;
	route_count = n < METRICS_ROUTES ? n : METRICS_ROUTES;
}

static atomic_ulong requests[METRICS_ROUTES + 1][NSTATUS]; /* last row: no route */
static atomic_ulong buckets[NBUCKET + 1];
static atomic_ulong duration_ms_sum;
static atomic_ulong ingested;

void
metrics_request(int route, int status, int64_t ms)
{
	size_t s = (size_t)http_status_slot(status), b = 0;

	if (route < 0 || route >= METRICS_ROUTES)
		route = METRICS_ROUTES;
	while (b < NBUCKET && ms > bucket_ms[b])
		b++;
	atomic_fetch_add_explicit(&requests[route][s], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &duration_ms_sum, (unsigned long)(ms < 0 ? 0 : ms), memory_order_relaxed);
}

void
metrics_ingested(long n)
{
	atomic_fetch_add_explicit(&ingested, (unsigned long)n, memory_order_relaxed);
}

/* Appends printf-style text to the growing buffer *buf. */
static void put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
put(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (*buf != NULL && *len + (size_t)n < *cap) {
			*len += (size_t)n;
			return;
		}
		char *bigger = realloc(*buf, *cap * 2 + (size_t)n + 1);

		if (bigger == NULL)
			return;
		*buf = bigger;
		*cap = *cap * 2 + (size_t)n + 1;
	}
}

void
handle_metrics(struct req *r)
{
	const char *a = r->authorization;
	size_t tlen = strlen(cfg.metrics_token), len = 0, cap = 0;
	unsigned long cumulative = 0, commits, pieces;
	char *buf = NULL;

	/* Off unless configured: then the route does not exist. */
	if (tlen == 0) {
		reply_error(r, ERR_NOT_FOUND, NULL, NULL);
		return;
	}
	if (a == NULL || strncmp(a, "Bearer ", 7) != 0) {
		reply_error(r, ERR_TOKEN_MISSING, NULL, NULL);
		return;
	}
	a += 7;
	if (strlen(a) != tlen || CRYPTO_memcmp(a, cfg.metrics_token, tlen) != 0) {
		reply_error(r, ERR_TOKEN_INVALID, NULL, NULL);
		return;
	}
	put(&buf, &len, &cap,
	    "# HELP tollgate_requests_total Requests answered, by route and status.\n"
	    "# TYPE tollgate_requests_total counter\n");
	for (int i = 0; i <= METRICS_ROUTES; i++) {
		const char *name;

		if (i < route_count)
			name = route_names[i];
		else if (i == METRICS_ROUTES)
			name = "none";
		else
			continue;
		for (size_t s = 0; s < NSTATUS; s++) {
			unsigned long v =
			    atomic_load_explicit(&requests[i][s], memory_order_relaxed);

			if (v == 0)
				continue;
			if (http_status_code((int)s) != 0)
				put(&buf, &len, &cap,
				    "tollgate_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
				    name, http_status_code((int)s), v);
			else
				put(&buf, &len, &cap,
				    "tollgate_requests_total{route=\"%s\",status=\"other\"} %lu\n",
				    name, v);
		}
	}
	put(&buf, &len, &cap,
	    "# HELP tollgate_request_duration_seconds Time from accept to answer.\n"
	    "# TYPE tollgate_request_duration_seconds histogram\n");
	for (size_t b = 0; b <= NBUCKET; b++) {
		cumulative += atomic_load_explicit(&buckets[b], memory_order_relaxed);
		if (b < NBUCKET)
			put(&buf, &len, &cap,
			    "tollgate_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
			    bucket_ms[b] / 1000.0, cumulative);
		else
			put(&buf, &len, &cap,
			    "tollgate_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
			    "tollgate_request_duration_seconds_sum %.3f\n"
			    "tollgate_request_duration_seconds_count %lu\n",
			    cumulative, atomic_load(&duration_ms_sum) / 1000.0, cumulative);
	}
	db_group_counts(&commits, &pieces);
	put(&buf, &len, &cap,
	    "# HELP tollgate_ingest_records_total Records stored by ingest and import.\n"
	    "# TYPE tollgate_ingest_records_total counter\n"
	    "tollgate_ingest_records_total %lu\n"
	    "# HELP tollgate_db_busy_retries_total Waits for another process's writer (or a "
	    "checkpoint) in SQLite's busy handler.\n"
	    "# TYPE tollgate_db_busy_retries_total counter\n"
	    "tollgate_db_busy_retries_total %lu\n"
	    "# HELP tollgate_db_group_commits_total Write transactions of triggers committed (one "
	    "trigger or several sharing one).\n"
	    "# TYPE tollgate_db_group_commits_total counter\n"
	    "tollgate_db_group_commits_total %lu\n"
	    "# HELP tollgate_db_group_pieces_total Triggers those transactions carried, refused "
	    "ones included.\n"
	    "# TYPE tollgate_db_group_pieces_total counter\n"
	    "tollgate_db_group_pieces_total %lu\n",
	    atomic_load(&ingested), db_busy_retries(), commits, pieces);
	reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}
